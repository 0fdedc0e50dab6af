//! The JSON API under `/api/` (docs/API.md). Same authorization as the
//! pages: the session cookie, checked by the executor on every call; 401
//! JSON when it is absent or dead, never a redirect. Trust: everything in a
//! request is untrusted; a refusal here means no RPC was made.
//!
//!
//! The checks every request passes (cookie; for POST: RequestContext, CSRF, size,
//! `Content-Type`, JSON shape) are the extractors of [`crate::extract`].
//!
//! - [`calls`]: the executor calls shared with the page forms.
//! - [`filters`]: history filters shared with the `/history` page.
//! - [`changes`]: change lookup (parse + Gerrit), shared with `/deploy/new`.
//! - [`jobs`]: list, read, log, submit.
//! - [`actions`]: ready, cancel, interrupt, finish, revert, respond.

pub mod actions;
pub mod calls;
pub mod changes;
pub mod filters;
pub mod jobs;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::Serialize;

use self::calls::Caller;
use spiderpig_policy::Role;

use crate::auth::{who, who_holds};
use crate::error::WebError;
use crate::executor::RequestContext;
use crate::extract::{Api, SignedIn};
use crate::state::AppState;
use crate::views::{self, QueueView, Viewer};

/// What an API handler answers: its result, or a JSON error.
pub type ApiResult<T> = Result<T, WebError>;

/// Who holds the session.
#[derive(Debug, Serialize)]
pub struct MeView {
    pub username: String,
    pub role: Role,
}

/// Who asks, for the `actions` of the job views in an answer. Called beside
/// (or after) the request's own executor call, so every refusal before it
/// still makes no RPC at all.
pub async fn viewer(
    state: &AppState,
    token: &str,
    origin: &RequestContext,
) -> Result<Viewer, WebError> {
    Ok(who_holds(state, token.to_string(), origin, true)
        .await?
        .viewer())
}

/// `GET /api/me`
pub async fn me(
    State(state): State<AppState>,
    SignedIn { origin, .. }: SignedIn<Api>,
    headers: HeaderMap,
) -> ApiResult<Json<MeView>> {
    let me = who(&state, &headers, &origin, true).await?;
    Ok(Json(MeView {
        username: me.username,
        role: if me.is_admin {
            Role::Admin
        } else {
            Role::Deployer
        },
    }))
}

/// `GET /api/queue`
pub async fn queue(
    State(state): State<AppState>,
    SignedIn { who: token, origin }: SignedIn<Api>,
) -> ApiResult<Json<QueueView>> {
    let caller = Caller::new(&state, &origin, &token);
    let (q, viewer) = tokio::join!(caller.queue(), viewer(&state, &token, &origin));
    Ok(Json(views::queue(&q?, &viewer?)?))
}
