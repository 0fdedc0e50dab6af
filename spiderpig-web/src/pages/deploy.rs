//! `/deploy/new`: name Gerrit changes, check them against Gerrit, queue the
//! deployment with a fresh TOTP code. Trust: the pasted text is untrusted
//! and parsed by the policy crate into change numbers; Gerrit's details are
//! shown as text and decide nothing; the executor checks everything again.
//!
//! Without JavaScript it is two steps: "Check changes" (a GET form, so the
//! page can be reloaded and linked) shows Gerrit's details and, when the
//! list parses, the "Queue deployment" form with the checked numbers.
//!
//! # DOM contract (for the page scripts in `assets/src/`; `body[data-page=deploy]`)
//!
//! - `form#check-form` (GET `/deploy/new`): `textarea#changes[name=changes]`,
//!   `button#check-changes`.
//! - `#change-error` (`p[role=alert]`): why the list was refused (absent when
//!   it parsed).
//! - `table#change-check`: one `tr[data-change=N]` per change, cells number
//!   (`a.change` to Gerrit), subject, project, branch, status, owner; a
//!   change Gerrit could not tell about is `tr.error[data-change=N]` with the
//!   reason in `td.error`.
//! - `form#queue-form` (POST `/deploy/new`, urlencoded): hidden `csrf`,
//!   hidden `changes` (the checked numbers, space separated),
//!   `input#totp[name=totp]` (6 digits), `button#queue-deployment`. Success →
//!   303 to `/jobs/{id}`; a refusal re-renders this page with
//!   `#page-error` and the input kept.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use spiderpig_policy::ChangeNumber;

use super::parts::error_banner;
use crate::api::calls::{Caller, totp};
use crate::api::changes::{self, ChangeRow};
use crate::auth::Me;
use crate::error::WebError;
use crate::extract::{CsrfField, Html, SignedIn, StateChange};
use crate::links::Links;
use crate::state::AppState;

/// The result of checking a list: numbers and Gerrit's rows, or why not.
pub type Check = Result<(Vec<ChangeNumber>, Vec<ChangeRow>), String>;

#[derive(Debug, Default, Deserialize)]
pub struct CheckQuery {
    #[serde(default)]
    changes: String,
}

async fn check(state: &AppState, input: &str) -> Option<Check> {
    if input.trim().is_empty() {
        return None;
    }
    Some(match changes::parse(state, input) {
        Ok(numbers) => {
            let rows = changes::details(state, &numbers).await;
            Ok((numbers, rows))
        }
        Err(e) => Err(e.to_string()),
    })
}

/// `GET /deploy/new[?changes=...]`
pub async fn new_page(
    State(state): State<AppState>,
    SignedIn {
        who: (page, me), ..
    }: SignedIn<Html>,
    query: Result<Query<CheckQuery>, QueryRejection>,
) -> Response {
    let input = query.map(|Query(q)| q.changes).unwrap_or_default();
    let checked = check(&state, &input).await;
    let status = match &checked {
        Some(Err(_)) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    let body = render(&me, &page.csrf, &page.links, &input, checked.as_ref(), None);
    page.render(Some(&me), status, "New deployment", "deploy", body)
}

#[derive(Debug, Default, Deserialize)]
pub struct QueueForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    changes: String,
    #[serde(default)]
    totp: String,
}

impl CsrfField for QueueForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /deploy/new`: SubmitJob, then 303 to the job page.
pub async fn queue(
    State(state): State<AppState>,
    StateChange {
        who: (page, me),
        origin,
        body: form,
    }: StateChange<Html, QueueForm>,
) -> Response {
    let result = match (changes::parse(&state, &form.changes), totp(&form.totp)) {
        (Ok(numbers), Ok(code)) => {
            Caller::new(&state, &origin, &me.token)
                .submit(&numbers, &code)
                .await
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    let e = match result {
        Ok(job) => return Redirect::to(&format!("/jobs/{}", job.id)).into_response(),
        Err(e @ (WebError::Unauthenticated | WebError::TotpRequired)) => {
            return page.fail(Some(&me), e);
        }
        Err(e) => e,
    };
    let checked = check(&state, &form.changes).await;
    let body = render(
        &me,
        &page.csrf,
        &page.links,
        &form.changes,
        checked.as_ref(),
        Some(&e.to_string()),
    );
    page.render(Some(&me), e.status(), "New deployment", "deploy", body)
}

/// The page body (pure, for tests).
pub fn render(
    me: &Me,
    csrf: &str,
    links: &Links,
    input: &str,
    checked: Option<&Check>,
    error: Option<&str>,
) -> Markup {
    html! {
        h1 { "New deployment" }
        (error_banner(error))
        section class="card" {
            form id="check-form" method="get" action="/deploy/new" {
                label for="changes" { "Gerrit changes (numbers or URLs, one per line or separated by spaces/commas)" }
                textarea id="changes" name="changes" rows="5" maxlength="4000" required
                    spellcheck="false" autocomplete="off" aria-describedby="changes-help" { (input) }
                p id="changes-help" class="help" {
                    "At most 10 changes, e.g. " code { "1234567" } " or " code { (links.change_base()) "c/mediawiki/core/+/1234567" } "."
                }
                button id="check-changes" type="submit" { "Check changes" }
            }
        }
        @match checked {
            None => {},
            Some(Err(message)) => p id="change-error" class="banner error" role="alert" { (message) },
            Some(Ok((numbers, rows))) => {
                section class="card" aria-labelledby="check-heading" {
                    h2 id="check-heading" { "What Gerrit says" }
                    (change_table(rows, links))
                }
                (queue_form(me, csrf, links, numbers))
            },
        }
    }
}

fn change_table(rows: &[ChangeRow], links: &Links) -> Markup {
    html! {
        table id="change-check" class="changes" {
            thead { tr {
                th scope="col" { "Change" } th scope="col" { "Subject" } th scope="col" { "Project" }
                th scope="col" { "Branch" } th scope="col" { "Status" } th scope="col" { "Owner" }
            } }
            tbody {
                @for row in rows {
                    @match row {
                        ChangeRow::Found(c) => tr data-change=(c.number) {
                            td { (links.change(c.number)) }
                            td class="subject" { (links.text(&c.subject)) }
                            td { (c.project) } td { (c.branch) }
                            td class="status" { (c.status) } td { (c.owner) }
                        },
                        ChangeRow::Failed { number, error, .. } => tr class="error" data-change=(number) {
                            td { (links.change(*number)) }
                            td class="error" colspan="5" { (error) }
                        },
                    }
                }
            }
        }
    }
}

fn queue_form(me: &Me, csrf: &str, links: &Links, numbers: &[ChangeNumber]) -> Markup {
    let list: Vec<String> = numbers.iter().map(|n| n.to_string()).collect();
    let plain: Vec<u64> = numbers.iter().map(|n| n.get()).collect();
    html! {
        section class="card" aria-labelledby="queue-heading" {
            h2 id="queue-heading" { "Queue the deployment" }
            p { "Queue " code { "scap backport" } " of " (links.changes(&plain)) " as " strong { (me.username) } "." }
            form id="queue-form" method="post" action="/deploy/new" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="changes" value=(list.join(" "));
                label for="totp" { "TOTP code" }
                input id="totp" name="totp" inputmode="numeric" autocomplete="one-time-code"
                    pattern="[0-9]{6}" maxlength="6" required;
                button id="queue-deployment" type="submit" class="primary" { "Queue deployment" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gerrit::ChangeInfo;
    use spiderpig_policy::GerritBase;

    fn me() -> Me {
        Me {
            token: "t".into(),
            username: "ann".into(),
            is_admin: false,
            totp_passed: true,
            totp_enrolled: true,
        }
    }

    fn links() -> Links {
        Links::new(
            GerritBase::new("https://gerrit.example.org").unwrap(),
            "https://phab.example.org",
        )
    }

    #[test]
    fn a_refused_list_shows_why_keeps_the_input_and_offers_no_queue_form() {
        let check: Check = Err("shell metacharacters are not allowed".into());
        let html = render(&me(), "tok", &links(), "1; <script>", Some(&check), None).into_string();
        assert!(html.contains(
            r#"<p id="change-error" class="banner error" role="alert">shell metacharacters"#
        ));
        assert!(html.contains("1; &lt;script&gt;</textarea>"), "{html}");
        assert!(!html.contains("queue-form"));
    }

    /// What a hostile change's owner writes reaches the check table without
    /// its RLO and as the username, not the display name (review F14).
    #[test]
    fn the_check_table_shows_usernames_and_no_bidi_characters() {
        let base = GerritBase::new("https://gerrit.example.org").unwrap();
        let body = ")]}'\n{\"subject\":\"Fix \\u202eT1 txt.exe\",\"_number\":5,\
            \"owner\":{\"_account_id\":7,\"name\":\"Ann Trusted\",\"username\":\"mallory\"}}";
        let info = crate::gerrit::parse_change(body.as_bytes(), &base).unwrap();
        let html = change_table(&[ChangeRow::Found(info)], &links()).into_string();
        assert!(!html.contains('\u{202e}'), "{html}");
        assert!(html.contains("<td>mallory</td>"), "{html}");
        assert!(!html.contains("Ann Trusted"), "{html}");
        assert!(
            html.contains("Fix <a href=\"https://phab.example.org/T1\">T1</a> txt.exe"),
            "{html}"
        );
    }

    #[test]
    fn a_checked_list_shows_gerrit_rows_and_the_queue_form() {
        let n = |x| ChangeNumber::new(x).unwrap();
        let rows = vec![
            ChangeRow::Found(ChangeInfo {
                number: 5,
                url: "https://gerrit.example.org/r/5".into(),
                subject: "Fix <img src=x onerror=alert(1)> (T9)".into(),
                project: "mediawiki/core".into(),
                branch: "wmf/1".into(),
                status: "MERGED".into(),
                owner: "Ann".into(),
            }),
            ChangeRow::Failed {
                number: 6,
                url: "u".into(),
                error: "change 6 in Gerrit not found".into(),
            },
        ];
        let check: Check = Ok((vec![n(5), n(6)], rows));
        let html = render(
            &me(),
            "tok",
            &links(),
            "5,6",
            Some(&check),
            Some("wrong <code>"),
        )
        .into_string();
        assert!(html.contains(
            r#"<p id="page-error" class="banner error" role="alert">wrong &lt;code&gt;</p>"#
        ));
        assert!(html.contains(r#"<tr data-change="5">"#));
        assert!(html.contains("Fix &lt;img src=x onerror=alert(1)&gt; (<a href=\"https://phab.example.org/T9\">T9</a>)"));
        assert!(html.contains(r#"<tr class="error" data-change="6">"#));
        assert!(html.contains(r#"<input type="hidden" name="changes" value="5 6">"#));
        assert!(html.contains(r#"<input type="hidden" name="csrf" value="tok">"#));
        assert!(html.contains(r#"id="totp" name="totp""#));
    }
}
