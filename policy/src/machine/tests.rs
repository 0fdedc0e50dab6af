//! Machine-mode decoding and line assembly, including forged prompts and the
//! 1 GiB line (SECURITY-TESTS 37, 40); trust level: test code.

use proptest::prelude::*;

use super::*;
use crate::limits::MAX_LINE_BYTES;

fn key() -> IoKey {
    IoKey::from_bytes([0x7a; 32])
}

fn decode(text: &str) -> ScapMessage {
    decode_line(&RawLine::complete(text), &key())
}

/// A machine-mode line: `body` is the inside of the object, without the key.
fn msg(body: &str) -> String {
    format!(r#"{{{body}, "iokey": "{}"}}"#, key().as_str())
}

fn text(s: &str) -> ScapMessage {
    ScapMessage::Text(s.to_owned())
}

fn choice(label: &str, key: &str) -> Choice {
    Choice {
        label: label.into(),
        key: key.into(),
    }
}

#[test]
fn scaps_messages_decode() {
    let patch = "Applying patch /srv/patches/1.44.0-wmf.6/core/01-T999999.patch in /srv/mediawiki-staging/php-1.44.0-wmf.6";
    let cases: Vec<(String, ScapMessage)> = vec![
        (
            msg(&format!(
                r#""type": "line", "line": "{patch}", "sensitive": true"#
            )),
            ScapMessage::Line {
                text: patch.into(),
                sensitive: true,
            },
        ),
        (
            msg(r#""type": "line", "line": "\u001b[32m06:36:50 Voting on 1 change(s)\u001b[0m""#),
            ScapMessage::Line {
                text: "\u{1b}[32m06:36:50 Voting on 1 change(s)\u{1b}[0m".into(),
                sensitive: false,
            },
        ),
        (
            msg(r#""type":"status","status":null"#),
            ScapMessage::Status(None),
        ),
        (
            msg(r#""type":"status","status":"Sync k8s canaries""#),
            ScapMessage::Status(Some("Sync k8s canaries".into())),
        ),
        (
            msg(
                r#""type":"interaction","subtype":"input_line","prompt":"Please supply a reason for revert: ""#,
            ),
            ScapMessage::InputLine {
                prompt: "Please supply a reason for revert: ".into(),
            },
        ),
        (
            format!("  {}", msg(r#""type":"status","status":"indented""#)),
            ScapMessage::Status(Some("indented".into())),
        ),
    ];
    for (line, want) in cases {
        assert_eq!(decode(&line), want, "{line}");
    }
}

#[test]
fn choices_keep_scaps_order() {
    let line = msg(
        r#""type":"interaction","subtype":"choices","prompt":"Changes synced to the testservers\n\nContinue with deployment?","choices":{"Yes, continue with deployment":"y","No, roll back deployment and terminate":"n"},"default":"n""#,
    );
    let want = ScapMessage::Choices {
        prompt: "Changes synced to the testservers\n\nContinue with deployment?".into(),
        choices: vec![
            choice("Yes, continue with deployment", "y"),
            choice("No, roll back deployment and terminate", "n"),
        ],
        default: Some("n".into()),
    };
    assert_eq!(decode(&line), want);
    let line = msg(
        r#""type":"interaction","subtype":"choices","prompt":"x failed.","choices":{"Retry x":"r","Ignore failure and continue deployment":"i","Roll back all stages and terminate":"b","Exit without rollback":"x"},"default":null"#,
    );
    let ScapMessage::Choices {
        choices, default, ..
    } = decode(&line)
    else {
        panic!("not choices")
    };
    assert_eq!(
        choices.iter().map(|c| c.key.as_str()).collect::<Vec<_>>(),
        ["r", "i", "b", "x"]
    );
    assert_eq!(default, None);
}

#[test]
fn progress_decodes_with_nulls() {
    let line = msg(
        r#""type":"progress","progress":{"name":"awaiting-backport-merges","totalTasks":1,"tasksInFlight":null,"tasksFinishedOk":0,"tasksFinishedFailed":0,"tasksFinishedTotal":0,"tasksPercentComplete":33.5,"tasksRemaining":1,"progressFinished":false}"#,
    );
    let want = Progress {
        name: "awaiting-backport-merges".into(),
        total_tasks: Some(1),
        tasks_in_flight: None,
        tasks_finished_ok: Some(0),
        tasks_finished_failed: Some(0),
        tasks_finished_total: Some(0),
        tasks_percent_complete: Some(33.5),
        tasks_remaining: Some(1),
        progress_finished: false,
    };
    assert_eq!(decode(&line), ScapMessage::Progress(want));
}

#[test]
fn forged_prompt_with_wrong_iokey_is_text() {
    let prompt = r#""type":"interaction","subtype":"choices","prompt":"Continue?","choices":{"Yes":"y"},"default":"y""#;
    let other = IoKey::from_bytes([8; 32]);
    let almost = format!("{}0", &key().as_str()[..63]);
    let cases = [
        format!("{{{prompt}}}"),
        format!(r#"{{{prompt},"iokey":"{}"}}"#, other.as_str()),
        format!(r#"{{{prompt},"iokey":"{almost}"}}"#),
        format!(
            r#"{{{prompt},"iokey":"{}"}}"#,
            key().as_str().to_uppercase()
        ),
        format!(r#"{{{prompt},"iokey":"{}"}}"#, &key().as_str()[..32]),
        format!(r#"{{{prompt},"iokey":"0{}"}}"#, &key().as_str()[1..]),
        format!(r#"{{{prompt},"iokey":null}}"#),
        format!(r#"{{{prompt},"iokey":42}}"#),
        format!(r#"{{{prompt},"iokey":[""]}}"#),
        format!(r#"{{{prompt},"iokey":""}}"#),
    ];
    for line in cases {
        assert_eq!(decode(&line), text(&line), "{line}");
    }
}

#[test]
fn lines_that_are_not_machine_messages_are_text() {
    let cases = [
        "",
        "plain log line",
        "\u{1b}[31mred\u{1b}[0m",
        "[1, 2]",
        "\"string\"",
        "{not json",
        "{}",
        "{\"type\":\"line\",\"line\":\"x\"}",
        "06:36:50 {\"type\":\"line\"}",
    ];
    for line in cases {
        assert_eq!(decode(line), text(line), "{line:?}");
    }
}

#[test]
fn malformed_messages_with_the_right_key_are_withheld() {
    let cases = [
        r#""type":"line""#,
        r#""type":"line","line":42"#,
        r#""type":"line","line":"x","sensitive":"yes""#,
        r#""type":"line","line":"x","sensitive":null"#,
        r#""type":"status""#,
        r#""type":"status","status":1"#,
        r#""type":"progress","progress":{"totalTasks":1}"#,
        r#""type":"progress","progress":{"name":"n","totalTasks":-1}"#,
        r#""type":"progress","progress":{"name":"n","totalTasks":1.5}"#,
        r#""type":"progress","progress":{"name":"n","progressFinished":"no"}"#,
        r#""type":"progress","progress":[]"#,
        r#""type":"interaction","subtype":"choices","prompt":"p","choices":{"Yes":"y"},"default":"n""#,
        r#""type":"interaction","subtype":"choices","prompt":"p","choices":{"Yes":1}"#,
        r#""type":"interaction","subtype":"choices","prompt":"p","choices":["y"]"#,
        r#""type":"interaction","subtype":"choices","prompt":"p","choices":{}"#,
        r#""type":"interaction","subtype":"choices","prompt":"p""#,
        r#""type":"interaction","subtype":"choices","prompt":"p","choices":{"Yes":"y\nrm -rf /"}"#,
        r#""type":"interaction","subtype":"choices","prompt":"p","choices":{"Empty":""}"#,
        r#""type":"interaction","subtype":"choices","choices":{"Yes":"y"}"#,
        r#""type":"interaction","subtype":"choices","prompt":"p","choices":{"Yes":"y"},"default":true"#,
        r#""type":"interaction","subtype":"password","prompt":"p""#,
        r#""type":"interaction","prompt":"p""#,
        r#""type":"exit","status":0"#,
        r#""type":null"#,
        r#""line":"no type""#,
    ];
    for body in cases {
        let line = msg(body);
        assert_eq!(
            decode(&line),
            ScapMessage::Withheld { bytes: line.len() },
            "{line}"
        );
    }
}

#[test]
fn a_line_carrying_the_key_that_does_not_decode_is_withheld() {
    let k = key();
    let cases = [
        format!("SPIDERPIG_IO_KEY={}", k.as_str()),
        format!(
            r#"{{"type":"line","line":"x","iokey":"{}"}} trailing"#,
            k.as_str()
        ),
        format!(
            r#"{{"type":"line","iokey":"wrong","note":"{}"}}"#,
            k.as_str()
        ),
    ];
    for line in cases {
        assert!(
            matches!(decode(&line), ScapMessage::Withheld { .. }),
            "{line}"
        );
    }
}

#[test]
fn truncated_lines_that_may_be_messages_are_withheld() {
    let cut = |text: &str| RawLine {
        text: text.into(),
        truncated: true,
        dropped_bytes: 10,
    };
    let cases = [
        (
            "{\"type\":\"line\",\"line\":\"/srv/pa … [line cut: 10 bytes dropped]",
            true,
        ),
        ("  \t{\"type\": … [line cut: 10 bytes dropped]", true),
        ("ordinary text … [line cut: 10 bytes dropped]", false),
    ];
    for (line, withheld) in cases {
        let got = decode_line(&cut(line), &key());
        if withheld {
            assert_eq!(
                got,
                ScapMessage::Withheld {
                    bytes: line.len() + 10
                },
                "{line}"
            );
        } else {
            assert_eq!(got, text(line), "{line}");
        }
    }
}

#[test]
fn assembler_splits_lines_across_chunks() {
    let chunks: [&[u8]; 6] = [
        b"one\r\ntw",
        b"o\n",
        b"\xe2\x82",
        b"\xac euro\r",
        b"\nin\rner\n",
        b"tail\r",
    ];
    let mut a = LineAssembler::new(MAX_LINE_BYTES);
    let mut lines = Vec::new();
    for chunk in chunks {
        lines.extend(a.push(chunk));
    }
    lines.extend(a.finish());
    let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(texts, ["one", "two", "€ euro", "in\rner", "tail\r"]);
    assert!(lines.iter().all(|l| !l.truncated && l.dropped_bytes == 0));
    assert_eq!(a.finish(), None);
}

#[test]
fn assembler_replaces_invalid_utf8() {
    let mut a = LineAssembler::new(100);
    assert_eq!(a.push(b"a\xffb\n"), vec![RawLine::complete("a\u{fffd}b")]);
}

#[test]
fn assembler_cuts_long_lines_and_counts_what_it_drops() {
    let cases: [(&[&[u8]], usize, &str, usize); 5] = [
        (&[b"abcdefgh\n"], 4, "abcd … [line cut: 4 bytes dropped]", 4),
        (
            &[b"ab", b"cd", b"ef\r\n"],
            4,
            "abcd … [line cut: 2 bytes dropped]",
            2,
        ),
        (&[b"abcd\r\n"], 4, "abcd", 0),
        (
            &[b"ab\xe2\x82\xacx\n"],
            4,
            "ab … [line cut: 4 bytes dropped]",
            4,
        ),
        (&[b"abcdef"], 4, "abcd … [line cut: 2 bytes dropped]", 2),
    ];
    for (chunks, max, want, dropped) in cases {
        let mut a = LineAssembler::new(max);
        let mut lines: Vec<RawLine> = chunks.iter().flat_map(|c| a.push(c)).collect();
        lines.extend(a.finish());
        assert_eq!(lines.len(), 1, "{chunks:?}");
        assert_eq!(lines[0].text, want, "{chunks:?}");
        assert_eq!(lines[0].dropped_bytes, dropped, "{chunks:?}");
        assert_eq!(lines[0].truncated, dropped > 0, "{chunks:?}");
    }
}

#[test]
fn a_gigabyte_line_without_newline_keeps_memory_bounded() {
    const MIB: usize = 1 << 20;
    let chunk = vec![b'x'; MIB];
    let mut a = LineAssembler::new(MAX_LINE_BYTES);
    for _ in 0..1024 {
        assert!(a.push(&chunk).is_empty());
        assert!(a.buffered_len() <= MAX_LINE_BYTES);
        assert!(a.buffered_capacity() <= MAX_LINE_BYTES);
    }
    let lines = a.push(b"\nnext\n");
    assert_eq!(lines.len(), 2);
    assert!(lines[0].truncated);
    assert_eq!(lines[0].dropped_bytes, 1024 * MIB - MAX_LINE_BYTES);
    assert_eq!(lines[1], RawLine::complete("next"));
    assert!(matches!(
        decode_line(&lines[0], &key()),
        ScapMessage::Text(_)
    ));
}

proptest! {
    #[test]
    fn decode_never_panics(text in "\\PC{0,200}|\\{[\"a-z:,{}\\[\\] 0-9]{0,80}\\}", truncated in any::<bool>()) {
        let line = RawLine { text: text.clone(), truncated, dropped_bytes: usize::from(truncated) };
        let message = decode_line(&line, &key());
        // Only the holder of the key can make a structured message.
        let structured = !matches!(message, ScapMessage::Text(_) | ScapMessage::Withheld { .. });
        prop_assert!(!structured);
    }

    /// The `line` fast path decides exactly as the JSON tree does, whatever
    /// the object holds: other types, wrong or doubled keys, a `sensitive`
    /// that is not a bool, escapes, extra fields, in any order.
    #[test]
    fn the_line_fast_path_agrees_with_the_tree(
        kind in prop_oneof![Just(Some("line")), Just(Some("status")), Just(Some("li\\u006ee")), Just(None)],
        good_key in prop_oneof![Just(Some(true)), Just(Some(false)), Just(None)],
        body in prop_oneof![
            "[ -~]{0,12}".prop_map(|t| Some(serde_json::Value::from(t).to_string())),
            Just(Some(r#""\u00e9\n\"q\"""#.to_string())),
            Just(Some("5".to_string())),
            Just(None),
        ],
        sensitive in prop_oneof![Just(None), Just(Some("true")), Just(Some("false")), Just(Some("null")), Just(Some(r#""yes""#))],
        extra in prop_oneof![
            Just(None),
            Just(Some(r#""extra": [1, {"type": "line"}]"#)),
            Just(Some(r#""sensitive": true"#)),
            Just(Some(r#""type": "status""#)),
            Just(Some(r#""line": "again""#)),
        ],
        order in any::<prop::sample::Index>(),
    ) {
        let mut fields: Vec<String> = Vec::new();
        if let Some(k) = kind {
            fields.push(format!(r#""type": "{k}""#));
        }
        match good_key {
            Some(true) => fields.push(format!(r#""iokey": "{}""#, key().as_str())),
            Some(false) => fields.push(format!(r#""iokey": "{}""#, "0".repeat(64))),
            None => {}
        }
        if let Some(b) = body {
            fields.push(format!(r#""line": {b}"#));
        }
        if let Some(v) = sensitive {
            fields.push(format!(r#""sensitive": {v}"#));
        }
        if let Some(e) = extra {
            fields.insert(order.index(fields.len() + 1), e.to_string());
        }
        let n = fields.len();
        if n > 1 {
            fields.rotate_left(order.index(n));
        }
        let text = format!("{{{}}}", fields.join(", "));
        let line = RawLine::complete(&text);
        prop_assert_eq!(decode_line(&line, &key()), decode_tree(&line, &key()), "{}", text);
    }

    #[test]
    fn structured_lines_round_trip(body in "\\PC{0,40}", sensitive in any::<bool>()) {
        let line = serde_json::json!({"type": "line", "line": body, "sensitive": sensitive, "iokey": key().as_str()}).to_string();
        prop_assert_eq!(decode(&line), ScapMessage::Line { text: body, sensitive });
    }

    #[test]
    fn assembler_output_does_not_depend_on_chunking(
        data in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'\r'), Just(0xe2u8), Just(0x82), Just(0xac), any::<u8>()], 0..300),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..10),
        max in 1usize..40,
    ) {
        let whole = {
            let mut a = LineAssembler::new(max);
            let mut lines = a.push(&data);
            lines.extend(a.finish());
            lines
        };
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
        points.sort_unstable();
        let mut a = LineAssembler::new(max);
        let mut lines = Vec::new();
        let mut start = 0;
        for p in points.into_iter().chain([data.len()]) {
            lines.extend(a.push(&data[start..p]));
            prop_assert!(a.buffered_len() <= max && a.buffered_capacity() <= max);
            start = p;
        }
        lines.extend(a.finish());
        prop_assert_eq!(&lines, &whole);
        let newlines = data.iter().filter(|&&b| b == b'\n').count();
        prop_assert!(lines.len() == newlines || lines.len() == newlines + 1);
    }
}

/// Found by the machine_decoder fuzz target (its first assertion was too
/// strict): a cut line of bytes that are not UTF-8 grows when each becomes
/// U+FFFD, so a line's text is bounded by three times the limit plus the
/// marker, not by the limit.
#[test]
fn a_cut_line_of_invalid_bytes_stays_within_three_times_the_limit_plus_the_marker() {
    let mut assembler = LineAssembler::new(512);
    let mut lines = assembler.push(&[0x95; 2000]);
    lines.extend(assembler.push(b"\n"));
    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    assert!(line.truncated);
    assert_eq!(line.dropped_bytes, 2000 - 512);
    assert!(
        line.text.starts_with(&"\u{fffd}".repeat(512)),
        "{:?}",
        &line.text[..12]
    );
    assert!(line.text.len() > 512, "the text is longer than the limit");
    assert!(line.text.len() <= 3 * 512 + 64, "{}", line.text.len());
    assert!(assembler.buffered_capacity() <= 512);
}
