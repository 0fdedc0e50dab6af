//! Character classes and safe echoing; trust level: input is untrusted (any text).

use crate::limits::MAX_ECHO_CHARS;

/// Bidirectional formatting controls (U+202A–U+202E, U+2066–U+2069, and the marks
/// U+200E, U+200F, U+061C): they can make text display in another order than it is
/// stored, so a reviewer would read something else than what is written.
pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Invisible format characters (zero-width spaces and joiners, soft hyphen, word
/// joiner, byte-order mark, interlinear annotation, bidi controls) and the Unicode
/// line and paragraph separators. A terminal shows none of them as a character, so
/// they can split a word without a reader noticing.
pub(crate) fn is_invisible_format(c: char) -> bool {
    is_bidi_control(c)
        || matches!(
            c,
            '\u{00AD}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200D}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{2060}'..='\u{2064}'
                | '\u{206A}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
}

/// Whether `c` may appear in a one-line text typed by a person: no control
/// characters (C0, DEL, C1, which covers `\n`, `\r`, `\t`, ESC), no bidi controls, no
/// invisible format characters or line separators.
pub(crate) fn is_printable_in_line(c: char) -> bool {
    !c.is_control() && !is_invisible_format(c)
}

/// A short, escaped copy of untrusted text for an error message: at most
/// [`MAX_ECHO_CHARS`] characters, control and invisible characters written as
/// escapes, and `…` when cut.
pub(crate) fn echo(input: &str) -> String {
    let mut out = String::new();
    for (count, c) in input.chars().enumerate() {
        if count == MAX_ECHO_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() || is_invisible_format(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_escapes_controls_and_cuts_long_input() {
        let cases = [
            ("evil.com", "evil.com".to_string()),
            ("a\nb", "a\\nb".to_string()),
            ("\u{1b}[31mred", "\\u{1b}[31mred".to_string()),
            ("x\u{202E}y", "x\\u{202e}y".to_string()),
            (&"a".repeat(100), format!("{}…", "a".repeat(60))),
        ];
        for (input, want) in cases {
            assert_eq!(echo(input), want, "{input:?}");
        }
    }

    #[test]
    fn printable_excludes_controls_bidi_and_separators() {
        let refused = [
            '\n', '\r', '\t', '\u{7f}', '\u{85}', '\u{9b}', '\u{202E}', '\u{2066}', '\u{2028}',
            '\u{200B}',
        ];
        for c in refused {
            assert!(!is_printable_in_line(c), "{c:?}");
        }
        for c in ['a', ' ', 'é', '漢', '１', '€'] {
            assert!(is_printable_in_line(c), "{c:?}");
        }
    }
}
