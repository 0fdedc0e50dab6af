//! `GET /api/jobs`, `POST /api/jobs`, `GET /api/jobs/{id}`,
//! `GET /api/jobs/{id}/log`. Trust: query strings and bodies are untrusted
//! and checked here into typed values; the executor authenticates and
//! decides.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use spiderpig_policy::validate_change_list;

use super::ApiResult;
use super::calls::{Caller, MAX_LOG_PAGE, job_id, totp};
use super::changes;
use super::filters::{FilterQuery, Filters};
use super::viewer;
use crate::error::WebError;
use crate::extract::{Api, SignedIn, StateChange};
use crate::state::AppState;
use crate::views::{self, JobView, LogRecordView};

/// Log records per page when none is asked for.
pub const DEFAULT_LOG_LIMIT: u32 = 1000;

/// A page of history.
#[derive(Debug, Serialize)]
pub struct JobList {
    pub jobs: Vec<JobView>,
    /// Pass as `before` for the next (older) page; null when there is none.
    pub next_before: Option<u64>,
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, WebError> {
    q.map(|Query(v)| v)
        .map_err(|_| WebError::BadRequest("bad query string".into()))
}

/// `GET /api/jobs?user=&state=&before=&limit=`
pub async fn list(
    State(state): State<AppState>,
    SignedIn { who: token, origin }: SignedIn<Api>,
    q: Result<Query<FilterQuery>, QueryRejection>,
) -> ApiResult<Json<JobList>> {
    let filters = Filters::parse(&query(q)?)?;
    let caller = Caller::new(&state, &origin, &token);
    let (r, viewer) = tokio::join!(caller.list(&filters), viewer(&state, &token, &origin));
    let r = r?;
    Ok(Json(JobList {
        jobs: views::jobs(&r.jobs, &viewer?)?,
        next_before: (r.next_before_job_id != 0).then_some(r.next_before_job_id),
    }))
}

/// `GET /api/jobs/{id}`
pub async fn get(
    State(state): State<AppState>,
    SignedIn { who: token, origin }: SignedIn<Api>,
    Path(id): Path<String>,
) -> ApiResult<Json<JobView>> {
    let id = job_id(&id)?;
    let caller = Caller::new(&state, &origin, &token);
    let (job, viewer) = tokio::join!(caller.job(id), viewer(&state, &token, &origin));
    Ok(Json(views::job(&job?, &viewer?)?))
}

#[derive(Debug, Default, Deserialize)]
pub struct LogQuery {
    after: Option<String>,
    limit: Option<String>,
}

/// A page of a job's log.
#[derive(Debug, Serialize)]
pub struct LogPage {
    pub records: Vec<LogRecordView>,
    /// True: ask again with `after` = the last record's `seq`.
    pub more: bool,
}

fn log_range(q: &LogQuery) -> Result<(u64, u32), WebError> {
    let after = match q.after.as_deref().filter(|s| !s.is_empty()) {
        None => 0,
        Some(a) => a.parse::<u64>().map_err(|_| {
            WebError::BadRequest("after must be a sequence number (0 or more)".into())
        })?,
    };
    let limit = match q.limit.as_deref().filter(|s| !s.is_empty()) {
        None => DEFAULT_LOG_LIMIT,
        Some(l) => match l.parse::<u32>() {
            Ok(n) if (1..=MAX_LOG_PAGE).contains(&n) => n,
            _ => {
                return Err(WebError::BadRequest(format!(
                    "limit must be a number from 1 to {MAX_LOG_PAGE}"
                )));
            }
        },
    };
    Ok((after, limit))
}

/// `GET /api/jobs/{id}/log?after=N&limit=M`
pub async fn log(
    State(state): State<AppState>,
    SignedIn { who: token, origin }: SignedIn<Api>,
    Path(id): Path<String>,
    q: Result<Query<LogQuery>, QueryRejection>,
) -> ApiResult<Json<LogPage>> {
    let id = job_id(&id)?;
    let (after, limit) = log_range(&query(q)?)?;
    let r = Caller::new(&state, &origin, &token)
        .log(id, after, limit)
        .await?;
    Ok(Json(LogPage {
        records: r.records.iter().map(views::log_record).collect(),
        more: r.more,
    }))
}

/// The changes of `POST /api/jobs`: pasted text or numbers.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ChangesField {
    Text(String),
    Numbers(Vec<u64>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitBody {
    changes: ChangesField,
    totp: String,
}

/// `POST /api/jobs` `{"changes": ..., "totp": "123456"}` → 201 and the job.
pub async fn submit(
    State(state): State<AppState>,
    StateChange {
        who: token,
        origin,
        body,
    }: StateChange<Api, SubmitBody>,
) -> ApiResult<Response> {
    let changes = match body.changes {
        ChangesField::Text(t) => changes::parse(&state, &t)?,
        ChangesField::Numbers(n) => {
            validate_change_list(&n).map_err(|e| WebError::BadRequest(e.to_string()))?
        }
    };
    let code = totp(&body.totp)?;
    let job = Caller::new(&state, &origin, &token)
        .submit(&changes, &code)
        .await?;
    let viewer = viewer(&state, &token, &origin).await?;
    Ok(created(views::job(&job, &viewer)?))
}

/// 201 with `Location: /api/jobs/{id}`.
pub fn created(job: JobView) -> Response {
    let location = HeaderValue::from_str(&format!("/api/jobs/{}", job.id)).ok();
    let mut res = (StatusCode::CREATED, Json(job)).into_response();
    if let Some(l) = location {
        res.headers_mut().insert(header::LOCATION, l);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ranges_are_checked() {
        let q = |a: &str, l: &str| LogQuery {
            after: Some(a.into()),
            limit: Some(l.into()),
        };
        assert_eq!(
            log_range(&LogQuery::default()).unwrap(),
            (0, DEFAULT_LOG_LIMIT)
        );
        assert_eq!(log_range(&q("7", "10")).unwrap(), (7, 10));
        assert_eq!(log_range(&q("", "")).unwrap(), (0, DEFAULT_LOG_LIMIT));
        for (a, l) in [("-1", ""), ("x", ""), ("", "0"), ("", "5001"), ("", "many")] {
            assert!(
                matches!(log_range(&q(a, l)), Err(WebError::BadRequest(_))),
                "{a} {l}"
            );
        }
    }

    #[test]
    fn submit_bodies_take_text_or_numbers() {
        let b: SubmitBody =
            serde_json::from_str(r#"{"changes":"123 456","totp":"123456"}"#).unwrap();
        assert!(matches!(b.changes, ChangesField::Text(t) if t == "123 456"));
        let b: SubmitBody = serde_json::from_str(r#"{"changes":[1,2],"totp":"123456"}"#).unwrap();
        assert!(matches!(b.changes, ChangesField::Numbers(n) if n == vec![1, 2]));
        for bad in [
            r#"{"changes":[-1],"totp":"1"}"#,
            r#"{"changes":{"a":1},"totp":"1"}"#,
            r#"{"changes":"1"}"#,
            r#"{"changes":"1","totp":"1","scap_args":"--force"}"#,
        ] {
            assert!(serde_json::from_str::<SubmitBody>(bad).is_err(), "{bad}");
        }
    }
}
