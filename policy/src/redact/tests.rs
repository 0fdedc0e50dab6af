//! Redaction tests: ANSI, `\r` and hyperlink disguises, bad patterns, and the
//! secrets-in-random-streams property (SECURITY-TESTS 38-40); trust level: test code.

use proptest::prelude::*;

use super::*;
use crate::command::IoKey;
use crate::limits::MAX_LINE_BYTES;
use crate::machine::{LineAssembler, ScapMessage, decode_line};

fn redactor() -> Redactor {
    Redactor::new(RedactionPatterns::default_patterns())
}

#[test]
fn default_pattern_matches_paths_under_srv_patches() {
    let p = RedactionPatterns::default_patterns();
    let sensitive = [
        "Applying patch /srv/patches/1.44.0-wmf.6/core/01-T999999.patch in /srv/mediawiki-staging",
        "[APPLIED] /srv/patches/1.44.0-wmf.6/core/01-T999999.patch",
        "ls /srv/patches",
        "cd /srv//patches/x",
        "cat /srv/./patches/x",
        "(/srv/patches)",
    ];
    for line in sensitive {
        assert!(p.is_sensitive(line), "{line:?}");
    }
    let ordinary = [
        "06:36:50 Started scap prep auto",
        "/srv/mediawiki-staging/php-1.44.0-wmf.6",
        "/srv/patches2/x",
        "/srv/patches-old",
        "patches applied: 3",
        "",
    ];
    for line in ordinary {
        assert!(!p.is_sensitive(line), "{line:?}");
    }
}

#[test]
fn patch_path_wrapped_in_ansi_is_redacted() {
    let p = RedactionPatterns::default_patterns();
    let cases = [
        "\u{1b}[31m/srv/patches/x.patch\u{1b}[0m",
        "/srv/pa\u{1b}[0mtches/x",
        "/srv/pa\u{9b}0mtches/x",
        "/\u{1b}[1ms\u{1b}[2mr\u{1b}[3mv/patches/x",
        "/srv/pa\u{1b}]0;title\u{7}tches/x",
        "/srv/pa\u{200b}tches/x",
        "/srv/pa\u{7}tches/x",
        "/srv/pa\u{0}tches/x",
    ];
    for line in cases {
        assert!(p.is_sensitive(line), "{line:?}");
    }
}

#[test]
fn patch_path_rewritten_with_carriage_return_is_redacted() {
    let p = RedactionPatterns::default_patterns();
    let cases = [
        "/srv/patches/x.patch\rprogress 100%",
        "harmless\r/srv/patches/x.patch",
        "/srv/pa\rtches/x",
        "XXXXXXXtches/x\r/srv/pa",
        "/srv/pax\u{8}tches/x",
        "/srv/paXXtches/x\u{1b}[9D\u{1b}[2P",
    ];
    for line in cases {
        assert!(p.is_sensitive(line), "{line:?}");
    }
}

#[test]
fn patch_path_hidden_in_a_hyperlink_is_redacted() {
    let p = RedactionPatterns::default_patterns();
    let line = "see \u{1b}]8;;file:///srv/patches/1.44/core/01.patch\u{1b}\\here\u{1b}]8;;\u{1b}\\";
    assert!(p.is_sensitive(line));
}

#[test]
fn bad_pattern_fails_closed() {
    let cases = ["(unclosed", "[z-a]", "a{99999999999}", "", "\\"];
    for pattern in cases {
        let err = RedactionPatterns::new(&["x".to_owned(), pattern.to_owned()]).unwrap_err();
        assert!(
            matches!(&err, PolicyError::BadRedactionPattern { .. }),
            "{pattern:?}"
        );
        assert!(!err.to_string().contains('\n'), "{err}");
    }
    assert!(
        RedactionPatterns::new(&["secret-[0-9]+".to_owned()])
            .unwrap()
            .is_sensitive("a secret-42")
    );
}

/// Configured patterns add to the default; they never replace it.
#[test]
fn configured_patterns_add_to_the_default_pattern() {
    let p = RedactionPatterns::new(&["secret-[0-9]+".to_owned()]).unwrap();
    assert_eq!(p.patterns(), [DEFAULT_PATTERN, "secret-[0-9]+"]);
    assert!(p.is_sensitive("cd /srv//patches/x"));
    assert!(p.is_sensitive("a secret-42"));
    assert!(!p.is_sensitive("an ordinary line"));
    assert_eq!(
        RedactionPatterns::default_patterns().patterns(),
        [DEFAULT_PATTERN]
    );
}

/// Invisible characters and look-alikes of `/` or of ASCII letters do not
/// carry a patch path past the patterns (security review F15).
#[test]
fn patch_paths_spelt_with_invisible_or_lookalike_characters_are_redacted() {
    let p = RedactionPatterns::default_patterns();
    let lines = [
        "/srv/pat\u{034F}ches/x",
        "/srv/pat\u{FE0F}ches/x",
        "/srv/pat\u{180B}ches/x",
        "/srv/pat\u{E0041}ches/x",
        "/srv/pat\u{115F}\u{1160}\u{3164}\u{FFA0}ches/x",
        "/srv\u{FF0F}patches/x",
        "/srv\u{2215}patches/x",
        "\u{2044}srv\u{2044}patches\u{2044}x",
        "\u{FF0F}\u{FF53}\u{FF52}\u{FF56}\u{FF0F}\u{FF50}\u{FF41}\u{FF54}\u{FF43}\u{FF48}\u{FF45}\u{FF53}\u{FF0F}x",
        "\u{1b}[31m/srv\u{29F8}patches/x\u{1b}[0m",
    ];
    for line in lines {
        assert!(p.is_sensitive(line), "{line:?}");
    }
    // Look-alikes elsewhere change nothing of what is shown.
    assert_eq!(p.shown("１／２ done").as_deref(), Some("１／２ done"));
}

#[test]
fn each_run_of_sensitive_lines_becomes_one_placeholder() {
    let mut r = redactor();
    let got: Vec<Option<String>> = vec![
        r.feed("before", false),
        r.feed("Applying patch A", true),
        r.feed("[APPLIED] /srv/patches/a.patch", false),
        r.feed_withheld(),
        r.feed("after", false),
        r.feed("/srv/patches/b.patch", false),
        {
            r.reset_run();
            r.feed("/srv/patches/c.patch", false)
        },
        r.feed("\u{1b}[32mgreen\u{1b}[0m", false),
    ];
    let hidden = Some(PLACEHOLDER.to_owned());
    let want = vec![
        Some("before".to_owned()),
        hidden.clone(),
        None,
        None,
        Some("after".to_owned()),
        hidden.clone(),
        hidden,
        Some("\u{1b}[32mgreen\u{1b}[0m".to_owned()),
    ];
    assert_eq!(got, want);
}

#[test]
fn classify_tells_a_placeholder_lookalike_from_a_hidden_line() {
    let mut r = redactor();
    assert_eq!(
        r.classify(PLACEHOLDER, false),
        Verdict::Show(PLACEHOLDER.to_owned())
    );
    assert_eq!(r.classify("x", true), Verdict::Hide { starts_run: true });
    assert_eq!(r.classify_withheld(), Verdict::Hide { starts_run: false });
    assert_eq!(r.classify("y", false), Verdict::Show("y".to_owned()));
}

#[test]
fn shown_lines_lose_links_clipboard_writes_and_cursor_moves() {
    let mut r = redactor();
    let got = r.feed(
        "a\u{1b}]52;c;c2VjcmV0\u{7}b\u{1b}[1A\u{1b}]8;;https://evil.example/\u{7}c",
        false,
    );
    assert_eq!(got.as_deref(), Some("abc"));
}

/// The secret as a run of text, split by escape codes, zero-width characters,
/// backspaces or `\r` rewrites, which terminals may still show as the secret.
fn disguise(
    prefix: &str,
    secret: &str,
    codes: &[(usize, usize)],
    rewrite_at: Option<usize>,
) -> String {
    const CODES: [&str; 7] = [
        "\u{1b}[0m",
        "\u{1b}[1;31m",
        "\u{9b}32m",
        "\u{1b}(B",
        "\u{200b}",
        "\u{7}",
        "x\u{8}",
    ];
    let chars: Vec<char> = secret.chars().collect();
    let mut out = prefix.to_owned();
    for (i, c) in chars.iter().enumerate() {
        for (at, code) in codes {
            if *at == i {
                out.push_str(CODES[code % CODES.len()]);
            }
        }
        out.push(*c);
    }
    match rewrite_at {
        // Draw the tail first, then go back and draw the head over the filler.
        Some(k) if k > 0 && k < chars.len() => {
            let head: String = chars[..k].iter().collect();
            let tail: String = chars[k..].iter().collect();
            format!("{prefix}{}{tail}\r{prefix}{head}", "X".repeat(k))
        }
        _ => out,
    }
}

fn leaked(output: &str, secret: &str) -> bool {
    output.contains(secret)
        || strip_terminal_controls(output).contains(secret)
        || terminal::render(output).contains(secret)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn secrets_never_get_through(
        name in "[A-Za-z0-9_-]{1,12}",
        before in proptest::collection::vec("[ -~]{0,30}", 0..5),
        after in proptest::collection::vec("[ -~]{0,30}", 0..5),
        prefix in "[ -~&&[^/]]{0,10}",
        codes in proptest::collection::vec((0usize..40, any::<usize>()), 0..6),
        rewrite_at in proptest::option::of(1usize..20),
        as_json in any::<bool>(),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
        max_bytes in prop_oneof![Just(MAX_LINE_BYTES), 8usize..160],
    ) {
        let secret = format!("/srv/patches/{name}.patch");
        let key = IoKey::from_bytes([3; 32]);
        let disguised = disguise(&prefix, &secret, &codes, rewrite_at);
        let secret_line = if as_json {
            serde_json::json!({"type": "line", "line": disguised, "iokey": key.as_str()}).to_string()
        } else {
            disguised
        };
        let lines: Vec<String> = before.into_iter().chain([secret_line]).chain(after).collect();
        let stream = lines.join("\n").into_bytes();
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        points.sort_unstable();

        let mut assembler = LineAssembler::new(max_bytes);
        let mut redactor = redactor();
        let mut raw_lines = Vec::new();
        let mut start = 0;
        for p in points.into_iter().chain([stream.len()]) {
            raw_lines.extend(assembler.push(&stream[start..p]));
            start = p;
        }
        raw_lines.extend(assembler.finish());
        let mut hidden = 0;
        for raw in raw_lines {
            let shown = match decode_line(&raw, &key) {
                ScapMessage::Line { text, sensitive } => redactor.feed(&text, sensitive),
                ScapMessage::Text(text) => redactor.feed(&text, false),
                ScapMessage::Withheld { .. } => redactor.feed_withheld(),
                _ => None,
            };
            if let Some(shown) = shown {
                prop_assert!(!leaked(&shown, &secret), "{shown:?}");
                hidden += usize::from(shown == PLACEHOLDER);
            }
        }
        // Unless the cut dropped it, the secret's line was caught (not merely lost).
        prop_assert!(hidden > 0 || max_bytes < MAX_LINE_BYTES);
    }

    #[test]
    fn redactor_never_panics(text in "\\PC{0,100}|[\\x00-\\x20\\x1b\\[/srvpatches0-9;]{0,100}", sensitive in any::<bool>()) {
        let mut r = redactor();
        if let Some(shown) = r.feed(&text, sensitive) {
            prop_assert!(!leaked(&shown, "/srv/patches/"));
        }
    }
}
