//! `GET /history?user=&state=&before=&limit=`: every job, newest first,
//! paged and filtered. Trust: the query string is untrusted; a bad filter is
//! refused with 400 and a message before anything is asked of the executor.
//!
//! # DOM contract (for the page scripts in `assets/src/`; `body[data-page=history]`)
//!
//! - `form#history-filter` (GET `/history`): `input#filter-user[name=user]`,
//!   `input#filter-state[name=state]` (comma-separated state names; a
//!   `datalist#state-names` offers them), a submit button.
//! - `#page-error` (`p[role=alert]`): why a filter was refused (status 400).
//! - `table#history` (see `parts::jobs_table`): rows `tr[data-job][data-state]`.
//! - `a#older`: the next page (`before` = the executor's
//!   `next_before_job_id`), absent on the last page; `a#newest` back to
//!   the first page when paging.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::response::{Redirect, Response};
use maud::{Markup, html};

use super::parts::{Page, error_banner, jobs_table};
use crate::api::calls::Caller;
use crate::api::filters::{FilterQuery, Filters};
use crate::extract::session_token;
use crate::links::Links;
use crate::request::Meta;
use crate::state::AppState;
use crate::views::{self, JobView};
use spiderpig_policy::JobState;

/// `GET /history`
pub async fn history(
    State(state): State<AppState>,
    Meta(origin): Meta,
    headers: HeaderMap,
    query: Result<Query<FilterQuery>, QueryRejection>,
) -> Response {
    // A bad filter is refused before the executor is asked who this is.
    if session_token(&headers).is_err() {
        return Redirect::to("/login").into_response();
    }
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let filters = match Filters::parse(&q) {
        Ok(f) => f,
        Err(e) => {
            let page = Page::anonymous(&state, &headers);
            let body = render(&q, None, &[], None, &page.links, Some(&e.to_string()));
            return page.render(None, e.status(), "History", "history", body);
        }
    };
    let (page, me) = match Page::open(&state, &headers, &origin, true).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let r = match Caller::new(&state, &origin, &me.token).list(&filters).await {
        Ok(r) => r,
        Err(e) => return page.fail(Some(&me), e),
    };
    let jobs = match views::jobs(&r.jobs, &me.viewer()) {
        Ok(jobs) => jobs,
        Err(e) => return page.fail(Some(&me), e),
    };
    let next = (r.next_before_job_id != 0).then_some(r.next_before_job_id);
    let body = render(&q, Some(&filters), &jobs, next, &page.links, None);
    page.render(Some(&me), StatusCode::OK, "History", "history", body)
}

/// The page body (pure, for tests). `filters` is `None` when they were
/// refused; the form then shows what was typed.
pub fn render(
    typed: &FilterQuery,
    filters: Option<&Filters>,
    jobs: &[JobView],
    next: Option<u64>,
    links: &Links,
    error: Option<&str>,
) -> Markup {
    let user = filters
        .and_then(|f| f.owner.as_ref().map(|u| u.as_str().to_string()))
        .or_else(|| typed.user.clone())
        .unwrap_or_default();
    let states = filters
        .map(Filters::state_names)
        .or_else(|| typed.state.clone())
        .unwrap_or_default();
    html! {
        h1 { "History" }
        (error_banner(error))
        form id="history-filter" class="card filters" method="get" action="/history" {
            label for="filter-user" { "User" }
            input id="filter-user" name="user" value=(user) maxlength="64" autocomplete="off";
            label for="filter-state" { "States (comma separated)" }
            input id="filter-state" name="state" value=(states) list="state-names" autocomplete="off";
            datalist id="state-names" { @for s in JobState::NAMES { option value=(s) {} } }
            button type="submit" { "Filter" }
        }
        @if let Some(f) = filters {
            (jobs_table("history", "Jobs, newest first", jobs, links))
            nav class="pager" aria-label="Pages" {
                @if f.before.is_some() {
                    a id="newest" href={ "/history?" (f.query(None)) } { "Newest" }
                }
                @if let Some(n) = next {
                    " " a id="older" rel="next" href={ "/history?" (f.query(Some(n))) } { "Older" }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::test_support::links;
    use spiderpig_proto::v1 as pb;

    fn typed(user: &str, state: &str) -> FilterQuery {
        FilterQuery {
            user: Some(user.into()),
            state: Some(state.into()),
            ..FilterQuery::default()
        }
    }

    #[test]
    fn a_page_with_an_older_link_keeps_the_filters() {
        let q = typed("ann", "done");
        let f = Filters::parse(&q).unwrap();
        let viewer = views::Viewer {
            username: "ann".into(),
            is_admin: false,
        };
        let job = pb::Job {
            id: 9,
            owner: "ann".into(),
            kind: pb::JobKind::Backport as i32,
            state: pb::JobState::Done as i32,
            stage: pb::Stage::Complete as i32,
            ..Default::default()
        };
        let jobs = vec![views::job(&job, &viewer).unwrap()];
        let html = render(&q, Some(&f), &jobs, Some(9), &links(), None).into_string();
        assert!(
            html.contains(r#"<tr data-job="9" data-state="done">"#),
            "{html}"
        );
        assert!(html.contains(r#"<a id="older" rel="next" href="/history?user=ann&amp;state=done&amp;before=9">Older</a>"#));
        assert!(!html.contains("id=\"newest\""));
        assert!(html.contains(r#"name="user" value="ann""#));
    }

    #[test]
    fn a_refused_filter_shows_the_message_and_what_was_typed() {
        let q = typed("\"><script>", "bogus");
        let html = render(&q, None, &[], None, &links(), Some("state filter: bad")).into_string();
        assert!(html.contains(
            r#"<p id="page-error" class="banner error" role="alert">state filter: bad</p>"#
        ));
        assert!(
            html.contains(r#"value="&quot;&gt;&lt;script&gt;""#),
            "{html}"
        );
        assert!(!html.contains("<script>"));
        assert!(!html.contains("id=\"history\""));
    }
}
