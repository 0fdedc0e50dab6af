//! Human output of each response: tables and `label: value` lists. Trust:
//! every untrusted string goes through `table`, which escapes it.

use super::table::{Table, numbers, pairs, time};
use super::view::*;

/// A response as people read it.
pub(super) trait Human {
    fn human(&self) -> String;
}

const JOB_COLUMNS: &[&str] = &[
    "JOB", "OWNER", "KIND", "CHANGES", "STATE", "STAGE", "CREATED", "OUTCOME",
];

fn job_row(t: &mut Table, j: &JobView) {
    t.row([
        j.id.to_string(),
        j.owner.clone(),
        j.kind.clone(),
        numbers(&j.changes),
        j.state.clone(),
        j.stage.clone(),
        time(j.created_at_ms),
        j.outcome.clone(),
    ]);
}

fn freeze_rows(f: &FreezeView) -> Vec<(&'static str, String)> {
    if !f.active {
        return vec![("freeze", "none".into())];
    }
    let until = if f.until_ms == 0 {
        "unfrozen".into()
    } else {
        time(f.until_ms)
    };
    vec![
        ("freeze", "ACTIVE: no deployment starts".into()),
        ("  reason", f.reason.clone()),
        ("  by", f.by.clone()),
        ("  since", time(f.since_ms)),
        ("  until", until),
    ]
}

impl Human for FreezeView {
    fn human(&self) -> String {
        pairs(&freeze_rows(self))
    }
}

impl Human for StatusView {
    fn human(&self) -> String {
        let active = match &self.active {
            Some(j) => format!("job {} of {} ({}, {})", j.id, j.owner, j.state, j.stage),
            None => "free".into(),
        };
        let mut rows = vec![
            ("version", self.version.clone()),
            ("started", time(self.started_at_ms)),
            ("state file", self.state_file.clone()),
            ("lock", active),
            ("queued", self.queued.to_string()),
            ("sessions", self.sessions.to_string()),
            ("watchers", self.watchers.to_string()),
        ];
        rows.extend(freeze_rows(&self.freeze));
        pairs(&rows)
    }
}

impl Human for QueueView {
    fn human(&self) -> String {
        let mut t = Table::new(&["POS", "JOB", "OWNER", "KIND", "CHANGES", "STATE", "CREATED"]);
        for (pos, j) in self
            .active
            .iter()
            .map(|j| ("lock", j))
            .chain(self.queued.iter().map(|j| ("", j)))
        {
            let pos = if pos.is_empty() {
                j.queue_position.to_string()
            } else {
                pos.to_string()
            };
            t.row([
                pos,
                j.id.to_string(),
                j.owner.clone(),
                j.kind.clone(),
                numbers(&j.changes),
                j.state.clone(),
                time(j.created_at_ms),
            ]);
        }
        let mut out = pairs(&freeze_rows(&self.freeze));
        if t.is_empty() {
            out.push_str("The lock is free and the queue is empty.\n");
        } else {
            out.push_str(&t.render());
        }
        out
    }
}

impl Human for JobView {
    fn human(&self) -> String {
        let mut t = Table::new(JOB_COLUMNS);
        job_row(&mut t, self);
        let mut out = t.render();
        if !self.finished_by.is_empty() {
            out.push_str(&pairs(&[("finished by", self.finished_by.clone())]));
        }
        out
    }
}

impl Human for JobsView {
    fn human(&self) -> String {
        let mut t = Table::new(JOB_COLUMNS);
        for j in &self.jobs {
            job_row(&mut t, j);
        }
        let mut out = if t.is_empty() {
            "No jobs.\n".to_string()
        } else {
            t.render()
        };
        if self.next_before_job_id != 0 {
            out.push_str(&format!("More: --before {}\n", self.next_before_job_id));
        }
        out
    }
}

impl Human for BanView {
    fn human(&self) -> String {
        pairs(&[
            ("user", self.username.clone()),
            ("banned", if self.banned { "yes" } else { "no" }.into()),
            ("sessions ended", self.sessions_ended.to_string()),
            ("jobs cancelled", numbers(&self.jobs_cancelled)),
        ])
    }
}

impl Human for SessionsEndedView {
    fn human(&self) -> String {
        pairs(&[("sessions ended", self.sessions_ended.to_string())])
    }
}

impl Human for SessionsView {
    fn human(&self) -> String {
        let mut t = Table::new(&[
            "ID",
            "USER",
            "ROLE",
            "TOTP",
            "CREATED",
            "LAST SEEN",
            "EXPIRES",
            "FROM",
        ]);
        for s in &self.sessions {
            t.row([
                s.id.clone(),
                s.username.clone(),
                s.role.clone(),
                if s.totp_passed { "passed" } else { "pending" }.into(),
                time(s.created_at_ms),
                time(s.last_seen_at_ms),
                time(s.expires_at_ms),
                s.client_addr.clone(),
            ]);
        }
        if t.is_empty() {
            "No sessions.\n".into()
        } else {
            t.render()
        }
    }
}

impl Human for AuditView {
    fn human(&self) -> String {
        let mut t = Table::new(&[
            "SEQ", "TIME", "ACTOR", "ACTION", "TARGET", "OK", "FROM", "REASON",
        ]);
        for a in &self.records {
            t.row([
                a.seq.to_string(),
                time(a.at_ms),
                a.actor.clone(),
                a.action.clone(),
                a.target.clone(),
                if a.success { "yes" } else { "no" }.into(),
                a.client_addr.clone(),
                a.reason.clone(),
            ]);
        }
        if t.is_empty() {
            "No audit records.\n".into()
        } else {
            t.render()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: u64, owner: &str, state: &str) -> JobView {
        JobView {
            id,
            owner: owner.into(),
            kind: "backport".into(),
            changes: vec![1234, 5678],
            state: state.into(),
            stage: "queued".into(),
            queue_position: 1,
            created_at_ms: 1_743_230_210_771,
            started_at_ms: 0,
            ended_at_ms: 0,
            exit_code: None,
            outcome: String::new(),
            pending_prompt: None,
            progress: None,
            status_line: String::new(),
            reverts_job: 0,
            stage_marks: vec![],
            last_seq: 0,
            ready_deadline_ms: 0,
            finished_by: String::new(),
        }
    }

    #[test]
    fn queue_lists_the_lock_holder_first_then_the_queue() {
        let q = QueueView {
            active: Some(job(3, "alice", "running")),
            queued: vec![job(4, "bob\n\u{1b}[2Jroot", "queued")],
            freeze: FreezeView {
                active: false,
                reason: String::new(),
                by: String::new(),
                since_ms: 0,
                until_ms: 0,
            },
        };
        assert_eq!(
            q.human(),
            "freeze:  none\n\
             POS   JOB  OWNER             KIND      CHANGES     STATE    CREATED\n\
             lock  3    alice             backport  1234, 5678  running  2025-03-29 06:36:50 UTC\n\
             1     4    bob\\n\\x1b[2Jroot  backport  1234, 5678  queued   2025-03-29 06:36:50 UTC\n"
        );
    }

    #[test]
    fn an_active_freeze_shows_its_escaped_reason() {
        let f = FreezeView {
            active: true,
            reason: "train\nfreeze: none".into(),
            by: "root".into(),
            since_ms: 1_743_230_210_771,
            until_ms: 0,
        };
        let out = f.human();
        assert!(out.contains("reason:  train\\nfreeze: none\n"), "{out}");
        assert!(out.contains("until:   unfrozen\n"), "{out}");
        assert_eq!(out.lines().count(), 5);
    }

    #[test]
    fn jobs_say_how_to_get_the_next_page() {
        let v = JobsView {
            jobs: vec![job(9, "alice", "done")],
            next_before_job_id: 9,
        };
        assert!(v.human().ends_with("More: --before 9\n"));
        let empty = JobsView {
            jobs: vec![],
            next_before_job_id: 0,
        };
        assert_eq!(empty.human(), "No jobs.\n");
    }
}
