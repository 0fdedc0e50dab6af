//! The router: every route of the web process, in one table. Trust: this is
//! the internet-facing surface.

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::api::{self, actions, changes, jobs};
use crate::pages::{dashboard, deploy, history, job, login};
use crate::state::AppState;
use crate::{assets, request, security, ws};

/// Build the application (tests drive it with `oneshot`).
pub fn app(state: AppState) -> Router {
    let limits = state.config.limits.clone();
    let timeout = Duration::from_secs(state.config.timeouts.request_secs);
    Router::new()
        .route("/login", get(login::login_page))
        .route("/login/start", get(login::login_start))
        .route("/oidc/callback", get(login::callback))
        .route("/totp", get(login::totp_page).post(login::totp_submit))
        .route("/logout", post(login::logout))
        .route("/not-authorized", get(login::not_authorized))
        // Pages (state changes are POST forms, Origin- and CSRF-checked).
        .route("/", get(dashboard::dashboard))
        .route("/deploy/new", get(deploy::new_page).post(deploy::queue))
        .route("/history", get(history::history))
        .route("/jobs/{id}", get(job::job_page))
        .route("/jobs/{id}/log.txt", get(job::log_txt))
        .route("/jobs/{id}/ready", post(job::ready))
        .route("/jobs/{id}/cancel", post(job::cancel))
        .route("/jobs/{id}/interrupt", post(job::interrupt))
        .route("/jobs/{id}/finish", post(job::finish))
        .route("/jobs/{id}/revert", post(job::revert))
        .route("/jobs/{id}/respond", post(job::respond))
        // The JSON API (docs/API.md): 401 JSON, never a redirect.
        .route("/api/me", get(api::me))
        .route("/api/queue", get(api::queue))
        .route("/api/changes", get(changes::check))
        .route("/api/jobs", get(jobs::list).post(jobs::submit))
        .route("/api/jobs/{id}", get(jobs::get))
        .route("/api/jobs/{id}/log", get(jobs::log))
        .route("/api/jobs/{id}/ready", post(actions::ready))
        .route("/api/jobs/{id}/cancel", post(actions::cancel))
        .route("/api/jobs/{id}/interrupt", post(actions::interrupt))
        .route("/api/jobs/{id}/finish", post(actions::finish))
        .route("/api/jobs/{id}/revert", post(actions::revert))
        .route("/api/jobs/{id}/respond", post(actions::respond))
        .route("/ws", get(ws::upgrade))
        .route("/assets/{name}", get(assets::serve))
        .route("/healthz", get(|| async { "ok" }))
        .fallback(not_found)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(DefaultBodyLimit::max(limits.body_bytes))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security::headers,
        ))
        // Outermost: every request, even a refused one, has its id and a span.
        .layer(TraceLayer::new_for_http().make_span_with(request::span))
        .layer(middleware::from_fn(request::assign_id))
        .with_state(state)
}

async fn not_found() -> impl IntoResponse {
    (StatusCode::NOT_FOUND, "not found")
}
