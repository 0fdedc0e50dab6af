use super::*;
use crate::error::ExecutorError;
use crate::store::{AuditRow, JobKind, JobRecord, LogKind, LogRow, Reads};

fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("s.redb")).expect("open");
    (dir, store)
}

fn audit_row(n: i64) -> AuditRow {
    AuditRow {
        at_ms: n,
        actor: "system".into(),
        action: "test".into(),
        target: format!("t{n}"),
        reason: String::new(),
        client_addr: "-".into(),
        success: true,
    }
}

#[test]
fn schema_version_is_recorded_and_reopen_works() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    {
        let store = Store::open(&path).unwrap();
        let v: Option<u64> = store.read(|tx| tx.meta(tables::KEY_SCHEMA)).unwrap();
        assert_eq!(v, Some(SCHEMA_VERSION));
        store
            .write(|tx| tx.audit_append(&audit_row(1)).map(|_| ()))
            .unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.read(|tx| tx.audit(0, 10)).unwrap().len(), 1);
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    {
        let store = Store::open(&path).unwrap();
        store
            .write(|tx| tx.put_meta(tables::KEY_SCHEMA, &(SCHEMA_VERSION + 1)))
            .unwrap();
    }
    let err = Store::open(&path).unwrap_err();
    assert!(err.to_string().contains("state store"), "{err}");
    assert!(matches!(err, ExecutorError::Store(m) if m.contains("schema version")));
}

#[test]
fn a_second_open_of_the_same_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let _first = Store::open(&path).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, ExecutorError::Store(m) if m.contains("already open")));
}

#[test]
fn a_failed_transaction_writes_nothing() {
    let (_dir, store) = temp_store();
    let result: crate::error::Result<()> = store.write(|tx| {
        tx.put_job(&JobRecord::queued(
            1,
            "alice",
            JobKind::Backport,
            vec![spiderpig_policy::ChangeNumber::new(1).unwrap()],
            0,
        ))?;
        tx.audit_append(&audit_row(1))?;
        Err(ExecutorError::WrongState("refused".into()))
    });
    assert!(result.is_err());
    assert!(store.read(|tx| tx.job(1)).unwrap().is_none());
    assert!(store.read(|tx| tx.audit(0, 10)).unwrap().is_empty());
}

#[test]
fn write_outcome_commits_the_refusal_bookkeeping() {
    let (_dir, store) = temp_store();
    let r: crate::error::Result<()> = store.write_outcome(|tx| {
        tx.audit_append(&audit_row(7))?;
        Ok(Err(ExecutorError::TotpWrong))
    });
    assert!(matches!(r, Err(ExecutorError::TotpWrong)));
    assert_eq!(store.read(|tx| tx.audit(0, 10)).unwrap().len(), 1);
}

#[test]
fn audit_sequence_numbers_increase_without_gaps() {
    let (_dir, store) = temp_store();
    for n in 0..5 {
        store
            .write(|tx| tx.audit_append(&audit_row(n)).map(|_| ()))
            .unwrap();
    }
    let rows = store.read(|tx| tx.audit(0, 100)).unwrap();
    let seqs: Vec<u64> = rows.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
    assert_eq!(store.read(|tx| tx.audit(3, 100)).unwrap().len(), 2);
}

#[test]
fn audit_since_bisects_and_pruning_removes_only_the_old() {
    let (_dir, store) = temp_store();
    // Times 0, 10, …, 990; one written with an earlier time (a clock
    // stepped back) takes the last time again, so the order holds.
    store
        .write(|tx| {
            for n in 0..100 {
                tx.audit_append(&audit_row(n * 10))?;
            }
            tx.audit_append(&audit_row(5))
        })
        .unwrap();
    let all = store.read(|tx| tx.audit(0, 1000)).unwrap();
    assert_eq!(all.len(), 101);
    assert_eq!(all[100].1.at_ms, 990, "a time never goes back");
    assert!(all.windows(2).all(|w| w[0].1.at_ms <= w[1].1.at_ms));
    for (since, first_seq, count) in [(0, 1, 101), (1, 2, 100), (500, 51, 51), (990, 100, 2)] {
        let rows = store.read(|tx| tx.audit(since, 1000)).unwrap();
        assert_eq!((rows[0].0, rows.len()), (first_seq, count), "since {since}");
    }
    assert!(store.read(|tx| tx.audit(991, 1000)).unwrap().is_empty());
    // Pruning: at most `max` of the oldest, never one at or after the cut.
    assert_eq!(store.write(|tx| tx.prune_audit(500, 20)).unwrap(), 20);
    assert_eq!(store.write(|tx| tx.prune_audit(500, 1000)).unwrap(), 30);
    assert_eq!(store.write(|tx| tx.prune_audit(500, 1000)).unwrap(), 0);
    let left = store.read(|tx| tx.audit(0, 1000)).unwrap();
    assert_eq!((left[0].0, left[0].1.at_ms, left.len()), (51, 500, 51));
    // Sequence numbers go on from the last, not the first.
    let seq = store.write(|tx| tx.audit_append(&audit_row(2000))).unwrap();
    assert_eq!(seq, 102);
}

#[test]
fn log_ranges_are_per_job_and_ordered() {
    let (_dir, store) = temp_store();
    store
        .write(|tx| {
            for seq in 1..=5 {
                tx.put_log(
                    1,
                    seq,
                    &LogRow::now(seq as i64, LogKind::Line, format!("a{seq}")),
                )?;
                tx.put_log(
                    2,
                    seq,
                    &LogRow::now(seq as i64, LogKind::Line, format!("b{seq}")),
                )?;
            }
            Ok(())
        })
        .unwrap();
    let rows = store.read(|tx| tx.logs(1, 2, 100)).unwrap();
    let texts: Vec<&str> = rows.iter().map(|(_, r)| r.text.as_str()).collect();
    assert_eq!(texts, vec!["a3", "a4", "a5"]);
    assert_eq!(store.read(|tx| tx.logs(2, 0, 2)).unwrap().len(), 2);
    assert_eq!(store.write(|tx| tx.delete_logs(1)).unwrap(), 5);
    assert!(store.read(|tx| tx.logs(1, 0, 100)).unwrap().is_empty());
    assert_eq!(store.read(|tx| tx.logs(2, 0, 100)).unwrap().len(), 5);
}

#[test]
fn job_listing_is_newest_first_with_paging_and_filters() {
    let (_dir, store) = temp_store();
    store
        .write(|tx| {
            for id in 1..=7 {
                let owner = if id % 2 == 0 { "bob" } else { "alice" };
                tx.put_job(&JobRecord::queued(
                    id,
                    owner,
                    JobKind::Backport,
                    vec![spiderpig_policy::ChangeNumber::new(id).unwrap()],
                    0,
                ))?;
            }
            Ok(())
        })
        .unwrap();
    let all = store
        .read(|tx| tx.jobs(0, 3, &JobFilter::default()))
        .unwrap();
    assert_eq!(all.iter().map(|j| j.id).collect::<Vec<_>>(), vec![7, 6, 5]);
    let next = store
        .read(|tx| tx.jobs(5, 3, &JobFilter::default()))
        .unwrap();
    assert_eq!(next.iter().map(|j| j.id).collect::<Vec<_>>(), vec![4, 3, 2]);
    let bob = JobFilter {
        owner: Some("bob".into()),
        states: vec![],
    };
    let bobs = store.read(|tx| tx.jobs(0, 10, &bob)).unwrap();
    assert_eq!(bobs.iter().map(|j| j.id).collect::<Vec<_>>(), vec![6, 4, 2]);
}

#[test]
fn user_debug_hides_the_totp_secret() {
    let user = UserRecord {
        username: "alice".into(),
        issuer: "https://idp".into(),
        subject: "s".into(),
        role: spiderpig_policy::Role::Deployer,
        totp_secret: Some("JBSWY3DPEHPK3PXP".into()),
        totp_confirmed: true,
        totp: Default::default(),
        banned: None,
        created_ms: 0,
        last_login_ms: 0,
    };
    let shown = format!("{user:?}");
    assert!(!shown.contains("JBSWY3DPEHPK3PXP"));
    assert!(shown.contains("<hidden>"));
}

#[test]
fn every_put_job_bumps_the_version_and_old_rows_read_as_zero() {
    let (_dir, store) = temp_store();
    let job = JobRecord::queued(
        1,
        "alice",
        JobKind::Backport,
        vec![spiderpig_policy::ChangeNumber::new(1).unwrap()],
        0,
    );
    store.write(|tx| tx.put_job(&job)).unwrap();
    let v1 = store.read(|tx| tx.job(1)).unwrap().unwrap();
    assert_eq!(v1.version, 1);
    // A caller's stale copy still makes a newer version, never an older one.
    store.write(|tx| tx.put_job(&v1)).unwrap();
    store.write(|tx| tx.put_job(&job)).unwrap();
    assert_eq!(store.read(|tx| tx.job(1)).unwrap().unwrap().version, 3);

    // A row written before versions existed: no `version` key.
    let mut old = serde_json::to_value(&job).unwrap();
    old.as_object_mut().unwrap().remove("version");
    let old: JobRecord = serde_json::from_value(old).unwrap();
    assert_eq!(old.version, 0);
}
