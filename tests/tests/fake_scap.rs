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

// ---------------------------------------------------------------------------
// success, cancel, rollback
// ---------------------------------------------------------------------------

#[test]
fn success_runs_every_stage_exits_0_and_marks_patch_output_sensitive() {
    let t = play(&["12345"], &[(CONFIRM, "y"), (TESTSERVERS, "y")]);
    assert_eq!(t.code(), Some(0), "{}", t.stderr);
    assert_eq!(t.withheld(), 0);

    // Six patch lines per live version, all marked; no patch path as plain text.
    let sensitive = t.lines(true);
    assert_eq!(sensitive.len(), 12, "{sensitive:#?}");
    assert!(sensitive.iter().all(|l| l.contains("/srv/patches/")));
    assert!(
        sensitive
            .iter()
            .any(|l| l.starts_with("[APPLIED] /srv/patches/1.44.0-wmf.8/"))
    );
    assert!(!t.has_text("/srv/patches/"));

    // Log records: timestamped, coloured as scap colours them.
    let voting = t
        .texts()
        .find(|l| l.contains("Voting on 1 change(s)"))
        .expect("voting");
    assert!(
        voting.starts_with("\u{1b}[32m") && voting.ends_with("\u{1b}[0m"),
        "{voting:?}"
    );
    let ts = &voting[5..13];
    assert!(
        ts.as_bytes()
            .iter()
            .enumerate()
            .all(|(i, b)| if i % 3 == 2 {
                *b == b':'
            } else {
                b.is_ascii_digit()
            }),
        "{ts}"
    );

    // The stages in order, the SAL message with the deployer's name.
    let order = [
        "Started scap prep auto",
        "Started scap sync-world: Backport for [[gerrit:12345|",
        "Started sync-testservers-k8s",
        "Finished check-testservers",
        &format!("{USER}: Backport for [[gerrit:12345|"),
        "Waiting 20 seconds for canary traffic...",
        "Logstash checker Counted 9 error(s) in the last 20 seconds. OK.",
        "Started sync-prod-k8s",
        "Finished scap sync-world: Backport for",
    ];
    let positions: Vec<usize> = order.iter().map(|n| t.position(n)).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");

    let statuses = t.statuses();
    for s in [
        "Sync k8s testservers",
        "Checking testservers",
        "Sync k8s canaries",
        "Sync baremetal production",
    ] {
        assert!(statuses.contains(&Some(s)), "no status {s:?}");
    }
    let bars: Vec<_> = t
        .messages
        .iter()
        .filter_map(|m| match m {
            ScapMessage::Progress(p) if p.progress_finished => Some(p.name.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        bars.contains(&"awaiting-backport-merges") && bars.contains(&"K8s deployment progress"),
        "{bars:?}"
    );
    assert!(
        t.stderr
            .contains("K8s deployment progress: 100% (ok: 20; fail: 0; left: 0)"),
        "{}",
        t.stderr
    );

    // scap's last output: an ANSI reset without a newline, and no BEL on success.
    assert_eq!(t.texts().last(), Some("\u{1b}[0m"));
}

#[test]
fn prompts_carry_scaps_choices_in_order_with_their_defaults() {
    let t = play(&["42"], &[(CONFIRM, "y"), (TESTSERVERS, "y")]);
    let prompts: Vec<&ScapMessage> = t.prompts().collect();
    let ScapMessage::Choices {
        prompt,
        choices,
        default,
    } = prompts[0]
    else {
        panic!()
    };
    assert!(
        prompt.starts_with("The following changes are scheduled for backport:\n┌"),
        "{prompt}"
    );
    assert!(
        prompt.contains("│ 42 │") && prompt.ends_with("\nBackport the changes?"),
        "{prompt}"
    );
    assert_eq!(
        (choices[0].label.as_str(), choices[1].label.as_str()),
        ("Yes", "No")
    );
    assert_eq!(keys(prompts[0]), ["y", "n"]);
    assert_eq!(default.as_deref(), Some("n"));
    let ScapMessage::Choices {
        prompt,
        choices,
        default,
    } = prompts[1]
    else {
        panic!()
    };
    assert!(prompt.starts_with(
        "Changes synced to the testservers (see https://wikitech.wikimedia.org/wiki/Mwdebug)\n"
    ));
    assert_eq!(choices[0].label, "Yes, continue with deployment");
    assert_eq!(choices[1].label, "No, roll back deployment and terminate");
    assert_eq!(default.as_deref(), Some("n"));
}

#[test]
fn n_at_the_confirmation_cancels_and_exits_0() {
    let t = play(&["12345"], &[(CONFIRM, "n")]);
    assert_eq!(t.code(), Some(0));
    assert!(t.has_text("Backport cancelled"));
    assert!(!t.has_text("Voting on"), "nothing was approved");
}

#[test]
fn n_at_the_test_server_prompt_rolls_back_then_alerts_and_exits_1() {
    let t = play(
        &["12345"],
        &[(CONFIRM, "y"), (TESTSERVERS, "n"), (ALERT, "a")],
    );
    assert_eq!(t.code(), Some(1));
    assert!(t.has_text("Rolling back stage testservers"));
    assert!(!t.has_text("Started sync-canaries-k8s"));
    assert!(t.has_text("backport failed: <CalledProcessError>"));
    let alert = t.prompts().last().expect("alert");
    assert_eq!(keys(alert), ["a"]);
    // A failure ends with a reset and a BEL, no newline.
    assert_eq!(t.texts().last(), Some("\u{1b}[0m\u{7}"));
}

// ---------------------------------------------------------------------------
// failed checks
// ---------------------------------------------------------------------------

#[test]
fn httpbb_failure_offers_retry_ignore_rollback_exit() {
    let retry = play(
        &["12001"],
        &[(CONFIRM, "y"), (HTTPBB, "r"), (TESTSERVERS, "y")],
    );
    assert_eq!(retry.code(), Some(0));
    assert!(retry.has_text("Check 'check_testservers_k8s-1_of_1' failed:"));
    assert!(retry.has_text("Retrying testservers check"));
    let failed = retry.prompts().nth(1).expect("failed-check prompt");
    assert_eq!(keys(failed), ["r", "i", "b", "x"]);
    let ScapMessage::Choices {
        prompt,
        choices,
        default,
    } = failed
    else {
        panic!()
    };
    assert_eq!(
        prompt,
        "Testservers check failed.\n\nWhat do you want to do?"
    );
    assert_eq!(choices[0].label, "Retry testservers check");
    assert_eq!(*default, None);

    let ignore = play(
        &["12001"],
        &[(CONFIRM, "y"), (HTTPBB, "i"), (TESTSERVERS, "y")],
    );
    assert_eq!(ignore.code(), Some(0));

    let back = play(&["12001"], &[(CONFIRM, "y"), (HTTPBB, "b"), (ALERT, "a")]);
    assert_eq!(back.code(), Some(1));
    assert!(back.has_text("Rolling back stage testservers"));

    let exit = play(&["12001"], &[(CONFIRM, "y"), (HTTPBB, "x")]);
    assert_eq!(exit.code(), Some(1));
    assert!(!exit.has_text("Rolling back"));
    assert!(exit.has_text("backport failed:"));
}

#[test]
fn canary_spike_logs_the_errors_and_rolls_back_every_stage() {
    let back = play(
        &["77002"],
        &[
            (CONFIRM, "y"),
            (TESTSERVERS, "y"),
            (CANARY, "b"),
            (ALERT, "a"),
        ],
    );
    assert_eq!(back.code(), Some(1));
    assert!(back.has_text(
        "Logstash checker Counted 57 error(s) in the last 20 seconds. The threshold is 10."
    ));
    assert!(back.has_text("Top 5 errors:"));
    assert!(
        back.position("Rolling back stage canaries")
            < back.position("Rolling back stage testservers")
    );
    assert!(!back.has_text("Started sync-prod-k8s"));

    let ignore = play(
        &["77002"],
        &[(CONFIRM, "y"), (TESTSERVERS, "y"), (CANARY, "i")],
    );
    assert_eq!(ignore.code(), Some(0));
    assert!(ignore.has_text("Finished scap sync-world"));
}

// ---------------------------------------------------------------------------
// merge failures, revert, l10n warning
// ---------------------------------------------------------------------------

#[test]
fn merge_failures_exit_1() {
    let rebase = play(&["12003"], &[(CONFIRM, "y")]);
    assert_eq!(rebase.code(), Some(1));
    assert!(
        rebase
            .has_text("Gerrit could not merge the change '12003' as is and could require a rebase")
    );
    let veto = play(&["12004"], &[(CONFIRM, "y")]);
    assert_eq!(veto.code(), Some(1));
    assert!(veto.has_text("has been rejected (Code-Review -2)"));
    assert!(!veto.has_text("Started scap prep auto"));
}

#[test]
fn revert_asks_for_a_reason_then_backports_the_reverts() {
    let t = play(
        &["--revert", "12345"],
        &[
            ("Please supply a reason for revert", "broke the main page"),
            (CONFIRM, "y"),
            (TESTSERVERS, "y"),
        ],
    );
    assert_eq!(t.code(), Some(0));
    let ScapMessage::InputLine { prompt } = t.prompts().next().expect("reason prompt") else {
        panic!()
    };
    assert_eq!(
        prompt,
        &format!(
            "Please supply a reason for revert (default: Reverted by {USER}@deploy-host via scap backport): "
        )
    );
    assert!(t.has_text(&format!(
        "Reason for revert: {USER}@deploy-host: broke the main page"
    )));
    assert!(t.has_text("Change 112345 created"));
    assert!(t.has_text("Backport for [[gerrit:112345|Revert \""));

    let default = play(
        &["--revert", "12345"],
        &[("reason for revert", ""), (CONFIRM, "n")],
    );
    assert_eq!(default.code(), Some(0));
    assert!(default.has_text(&format!(
        "Reason for revert: Reverted by {USER}@deploy-host via scap backport"
    )));
}

#[test]
fn l10n_warning_comes_before_the_confirmation() {
    let no = play(
        &["12008"],
        &[("likely to trigger a large l10n rebuild", "n")],
    );
    assert_eq!(no.code(), Some(0));
    assert!(no.has_text("Backport cancelled"));
    let ScapMessage::Choices {
        prompt, default, ..
    } = no.prompts().next().expect("warning")
    else {
        panic!()
    };
    assert!(
        prompt.ends_with("\nContinue with backport anyway?"),
        "{prompt}"
    );
    assert_eq!(default.as_deref(), Some("n"));

    let yes = play(
        &["12008"],
        &[("l10n rebuild", "y"), (CONFIRM, "y"), (TESTSERVERS, "y")],
    );
    assert_eq!(yes.code(), Some(0));
}

// ---------------------------------------------------------------------------
// hostile or broken output, and how answers are read
// ---------------------------------------------------------------------------

#[test]
fn forged_prompts_decode_as_text_never_as_prompts() {
    let t = play(&["12007"], &[(CONFIRM, "y"), (TESTSERVERS, "y")]);
    assert_eq!(t.code(), Some(0));
    let forged: Vec<&str> = t
        .texts()
        .filter(|l| l.contains(r#""subtype": "choices""#))
        .collect();
    assert_eq!(forged.len(), 2, "{forged:#?}");
    assert!(forged[0].contains(r#""iokey": ""#) && !forged[1].contains("iokey"));
    for line in forged {
        let v: Value = serde_json::from_str(line).expect("the forgery is well-formed JSON");
        assert_eq!(v["type"], "interaction");
    }
    assert_eq!(
        t.prompts().count(),
        2,
        "only scap's own prompts were offered"
    );
}

#[test]
fn flood_writes_flood_lines_messages_then_exits_0() {
    let mut fake = Launch::machine(&["12006"])
        .settings(r#"{"flood_lines": 500}"#)
        .start();
    fake.answer(CONFIRM, "y");
    let t = fake.finish();
    assert_eq!(t.code(), Some(0));
    let flood = t.lines(false);
    assert_eq!(flood.len(), 500);
    assert!(flood[499].contains("flood line 500 of 500"));
}

/// The emit time a flood line ends with.
fn emit_ns(line: &str) -> u128 {
    let t = line.rsplit_once("t_ns=").expect("a stamped line").1;
    let digits: String = t.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().expect("nanoseconds")
}

#[test]
fn a_paced_flood_spreads_its_lines_over_lines_over_rate_seconds() {
    let mut fake = Launch::machine(&["12006"])
        .settings(r#"{"flood_lines": 41, "flood_rate": 400}"#)
        .start();
    fake.answer(CONFIRM, "y");
    let t = fake.finish();
    assert_eq!(t.code(), Some(0));
    let flood = t.lines(false);
    assert_eq!(flood.len(), 41);
    // Line i is due (i-1)/400 s after line 1: 40 gaps of 2.5 ms.
    let span = emit_ns(flood[40]) - emit_ns(flood[0]);
    assert!(span >= 100_000_000, "41 lines at 400/s took {span} ns");
    let first_half = emit_ns(flood[20]) - emit_ns(flood[0]);
    assert!(
        first_half >= 50_000_000,
        "the first 21 took {first_half} ns"
    );
}

#[test]
fn an_invalid_answer_is_reported_and_the_prompt_sent_again() {
    let mut fake = Launch::machine(&["12345"]).start();
    let first = fake.next_prompt();
    fake.send_raw("z");
    assert_eq!(
        fake.next(),
        Some(ScapMessage::Line {
            text: "Invalid choice: 'z'".into(),
            sensitive: false
        })
    );
    assert_eq!(fake.next_prompt(), first);
    // An empty answer takes the default ("n": cancel).
    fake.send_raw("");
    let t = fake.finish();
    assert_eq!(t.code(), Some(0));
    assert!(t.has_text("Backport cancelled"));
}

#[test]
fn end_of_input_at_a_prompt_fails() {
    let mut fake = Launch::machine(&["12345"]).start();
    fake.next_prompt();
    drop(fake.stdin.take());
    let t = fake.finish();
    assert_eq!(t.code(), Some(1));
    assert!(t.has_text("backport failed: <EOFError> EOF when reading a line"));
}

#[test]
fn hang_never_exits_by_itself_and_dies_with_its_process_group() {
    let mut fake = Launch::machine(&["12005"]).start();
    fake.answer(CONFIRM, "y");
    // It got as far as waiting for the merge, then stopped.
    fake.next_progress();
    assert_eq!(
        fake.wait_exit(Duration::from_millis(500)),
        None,
        "hang exited by itself"
    );
    killpg(fake.pid(), Signal::SIGTERM).expect("terminate the process group");
    let status = fake.wait_exit(WAIT).expect("dead after SIGTERM");
    assert_eq!(status.signal(), Some(libc::SIGTERM));

    let mut again = Launch::machine(&["12005"]).start();
    again.answer(CONFIRM, "y");
    again.next_progress();
    killpg(again.pid(), Signal::SIGKILL).expect("kill the process group");
    let status = again.wait_exit(WAIT).expect("dead after SIGKILL");
    assert_eq!(status.signal(), Some(libc::SIGKILL));
}

#[test]
fn sigint_exits_130_while_waiting_at_a_prompt_or_hanging() {
    let mut fake = Launch::machine(&["12345"]).start();
    fake.next_prompt();
    killpg(fake.pid(), Signal::SIGINT).expect("SIGINT");
    assert_eq!(
        fake.wait_exit(Duration::from_secs(2))
            .and_then(|s| s.code()),
        Some(130)
    );
    let t = fake.finish();
    assert_eq!(t.texts().last(), Some("\u{1b}[0m\u{7}"));

    let mut hung = Launch::machine(&["12005"]).start();
    hung.answer(CONFIRM, "y");
    hung.next_progress();
    killpg(hung.pid(), Signal::SIGINT).expect("SIGINT");
    assert_eq!(
        hung.wait_exit(Duration::from_secs(2))
            .and_then(|s| s.code()),
        Some(130)
    );
}

// ---------------------------------------------------------------------------
// terminal mode, arguments, the invocation record
// ---------------------------------------------------------------------------

#[test]
fn without_a_key_prompts_are_terminal_text_and_nothing_is_json() {
    let mut fake = Launch {
        args: &["12345"],
        key: None,
        settings: None,
        ssh_auth_sock: true,
    }
    .start();
    fake.send_raw("y");
    fake.send_raw("y");
    let t = fake.finish();
    assert_eq!(t.code(), Some(0), "{}", t.stderr);
    assert!(t.messages.iter().all(|m| matches!(m, ScapMessage::Text(_))));
    assert!(!t.has_text("iokey") && !t.texts().any(|l| l.starts_with('{')));
    assert!(t.has_text("Backport the changes? [y/N]: "));
    assert!(t.has_text("[y] Yes, continue with deployment"));
    assert!(t.has_text("\u{1b}[1m[n] No, roll back deployment and terminate\u{1b}[0m"));
    assert!(
        t.has_text("Applying patch /srv/patches/"),
        "sensitive output is plain text here"
    );
    assert!(t.has_text("Finished scap sync-world"));
}

#[test]
fn bad_arguments_fail_like_scap() {
    let bad_number = play(&["12a"], &[]);
    assert_eq!(bad_number.code(), Some(1));
    assert!(bad_number.has_text(
        "backport failed: <InvalidChangeException> '12a' is not a valid change number or URL"
    ));

    let unknown = play(&["--bogus", "1"], &[]);
    assert_eq!(unknown.code(), Some(2));
    assert!(
        unknown.stderr.contains("extra arguments found: --bogus"),
        "{}",
        unknown.stderr
    );

    let yes = play(&["--yes", "1"], &[]);
    assert_eq!(yes.code(), Some(2), "SpiderPig must never pass --yes");

    let no_agent = Launch {
        args: &["42"],
        key: Some(random_key()),
        settings: None,
        ssh_auth_sock: false,
    }
    .start()
    .finish();
    assert_eq!(no_agent.code(), Some(1));
    assert!(no_agent.has_text("backport requires SSH agent forwarding"));
}

#[test]
fn the_invocation_record_shows_argv_env_and_process_group() {
    let launch = Launch::machine(&["--revert", "42"]).settings(r#"{"record_invocations": true}"#);
    let key = launch.key.clone().expect("key");
    let mut fake = launch.start();
    let pid = fake.pid();
    fake.next_prompt();
    let record =
        std::fs::read_to_string(fake.home().join("fake-scap-invocations.jsonl")).expect("record");
    drop(fake.stdin.take());
    fake.finish();

    let lines: Vec<&str> = record.lines().collect();
    assert_eq!(lines.len(), 1);
    let rec: Value = serde_json::from_str(lines[0]).expect("JSON");
    assert_eq!(
        rec["argv"],
        serde_json::json!([FAKE_SCAP, "backport", "--revert", "42"])
    );
    let env = rec["env"].as_object().expect("env");
    let names: Vec<&str> = env.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "FORCE_COLOR",
            "HOME",
            "LANG",
            "PATH",
            "SPIDERPIG_IO_KEY",
            "SPIDERPIG_REAL_USER",
            "SSH_AUTH_SOCK"
        ]
    );
    assert_eq!(env["SPIDERPIG_IO_KEY"], key.as_str());
    assert_eq!(rec["pid"], pid.as_raw());
    assert_eq!(rec["pgid"], pid.as_raw(), "its own process group");
    assert_eq!(rec["stdin_is_pipe"], true);
    assert_eq!(rec["stdin_is_tty"], false);
    assert_eq!(rec["sigint_ignored"], false);
}

#[test]
fn help_lists_every_scenario() {
    let out = Command::new(FAKE_SCAP)
        .args(["backport", "--help"])
        .env_clear()
        .output()
        .expect("run");
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).expect("UTF-8");
    for name in [
        "httpbb-failure",
        "canary-spike",
        "needs-rebase",
        "code-review-2",
        "hang",
        "flood",
        "forged-prompt",
        "l10n-warning",
        "success",
    ] {
        assert!(help.contains(name), "{name} missing from --help");
    }
}
