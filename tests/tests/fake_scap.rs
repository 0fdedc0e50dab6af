//! fake-scap, driven the way spiderpig-executor drives scap: a cleared environment
//! with only the variables of SCAP.md, its own process group, stdout split into
//! lines and decoded with the policy crate, and only offered keys written back.
//!
//! These tests are the specification of the stand-in the other end-to-end tests
//! rely on: each scenario's prompts, answers and exit status (SCAP.md).

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::Value;
use spiderpig_policy::answer::{validate_choice, validate_input_line};
use spiderpig_policy::command::IoKey;
use spiderpig_policy::limits::MAX_LINE_BYTES;
use spiderpig_policy::machine::{LineAssembler, ScapMessage, decode_line};
use tempfile::TempDir;

const FAKE_SCAP: &str = env!("CARGO_BIN_EXE_fake-scap");
const USER: &str = "jdoe";
const WAIT: Duration = Duration::from_secs(10);

const CONFIRM: &str = "Backport the changes?";
const TESTSERVERS: &str = "Continue with deployment?";
const ALERT: &str = "undeployed by rollback";
const HTTPBB: &str = "Testservers check failed.";
const CANARY: &str = "Canary error check failed.";

// ---------------------------------------------------------------------------
// The driver
// ---------------------------------------------------------------------------

fn random_key() -> IoKey {
    let mut bytes = [0u8; 32];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("read /dev/urandom");
    IoKey::from_bytes(bytes)
}

/// How to start fake-scap.
struct Launch<'a> {
    args: &'a [&'a str],
    /// `None`: terminal mode.
    key: Option<IoKey>,
    settings: Option<&'a str>,
    ssh_auth_sock: bool,
}

impl<'a> Launch<'a> {
    fn machine(args: &'a [&'a str]) -> Self {
        Launch {
            args,
            key: Some(random_key()),
            settings: None,
            ssh_auth_sock: true,
        }
    }

    fn settings(mut self, json: &'a str) -> Self {
        self.settings = Some(json);
        self
    }

    fn start(self) -> Fake {
        let home = TempDir::new().expect("temp HOME");
        if let Some(json) = self.settings {
            std::fs::write(home.path().join("fake-scap.json"), json).expect("settings");
        }
        let mut cmd = Command::new(FAKE_SCAP);
        cmd.arg("backport")
            .args(self.args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", home.path())
            .env("LANG", "C.UTF-8")
            .env("SPIDERPIG_REAL_USER", USER)
            .env("FORCE_COLOR", "1")
            .current_dir(home.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        if self.ssh_auth_sock {
            cmd.env("SSH_AUTH_SOCK", home.path().join("agent.sock"));
        }
        if let Some(key) = &self.key {
            cmd.env("SPIDERPIG_IO_KEY", key.as_str());
        }
        let mut child = cmd.spawn().expect("start fake-scap");
        let stdin = child.stdin.take();
        let mut stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        // Terminal mode is decoded with a key fake-scap never saw: every line is text.
        let key = self.key.unwrap_or_else(random_key);
        let (tx, messages) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = LineAssembler::new(MAX_LINE_BYTES);
            let mut buf = [0u8; 16 * 1024];
            loop {
                let n = match stdout.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                for line in lines.push(&buf[..n]) {
                    let _ = tx.send(decode_line(&line, &key));
                }
            }
            if let Some(line) = lines.finish() {
                let _ = tx.send(decode_line(&line, &key));
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Fake {
            child,
            stdin,
            messages,
            stderr,
            seen: Vec::new(),
            home,
        }
    }
}

struct Fake {
    child: Child,
    stdin: Option<ChildStdin>,
    messages: Receiver<ScapMessage>,
    stderr: JoinHandle<String>,
    seen: Vec<ScapMessage>,
    home: TempDir,
}

/// Everything a run produced.
struct Transcript {
    messages: Vec<ScapMessage>,
    status: ExitStatus,
    stderr: String,
}

impl Fake {
    fn pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).expect("pid"))
    }

    fn home(&self) -> &Path {
        self.home.path()
    }

    /// The next message, `None` once stdout is closed.
    fn next(&mut self) -> Option<ScapMessage> {
        match self.messages.recv_timeout(WAIT) {
            Ok(msg) => {
                self.seen.push(msg.clone());
                Some(msg)
            }
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => panic!("fake-scap said nothing for {WAIT:?}"),
        }
    }

    /// Reads up to the next prompt.
    fn next_prompt(&mut self) -> ScapMessage {
        loop {
            match self.next() {
                Some(msg @ (ScapMessage::Choices { .. } | ScapMessage::InputLine { .. })) => {
                    return msg;
                }
                Some(_) => {}
                None => panic!(
                    "fake-scap ended before the next prompt; it said {:#?}",
                    self.seen
                ),
            }
        }
    }

    /// Reads up to the next progress message.
    fn next_progress(&mut self) {
        loop {
            match self.next() {
                Some(ScapMessage::Progress(_)) => return,
                Some(_) => {}
                None => panic!(
                    "fake-scap ended before reporting progress; it said {:#?}",
                    self.seen
                ),
            }
        }
    }

    /// Writes one line to stdin, unchecked.
    fn send_raw(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .expect("write answer");
        stdin.flush().expect("flush answer");
    }

    /// Answers the next prompt, which must contain `want`, the way the executor
    /// does: only a key that the prompt offered, only a valid free-text line.
    fn answer(&mut self, want: &str, answer: &str) {
        match self.next_prompt() {
            ScapMessage::Choices {
                prompt, choices, ..
            } => {
                assert!(
                    prompt.contains(want),
                    "expected a prompt with {want:?}, got {prompt:?}"
                );
                validate_choice(&choices, answer).expect("the answer is an offered key");
            }
            ScapMessage::InputLine { prompt } => {
                assert!(
                    prompt.contains(want),
                    "expected a prompt with {want:?}, got {prompt:?}"
                );
                validate_input_line(answer).expect("a valid input line");
            }
            _ => unreachable!(),
        }
        self.send_raw(answer);
    }

    /// Reads to the end and waits for the exit.
    fn finish(mut self) -> Transcript {
        while self.next().is_some() {}
        drop(self.stdin.take());
        let status = self.child.wait().expect("wait");
        Transcript {
            messages: self.seen,
            status,
            stderr: self.stderr.join().expect("stderr reader"),
        }
    }

    fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

/// Runs `args` in machine mode, answering prompts in order.
fn play(args: &[&str], answers: &[(&str, &str)]) -> Transcript {
    let mut fake = Launch::machine(args).start();
    for (want, answer) in answers {
        fake.answer(want, answer);
    }
    let t = fake.finish();
    // No prompt was left unanswered.
    let prompts: Vec<_> = t.prompts().collect();
    assert_eq!(prompts.len(), answers.len(), "prompts: {prompts:#?}");
    t
}

impl Transcript {
    fn code(&self) -> Option<i32> {
        self.status.code()
    }

    fn texts(&self) -> impl Iterator<Item = &str> {
        self.messages.iter().filter_map(|m| match m {
            ScapMessage::Text(t) => Some(t.as_str()),
            _ => None,
        })
    }

    fn has_text(&self, needle: &str) -> bool {
        self.texts().any(|t| t.contains(needle))
    }

    fn lines(&self, sensitive: bool) -> Vec<&str> {
        self.messages
            .iter()
            .filter_map(|m| match m {
                ScapMessage::Line { text, sensitive: s } if *s == sensitive => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    fn statuses(&self) -> Vec<Option<&str>> {
        self.messages
            .iter()
            .filter_map(|m| match m {
                ScapMessage::Status(s) => Some(s.as_deref()),
                _ => None,
            })
            .collect()
    }

    fn prompts(&self) -> impl Iterator<Item = &ScapMessage> {
        self.messages.iter().filter(|m| {
            matches!(
                m,
                ScapMessage::Choices { .. } | ScapMessage::InputLine { .. }
            )
        })
    }

    fn position(&self, needle: &str) -> usize {
        self.texts()
            .position(|t| t.contains(needle))
            .unwrap_or_else(|| panic!("no text line with {needle:?}"))
    }

    fn withheld(&self) -> usize {
        self.messages
            .iter()
            .filter(|m| matches!(m, ScapMessage::Withheld { .. }))
            .count()
    }
}

fn keys(msg: &ScapMessage) -> Vec<&str> {
    match msg {
        ScapMessage::Choices { choices, .. } => choices.iter().map(|c| c.key.as_str()).collect(),
        _ => vec![],
    }
}

#[path = "fake_scap/flows.rs"]
mod flows;
#[path = "fake_scap/output.rs"]
mod output;
