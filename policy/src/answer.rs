//! Answers to scap's prompts and admin reasons; trust level: input is untrusted: it
//! comes from spiderpig-web (answers) or from `ctl` (reasons).
//!
//! Nothing a person types reaches scap's stdin unless it passes here: a `choices`
//! answer must be one of the offered keys, a free-text answer one printable line.

use std::fmt;

use crate::error::PolicyError;
use crate::limits::{MAX_INPUT_LINE_CHARS, MAX_REASON_CHARS};
use crate::machine::Choice;
use crate::text::is_printable_in_line;

/// The offered choice whose key is exactly `key`.
pub fn validate_choice<'a>(offered: &'a [Choice], key: &str) -> Result<&'a Choice, PolicyError> {
    offered
        .iter()
        .find(|c| c.key == key)
        .ok_or(PolicyError::NotAnOfferedChoice)
}

/// A free-text answer for an `input_line` prompt: one line of at most
/// [`MAX_INPUT_LINE_CHARS`] printable characters; empty means "use scap's default".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputLine(String);

impl InputLine {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks a free-text answer.
pub fn validate_input_line(text: &str) -> Result<InputLine, PolicyError> {
    let got = text.chars().count();
    if got > MAX_INPUT_LINE_CHARS {
        return Err(PolicyError::InputLineTooLong {
            max: MAX_INPUT_LINE_CHARS,
            got,
        });
    }
    if !text.chars().all(is_printable_in_line) {
        return Err(PolicyError::InputLineNotPrintable);
    }
    Ok(InputLine(text.to_owned()))
}

/// An admin's reason for an action: trimmed, non-empty, at most
/// [`MAX_REASON_CHARS`] printable characters on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason(String);

impl Reason {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks an admin reason; the result is trimmed.
pub fn validate_reason(text: &str) -> Result<Reason, PolicyError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(PolicyError::ReasonEmpty);
    }
    let got = text.chars().count();
    if got > MAX_REASON_CHARS {
        return Err(PolicyError::ReasonTooLong {
            max: MAX_REASON_CHARS,
            got,
        });
    }
    if !text.chars().all(is_printable_in_line) {
        return Err(PolicyError::ReasonNotPrintable);
    }
    Ok(Reason(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn offered() -> Vec<Choice> {
        [
            ("Retry", "r"),
            ("Ignore failure", "i"),
            ("Roll back", "b"),
            ("Exit", "x"),
        ]
        .iter()
        .map(|(label, key)| Choice {
            label: (*label).into(),
            key: (*key).into(),
        })
        .collect()
    }

    #[test]
    fn only_an_offered_key_is_an_answer() {
        let offered = offered();
        assert_eq!(
            validate_choice(&offered, "b").map(|c| c.label.as_str()),
            Ok("Roll back")
        );
        for key in ["", "y", "B", " b", "b\n", "b\nx", "Roll back", "bx", "ｂ"] {
            assert_eq!(
                validate_choice(&offered, key),
                Err(PolicyError::NotAnOfferedChoice),
                "{key:?}"
            );
        }
        assert_eq!(
            validate_choice(&[], "y"),
            Err(PolicyError::NotAnOfferedChoice)
        );
    }

    #[test]
    fn input_lines_are_one_printable_line() {
        let ok = [
            "",
            "Reverted: broke the main page",
            "café ünïcode 漢字",
            &"x".repeat(200),
        ];
        for text in ok {
            assert_eq!(
                validate_input_line(text).map(|l| l.as_str().to_owned()),
                Ok(text.to_owned())
            );
        }
        let long = "é".repeat(201);
        assert_eq!(
            validate_input_line(&long),
            Err(PolicyError::InputLineTooLong { max: 200, got: 201 })
        );
        let bad = [
            "two\nlines",
            "cr\r",
            "tab\t",
            "nul\0",
            "esc\u{1b}[31m",
            "del\u{7f}",
            "c1\u{85}",
            "csi\u{9b}",
            "rlo\u{202e}",
            "lre\u{202a}",
            "pdi\u{2069}",
            "lri\u{2066}",
            "ls\u{2028}",
            "zwsp\u{200b}",
        ];
        for text in bad {
            assert_eq!(
                validate_input_line(text),
                Err(PolicyError::InputLineNotPrintable),
                "{text:?}"
            );
        }
    }

    #[test]
    fn reasons_are_required_short_and_printable() {
        assert_eq!(
            validate_reason("  stuck deploy  ").map(|r| r.to_string()),
            Ok("stuck deploy".into())
        );
        let cases = [
            ("", PolicyError::ReasonEmpty),
            (" \t ", PolicyError::ReasonEmpty),
            ("line\nbreak", PolicyError::ReasonNotPrintable),
            ("\u{1b}[2Jclear", PolicyError::ReasonNotPrintable),
            ("bidi\u{202e}", PolicyError::ReasonNotPrintable),
        ];
        for (text, want) in cases {
            assert_eq!(validate_reason(text), Err(want), "{text:?}");
        }
        assert_eq!(
            validate_reason(&"r".repeat(501)),
            Err(PolicyError::ReasonTooLong { max: 500, got: 501 })
        );
        assert!(validate_reason(&"r".repeat(500)).is_ok());
    }

    proptest! {
        #[test]
        fn accepted_input_lines_cannot_break_the_line(text in "\\PC{0,210}|[\\x00-\\x7f]{0,50}") {
            if let Ok(line) = validate_input_line(&text) {
                prop_assert!(line.as_str().chars().count() <= MAX_INPUT_LINE_CHARS);
                prop_assert!(!line.as_str().chars().any(|c| c.is_control()));
            }
            if let Ok(reason) = validate_reason(&text) {
                prop_assert!(!reason.as_str().is_empty());
                prop_assert!(!reason.as_str().chars().any(|c| c.is_control()));
            }
        }
    }
}
