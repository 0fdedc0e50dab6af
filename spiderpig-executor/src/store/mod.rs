//! The redb store: the executor's only state. Trust: internal; only the
//! executor process opens the file (`ctl` talks to the admin socket).
//!
//! One file, Immediate durability with two-phase commit, a recorded schema
//! version. Every state change and its audit record are written in one write
//! transaction ([`Store::write`]); redb allows one writer at a time, which is
//! what makes "at most one job holds the lock" a check inside a transaction.
//! Values are JSON documents (serde) so the schema is readable and additive.

mod records;
mod tables;
mod tx;

use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase};

pub use records::*;
pub use tx::{JobFilter, ReadTx, Reads, WriteTx};

use crate::error::{ExecutorError, Result};

/// The schema this build writes. A file with a newer version is refused.
pub const SCHEMA_VERSION: u64 = 1;

/// The open store.
pub struct Store {
    db: Database,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Open (or create) the store at `path`, creating the tables and checking
    /// the schema version.
    pub fn open(path: &Path) -> Result<Store> {
        let db = Database::builder().create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => ExecutorError::Store(format!(
                "{} is already open (is another executor running?)",
                path.display()
            )),
            other => ExecutorError::Store(format!("cannot open {}: {other}", path.display())),
        })?;
        let store = Store {
            db,
            path: path.to_path_buf(),
        };
        store.write(|tx| tx.init_schema())?;
        Ok(store)
    }

    /// Open the file at `path` (no executor may have it open), let redb
    /// recover it if it was not closed cleanly, and run redb's integrity
    /// check of every table and the allocator state. For fault tests and
    /// operators after a crash.
    pub fn check_integrity(path: &Path) -> Result<bool> {
        let mut db = Database::open(path)
            .map_err(|e| ExecutorError::Store(format!("cannot open {}: {e}", path.display())))?;
        db.check_integrity()
            .map_err(|e| ExecutorError::Store(format!("checking {}: {e}", path.display())))
    }

    /// Path of the file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Run `f` in one durable write transaction. If `f` fails nothing is
    /// written. The commit uses two-phase commit and Immediate durability: when
    /// this returns `Ok`, the change is on disk.
    ///
    /// redb has one writer: `begin_write` waits for the one before, and the
    /// commit waits for the disk. Called on a worker of tokio's multi-thread
    /// runtime, that wait would take the worker from every other task (a
    /// running deployment's output, ticks, watch streams), so the worker
    /// hands its tasks to another thread first ([`tokio::task::block_in_place`])
    /// and no writer ever blocks an async worker. Elsewhere (the blocking
    /// pool, plain threads, a current-thread runtime in unit tests) it runs
    /// directly.
    pub fn write<T>(&self, f: impl FnOnce(&mut WriteTx) -> Result<T>) -> Result<T> {
        let on_worker = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if on_worker {
            tokio::task::block_in_place(|| self.write_now(f))
        } else {
            self.write_now(f)
        }
    }

    fn write_now<T>(&self, f: impl FnOnce(&mut WriteTx) -> Result<T>) -> Result<T> {
        let mut txn = self.db.begin_write()?;
        txn.set_two_phase_commit(true);
        txn.set_durability(redb::Durability::Immediate)
            .map_err(|e| ExecutorError::Store(e.to_string()))?;
        let mut tx = WriteTx::new(txn);
        let out = f(&mut tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Like [`Store::write`], but commits even when the inner decision is a
    /// refusal: for checks whose failures must be remembered (wrong TOTP codes
    /// count towards the lock-out). Store errors still abort.
    pub fn write_outcome<T>(&self, f: impl FnOnce(&mut WriteTx) -> Result<Result<T>>) -> Result<T> {
        self.write(|tx| f(tx))?
    }

    /// Run `f` on a consistent read snapshot.
    pub fn read<T>(&self, f: impl FnOnce(&ReadTx) -> Result<T>) -> Result<T> {
        let txn = self.db.begin_read()?;
        f(&ReadTx::new(txn))
    }
}

#[cfg(test)]
mod tests;
