//! Stage tracking against an excerpt of real scap output; trust level: test code.

use super::*;

fn line(text: &str) -> ScapMessage {
    ScapMessage::Line {
        text: text.into(),
        sensitive: false,
    }
}

/// An excerpt of a real backport's output (train-dev, change 42).
const EXCERPT: [&str; 14] = [
    "\u{1b}[32m06:36:50 Voting on 1 change(s)\u{1b}[0m",
    "\u{1b}[32m06:36:50 Change 42 was already merged\u{1b}[0m",
    "\u{1b}[32m06:36:51 Started scap prep auto\u{1b}[0m",
    "Applying patch /srv/patches/1.44.0-wmf.6/core/01-T999999.patch in /srv/mediawiki-staging/php-1.44.0-wmf.6",
    "\u{1b}[32m06:37:34 Finished scap prep auto (duration: 00m 42s)\u{1b}[0m",
    "\u{1b}[32m06:37:35 Started scap sync-world: Backport for [[gerrit:42|testwikis to 1.44.0-wmf.8 (T123123)]]\u{1b}[0m",
    "\u{1b}[32m06:38:38 Started sync-testservers-k8s\u{1b}[0m",
    "\u{1b}[32m06:38:45 Started sync-testservers\u{1b}[0m",
    "\u{1b}[32m06:39:00 Started sync-canaries-k8s\u{1b}[0m",
    "\u{1b}[32m06:39:37 Started sync-prod-k8s\u{1b}[0m",
    "\u{1b}[32m06:39:44 Started sync-apaches\u{1b}[0m",
    "\u{1b}[32m06:39:49 Started php-fpm-restarts\u{1b}[0m",
    "\u{1b}[32m06:39:51 Finished scap sync-world: Backport for [[gerrit:42|testwikis to 1.44.0-wmf.8 (T123123)]] (duration: 02m 15s)\u{1b}[0m",
    "\u{1b}[32m06:39:52 Finished scap backport\u{1b}[0m",
];

#[test]
fn real_scap_output_walks_through_every_stage() {
    let mut tracker = StageTracker::new();
    assert_eq!(tracker.current(), Stage::Queued);
    let changes: Vec<Stage> = EXCERPT
        .iter()
        .filter_map(|t| tracker.observe(&line(t)))
        .collect();
    assert_eq!(
        changes,
        [
            Stage::Merge,
            Stage::Prepare,
            Stage::TestServers,
            Stage::Canaries,
            Stage::Production,
            Stage::Complete
        ]
    );
    assert_eq!(tracker.current(), Stage::Complete);
}

#[test]
fn markers_are_read_from_text_status_and_lines_alike() {
    let cases = [
        (
            ScapMessage::Status(Some(
                "Waiting for changes to be merged. This may take some time".into(),
            )),
            Some(Stage::Merge),
        ),
        (
            ScapMessage::Text("06:39:00 Started sync-canaries".into()),
            Some(Stage::Canaries),
        ),
        (line("Started sync-prod"), Some(Stage::Production)),
        (line("echo Started sync-prod"), None),
        (line("6:39:00 Started sync-prod"), None),
        (ScapMessage::Status(None), None),
        (ScapMessage::Withheld { bytes: 3 }, None),
    ];
    for (msg, want) in cases {
        assert_eq!(StageTracker::new().observe(&msg), want, "{msg:?}");
    }
}

#[test]
fn stages_never_go_back() {
    let mut tracker = StageTracker::new();
    assert_eq!(
        tracker.observe(&line("Started sync-canaries-k8s")),
        Some(Stage::Canaries)
    );
    assert_eq!(tracker.observe(&line("Started sync-testservers")), None);
    assert_eq!(tracker.observe(&line("Voting on 1 change(s)")), None);
    assert_eq!(tracker.observe(&line("Started sync-canaries-k8s")), None);
    assert_eq!(tracker.current(), Stage::Canaries);
}

#[test]
fn voting_after_a_revert_reason_prompt_restarts_at_merge() {
    let mut tracker = StageTracker::new();
    tracker.observe(&line("Started sync-prod-k8s"));
    tracker.observe(&ScapMessage::InputLine {
        prompt: "Please supply a reason for revert: ".into(),
    });
    assert_eq!(
        tracker.observe(&line("Voting on 1 change(s)")),
        Some(Stage::Merge)
    );
    assert_eq!(
        tracker.observe(&line("Started sync-testservers")),
        Some(Stage::TestServers)
    );
    // Only once per prompt.
    assert_eq!(tracker.observe(&line("Voting on 1 change(s)")), None);
}

#[test]
fn stage_names_round_trip() {
    for stage in Stage::ALL {
        assert_eq!(stage.as_str().parse::<Stage>(), Ok(stage));
        assert_eq!(
            serde_json::to_string(&stage).unwrap(),
            format!("\"{}\"", stage.as_str())
        );
    }
    assert!(matches!(
        "nope".parse::<Stage>(),
        Err(crate::PolicyError::UnknownWord {
            what: "deployment stage",
            ..
        })
    ));
    let strip: Vec<Stage> = Stage::ALL.into_iter().filter(|s| s.in_strip()).collect();
    assert_eq!(strip, &Stage::ALL[1..]);
}
