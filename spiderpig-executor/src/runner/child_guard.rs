//! The parent-death guard for scap's process. Trust: internal; this is the only
//! `unsafe` code of the executor.
//!
//! scap must not outlive a crashed executor unnoticed: nobody would be left to
//! answer its prompts or stop it. Between `fork` and `exec`, the child asks the
//! kernel for SIGKILL when its parent goes away (`PR_SET_PDEATHSIG`), then checks
//! that the parent has not already gone in the meantime (the request would come
//! too late to fire). The engine also records the process group, so a restarted
//! executor can reap what is left ([`super::reap_orphan`]).
//!
//! The hook also restores SIGINT's default action: an ignored signal stays ignored
//! across exec, and an executor started in the background by a script (`cmd &`
//! without job control) has SIGINT ignored; scap would then never see
//! [`super::RunControl::interrupt`].
//!
//! It also marks every descriptor above stderr close-on-exec, so scap
//! inherits exactly its three pipes: the executor opens everything
//! close-on-exec itself, but a descriptor it inherited without the flag (from
//! whatever started it) would otherwise reach scap and all it runs.
//!
//! `PR_SET_PDEATHSIG` fires when the *thread* that forked exits, not the process.
//! [`super::spawn`] must therefore run on a long-lived thread: a tokio worker
//! (async context) or the test's own thread, never a `spawn_blocking` thread, which
//! tokio retires after a few idle seconds and whose exit would kill scap.
#![allow(unsafe_code)]

use std::io;

use nix::sys::prctl;
use nix::sys::signal::{SigHandler, Signal, signal};
use nix::unistd::{Pid, getppid};
use tokio::process::Command;

/// Installs the guard on `command`.
pub(super) fn install(command: &mut Command) {
    // Read before the fork: in the child, getppid() must still return this.
    let parent = Pid::this();
    let fd_limit = fd_limit();
    // SAFETY: the hook runs in the child between fork and exec, where only
    // async-signal-safe work is allowed. It makes three raw system calls
    // (rt_sigaction, prctl and getppid, through nix's thin wrappers, which read
    // errno but neither allocate nor take locks) and builds an `io::Error` from a
    // raw errno (no allocation). It touches no memory shared with the parent.
    unsafe {
        command.pre_exec(move || {
            guard(parent)?;
            cloexec_above_stderr(fd_limit)
        });
    }
}

/// Runs in the child after fork. Returning an error makes the spawn fail (std
/// reports it to the parent and the child exits without running scap).
fn guard(parent: Pid) -> io::Result<()> {
    // SAFETY: installs SIG_DFL, not a handler, so no code of ours can run in a
    // signal context; sigaction is async-signal-safe. Nothing else runs in this
    // freshly forked child (it has one thread).
    unsafe { signal(Signal::SIGINT, SigHandler::SigDfl) }
        .map_err(|e| io::Error::from_raw_os_error(e as i32))?;
    prctl::set_pdeathsig(Signal::SIGKILL).map_err(|e| io::Error::from_raw_os_error(e as i32))?;
    if getppid() != parent {
        // The executor died between fork and prctl: the signal will never come.
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    Ok(())
}

/// The highest descriptor number this process may hold, plus one (read before
/// the fork, for [`cloexec_above_stderr`]'s fallback).
fn fd_limit() -> libc::c_int {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the struct we own.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    ok.then(|| libc::c_int::try_from(limit.rlim_cur).ok())
        .flatten()
        .unwrap_or(65_536)
}

/// Marks every descriptor from 3 up close-on-exec, in the child after fork.
/// Close-on-exec rather than closed: std reports a failed exec to the parent
/// through a close-on-exec pipe of its own, which must stay open until exec.
fn cloexec_above_stderr(fd_limit: libc::c_int) -> io::Result<()> {
    // SAFETY: close_range(2) is a plain system call on the child's own
    // descriptor table; with CLOSE_RANGE_CLOEXEC it closes nothing.
    let done = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    } == 0;
    if done {
        return Ok(());
    }
    // Kernels before 5.11 lack the flag: one fcntl per possible descriptor
    // (async-signal-safe; EBADF for a number that is not open is fine).
    for fd in 3..fd_limit {
        // SAFETY: fcntl(F_SETFD) only sets a flag on our own descriptor.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(())
}
