//! `GET /api/changes?input=`: the pasted change list, parsed, with each
//! change's details from Gerrit; also used by the new-deployment page.
//! Trust: the input is untrusted and parsed by the policy crate; Gerrit's
//! answers are shown as text and decide nothing.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use spiderpig_policy::{ChangeNumber, parse_change_list};

use super::ApiResult;
use crate::auth::who;
use crate::error::WebError;
use crate::extract::{Api, SignedIn};
use crate::gerrit::ChangeInfo;
use crate::state::AppState;

/// One line of the check: Gerrit's details, or why they are missing.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum ChangeRow {
    Found(ChangeInfo),
    Failed {
        number: u64,
        url: String,
        error: String,
    },
}

impl ChangeRow {
    pub fn number(&self) -> u64 {
        match self {
            ChangeRow::Found(c) => c.number,
            ChangeRow::Failed { number, .. } => *number,
        }
    }
}

/// Parse what was pasted (a policy refusal is the person's mistake: 400).
pub fn parse(state: &AppState, input: &str) -> Result<Vec<ChangeNumber>, WebError> {
    parse_change_list(input, state.gerrit.base()).map_err(|e| WebError::BadRequest(e.to_string()))
}

/// Ask Gerrit about each change, all at once (at most 10).
pub async fn details(state: &AppState, changes: &[ChangeNumber]) -> Vec<ChangeRow> {
    let lookups = changes.iter().map(|&n| async move {
        match state.gerrit.change(n).await {
            Ok(info) => ChangeRow::Found(info),
            Err(e) => ChangeRow::Failed {
                number: n.get(),
                url: state.gerrit.base().change_url(n),
                error: e.to_string(),
            },
        }
    });
    futures::future::join_all(lookups).await
}

#[derive(Deserialize)]
pub struct ChangesQuery {
    #[serde(default)]
    input: String,
}

/// `GET /api/changes?input=...`
pub async fn check(
    State(state): State<AppState>,
    SignedIn { origin, .. }: SignedIn<Api>,
    headers: HeaderMap,
    query: Result<Query<ChangesQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<ChangeRow>>> {
    let Query(q) = query.map_err(|_| WebError::BadRequest("bad query string".into()))?;
    let changes = parse(&state, &q.input)?;
    // Only signed-in people may use this server as a Gerrit client.
    who(&state, &headers, &origin, true).await?;
    Ok(Json(details(&state, &changes).await))
}
