//! A whole backport through the runner: redacted lines, stages, prompts.

use super::*;

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
