//! Everything fake-scap writes and reads, in scap's two modes.
//!
//! - Log records are plain text on stdout, `HH:MM:SS message`, coloured by level
//!   when colour is on, in both modes: real scap logs through Python's `logging`
//!   to stdout, and only `output_line` (security-patch output, "Invalid choice"),
//!   status, progress and prompts become machine-mode messages. The recorded
//!   transcripts show it: only their sensitive lines carry a `sensitive` field,
//!   because scap's job runner records plain text lines without one.
//! - Machine mode (`SPIDERPIG_IO_KEY` set and not empty): each message is one line
//!   of JSON on stdout, written as Python's `json.dumps` writes it, ending in
//!   `"iokey": <key>`, flushed at once. After an interaction scap reads one line
//!   from stdin.
//! - Terminal mode: prompts are scap's terminal prompt texts on stdout (no
//!   newline), answers are read from stdin, status messages are not shown.
//!
//! Every write takes the `OUTPUT` lock and flushes, so the SIGINT thread can end
//! the process between two messages, never inside one.

use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

use crate::clock::hms_now;
use crate::outcome::{SCAP_VERSION, Stop};
use crate::prompts::Prompt;
use crate::pyjson::{Json, dumps};

static OUTPUT: Mutex<()> = Mutex::new(());
static COLOUR: AtomicBool = AtomicBool::new(false);

/// Python's `input()` has no limit; one MiB is far more than any answer.
const MAX_ANSWER_BYTES: u64 = 1 << 20;
const RESET: &str = "\u{1b}[0m";
const BEL: &str = "\u{7}";

fn output_lock() -> MutexGuard<'static, ()> {
    OUTPUT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Level {
    Info,
    Warning,
    Error,
}

impl Level {
    /// scap's `AnsiColorFormatter` colours.
    fn sgr(self) -> &'static str {
        match self {
            Level::Info => "32",
            Level::Warning => "33",
            Level::Error => "31",
        }
    }
}

pub struct Io {
    key: Option<String>,
    colour: bool,
    stdin: io::StdinLock<'static>,
}

impl Io {
    pub fn from_env() -> Io {
        let key = std::env::var("SPIDERPIG_IO_KEY")
            .ok()
            .filter(|k| !k.is_empty());
        // scap's `utils.should_colorize_output()`: stdout is a terminal, or
        // FORCE_COLOR is in the environment (the executor sets it).
        let colour = std::env::var_os("FORCE_COLOR").is_some() || io::stdout().is_terminal();
        COLOUR.store(colour, Ordering::SeqCst);
        Io {
            key,
            colour,
            stdin: io::stdin().lock(),
        }
    }

    /// The key of machine mode, or `None` in terminal mode.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    pub fn colour(&self) -> bool {
        self.colour
    }

    fn write_out(&self, text: &str) -> Result<(), Stop> {
        let _guard = output_lock();
        let mut out = io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()?;
        Ok(())
    }

    fn write_err(&self, text: &str) -> Result<(), Stop> {
        let _guard = output_lock();
        let mut err = io::stderr().lock();
        err.write_all(text.as_bytes())?;
        err.flush()?;
        Ok(())
    }

    /// One log record, as scap's console handler formats it. A message with
    /// newlines stays one record: its later lines carry no timestamp.
    pub fn log(&self, level: Level, message: &str) -> Result<(), Stop> {
        self.log_after(level, "", message)
    }

    /// A log record written right after `prefix` on the same line (the recordings
    /// have records that follow an ANSI reset left by `git am`).
    pub fn log_after(&self, level: Level, prefix: &str, message: &str) -> Result<(), Stop> {
        let ts = hms_now();
        if self.colour {
            self.write_out(&format!(
                "{prefix}\u{1b}[{}m{ts} {message}{RESET}\n",
                level.sgr()
            ))
        } else {
            self.write_out(&format!("{prefix}{ts} {message}\n"))
        }
    }

    /// Python's `print(text)`: a plain text line.
    pub fn print(&self, text: &str) -> Result<(), Stop> {
        self.write_out(&format!("{text}\n"))
    }

    /// A line of text that is not a log record and not a message (progress text
    /// goes to stderr, as scap's progress reporter writes it).
    pub fn print_err(&self, text: &str) -> Result<(), Stop> {
        self.write_err(&format!("{text}\n"))
    }

    /// scap's `output_line(line, sensitive)`.
    pub fn output_line(&self, line: &str, sensitive: bool) -> Result<(), Stop> {
        if self.key.is_none() {
            return self.print(line);
        }
        self.send(vec![
            ("type", Json::str("line")),
            ("line", Json::str(line)),
            ("sensitive", Json::Bool(sensitive)),
        ])
    }

    /// scap's `report_status`; terminal mode shows nothing.
    pub fn status(&self, status: Option<&str>) -> Result<(), Stop> {
        if self.key.is_none() {
            return Ok(());
        }
        self.send(vec![
            ("type", Json::str("status")),
            ("status", Json::opt_str(status)),
        ])
    }

    /// Sends a machine-mode message (`iokey` last, as scap's `send_message` adds
    /// it). Does nothing in terminal mode.
    pub fn send(&self, mut fields: Vec<(&'static str, Json)>) -> Result<(), Stop> {
        let Some(key) = &self.key else {
            return Ok(());
        };
        fields.push(("iokey", Json::str(key.clone())));
        self.write_out(&(dumps(&Json::obj(fields)) + "\n"))
    }

    /// scap's `prompt_choices`: asks until the answer is one of the keys. An empty
    /// answer means the default (or asks again when there is none); any other
    /// answer is reported as `Invalid choice: '...'` (through `output_line`, so a
    /// JSON `line` message in machine mode) and the prompt is sent again. End of
    /// input is Python's `EOFError`.
    pub fn choose(&mut self, prompt: &Prompt) -> Result<&'static str, Stop> {
        loop {
            if self.key.is_some() {
                self.send(prompt.to_json())?;
            } else {
                self.write_out(&prompt.terminal_text())?;
            }
            let answer = self.read_line()?;
            let answer = answer.trim();
            if answer.is_empty() {
                match prompt.default {
                    Some(default) => return Ok(default),
                    None => continue,
                }
            }
            if let Some((_, key)) = prompt.choices.iter().find(|(_, key)| *key == answer) {
                return Ok(key);
            }
            self.output_line(&format!("Invalid choice: {}", py_repr(answer)), false)?;
        }
    }

    /// scap's `input_line`: one line of free text, returned as typed (only the
    /// line ending removed).
    pub fn input_line(&mut self, prompt: &str) -> Result<String, Stop> {
        if self.key.is_some() {
            self.send(vec![
                ("type", Json::str("interaction")),
                ("subtype", Json::str("input_line")),
                ("prompt", Json::str(prompt)),
            ])?;
        } else {
            self.write_out(prompt)?;
        }
        self.read_line()
    }

    /// One line as Python's `input()` returns it.
    fn read_line(&mut self) -> Result<String, Stop> {
        let mut buf = Vec::new();
        let n = (&mut self.stdin)
            .take(MAX_ANSWER_BYTES)
            .read_until(b'\n', &mut buf)
            .map_err(|e| Stop::failed("OSError", e.to_string()))?;
        if n == 0 {
            return Err(Stop::failed("EOFError", "EOF when reading a line"));
        }
        if buf.ends_with(b"\n") {
            buf.pop();
            if buf.ends_with(b"\r") {
                buf.pop();
            }
        } else if n as u64 == MAX_ANSWER_BYTES {
            return Err(Stop::failed("ValueError", "answer line too long"));
        }
        String::from_utf8(buf).map_err(|e| {
            let at = e.utf8_error().valid_up_to();
            Stop::failed(
                "UnicodeDecodeError",
                format!(
                    "'utf-8' codec can't decode byte 0x{:02x} in position {at}",
                    e.as_bytes()[at]
                ),
            )
        })
    }

    /// Ends the run the way scap's `Application.run` does: the closing log record,
    /// then an ANSI reset (when colour is on) and, on failure, a BEL, neither
    /// followed by a newline. Returns the exit status.
    pub fn finish(&self, result: Result<(), Stop>) -> i32 {
        let code = match &result {
            Ok(()) => 0,
            Err(stop) => stop.exit_code(),
        };
        let closing = match result {
            Ok(()) => Ok(()),
            Err(Stop::Cancelled(message)) => self.log(Level::Info, &message),
            Err(Stop::Failed { kind, message }) => self.log(
                Level::Error,
                &format!("backport failed: <{kind}> {message} (scap version: {SCAP_VERSION})"),
            ),
            Err(Stop::Output(e)) => {
                // stdout is gone; stderr may still be read.
                let _ = writeln!(io::stderr(), "fake-scap: cannot write: {e}");
                return code;
            }
        };
        if closing.is_err() {
            return code;
        }
        let mut tail = String::new();
        if self.colour {
            tail.push_str(RESET);
        }
        if code != 0 {
            tail.push_str(BEL);
        }
        let _ = self.write_out(&tail);
        code
    }
}

/// Ends the process with `code` after SIGINT, between two messages: scap's
/// `handle_keyboard_interrupt` path (reset, BEL, exit 130). Never waits long for
/// the output lock: the main thread may be stuck writing to a full pipe.
pub fn exit_after_signal(code: i32) -> ! {
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        std::process::exit(code)
    });
    let deadline = Instant::now() + Duration::from_millis(200);
    let guard = loop {
        match OUTPUT.try_lock() {
            Ok(guard) => break Some(guard),
            Err(TryLockError::Poisoned(poisoned)) => break Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(TryLockError::WouldBlock) => break None,
        }
    };
    if guard.is_some() {
        let tail = if COLOUR.load(Ordering::SeqCst) {
            format!("{RESET}{BEL}")
        } else {
            BEL.to_string()
        };
        let mut out = io::stdout().lock();
        let _ = out.write_all(tail.as_bytes()).and_then(|()| out.flush());
    }
    // The guard is still held: nothing else is written before the exit.
    std::process::exit(code)
}

/// Python's `repr()` of a string, as scap prints an invalid answer.
pub fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::from(quote);
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x100 && c.is_control() => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::py_repr;

    #[test]
    fn repr_like_python() {
        assert_eq!(py_repr("z"), "'z'");
        assert_eq!(py_repr("it's"), "\"it's\"");
        assert_eq!(py_repr("a'\"b"), "'a\\'\"b'");
        assert_eq!(py_repr("\u{1b}[31m\\"), "'\\x1b[31m\\\\'");
    }
}
