//! The queue component alone, on a real store: its refusals change nothing.
//! Trust level: test code.

use spiderpig_policy::{ChangeNumber, JobState};

use super::{Queue, place};
use crate::error::ExecutorError;
use crate::store::{FreezeRecord, JobKind, JobRecord, Reads, Store};

const NOW: i64 = 1_000_000;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("store.redb")).expect("store");
    (dir, store)
}

fn job(id: u64, owner: &str) -> JobRecord {
    let change = ChangeNumber::new(1000 + id).expect("change");
    JobRecord::queued(id, owner, JobKind::Backport, vec![change], NOW)
}

/// Queue `owners` in order (ids 1, 2, …), nobody holding the lock.
fn queued(store: &Store, queue: &Queue, owners: &[&str]) {
    store
        .write(|tx| {
            for (i, owner) in owners.iter().enumerate() {
                queue.enqueue(tx, &job(i as u64 + 1, owner))??;
            }
            Ok(())
        })
        .expect("enqueue");
}

fn order(store: &Store) -> Vec<u64> {
    store.read(|tx| tx.queue()).expect("queue")
}

#[test]
fn the_per_user_limit_refuses_without_writing_the_job() {
    let (_dir, store) = store();
    let queue = Queue::new(300, 2);
    queued(&store, &queue, &["ann", "ann", "bob"]);
    let refused = store
        .write(|tx| queue.enqueue(tx, &job(4, "ann")))
        .expect("transaction");
    assert!(matches!(
        refused,
        Err(ExecutorError::QueueLimit { limit: 2 })
    ));
    assert_eq!(order(&store), [1, 2, 3]);
    assert!(store.read(|tx| tx.job(4)).expect("read").is_none());
}

#[test]
fn moves_to_place_zero_or_of_an_unqueued_job_are_refused_and_change_nothing() {
    let (_dir, store) = store();
    let queue = Queue::new(300, 5);
    queued(&store, &queue, &["ann", "bob", "cy"]);
    let zero = store.write(|tx| queue.move_to(tx, 3, 0));
    assert!(matches!(zero, Err(ExecutorError::InvalidArgument(_))));
    let absent = store.write(|tx| queue.move_to(tx, 9, 1));
    assert!(matches!(absent, Err(ExecutorError::WrongState(_))));
    assert_eq!(order(&store), [1, 2, 3]);
    let to = store.write(|tx| queue.move_to(tx, 3, 99)).expect("move");
    assert_eq!((to, order(&store)), (3, vec![1, 2, 3]));
    let to = store.write(|tx| queue.move_to(tx, 3, 1)).expect("move");
    assert_eq!((to, order(&store)), (1, vec![3, 1, 2]));
    assert_eq!(place(&order(&store), 2), 3);
    assert_eq!(place(&order(&store), 7), 0);
}

#[test]
fn promotion_waits_for_a_free_lock_and_no_freeze_and_skips_jobs_that_left() {
    let (_dir, store) = store();
    let queue = Queue::new(300, 5);
    queued(&store, &queue, &["ann", "bob"]);
    let frozen = FreezeRecord {
        active: true,
        reason: "train".into(),
        ..Default::default()
    };
    store.write(|tx| tx.set_freeze(&frozen)).expect("freeze");
    assert_eq!(
        store.write(|tx| queue.promote(tx, NOW)).expect("promote"),
        None
    );
    assert_eq!(store.read(|tx| tx.active()).expect("read"), None);
    store
        .write(|tx| {
            tx.set_freeze(&FreezeRecord::default())?;
            // Job 1 was cancelled in a way that left it in the queue list.
            let mut first = tx.job_or_404(1)?;
            first.state = JobState::Cancelled;
            tx.put_job(&first)
        })
        .expect("unfreeze");
    assert_eq!(
        store.write(|tx| queue.promote(tx, NOW)).expect("promote"),
        Some(2)
    );
    let second = store.read(|tx| tx.job_or_404(2)).expect("read");
    assert_eq!(second.state, JobState::AwaitingReady);
    assert_eq!(second.ready_deadline_ms, NOW + 300_000);
    assert_eq!(order(&store), Vec::<u64>::new());
    // The lock is taken: nothing more is promoted, and only its holder may
    // release it.
    assert_eq!(
        store.write(|tx| queue.promote(tx, NOW)).expect("promote"),
        None
    );
    let wrong = store.write(|tx| queue.release(tx, 1));
    assert!(matches!(wrong, Err(ExecutorError::Internal(_))));
    assert_eq!(store.read(|tx| tx.active()).expect("read"), Some(2));
}
