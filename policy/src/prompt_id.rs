//! Prompt ids; trust level: input is untrusted: an answer names the prompt it
//! answers, and the id comes from the browser through spiderpig-web.

use std::fmt;

use crate::error::PolicyError;

/// The id of one prompt of scap's: a positive integer, unique in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PromptId(u64);

impl PromptId {
    /// A prompt id; 0 is refused (no prompt has it, and the wire's default
    /// must not name one).
    pub fn new(n: u64) -> Result<Self, PolicyError> {
        if n == 0 {
            return Err(PolicyError::PromptIdZero);
        }
        Ok(Self(n))
    }

    /// The number.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for PromptId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_ids_are_positive() {
        assert_eq!(PromptId::new(0), Err(PolicyError::PromptIdZero));
        assert_eq!(PromptId::new(9).map(PromptId::get), Ok(9));
        assert_eq!(PromptId::new(9).unwrap().to_string(), "9");
    }
}
