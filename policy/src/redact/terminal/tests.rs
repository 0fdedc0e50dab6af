//! Tests of the terminal views (strip, render, sanitize); trust level: test code.

use proptest::prelude::*;

use super::*;

#[test]
fn strip_removes_every_kind_of_sequence_and_control() {
    let cases = [
        ("plain", "plain"),
        ("\u{1b}[32m06:36:50 Voting\u{1b}[0m", "06:36:50 Voting"),
        ("a\u{1b}[1;31;4mb", "ab"),
        ("a\u{9b}31mb", "ab"),
        (
            "a\u{1b}]8;;https://x/\u{7}link\u{1b}]8;;\u{1b}\\b",
            "alinkb",
        ),
        ("a\u{1b}]52;c;c2VjcmV0\u{9c}b", "ab"),
        ("a\u{9d}0;title\u{7}b", "ab"),
        ("a\u{1b}Pdcs payload\u{1b}\\b", "ab"),
        ("a\u{1b}_apc\u{1b}\\b", "ab"),
        ("a\u{1b}(Bb", "ab"),
        ("a\u{1b}7b\u{1b}8", "ab"),
        ("a\r\u{7}\u{8}\tb\u{0}\u{7f}\u{85}", "ab"),
        ("a\u{200b}\u{202e}\u{feff}b", "ab"),
        ("a\u{1b}", "a"),
        ("a\u{1b}[", "a"),
        ("a\u{1b}[12", "a"),
        ("a\u{1b}]unterminated", "a"),
        ("a\u{1b}]x\u{1b}[31mb", "ab"),
        ("a\u{1b}[1\u{e9}b", "a\u{e9}b"),
        ("/srv/pa\u{1b}[ 1@tches", "/srv/patches"),
    ];
    for (input, want) in cases {
        assert_eq!(strip(input), want, "{input:?}");
    }
}

#[test]
fn render_applies_carriage_returns_and_cursor_moves() {
    let cases = [
        ("plain", "plain"),
        ("XXXXXXXtches/x\r/srv/pa", "/srv/patches/x"),
        ("/srv/pax\u{8}tches", "/srv/patches"),
        ("/srv/paXXtches\u{1b}[7D\u{1b}[2P", "/srv/patches"),
        ("tches\u{1b}[1G\u{1b}[7@/srv/pa", "/srv/patches"),
        ("\u{1b}[8Gtches\u{1b}[1G/srv/pa", "/srv/patches"),
        ("\u{1b}[1;8Htches\r/srv/pa", "/srv/patches"),
        ("/srv/pa\u{1b}7XXXXX\u{1b}8tches", "/srv/patches"),
        ("abc\u{1b}[2K", ""),
        ("abc\u{1b}[2D\u{1b}[K", "a"),
        ("abc\u{1b}[2D\u{1b}[1K", "  c"),
        ("abcd\u{1b}[1G\u{1b}[2X", "  cd"),
        ("a\tb", "a       b"),
        (
            "\u{1b}[99999999999Cx",
            &format!("{}x", " ".repeat(MAX_COLUMN)),
        ),
    ];
    for (input, want) in cases {
        assert_eq!(render(input), want, "{input:?}");
    }
}

#[test]
fn sanitize_keeps_only_text_and_colours() {
    let cases = [
        ("\u{1b}[32mgreen\u{1b}[0m", "\u{1b}[32mgreen\u{1b}[0m"),
        ("\u{9b}1;31mred", "\u{1b}[1;31mred\u{1b}[0m"),
        ("a\u{1b}]8;;file:///etc\u{7}link\u{1b}]8;;\u{7}", "alink"),
        ("a\u{1b}]52;c;Y2xpcA==\u{7}b", "ab"),
        ("a\u{1b}[2Ab\u{1b}[?25l\u{1b}[>1m", "ab"),
        ("progress 10%\rprogress 20%", "progress 10%progress 20%"),
        ("a\tb\u{8}\u{7}", "a\tb"),
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),
    ];
    for (input, want) in cases {
        assert_eq!(sanitize(input), want, "{input:?}");
    }
}

/// No style set by one record reaches the next: conceal is dropped (a colour
/// numbered 8 is not conceal) and a styled line ends with a reset.
#[test]
fn no_style_outlives_its_line_and_conceal_is_never_kept() {
    let cases = [
        ("a\u{1b}[8mb", "ab"),
        ("x \u{1b}[8m", "x "),
        ("a\u{1b}[1;8;31mb", "a\u{1b}[1;31mb\u{1b}[0m"),
        ("a\u{1b}[08mb\u{1b}[8:1mc", "abc"),
        ("a\u{9b}8mb", "ab"),
        ("a\u{1b}[38;5;8mb", "a\u{1b}[38;5;8mb\u{1b}[0m"),
        ("a\u{1b}[48;2;8;8;8;8mb", "a\u{1b}[48;2;8;8;8mb\u{1b}[0m"),
        ("a\u{1b}[38;8mb", "ab"),
        ("a\u{1b}[31mb", "a\u{1b}[31mb\u{1b}[0m"),
        ("a\u{1b}[31mb\u{1b}[m", "a\u{1b}[31mb\u{1b}[m"),
    ];
    for (input, want) in cases {
        assert_eq!(sanitize(input), want, "{input:?}");
        assert_eq!(views(input).sanitized, want, "{input:?}");
    }
}

/// [`strip`] token by token, without the runs of ASCII.
fn strip_by_tokens(text: &str) -> String {
    Tokens::new(text)
        .filter_map(|t| match t {
            Token::Print(c) if !is_invisible_format(c) => Some(c),
            _ => None,
        })
        .collect()
}

proptest! {
    #[test]
    fn strip_reads_ascii_runs_as_their_characters(text in "\\PC{0,60}|[\\x00-\\x20\\x1b\\[\\];0-9a-zA-Z\u{9b}\u{9d}\u{9c} m\u{200b}\u{7f}\u{e9}]{0,60}") {
        prop_assert_eq!(strip(&text), strip_by_tokens(&text));
    }

    #[test]
    fn views_never_panic_and_sanitize_shows_what_strip_sees(text in "\\PC{0,60}|[\\x00-\\x20\\x1b\\[\\];0-9a-zA-Z\u{9b}\u{9d}\u{9c}]{0,60}") {
        let stripped = strip(&text);
        prop_assert!(!stripped.chars().any(char::is_control));
        prop_assert_eq!(strip(&sanitize(&text)), stripped.clone());
        let shown = sanitize(&text);
        let stray = shown.chars().any(|c| c.is_control() && c != '\u{1b}' && c != '\t');
        prop_assert!(!stray, "{:?}", shown);
        prop_assert!(!shown.contains('\u{1b}') || shown.ends_with("\u{1b}[0m") || shown.ends_with("\u{1b}[m"), "{:?}", shown);
        prop_assert!(render(&text).chars().count() <= MAX_COLUMN + text.chars().count() + 8);
        prop_assert!(!without_controls(&text).chars().any(char::is_control));
    }

    /// The one-pass views equal the separate ones, and a line called flat
    /// renders as its stripped text without trailing blanks.
    #[test]
    fn one_pass_views_equal_the_separate_views(text in "\\PC{0,60}|[\\x00-\\x20\\x1b\\[\\];0-9a-zA-Z\u{9b}\u{9d}\u{9c} m\u{200b}]{0,60}") {
        let v = views(&text);
        prop_assert_eq!(&v.stripped, &strip(&text));
        prop_assert_eq!(&v.sanitized, &sanitize(&text));
        if v.flat {
            prop_assert_eq!(render(&text), v.stripped.trim_end());
        }
    }
}

#[test]
fn coloured_lines_are_flat_and_cursor_moves_are_not() {
    for flat in [
        "\u{1b}[32m06:36:50 Voting\u{1b}[0m",
        "a\u{1b}[1;31;4mb  ",
        "a\u{9b}31mb",
        "a\u{200b}b",
    ] {
        assert!(views(flat).flat, "{flat:?}");
        assert_eq!(render(flat), strip(flat).trim_end(), "{flat:?}");
    }
    for moving in [
        "abc\rX",
        "ab\u{8}c",
        "a\tb",
        "a\u{1b}[2Db",
        "a\u{1b}[Kb",
        "a\u{1b}7b\u{1b}8c",
        "a\u{1b}]8;;u\u{7}b",
        "a\u{1b}[ 1@b",
    ] {
        assert!(!views(moving).flat, "{moving:?}");
    }
}
