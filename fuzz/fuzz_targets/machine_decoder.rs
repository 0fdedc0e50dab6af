//! scap's stdout, cut into chunks anywhere: the line assembler keeps its
//! buffer and its lines bounded, and the decoder never panics and never shows the I/O key
//! as text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spiderpig_policy::{IoKey, LineAssembler, ScapMessage, decode_line};

/// Small, so that long lines are common in the corpus.
const MAX_BYTES: usize = 512;
/// The longest text a line can become: each kept byte that is not UTF-8
/// turns into U+FFFD (3 bytes), and a cut line gets a marker
/// (` … [line cut: N bytes dropped]`).
const MAX_TEXT: usize = 3 * MAX_BYTES + 64;

fuzz_target!(|input: (Vec<u8>, Vec<u8>)| {
    let (stream, cuts) = input;
    let key = IoKey::from_bytes([7; 32]);
    let mut assembler = LineAssembler::new(MAX_BYTES);
    let mut lines = Vec::new();
    let mut start = 0;
    for cut in cuts {
        let end = (start + usize::from(cut)).min(stream.len());
        lines.extend(assembler.push(&stream[start..end]));
        assert!(
            assembler.buffered_len() <= MAX_BYTES,
            "buffer over its bound"
        );
        start = end;
    }
    lines.extend(assembler.push(&stream[start..]));
    lines.extend(assembler.finish());
    for line in &lines {
        assert!(line.text.len() <= MAX_TEXT, "a line longer than the bound");
        if let ScapMessage::Text(text) = decode_line(line, &key) {
            assert!(!text.contains(key.as_str()), "the key shown as text");
        }
    }
});
