//! Pieces shared by the signed-in pages: asking who is there (or sending
//! them to sign in), rendering with the CSRF cookie, error pages, times,
//! state badges (the words are the policy's) and the job table. Trust:
//! every value is escaped by maud.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{Markup, html};
use spiderpig_policy::time as policy_time;
use spiderpig_policy::{Action, JobState};

use super::layout::{Frame, document, message};
use super::login::{redirect_for, respond};
use crate::auth::{Me, who};
use crate::error::WebError;
use crate::executor::RequestContext;
use crate::links::Links;
use crate::request::csrf_token;
use crate::state::AppState;
use crate::views::{FreezeView, JobView};

/// What every page response needs besides its body.
pub struct Page {
    pub csrf: String,
    set_cookie: Option<String>,
    pub links: Links,
}

impl Page {
    /// Before knowing who asks (no executor call).
    pub fn anonymous(state: &AppState, headers: &HeaderMap) -> Page {
        let (csrf, set_cookie) = csrf_token(headers);
        Page {
            csrf,
            set_cookie,
            links: Links::from_state(state),
        }
    }

    /// Ask the executor who holds the session cookie (`need_totp`: and has
    /// passed TOTP). Not signed in → 303 `/login`; TOTP pending → 303
    /// `/totp`; executor down → a 503 page that says so. Handlers get this
    /// through the `SignedIn` and `StateChange` extractors.
    pub async fn open(
        state: &AppState,
        headers: &HeaderMap,
        origin: &RequestContext,
        need_totp: bool,
    ) -> Result<(Page, Me), Response> {
        let page = Page::anonymous(state, headers);
        match who(state, headers, origin, need_totp).await {
            Ok(me) => Ok((page, me)),
            Err(e) => Err(page.fail(None, e)),
        }
    }

    pub fn render(
        &self,
        me: Option<&Me>,
        status: StatusCode,
        title: &str,
        name: &str,
        body: Markup,
    ) -> Response {
        let frame = Frame {
            title,
            me,
            csrf: &self.csrf,
            page: name,
        };
        respond(status, self.set_cookie.clone(), document(&frame, body))
    }

    /// The response for an error: a redirect to sign in, or a page with the
    /// message and the error's status.
    pub fn fail(&self, me: Option<&Me>, e: WebError) -> Response {
        if let Some(r) = redirect_for(&e) {
            return r;
        }
        e.log_internal();
        let heading = match &e {
            WebError::ExecutorDown => "SpiderPig is unavailable",
            WebError::NotFound(_) => "Not found",
            WebError::BadRequest(_) => "Bad request",
            WebError::CrossSite(_) | WebError::Forbidden(_) | WebError::NotAuthorized => {
                "Not allowed"
            }
            _ => "Something went wrong",
        };
        let frame = Frame {
            title: heading,
            me,
            csrf: &self.csrf,
            page: "message",
        };
        respond(
            e.status(),
            self.set_cookie.clone(),
            message(&frame, heading, &e.to_string()),
        )
    }
}

/// An error message at the top of a page (`#page-error`).
pub fn error_banner(error: Option<&str>) -> Markup {
    html! {
        @if let Some(e) = error {
            p id="page-error" class="banner error" role="alert" { (e) }
        }
    }
}

/// A time for people (UTC) with a machine-readable `datetime` the page
/// script may show in local time; "—" for 0.
pub fn time(ms: i64) -> Markup {
    match utc(ms) {
        Some((iso, human)) => html! { time datetime=(iso) { (human) } },
        None => html! { "—" },
    }
}

/// `(2024-05-01T12:34:56Z, 2024-05-01 12:34:56 UTC)`, or `None` for ≤ 0
/// (no time yet). The calendar arithmetic is `policy`'s.
pub fn utc(ms: i64) -> Option<(String, String)> {
    (ms > 0).then(|| (policy_time::rfc3339(ms), policy_time::utc(ms)))
}

/// A state badge: `span.state[data-state]` with the state in words (never
/// only a colour).
pub fn state_badge(state: JobState) -> Markup {
    html! { span class={ "state state-" (state) } data-state=(state) { (state.words()) } }
}

/// Actions, space separated, for a `data-actions` attribute.
pub fn action_names(actions: &[Action]) -> String {
    let names: Vec<&str> = actions.iter().map(|a| a.as_str()).collect();
    names.join(" ")
}

/// `#freeze-banner`: always present on the dashboard and job pages so the
/// script can show it (from `queue` and `freeze` frames); `hidden` without a
/// freeze.
pub fn freeze_banner(f: &FreezeView, links: &Links) -> Markup {
    html! {
        div id="freeze-banner" class="banner warn" role="status" hidden[!f.active] {
            strong { "Deployments are frozen." } " "
            span id="freeze-reason" { (links.text(&f.reason)) }
            " — by " span id="freeze-by" { (f.by) } ", "
            span id="freeze-until" {
                @match f.until_ms {
                    Some(ms) => { "until " (time(ms)) },
                    None => "until unfrozen",
                }
            }
            "."
        }
    }
}

/// `span.exit-failed` after the state when scap exited with a failure
/// (e.g. after a roll-back): "Done" alone would read as a success.
pub fn exit_mark(exit_code: Option<i32>) -> Markup {
    html! {
        @if let Some(code) = exit_code.filter(|c| *c != 0) {
            " " span class="exit-failed" { "scap exit " (code) }
        }
    }
}

/// A job's link, `#N`.
pub fn job_link(id: u64) -> Markup {
    html! { a class="job-link" href={ "/jobs/" (id) } { "#" (id) } }
}

/// The history table (dashboard "my jobs" and `/history`): rows
/// `tr[data-job]`, an empty table says so in a row `tr.empty`.
pub fn jobs_table(id: &str, caption: &str, jobs: &[JobView], links: &Links) -> Markup {
    html! {
        table id=(id) class="jobs" {
            caption { (caption) }
            thead { tr {
                th scope="col" { "Job" } th scope="col" { "Owner" } th scope="col" { "Kind" }
                th scope="col" { "Changes" } th scope="col" { "State" } th scope="col" { "Created" }
                th scope="col" { "Outcome" }
            } }
            tbody {
                @for j in jobs {
                    tr data-job=(j.id) data-state=(j.state) {
                        td { (job_link(j.id)) }
                        td class="owner" { (j.owner) }
                        td { (j.kind) @if let Some(r) = j.reverts_job { " of " (job_link(r)) } }
                        td class="changes" { (links.changes(&j.changes)) }
                        td {
                            (state_badge(j.state))
                            (exit_mark(j.exit_code))
                        }
                        td { (time(j.created_at_ms)) }
                        td class="outcome" { (links.text(&j.outcome)) }
                    }
                }
                @if jobs.is_empty() {
                    tr class="empty" { td colspan="7" { "No jobs." } }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc() {
        assert_eq!(utc(0), None);
        assert_eq!(
            utc(1_714_566_896_789).unwrap(),
            (
                "2024-05-01T12:34:56Z".to_string(),
                "2024-05-01 12:34:56 UTC".to_string()
            )
        );
        assert_eq!(utc(951_782_400_000).unwrap().0, "2000-02-29T00:00:00Z");
        assert_eq!(utc(1).unwrap().0, "1970-01-01T00:00:00Z");
        assert_eq!(time(0).into_string(), "—");
        assert!(
            time(1_000)
                .into_string()
                .starts_with("<time datetime=\"1970-01-01T00:00:01Z\">")
        );
    }

    #[test]
    fn a_failed_exit_is_marked_and_success_or_none_is_not() {
        assert_eq!(
            exit_mark(Some(1)).into_string(),
            r#" <span class="exit-failed">scap exit 1</span>"#
        );
        assert_eq!(exit_mark(Some(0)).into_string(), "");
        assert_eq!(exit_mark(None).into_string(), "");
    }
}
