//! Audit records: who, what, when, from where. Trust: internal. Every field
//! is stored as given and escaped when printed (ctl, logs), so names or
//! reasons holding newlines or escapes stay one record.

use crate::error::Result;
use crate::store::{AuditRow, WriteTx};

/// One audit entry to write.
#[derive(Debug, Clone, Copy)]
pub struct Audit<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub reason: &'a str,
    pub client_addr: &'a str,
    pub success: bool,
}

impl<'a> Audit<'a> {
    /// A successful action.
    pub fn ok(actor: &'a str, action: &'a str, target: &'a str, client_addr: &'a str) -> Self {
        Audit {
            actor,
            action,
            target,
            reason: "",
            client_addr,
            success: true,
        }
    }

    /// A refused or failed action.
    pub fn refused(
        actor: &'a str,
        action: &'a str,
        target: &'a str,
        reason: &'a str,
        client_addr: &'a str,
    ) -> Self {
        Audit {
            actor,
            action,
            target,
            reason,
            client_addr,
            success: false,
        }
    }

    pub fn with_reason(mut self, reason: &'a str) -> Self {
        self.reason = reason;
        self
    }
}

pub(super) fn write(tx: &mut WriteTx, now: i64, a: Audit<'_>) -> Result<()> {
    let row = AuditRow {
        at_ms: now,
        actor: a.actor.to_string(),
        action: a.action.to_string(),
        target: a.target.to_string(),
        reason: a.reason.to_string(),
        client_addr: a.client_addr.to_string(),
        success: a.success,
    };
    tx.audit_append(&row)?;
    // One structured journal line per event; the fields are escaped by the
    // JSON/logfmt formatter, never interpolated into the message.
    tracing::info!(
        target: "audit",
        actor = a.actor,
        action = a.action,
        target_ = a.target,
        reason = a.reason,
        client = a.client_addr,
        success = a.success,
        "audit"
    );
    Ok(())
}
