//! The job page's markup (pure functions, tested without a server). Trust:
//! prompt texts, labels, outcomes and log lines come from scap through the
//! executor; they are stripped of terminal controls and escaped by maud.

use maud::{Markup, html};
use spiderpig_policy::{Action, Actor, JobEvent, JobState, Stage, may, strip_terminal_controls};

use super::log::Excerpt;
use crate::auth::Me;
use crate::links::Links;
use crate::pages::parts::{action_names, error_banner, freeze_banner, job_link, state_badge, time};
use crate::views::{FreezeView, JobView, PromptView};

/// Everything the page shows.
pub struct JobPage<'a> {
    pub job: &'a JobView,
    pub viewer: &'a Me,
    pub csrf: &'a str,
    pub links: &'a Links,
    pub log: &'a Excerpt,
    pub error: Option<&'a str>,
}

impl JobPage<'_> {
    fn is_owner(&self) -> bool {
        self.viewer.username == self.job.owner
    }

    fn actor(&self) -> Actor {
        Actor::relative(&self.viewer.username, self.viewer.is_admin, &self.job.owner)
    }

    /// May the viewer answer this job's prompts (the policy's rule; the
    /// executor decides again, this only hides forms that would be refused)?
    fn may_drive(&self) -> bool {
        may(
            JobState::AwaitingInput,
            JobEvent::PromptAnswered,
            self.actor(),
        )
    }
}

/// The whole page body.
pub fn render(p: &JobPage<'_>) -> Markup {
    let j = p.job;
    // Hidden until the socket's first `queue` frame says there is a freeze.
    let no_freeze = FreezeView {
        active: false,
        reason: String::new(),
        by: String::new(),
        since_ms: 0,
        until_ms: None,
    };
    html! {
        (error_banner(p.error))
        (freeze_banner(&no_freeze, p.links))
        section id="job" class="card" data-job=(j.id) data-job-id=(j.id) data-owner=(j.owner) data-kind=(j.kind)
            data-state=(j.state) data-can-act=(p.may_drive()) aria-labelledby="job-heading" {
            h1 id="job-heading" {
                "Job #" (j.id) ": " (j.kind)
            }
            (facts(p))
        }
        (stage_strip(j.stage))
        (progress(j))
        (prompt(p))
        (actions(p))
        (terminal(p))
    }
}

fn facts(p: &JobPage<'_>) -> Markup {
    let j = p.job;
    html! {
        dl class="facts" {
            dt { "Owner" } dd id="job-owner" { (j.owner) @if p.is_owner() { " (you)" } }
            dt { "Kind" } dd id="job-kind" {
                (j.kind) @if let Some(r) = j.reverts_job { " of " (job_link(r)) }
            }
            dt { "Changes" } dd id="job-changes" { (p.links.changes(&j.changes)) }
            dt { "State" } dd id="job-state" data-state=(j.state) { (state_badge(j.state)) }
            @if let Some(place) = j.queue_position {
                dt { "Place in queue" } dd id="job-place" { (place) }
            }
            @if let Some(deadline) = j.ready_deadline_ms.filter(|_| j.state == JobState::AwaitingReady) {
                dt { "Ready by" } dd id="job-ready-deadline" { (time(deadline)) }
            }
            dt { "Status" } dd id="status-line" { (strip_terminal_controls(&j.status_line)) }
            dt { "Outcome" } dd id="job-outcome" { (p.links.text(&j.outcome)) }
            dt { "Exit code" } dd id="job-exit-code" {
                @match j.exit_code { Some(c) => (c), None => "—" }
            }
            dt { "Queued" } dd id="job-created" { (time(j.created_at_ms)) }
            dt { "Started" } dd id="job-started" { (time(j.started_at_ms.unwrap_or(0))) }
            dt { "Ended" } dd id="job-ended" { (time(j.ended_at_ms.unwrap_or(0))) }
            @if !j.finished_by.is_empty() {
                dt { "Finished by" } dd id="job-finished-by" { (j.finished_by) }
            }
        }
    }
}

/// `ol#stage-strip`: each `li[data-stage]` says in text whether it is done
/// or current; the current one has `aria-current="step"`.
pub fn stage_strip(stage: Stage) -> Markup {
    let strip: Vec<Stage> = Stage::ALL.into_iter().filter(|s| s.in_strip()).collect();
    let current = strip.iter().position(|s| *s == stage);
    html! {
        nav aria-label="Deployment stages" {
            ol id="stage-strip" class="stages" data-stage=(stage) {
                @for (i, s) in strip.iter().enumerate() {
                    @let (class, mark) = match current {
                        Some(c) if i < c => ("done", " (done)"),
                        Some(c) if i == c => ("current", " (current)"),
                        _ => ("pending", ""),
                    };
                    li data-stage=(s) class=(class) aria-current=[(class == "current").then_some("step")] {
                        (s.words()) span class="stage-mark" { (mark) }
                    }
                }
            }
        }
    }
}

fn progress(j: &JobView) -> Markup {
    html! {
        div id="progress-box" class="progress" hidden[j.progress.is_none()] {
            label for="progress" id="progress-label" {
                @if let Some(p) = &j.progress {
                    (strip_terminal_controls(&p.name)) ": " (p.ok) " of " (p.total) " done"
                    @if p.failed > 0 { ", " (p.failed) " failed" }
                } @else { "Progress" }
            }
            @match &j.progress {
                Some(p) => progress id="progress" max="100" value=(format!("{:.0}", p.percent.clamp(0.0, 100.0))) {
                    (format!("{:.0}%", p.percent.clamp(0.0, 100.0)))
                },
                None => progress id="progress" max="100" {},
            }
        }
    }
}

/// scap's text without terminal controls, line by line.
fn plain(text: &str) -> String {
    text.split('\n')
        .map(strip_terminal_controls)
        .collect::<Vec<_>>()
        .join("\n")
}

fn prompt(p: &JobPage<'_>) -> Markup {
    let pending = p.job.prompt.as_ref();
    html! {
        section id="prompt" class="card prompt" data-prompt=[pending.map(|q| q.id)]
            hidden[pending.is_none()] aria-live="polite" aria-labelledby="prompt-heading" {
            h2 id="prompt-heading" { "scap asks" }
            @if let Some(q) = pending {
                pre id="prompt-text" class="prompt-text" { (plain(&q.text)) }
                @if p.may_drive() {
                    (prompt_form(p, q))
                } @else {
                    p class="waiting" { "Waiting for " (p.job.owner) " to answer." }
                }
            }
        }
    }
}

fn prompt_form(p: &JobPage<'_>, q: &PromptView) -> Markup {
    html! {
        form id="prompt-form" method="post" action={ "/jobs/" (p.job.id) "/respond" } {
            input type="hidden" name="csrf" value=(p.csrf);
            input type="hidden" name="prompt_id" value=(q.id);
            @if q.kind == "input_line" {
                label for="prompt-line" { "Your answer" }
                input id="prompt-line" name="line" maxlength="200" autocomplete="off";
                button type="submit" class="primary" { "Send" }
            } @else {
                div class="choices" {
                    @for c in &q.choices {
                        @let default = q.default_key.as_deref() == Some(c.key.as_str());
                        button type="submit" name="key" value=(c.key)
                            class=[default.then_some("primary")] data-default=[default.then_some("true")] {
                            (plain(&c.label)) @if default { " (default)" }
                        }
                    }
                }
            }
        }
    }
}

/// An action form's button label and the question asked before it is sent
/// (`data-confirm`; the revert form asks for a TOTP code instead).
fn label(a: Action) -> (&'static str, Option<&'static str>) {
    match a {
        Action::Ready => ("Ready to deploy", None),
        Action::Cancel => ("Cancel job", Some("Cancel this job?")),
        Action::Interrupt => (
            "Interrupt scap",
            Some("Send SIGINT to scap? It stops where it is."),
        ),
        Action::Finish => (
            "Finish deployment",
            Some("Have you checked production? Finishing frees the lock for the next deployer."),
        ),
        Action::Revert => ("Revert these changes", None),
    }
}

/// `#actions[data-actions]`: a form per action the policy could ever allow
/// this viewer on this kind of job; `hidden` unless it is among the
/// actions allowed now (`data-actions`, the job view's `actions`).
fn actions(p: &JobPage<'_>) -> Markup {
    let j = p.job;
    let offered = Action::ALL
        .into_iter()
        .filter(|a| a.ever_allowed(j.kind, p.actor()));
    html! {
        section id="actions" class="actions" data-job-id=(j.id) data-actions=(action_names(&j.actions))
            aria-label="Job actions" {
            @for a in offered {
                @let (text, confirm) = label(a);
                form method="post" action={ "/jobs/" (j.id) "/" (a) } class="action" data-action=(a)
                    hidden[!j.actions.contains(&a)] {
                    input type="hidden" name="csrf" value=(p.csrf);
                    @if a == Action::Revert {
                        label for="revert-totp" { "TOTP code" }
                        input id="revert-totp" name="totp" inputmode="numeric" autocomplete="one-time-code"
                            pattern="[0-9]{6}" maxlength="6" required;
                        button type="submit" { (text) }
                    } @else {
                        button type="submit" class=[(a == Action::Ready).then_some("primary")] data-action=(a)
                            data-confirm=[confirm] { (text) }
                    }
                }
            }
        }
    }
}

fn terminal(p: &JobPage<'_>) -> Markup {
    let j = p.job;
    html! {
        section class="card" aria-labelledby="log-heading" {
            h2 id="log-heading" { "Output" }
            div id="terminal" class="terminal" data-job=(j.id) data-last-seq=(j.last_seq) {}
            noscript {
                @if let Some(e) = &p.log.error {
                    p class="error" { "The log could not be read: " (e) }
                }
                @if p.log.earlier {
                    p { "Earlier lines are in the downloaded log." }
                }
                pre id="log-text" class="log" { (p.log.text) }
            }
            p { a id="log-download" href={ "/jobs/" (j.id) "/log.txt" } { "Download the whole log (text)" } }
        }
    }
}
