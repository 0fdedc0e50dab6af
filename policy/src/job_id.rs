//! Job ids; trust level: input is untrusted: ids come from gRPC requests and `ctl`
//! arguments.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::PolicyError;

/// A job id: a positive integer, shown as a plain number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct JobId(u64);

impl JobId {
    /// A job id; 0 is refused.
    pub fn new(n: u64) -> Result<Self, PolicyError> {
        if n == 0 {
            return Err(PolicyError::JobIdZero);
        }
        Ok(Self(n))
    }

    /// The number.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl TryFrom<u64> for JobId {
    type Error = PolicyError;

    fn try_from(n: u64) -> Result<Self, PolicyError> {
        Self::new(n)
    }
}

impl From<JobId> for u64 {
    fn from(id: JobId) -> u64 {
        id.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Parses ASCII decimal digits (as typed to `ctl`).
impl FromStr for JobId {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, PolicyError> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PolicyError::JobIdMalformed);
        }
        Self::new(s.parse().map_err(|_| PolicyError::JobIdMalformed)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_are_positive() {
        assert_eq!(JobId::new(0), Err(PolicyError::JobIdZero));
        assert_eq!(JobId::new(7).map(JobId::get), Ok(7));
        assert_eq!(JobId::new(7).unwrap().to_string(), "7");
        let cases = [
            ("7", Ok(7)),
            ("0", Err(PolicyError::JobIdZero)),
            ("", Err(PolicyError::JobIdMalformed)),
            ("#7", Err(PolicyError::JobIdMalformed)),
            ("-7", Err(PolicyError::JobIdMalformed)),
            ("７", Err(PolicyError::JobIdMalformed)),
            ("18446744073709551616", Err(PolicyError::JobIdMalformed)),
        ];
        for (input, want) in cases {
            assert_eq!(input.parse::<JobId>().map(JobId::get), want, "{input:?}");
        }
    }

    #[test]
    fn job_ids_serialize_as_numbers() {
        assert_eq!(serde_json::to_string(&JobId::new(3).unwrap()).unwrap(), "3");
        assert!(serde_json::from_str::<JobId>("0").is_err());
    }
}
