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
    let lines = engine
        .store
        .read(|tx| tx.hidden(JOB, seq, 0, usize::MAX))
        .expect("read");
    assert!(lines.iter().enumerate().all(|(i, (n, _))| *n == i as u32));
    lines.into_iter().map(|(_, l)| l).collect()
}

/// A sensitive run begins: its placeholder and first hidden line.
fn start_sensitive(e: &Engine, first: &str) -> u64 {
    let seq = e
        .logs
        .append(JOB, LogRow::now(1, LogKind::Redacted, PLACEHOLDER));
    e.logs.add_hidden(JOB, first.into());
    seq
}

#[test]
fn a_hidden_line_that_arrives_while_its_record_is_being_committed_is_kept() {
    let (_dir, e) = engine();
    let seq = start_sensitive(&e, "first");
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
    let record = e.store.read(|tx| tx.logs(JOB, seq - 1, 1)).expect("read");
    e.logs.add_hidden(JOB, "third".into());
    e.flush_log(JOB).expect("flush");
    assert_eq!(stored_hidden(&e, seq), ["first", "second", "third"]);
    // Nothing is left to write, and writing again changes nothing.
    e.flush_log(JOB).expect("flush");
    assert_eq!(stored_hidden(&e, seq), ["first", "second", "third"]);
    // The record itself was written once and never again.
    let now = e.store.read(|tx| tx.logs(JOB, seq - 1, 1)).expect("read");
    assert_eq!(now, record);
}

#[test]
fn a_hidden_line_for_a_record_whose_commit_failed_is_written_with_it_later() {
    let (_dir, e) = engine();
    let seq = start_sensitive(&e, "first");
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

/// Commit one batch of `n` hidden lines of the run, numbered from `from`.
fn hidden_batch(e: &Engine, from: usize, n: usize) {
    for i in from..from + n {
        e.logs
            .add_hidden(JOB, format!("patch line {i:05} {}", "x".repeat(80)));
    }
    e.flush_log(JOB).expect("flush");
}

#[test]
fn twenty_thousand_hidden_lines_are_appended_once_each_and_page_through() {
    // F8: each flush writes its own lines as rows and nothing else (the
    // record is never rewritten), so the work is linear; an admin's pages
    // hold every line exactly once, in order, each page within its bytes.
    let (_dir, e) = engine();
    let seq = start_sensitive(&e, "patch line 00000");
    e.flush_log(JOB).expect("flush");
    let record = e.store.read(|tx| tx.logs(JOB, 0, 10)).expect("read");
    for batch in 0..199 {
        hidden_batch(&e, 1 + batch * 100, 100);
        let pending = e.logs.existing(JOB).map(|l| lock(&l).hidden.len());
        assert_eq!(pending, Some(0), "a flush leaves nothing behind");
    }
    // The last 99 stay in the buffer: pages read them too, without a gap.
    for i in 19_901..20_000 {
        e.logs
            .add_hidden(JOB, format!("patch line {i:05} {}", "x".repeat(80)));
    }
    assert_eq!(
        e.store.read(|tx| tx.logs(JOB, 0, 10)).expect("read"),
        record
    );
    let (mut after, mut from, mut lines, mut pages) = (seq - 1, 0, Vec::new(), 0);
    loop {
        let page = e.logs.sensitive_page(JOB, after, from, 0).expect("page");
        let bytes: usize = page
            .hidden
            .iter()
            .flat_map(|(_, l)| l)
            .map(String::len)
            .sum();
        assert!(bytes <= PAGE_BYTES, "a page of {bytes} bytes");
        let encoded = prost::Message::encoded_len(&spiderpig_proto::v1::GetLogResponse {
            records: crate::wire::log_page(&page, true),
            more: page.more,
            next_hidden: page.next_hidden,
        });
        assert!(
            encoded <= PAGE_BYTES + RECORD_OVERHEAD * 2,
            "{encoded} bytes encoded"
        );
        pages += 1;
        for (_, l) in page.hidden {
            lines.extend(l);
        }
        if page.next_hidden == 0 {
            break;
        }
        (after, from) = (seq - 1, page.next_hidden);
    }
    assert!(pages > 5, "{pages} pages");
    assert_eq!(lines.len(), 20_000);
    let first = |l: &String| l[11..16].parse::<usize>().expect("number");
    assert!(
        lines.iter().enumerate().all(|(i, l)| first(l) == i),
        "in order, once each"
    );
}

#[test]
fn pages_of_long_lines_are_capped_in_bytes_and_reach_the_end() {
    // F3: 40 lines of 65,000 bytes, then one more; paged by GetLog's rule
    // every page stays within its bytes and the reader reaches the last.
    let (_dir, e) = engine();
    for i in 0..40 {
        let text = format!("{i:02}{}", "y".repeat(64_998));
        e.logs.append(JOB, LogRow::now(1, LogKind::Line, text));
    }
    let last = e.logs.append(JOB, LogRow::now(2, LogKind::Line, "after"));
    e.flush_log(JOB).expect("flush");
    let (mut after, mut pages) = (0, 0);
    loop {
        let page = e.logs.page(JOB, after, 5000).expect("page");
        let encoded = prost::Message::encoded_len(&spiderpig_proto::v1::GetLogResponse {
            records: crate::wire::log_page(&page, false),
            more: page.more,
            next_hidden: 0,
        });
        assert!(encoded <= PAGE_BYTES, "a message of {encoded} bytes");
        assert!(!page.rows.is_empty());
        after = page.rows.last().expect("rows").0;
        pages += 1;
        if !page.more {
            break;
        }
    }
    assert_eq!(after, last);
    assert!(pages >= 10, "{pages} pages");
}

#[test]
fn watching_an_ended_job_makes_no_ring() {
    // F12: nothing more will be logged, so there is nothing to follow live.
    let (_dir, e) = engine();
    let (live, from) = e.logs.subscribe(JOB);
    assert!(live.is_some(), "a job that may still run is followed");
    assert_eq!(from, 1);
    drop(live);
    e.hub.release_log(JOB);
    assert_eq!(e.hub.log_rings(), 0);
    let mut job = e.store.read(|tx| tx.job_or_404(JOB)).expect("job");
    job.state = spiderpig_policy::JobState::Done;
    e.store.write(|tx| tx.put_job(&job)).expect("write");
    let (live, _) = e.logs.subscribe(JOB);
    assert!(live.is_none());
    assert_eq!(e.hub.log_rings(), 0);
    let (live, _) = e.logs.subscribe(999);
    assert!(live.is_none(), "no such job: no ring");
    assert_eq!(e.hub.log_rings(), 0);
}
