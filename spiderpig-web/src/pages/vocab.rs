//! `script#vocab`: the words and lists the page script shows, rendered from
//! the policy into every page as a JSON data block, so `assets/src/*.js`
//! keeps no copy of them. Trust: constants only; the JSON is still escaped
//! for HTML (no `<`, `>` or `&` survives), so nothing in it could end the
//! element. A `type="application/json"` script is never executed, so it
//! needs no CSP exception (`script-src 'self'` stays as it is).
//!
//! The shape (read by `assets/src/vocab.js`, documented there too):
//!
//! - `states`, `stages`: word → the words people read.
//! - `strip`: the stages of the job page's stage strip, in order.
//! - `waiting_for_person`: states in which the job waits for its owner or
//!   an admin (the job page's title is marked then).
//! - `ended_badly`: states in which the strip marks where the job stopped.
//! - `api_actions`: the actions a `button[data-action]` may post to the
//!   JSON API (those that take nothing but the job).
//! - `dashboard_actions`: `{action, label, confirm}` for the buttons the
//!   dashboard offers, in order.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use maud::{Markup, PreEscaped, html};
use serde::Serialize;
use spiderpig_policy::{Action, JobState, Stage};

use super::dashboard;

#[derive(Serialize)]
struct Vocab {
    states: BTreeMap<&'static str, &'static str>,
    stages: BTreeMap<&'static str, &'static str>,
    strip: Vec<Stage>,
    waiting_for_person: Vec<JobState>,
    ended_badly: Vec<JobState>,
    api_actions: Vec<Action>,
    dashboard_actions: Vec<ActionWords>,
}

#[derive(Serialize)]
struct ActionWords {
    action: Action,
    label: &'static str,
    confirm: Option<&'static str>,
}

fn vocab() -> Vocab {
    let states = JobState::ALL.map(|s| (s.as_str(), s.words()));
    let stages = Stage::ALL.map(|s| (s.as_str(), s.words()));
    let states_where = |f: fn(JobState) -> bool| JobState::ALL.into_iter().filter(move |s| f(*s));
    Vocab {
        states: states.into_iter().collect(),
        stages: stages.into_iter().collect(),
        strip: Stage::ALL.into_iter().filter(|s| s.in_strip()).collect(),
        waiting_for_person: states_where(JobState::waits_for_person).collect(),
        ended_badly: states_where(JobState::ended_badly).collect(),
        api_actions: Action::ALL
            .into_iter()
            .filter(|a| a.event().is_some())
            .collect(),
        dashboard_actions: Action::ALL
            .into_iter()
            .filter_map(|action| {
                dashboard::label(action).map(|(label, confirm)| ActionWords {
                    action,
                    label,
                    confirm,
                })
            })
            .collect(),
    }
}

/// JSON that can stand inside a `<script>` element: `<`, `>` and `&` are
/// written as JSON escapes, which `JSON.parse` reads back as they were.
pub fn embeddable(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// The vocabulary as embeddable JSON (built once: it never changes).
pub fn json() -> &'static str {
    static JSON: LazyLock<String> = LazyLock::new(|| {
        // Plain structs of strings: serialising cannot fail.
        embeddable(&serde_json::to_string(&vocab()).unwrap_or_default())
    });
    &JSON
}

/// The element, for the page head.
pub fn element() -> Markup {
    html! { script type="application/json" id="vocab" { (PreEscaped(json())) } }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn the_vocabulary_is_the_policys() {
        let v: Value = serde_json::from_str(json()).unwrap();
        for s in JobState::ALL {
            assert_eq!(v["states"][s.as_str()], s.words(), "{s}");
        }
        for s in Stage::ALL {
            assert_eq!(v["stages"][s.as_str()], s.words(), "{s}");
        }
        assert_eq!(
            v["strip"],
            serde_json::json!([
                "merge",
                "prepare",
                "test_servers",
                "canaries",
                "production",
                "complete"
            ])
        );
        assert_eq!(
            v["waiting_for_person"],
            serde_json::json!([
                "awaiting_ready",
                "awaiting_input",
                "awaiting_finish",
                "interrupted"
            ])
        );
        assert_eq!(
            v["api_actions"],
            serde_json::json!(["ready", "cancel", "interrupt", "finish"])
        );
        assert_eq!(v["dashboard_actions"][1]["confirm"], "Cancel this job?");
    }

    #[test]
    fn the_json_cannot_end_its_element() {
        let hostile = r#"{"a":"</script><!-- & <b>"}"#;
        let safe = embeddable(hostile);
        assert!(!safe.contains('<') && !safe.contains('>') && !safe.contains('&'));
        let back: Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["a"], "</script><!-- & <b>");
        let html = element().into_string();
        assert!(html.starts_with(r#"<script type="application/json" id="vocab">{"#));
        assert_eq!(html.matches("</script>").count(), 1);
    }

    /// The page-script tests (`assets/tests`) read this file; it must be
    /// what the pages send.
    #[test]
    fn the_page_script_tests_use_the_real_vocabulary() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/tests/vocab.json");
        let fixture = std::fs::read_to_string(path).unwrap_or_default();
        let want: Value = serde_json::from_str(json()).unwrap();
        let got: Value = serde_json::from_str(&fixture).unwrap_or(Value::Null);
        assert_eq!(
            got,
            want,
            "write this to assets/tests/vocab.json:\n{}",
            serde_json::to_string_pretty(&want).unwrap()
        );
    }
}
