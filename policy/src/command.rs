//! The allowlist: the only commands the executor can run; trust level: builds the
//! privileged side's argv and environment from already-validated values.
//!
//! There is no free-form command string anywhere: a [`ScapCommand`] is one of two
//! fixed templates filled with [`ChangeNumber`]s, and [`ScapCommand::invocation`]
//! is the single place where argv and environment are produced.

use std::fmt;

use crate::change::{ChangeNumber, check_changes};
use crate::constant_time::constant_time_eq;
use crate::error::PolicyError;
use crate::username::Username;

/// What the executor may ask scap to do. Build it with [`ScapCommand::backport`] or
/// [`ScapCommand::revert`], which check the change list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScapCommand {
    /// `scap backport N...`
    Backport(Vec<ChangeNumber>),
    /// `scap backport --revert N...`
    Revert(Vec<ChangeNumber>),
}

impl ScapCommand {
    /// `scap backport` for 1 to 10 distinct changes.
    pub fn backport(changes: Vec<ChangeNumber>) -> Result<Self, PolicyError> {
        check_changes(&changes)?;
        Ok(Self::Backport(changes))
    }

    /// `scap backport --revert` for 1 to 10 distinct changes.
    pub fn revert(changes: Vec<ChangeNumber>) -> Result<Self, PolicyError> {
        check_changes(&changes)?;
        Ok(Self::Revert(changes))
    }

    /// The changes, in the order scap receives them.
    pub fn changes(&self) -> &[ChangeNumber] {
        match self {
            Self::Backport(c) | Self::Revert(c) => c,
        }
    }

    /// Whether this is a revert.
    pub fn is_revert(&self) -> bool {
        matches!(self, Self::Revert(_))
    }

    /// The exact program, arguments and environment to run. The caller clears the
    /// inherited environment and sets exactly `env`, and never goes through a shell.
    /// Never includes `--yes`: every decision goes through a prompt.
    pub fn invocation(&self, scap: &ScapPath, env: &ScapEnvironment) -> Invocation {
        let mut args = vec!["backport".to_owned()];
        if self.is_revert() {
            args.push("--revert".to_owned());
        }
        args.extend(self.changes().iter().map(ChangeNumber::to_string));
        let mut vars = vec![
            (
                "SPIDERPIG_IO_KEY".to_owned(),
                env.io_key.as_str().to_owned(),
            ),
            (
                "SPIDERPIG_REAL_USER".to_owned(),
                env.real_user.as_str().to_owned(),
            ),
            ("FORCE_COLOR".to_owned(), "1".to_owned()),
            ("PATH".to_owned(), env.path.clone()),
            ("HOME".to_owned(), env.home.clone()),
            ("LANG".to_owned(), env.lang.clone()),
        ];
        if let Some(sock) = &env.ssh_auth_sock {
            vars.push(("SSH_AUTH_SOCK".to_owned(), sock.clone()));
        }
        vars.sort();
        Invocation {
            program: scap.as_str().to_owned(),
            args,
            env: vars,
        }
    }
}

/// The absolute path of scap, from the executor's config: absolute, no `..`
/// component, no NUL or other control character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScapPath(String);

impl ScapPath {
    /// Checks a configured path.
    pub fn new(path: &str) -> Result<Self, PolicyError> {
        let bad = |reason| Err(PolicyError::BadScapPath { reason });
        if !path.starts_with('/') {
            return bad("it must be an absolute path");
        }
        if path.chars().any(char::is_control) {
            return bad("it must not contain NUL or other control characters");
        }
        if path.split('/').any(|c| c == "..") {
            return bad("it must not contain '..' components");
        }
        if path.ends_with('/') {
            return bad("it must name a file, not a directory");
        }
        Ok(Self(path.to_owned()))
    }

    /// The path.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The environment scap receives, and nothing else. `path`, `home`, `lang` and
/// `ssh_auth_sock` come from the executor's config, never from the requester.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScapEnvironment {
    /// The per-run machine-mode key (`SPIDERPIG_IO_KEY`).
    pub io_key: IoKey,
    /// The deployer (`SPIDERPIG_REAL_USER`).
    pub real_user: Username,
    pub path: String,
    pub home: String,
    pub lang: String,
    /// Set only when configured (the keyholder socket).
    pub ssh_auth_sock: Option<String>,
}

/// The per-run machine-mode key: 256 random bits as 64 lowercase hex characters.
/// A scap line is a structured message only if it carries this key. `Debug` hides
/// it; equality is constant-time.
#[derive(Clone, Eq)]
pub struct IoKey(String);

impl IoKey {
    /// The key for 32 random bytes (the caller draws them from the OS CSPRNG).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(64);
        for b in bytes {
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
        Self(s)
    }

    /// Checks a key given as text: exactly 64 lowercase hex characters.
    pub fn parse(s: &str) -> Result<Self, PolicyError> {
        if s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Self(s.to_owned()))
        } else {
            Err(PolicyError::IoKeyMalformed)
        }
    }

    /// The hex text, to put in scap's environment.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `candidate` is this key, compared in constant time.
    pub fn matches(&self, candidate: &str) -> bool {
        constant_time_eq(self.0.as_bytes(), candidate.as_bytes())
    }
}

impl PartialEq for IoKey {
    fn eq(&self, other: &Self) -> bool {
        self.matches(&other.0)
    }
}

impl fmt::Debug for IoKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IoKey(..)")
    }
}

/// A process to start: `program` with `args` (`argv[0]` excluded) and exactly `env`,
/// sorted by name. `Debug` hides the machine-mode key.
#[derive(Clone, PartialEq, Eq)]
pub struct Invocation {
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl fmt::Debug for Invocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str(),
                    if k == "SPIDERPIG_IO_KEY" {
                        ".."
                    } else {
                        v.as_str()
                    },
                )
            })
            .collect();
        f.debug_struct("Invocation")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("env", &env)
            .finish()
    }
}

#[cfg(test)]
mod tests;
