//! The scenarios end to end: success, cancel, rollback, failed checks, merge failures, revert, the l10n warning.

use super::*;

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
