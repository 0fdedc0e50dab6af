//! Making text that came from users or from scap safe to print on an
//! operator's terminal. Trust: the input is untrusted (usernames from the IDP,
//! reasons, scap output that quotes Gerrit commit messages).
//!
//! A username or reason must not be able to forge a table row, recolour the
//! screen, set the terminal title, write the clipboard (OSC 52) or reorder text
//! with bidi overrides (case 47). Fields are therefore escaped so that each
//! renders as one visible line; only `log` may pass ANSI colours, and only
//! SGR colour sequences, and only to a terminal.

use std::borrow::Cow;

/// One field as one line: control characters (C0, DEL, C1) and bidi controls
/// are replaced by visible escapes, and `\` is doubled so an escape cannot be
/// faked. Everything else, quotes included, is printed as it is.
pub(super) fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| needs_escape(c) || c == '\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// Explicit directional formatting characters (the "Trojan Source" set) and
/// the marks that can be used to the same effect.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x100 && needs_escape(c) => {
            out.push_str(&format!("\\x{:02x}", c as u32));
        }
        c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        c => out.push(c),
    }
}

/// JSON text with every control character (DEL and C1 included; not the
/// layout of pretty output), bidi control and Unicode line separator written
/// as a `\uXXXX` escape.
/// `serde_json` escapes only C0, so 8-bit CSI/OSC (U+009B, U+009D) and bidi
/// overrides in hidden lines would reach a terminal raw. Such characters
/// occur only inside JSON strings, where the escape means the same value.
pub(super) fn json_escaped(json: String) -> String {
    // serde_json escapes `\n`, `\r` and `\t` inside strings, so where they
    // occur raw they are the layout of pretty output and stay.
    let unsafe_char = |c: char| {
        (needs_escape(c) && !matches!(c, '\n' | '\r' | '\t'))
            || matches!(c, '\u{2028}' | '\u{2029}')
    };
    if !json.chars().any(unsafe_char) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if unsafe_char(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// One line of a job log for printing. Escape sequences are removed, except
/// SGR colour sequences when `colour` is set (stdout is a terminal); other
/// control characters are escaped as in [`escape`], except that a tab stays a
/// tab and a backslash stays a backslash (log text is read, not parsed back).
/// If colour was passed, the line ends with a reset so it cannot bleed.
pub(super) fn log_text(s: &str, colour: bool) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut coloured = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\u{1b}' || c == '\u{9b}' {
            let (len, sgr) = escape_sequence(&chars[i..]);
            if colour && sgr {
                out.extend(&chars[i..i + len]);
                coloured = true;
            }
            i += len;
            continue;
        }
        match c {
            '\t' | '\\' => out.push(c),
            c => push_escaped(&mut out, c),
        }
        i += 1;
    }
    if coloured {
        out.push_str("\u{1b}[0m");
    }
    out
}

/// The length of the escape sequence at the start of `s` (which starts with
/// ESC or the C1 CSI), and whether it is a plain SGR colour sequence.
/// An unterminated sequence runs to the end of the line.
fn escape_sequence(s: &[char]) -> (usize, bool) {
    // The one-character C1 CSI is removed, never passed: terminals disagree
    // on whether it introduces a sequence.
    let c1 = s[0] == '\u{9b}';
    let (csi_body, kind) = match (s[0], s.get(1)) {
        ('\u{9b}', _) => (1, '['),
        (_, Some('[')) => (2, '['),
        (_, Some(&k @ (']' | 'P' | 'X' | '^' | '_'))) => (2, k),
        (_, Some(_)) => return (2, false),
        (_, None) => return (1, false),
    };
    if kind != '[' {
        // OSC, DCS, SOS, PM, APC: up to BEL or ST (ESC \ or C1 ST).
        let mut i = csi_body;
        while i < s.len() {
            match s[i] {
                '\u{7}' | '\u{9c}' => return (i + 1, false),
                '\u{1b}' if s.get(i + 1) == Some(&'\\') => return (i + 2, false),
                _ => i += 1,
            }
        }
        return (s.len(), false);
    }
    // CSI: parameter bytes, intermediate bytes, one final byte.
    let mut i = csi_body;
    while i < s.len() && ('\u{30}'..='\u{3f}').contains(&s[i]) {
        i += 1;
    }
    let params_end = i;
    while i < s.len() && ('\u{20}'..='\u{2f}').contains(&s[i]) {
        i += 1;
    }
    match s.get(i) {
        Some(&f) if ('\u{40}'..='\u{7e}').contains(&f) => {
            let params = &s[csi_body..params_end];
            let sgr = !c1
                && f == 'm'
                && params_end == i
                && params
                    .iter()
                    .all(|c| c.is_ascii_digit() || *c == ';' || *c == ':');
            (i + 1, sgr)
        }
        // Not a well-formed sequence: drop what was read, keep the rest.
        _ => (i, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_render_as_one_escaped_line() {
        let cases: &[(&str, &str)] = &[
            ("alice", "alice"),
            ("two\nlines", "two\\nlines"),
            ("cr\rlf", "cr\\rlf"),
            ("tab\there", "tab\\there"),
            ("\u{1b}[31mred\u{1b}[0m", "\\x1b[31mred\\x1b[0m"),
            (
                "\u{1b}]52;c;ZWNobyBoaQ==\u{7}",
                "\\x1b]52;c;ZWNobyBoaQ==\\x07",
            ),
            ("nul\0del\u{7f}", "nul\\x00del\\x7f"),
            ("c1\u{9b}2J", "c1\\x9b2J"),
            ("evil\u{202e}txt.exe", "evil\\u{202e}txt.exe"),
            ("back\\nslash", "back\\\\nslash"),
            (r#"{"reason":"x"}"#, r#"{"reason":"x"}"#),
            ("it's \"quoted\"", "it's \"quoted\""),
            ("naïve 日本", "naïve 日本"),
        ];
        for &(input, want) in cases {
            assert_eq!(escape(input), want, "{input:?}");
            assert!(!escape(input).contains(['\n', '\r', '\u{1b}']));
        }
    }

    /// `--json` output carries C1 controls, DEL, bidi controls and line
    /// separators only as escapes, and still parses to the same text.
    #[test]
    fn json_output_escapes_c1_bidi_and_separators() {
        let text = "a\u{9b}2J\u{9d}0;t\u{7}\u{7f}\u{202e}b\u{2066}\u{2028}\u{1b}[31m日本";
        let json =
            json_escaped(serde_json::to_string(&serde_json::json!({ "text": text })).unwrap());
        let raw = |c: char| {
            (c.is_control() && c != '\n')
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}')
        };
        assert!(!json.chars().any(raw), "{json}");
        assert!(
            json.contains("\\u009b") && json.contains("\\u202e"),
            "{json}"
        );
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["text"], text);
        let plain = serde_json::to_string(&serde_json::json!({ "text": "naïve" })).unwrap();
        assert_eq!(json_escaped(plain.clone()), plain);
        // Pretty output keeps its layout; a newline in a value stays escaped.
        let value = serde_json::json!({ "a": ["two\nlines\u{9b}"] });
        let pretty = json_escaped(serde_json::to_string_pretty(&value).unwrap());
        assert!(pretty.contains("\n  \"a\""), "{pretty}");
        assert!(pretty.contains("two\\nlines\\u009b"), "{pretty}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&pretty).unwrap(),
            value
        );
    }

    #[test]
    fn log_text_keeps_only_colours_and_only_on_a_terminal() {
        let cases: &[(&str, &str, &str)] = &[
            // (input, on a terminal, not on a terminal)
            ("plain\tline", "plain\tline", "plain\tline"),
            (
                "\u{1b}[1;31mERROR\u{1b}[0m x",
                "\u{1b}[1;31mERROR\u{1b}[0m x\u{1b}[0m",
                "ERROR x",
            ),
            (
                "\u{1b}[38:5:208morange",
                "\u{1b}[38:5:208morange\u{1b}[0m",
                "orange",
            ),
            ("\u{1b}]52;c;cm0gLXJmIC8=\u{7}copy", "copy", "copy"),
            (
                "\u{1b}]8;;http://evil\u{1b}\\link\u{1b}]8;;\u{1b}\\",
                "link",
                "link",
            ),
            ("\u{1b}]0;title", "", ""),
            ("\u{1b}[2J\u{1b}[Hcleared", "cleared", "cleared"),
            ("\u{1b}[?1049hscreen", "screen", "screen"),
            ("\u{9b}31mc1", "c1", "c1"),
            ("\u{1b}Pdcs\u{1b}\\after", "after", "after"),
            ("\u{1b}7saved", "saved", "saved"),
            (
                "bell\u{7} and \r cr",
                "bell\\x07 and \\r cr",
                "bell\\x07 and \\r cr",
            ),
            ("C:\\path", "C:\\path", "C:\\path"),
            ("trailing\u{1b}", "trailing", "trailing"),
            ("\u{1b}[31", "", ""),
        ];
        for &(input, tty, pipe) in cases {
            assert_eq!(log_text(input, true), tty, "tty {input:?}");
            assert_eq!(log_text(input, false), pipe, "pipe {input:?}");
        }
    }
}
