//! Case 43: the disk fills up during a commit. The caller gets a clear
//! error, nothing is half-written, and the store opens and reads afterwards.
//! Uses a real 1 MiB tmpfs (the tests run as root).

use std::path::Path;
use std::process::Command;

use spiderpig_executor::ExecutorError;
use spiderpig_executor::store::{AuditRow, Reads, Store};

struct Mount(tempfile::TempDir);

impl Mount {
    fn tmpfs(size: &str) -> Mount {
        let dir = tempfile::tempdir().expect("tempdir");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a tmpfs failed: this test needs root"
        );
        Mount(dir)
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

fn row(n: usize) -> AuditRow {
    AuditRow {
        at_ms: n as i64,
        actor: "system".into(),
        action: "fill".into(),
        target: format!("row {n}"),
        reason: "x".repeat(4000),
        client_addr: "-".into(),
        success: true,
    }
}

#[test]
fn disk_full_during_commit_fails_cleanly_and_the_store_stays_readable() {
    let mount = Mount::tmpfs("1m");
    let path = mount.path().join("spiderpig.redb");
    let mut committed = 0usize;
    let error = {
        let store = Store::open(&path).expect("open on an empty tmpfs");
        loop {
            let batch: Vec<AuditRow> = (0..8).map(|i| row(committed + i)).collect();
            match store.write(|tx| {
                for r in &batch {
                    tx.audit_append(r)?;
                }
                Ok(())
            }) {
                Ok(()) => committed += batch.len(),
                Err(e) => break e,
            }
            assert!(committed < 10_000, "the 1 MiB disk never filled up");
        }
    };
    assert!(matches!(error, ExecutorError::Store(_)), "{error:?}");
    assert_eq!(error.to_string(), "the state store failed");
    assert!(committed > 0, "nothing fit at all");

    let store = Store::open(&path).expect("the store opens after the failure");
    let rows = store.read(|tx| tx.audit(0, 100_000)).expect("readable");
    // Whole batches only: the failed one left nothing behind.
    assert_eq!(rows.len(), committed);
    for (i, (seq, r)) in rows.iter().enumerate() {
        assert_eq!(*seq, i as u64 + 1);
        assert_eq!(r.target, format!("row {i}"));
    }
}
