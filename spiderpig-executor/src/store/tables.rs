//! Table definitions. Trust: internal. Keys are plain; values are JSON.

use redb::TableDefinition;

/// Singletons: schema version, counters, the queue order, the lock holder,
/// the freeze.
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// username → UserRecord
pub const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
/// "issuer\0subject" → username
pub const IDENTITIES: TableDefinition<&str, &str> = TableDefinition::new("identities");
/// SHA-256(token) → SessionRecord
pub const SESSIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("sessions");
/// job id → JobRecord
pub const JOBS: TableDefinition<u64, &[u8]> = TableDefinition::new("jobs");
/// (job id, seq) → LogRow
pub const LOGS: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("logs");
/// (job id, seq of its `Redacted` record, n) → one hidden line, in the order
/// scap wrote them. Append-only: a line is written once, never rewritten.
pub const HIDDEN: TableDefinition<(u64, u64, u32), &str> = TableDefinition::new("hidden");
/// audit seq → AuditRow
pub const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");

pub const KEY_SCHEMA: &str = "schema_version";
pub const KEY_NEXT_JOB: &str = "next_job_id";
pub const KEY_NEXT_PROMPT: &str = "next_prompt_id";
pub const KEY_QUEUE: &str = "queue";
pub const KEY_ACTIVE: &str = "active_job";
pub const KEY_FREEZE: &str = "freeze";
