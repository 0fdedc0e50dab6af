//! Splitting scap's output into lines with bounded memory; trust level: input is
//! untrusted: scap's stdout and stderr carry the output of the changes it deploys.

/// One line of output: `\n` removed (and one `\r` right before it), decoded as UTF-8
/// with invalid bytes replaced. When the line was longer than the assembler's limit,
/// `truncated` is set, `dropped_bytes` counts what was dropped and `text` ends with a
/// visible marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLine {
    pub text: String,
    pub truncated: bool,
    pub dropped_bytes: usize,
}

impl RawLine {
    /// A complete line that was not cut.
    pub fn complete(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            truncated: false,
            dropped_bytes: 0,
        }
    }
}

/// Turns chunks of bytes, cut anywhere, into [`RawLine`]s. Never holds more than
/// `max_bytes` of a line: the rest of an over-long line is dropped and counted.
#[derive(Debug)]
pub struct LineAssembler {
    max_bytes: usize,
    buf: Vec<u8>,
    dropped: usize,
    last_dropped_was_cr: bool,
}

impl LineAssembler {
    /// An assembler keeping at most `max_bytes` of each line
    /// (normally [`crate::limits::MAX_LINE_BYTES`]).
    pub fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            buf: Vec::new(),
            dropped: 0,
            last_dropped_was_cr: false,
        }
    }

    /// Adds a chunk and returns the lines it completed, in order.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<RawLine> {
        let mut lines = Vec::new();
        let mut rest = chunk;
        // `contains` on bytes is a memchr, so long chunks without a newline are cheap.
        while rest.contains(&b'\n') {
            let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            self.take(&rest[..end]);
            lines.push(self.end_line(true));
            rest = rest.get(end + 1..).unwrap_or_default();
        }
        self.take(rest);
        lines
    }

    /// The last line if the output did not end with a newline; resets the assembler.
    pub fn finish(&mut self) -> Option<RawLine> {
        if self.buf.is_empty() && self.dropped == 0 {
            return None;
        }
        Some(self.end_line(false))
    }

    /// Bytes of the current, unfinished line held in memory (never more than
    /// `max_bytes`).
    pub fn buffered_len(&self) -> usize {
        self.buf.len()
    }

    /// Bytes allocated for the current line (never more than `max_bytes`).
    pub fn buffered_capacity(&self) -> usize {
        self.buf.capacity()
    }

    fn take(&mut self, bytes: &[u8]) {
        let keep = bytes.len().min(self.max_bytes - self.buf.len());
        if keep > 0 {
            self.reserve_bounded(keep);
            self.buf.extend_from_slice(&bytes[..keep]);
        }
        if keep < bytes.len() {
            self.dropped = self.dropped.saturating_add(bytes.len() - keep);
            self.last_dropped_was_cr = bytes.last() == Some(&b'\r');
        }
    }

    /// Grows the buffer geometrically, but never beyond `max_bytes`.
    fn reserve_bounded(&mut self, additional: usize) {
        let needed = self.buf.len() + additional;
        if needed > self.buf.capacity() {
            let target = needed
                .max(self.buf.capacity() * 2)
                .max(256)
                .min(self.max_bytes);
            self.buf.reserve_exact(target - self.buf.len());
        }
    }

    fn end_line(&mut self, at_newline: bool) -> RawLine {
        if at_newline {
            if self.dropped > 0 {
                if self.last_dropped_was_cr {
                    self.dropped -= 1;
                }
            } else if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
        }
        let mut dropped = self.dropped;
        let truncated = dropped > 0;
        let mut end = self.buf.len();
        if truncated {
            // The cut may have split a character: drop its first bytes too.
            let tail = incomplete_utf8_tail(&self.buf);
            end -= tail;
            dropped += tail;
        }
        let mut text = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        if truncated {
            text.push_str(&format!(" … [line cut: {dropped} bytes dropped]"));
        }
        self.buf.clear();
        self.dropped = 0;
        self.last_dropped_was_cr = false;
        RawLine {
            text,
            truncated,
            dropped_bytes: dropped,
        }
    }
}

/// How many bytes at the end of `bytes` start a UTF-8 character that is not
/// complete (0 to 3).
fn incomplete_utf8_tail(bytes: &[u8]) -> usize {
    for back in 1..=bytes.len().min(3) {
        let b = bytes[bytes.len() - back];
        if b & 0xC0 == 0x80 {
            continue; // a continuation byte: look further back for the lead byte
        }
        let len = match b {
            0xF0.. => 4,
            0xE0.. => 3,
            0xC0.. => 2,
            _ => 1,
        };
        return if len > back { back } else { 0 };
    }
    0
}
