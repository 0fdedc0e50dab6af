//! Hostile or broken output, how answers are read, signals, terminal mode, arguments and the invocation record.

use super::*;

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
