//! Helpers shared by `executor_scenarios.rs` and `executor_prompts.rs`: a
//! signed-in deployer with a driver, fresh TOTP codes, running a job to
//! scap's exit, and the checks every finished job's log must pass.

#![allow(dead_code)]

use std::time::Duration;

use spiderpig_proto::v1 as pb;
use spiderpig_tests::drive::Driver;
use spiderpig_tests::executor::{Harness, SignedIn};

/// Every security-patch line has this; no user-visible record may.
pub const SECRET_FRAGMENT: &str = "/srv/patches/";
/// What users see instead of a run of sensitive lines.
pub const PLACEHOLDER: &str = "<sensitive information hidden>";
/// fake-scap re-applies six security patches per live version.
pub const PATCH_LINES_PER_RUN: usize = 6;

/// Answers to prompts, in order: (a fragment of the prompt's text, the key).
pub type Script<'a> = &'a [(&'a str, &'a str)];

/// Runs a backport to completion.
pub const DEPLOY: &[(&str, &str)] = &[
    ("Backport the changes?", "y"),
    ("Continue with deployment?", "y"),
];

/// Needle for scap's alert after any rollback (step 9 of SCAP.md).
pub const ALERT: &str = "undeployed by rollback";

pub const EXIT_0: &str = "scap finished successfully (exit 0)";
pub const EXIT_1: &str = "scap exited with status 1";

/// A signed-in user and their driver.
pub struct User {
    pub signed: SignedIn,
    pub drv: Driver,
}

/// Sign `name` in (password `<name>-pass`).
pub async fn user(h: &Harness, name: &str) -> anyhow::Result<User> {
    let signed = h.login(name, &format!("{name}-pass")).await?;
    let drv = Driver::new(h.client(), &signed.token);
    Ok(User { signed, drv })
}

impl User {
    /// A TOTP code that was never used: the clock moves one 30 s step on
    /// first, so it is newer than any step this user has used.
    pub fn fresh_code(&self, h: &Harness) -> String {
        h.clock.advance_secs(30);
        h.totp(&self.signed.secret, 0)
    }

    pub async fn submit(&mut self, h: &Harness, changes: &[u64]) -> anyhow::Result<pb::Job> {
        let code = self.fresh_code(h);
        Ok(self.drv.submit(changes, &code).await?)
    }

    /// Ready, answer `script`, and wait until scap has exited.
    pub async fn run(&mut self, id: u64, script: &[(&str, &str)]) -> anyhow::Result<pb::Job> {
        self.drv.ready(id).await?;
        self.answer_to_exit(id, script).await
    }

    /// Answer `script` and wait until scap has exited.
    pub async fn answer_to_exit(
        &mut self,
        id: u64,
        script: &[(&str, &str)],
    ) -> anyhow::Result<pb::Job> {
        self.drv.answer_all(id, script).await?;
        self.drv.wait_state(id, pb::JobState::AwaitingFinish).await
    }

    /// The code of the last TOTP step, which a submit just used.
    pub fn used_code(&self, h: &Harness) -> String {
        use spiderpig_executor::auth::totp::{code_at, step_at};
        use spiderpig_executor::clock::Clock;
        code_at(&self.signed.secret, step_at(h.clock.now_ms()))
    }

    /// Submit, run and check the exit; the job still holds the lock.
    pub async fn deploy(
        &mut self,
        h: &Harness,
        changes: &[u64],
        script: &[(&str, &str)],
        exit: i32,
    ) -> anyhow::Result<pb::Job> {
        let job = self.submit(h, changes).await?;
        assert_eq!(job.state, pb::JobState::AwaitingReady as i32);
        let done = self.run(job.id, script).await?;
        assert_exited(&done, exit);
        assert_holds_lock(&mut self.drv, done.id).await?;
        Ok(done)
    }

    /// Finish and check that the lock is free (nobody else queued).
    pub async fn finish_and_release(&mut self, id: u64) -> anyhow::Result<()> {
        let done = self.drv.finish(id).await?;
        assert_eq!(done.state, pb::JobState::Done as i32);
        assert_eq!(done.finished_by, self.signed.username);
        let queue = self.drv.queue().await?;
        assert!(
            queue.active.is_none(),
            "lock still held: {:?}",
            queue.active
        );
        Ok(())
    }
}

/// scap exited by itself with `code`, and the outcome says so.
pub fn assert_exited(job: &pb::Job, code: i32) {
    assert_eq!(job.state, pb::JobState::AwaitingFinish as i32);
    assert!(job.has_exit_code, "no exit code: {}", job.outcome);
    assert_eq!(job.exit_code, code, "outcome: {}", job.outcome);
    let expected = if code == 0 {
        EXIT_0.to_string()
    } else {
        format!("scap exited with status {code}")
    };
    assert_eq!(job.outcome, expected);
    assert!(job.pending_prompt.is_none());
}

/// The job holds the deployment lock.
pub async fn assert_holds_lock(drv: &mut Driver, id: u64) -> anyhow::Result<()> {
    let queue = drv.queue().await?;
    assert_eq!(queue.active.map(|j| j.id), Some(id), "lock holder");
    Ok(())
}

/// The user-visible log after scap exited, checked for what every log must
/// satisfy: consecutive seq, no patch path anywhere, exactly `placeholders`
/// placeholder records, each standing for one whole run of patch lines (as
/// the admin's `--include-sensitive` view shows), and never two in a row.
pub async fn checked_log(
    h: &Harness,
    drv: &mut Driver,
    id: u64,
    placeholders: usize,
) -> anyhow::Result<Vec<pb::LogRecord>> {
    let log = drv.log(id).await?;
    assert!(!log.is_empty());
    let redacted = pb::log_record::Kind::Redacted as i32;
    for (i, rec) in log.iter().enumerate() {
        assert_eq!(rec.seq, i as u64 + 1, "gap or duplicate in the log");
        assert!(
            !rec.text.contains(SECRET_FRAGMENT),
            "leaked: {:?}",
            rec.text
        );
        assert!(rec.sensitive_lines.is_empty(), "hidden lines sent to users");
        if rec.kind == redacted {
            assert_eq!(rec.text, PLACEHOLDER);
        } else {
            assert!(!rec.text.contains(PLACEHOLDER), "fake placeholder");
        }
    }
    let shown = log.iter().filter(|r| r.kind == redacted).count();
    assert_eq!(shown, placeholders, "placeholders in {:#?}", texts(&log));
    for pair in log.windows(2) {
        assert!(
            pair[0].kind != redacted || pair[1].kind != redacted,
            "two placeholders in a row at seq {}",
            pair[1].seq
        );
    }
    let full = admin_log(h, id).await?;
    assert_eq!(
        full.len(),
        log.len(),
        "admin and user logs differ in length"
    );
    for rec in full.iter().filter(|r| r.kind == redacted) {
        assert_eq!(rec.sensitive_lines.len(), PATCH_LINES_PER_RUN, "{rec:?}");
        assert!(
            rec.sensitive_lines
                .iter()
                .all(|l| l.contains(SECRET_FRAGMENT))
        );
    }
    Ok(log)
}

/// The whole log with the hidden lines, as `ctl log --include-sensitive`.
pub async fn admin_log(h: &Harness, id: u64) -> anyhow::Result<Vec<pb::LogRecord>> {
    let mut admin = h.admin();
    let mut all: Vec<pb::LogRecord> = Vec::new();
    let mut after_hidden = 0;
    loop {
        let last = all.last().map(|r| r.seq).unwrap_or(0);
        let after = if after_hidden > 0 { last - 1 } else { last };
        let page = admin
            .admin_get_log(pb::AdminGetLogRequest {
                job_id: id,
                after_seq: after,
                limit: 0,
                include_sensitive: true,
                reason: "test: the whole log".into(),
                after_hidden,
            })
            .await?
            .into_inner();
        let mut records = page.records.into_iter();
        if after_hidden > 0
            && let (Some(cut), Some(rest)) = (all.last_mut(), records.next())
        {
            cut.sensitive_lines.extend(rest.sensitive_lines);
        }
        all.extend(records);
        after_hidden = page.next_hidden;
        if !page.more {
            return Ok(all);
        }
    }
}

pub fn texts(log: &[pb::LogRecord]) -> Vec<&str> {
    log.iter().map(|r| r.text.as_str()).collect()
}

/// Records of `kind` whose text contains `needle`.
pub fn count(log: &[pb::LogRecord], kind: pb::log_record::Kind, needle: &str) -> usize {
    log.iter()
        .filter(|r| r.kind == kind as i32 && r.text.contains(needle))
        .count()
}

/// Some scap output line contains `needle`.
pub fn has_line(log: &[pb::LogRecord], needle: &str) -> bool {
    count(log, pb::log_record::Kind::Line, needle) > 0
}

/// The code of a refused call.
pub fn refused<T: std::fmt::Debug>(r: Result<T, tonic::Status>) -> tonic::Code {
    r.expect_err("the call should have been refused").code()
}

/// Poll `f` every 10 ms for at most `secs` seconds.
pub async fn within<T, F, Fut>(secs: u64, f: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    spiderpig_tests::executor::eventually(Duration::from_secs(secs), f).await
}
