//! A Gerrit stand-in on loopback: `GET /r/changes/{n}` answers in the shape
//! of Gerrit's REST API (`ChangeInfo`, behind the `)]}'` XSSI prefix), and
//! `404 Not found: n` for numbers it does not know. Like gerrit.wikimedia.org,
//! Gerrit lives under `/r/` of the base URL (`gerrit_url` is the bare
//! origin, as the policy crate reads change links `<base>/r/<n>`), so the
//! REST API is `<base>/r/changes/`. Trust: test-only; what it says is shown
//! by spiderpig-web as text and decides nothing.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use spiderpig_tests::gerrit::{GerritStandIn, default_changes};
//! let gerrit = GerritStandIn::start(default_changes()).await?;
//! // web.toml: gerrit_url = gerrit.url
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha1::{Digest, Sha1};
use tokio::sync::oneshot;

/// The subject of change 43 in [`default_changes`]: markup that a page must
/// show as text.
pub const SCRIPT_SUBJECT: &str =
    "Escape <script>alert(1)</script> in Special:Search suggestions (T345678)";

/// One change the stand-in knows.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeChange {
    pub number: u64,
    pub subject: String,
    pub project: String,
    pub branch: String,
    /// `NEW`, `MERGED` or `ABANDONED`.
    pub status: String,
    pub owner_name: String,
    pub owner_username: String,
    pub owner_account_id: u64,
}

impl FakeChange {
    /// A `NEW` change to mediawiki/core on the current train branch.
    pub fn new(number: u64, subject: &str) -> FakeChange {
        FakeChange {
            number,
            subject: subject.to_string(),
            project: "mediawiki/core".into(),
            branch: "wmf/1.44.0-wmf.8".into(),
            status: "NEW".into(),
            owner_name: "Ann Example".into(),
            owner_username: "ann".into(),
            owner_account_id: 1001,
        }
    }

    pub fn project(mut self, project: &str) -> FakeChange {
        self.project = project.to_string();
        self
    }

    pub fn status(mut self, status: &str) -> FakeChange {
        self.status = status.to_string();
        self
    }

    pub fn owner(mut self, name: &str, username: &str, account_id: u64) -> FakeChange {
        self.owner_name = name.to_string();
        self.owner_username = username.to_string();
        self.owner_account_id = account_id;
        self
    }

    /// The `Change-Id` footer: `I` and 40 hex digits (made up, stable).
    pub fn change_id(&self) -> String {
        let digest = Sha1::digest(format!("{}/{}", self.project, self.number));
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("I{hex}")
    }

    /// Gerrit's `ChangeInfo` JSON for this change.
    pub fn to_json(&self) -> serde_json::Value {
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        serde_json::json!({
            "id": format!("{}~{}~{}", enc(&self.project), enc(&self.branch), self.change_id()),
            "project": self.project,
            "branch": self.branch,
            "change_id": self.change_id(),
            "subject": self.subject,
            "status": self.status,
            "created": "2024-05-01 09:12:44.000000000",
            "updated": "2024-05-01 12:30:02.000000000",
            "insertions": 12,
            "deletions": 3,
            "_number": self.number,
            "owner": {
                "_account_id": self.owner_account_id,
                "name": self.owner_name,
                "username": self.owner_username,
            },
        })
    }
}

/// The changes the tests and the demo use: 42, 43 (its subject holds
/// `<script>`), 44, and the fake-scap scenarios 1001 (httpbb failure),
/// 1002 (canary spike), 1005 (hang), 1006 (flood), 1007 (forged prompt).
pub fn default_changes() -> Vec<FakeChange> {
    vec![
        FakeChange::new(
            42,
            "ApiMain: Fix the maxlag header for anonymous requests (T362745)",
        ),
        FakeChange::new(43, SCRIPT_SUBJECT).owner("Bob Builder", "bob", 1002),
        FakeChange::new(
            44,
            "Mentor dashboard: Do not show the mentee overview to new mentors (T363201)",
        )
        .project("mediawiki/extensions/GrowthExperiments")
        .status("MERGED")
        .owner("Cleo Mentor", "cleo", 1003),
        FakeChange::new(
            1001,
            "ResourceLoader: Vary the startup module on the skin (T360011)",
        ),
        FakeChange::new(
            1002,
            "Parser: Cache the expanded template count per page (T360022)",
        ),
        FakeChange::new(
            1005,
            "JobQueue: Wait for replication before the next batch (T360055)",
        )
        .project("mediawiki/extensions/CirrusSearch"),
        FakeChange::new(
            1006,
            "Logger: Add debug output for the session store (T360066)",
        ),
        FakeChange::new(
            1007,
            "Config: Enable the new diff view on group0 wikis (T360077)",
        )
        .project("operations/mediawiki-config")
        .owner("Dee Ops", "dee", 1004),
    ]
}

struct Shared {
    changes: HashMap<u64, FakeChange>,
    requests: AtomicU64,
}

/// A running stand-in; stopped when dropped.
pub struct GerritStandIn {
    /// `http://127.0.0.1:<port>`, for `gerrit_url` (the REST API is under
    /// `/r/changes/`).
    pub url: String,
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
}

impl GerritStandIn {
    /// Listen on `127.0.0.1:0` and answer for `changes`.
    pub async fn start(changes: Vec<FakeChange>) -> anyhow::Result<GerritStandIn> {
        let shared = Arc::new(Shared {
            changes: changes.into_iter().map(|c| (c.number, c)).collect(),
            requests: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/r/changes/{id}", get(change))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(GerritStandIn {
            url: format!("http://{addr}"),
            addr,
            shared,
            stop: Some(stop),
        })
    }

    /// Change lookups answered so far (found or not).
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }
}

impl Drop for GerritStandIn {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// `GET /r/changes/{id}` (any query string, e.g. `?o=DETAILED_ACCOUNTS`).
async fn change(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let found = id.parse::<u64>().ok().and_then(|n| shared.changes.get(&n));
    match found {
        Some(c) => {
            // Gerrit's XSSI guard: a line that makes the body invalid JavaScript.
            let body = format!(")]}}'\n{}\n", c.to_json());
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
                body,
            )
                .into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("Not found: {id}\n"),
        )
            .into_response(),
    }
}
