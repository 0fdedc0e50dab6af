//! Gerrit change references; trust level: input is untrusted: it comes from
//! spiderpig-web (pasted by a deployer) or from a gRPC request.
//!
//! Every accepted form is reduced to a bare [`ChangeNumber`] here, so scap only ever
//! receives decimal numbers. Refusals are specific, and their messages never repeat
//! more than a short, escaped piece of the input.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::PolicyError;
use crate::limits::MAX_CHANGES;
use crate::text::echo;

mod gerrit;

pub use gerrit::GerritBase;

/// A Gerrit change number: a positive 64-bit integer. Serialized as a plain number;
/// deserializing 0 fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct ChangeNumber(u64);

impl ChangeNumber {
    /// A change number; 0 is refused.
    pub fn new(n: u64) -> Result<Self, PolicyError> {
        if n == 0 {
            return Err(PolicyError::ChangeZero);
        }
        Ok(Self(n))
    }

    /// The number.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl TryFrom<u64> for ChangeNumber {
    type Error = PolicyError;

    fn try_from(n: u64) -> Result<Self, PolicyError> {
        Self::new(n)
    }
}

impl From<ChangeNumber> for u64 {
    fn from(n: ChangeNumber) -> u64 {
        n.0
    }
}

impl fmt::Display for ChangeNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Parses a bare decimal change number (ASCII digits only, no sign, no spaces).
impl FromStr for ChangeNumber {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, PolicyError> {
        if s.is_empty() {
            return Err(PolicyError::NoChanges);
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            return parse_digits(s);
        }
        if s.starts_with('-') {
            return Err(PolicyError::ChangeNegative);
        }
        if s.chars().all(char::is_numeric) {
            return Err(PolicyError::NonAsciiDigits);
        }
        Err(PolicyError::NotAChange)
    }
}

/// Characters that mean something to a shell. SpiderPig never uses a shell, but no
/// change reference contains them, so their presence means the input is an attempt
/// (or a bad paste) and deserves a specific refusal.
fn is_shell_metacharacter(c: char) -> bool {
    matches!(
        c,
        ';' | '&'
            | '|'
            | '$'
            | '`'
            | '('
            | ')'
            | '<'
            | '>'
            | '\\'
            | '"'
            | '\''
            | '!'
            | '{'
            | '}'
            | '*'
    )
}

/// Parses one change reference: a bare number or a link to a change on `base`.
/// Whitespace around the input is ignored.
pub fn parse_change_ref(input: &str, base: &GerritBase) -> Result<ChangeNumber, PolicyError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(PolicyError::NoChanges);
    }
    if s.chars().any(is_shell_metacharacter) {
        return Err(PolicyError::ShellMetacharacters);
    }
    parse_token(s, base)
}

/// Parses a list of change references separated by ASCII whitespace or commas, in
/// the order given. Refuses an empty list, more than [`MAX_CHANGES`], and
/// duplicates (also when the same change is named once by number, once by URL).
pub fn parse_change_list(input: &str, base: &GerritBase) -> Result<Vec<ChangeNumber>, PolicyError> {
    let s = input.trim();
    if s.chars().any(is_shell_metacharacter) {
        return Err(PolicyError::ShellMetacharacters);
    }
    let tokens = || {
        s.split(|c: char| c.is_ascii_whitespace() || c == ',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
    };
    let got = tokens().count();
    check_count(got)?;
    let mut changes = Vec::with_capacity(got);
    for token in tokens() {
        push_unique(&mut changes, parse_token(token, base)?)?;
    }
    Ok(changes)
}

/// Validates change numbers that arrived already parsed (from gRPC): not empty, at
/// most [`MAX_CHANGES`], no zero, no duplicates. Order is kept.
pub fn validate_change_list(changes: &[u64]) -> Result<Vec<ChangeNumber>, PolicyError> {
    check_count(changes.len())?;
    let mut out = Vec::with_capacity(changes.len());
    for &n in changes {
        push_unique(&mut out, ChangeNumber::new(n)?)?;
    }
    Ok(out)
}

/// Checks already-typed change numbers: the rules of [`validate_change_list`].
pub(crate) fn check_changes(changes: &[ChangeNumber]) -> Result<(), PolicyError> {
    check_count(changes.len())?;
    for (i, n) in changes.iter().enumerate() {
        if changes[..i].contains(n) {
            return Err(PolicyError::DuplicateChange(*n));
        }
    }
    Ok(())
}

fn check_count(got: usize) -> Result<(), PolicyError> {
    if got == 0 {
        return Err(PolicyError::NoChanges);
    }
    if got > MAX_CHANGES {
        return Err(PolicyError::TooManyChanges {
            max: MAX_CHANGES,
            got,
        });
    }
    Ok(())
}

fn push_unique(changes: &mut Vec<ChangeNumber>, n: ChangeNumber) -> Result<(), PolicyError> {
    if changes.contains(&n) {
        return Err(PolicyError::DuplicateChange(n));
    }
    changes.push(n);
    Ok(())
}

/// One trimmed, non-empty reference without shell metacharacters.
fn parse_token(s: &str, base: &GerritBase) -> Result<ChangeNumber, PolicyError> {
    if let Some(rest) = s.strip_prefix('-') {
        if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PolicyError::ChangeNegative);
        }
        return Err(PolicyError::OptionLike);
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return parse_digits(s);
    }
    if s.chars().all(char::is_numeric) {
        return Err(PolicyError::NonAsciiDigits);
    }
    if s.contains("://") {
        return base.parse_change_url(s);
    }
    Err(PolicyError::NotAChange)
}

/// A non-empty string of ASCII digits as a change number (leading zeros allowed,
/// as scap's own `^[0-9]+$` allows them).
fn parse_digits(digits: &str) -> Result<ChangeNumber, PolicyError> {
    debug_assert!(!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
    match digits.parse::<u64>() {
        Ok(n) => ChangeNumber::new(n),
        Err(_) => Err(PolicyError::ChangeTooLarge),
    }
}

/// A [`PolicyError::ForeignHost`] naming `host`, escaped and shortened.
fn foreign(host: &str) -> PolicyError {
    PolicyError::ForeignHost { host: echo(host) }
}

#[cfg(test)]
mod tests;
