//! Supervising one run of scap: reading its two pipes, reaping it, and ending the
//! run. Trust: internal; what is read is untrusted and goes through `output`.
//!
//! Memory is bounded: a fixed read buffer per pipe, lines cut at
//! [`MAX_LINE_BYTES`], and a bounded channel to the engine: while the engine is
//! slow, the pump waits, stops reading, and scap blocks on its full pipe.

use std::future::{Future, poll_fn};
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::pin::pin;
use std::process::ExitStatus;
use std::sync::Arc;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use spiderpig_policy::JobId;
use spiderpig_policy::limits::MAX_LINE_BYTES;
use spiderpig_policy::machine::{LineAssembler, RawLine};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, ChildStderr, ChildStdout};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

use super::control::Shared;
use super::output::{Output, Stream};
use super::{DRAIN_AFTER_KILL, EXIT_GRACE, ExitInfo, READ_CHUNK_BYTES, RunSpec, RunnerEvent};

/// What the pump takes over from the spawned child.
pub(super) struct Pipes {
    pub child: Child,
    pub stdout: ChildStdout,
    pub stderr: ChildStderr,
}

pub(super) struct Pump {
    job_id: JobId,
    pgid: i32,
    output: Output,
    shared: Arc<Shared>,
}

/// One of scap's pipes and the line assembler behind it.
struct Reader<R> {
    pipe: R,
    stream: Stream,
    lines: LineAssembler,
    buf: Vec<u8>,
    closed: bool,
}

impl<R: AsyncRead + Unpin> Reader<R> {
    fn new(pipe: R, stream: Stream) -> Self {
        Self {
            pipe,
            stream,
            lines: LineAssembler::new(MAX_LINE_BYTES),
            buf: vec![0; READ_CHUNK_BYTES],
            closed: false,
        }
    }

    /// Reads one chunk; returns the lines it completed (and the last, unfinished
    /// line once the pipe is closed).
    async fn read_lines(&mut self) -> Vec<RawLine> {
        match self.pipe.read(&mut self.buf).await {
            Ok(0) => self.close(),
            Ok(n) => self.lines.push(&self.buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Vec::new(),
            Err(e) => {
                tracing::warn!(stream = ?self.stream, error = %e, "reading scap's output failed");
                self.close()
            }
        }
    }

    fn close(&mut self) -> Vec<RawLine> {
        self.closed = true;
        self.lines.finish().into_iter().collect()
    }
}

impl Pump {
    pub fn new(
        spec: &RunSpec,
        tx: mpsc::Sender<RunnerEvent>,
        shared: Arc<Shared>,
        pgid: i32,
    ) -> Self {
        let output = Output::new(spec, tx, Arc::clone(&shared));
        Self {
            job_id: spec.job_id,
            pgid,
            output,
            shared,
        }
    }

    /// Runs until scap has exited and its pipes are closed (or given up on), then
    /// sends [`RunnerEvent::Exited`], always last.
    pub async fn run(mut self, pipes: Pipes) {
        let mut reaper = tokio::spawn(reap(pipes.child, Arc::clone(&self.shared)));
        let mut stdout = Reader::new(pipes.stdout, Stream::Stdout);
        let mut stderr = Reader::new(pipes.stderr, Stream::Stderr);
        let mut status: Option<Option<ExitStatus>> = None;
        let mut deadline: Option<Instant> = None;
        let mut group_killed = false;
        while !(stdout.closed && stderr.closed && status.is_some()) {
            // Each branch's future is cancel-safe: a read that loses the race has
            // consumed nothing.
            tokio::select! {
                lines = stdout.read_lines(), if !stdout.closed => self.lines(lines, Stream::Stdout).await,
                lines = stderr.read_lines(), if !stderr.closed => self.lines(lines, Stream::Stderr).await,
                exited = &mut reaper, if status.is_none() => {
                    status = Some(exit_status(exited));
                    deadline = Some(Instant::now() + EXIT_GRACE);
                }
                () = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    if group_killed {
                        // Someone outside the group still holds the pipes.
                        self.output.system("scap's output did not close; stopped reading it").await;
                        break;
                    }
                    group_killed = true;
                    deadline = Some(Instant::now() + DRAIN_AFTER_KILL);
                    self.kill_stragglers().await;
                }
            }
        }
        for (reader, stream) in [
            (&mut stdout.lines, Stream::Stdout),
            (&mut stderr.lines, Stream::Stderr),
        ] {
            if let Some(line) = reader.finish() {
                self.output.line(line, stream).await;
            }
        }
        self.shared.close_stdin();
        let exit = exit_info(status.flatten(), self.output.now_ms());
        tracing::info!(job = %self.job_id, code = ?exit.code, signal = ?exit.signal, "scap ended");
        self.output.send(RunnerEvent::Exited(exit)).await;
    }

    async fn lines(&mut self, lines: Vec<RawLine>, stream: Stream) {
        for line in lines {
            self.output.line(line, stream).await;
        }
    }

    /// scap exited, but something it started still holds its output open.
    async fn kill_stragglers(&mut self) {
        // scap's pid was reaped, but a process still in the group keeps the group
        // id from being reused; if all left the group, killpg finds no one.
        let killed = killpg(Pid::from_raw(self.pgid), Signal::SIGKILL).is_ok();
        tracing::warn!(job = %self.job_id, killed, "scap exited but its output stayed open");
        let text = format!(
            "scap exited, but its output stayed open for {} s: {}",
            EXIT_GRACE.as_secs(),
            if killed {
                "killed what was left of its process group"
            } else {
                "no process left in its group"
            }
        );
        self.output.system(&text).await;
    }
}

/// Waits for scap to exit and reaps it. The reap happens inside `poll`, which runs
/// with the run's state locked: a signal from [`super::RunControl`] is sent either
/// before the reap (to scap, or its zombie) or not at all.
async fn reap(mut child: Child, shared: Arc<Shared>) -> io::Result<ExitStatus> {
    let mut wait = pin!(child.wait());
    poll_fn(|cx| {
        let mut state = shared.state();
        let polled = wait.as_mut().poll(cx);
        if polled.is_ready() {
            state.reaped = true;
            state.pending = None;
        }
        polled
    })
    .await
}

fn exit_status(
    joined: Result<io::Result<ExitStatus>, tokio::task::JoinError>,
) -> Option<ExitStatus> {
    match joined {
        Ok(Ok(status)) => Some(status),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "waiting for scap failed");
            None
        }
        Err(e) => {
            tracing::error!(error = %e, "the task waiting for scap failed");
            None
        }
    }
}

fn exit_info(status: Option<ExitStatus>, at_ms: i64) -> ExitInfo {
    ExitInfo {
        code: status.and_then(|s| s.code()),
        signal: status.and_then(|s| s.signal()),
        at_ms,
    }
}
