//! `POST /api/jobs/{id}/{ready,cancel,interrupt,finish,revert,respond}`.
//! Trust: bodies are untrusted; each verb is forwarded with the person's
//! token and the executor decides whether they may (owner, admin, state).

use axum::Json;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use bytes::Bytes;
use serde::Deserialize;

use super::body::{ApiResult, post_json};
use super::calls::{Action, Caller, answer, job_id, prompt_id, totp};
use super::jobs::created;
use super::viewer;
use crate::request::Meta;
use crate::state::AppState;
use crate::views::{self, JobView};

/// The body of the verbs that take nothing: empty or `{}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoFields {}

async fn act(
    state: AppState,
    origin: crate::executor::Origin,
    method: Method,
    headers: HeaderMap,
    id: String,
    body: Result<Bytes, BytesRejection>,
    action: Action,
) -> ApiResult<Json<JobView>> {
    let (token, NoFields {}) = post_json(&state, &method, &headers, body)?;
    let id = job_id(&id)?;
    let job = Caller::new(&state, &origin, &token).act(action, id).await?;
    let viewer = viewer(&state, &headers, &origin).await?;
    Ok(Json(views::job(&job, &viewer)?))
}

macro_rules! action_handler {
    ($name:ident, $action:expr, $doc:literal) => {
        #[doc = $doc]
        pub async fn $name(
            State(state): State<AppState>,
            Meta(origin): Meta,
            method: Method,
            headers: HeaderMap,
            Path(id): Path<String>,
            body: Result<Bytes, BytesRejection>,
        ) -> ApiResult<Json<JobView>> {
            act(state, origin, method, headers, id, body, $action).await
        }
    };
}

action_handler!(ready, Action::Ready, "`POST /api/jobs/{id}/ready`");
action_handler!(cancel, Action::Cancel, "`POST /api/jobs/{id}/cancel`");
action_handler!(
    interrupt,
    Action::Interrupt,
    "`POST /api/jobs/{id}/interrupt`"
);
action_handler!(finish, Action::Finish, "`POST /api/jobs/{id}/finish`");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevertBody {
    totp: String,
}

/// `POST /api/jobs/{id}/revert` `{"totp": "123456"}` → 201 and the new job.
pub async fn revert(
    State(state): State<AppState>,
    Meta(origin): Meta,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let (token, body): (String, RevertBody) = post_json(&state, &method, &headers, body)?;
    let id = job_id(&id)?;
    let code = totp(&body.totp)?;
    let job = Caller::new(&state, &origin, &token)
        .revert(id, &code)
        .await?;
    let viewer = viewer(&state, &headers, &origin).await?;
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
    Meta(origin): Meta,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<JobView>> {
    let (token, body): (String, RespondBody) = post_json(&state, &method, &headers, body)?;
    let id = job_id(&id)?;
    let prompt = prompt_id(body.prompt_id)?;
    let answer = answer(body.key.as_deref(), body.line.as_deref())?;
    let job = Caller::new(&state, &origin, &token)
        .respond(id, prompt, answer)
        .await?;
    let viewer = viewer(&state, &headers, &origin).await?;
    Ok(Json(views::job(&job, &viewer)?))
}
