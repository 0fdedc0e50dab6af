//! What may be done to a running scap: answer its pending prompt, interrupt it,
//! kill it. Trust: callers are the engine, which has checked who asks; answers are
//! checked again here against the prompt scap is actually waiting on.
//!
//! scap's stdin belongs to this module alone: nothing but an answer to the pending
//! prompt is ever written to it. Signals go to scap's process group, never to a
//! process picked by name, and never after scap has been reaped (its pid, hence the
//! group id, could then belong to someone else).

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use spiderpig_policy::machine::Choice;
use spiderpig_policy::{InputLine, PolicyError};
use tokio::io::AsyncWriteExt;
use tokio::process::ChildStdin;

use super::PromptKind;
use crate::error::{ExecutorError, Result};

/// An answer to scap's pending prompt. Build a `Choice` with
/// [`spiderpig_policy::validate_choice`] on the pending prompt's choices and a
/// `Line` with [`spiderpig_policy::validate_input_line`]; [`RunControl::answer`]
/// checks the choice against the prompt once more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Choice(Choice),
    Line(InputLine),
}

/// The prompt scap is blocked on, as far as answering it goes.
#[derive(Debug, Clone)]
pub(super) struct PendingPrompt {
    pub kind: PromptKind,
    pub keys: Vec<String>,
}

#[derive(Debug, Default)]
pub(super) struct State {
    pub pending: Option<PendingPrompt>,
    /// scap's process has been reaped: its pid may be reused, signal nothing.
    pub reaped: bool,
}

pub(super) struct Shared {
    pgid: Pid,
    state: Mutex<State>,
    stdin: tokio::sync::Mutex<Option<ChildStdin>>,
}

impl Shared {
    pub fn new(pgid: Pid, stdin: ChildStdin) -> Self {
        Self {
            pgid,
            state: Mutex::new(State::default()),
            stdin: tokio::sync::Mutex::new(Some(stdin)),
        }
    }

    /// The run's state. Held while scap is reaped, so that a signal is either sent
    /// before the reap or not at all.
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Closes scap's stdin at the end of the run (if no answer is being written).
    pub fn close_stdin(&self) {
        if let Ok(mut stdin) = self.stdin.try_lock() {
            stdin.take();
        }
    }
}

/// Controls one run of scap. Cheap to clone.
#[derive(Clone)]
pub struct RunControl {
    shared: Arc<Shared>,
}

impl fmt::Debug for RunControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunControl")
            .field("pgid", &self.shared.pgid.as_raw())
            .finish()
    }
}

impl RunControl {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Writes the answer and a newline to scap's stdin. Refused, with nothing
    /// written, unless a prompt is pending, the answer is of the kind it takes and,
    /// for a choice, its key is one the pending prompt offered. Clears the pending
    /// prompt: a second answer to the same prompt is refused.
    pub async fn answer(&self, answer: Answer) -> Result<()> {
        let text = {
            let mut state = self.shared.state();
            let pending = state
                .pending
                .as_ref()
                .ok_or(ExecutorError::PromptNotPending)?;
            let text = checked_answer(pending, &answer)?;
            state.pending = None;
            text
        };
        let mut line = Vec::with_capacity(text.len() + 1);
        line.extend_from_slice(text.as_bytes());
        line.push(b'\n');
        let mut stdin = self.shared.stdin.lock().await;
        let pipe = stdin.as_mut().ok_or(ExecutorError::PromptNotPending)?;
        let written = match pipe.write_all(&line).await {
            Ok(()) => pipe.flush().await,
            Err(e) => Err(e),
        };
        written
            .map_err(|e| ExecutorError::Internal(format!("writing an answer to scap's stdin: {e}")))
    }

    /// SIGINT to scap's process group, as Ctrl-C in a terminal would: scap stops
    /// and exits 130. Refused once scap has exited.
    pub fn interrupt(&self) -> Result<()> {
        match self.signal(Signal::SIGINT) {
            Ok(true) => Ok(()),
            Ok(false) => Err(ExecutorError::WrongState(
                "scap has already exited".to_owned(),
            )),
            Err(e) => Err(e),
        }
    }

    /// SIGKILL to scap's whole process group (job time-out, admin action). Does
    /// nothing once scap has exited (stragglers that keep its output open are
    /// killed by the runner itself, see [`super::EXIT_GRACE`]).
    pub fn kill(&self) -> Result<()> {
        self.signal(Signal::SIGKILL).map(drop)
    }

    /// Sends `signal` to the group; `Ok(false)` when scap is already gone.
    fn signal(&self, signal: Signal) -> Result<bool> {
        let state = self.shared.state();
        if state.reaped {
            return Ok(false);
        }
        // Sent with the state locked: scap is not reaped meanwhile, so the group id
        // is still scap's (a zombie keeps its pid).
        match killpg(self.shared.pgid, signal) {
            Ok(()) => Ok(true),
            Err(Errno::ESRCH) => Ok(false),
            Err(e) => Err(ExecutorError::Internal(format!(
                "sending {signal} to scap's process group: {e}"
            ))),
        }
    }
}

/// The text to write for `answer`, if `pending` takes it.
fn checked_answer(pending: &PendingPrompt, answer: &Answer) -> Result<String> {
    let text = match (pending.kind, answer) {
        (PromptKind::Choices, Answer::Choice(choice)) => {
            if !pending.keys.contains(&choice.key) {
                return Err(PolicyError::NotAnOfferedChoice.into());
            }
            choice.key.clone()
        }
        (PromptKind::InputLine, Answer::Line(line)) => line.as_str().to_owned(),
        (PromptKind::Choices, Answer::Line(_)) => {
            return Err(ExecutorError::WrongState(
                "scap is waiting for a choice, not a line of text".to_owned(),
            ));
        }
        (PromptKind::InputLine, Answer::Choice(_)) => {
            return Err(ExecutorError::WrongState(
                "scap is waiting for a line of text, not a choice".to_owned(),
            ));
        }
    };
    // The policy crate guarantees this already; one newline more would answer the
    // next prompt before anyone saw it.
    if text.chars().any(char::is_control) {
        return Err(PolicyError::InputLineNotPrintable.into());
    }
    Ok(text)
}
