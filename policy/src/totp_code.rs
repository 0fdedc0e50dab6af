//! TOTP codes as typed by users; trust level: input is untrusted: it comes from
//! spiderpig-web. Checked here before any HMAC is computed.

use std::fmt;

use crate::error::PolicyError;
use crate::limits::TOTP_DIGITS;

/// Exactly six ASCII digits. `Debug` does not show them.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpCode(String);

impl TotpCode {
    /// Checks a code exactly as typed: no trimming, no padding, no other digits.
    pub fn parse(s: &str) -> Result<Self, PolicyError> {
        if s.len() == TOTP_DIGITS && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(PolicyError::TotpCodeMalformed)
        }
    }

    /// The six digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TotpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpCode(******)")
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn only_six_ascii_digits_are_a_totp_code() {
        assert_eq!(
            TotpCode::parse("012345").map(|c| c.as_str().to_owned()),
            Ok("012345".into())
        );
        let bad = [
            "",
            "12345",
            "1234567",
            " 123456",
            "123456 ",
            "123 456",
            "12345a",
            "１２３４５６",
            "١٢٣٤٥٦",
            "+12345",
            "-12345",
            "12345\n",
            "0x1234",
            "١23456",
        ];
        for input in bad {
            assert_eq!(
                TotpCode::parse(input),
                Err(PolicyError::TotpCodeMalformed),
                "{input:?}"
            );
        }
    }

    #[test]
    fn debug_does_not_show_the_code() {
        let code = TotpCode::parse("987654").unwrap();
        assert_eq!(format!("{code:?}"), "TotpCode(******)");
        assert!(!format!("{:?}", Some(code)).contains("987654"));
    }

    proptest! {
        #[test]
        fn accepted_codes_are_six_ascii_digits(s in "\\PC{0,8}|[0-9]{5,7}") {
            let ok = TotpCode::parse(&s).is_ok();
            prop_assert_eq!(ok, s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()));
        }
    }
}
