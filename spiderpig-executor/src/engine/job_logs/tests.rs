//! The log buffer's commits while records keep arriving; trust level: test
//! code.

use std::sync::Arc;

use spiderpig_policy::PLACEHOLDER;

use super::*;
use crate::clock::ManualClock;
use crate::config::{self, Config};
use crate::engine::Engine;
use crate::store::{JobKind, Store};

const JOB: u64 = 1;

/// An engine on a fresh store holding job 1.
fn engine() -> (tempfile::TempDir, Arc<Engine>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Arc::new(Config::parse(config::tests::MINIMAL).expect("config"));
    let store = Arc::new(Store::open(&dir.path().join("store.redb")).expect("store"));
    let clock = Arc::new(ManualClock::new(1_000_000));
    let engine = Engine::new(config, store, clock, None).expect("engine");
    let job = JobRecord::queued(
        JOB,
        "ann",
        JobKind::Backport,
        vec![spiderpig_policy::ChangeNumber::new(42).unwrap()],
        0,
    );
    engine.store.write(|tx| tx.put_job(&job)).expect("job");
    (dir, engine)
}

/// The hidden lines of record `seq` in the store.
fn stored_hidden(engine: &Engine, seq: u64) -> Vec<String> {
    let rows = engine
        .store
        .read(|tx| tx.logs(JOB, seq - 1, 1))
        .expect("read");
    assert_eq!(rows.len(), 1, "record {seq} is stored");
    rows[0].1.hidden.clone()
}

#[test]
fn a_hidden_line_that_arrives_while_its_record_is_being_committed_is_kept() {
    let (_dir, e) = engine();
    let mut row = LogRow::now(1, LogKind::Redacted, PLACEHOLDER);
    row.hidden.push("first".into());
    let seq = e.logs.append(JOB, row);
    // The periodic commit has written the record; before it commits, the
    // run's next hidden line arrives.
    let flushed = e
        .store
        .write(|tx| {
            let mut job = tx.job_or_404(JOB)?;
            let flushed = e.logs.flush_in(tx, &mut job)?;
            e.logs.add_hidden(JOB, "second".into());
            tx.put_job(&job)?;
            Ok(flushed)
        })
        .expect("commit");
    e.logs.trim(JOB, flushed);
    assert_eq!(stored_hidden(&e, seq), ["first"]);
    e.logs.add_hidden(JOB, "third".into());
    e.flush_log(JOB).expect("flush");
    assert_eq!(stored_hidden(&e, seq), ["first", "second", "third"]);
    // Nothing is left to write, and writing again changes nothing.
    e.flush_log(JOB).expect("flush");
    assert_eq!(stored_hidden(&e, seq), ["first", "second", "third"]);
}

#[test]
fn a_hidden_line_for_a_record_whose_commit_failed_is_written_with_it_later() {
    let (_dir, e) = engine();
    let mut row = LogRow::now(1, LogKind::Redacted, PLACEHOLDER);
    row.hidden.push("first".into());
    let seq = e.logs.append(JOB, row);
    // The commit fails after the record was written into it.
    let failed = e.store.write(|tx| {
        let mut job = tx.job_or_404(JOB)?;
        e.logs.flush_in(tx, &mut job)?;
        e.logs.add_hidden(JOB, "second".into());
        Err::<(), _>(crate::error::ExecutorError::Store("disk full".into()))
    });
    assert!(failed.is_err());
    e.flush_log(JOB).expect("flush");
    assert_eq!(stored_hidden(&e, seq), ["first", "second"]);
}
