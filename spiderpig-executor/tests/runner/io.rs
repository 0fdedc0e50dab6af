//! Answers, free-text prompts, forged prompts, kills, interrupts, floods, stderr, hidden patch paths and stragglers.

use super::*;

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

/// scap inherits exactly stdin, stdout and stderr (our pipes): every other
/// descriptor of the executor (its sockets, the database, the runtime's
/// epoll and event fds) is close-on-exec. The shell that plays scap here lists
/// its own descriptors; besides 0, 1 and 2 it may only hold the script it
/// opened itself after exec.
#[tokio::test]
async fn scap_inherits_only_fds_0_1_and_2() {
    let sandbox = Sandbox::instant();
    // The executor holds a descriptor without close-on-exec, as one inherited
    // from whatever started it would be.
    let held = std::fs::File::open("/proc/self/status").unwrap();
    nix::fcntl::fcntl(
        &held,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
    )
    .unwrap();
    let mut run = Run::start(sandbox.shell(
        // `ls` is a child: it lists the shell's descriptors, not its own.
        "ls -l /proc/$$/fd/\nexit 0\n",
    ));
    let exit = run.until_exit().await;
    assert_eq!(exit.code, Some(0));
    let script = sandbox.work.path().join("backport");
    let mut seen = Vec::new();
    for line in run.log_texts() {
        // `lr-x------ 1 root root 64 Dec  3 17:23 0 -> pipe:[123]`
        let Some((head, target)) = line.split_once(" -> ") else {
            continue;
        };
        let fd: u32 = head
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .expect("an fd number");
        match fd {
            0..=2 => assert!(target.starts_with("pipe:["), "fd {fd}: {target}"),
            // The script, which the shell opened itself after exec.
            _ => assert_eq!(target, script.to_str().unwrap(), "fd {fd} was inherited"),
        }
        seen.push(fd);
    }
    for fd in 0..=2 {
        assert!(seen.contains(&fd), "fd {fd} missing: {seen:?}");
    }
}
