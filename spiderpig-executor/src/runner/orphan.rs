//! Reaping scap left over from a previous executor. Trust: reads /proc, which
//! describes processes we may not own; kills only a process group that still runs
//! the configured scap.
//!
//! scap is started with `PR_SET_PDEATHSIG(SIGKILL)`, so it normally dies with the
//! executor. This is the belt to those braces: at start, for every job recorded as
//! running, the engine passes the process group it recorded. Processes are never
//! picked by name: only members of that exact group are looked at, and the group is
//! killed only if one of them is scap.

use std::fs;
use std::path::{Path, PathBuf};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::{Pid, getpgrp};
use spiderpig_policy::ScapPath;

/// What [`reap_orphan`] found, for the executor's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrphanOutcome {
    /// No live process is left in the group.
    NoneLeft,
    /// The group still ran scap and was sent SIGKILL; these were its members.
    Killed { pids: Vec<i32> },
    /// The group has live processes, but none is scap (the id was reused, or the
    /// id is not one we may touch): nothing was done.
    NotOurs,
}

/// At executor start: a job recorded as running had scap in process group `pgid`.
/// If that group still has a live process whose `/proc/<pid>/exe`, or one of the
/// first three words of whose command line (an interpreter, perhaps with the one
/// option a `#!` line allows, running the scap script), is the scap path, SIGKILL
/// the whole group.
pub fn reap_orphan(pgid: i32, scap: &ScapPath) -> OrphanOutcome {
    // Group 0 means "my own group" to kill(2), 1 is init's; neither is scap's.
    if pgid <= 1 || Pid::from_raw(pgid) == getpgrp() {
        return OrphanOutcome::NotOurs;
    }
    let members = live_members(pgid);
    if members.is_empty() {
        return OrphanOutcome::NoneLeft;
    }
    let names = scap_names(scap);
    if !members.iter().any(|&pid| runs_scap(pid, &names)) {
        return OrphanOutcome::NotOurs;
    }
    match killpg(Pid::from_raw(pgid), Signal::SIGKILL) {
        Ok(()) => OrphanOutcome::Killed { pids: members },
        // Everyone exited between the scan and the kill.
        Err(nix::errno::Errno::ESRCH) => OrphanOutcome::NoneLeft,
        Err(e) => {
            tracing::warn!(pgid, error = %e, "could not kill a leftover scap process group");
            OrphanOutcome::NotOurs
        }
    }
}

/// The pids in process group `pgid` that are alive (zombies are not: they only
/// wait for their parent to reap them).
fn live_members(pgid: i32) -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<i32> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| matches!(stat_of(pid), Some((state, group)) if group == pgid && state != 'Z' && state != 'X'))
        .collect();
    pids.sort_unstable();
    pids
}

/// The state letter and process group of `pid`, from `/proc/<pid>/stat`.
fn stat_of(pid: i32) -> Option<(char, i32)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may itself contain spaces
    // and parentheses: the fields after it start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, pgrp))
}

/// The configured path and, if it differs, the file it resolves to (the kernel
/// reports the resolved path in `/proc/<pid>/exe`).
fn scap_names(scap: &ScapPath) -> Vec<PathBuf> {
    let configured = PathBuf::from(scap.as_str());
    let mut names = vec![configured.clone()];
    if let Ok(resolved) = fs::canonicalize(&configured)
        && resolved != configured
    {
        names.push(resolved);
    }
    names
}

fn runs_scap(pid: i32, names: &[PathBuf]) -> bool {
    if let Ok(exe) = fs::read_link(format!("/proc/{pid}/exe")) {
        // A binary replaced by an upgrade shows as "<path> (deleted)".
        let exe = exe.to_string_lossy();
        let exe = exe.strip_suffix(" (deleted)").unwrap_or(&exe);
        if names.iter().any(|n| n == Path::new(exe)) {
            return true;
        }
    }
    let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    cmdline
        .split(|&b| b == 0)
        .take(3)
        .filter_map(|word| std::str::from_utf8(word).ok())
        .any(|word| names.iter().any(|n| n == Path::new(word)))
}
