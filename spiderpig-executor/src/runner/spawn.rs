//! Starting scap. Trust: privileged; the argv and environment come only from the
//! policy allowlist ([`spiderpig_policy::ScapCommand::invocation`]).

use std::process::Stdio;
use std::sync::Arc;

use nix::unistd::Pid;
use tokio::process::Command;
use tokio::sync::mpsc;

use super::control::{RunControl, Shared};
use super::pump::{Pipes, Pump};
use super::{EVENT_CHANNEL_CAPACITY, RunHandle, RunSpec, child_guard};
use crate::error::{ExecutorError, Result};

/// Starts scap for `spec` and returns its events and controls. Fails with
/// [`ExecutorError::Spawn`] (and sends no event) when scap cannot be started, e.g.
/// the binary is missing.
///
/// Must be called from async code on a tokio runtime, not from `spawn_blocking`:
/// scap's parent-death signal is tied to the thread that forks it, and tokio ends
/// idle blocking-pool threads after a few seconds (worker threads live as long as
/// the runtime). See `child_guard`.
pub fn spawn(spec: RunSpec) -> Result<RunHandle> {
    let invocation = spec.command.invocation(&spec.scap, &spec.env);
    // An absolute path only: the cleared environment's PATH is never searched.
    if !invocation.program.starts_with('/') {
        return Err(ExecutorError::Spawn(
            "the scap path is not absolute".to_owned(),
        ));
    }
    let mut command = Command::new(&invocation.program);
    command
        .args(&invocation.args)
        .env_clear()
        .envs(invocation.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&spec.working_dir)
        // Its own process group, so that interrupt and kill reach scap and
        // everything it started, and nothing else.
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // The runner decides when scap dies, not a dropped handle.
        .kill_on_drop(false);
    child_guard::install(&mut command);

    let mut child = command.spawn().map_err(|e| {
        // Neither argv nor the environment (which holds the key) goes in here.
        ExecutorError::Spawn(format!("{}: {e}", invocation.program))
    })?;
    // Linux pids fit in an i32 (pid_max is at most 2^22).
    let ids = child
        .id()
        .and_then(|pid| Some((pid, i32::try_from(pid).ok()?)));
    let (Some((pid, pgid)), Some(stdin), Some(stdout), Some(stderr)) = (
        ids,
        child.stdin.take(),
        child.stdout.take(),
        child.stderr.take(),
    ) else {
        // Cannot happen with piped stdio and a child not yet waited for; do not
        // leave scap running unsupervised.
        let _ = child.start_kill();
        return Err(ExecutorError::Spawn(
            "scap's process could not be set up".to_owned(),
        ));
    };
    let shared = Arc::new(Shared::new(Pid::from_raw(pgid), stdin));
    let (tx, events) = mpsc::channel(EVENT_CHANNEL_CAPACITY);
    tracing::info!(job = %spec.job_id, pid, program = %invocation.program, "scap started");
    let pump = Pump::new(&spec, tx, Arc::clone(&shared), pgid);
    tokio::spawn(pump.run(Pipes {
        child,
        stdout,
        stderr,
    }));
    Ok(RunHandle {
        events,
        control: RunControl::new(shared),
        pid,
        pgid,
    })
}
