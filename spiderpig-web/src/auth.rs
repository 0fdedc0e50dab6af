//! Who is asking: the session cookie, checked by the executor (WhoAmI).
//! Trust: the web decides nothing; it asks.

use axum::http::HeaderMap;
use spiderpig_proto::v1 as pb;

use crate::cookies;
use crate::error::WebError;
use crate::executor::{RequestContext, Session};
use crate::state::AppState;
use crate::views::Viewer;

/// The signed-in person, as the executor says.
#[derive(Clone, Debug)]
pub struct Me {
    pub token: String,
    pub username: String,
    pub is_admin: bool,
    pub totp_passed: bool,
    pub totp_enrolled: bool,
}

impl Me {
    /// The person, for the actions their job views carry.
    pub fn viewer(&self) -> Viewer {
        Viewer {
            username: self.username.clone(),
            is_admin: self.is_admin,
        }
    }
}

/// Ask the executor who holds the session cookie. `need_totp`: refuse a
/// session that has not passed TOTP.
pub async fn who(
    state: &AppState,
    headers: &HeaderMap,
    origin: &RequestContext,
    need_totp: bool,
) -> Result<Me, WebError> {
    let token = cookies::get(headers, cookies::SESSION).ok_or(WebError::Unauthenticated)?;
    who_holds(state, token, origin, need_totp).await
}

/// Ask the executor who holds `token`.
pub async fn who_holds(
    state: &AppState,
    token: String,
    origin: &RequestContext,
    need_totp: bool,
) -> Result<Me, WebError> {
    let r = state
        .executor
        .client()
        .who_am_i(&Session::new(token.as_str()), origin)
        .await?;
    if need_totp && !r.totp_passed {
        return Err(WebError::TotpRequired);
    }
    Ok(Me {
        token,
        username: r.username,
        is_admin: r.role == pb::Role::Admin as i32,
        totp_passed: r.totp_passed,
        totp_enrolled: r.totp_enrolled,
    })
}
