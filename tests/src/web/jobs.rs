//! Driving jobs through the JSON API the way the page script does, for
//! tests: submit, wait for a state or a prompt, answer, read the log.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::Browser;

/// How long a job may take to reach what a test waits for.
const WAIT: Duration = Duration::from_secs(60);

impl Browser {
    /// GET `path` and parse the JSON body; returns the status too.
    pub async fn json(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        let res = self.get(path).await?;
        let status = res.status().as_u16();
        let text = res.text().await?;
        let value = serde_json::from_str(&text)
            .with_context(|| format!("GET {path} ({status}) is not JSON: {text}"))?;
        Ok((status, value))
    }

    /// `POST /api/jobs` with a fresh TOTP code; the new job (201 expected).
    pub async fn submit(&self, changes: Value) -> anyhow::Result<Value> {
        let code = self.totp()?;
        self.submit_with_code(changes, &code).await
    }

    /// `POST /api/jobs` with this code; the new job (201 expected).
    pub async fn submit_with_code(&self, changes: Value, code: &str) -> anyhow::Result<Value> {
        let body = json!({"changes": changes, "totp": code});
        let res = self.post_json("/api/jobs", &body).await?;
        let status = res.status();
        let text = res.text().await?;
        if status != 201 {
            bail!("POST /api/jobs answered {status}: {text}");
        }
        Ok(serde_json::from_str(&text)?)
    }

    /// `POST /api/jobs/{id}/{verb}` with `{}`; the job (200 expected).
    pub async fn act(&self, id: u64, verb: &str) -> anyhow::Result<Value> {
        let res = self
            .post_json(&format!("/api/jobs/{id}/{verb}"), &json!({}))
            .await?;
        let status = res.status();
        let text = res.text().await?;
        if status != 200 {
            bail!("POST /api/jobs/{id}/{verb} answered {status}: {text}");
        }
        Ok(serde_json::from_str(&text)?)
    }

    /// Poll `GET /api/jobs/{id}` until `want` holds.
    pub async fn wait_job(
        &self,
        id: u64,
        what: &str,
        mut want: impl FnMut(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        let start = Instant::now();
        loop {
            let (status, job) = self.json(&format!("/api/jobs/{id}")).await?;
            if status == 200 && want(&job) {
                return Ok(job);
            }
            if start.elapsed() > WAIT {
                bail!("job {id} never became {what}: ({status}) {job}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Poll until the job is in `state`.
    pub async fn wait_state(&self, id: u64, state: &str) -> anyhow::Result<Value> {
        self.wait_job(id, state, |j| j["state"] == state).await
    }

    /// Wait for a pending prompt whose text holds `needle` and answer it
    /// with `key` through `POST /api/jobs/{id}/respond`.
    pub async fn answer(&self, id: u64, needle: &str, key: &str) -> anyhow::Result<Value> {
        let job = self
            .wait_job(id, &format!("asking {needle:?}"), |j| {
                j["state"] == "awaiting_input"
                    && j["prompt"]["text"]
                        .as_str()
                        .is_some_and(|t| t.contains(needle))
            })
            .await?;
        let prompt = job["prompt"]["id"].as_u64().context("prompt id")?;
        let body = json!({"prompt_id": prompt, "key": key});
        let res = self
            .post_json(&format!("/api/jobs/{id}/respond"), &body)
            .await?;
        let status = res.status();
        let text = res.text().await?;
        if status != 200 {
            bail!("answering {needle:?} with {key:?} answered {status}: {text}");
        }
        Ok(serde_json::from_str(&text)?)
    }

    /// Every record of a job's log, through `GET /api/jobs/{id}/log`.
    pub async fn log_records(&self, id: u64) -> anyhow::Result<Vec<Value>> {
        let mut all: Vec<Value> = Vec::new();
        let mut after = 0;
        loop {
            let (status, page) = self
                .json(&format!("/api/jobs/{id}/log?after={after}&limit=5000"))
                .await?;
            if status != 200 {
                bail!("log of job {id}: ({status}) {page}");
            }
            let records = page["records"].as_array().cloned().unwrap_or_default();
            if let Some(last) = records.last().and_then(|r| r["seq"].as_u64()) {
                after = last;
            }
            all.extend(records);
            if page["more"] != true {
                return Ok(all);
            }
        }
    }
}

/// A job's id from its JSON.
pub fn id_of(job: &Value) -> u64 {
    job["id"].as_u64().expect("job id")
}

/// Every `<script` of a page is either the vocabulary's JSON data block
/// (never executed) or one of the web's own deferred page scripts, each
/// once and in `PAGE_SCRIPTS` order: no inline code and no script that
/// came from anywhere else (such as scap's output or Gerrit's subjects).
pub fn assert_only_page_scripts(html: &str) {
    let vocab = r#"<script type="application/json" id="vocab">"#;
    let mut expected = vec![vocab.to_string()];
    expected.extend(
        spiderpig_web::assets::PAGE_SCRIPTS
            .iter()
            .map(|name| format!(r#"<script src="/assets/{name}" defer>"#)),
    );
    let found: Vec<&str> = html
        .match_indices("<script")
        .map(|(at, _)| {
            let end = html[at..].find('>').map_or(html.len(), |e| at + e + 1);
            &html[at..end]
        })
        .collect();
    assert_eq!(found, expected, "only the page's own scripts");
}
