//! The runner against real processes: the project's `fake-scap` (which speaks
//! scap's machine mode and plays scenarios chosen by change number), `/bin/sh`
//! scripts for the edge cases fake-scap does not play, and `sleep`.
//!
//! fake-scap belongs to another package (`spiderpig-tests`), so Cargo does not
//! build it for these tests and `CARGO_BIN_EXE_fake-scap` does not exist here.
//! The tests look for it beside their own binary's directory
//! (`<target>/debug/fake-scap`, as these run from `<target>/debug/deps/`) and,
//! when it is missing, build it with `cargo build -p spiderpig-tests --bin
//! fake-scap`. Build the workspace first (`cargo build --workspace`) so that the
//! binary is current.
//!
//! Nothing here sleeps to wait for a result: every wait is for an event, with a
//! time-out that only fails the test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use spiderpig_executor::ExecutorError;
use spiderpig_executor::clock::SystemClock;
use spiderpig_executor::runner::{
    self, Answer, ExitInfo, LogKind, OrphanOutcome, PromptKind, PromptSpec, RunHandle, RunSpec,
    RunnerEvent,
};
use spiderpig_policy::{
    ChangeNumber, IoKey, JobId, PLACEHOLDER, PolicyError, RedactionPatterns, ScapCommand,
    ScapEnvironment, ScapPath, Stage, Username, validate_choice, validate_input_line,
};
use tempfile::TempDir;

/// Long enough for a debug build on a busy machine; reaching it fails the test.
const WAIT: Duration = Duration::from_secs(60);

/// The fake-scap binary, built if missing.
fn fake_scap() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test binary's path");
        // <target>/<profile>/deps/runner-<hash>
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("<target>/<profile>");
        let bin = profile_dir.join("fake-scap");
        if !bin.exists() {
            let target_dir = profile_dir.parent().expect("<target>");
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let mut build = StdCommand::new(cargo);
            build.args(["build", "-p", "spiderpig-tests", "--bin", "fake-scap"]);
            if profile_dir.file_name().is_some_and(|n| n == "release") {
                build.arg("--release");
            }
            let status = build
                .env("CARGO_TARGET_DIR", target_dir)
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .expect("running cargo to build fake-scap");
            assert!(status.success(), "building fake-scap failed");
        }
        assert!(bin.exists(), "fake-scap not found at {}", bin.display());
        bin
    })
}

/// A temporary HOME (with fake-scap's settings) and working directory.
struct Sandbox {
    home: TempDir,
    work: TempDir,
}

impl Sandbox {
    fn new(settings: serde_json::Value) -> Self {
        let sandbox = Self {
            home: TempDir::new().unwrap(),
            work: TempDir::new().unwrap(),
        };
        std::fs::write(
            sandbox.home.path().join("fake-scap.json"),
            settings.to_string(),
        )
        .unwrap();
        sandbox
    }

    /// A sandbox inside `dir`, which outlives this process.
    fn in_dir(dir: &Path) -> Self {
        let sandbox = Self {
            home: TempDir::new_in(dir).unwrap(),
            work: TempDir::new_in(dir).unwrap(),
        };
        std::fs::write(
            sandbox.home.path().join("fake-scap.json"),
            r#"{"pace": "instant"}"#,
        )
        .unwrap();
        sandbox
    }

    fn instant() -> Self {
        Self::new(serde_json::json!({"pace": "instant"}))
    }

    fn env(&self, key_byte: u8) -> ScapEnvironment {
        ScapEnvironment {
            io_key: IoKey::from_bytes([key_byte; 32]),
            real_user: Username::parse("alice").unwrap(),
            path: "/usr/bin:/bin".into(),
            home: self.home.path().to_str().unwrap().into(),
            lang: "C.UTF-8".into(),
            // fake-scap, like scap, refuses to run without an SSH agent.
            ssh_auth_sock: Some(self.home.path().join("agent.sock").to_str().unwrap().into()),
        }
    }

    fn spec(&self, scap: &Path, command: ScapCommand) -> RunSpec {
        RunSpec {
            job_id: JobId::new(1).unwrap(),
            command,
            scap: ScapPath::new(scap.to_str().unwrap()).unwrap(),
            env: self.env(0x5a),
            working_dir: self.work.path().to_path_buf(),
            patterns: RedactionPatterns::default_patterns(),
            clock: Arc::new(SystemClock),
        }
    }

    fn backport(&self, changes: &[u64]) -> RunSpec {
        self.spec(
            fake_scap(),
            ScapCommand::backport(numbers(changes)).unwrap(),
        )
    }

    /// `/bin/sh backport N`: runs the script `backport` in the working directory,
    /// for the cases fake-scap does not play.
    fn shell(&self, script: &str) -> RunSpec {
        std::fs::write(self.work.path().join("backport"), script).unwrap();
        self.spec(
            Path::new("/bin/sh"),
            ScapCommand::backport(numbers(&[1])).unwrap(),
        )
    }
}

fn numbers(changes: &[u64]) -> Vec<ChangeNumber> {
    changes
        .iter()
        .map(|&n| ChangeNumber::new(n).unwrap())
        .collect()
}

/// A started run and every event it has sent so far.
struct Run {
    handle: RunHandle,
    seen: Vec<RunnerEvent>,
}

impl Run {
    fn start(spec: RunSpec) -> Self {
        Self {
            handle: runner::spawn(spec).expect("scap starts"),
            seen: Vec::new(),
        }
    }

    async fn next(&mut self) -> RunnerEvent {
        let event = tokio::time::timeout(WAIT, self.handle.events.recv())
            .await
            .expect("an event in time")
            .expect("the run sends Exited before it ends");
        self.seen.push(event.clone());
        event
    }

    async fn until_prompt(&mut self) -> PromptSpec {
        loop {
            match self.next().await {
                RunnerEvent::Prompt(prompt) => return prompt,
                RunnerEvent::Exited(exit) => panic!("exited ({exit:?}) before a prompt"),
                _ => {}
            }
        }
    }

    /// Waits for `Exited` and checks that it was the last event.
    async fn until_exit(&mut self) -> ExitInfo {
        loop {
            if let RunnerEvent::Exited(exit) = self.next().await {
                let after = tokio::time::timeout(WAIT, self.handle.events.recv())
                    .await
                    .expect("the channel closes");
                assert!(after.is_none(), "an event after Exited: {after:?}");
                return exit;
            }
        }
    }

    async fn choose(&mut self, prompt: &PromptSpec, key: &str) {
        let choice = validate_choice(&prompt.choices, key)
            .expect("an offered key")
            .clone();
        self.handle
            .control
            .answer(Answer::Choice(choice))
            .await
            .expect("the answer is written");
    }

    fn log_texts(&self) -> Vec<&str> {
        self.seen
            .iter()
            .filter_map(|e| match e {
                RunnerEvent::Log { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    fn prompts(&self) -> Vec<&PromptSpec> {
        self.seen
            .iter()
            .filter_map(|e| match e {
                RunnerEvent::Prompt(p) => Some(p),
                _ => None,
            })
            .collect()
    }

    fn stages(&self) -> Vec<Stage> {
        self.seen
            .iter()
            .filter_map(|e| match e {
                RunnerEvent::Stage { stage, .. } => Some(*stage),
                _ => None,
            })
            .collect()
    }

    /// Every text an event carries that users could be shown.
    fn shown_texts(&self) -> Vec<String> {
        let mut texts = Vec::new();
        for event in &self.seen {
            match event {
                RunnerEvent::Log { text, .. } => texts.push(text.clone()),
                RunnerEvent::Status(Some(s)) => texts.push(s.clone()),
                RunnerEvent::Progress(p) => texts.push(p.name.clone()),
                RunnerEvent::Prompt(p) => {
                    texts.push(p.text.clone());
                    texts.extend(p.choices.iter().map(|c| c.label.clone()));
                }
                _ => {}
            }
        }
        texts
    }
}

fn offered(prompt: &PromptSpec) -> Vec<&str> {
    prompt.choices.iter().map(|c| c.key.as_str()).collect()
}

#[tokio::test]
async fn a_successful_backport_streams_redacted_lines_stages_and_prompts() {
    let sandbox = Sandbox::instant();
    let mut run = Run::start(sandbox.backport(&[42]));

    let confirm = run.until_prompt().await;
    assert_eq!(confirm.kind, PromptKind::Choices);
    assert!(
        confirm.text.ends_with("Backport the changes?"),
        "{}",
        confirm.text
    );
    assert_eq!(offered(&confirm), ["y", "n"]);
    assert_eq!(confirm.default.as_deref(), Some("n"));
    run.choose(&confirm, "y").await;

    let testservers = run.until_prompt().await;
    assert!(
        testservers.text.contains("Continue with deployment?"),
        "{}",
        testservers.text
    );
    assert_eq!(offered(&testservers), ["y", "n"]);
    run.choose(&testservers, "y").await;

    let exit = run.until_exit().await;
    assert_eq!((exit.code, exit.signal), (Some(0), None));

    // Each run of sensitive lines starts exactly once; fake-scap plays two runs of
    // six (one per MediaWiki version). A stderr line may arrive inside a run (the
    // pipes are read concurrently) without splitting it.
    let mut runs = 0;
    let mut previous_was_sensitive = false;
    for event in &run.seen {
        if let RunnerEvent::Sensitive {
            starts_run, hidden, ..
        } = event
        {
            assert!(!(*starts_run && previous_was_sensitive), "at {hidden:?}");
            assert!(hidden.contains("/srv/patches/"), "{hidden:?}");
            runs += usize::from(*starts_run);
        }
        previous_was_sensitive = matches!(event, RunnerEvent::Sensitive { .. });
    }
    assert_eq!(runs, 2);
    let hidden_lines = run
        .seen
        .iter()
        .filter(|e| matches!(e, RunnerEvent::Sensitive { .. }))
        .count();
    assert_eq!(hidden_lines, 12);

    for text in run.shown_texts() {
        assert!(!text.contains("/srv/patches/"), "shown: {text:?}");
        assert!(
            !text.contains(&"5a".repeat(32)),
            "the key was shown: {text:?}"
        );
    }
    assert!(
        run.log_texts()
            .iter()
            .any(|t| t.contains("Started scap prep auto"))
    );
    assert!(run.seen.iter().any(|e| matches!(
        e,
        RunnerEvent::Log {
            kind: LogKind::Status,
            ..
        }
    )));
    assert!(
        run.seen
            .iter()
            .any(|e| matches!(e, RunnerEvent::Progress(_)))
    );
    assert_eq!(
        run.stages(),
        [
            Stage::Merge,
            Stage::Prepare,
            Stage::TestServers,
            Stage::Canaries,
            Stage::Production,
            Stage::Complete
        ]
    );
    assert_eq!(run.prompts().len(), 2);
}

const MARKER: &str = "SPIDERPIG_RUNNER_TEST_MARKER";

/// Runs the test `name` again in a new process of this test binary, with `env`
/// added to its environment and SIGINT ignored (as in a process started with `&`
/// by a script): setting either here would need `unsafe` or disturb other tests.
fn rerun_in_child_process(name: &str, env: &[(&str, &str)]) -> std::process::Child {
    StdCommand::new("/bin/sh")
        .args(["-c", r#"trap '' INT; exec "$0" "$@""#])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", name, "--test-threads=1", "--nocapture"])
        .envs(env.iter().copied())
        .spawn()
        .unwrap()
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// Security test 31: exactly `[<scap>, "backport", "<n>"]`, only the allowlisted
/// environment (nothing inherited), the working directory, its own process group,
/// stdin a pipe, SIGINT not ignored even when the executor ignores it.
#[test]
fn scap_is_started_with_exactly_the_allowlisted_argv_and_environment() {
    const NAME: &str = "scap_is_started_with_exactly_the_allowlisted_argv_and_environment";
    if std::env::var_os(MARKER).is_none() {
        let status = rerun_in_child_process(NAME, &[(MARKER, "inherited-by-scap-would-be-a-bug")])
            .wait()
            .unwrap();
        assert!(status.success());
        return;
    }
    block_on(async {
        let sandbox =
            Sandbox::new(serde_json::json!({"pace": "instant", "record_invocations": true}));
        let spec = sandbox.backport(&[42, 43]);
        let want_env: BTreeMap<String, String> = spec
            .command
            .invocation(&spec.scap, &spec.env)
            .env
            .into_iter()
            .collect();
        let mut run = Run::start(spec);
        let confirm = run.until_prompt().await;
        run.choose(&confirm, "n").await; // "Backport cancelled", exit 0
        assert_eq!(run.until_exit().await.code, Some(0));
        assert!(
            run.log_texts()
                .iter()
                .any(|t| t.contains("Backport cancelled"))
        );

        let records =
            std::fs::read_to_string(sandbox.home.path().join("fake-scap-invocations.jsonl"))
                .unwrap();
        let lines: Vec<&str> = records.lines().collect();
        assert_eq!(lines.len(), 1, "scap started once");
        let rec: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        let argv: Vec<&str> = rec["argv"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(
            argv,
            [fake_scap().to_str().unwrap(), "backport", "42", "43"]
        );

        let env: BTreeMap<String, String> = serde_json::from_value(rec["env"].clone()).unwrap();
        assert_eq!(env, want_env);
        let names: BTreeSet<&str> = env.keys().map(String::as_str).collect();
        let allowed = BTreeSet::from([
            "FORCE_COLOR",
            "HOME",
            "LANG",
            "PATH",
            "SPIDERPIG_IO_KEY",
            "SPIDERPIG_REAL_USER",
            "SSH_AUTH_SOCK",
        ]);
        assert_eq!(names, allowed);
        assert_eq!(env["SPIDERPIG_IO_KEY"], "5a".repeat(32));
        assert_eq!(env["SPIDERPIG_REAL_USER"], "alice");
        assert_eq!(env["HOME"], sandbox.home.path().to_str().unwrap());
        assert!(!env.contains_key(MARKER));
        for (name, _) in std::env::vars() {
            assert!(
                allowed.contains(name.as_str()) || !env.contains_key(&name),
                "{name} inherited"
            );
        }

        assert_eq!(rec["cwd"], sandbox.work.path().to_str().unwrap());
        let pid = i64::from(run.handle.pid);
        assert_eq!(rec["pid"], pid);
        assert_eq!(rec["pgid"], pid, "scap leads its own process group");
        assert_eq!(i64::from(run.handle.pgid), pid);
        assert_eq!(rec["ppid"], i64::from(std::process::id()));
        assert_eq!(rec["stdin_is_pipe"], true);
        assert_eq!(rec["stdin_is_tty"], false);
        assert_eq!(
            rec["sigint_ignored"], false,
            "scap could not be interrupted"
        );
    });
}

const PDEATH_DIR: &str = "SPIDERPIG_RUNNER_TEST_PDEATH_DIR";

/// scap must not outlive a crashed executor: the child process of this test plays
/// the executor, starts a hanging scap (which reads nothing and writes nothing,
/// so only a signal ends it) and is killed with SIGKILL.
#[test]
fn scap_dies_when_the_executor_dies() {
    const NAME: &str = "scap_dies_when_the_executor_dies";
    if let Some(dir) = std::env::var_os(PDEATH_DIR) {
        let dir = PathBuf::from(dir);
        block_on(async {
            let sandbox = Sandbox::in_dir(&dir);
            let mut run = Run::start(sandbox.backport(&[12005]));
            let confirm = run.until_prompt().await;
            run.choose(&confirm, "y").await;
            while !matches!(run.next().await, RunnerEvent::Progress(_)) {}
            std::fs::write(dir.join("pgid.tmp"), run.handle.pgid.to_string()).unwrap();
            std::fs::rename(dir.join("pgid.tmp"), dir.join("pgid")).unwrap();
            std::future::pending::<()>().await;
        });
        return;
    }
    let dir = TempDir::new().unwrap();
    let mut executor = rerun_in_child_process(NAME, &[(PDEATH_DIR, dir.path().to_str().unwrap())]);
    let pgid: i32 = poll(|| {
        std::fs::read_to_string(dir.path().join("pgid"))
            .ok()?
            .parse()
            .ok()
    })
    .expect("the child process started scap");
    let scap = ScapPath::new(fake_scap().to_str().unwrap()).unwrap();
    assert_eq!(live_pids(pgid, &scap), vec![pgid], "scap runs");
    executor.kill().unwrap();
    executor.wait().unwrap();
    if poll(|| live_pids(pgid, &scap).is_empty().then_some(())).is_none() {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pgid),
            nix::sys::signal::Signal::SIGKILL,
        );
        panic!("scap outlived the executor");
    }
}

/// Checks every 20 ms until `check` returns something; `None` after [`WAIT`].
fn poll<T>(mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some(found) = check() {
            return Some(found);
        }
        if std::time::Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The live (not zombie) processes of group `pgid`, if any of them runs `scap`
/// (read from /proc without touching them).
fn live_pids(pgid: i32, scap: &ScapPath) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
        if fields[0] != "Z" && fields[2] == pgid.to_string() {
            let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
            assert_eq!(
                exe,
                Path::new(scap.as_str()),
                "another process in scap's group"
            );
            pids.push(pid);
        }
    }
    pids
}

/// Security test 32: a key the prompt did not offer, a second answer, an answer
/// of the wrong kind, an answer after the end → refused, nothing written.
#[tokio::test]
async fn answers_the_pending_prompt_did_not_offer_are_refused_and_nothing_is_written() {
    let sandbox = Sandbox::instant();
    let mut run = Run::start(sandbox.backport(&[42]));
    let confirm = run.until_prompt().await;
    let control = run.handle.control.clone();

    let forged = spiderpig_policy::Choice {
        label: "Yes".into(),
        key: "x".into(),
    };
    let err = control.answer(Answer::Choice(forged)).await.unwrap_err();
    assert!(
        matches!(err, ExecutorError::Policy(PolicyError::NotAnOfferedChoice)),
        "{err:?}"
    );
    let two_lines = spiderpig_policy::Choice {
        label: "Yes".into(),
        key: "y\ny".into(),
    };
    assert!(control.answer(Answer::Choice(two_lines)).await.is_err());
    let line = validate_input_line("y").unwrap();
    assert!(matches!(
        control.answer(Answer::Line(line)).await,
        Err(ExecutorError::WrongState(_))
    ));

    // Nothing reached scap: it still waits (an answer would make it print
    // "Invalid choice" or carry on), and the pending prompt still takes "y".
    let quiet = tokio::time::timeout(Duration::from_millis(300), run.handle.events.recv()).await;
    assert!(quiet.is_err(), "scap reacted: {quiet:?}");
    run.choose(&confirm, "y").await;

    // Answered: the same prompt is no longer pending.
    let again = validate_choice(&confirm.choices, "y").unwrap().clone();
    assert!(matches!(
        control.answer(Answer::Choice(again)).await,
        Err(ExecutorError::PromptNotPending)
    ));

    let testservers = run.until_prompt().await;
    assert_eq!(run.prompts().len(), 2, "the confirmation was asked once");
    assert!(!run.log_texts().iter().any(|t| t.contains("Invalid choice")));
    run.choose(&testservers, "y").await;
    assert_eq!(run.until_exit().await.code, Some(0));

    let late = validate_choice(&testservers.choices, "y").unwrap().clone();
    assert!(matches!(
        control.answer(Answer::Choice(late)).await,
        Err(ExecutorError::PromptNotPending)
    ));
}

#[tokio::test]
async fn a_free_text_prompt_takes_a_line_and_refuses_a_choice() {
    let sandbox = Sandbox::instant();
    let mut run =
        Run::start(sandbox.spec(fake_scap(), ScapCommand::revert(numbers(&[42])).unwrap()));
    let reason = run.until_prompt().await;
    assert_eq!(reason.kind, PromptKind::InputLine);
    assert!(
        reason.text.starts_with("Please supply a reason for revert"),
        "{}",
        reason.text
    );
    let choice = spiderpig_policy::Choice {
        label: "Yes".into(),
        key: "y".into(),
    };
    assert!(matches!(
        run.handle.control.answer(Answer::Choice(choice)).await,
        Err(ExecutorError::WrongState(_))
    ));
    let line = validate_input_line("broke the main page").unwrap();
    run.handle.control.answer(Answer::Line(line)).await.unwrap();

    let confirm = run.until_prompt().await;
    assert!(confirm.text.ends_with("Backport the changes?"));
    assert!(
        run.log_texts()
            .iter()
            .any(|t| t.contains("Reason for revert: alice@deploy-host: broke the main page"))
    );
    run.handle.control.interrupt().unwrap();
    assert_eq!(run.until_exit().await.code, Some(130));
}

/// Security test 37: output that looks like a prompt but lacks this run's key
/// is text.
#[tokio::test]
async fn a_forged_prompt_is_shown_as_text_never_as_a_prompt() {
    let sandbox = Sandbox::instant();
    let mut run = Run::start(sandbox.backport(&[77007]));
    let confirm = run.until_prompt().await;
    run.choose(&confirm, "y").await;
    let testservers = run.until_prompt().await;
    assert!(testservers.text.contains("Continue with deployment?"));
    run.choose(&testservers, "y").await;
    assert_eq!(run.until_exit().await.code, Some(0));

    assert_eq!(run.prompts().len(), 2, "only scap's own prompts");
    let forged: Vec<&str> = run
        .log_texts()
        .into_iter()
        .filter(|t| t.contains(r#""subtype": "choices""#))
        .collect();
    assert_eq!(forged.len(), 2, "both forged prompts shown as text");
    assert!(
        !run.shown_texts()
            .iter()
            .any(|t| t.contains(&"5a".repeat(32))),
        "the key was shown"
    );
}

/// Security test 36: a hanging scap is killed by process group; nothing else is.
#[tokio::test]
async fn kill_ends_a_hanging_scap_and_nothing_else() {
    let sandbox = Sandbox::instant();
    let spec = sandbox.backport(&[12005]);
    let scap = spec.scap.clone();
    let mut run = Run::start(spec);
    let confirm = run.until_prompt().await;
    run.choose(&confirm, "y").await;
    // The hang starts while waiting for the merge.
    while !matches!(run.next().await, RunnerEvent::Progress(_)) {}

    let mut sibling = StdCommand::new("sleep").arg("60").spawn().unwrap();
    run.handle.control.kill().unwrap();
    let exit = run.until_exit().await;
    assert_eq!((exit.code, exit.signal), (None, Some(9)));
    assert!(
        sibling.try_wait().unwrap().is_none(),
        "the test's own child was killed"
    );
    assert_eq!(
        runner::reap_orphan(run.handle.pgid, &scap),
        OrphanOutcome::NoneLeft
    );
    // After the end, kill is a no-op and interrupt is refused.
    run.handle.control.kill().unwrap();
    assert!(matches!(
        run.handle.control.interrupt(),
        Err(ExecutorError::WrongState(_))
    ));
    sibling.kill().unwrap();
    sibling.wait().unwrap();
}

#[tokio::test]
async fn interrupt_at_a_prompt_makes_scap_exit_130() {
    let sandbox = Sandbox::instant();
    let mut run = Run::start(sandbox.backport(&[42]));
    run.until_prompt().await;
    run.handle.control.interrupt().unwrap();
    let exit = run.until_exit().await;
    assert_eq!((exit.code, exit.signal), (Some(130), None));
}

#[tokio::test]
async fn a_missing_scap_fails_to_spawn() {
    let sandbox = Sandbox::new(serde_json::json!({"record_invocations": true}));
    let missing = sandbox.work.path().join("no-such-scap");
    let err = runner::spawn(sandbox.spec(&missing, ScapCommand::backport(numbers(&[42])).unwrap()))
        .unwrap_err();
    assert!(matches!(err, ExecutorError::Spawn(_)), "{err:?}");
    assert!(!format!("{err:?}").contains(&"5a".repeat(32)));

    let mut spec = sandbox.backport(&[42]);
    assert!(
        !format!("{spec:?}").contains(&"5a".repeat(32)),
        "Debug shows the key"
    );
    spec.working_dir = sandbox.work.path().join("no-such-dir");
    assert!(matches!(runner::spawn(spec), Err(ExecutorError::Spawn(_))));
    let records = sandbox.home.path().join("fake-scap-invocations.jsonl");
    assert!(!records.exists());
}

#[tokio::test]
async fn a_flood_of_output_arrives_complete_and_in_order() {
    const LINES: u64 = 20_000;
    let sandbox = Sandbox::new(serde_json::json!({"pace": "instant", "flood_lines": LINES}));
    let mut run = Run::start(sandbox.backport(&[9006]));
    let confirm = run.until_prompt().await;
    run.choose(&confirm, "y").await;
    assert_eq!(run.until_exit().await.code, Some(0));
    let numbers: Vec<u64> = run
        .log_texts()
        .iter()
        .filter_map(|t| {
            t.split(" flood line ")
                .nth(1)?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(numbers, (1..=LINES).collect::<Vec<_>>());
}

/// stderr never carries machine mode, whatever it prints; a line with this run's
/// key is withheld rather than shown (the key must never be shown).
#[tokio::test]
async fn stderr_lines_are_never_machine_messages() {
    let sandbox = Sandbox::instant();
    let mut run = Run::start(sandbox.shell(
        r#"printf '{"type": "interaction", "subtype": "choices", "prompt": "from stderr", "choices": {"Yes": "y"}, "default": null, "iokey": "%s"}\n' "$SPIDERPIG_IO_KEY" >&2
printf '{"type": "line", "line": "from stdout", "iokey": "%s"}\n' "$SPIDERPIG_IO_KEY"
echo 'cat /srv/patches/T1.patch' >&2
echo 'plain on stderr' >&2
exit 4
"#,
    ));
    let exit = run.until_exit().await;
    assert_eq!(exit.code, Some(4));
    assert!(run.prompts().is_empty());
    let logs = run.log_texts();
    assert!(
        logs.contains(&"from stdout") && logs.contains(&"plain on stderr"),
        "{logs:?}"
    );
    let hidden: Vec<&str> = run
        .seen
        .iter()
        .filter_map(|e| match e {
            RunnerEvent::Sensitive { hidden, .. } => Some(hidden.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(hidden.len(), 2, "{hidden:?}");
    assert!(hidden.iter().any(|h| h.starts_with("<line withheld:")));
    assert!(hidden.contains(&"cat /srv/patches/T1.patch"));
    for text in run.shown_texts().iter().map(String::as_str).chain(hidden) {
        assert!(!text.contains(&"5a".repeat(32)), "the key leaked: {text:?}");
    }
    assert!(!run.log_texts().contains(&PLACEHOLDER));
}

/// Security test 39, end to end: a patch path split across two reads, coloured
/// in the middle, or written over with `\r` is still hidden.
#[tokio::test]
async fn patch_paths_split_coloured_or_overwritten_are_hidden() {
    let sandbox = Sandbox::instant();
    let mut run = Run::start(sandbox.shell(
        r#"printf 'Applying /srv/pat'; sleep 0.2; printf 'ches/T1.patch\n'
printf '\033[31m/srv/\033[0mpatches/T2.patch\n'
printf 'cat /srv/patches/T3.patch\rharmless line\n' >&2
echo done
"#,
    ));
    assert_eq!(run.until_exit().await.code, Some(0));
    let logs = run.log_texts();
    assert!(logs.contains(&"done"), "{logs:?}");
    for text in run.shown_texts() {
        assert!(!text.contains("patches"), "shown: {text:?}");
    }
    let hidden = run
        .seen
        .iter()
        .filter(|e| matches!(e, RunnerEvent::Sensitive { .. }))
        .count();
    assert_eq!(hidden, 3);
}

/// A process scap started keeps its output open after scap exited: the run still
/// ends, soon, and the straggler is killed.
#[tokio::test]
async fn a_straggler_holding_the_output_open_does_not_hang_the_run() {
    let sandbox = Sandbox::instant();
    let started = std::time::Instant::now();
    let mut run = Run::start(sandbox.shell("sleep 30 &\necho \"straggler $!\"\nexit 3\n"));
    let exit = run.until_exit().await;
    assert_eq!((exit.code, exit.signal), (Some(3), None));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert!(run.seen.iter().any(
        |e| matches!(e, RunnerEvent::Log { kind: LogKind::System, text, .. } if text.contains("killed"))
    ));
    // The runner sent SIGKILL to the group; the kernel takes a moment (longer
    // on a busy machine) before the straggler is gone or a zombie.
    let pid: i32 = run
        .seen
        .iter()
        .find_map(|e| match e {
            RunnerEvent::Log { text, .. } => text
                .split("straggler ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next()?.parse().ok()),
            _ => None,
        })
        .expect("the straggler's pid in the log");
    let killed_at = std::time::Instant::now();
    while std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    }) {
        assert!(
            killed_at.elapsed() < Duration::from_secs(5),
            "the straggler {pid} is still alive"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let sleep = ScapPath::new("/usr/bin/sleep").unwrap();
    assert_eq!(
        runner::reap_orphan(run.handle.pgid, &sleep),
        OrphanOutcome::NoneLeft
    );
}

/// A stray scap from before a restart: its group is killed only if it runs scap.
#[test]
fn reap_orphan_kills_a_leftover_group_only_if_it_runs_scap() {
    use std::os::unix::process::{CommandExt, ExitStatusExt};

    let sleep_path = std::fs::canonicalize("/usr/bin/sleep").unwrap();
    let sleep = ScapPath::new(sleep_path.to_str().unwrap()).unwrap();
    let not_scap = ScapPath::new(fake_scap().to_str().unwrap()).unwrap();

    let mut stray = StdCommand::new(&sleep_path)
        .arg("60")
        .process_group(0)
        .spawn()
        .unwrap();
    let pgid = i32::try_from(stray.id()).unwrap();
    assert_eq!(runner::reap_orphan(pgid, &not_scap), OrphanOutcome::NotOurs);
    assert!(
        stray.try_wait().unwrap().is_none(),
        "a group that is not scap's was touched"
    );

    assert_eq!(
        runner::reap_orphan(pgid, &sleep),
        OrphanOutcome::Killed { pids: vec![pgid] }
    );
    assert_eq!(stray.wait().unwrap().signal(), Some(9));
    assert_eq!(runner::reap_orphan(pgid, &sleep), OrphanOutcome::NoneLeft);

    // Never group 0 (our own), 1 or our own group.
    for pgid in [0, 1, -5, nix::unistd::getpgrp().as_raw()] {
        assert_eq!(
            runner::reap_orphan(pgid, &sleep),
            OrphanOutcome::NotOurs,
            "{pgid}"
        );
    }
}
