//! User names; trust level: input is untrusted: names come from the identity
//! provider's claims, from gRPC requests and from `ctl` arguments.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::PolicyError;

/// Longest accepted user name, in characters.
pub const MAX_USERNAME_CHARS: usize = 64;

/// A user name: 1 to 64 characters among ASCII lowercase letters, digits, `.`, `_`
/// and `-`, starting with a letter or a digit. Safe to put in an environment
/// variable, a log line or a file name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    /// Checks a user name.
    pub fn parse(s: &str) -> Result<Self, PolicyError> {
        let bad = |reason| Err(PolicyError::UsernameMalformed { reason });
        let Some(first) = s.chars().next() else {
            return bad("it is empty");
        };
        if !(first.is_ascii_lowercase() || first.is_ascii_digit()) {
            return bad("it must start with a lowercase letter or a digit");
        }
        let allowed =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-');
        if !s.chars().all(allowed) {
            return bad("only lowercase letters a-z, digits, '.', '_' and '-' are allowed");
        }
        // Only ASCII is left, so bytes are characters.
        if s.len() > MAX_USERNAME_CHARS {
            return bad("it is longer than 64 characters");
        }
        Ok(Self(s.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Username {
    type Error = PolicyError;

    fn try_from(s: String) -> Result<Self, PolicyError> {
        Self::parse(&s)
    }
}

impl From<Username> for String {
    fn from(u: Username) -> String {
        u.0
    }
}

impl std::str::FromStr for Username {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, PolicyError> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn user_names_are_checked() {
        let good = ["a", "alice", "0day", "a.b_c-d", &"x".repeat(64)];
        for name in good {
            assert_eq!(
                Username::parse(name).map(|u| u.to_string()),
                Ok(name.to_owned())
            );
        }
        let bad = [
            "",
            "Alice",
            ".alice",
            "-alice",
            "_alice",
            "al ice",
            "alice\n",
            "alice\u{1b}[31m",
            "ålice",
            "alice@example.org",
            "al/ice",
            &"x".repeat(65),
        ];
        for name in bad {
            assert!(
                matches!(
                    Username::parse(name),
                    Err(PolicyError::UsernameMalformed { .. })
                ),
                "{name:?}"
            );
        }
    }

    #[test]
    fn user_names_serialize_as_strings_and_are_checked_on_the_way_in() {
        let alice = Username::parse("alice").unwrap();
        assert_eq!(serde_json::to_string(&alice).unwrap(), "\"alice\"");
        assert_eq!(
            serde_json::from_str::<Username>("\"alice\"").unwrap(),
            alice
        );
        assert!(serde_json::from_str::<Username>("\"Alice\\n\"").is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_accepts_only_the_alphabet(s in "\\PC{0,70}|[a-z0-9._-]{0,70}") {
            if let Ok(u) = Username::parse(&s) {
                prop_assert!(u.as_str().len() <= 64);
                prop_assert!(u.as_str().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)));
            }
        }
    }
}
