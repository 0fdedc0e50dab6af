//! Character classes and safe echoing; trust level: input is untrusted (any text).

use crate::limits::MAX_ECHO_CHARS;

/// Bidirectional formatting controls (U+202A–U+202E, U+2066–U+2069, and the marks
/// U+200E, U+200F, U+061C): they can make text display in another order than it is
/// stored, so a reviewer would read something else than what is written.
pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Invisible characters: Unicode's default-ignorable code points (zero-width
/// spaces and joiners, soft hyphen, combining grapheme joiner, word joiner,
/// byte-order mark, bidi controls, variation selectors including the Mongolian
/// ones, Hangul fillers, tag characters, shorthand and musical format controls),
/// plus the Mongolian vowel separator, interlinear annotation and the Unicode line
/// and paragraph separators. A terminal shows none of them as a character, so they
/// can split a word without a reader noticing.
pub(crate) fn is_invisible_format(c: char) -> bool {
    is_bidi_control(c)
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{115F}'..='\u{1160}'
                | '\u{17B4}'..='\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200D}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF0}'..='\u{FFFB}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

/// Characters drawn like `/` (fraction and division slashes, fullwidth and big
/// solidus, a box-drawing diagonal, and the like from Unicode's confusables).
fn is_slash_lookalike(c: char) -> bool {
    matches!(
        c,
        '\u{1735}'
            | '\u{2044}'
            | '\u{2215}'
            | '\u{2571}'
            | '\u{27CB}'
            | '\u{29F8}'
            | '\u{2F03}'
            | '\u{3033}'
            | '\u{31D3}'
            | '\u{1D23A}'
    )
}

/// `text` with look-alikes of ASCII folded to ASCII (fullwidth forms to their
/// ASCII letters, digits and punctuation; slash look-alikes to `/`), or `None`
/// when it has none. A view for matching only: what users see keeps its
/// characters.
pub(crate) fn fold_lookalikes(text: &str) -> Option<String> {
    let fold = |c: char| match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        c if is_slash_lookalike(c) => '/',
        c => c,
    };
    if text.is_ascii() || !text.chars().any(|c| fold(c) != c) {
        return None;
    }
    Some(text.chars().map(fold).collect())
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

    /// The characters of the security review (F15) that a terminal shows as
    /// nothing are invisible; ordinary letters next to them are not.
    #[test]
    fn default_ignorable_characters_are_invisible() {
        let invisible = [
            '\u{034F}',
            '\u{FE00}',
            '\u{FE0F}',
            '\u{180B}',
            '\u{180D}',
            '\u{180F}',
            '\u{E0000}',
            '\u{E0041}',
            '\u{E007F}',
            '\u{E0100}',
            '\u{115F}',
            '\u{1160}',
            '\u{3164}',
            '\u{FFA0}',
            '\u{17B4}',
            '\u{1BCA0}',
            '\u{1D173}',
            '\u{2065}',
        ];
        for c in invisible {
            assert!(is_invisible_format(c), "{c:?}");
            assert!(!is_printable_in_line(c), "{c:?}");
        }
        for c in [
            '\u{0350}', '\u{1161}', '\u{3165}', '\u{FE10}', '\u{FFA1}', 'ä',
        ] {
            assert!(!is_invisible_format(c), "{c:?}");
        }
    }

    #[test]
    fn lookalikes_fold_to_ascii_only_in_the_matching_view() {
        let cases = [
            ("/srv\u{FF0F}patches", Some("/srv/patches")),
            ("\u{FF0F}\u{FF53}\u{FF52}\u{FF56}", Some("/srv")),
            ("a\u{2215}b\u{2044}c\u{29F8}d\u{2571}e", Some("a/b/c/d/e")),
            ("/srv/patches", None),
            ("漢字 é", None),
        ];
        for (input, want) in cases {
            assert_eq!(fold_lookalikes(input).as_deref(), want, "{input:?}");
        }
    }
}
