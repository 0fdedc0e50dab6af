//! The engine's job rules, table by table, without the IDP, fake-scap or a
//! socket: callers are signed in with `Engine::sign_in_for_test`. Trust
//! level: test code.

use std::sync::Arc;

use spiderpig_policy::{ChangeNumber, JobId, JobState, Role, TotpCode};
use tonic::Code;

use super::{AdminActor, Caller, Ctx, Engine};
use crate::auth::totp::{TotpSecret, code_at, step_at};
use crate::clock::ManualClock;
use crate::config::{self, Config};
use crate::error::ExecutorError;
use crate::store::{JobRecord, Reads, Store};

/// An engine on a fresh store, with its clock.
struct Fixture {
    _dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    engine: Arc<Engine>,
}

/// A signed-in person and the TOTP secret their codes come from.
struct Person {
    caller: Caller,
    secret: TotpSecret,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Arc::new(Config::parse(config::tests::MINIMAL).expect("config"));
    let store = Arc::new(Store::open(&dir.path().join("store.redb")).expect("store"));
    let clock = Arc::new(ManualClock::new(1_000_000_000));
    let engine = Engine::new(config, store, clock.clone(), None).expect("engine");
    Fixture {
        _dir: dir,
        clock,
        engine,
    }
}

impl Fixture {
    fn person(&self, name: &str, role: Role) -> Person {
        let (caller, secret) = self.engine.sign_in_for_test(name, role).expect("sign-in");
        Person { caller, secret }
    }

    /// Submit a backport of `change` with a fresh code (each code is
    /// usable once, so the clock moves on a TOTP step first).
    fn submit(&self, who: &Person, change: u64) -> Result<JobId, ExecutorError> {
        self.clock.advance_secs(30);
        let code = code_at(&who.secret, step_at(self.engine.now()));
        let code = TotpCode::parse(&code).expect("six digits");
        let changes = [ChangeNumber::new(change).expect("change")];
        let view = self
            .engine
            .submit(&who.caller, &changes, &code, &Ctx::default())?;
        Ok(JobId::new(view.job.id).expect("job id"))
    }

    fn job(&self, id: JobId) -> JobRecord {
        self.engine
            .store
            .read(|tx| tx.job_or_404(id.get()))
            .expect("job")
    }

    /// Put a job into `state` directly (as scap's exit or a restart would).
    fn set_state(&self, id: JobId, state: JobState) {
        let mut job = self.job(id);
        job.state = state;
        self.engine
            .store
            .write(|tx| tx.put_job(&job))
            .expect("write");
    }

    fn active(&self) -> Option<u64> {
        self.engine.store.read(|tx| tx.active()).expect("read")
    }
}

#[test]
fn ready_is_refused_while_frozen_and_nothing_changes() {
    let f = fixture();
    let ann = f.person("ann", Role::Deployer);
    let id = f.submit(&ann, 101).expect("submit");
    assert_eq!(f.job(id).state, JobState::AwaitingReady);
    f.engine
        .freeze(&AdminActor("root".into()), "train", 0)
        .expect("freeze");
    let before = f.job(id);
    let refused = block_on(f.engine.ready(&ann.caller, id, &Ctx::default()));
    assert!(
        matches!(refused, Err(ExecutorError::Frozen(_))),
        "{refused:?}"
    );
    assert_eq!(f.job(id), before, "the job is untouched");
    assert_eq!(f.active(), Some(id.get()), "it still holds the lock");
}

#[test]
fn cancel_of_the_lock_holder_promotes_the_next() {
    let f = fixture();
    let ann = f.person("ann", Role::Deployer);
    let bob = f.person("bob", Role::Deployer);
    let first = f.submit(&ann, 101).expect("ann's job");
    let second = f.submit(&bob, 102).expect("bob's job");
    assert_eq!(f.job(second).state, JobState::Queued);
    f.engine
        .cancel(&ann.caller, first, &Ctx::default())
        .expect("cancel");
    assert_eq!(f.job(first).state, JobState::Cancelled);
    assert_eq!(f.job(second).state, JobState::AwaitingReady);
    assert_eq!(f.active(), Some(second.get()));
}

#[test]
fn queue_limit_counts_only_queued_jobs() {
    let f = fixture();
    let ann = f.person("ann", Role::Deployer);
    let limit = f.engine.config.limits.queued_jobs_per_user;
    // The first job takes the lock at once: it is not queued.
    let mut change = 100;
    for _ in 0..=limit {
        change += 1;
        f.submit(&ann, change).expect("within the limit");
    }
    let refused = f.submit(&ann, change + 1);
    assert!(
        matches!(refused, Err(ExecutorError::QueueLimit { limit: l }) if l == limit),
        "{refused:?}"
    );
    // Someone else's queue is their own.
    let bob = f.person("bob", Role::Deployer);
    f.submit(&bob, 900)
        .expect("bob is not limited by ann's jobs");
}

/// Who acts on ann's job, and whether they may.
const ACTORS: [(&str, Role, bool); 3] = [
    ("ann", Role::Deployer, true),
    ("root", Role::Admin, true),
    ("bob", Role::Deployer, false),
];

/// A fixture where ann's job is in `state`, and the caller `name`.
fn ann_job_in(state: JobState, name: &str, role: Role) -> (Fixture, Caller, JobId) {
    let f = fixture();
    let ann = f.person("ann", Role::Deployer);
    let who = if name == "ann" {
        ann.caller.clone()
    } else {
        f.person(name, role).caller
    };
    let id = f.submit(&ann, 101).expect("submit");
    f.set_state(id, state);
    (f, who, id)
}

#[test]
fn finish_is_for_the_owner_or_an_admin() {
    for (name, role, may) in ACTORS {
        let (f, who, id) = ann_job_in(JobState::AwaitingFinish, name, role);
        let before = f.job(id);
        let outcome = f.engine.finish(&who, id, &Ctx::default());
        if may {
            outcome.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(f.job(id).state, JobState::Done, "{name}");
            assert_eq!(f.active(), None, "{name}: the lock is free");
        } else {
            let e = outcome.expect_err(name);
            assert_eq!(e.code(), Code::PermissionDenied, "{name}: {e}");
            assert_eq!(f.job(id), before, "{name}: the job is untouched");
        }
    }
}

#[test]
fn interrupt_is_for_the_owner_or_an_admin() {
    for (name, role, may) in ACTORS {
        let (f, who, id) = ann_job_in(JobState::Running, name, role);
        let e = f
            .engine
            .interrupt(&who, id, &Ctx::default())
            .expect_err("no scap runs in this test");
        if may {
            // Allowed: refused only because no scap is running.
            assert!(matches!(e, ExecutorError::WrongState(_)), "{name}: {e}");
        } else {
            assert_eq!(e.code(), Code::PermissionDenied, "{name}: {e}");
        }
        assert_eq!(f.job(id).state, JobState::Running, "{name}");
    }
}

#[test]
fn a_job_not_made_ready_in_time_expires_and_the_next_takes_the_lock() {
    let f = fixture();
    let ann = f.person("ann", Role::Deployer);
    let bob = f.person("bob", Role::Deployer);
    let first = f.submit(&ann, 101).expect("ann's job");
    let second = f.submit(&bob, 102).expect("bob's job");
    let ready_secs = f.engine.config.timeouts.ready_secs as i64;
    // 30 s went by with bob's submission: not yet.
    f.clock.advance_secs(ready_secs - 60);
    f.engine.tick().expect("tick");
    assert_eq!(f.job(first).state, JobState::AwaitingReady);
    f.clock.advance_secs(60);
    f.engine.tick().expect("tick");
    assert_eq!(f.job(first).state, JobState::Expired);
    assert_eq!(f.job(second).state, JobState::AwaitingReady);
    assert_eq!(f.active(), Some(second.get()));
}

/// Run a future to its end on a fresh current-thread runtime.
fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(fut)
}

#[test]
fn audit_records_past_their_retention_are_pruned_and_the_pruning_is_recorded() {
    let f = fixture();
    let ann = f.person("ann", Role::Deployer);
    f.submit(&ann, 1001).expect("submit");
    let before = f.engine.audit_trail(0, 1000).expect("audit");
    assert!(!before.is_empty());
    // Within the retention nothing goes.
    f.clock.advance_secs(399 * 86_400);
    assert_eq!(f.engine.prune_audit().expect("prune"), 0);
    assert_eq!(f.engine.audit_trail(0, 1000).expect("audit"), before);
    f.clock.advance_secs(2 * 86_400);
    let pruned = f.engine.prune_audit().expect("prune");
    assert_eq!(pruned, before.len() as u64);
    let after = f.engine.audit_trail(0, 1000).expect("audit");
    let actions: Vec<&str> = after.iter().map(|(_, r)| r.action.as_str()).collect();
    assert_eq!(actions, ["retention.audit_prune"]);
    assert!(
        after[0]
            .1
            .target
            .starts_with(&format!("{pruned} audit records"))
    );
}

/// A session for `name` that has passed the IDP but not TOTP yet.
fn pre_totp(f: &Fixture, name: &str) -> (Caller, TotpSecret) {
    let (full, secret) = f
        .engine
        .sign_in_for_test(name, Role::Deployer)
        .expect("user");
    let now = f.engine.now();
    let token = f
        .engine
        .store
        .write(|tx| {
            tx.delete_session(&full.session_hash)?;
            let (token, _) = f
                .engine
                .sessions
                .open(tx, name, Role::Deployer, false, "-", now)?;
            Ok(token)
        })
        .expect("pre-TOTP session");
    let caller = f
        .engine
        .authenticate(token.as_str(), false)
        .expect("signed in");
    (caller, secret)
}

fn code_now(f: &Fixture, secret: &TotpSecret) -> TotpCode {
    TotpCode::parse(&code_at(secret, step_at(f.engine.now()))).expect("six digits")
}

#[test]
fn totp_after_a_logout_that_came_between_check_and_write_is_refused() {
    // The caller was authenticated, then an admin logged the user out
    // before VerifyTotp's write transaction ran (F9).
    let f = fixture();
    let (caller, secret) = pre_totp(&f, "ann");
    let ann = spiderpig_policy::Username::parse("ann").expect("name");
    f.engine
        .logout_users(
            &AdminActor("root".into()),
            super::LogoutScope::User(ann),
            "leaving",
        )
        .expect("logout");
    let refused = f
        .engine
        .verify_totp(&caller, &code_now(&f, &secret), &Ctx::default());
    assert!(
        matches!(refused, Err(ExecutorError::Unauthenticated)),
        "{refused:?}"
    );
    let sessions = f.engine.list_sessions().expect("sessions");
    assert!(sessions.is_empty(), "no session was minted: {sessions:?}");
}

#[test]
fn a_submit_after_a_ban_that_came_between_check_and_write_queues_nothing() {
    let f = fixture();
    let ann = f.person("ann", Role::Deployer);
    let name = spiderpig_policy::Username::parse("ann").expect("name");
    f.engine
        .ban(&AdminActor("root".into()), &name, "compromised")
        .expect("ban");
    let refused = f.submit(&ann, 101);
    assert!(
        matches!(refused, Err(ExecutorError::Unauthenticated)),
        "{refused:?}"
    );
    let queue = f.engine.get_queue().expect("queue");
    assert!(queue.active.is_none() && queue.queued.is_empty());
    assert!(
        f.engine
            .list_jobs(0, 10, None, vec![])
            .expect("jobs")
            .0
            .is_empty()
    );
}

#[test]
fn a_pre_totp_session_lives_no_longer_than_a_login() {
    // F10: an abandoned half-login ends after login_secs, even while used.
    let f = fixture();
    let login_secs = f.engine.config.timeouts.login_secs as i64;
    let (caller, _) = pre_totp(&f, "ann");
    let token_hash = caller.session_hash;
    assert!(f.engine.session_alive(&token_hash));
    assert!(caller.expires_ms <= f.engine.now() + login_secs * 1000);
    f.clock.advance_secs(login_secs - 1);
    assert!(f.engine.session_alive(&token_hash), "within a login's time");
    f.clock.advance_secs(1);
    assert!(!f.engine.session_alive(&token_hash), "past a login's time");
    // A full session keeps the working day's lifetime.
    let bob = f.person("bob", Role::Deployer);
    f.clock.advance_secs(login_secs + 1);
    assert!(f.engine.session_alive(&bob.caller.session_hash));
}
