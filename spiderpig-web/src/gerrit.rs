//! Gerrit's REST API, for the change details shown before submitting.
//! Trust: Gerrit's answers are untrusted (any uploader writes the subject and
//! their own display name): they are shown as text only (escaped), without
//! control, bidi or invisible characters, and they never decide anything (the
//! executor and scap check the changes themselves).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use spiderpig_policy::{ChangeNumber, GerritBase, strip_terminal_controls};

use crate::config::Config;
use crate::error::WebError;

/// What the new-deployment page shows for a change.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ChangeInfo {
    pub number: u64,
    pub url: String,
    pub subject: String,
    pub project: String,
    pub branch: String,
    pub status: String,
    pub owner: String,
}

#[derive(Deserialize)]
struct RawChange {
    #[serde(rename = "_number")]
    number: u64,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    project: String,
    #[serde(default)]
    branch: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    owner: RawAccount,
}

#[derive(Deserialize, Default)]
struct RawAccount {
    #[serde(default)]
    username: Option<String>,
    #[serde(rename = "_account_id", default)]
    id: Option<u64>,
}

/// Largest Gerrit answer read.
const MAX_BODY: usize = 256 * 1024;

/// A Gerrit REST client.
#[derive(Clone, Debug)]
pub struct Gerrit {
    base: GerritBase,
    http: reqwest::Client,
}

impl Gerrit {
    pub fn new(config: &Config) -> Gerrit {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeouts.gerrit_secs))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client");
        Gerrit {
            base: config.gerrit(),
            http,
        }
    }

    pub fn base(&self) -> &GerritBase {
        &self.base
    }

    /// Details of one change (`GET <base>/r/changes/<n>?o=DETAILED_ACCOUNTS`).
    /// Gerrit lives under `/r/` of the base, as the policy crate reads change
    /// links (`<base>/r/<n>`, `<base>/r/c/...`) and as on gerrit.wikimedia.org.
    pub async fn change(&self, number: ChangeNumber) -> Result<ChangeInfo, WebError> {
        let url = format!(
            "{}/r/changes/{}?o=DETAILED_ACCOUNTS",
            self.base.as_str(),
            number.get()
        );
        let res = self
            .http
            .get(&url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| WebError::Gerrit(format!("not reachable ({})", short(&e))))?;
        match res.status().as_u16() {
            200 => {}
            404 => return Err(WebError::NotFound(format!("change {number} in Gerrit"))),
            s => return Err(WebError::Gerrit(format!("answered HTTP {s}"))),
        }
        let body = res
            .bytes()
            .await
            .map_err(|e| WebError::Gerrit(format!("read failed ({})", short(&e))))?;
        if body.len() > MAX_BODY {
            return Err(WebError::Gerrit("answer too large".into()));
        }
        parse_change(&body, &self.base)
    }
}

fn short(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    }
}

/// Parse Gerrit's JSON (after its `)]}'` XSSI prefix).
pub fn parse_change(body: &[u8], base: &GerritBase) -> Result<ChangeInfo, WebError> {
    let text =
        std::str::from_utf8(body).map_err(|_| WebError::Gerrit("answer is not UTF-8".into()))?;
    let json = text.strip_prefix(")]}'").unwrap_or(text);
    let raw: RawChange = serde_json::from_str(json.trim_start())
        .map_err(|_| WebError::Gerrit("unexpected answer".into()))?;
    let number =
        ChangeNumber::new(raw.number).map_err(|_| WebError::Gerrit("bad change number".into()))?;
    // The username, which Gerrit's administrators assign, never the display
    // name, which the account's owner sets to anything (a colleague's name).
    let owner = raw
        .owner
        .username
        .or(raw.owner.id.map(|i| format!("account {i}")))
        .unwrap_or_default();
    // A deployer reads this table before typing a TOTP code: no RLO or
    // zero-width character may reorder or disguise what it says.
    let clean = |text: &str| strip_terminal_controls(text);
    Ok(ChangeInfo {
        number: number.get(),
        url: base.change_url(number),
        subject: clean(&raw.subject),
        project: clean(&raw.project),
        branch: clean(&raw.branch),
        status: clean(&raw.status),
        owner: clean(&owner),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_gerrit_shape_with_xssi_prefix() {
        let base = GerritBase::new("https://gerrit.example.org").unwrap();
        let body = br#")]}'
{"id":"x","project":"mediawiki/core","branch":"wmf/1.44.0-wmf.8","subject":"Fix <b>thing</b>","status":"MERGED","_number":42,"owner":{"_account_id":7,"name":"Ann"}}"#;
        let c = parse_change(body, &base).unwrap();
        assert_eq!(c.number, 42);
        assert_eq!(c.project, "mediawiki/core");
        assert_eq!(c.subject, "Fix <b>thing</b>");
        assert_eq!(
            c.owner, "account 7",
            "no username: the id, never the display name"
        );
        assert_eq!(c.status, "MERGED");
        assert!(c.url.ends_with("/42"));
    }

    /// The review's case (F14): a display name copied from a colleague and a
    /// subject that reverses itself with RLO.
    #[test]
    fn owner_is_the_username_and_text_loses_bidi_and_invisible_characters() {
        let base = GerritBase::new("https://gerrit.example.org").unwrap();
        let body = ")]}'\n{\"project\":\"media\\u200bwiki/core\",\"branch\":\"wmf/1\\u2066\",\
            \"subject\":\"Fix \\u202egnp.exe\\u001b[8m\\u00ad\\u034f\",\"status\":\"MERGED\",\"_number\":42,\
            \"owner\":{\"_account_id\":7,\"name\":\"Trusted Colleague\",\"username\":\"mallory\\u202e\"}}";
        let c = parse_change(body.as_bytes(), &base).unwrap();
        assert_eq!(c.owner, "mallory");
        assert_eq!(c.subject, "Fix gnp.exe");
        assert_eq!(c.project, "mediawiki/core");
        assert_eq!(c.branch, "wmf/1");
    }

    #[test]
    fn garbage_is_a_gerrit_error() {
        let base = GerritBase::new("https://gerrit.example.org").unwrap();
        assert!(matches!(
            parse_change(b"<html>", &base),
            Err(WebError::Gerrit(_))
        ));
    }
}
