//! The job page's markup: who sees which prompt buttons and actions, the
//! stage strip, and that scap's text stays text.

use spiderpig_policy::Stage;
use spiderpig_proto::v1 as pb;

use super::log::Excerpt;
use super::render::{JobPage, render, stage_strip};
use crate::auth::Me;
use crate::pages::test_support::{links, signed_in as viewer};
use crate::views;

fn job(state: pb::JobState, prompt: Option<pb::Prompt>) -> pb::Job {
    pb::Job {
        id: 12,
        owner: "ann".into(),
        kind: pb::JobKind::Backport as i32,
        changes: vec![111, 222],
        state: state as i32,
        stage: pb::Stage::TestServers as i32,
        pending_prompt: prompt,
        last_seq: 40,
        outcome: "<b>bold</b>".into(),
        ..Default::default()
    }
}

fn choices_prompt() -> pb::Prompt {
    let choice = |label: &str, key: &str| pb::Choice {
        label: label.into(),
        key: key.into(),
    };
    pb::Prompt {
        job_id: 12,
        prompt_id: 5,
        kind: pb::prompt::Kind::Choices as i32,
        text: "Changes are live on test servers.\n<script>alert(1)</script>\u{1b}[31m red\u{1b}[0m"
            .into(),
        choices: vec![
            choice("Yes, continue", "y"),
            choice("No, roll back <now>", "n"),
        ],
        default_key: "y".into(),
        ..Default::default()
    }
}

/// The page of `job` as `who` sees it (the view carries their actions).
fn page(job: &pb::Job, who: &Me) -> String {
    let job = &views::job(job, &who.viewer()).unwrap();
    let log = Excerpt {
        text: "<script>x</script>\n".into(),
        earlier: true,
        error: None,
    };
    let links = links();
    render(&JobPage {
        job,
        viewer: who,
        csrf: "tok",
        links: &links,
        log: &log,
        error: None,
    })
    .into_string()
}

#[test]
fn the_owner_gets_one_button_per_choice_with_scaps_labels() {
    let html = page(
        &job(pb::JobState::AwaitingInput, Some(choices_prompt())),
        &viewer("ann", false),
    );
    assert!(
        html.contains(r#"<section id="prompt" class="card prompt" data-prompt="5" aria-live"#),
        "{html}"
    );
    assert!(html.contains(r#"<form id="prompt-form" method="post" action="/jobs/12/respond">"#));
    assert!(html.contains(r#"<input type="hidden" name="prompt_id" value="5">"#));
    assert!(html.contains(r#"<input type="hidden" name="csrf" value="tok">"#));
    assert!(html.contains(r#"name="key" value="y" class="primary" data-default="true">Yes, continue (default)</button>"#));
    assert!(html.contains(r#"name="key" value="n">No, roll back &lt;now&gt;</button>"#));
    assert!(html.contains(
        "Changes are live on test servers.\n&lt;script&gt;alert(1)&lt;/script&gt; red</pre>"
    ));
    assert!(!html.contains("<script>"));
    assert!(!html.contains('\u{1b}'));
}

#[test]
fn an_admin_may_answer_and_others_see_whom_it_waits_for() {
    let j = job(pb::JobState::AwaitingInput, Some(choices_prompt()));
    assert!(page(&j, &viewer("root", true)).contains("prompt-form"));
    let html = page(&j, &viewer("bob", false));
    assert!(!html.contains("prompt-form"));
    assert!(!html.contains(r#"name="key""#));
    assert!(html.contains(r#"<p class="waiting">Waiting for ann to answer.</p>"#));
    assert!(html.contains("Changes are live on test servers."));
}

#[test]
fn an_input_line_prompt_gets_a_text_field() {
    let mut p = choices_prompt();
    p.kind = pb::prompt::Kind::InputLine as i32;
    p.choices.clear();
    let html = page(
        &job(pb::JobState::AwaitingInput, Some(p)),
        &viewer("ann", false),
    );
    assert!(html.contains(r#"<input id="prompt-line" name="line" maxlength="200""#));
    assert!(!html.contains(r#"name="key""#));
}

#[test]
fn no_prompt_leaves_a_hidden_prompt_section() {
    let html = page(&job(pb::JobState::Running, None), &viewer("ann", false));
    assert!(
        html.contains(r#"<section id="prompt" class="card prompt" hidden aria-live"#),
        "{html}"
    );
}

/// The actions shown (not hidden) for a viewer in a state.
fn shown_actions(state: pb::JobState, who: &Me) -> Vec<String> {
    let html = page(&job(state, None), who);
    let mut shown = Vec::new();
    for part in html
        .split("<form method=\"post\" action=\"/jobs/12/")
        .skip(1)
    {
        let tag = &part[..part.find('>').unwrap()];
        if !tag.ends_with(" hidden") {
            shown.push(tag.split('"').next().unwrap().to_string());
        }
    }
    shown
}

#[test]
fn actions_follow_state_and_role() {
    use pb::JobState::*;
    let (owner, admin, other) = (
        viewer("ann", false),
        viewer("root", true),
        viewer("bob", false),
    );
    let cases: &[(pb::JobState, &Me, &[&str])] = &[
        (Queued, &owner, &["cancel"]),
        (Queued, &admin, &["cancel"]),
        (Queued, &other, &[]),
        (AwaitingReady, &owner, &["ready", "cancel"]),
        (AwaitingReady, &admin, &["cancel"]),
        (Running, &owner, &["interrupt"]),
        (AwaitingInput, &admin, &["interrupt"]),
        (Running, &other, &[]),
        (AwaitingFinish, &owner, &["finish"]),
        (Interrupted, &admin, &["finish"]),
        (AwaitingFinish, &other, &[]),
        (Done, &other, &["revert"]),
        (Done, &owner, &["revert"]),
        (Cancelled, &owner, &[]),
        (Expired, &admin, &[]),
        (FailedToStart, &owner, &[]),
    ];
    for (state, who, expected) in cases {
        assert_eq!(
            shown_actions(*state, who),
            *expected,
            "{state:?} for {}",
            who.username
        );
    }
}

#[test]
fn a_revert_job_offers_no_revert_and_revert_needs_a_totp_code() {
    let mut j = job(pb::JobState::Done, None);
    let html = page(&j, &viewer("bob", false));
    assert!(html.contains(
        r#"<section id="actions" class="actions" data-job-id="12" data-actions="revert""#
    ));
    assert!(html.contains(r#"action="/jobs/12/revert" class="action" data-action="revert">"#));
    assert!(html.contains(r#"<input id="revert-totp" name="totp""#));
    j.kind = pb::JobKind::Revert as i32;
    assert!(!page(&j, &viewer("bob", false)).contains("data-action=\"revert\""));
}

#[test]
fn stage_strip_marks_the_current_stage_in_text_and_aria() {
    let html = stage_strip(Stage::Canaries).into_string();
    assert!(html.contains(r#"<li data-stage="test_servers" class="done">Test servers<span class="stage-mark"> (done)</span></li>"#), "{html}");
    assert!(html.contains(r#"<li data-stage="canaries" class="current" aria-current="step">Canaries<span class="stage-mark"> (current)</span></li>"#));
    assert!(html.contains(r#"<li data-stage="production" class="pending">Production<span class="stage-mark"></span></li>"#));
    assert_eq!(html.matches("aria-current").count(), 1);
    assert_eq!(
        stage_strip(Stage::Queued)
            .into_string()
            .matches("aria-current")
            .count(),
        0
    );
}

#[test]
fn terminal_log_and_facts() {
    let html = page(&job(pb::JobState::Running, None), &viewer("ann", false));
    assert!(html.contains(
        r#"<div id="terminal" class="terminal" data-job="12" data-last-seq="40"></div>"#
    ));
    assert!(html.contains(r#"<pre id="log-text" class="log">&lt;script&gt;x&lt;/script&gt;"#));
    assert!(html.contains("<noscript>"));
    assert!(html.contains(r#"<a id="log-download" href="/jobs/12/log.txt">"#));
    assert!(html.contains(r#"href="https://gerrit.example.org/r/111""#));
    assert!(html.contains("&lt;b&gt;bold&lt;/b&gt;"));
    assert!(html.contains(r#"data-state="running""#));
    assert!(html.contains(r#"<progress id="progress" max="100"></progress>"#));
}

#[test]
fn the_job_page_carries_a_hidden_freeze_banner_for_the_script() {
    let html = page(&job(pb::JobState::Queued, None), &viewer("ann", false));
    assert!(
        html.contains(r#"<div id="freeze-banner" class="banner warn" role="status" hidden>"#),
        "{html}"
    );
    assert!(html.contains(r#"<span id="freeze-reason">"#));
}
