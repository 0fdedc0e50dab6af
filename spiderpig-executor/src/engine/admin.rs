//! Admin verbs (reached only through admin.sock). Trust: the caller passed
//! the admin socket's peer check; arguments are validated here.

use std::sync::Arc;

use spiderpig_policy::{Actor, JobEvent, JobState, Username, validate_reason};

use super::{Audit, AuditEntry, Ctx, Engine, FreezeView, LogPage, SessionView, StatusView};
use crate::error::{ExecutorError, Result};
use crate::hub::Revocation;
use crate::store::{BanRecord, FreezeRecord, LogKind, LogRow, Reads};

/// Who is acting on admin.sock.
#[derive(Clone, Debug)]
pub struct AdminActor(pub String);

impl AdminActor {
    pub fn name(&self) -> String {
        format!("admin:{}", self.0)
    }
}

/// Which part of a job's log an admin reads.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogRead {
    pub after: u64,
    pub limit: u32,
    /// With the hidden lines (audited).
    pub sensitive: bool,
    /// The first hidden line of the first record (a cut record goes on).
    pub from_hidden: u32,
}

/// Whose sessions to end.
#[derive(Clone, Debug)]
pub enum LogoutScope {
    User(Username),
    Everyone,
}

impl Engine {
    fn reason(text: &str) -> Result<String> {
        Ok(validate_reason(text)?.as_str().to_string())
    }

    pub fn freeze(&self, who: &AdminActor, reason: &str, until_ms: i64) -> Result<FreezeView> {
        let reason = Self::reason(reason)?;
        let now = self.now();
        if until_ms != 0 && until_ms <= now {
            return Err(ExecutorError::InvalidArgument(
                "the freeze end is in the past".into(),
            ));
        }
        let record = FreezeRecord {
            active: true,
            reason: reason.clone(),
            by: who.0.clone(),
            since_ms: now,
            until_ms,
        };
        self.store.write(|tx| {
            tx.set_freeze(&record)?;
            self.audit(
                tx,
                Audit::ok(&who.name(), "admin.freeze", "deployments", "admin.sock")
                    .with_reason(&reason),
            )
        })?;
        let view = FreezeView::at(record, now);
        self.hub.publish_freeze(&view);
        self.publish_jobs(&[]);
        Ok(view)
    }

    pub fn unfreeze(&self, who: &AdminActor, reason: &str) -> Result<FreezeView> {
        let reason = Self::reason(reason)?;
        let promoted = self.store.write(|tx| {
            tx.set_freeze(&FreezeRecord::default())?;
            self.audit(
                tx,
                Audit::ok(&who.name(), "admin.unfreeze", "deployments", "admin.sock")
                    .with_reason(&reason),
            )?;
            self.queue.promote(tx, self.now())
        })?;
        let view = FreezeView::at(FreezeRecord::default(), self.now());
        self.hub.publish_freeze(&view);
        self.publish_jobs(&promoted.into_iter().collect::<Vec<_>>());
        Ok(view)
    }

    /// Ban: end their sessions and cancel their queued jobs.
    pub fn ban(&self, who: &AdminActor, user: &Username, reason: &str) -> Result<(u32, Vec<u64>)> {
        let reason = Self::reason(reason)?;
        let name = user.as_str().to_string();
        let (ended, cancelled, promoted) = self.store.write(|tx| {
            let mut record = tx
                .user(&name)?
                .ok_or_else(|| ExecutorError::NotFound(format!("user {name}")))?;
            record.banned = Some(BanRecord {
                reason: reason.clone(),
                by: who.0.clone(),
                at_ms: self.now(),
            });
            tx.put_user(&record)?;
            let ended = tx.delete_sessions_where(|s| s.username == name)?.len() as u32;
            let mut cancelled = Vec::new();
            let mut promoted = None;
            for id in tx.queue()? {
                let mut job = tx.job_or_404(id)?;
                if job.owner == name {
                    self.apply(&mut job, JobEvent::Remove, Actor::Admin)?;
                    job.outcome = format!("cancelled: {name} was banned");
                    tx.put_job(&job)?;
                    self.queue.unlink(tx, id, JobState::Queued, self.now())?;
                    cancelled.push(id);
                }
            }
            if let Some(id) = tx.active()? {
                let mut job = tx.job_or_404(id)?;
                if job.owner == name && job.state == JobState::AwaitingReady {
                    self.apply(&mut job, JobEvent::Cancel, Actor::Admin)?;
                    job.outcome = format!("cancelled: {name} was banned");
                    tx.put_job(&job)?;
                    promoted = self
                        .queue
                        .unlink(tx, id, JobState::AwaitingReady, self.now())?;
                    cancelled.push(id);
                }
            }
            let target = format!("user {name}");
            self.audit(
                tx,
                Audit::ok(&who.name(), "admin.ban", &target, "admin.sock").with_reason(&reason),
            )?;
            Ok((ended, cancelled, promoted))
        })?;
        self.hub
            .revoke(Revocation::User(name), "banned by an admin");
        let mut changed = cancelled.clone();
        changed.extend(promoted);
        self.publish_jobs(&changed);
        Ok((ended, cancelled))
    }

    pub fn unban(&self, who: &AdminActor, user: &Username, reason: &str) -> Result<()> {
        let reason = Self::reason(reason)?;
        let name = user.as_str();
        self.store.write(|tx| {
            let mut record = tx
                .user(name)?
                .ok_or_else(|| ExecutorError::NotFound(format!("user {name}")))?;
            record.banned = None;
            tx.put_user(&record)?;
            let target = format!("user {name}");
            self.audit(
                tx,
                Audit::ok(&who.name(), "admin.unban", &target, "admin.sock").with_reason(&reason),
            )
        })
    }

    pub fn logout_users(&self, who: &AdminActor, scope: LogoutScope, reason: &str) -> Result<u32> {
        let reason = Self::reason(reason)?;
        let (target, revocation) = match &scope {
            LogoutScope::User(u) => (
                format!("user {}", u.as_str()),
                Revocation::User(u.as_str().to_string()),
            ),
            LogoutScope::Everyone => ("everyone".to_string(), Revocation::All),
        };
        let ended = self.store.write(|tx| {
            let ended = tx.delete_sessions_where(|s| match &scope {
                LogoutScope::User(u) => s.username == u.as_str(),
                LogoutScope::Everyone => true,
            })?;
            self.audit(
                tx,
                Audit::ok(&who.name(), "admin.logout", &target, "admin.sock").with_reason(&reason),
            )?;
            Ok(ended.len() as u32)
        })?;
        self.hub.revoke(revocation, "logged out by an admin");
        Ok(ended)
    }

    pub fn list_sessions(&self) -> Result<Vec<SessionView>> {
        self.store.read(|tx| {
            Ok(tx
                .sessions()?
                .iter()
                .map(|(_, s)| SessionView {
                    expires_ms: self.sessions.expiry(s),
                    session: s.clone(),
                })
                .collect())
        })
    }

    pub fn queue_move(
        &self,
        who: &AdminActor,
        job: u64,
        position: u32,
        reason: &str,
    ) -> Result<()> {
        let reason = Self::reason(reason)?;
        self.store.write(|tx| {
            let to = self.queue.move_to(tx, job, position)?;
            let target = format!("job {job} to place {to}");
            self.audit(
                tx,
                Audit::ok(&who.name(), "admin.queue_move", &target, "admin.sock")
                    .with_reason(&reason),
            )
        })?;
        self.publish_jobs(&[job]);
        Ok(())
    }

    pub fn queue_remove(&self, who: &AdminActor, job: u64, reason: &str) -> Result<()> {
        let reason = Self::reason(reason)?;
        let promoted = self.store.write(|tx| {
            let mut record = tx.job_or_404(job)?;
            let was = record.state;
            let event = if was == JobState::Queued {
                JobEvent::Remove
            } else {
                JobEvent::Cancel
            };
            self.apply(&mut record, event, Actor::Admin)?;
            record.outcome = format!("removed by an admin: {reason}");
            tx.put_job(&record)?;
            let promoted = self.queue.unlink(tx, job, was, self.now())?;
            let target = format!("job {job}");
            self.audit(
                tx,
                Audit::ok(&who.name(), "admin.queue_remove", &target, "admin.sock")
                    .with_reason(&reason),
            )?;
            Ok(promoted)
        })?;
        self.publish_pair(job, promoted);
        Ok(())
    }

    /// Force the lock free (not while scap may run: interrupt it first).
    pub fn release(&self, who: &AdminActor, job: u64, reason: &str) -> Result<()> {
        let reason = Self::reason(reason)?;
        let gate = self.logs.gate();
        let promoted = self.store.write(|tx| {
            let mut record = tx.job_or_404(job)?;
            let was = record.state;
            self.apply(&mut record, JobEvent::Release, Actor::Admin)?;
            record.finished_by = who.name();
            record.outcome = format!("lock released by an admin: {reason}");
            self.logs.flush_in(tx, &mut record)?;
            tx.put_job(&record)?;
            let promoted = self.queue.unlink(tx, job, was, self.now())?;
            let target = format!("job {job}");
            self.audit(
                tx,
                Audit::ok(&who.name(), "admin.release", &target, "admin.sock").with_reason(&reason),
            )?;
            Ok(promoted)
        })?;
        self.logs.forget(job);
        drop(gate);
        self.publish_pair(job, promoted);
        Ok(())
    }

    pub fn admin_interrupt(&self, who: &AdminActor, job: u64, reason: &str) -> Result<()> {
        let reason = Self::reason(reason)?;
        self.interrupt_as(&who.name(), Actor::Admin, job, &reason, &Ctx::admin())?;
        let note = format!("reason given: {reason}");
        self.logs
            .append(job, LogRow::now(self.now(), LogKind::System, note));
        Ok(())
    }

    pub fn admin_finish(&self, who: &AdminActor, job: u64, reason: &str) -> Result<()> {
        let reason = Self::reason(reason)?;
        self.finish_as(&who.name(), Actor::Admin, job, &reason, &Ctx::admin())
    }

    /// Remove a user's TOTP secret; their sessions end and they enrol again.
    pub fn reset_totp(&self, who: &AdminActor, user: &Username, reason: &str) -> Result<u32> {
        let reason = Self::reason(reason)?;
        let name = user.as_str().to_string();
        let ended = self.store.write(|tx| {
            let mut record = tx
                .user(&name)?
                .ok_or_else(|| ExecutorError::NotFound(format!("user {name}")))?;
            record.totp_secret = None;
            record.totp_confirmed = false;
            record.totp = Default::default();
            tx.put_user(&record)?;
            let ended = tx.delete_sessions_where(|s| s.username == name)?.len() as u32;
            let target = format!("user {name}");
            self.audit(
                tx,
                Audit::ok(&who.name(), "admin.totp_reset", &target, "admin.sock")
                    .with_reason(&reason),
            )?;
            Ok(ended)
        })?;
        self.hub
            .revoke(Revocation::User(name), "TOTP reset by an admin");
        Ok(ended)
    }

    /// A page of a job's log. With `sensitive`, the hidden lines too, and
    /// that read is audited — whatever `after` is — with the records it
    /// returned and the admin's `reason`, which it requires.
    pub fn admin_log(
        &self,
        who: &AdminActor,
        job: u64,
        read: LogRead,
        reason: &str,
    ) -> Result<LogPage> {
        if !read.sensitive {
            return self.get_log(job, read.after, read.limit);
        }
        let reason = Self::reason(reason)?;
        let page = self
            .logs
            .sensitive_page(job, read.after, read.from_hidden, read.limit)?;
        let target = match (page.rows.first(), page.rows.last()) {
            (Some((first, _)), Some((last, _))) => format!("job {job} records {first}-{last}"),
            _ => format!("job {job} records after {} (none)", read.after),
        };
        self.store.write(|tx| {
            self.audit(
                tx,
                Audit::ok(&who.name(), "admin.log_sensitive", &target, "admin.sock")
                    .with_reason(&reason),
            )
        })?;
        Ok(page)
    }

    pub fn audit_trail(&self, since_ms: i64, limit: u32) -> Result<Vec<AuditEntry>> {
        let limit = match limit {
            0 => 1000,
            n => (n as usize).min(10_000),
        };
        self.store.read(|tx| tx.audit(since_ms, limit))
    }

    pub fn status(self: &Arc<Self>) -> Result<StatusView> {
        let now = self.now();
        self.store.read(|tx| {
            let active = match tx.active()? {
                Some(id) => Some(self.job_view(tx, id)?),
                None => None,
            };
            let sessions = tx
                .sessions()?
                .iter()
                .filter(|(_, s)| s.totp_passed && now < self.sessions.expiry(s))
                .count() as u32;
            Ok(StatusView {
                started_ms: self.started_ms,
                freeze: FreezeView::at(tx.freeze()?, now),
                active,
                queued: tx.queue()?.len() as u32,
                sessions,
                watchers: self.hub.watchers() as u32,
                state_file: self.store.path().display().to_string(),
            })
        })
    }
}
