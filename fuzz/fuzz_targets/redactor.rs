//! A security-patch path hidden among arbitrary lines, cut anywhere, as a
//! machine-mode line or plain text, sensitive-flagged or not: whatever the
//! pipeline shows (assembler, decoder, redactor) never contains it.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use spiderpig_policy::{
    IoKey, LineAssembler, RedactionPatterns, Redactor, ScapMessage, decode_line,
};

/// Compiled once: building the patterns is what would otherwise dominate.
/// `default_patterns` is what the executor runs with when its configuration
/// adds none (`spiderpig_executor::config::tests::the_default_pattern_applies_whatever_the_file_says`).
static PATTERNS: LazyLock<RedactionPatterns> = LazyLock::new(RedactionPatterns::default_patterns);

#[derive(Debug, Arbitrary)]
struct Input {
    before: Vec<String>,
    after: Vec<String>,
    /// Text in front of the path on its line (no `/`, no line break).
    prefix: String,
    /// The patch's name (kept to `[A-Za-z0-9_-]`).
    name: String,
    as_json: bool,
    flagged: bool,
    cuts: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let name: String = input
        .name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .take(24)
        .collect();
    if name.is_empty() {
        return;
    }
    let prefix: String = input
        .prefix
        .chars()
        .filter(|c| *c != '/' && *c != '\n' && *c != '\r')
        .take(40)
        .collect();
    let secret = format!("/srv/patches/{name}.patch");
    let key = IoKey::from_bytes([3; 32]);
    let line = format!("{prefix}{secret}");
    let secret_line = if input.as_json {
        format!(
            "{{\"type\": \"line\", \"line\": {}, \"sensitive\": {}, \"iokey\": \"{}\"}}",
            json_string(&line),
            input.flagged,
            key.as_str()
        )
    } else {
        line
    };
    let clean = |v: Vec<String>| -> Vec<String> {
        v.into_iter()
            .take(8)
            .map(|s| s.replace(['\n', '\r'], " "))
            .collect()
    };
    let lines: Vec<String> = clean(input.before)
        .into_iter()
        .chain([secret_line])
        .chain(clean(input.after))
        .collect();
    let stream = lines.join("\n").into_bytes();

    let mut assembler = LineAssembler::new(4096);
    let mut redactor = Redactor::new(PATTERNS.clone());
    let mut raw = Vec::new();
    let mut start = 0;
    for cut in input.cuts {
        let end = (start + usize::from(cut)).min(stream.len());
        raw.extend(assembler.push(&stream[start..end]));
        start = end;
    }
    raw.extend(assembler.push(&stream[start..]));
    raw.extend(assembler.finish());
    for line in raw {
        let shown = match decode_line(&line, &key) {
            ScapMessage::Line { text, sensitive } => redactor.feed(&text, sensitive),
            ScapMessage::Text(text) => redactor.feed(&text, false),
            ScapMessage::Withheld { .. } => redactor.feed_withheld(),
            _ => None,
        };
        if let Some(shown) = shown {
            assert!(!shown.contains(&secret), "leaked: {shown:?}");
        }
    }
});

/// A JSON string literal (quotes, backslashes and control characters escaped).
fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out + "\""
}
