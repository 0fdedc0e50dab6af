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

#[path = "runner/backport.rs"]
mod backport;
#[path = "runner/io.rs"]
mod io;
