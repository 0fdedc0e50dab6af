//! `/jobs/{id}`: one job — its facts, stage, progress, the pending prompt,
//! the actions the viewer may take, and its output — plus the form
//! fallbacks `POST /jobs/{id}/{ready,cancel,interrupt,finish,revert,respond}`
//! and the log download `/jobs/{id}/log.txt`. Trust: path segments and form
//! fields are untrusted and checked into typed values; every state change
//! passes the Origin and CSRF checks before any RPC; the executor decides
//! who may do what.
//!
//! # DOM contract (for the page scripts in `assets/src/`; `body[data-page=job]`)
//!
//! - `#page-error` (`p[role=alert]`): present only after a refused action.
//! - `section#job`: `data-job` and `data-job-id` (the id), `data-owner`,
//!   `data-kind` (`backport`|`revert`), `data-state` (state name),
//!   `data-can-act` (`true` when the policy lets the viewer answer the
//!   job's prompts: the owner or an admin; the executor decides again).
//!   Inside, a `dl` with
//!   `#job-owner`, `#job-kind`, `#job-changes` (links `a.change`),
//!   `#job-state[data-state]` (holding `span.state[data-state]` with the
//!   state in words), `#job-place` (only while queued), `#job-ready-deadline`
//!   (only while awaiting ready), `#status-line`, `#job-outcome`,
//!   `#job-exit-code`, `#job-created`, `#job-started`, `#job-ended`
//!   (`time[datetime]` or "—"), `#job-finished-by` (once finished).
//! - `ol#stage-strip[data-stage]`: `li[data-stage]` for merge, prepare,
//!   test_servers, canaries, production, complete; class `done`, `current`
//!   (with `aria-current="step"`) or `pending`; `span.stage-mark` holds the
//!   text " (done)" / " (current)" / "".
//! - `#progress-box` (`hidden` without progress): `label#progress-label`
//!   and `progress#progress[max=100]` (`value` = percent when known).
//! - `section#prompt` (`hidden` when nothing is pending; `data-prompt` =
//!   prompt id): `pre#prompt-text` (scap's text, escaped, pre-wrapped). For
//!   the owner or an admin, `form#prompt-form` POST `/jobs/{id}/respond`
//!   (urlencoded) with hidden `csrf` and `prompt_id`, then either one
//!   `button[name=key][value=<key>]` per choice (scap's label; the default
//!   has `data-default="true"`), or for input-line prompts
//!   `input#prompt-line[name=line]` and a submit button. Others see
//!   `p.waiting` ("Waiting for <owner> to answer.").
//! - `section#actions[data-job-id][data-actions]`: `data-actions` lists
//!   (space separated) the actions the viewer may take now, as the policy
//!   decides (`policy::actions_for`; the same list as the job view's JSON
//!   `actions`). Inside, `form.action[data-action]` POST
//!   `/jobs/{id}/<action>` with hidden `csrf`, one for each action the
//!   policy could ever allow this viewer on this job (`ready`: owner;
//!   `cancel`, `interrupt`, `finish`: owner or admin; `revert`: anyone,
//!   backports only, with `input#revert-totp[name=totp]`); a form is
//!   `hidden` unless its action is in `data-actions`. The submit buttons of ready,
//!   cancel, interrupt and finish also carry `data-action` (and cancel,
//!   interrupt and finish a `data-confirm` question), so a script can send
//!   them to the JSON API instead; the revert button has no `data-action`
//!   (it needs the TOTP field).
//! - `div#terminal[data-job][data-last-seq]`: empty; the script mounts
//!   xterm.js here. `data-last-seq` is the job's highest log sequence number
//!   when the page was rendered. Without JavaScript, `noscript` holds
//!   `pre#log-text` (the latest records, controls stripped).
//! - `a#log-download`: `/jobs/{id}/log.txt`.
//!
//! Every action answers 303 to the job page (a revert: to the new job); a
//! refusal re-renders the job page with `#page-error` and the error's status.

mod log;
mod render;
#[cfg(test)]
mod tests;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use spiderpig_policy::JobId;

pub use self::log::download as log_txt;
use self::render::JobPage;
use super::parts::Page;
use crate::api::calls::{Action, Caller, answer, job_id, prompt_id, totp};
use crate::auth::Me;
use crate::error::WebError;
use crate::executor::RequestContext;
use crate::extract::{CsrfField, Html, SignedIn, StateChange};
use crate::state::AppState;
use crate::views;

/// `GET /jobs/{id}`
pub async fn job_page(
    State(state): State<AppState>,
    SignedIn {
        who: (page, me),
        origin,
    }: SignedIn<Html>,
    Path(id): Path<String>,
) -> Response {
    match job_id(&id) {
        Ok(id) => show(&state, &origin, &page, &me, id, StatusCode::OK, None).await,
        Err(e) => page.fail(Some(&me), e),
    }
}

/// Render the job page, with an error message from a refused action.
async fn show(
    state: &AppState,
    origin: &RequestContext,
    page: &Page,
    me: &Me,
    id: JobId,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let caller = Caller::new(state, origin, &me.token);
    let job = match caller
        .job(id)
        .await
        .and_then(|j| views::job(&j, &me.viewer()))
    {
        Ok(j) => j,
        Err(e) => return page.fail(Some(me), e),
    };
    let excerpt = log::excerpt(&caller, id, job.last_seq).await;
    let body = render::render(&JobPage {
        job: &job,
        viewer: me,
        csrf: &page.csrf,
        links: &page.links,
        log: &excerpt,
        error: error.as_deref(),
    });
    page.render(Some(me), status, &format!("Job #{id}"), "job", body)
}

/// The fields of every action form (each uses some of them).
#[derive(Debug, Default, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    prompt_id: String,
    key: Option<String>,
    line: Option<String>,
    #[serde(default)]
    totp: String,
}

/// What a form asks for.
#[derive(Debug, Clone, Copy)]
enum Verb {
    Simple(Action),
    Revert,
    Respond,
}

async fn perform(
    caller: &Caller,
    id: JobId,
    verb: Verb,
    form: &ActionForm,
) -> Result<u64, WebError> {
    let job = match verb {
        Verb::Simple(action) => caller.act(action, id).await?,
        Verb::Revert => caller.revert(id, &totp(&form.totp)?).await?,
        Verb::Respond => {
            let prompt = form
                .prompt_id
                .parse::<u64>()
                .map_err(|_| WebError::BadRequest("a prompt id is a positive number".into()))
                .and_then(prompt_id)?;
            let answer = answer(form.key.as_deref(), form.line.as_deref())?;
            caller.respond(id, prompt, answer).await?
        }
    };
    Ok(job.id)
}

impl CsrfField for ActionForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Job `id`'s form `verb`: 303 back to the job (or to a revert's new job),
/// or the job page with the refusal.
async fn post(
    state: AppState,
    change: StateChange<Html, ActionForm>,
    id: String,
    verb: Verb,
) -> Response {
    let StateChange {
        who: (page, me),
        origin,
        body: form,
    } = change;
    let id = match job_id(&id) {
        Ok(id) => id,
        Err(e) => return page.fail(Some(&me), e),
    };
    let caller = Caller::new(&state, &origin, &me.token);
    match perform(&caller, id, verb, &form).await {
        Ok(shown) => Redirect::to(&format!("/jobs/{shown}")).into_response(),
        Err(e @ (WebError::Unauthenticated | WebError::TotpRequired | WebError::ExecutorDown)) => {
            page.fail(Some(&me), e)
        }
        Err(e) => {
            let status = e.status();
            show(&state, &origin, &page, &me, id, status, Some(e.to_string())).await
        }
    }
}

/// `POST /jobs/{id}/ready`
pub async fn ready(
    State(state): State<AppState>,
    Path(id): Path<String>,
    change: StateChange<Html, ActionForm>,
) -> Response {
    post(state, change, id, Verb::Simple(Action::Ready)).await
}

/// `POST /jobs/{id}/cancel`
pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    change: StateChange<Html, ActionForm>,
) -> Response {
    post(state, change, id, Verb::Simple(Action::Cancel)).await
}

/// `POST /jobs/{id}/interrupt`
pub async fn interrupt(
    State(state): State<AppState>,
    Path(id): Path<String>,
    change: StateChange<Html, ActionForm>,
) -> Response {
    post(state, change, id, Verb::Simple(Action::Interrupt)).await
}

/// `POST /jobs/{id}/finish`
pub async fn finish(
    State(state): State<AppState>,
    Path(id): Path<String>,
    change: StateChange<Html, ActionForm>,
) -> Response {
    post(state, change, id, Verb::Simple(Action::Finish)).await
}

/// `POST /jobs/{id}/revert` (with `totp`)
pub async fn revert(
    State(state): State<AppState>,
    Path(id): Path<String>,
    change: StateChange<Html, ActionForm>,
) -> Response {
    post(state, change, id, Verb::Revert).await
}

/// `POST /jobs/{id}/respond` (with `prompt_id` and `key` or `line`)
pub async fn respond(
    State(state): State<AppState>,
    Path(id): Path<String>,
    change: StateChange<Html, ActionForm>,
) -> Response {
    post(state, change, id, Verb::Respond).await
}
