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

use crate::pages::login;
use crate::state::AppState;
use crate::{assets, security};

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
        .route("/assets/{name}", get(assets::serve))
        .route("/healthz", get(|| async { "ok" }))
        .fallback(not_found)
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
        .layer(DefaultBodyLimit::max(limits.body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), security::headers))
        .with_state(state)
}

async fn not_found() -> impl IntoResponse {
    (StatusCode::NOT_FOUND, "not found")
}
