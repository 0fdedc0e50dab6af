//! The documents kept in the store. Trust: internal. Secrets (TOTP seeds)
//! live in [`UserRecord`]; its `Debug` hides them.

use serde::{Deserialize, Serialize};
// The store keeps the policy's vocabulary as it is (serde writes each
// value's word); `JobKind` and `LogKind` are re-exported for the engine.
use spiderpig_policy::{ChangeNumber, JobState, Role, Stage};
pub use spiderpig_policy::{JobKind, LogKind};

use crate::auth::totp::TotpState;
use crate::clock::Millis;

/// A person who has signed in at least once. Keyed by username; the identity
/// (`issuer`, `subject`) is fixed at first sign-in and checked every time.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct UserRecord {
    pub username: String,
    pub issuer: String,
    pub subject: String,
    /// The role granted at the last sign-in.
    pub role: Role,
    /// Base32 TOTP secret; `None` until enrolment starts.
    pub totp_secret: Option<String>,
    /// True once a code for the secret has been verified.
    pub totp_confirmed: bool,
    pub totp: TotpState,
    pub banned: Option<BanRecord>,
    pub created_ms: Millis,
    pub last_login_ms: Millis,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("username", &self.username)
            .field("issuer", &self.issuer)
            .field("subject", &self.subject)
            .field("role", &self.role)
            .field(
                "totp_secret",
                &self.totp_secret.as_ref().map(|_| "<hidden>"),
            )
            .field("totp_confirmed", &self.totp_confirmed)
            .field("totp", &self.totp)
            .field("banned", &self.banned)
            .finish_non_exhaustive()
    }
}

/// Why and by whom a user is banned.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct BanRecord {
    pub reason: String,
    pub by: String,
    pub at_ms: Millis,
}

/// A session, keyed by the SHA-256 of its token (the token itself is never
/// stored).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SessionRecord {
    /// A random public id for `ctl sessions`, unrelated to the token.
    pub public_id: String,
    pub username: String,
    pub role: Role,
    /// False for a session that has passed the IDP but not TOTP yet.
    pub totp_passed: bool,
    pub created_ms: Millis,
    pub last_seen_ms: Millis,
    pub absolute_expiry_ms: Millis,
    pub client_addr: String,
}

/// A prompt waiting for an answer.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PromptRecord {
    pub prompt_id: u64,
    pub input_line: bool,
    pub text: String,
    /// (label, key) in scap's order.
    pub choices: Vec<(String, String)>,
    pub default_key: Option<String>,
    pub opened_ms: Millis,
    pub expires_ms: Millis,
}

/// scap's latest progress bar.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
pub struct ProgressRecord {
    pub name: String,
    pub total: u64,
    pub ok: u64,
    pub failed: u64,
    pub remaining: u64,
    pub percent: f64,
    pub finished: bool,
}

/// A job and everything users see about it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct JobRecord {
    pub id: u64,
    pub owner: String,
    pub kind: JobKind,
    pub changes: Vec<ChangeNumber>,
    pub state: JobState,
    pub stage: Stage,
    pub created_ms: Millis,
    pub ready_deadline_ms: Millis,
    pub started_ms: Millis,
    pub ended_ms: Millis,
    pub exit_code: Option<i32>,
    pub outcome: String,
    pub pending_prompt: Option<PromptRecord>,
    pub progress: Option<ProgressRecord>,
    pub status_line: String,
    pub reverts_job: u64,
    pub stage_marks: Vec<(Stage, Millis)>,
    pub last_seq: u64,
    /// scap's process group while it runs (for orphan checks after a crash).
    pub pgid: Option<i32>,
    pub finished_by: String,
    /// Bumped by every `put_job` (the store sets it, whatever the caller
    /// passes); rows written before it existed read as 0.
    #[serde(default)]
    pub version: u64,
}

impl JobRecord {
    /// A new queued job.
    pub fn queued(
        id: u64,
        owner: &str,
        kind: JobKind,
        changes: Vec<ChangeNumber>,
        now: Millis,
    ) -> Self {
        JobRecord {
            id,
            owner: owner.to_string(),
            kind,
            changes,
            state: JobState::Queued,
            stage: Stage::Queued,
            created_ms: now,
            ready_deadline_ms: 0,
            started_ms: 0,
            ended_ms: 0,
            exit_code: None,
            outcome: String::new(),
            pending_prompt: None,
            progress: None,
            status_line: String::new(),
            reverts_job: 0,
            stage_marks: Vec::new(),
            last_seq: 0,
            pgid: None,
            finished_by: String::new(),
            version: 0,
        }
    }
}

/// One stored log record. The sensitive lines behind a `Redacted` record
/// are not in it: they are rows of their own (`HIDDEN`), read only for
/// `ctl log --include-sensitive`, so no other read decodes them.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LogRow {
    pub at_ms: Millis,
    pub kind: LogKind,
    pub text: String,
}

/// What a hidden line costs in a message beyond its text (its field tag and
/// length), counted when pages are cut to their bytes.
pub const HIDDEN_LINE_OVERHEAD: usize = 8;

/// The hidden lines that stores written before the `HIDDEN` table kept
/// inside their `Redacted` records (read for admins only).
#[derive(Deserialize, Default)]
pub struct LegacyHidden {
    #[serde(default)]
    pub hidden: Vec<String>,
}

/// One audit entry. Append-only.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AuditRow {
    pub at_ms: Millis,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub reason: String,
    pub client_addr: String,
    pub success: bool,
}

/// The deployment freeze.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
pub struct FreezeRecord {
    pub active: bool,
    pub reason: String,
    pub by: String,
    pub since_ms: Millis,
    pub until_ms: Millis,
}

impl FreezeRecord {
    /// In force at `now` (an expired `until` ends it).
    pub fn in_force(&self, now: Millis) -> bool {
        self.active && (self.until_ms == 0 || now < self.until_ms)
    }
}

impl LogRow {
    /// A record written at `at_ms`.
    pub fn now(at_ms: Millis, kind: LogKind, text: impl Into<String>) -> Self {
        LogRow {
            at_ms,
            kind,
            text: text.into(),
        }
    }
}
