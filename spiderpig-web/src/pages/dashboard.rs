//! `GET /`: the dashboard — freeze, the job holding the lock, the queue,
//! my recent jobs. Trust: all data comes from the executor (already
//! redacted) and is escaped by maud.
//!
//! # DOM contract (for the page scripts in `assets/src/`; `body[data-page=dashboard]`)
//!
//! - `#freeze-banner` (`div[role=status]`): always present; `hidden` when no
//!   freeze. Inside: `#freeze-reason`, `#freeze-by`, `#freeze-until` (a
//!   `time[datetime]` or "until unfrozen").
//! - `#my-place` (`p`): the viewer's place in one sentence.
//! - `#active-job` (`section`): `data-job` and `data-job-id` = id of the job
//!   holding the lock, both absent when nobody deploys (then it holds
//!   `p.none`). Inside, when set: `a.job-link`, `.owner`, `.changes`,
//!   `span.state[data-state]`, `span.stage[data-stage]`, `#active-status`
//!   (scap's status line), and for its owner (or an admin) the action forms
//!   below.
//! - `#queue` (`table[data-change-url]`: Gerrit base a change number is
//!   appended to): `tbody` rows `tr[data-job][data-state]` in queue order,
//!   cells: place (`td.place`), job link, owner (`td.owner`; the viewer's
//!   own rows have `class="mine"` and say "(you)"), changes (`td.changes`,
//!   links `a.change`), state (`span.state[data-state]`), queued at
//!   (`time[datetime]`), actions (`td.actions`). Empty queue: one `tr.empty`.
//! - Action forms (queue rows and the active job, for a viewer the policy
//!   could ever let ready or cancel the job: its owner or an admin):
//!   `div.actions[data-job-id][data-actions]` holding, for each of ready and
//!   cancel that the policy allows now (`data-actions`, the job view's
//!   `actions`), `form.action[data-action]` POST `/jobs/{id}/{ready|cancel}`
//!   with hidden `csrf` and `button[data-action]` (cancel has `data-confirm`).
//! - `#my-jobs` (`table`, see `parts::jobs_table`): the viewer's recent jobs,
//!   rows `tr[data-job][data-state]`; `tr.empty` when none.
//! - `#new-deployment`: the link to `/deploy/new`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use spiderpig_policy::{Action, JobState};

use super::parts::{action_names, freeze_banner, job_link, jobs_table, state_badge, time};
use crate::api::calls::Caller;
use crate::api::filters::Filters;
use crate::auth::Me;
use crate::extract::{Html, SignedIn};
use crate::links::Links;
use crate::state::AppState;
use crate::views::{self, JobView, QueueView};

/// How many of my jobs the dashboard lists.
const MY_JOBS: u32 = 10;

/// `GET /`
pub async fn dashboard(
    State(state): State<AppState>,
    SignedIn {
        who: (page, me),
        origin,
    }: SignedIn<Html>,
) -> Response {
    let caller = Caller::new(&state, &origin, &me.token);
    // The executor's names always parse; should one not, "my jobs" must
    // stay empty rather than become everyone's jobs.
    let owner = spiderpig_policy::Username::parse(&me.username).ok();
    let mine = owner.map(|owner| Filters {
        owner: Some(owner),
        states: Vec::new(),
        before: None,
        limit: MY_JOBS,
    });
    let my_jobs = async {
        match &mine {
            Some(f) => caller.list(f).await.map(|r| r.jobs),
            None => Ok(Vec::new()),
        }
    };
    let (queue, jobs) = tokio::join!(caller.queue(), my_jobs);
    let viewer = me.viewer();
    let views = queue.and_then(|q| Ok((views::queue(&q, &viewer)?, views::jobs(&jobs?, &viewer)?)));
    let (queue, jobs) = match views {
        Ok(v) => v,
        Err(e) => return page.fail(Some(&me), e),
    };
    let body = render(&me, &page.csrf, &queue, &jobs, &page.links);
    page.render(Some(&me), StatusCode::OK, "Dashboard", "dashboard", body)
}

/// The dashboard body (pure, for tests).
pub fn render(me: &Me, csrf: &str, queue: &QueueView, mine: &[JobView], links: &Links) -> Markup {
    let viewer = Viewer { me, csrf };
    html! {
        (freeze_banner(&queue.freeze, links))
        div class="page-head" {
            h1 { "Deployments" }
            a id="new-deployment" class="button primary" href="/deploy/new" { "New deployment" }
        }
        p id="my-place" { (place_text(me, queue)) }
        (active_job(&viewer, queue.active.as_ref(), links))
        section class="card" aria-labelledby="queue-heading" {
            h2 id="queue-heading" { "Queue" }
            (queue_table(&viewer, &queue.queued, links))
        }
        section class="card" aria-labelledby="my-jobs-heading" {
            h2 id="my-jobs-heading" { "My recent jobs" }
            (jobs_table("my-jobs", "My recent jobs, newest first", mine, links))
            p { a href={ "/history?user=" (me.username) } { "All my jobs" } " · " a href="/history" { "Everyone's jobs" } }
        }
    }
}

/// Who looks, and the CSRF token for their forms.
struct Viewer<'a> {
    me: &'a Me,
    csrf: &'a str,
}

/// The dashboard's button label and confirmation question for an action,
/// or `None` for the actions it leaves to the job page. The page script
/// gets the same words (`script#vocab`).
pub fn label(a: Action) -> Option<(&'static str, Option<&'static str>)> {
    match a {
        Action::Ready => Some(("Ready to deploy", None)),
        Action::Cancel => Some(("Cancel", Some("Cancel this job?"))),
        Action::Interrupt | Action::Finish | Action::Revert => None,
    }
}

impl Viewer<'_> {
    /// Whether the policy could ever let this viewer use a dashboard action
    /// on this job (its owner or an admin): only then it gets a form box.
    fn may_act(&self, job: &JobView) -> bool {
        let actor = self.me.viewer().actor(&job.owner);
        Action::ALL
            .into_iter()
            .any(|a| label(a).is_some() && a.ever_allowed(job.kind, actor))
    }

    /// The dashboard's forms this viewer may use on this job now (the job
    /// view's `actions`, decided by the policy).
    fn actions(&self, job: &JobView) -> Markup {
        let shown: Vec<Action> = job
            .actions
            .iter()
            .copied()
            .filter(|a| label(*a).is_some())
            .collect();
        html! {
            div class="actions" data-job-id=(job.id) data-actions=(action_names(&shown)) {
                @for a in &shown {
                    @if let Some((text, confirm)) = label(*a) {
                        (self.form(job.id, a.as_str(), text, confirm))
                    }
                }
            }
        }
    }

    fn form(&self, id: u64, action: &str, label: &str, confirm: Option<&str>) -> Markup {
        html! {
            form method="post" action={ "/jobs/" (id) "/" (action) } class="action" data-action=(action) {
                input type="hidden" name="csrf" value=(self.csrf);
                button type="submit" data-action=(action) data-confirm=[confirm]
                    class=[(action == "ready").then_some("primary")]
                    aria-label={ (label) " (job " (id) ")" } { (label) }
            }
        }
    }
}

/// "Your job #8 is 2nd in the queue." and the like.
fn place_text(me: &Me, queue: &QueueView) -> String {
    if let Some(a) = queue.active.as_ref().filter(|a| a.owner == me.username) {
        return if a.state == JobState::AwaitingReady {
            format!(
                "It is your turn: job #{} is waiting for you to say you are ready.",
                a.id
            )
        } else {
            format!("Your job #{} is the current deployment.", a.id)
        };
    }
    match queue.queued.iter().find(|j| j.owner == me.username) {
        Some(j) => format!(
            "Your job #{} is number {} in the queue.",
            j.id,
            j.queue_position.unwrap_or_default()
        ),
        None => "You have no job in the queue.".to_string(),
    }
}

fn active_job(viewer: &Viewer<'_>, active: Option<&JobView>, links: &Links) -> Markup {
    let id = active.map(|j| j.id);
    html! {
        section id="active-job" class="card" data-job=[id] data-job-id=[id] aria-labelledby="active-heading" {
            h2 id="active-heading" { "Deploying now" }
            @match active {
                None => p class="none" { "Nobody is deploying; the lock is free." },
                Some(j) => {
                    p {
                        (job_link(j.id)) " by " span class="owner" { (j.owner) }
                        ": " span class="changes" { (links.changes(&j.changes)) }
                    }
                    p {
                        "State: " (state_badge(j.state)) " · Stage: "
                        span class="stage" data-stage=(j.stage) { (j.stage.words()) }
                    }
                    p id="active-status" class="status-line" { (j.status_line) }
                    @if viewer.may_act(j) { (viewer.actions(j)) }
                }
            }
        }
    }
}

fn queue_table(viewer: &Viewer<'_>, queued: &[JobView], links: &Links) -> Markup {
    html! {
        table id="queue" class="jobs" data-change-url=(links.change_base()) {
            caption { "Jobs waiting for the deployment lock, first in line first" }
            thead { tr {
                th scope="col" { "Place" } th scope="col" { "Job" } th scope="col" { "Owner" }
                th scope="col" { "Changes" } th scope="col" { "State" } th scope="col" { "Queued at" }
                th scope="col" { span class="visually-hidden" { "Actions" } }
            } }
            tbody {
                @for j in queued {
                    @let mine = j.owner == viewer.me.username;
                    tr data-job=(j.id) data-state=(j.state) class=[mine.then_some("mine")] {
                        td class="place" { (j.queue_position.map(|p| p.to_string()).unwrap_or_default()) }
                        td { (job_link(j.id)) }
                        td class="owner" { (j.owner) @if mine { " (you)" } }
                        td class="changes" { (links.changes(&j.changes)) }
                        td { (state_badge(j.state)) }
                        td { (time(j.created_at_ms)) }
                        td class="actions" { @if viewer.may_act(j) { (viewer.actions(j)) } }
                    }
                }
                @if queued.is_empty() {
                    tr class="empty" { td colspan="7" { "The queue is empty." } }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::test_support::{links, signed_in};
    use spiderpig_proto::v1 as pb;

    fn me(name: &str) -> Me {
        signed_in(name, false)
    }

    /// A job as ann sees it.
    fn job(id: u64, owner: &str, state: pb::JobState, pos: u32) -> JobView {
        let j = pb::Job {
            id,
            owner: owner.into(),
            state: state as i32,
            kind: pb::JobKind::Backport as i32,
            stage: pb::Stage::Canaries as i32,
            queue_position: pos,
            changes: vec![12345],
            created_at_ms: 1_000,
            status_line: "<b>syncing</b>".into(),
            ..Default::default()
        };
        views::job(&j, &me("ann").viewer()).unwrap()
    }

    #[test]
    fn shows_freeze_lock_holder_and_queue() {
        let q = QueueView {
            active: Some(job(7, "bob", pb::JobState::Running, 0)),
            queued: vec![
                job(8, "ann", pb::JobState::Queued, 1),
                job(9, "<eve>", pb::JobState::Queued, 2),
            ],
            freeze: views::freeze(Some(&pb::Freeze {
                active: true,
                reason: "<script>x</script> T42".into(),
                by: "root".into(),
                since_ms: 1,
                until_ms: 0,
            })),
        };
        let html = render(&me("ann"), "tok", &q, &[], &links()).into_string();
        assert!(
            html.contains(r#"<div id="freeze-banner" class="banner warn" role="status">"#),
            "{html}"
        );
        assert!(html.contains(
            "&lt;script&gt;x&lt;/script&gt; <a href=\"https://phab.example.org/T42\">T42</a>"
        ));
        assert!(html.contains("until unfrozen"));
        assert!(
            html.contains(r#"<section id="active-job" class="card" data-job="7" data-job-id="7""#)
        );
        assert!(html.contains(r#"<p id="my-place">Your job #8 is number 1 in the queue.</p>"#));
        assert!(html.contains(
            r#"<table id="queue" class="jobs" data-change-url="https://gerrit.example.org/r/">"#
        ));
        assert!(html.contains(
            r#"<form method="post" action="/jobs/8/cancel" class="action" data-action="cancel">"#
        ));
        assert!(
            !html.contains("/jobs/9/cancel"),
            "only the viewer's own jobs get forms"
        );
        assert!(
            !html.contains("/jobs/7/"),
            "bob's running job has no form for ann"
        );
        assert!(html.contains(r#"data-stage="canaries">Canaries<"#));
        assert!(html.contains("&lt;b&gt;syncing&lt;/b&gt;"));
        assert!(html.contains(r#"<tr data-job="8" data-state="queued" class="mine">"#));
        assert!(html.contains("ann (you)"));
        assert!(html.contains("&lt;eve&gt;"));
        assert!(!html.contains("<eve>"));
        assert!(html.contains(r#"href="https://gerrit.example.org/r/12345""#));
        assert!(html.contains(r#"<table id="my-jobs""#));
        assert!(html.contains(r#"href="/deploy/new""#));
    }

    #[test]
    fn no_freeze_and_no_lock_holder() {
        let q = QueueView {
            active: None,
            queued: vec![],
            freeze: views::freeze(None),
        };
        let html = render(&me("ann"), "tok", &q, &[], &links()).into_string();
        assert!(
            html.contains(r#"<div id="freeze-banner" class="banner warn" role="status" hidden>"#),
            "{html}"
        );
        assert!(html.contains(r#"<section id="active-job" class="card" aria-labelledby"#));
        assert!(html.contains("The queue is empty."));
        assert!(html.contains("No jobs."));
        assert!(html.contains("You have no job in the queue."));
    }
}
