//! `POST /api/jobs/{id}/{ready,cancel,interrupt,finish,revert,respond}`.
//! Trust: bodies are untrusted; each verb is forwarded with the person's
//! token and the executor decides whether they may (owner, admin, state).
//! The checks before forwarding are the [`StateChange`] extractor's.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;

use super::ApiResult;
use super::calls::{Action, Caller, answer, job_id, prompt_id, totp};
use super::jobs::created;
use super::viewer;
use crate::extract::{Api, StateChange};
use crate::state::AppState;
use crate::views::{self, JobView};

/// The body of the verbs that take nothing: empty or `{}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoFields {}

/// A change to job `id` by one of the verbs that take nothing.
async fn act(
    state: &AppState,
    change: StateChange<Api, NoFields>,
    id: &str,
    action: Action,
) -> ApiResult<Json<JobView>> {
    let id = job_id(id)?;
    let job = Caller::new(state, &change.origin, &change.who)
        .act(action, id)
        .await?;
    let viewer = viewer(state, &change.who, &change.origin).await?;
    Ok(Json(views::job(&job, &viewer)?))
}

/// `POST /api/jobs/{id}/ready`
pub async fn ready(
    State(state): State<AppState>,
    Path(id): Path<String>,
    change: StateChange<Api, NoFields>,
) -> ApiResult<Json<JobView>> {
    act(&state, change, &id, Action::Ready).await
}

/// `POST /api/jobs/{id}/cancel`
pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    change: StateChange<Api, NoFields>,
) -> ApiResult<Json<JobView>> {
    act(&state, change, &id, Action::Cancel).await
}

/// `POST /api/jobs/{id}/interrupt`
pub async fn interrupt(
    State(state): State<AppState>,
    Path(id): Path<String>,
    change: StateChange<Api, NoFields>,
) -> ApiResult<Json<JobView>> {
    act(&state, change, &id, Action::Interrupt).await
}

/// `POST /api/jobs/{id}/finish`
pub async fn finish(
    State(state): State<AppState>,
    Path(id): Path<String>,
    change: StateChange<Api, NoFields>,
) -> ApiResult<Json<JobView>> {
    act(&state, change, &id, Action::Finish).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevertBody {
    totp: String,
}

/// `POST /api/jobs/{id}/revert` `{"totp": "123456"}` → 201 and the new job.
pub async fn revert(
    State(state): State<AppState>,
    Path(id): Path<String>,
    change: StateChange<Api, RevertBody>,
) -> ApiResult<Response> {
    let id = job_id(&id)?;
    let code = totp(&change.body.totp)?;
    let job = Caller::new(&state, &change.origin, &change.who)
        .revert(id, &code)
        .await?;
    let viewer = viewer(&state, &change.who, &change.origin).await?;
    Ok(created(views::job(&job, &viewer)?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RespondBody {
    prompt_id: u64,
    key: Option<String>,
    line: Option<String>,
}

/// `POST /api/jobs/{id}/respond` `{"prompt_id": n, "key": "y"}` or
/// `{"prompt_id": n, "line": "..."}`.
pub async fn respond(
    State(state): State<AppState>,
    Path(id): Path<String>,
    change: StateChange<Api, RespondBody>,
) -> ApiResult<Json<JobView>> {
    let id = job_id(&id)?;
    let body = &change.body;
    let prompt = prompt_id(body.prompt_id)?;
    let answer = answer(body.key.as_deref(), body.line.as_deref())?;
    let job = Caller::new(&state, &change.origin, &change.who)
        .respond(id, prompt, answer)
        .await?;
    let viewer = viewer(&state, &change.who, &change.origin).await?;
    Ok(Json(views::job(&job, &viewer)?))
}
