//! From scap's output lines to [`RunnerEvent`]s. Trust: input is untrusted (the
//! output of the code being deployed comes through scap): every line is decoded
//! against this run's key, redacted, and sanitised before it is sent on.
//!
//! One [`Redactor`] serves both streams, so a run of sensitive lines that moves
//! from stdout to stderr is still one run; a status or a prompt ends the run.

use std::sync::Arc;

use spiderpig_policy::machine::{Progress, RawLine, ScapMessage, decode_line};
use spiderpig_policy::{Choice, IoKey, PLACEHOLDER, Redactor, StageTracker};
use tokio::sync::mpsc;

use super::control::{PendingPrompt, Shared};
use super::{LogKind, PromptKind, PromptSpec, RunSpec, RunnerEvent};
use crate::clock::SharedClock;

/// Which of scap's pipes a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stream {
    Stdout,
    Stderr,
}

pub(super) struct Output {
    tx: mpsc::Sender<RunnerEvent>,
    /// The engine dropped its receiver: keep supervising scap, send nothing.
    receiver_gone: bool,
    clock: SharedClock,
    iokey: IoKey,
    redactor: Redactor,
    /// The pipe of the latest line of the current run of sensitive lines. The
    /// pipes are read concurrently, so lines of one arrive at arbitrary places
    /// among the other's: a plain line from the other pipe (a progress bar on
    /// stderr) is shown but does not split the run into two placeholders.
    run_stream: Option<Stream>,
    stages: StageTracker,
    shared: Arc<Shared>,
}

impl Output {
    pub fn new(spec: &RunSpec, tx: mpsc::Sender<RunnerEvent>, shared: Arc<Shared>) -> Self {
        Self {
            tx,
            receiver_gone: false,
            clock: Arc::clone(&spec.clock),
            iokey: spec.env.io_key.clone(),
            redactor: Redactor::new(spec.patterns.clone()),
            run_stream: None,
            stages: StageTracker::new(),
            shared,
        }
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Sends one event; waits while the engine's queue is full (backpressure).
    pub async fn send(&mut self, event: RunnerEvent) {
        if !self.receiver_gone && self.tx.send(event).await.is_err() {
            self.receiver_gone = true;
        }
    }

    /// A line of the runner's own.
    pub async fn system(&mut self, text: &str) {
        let at_ms = self.now_ms();
        self.send(RunnerEvent::Log {
            at_ms,
            kind: LogKind::System,
            text: text.to_owned(),
        })
        .await;
    }

    /// One complete line from one of scap's pipes.
    pub async fn line(&mut self, raw: RawLine, stream: Stream) {
        let message = match stream {
            Stream::Stdout => decode_line(&raw, &self.iokey),
            // Only stdout carries machine mode. A stderr line is text, unless it
            // shows the key, which must never be shown.
            Stream::Stderr if raw.text.contains(self.iokey.as_str()) => ScapMessage::Withheld {
                bytes: raw.text.len().saturating_add(raw.dropped_bytes),
            },
            Stream::Stderr => ScapMessage::Text(raw.text),
        };
        let stage = self.stages.observe(&message);
        self.message(message, stream).await;
        if let Some(stage) = stage {
            let at_ms = self.now_ms();
            self.send(RunnerEvent::Stage { at_ms, stage }).await;
        }
    }

    async fn message(&mut self, message: ScapMessage, stream: Stream) {
        match message {
            ScapMessage::Line { text, sensitive } => self.log_line(text, sensitive, stream).await,
            ScapMessage::Text(text) => self.log_line(text, false, stream).await,
            ScapMessage::Withheld { bytes } => {
                let starts_run = self.redactor.feed_withheld().is_some();
                self.run_stream = Some(stream);
                let at_ms = self.now_ms();
                let hidden = format!("<line withheld: {bytes} bytes>");
                self.send(RunnerEvent::Sensitive {
                    at_ms,
                    starts_run,
                    hidden,
                })
                .await;
            }
            ScapMessage::Status(status) => self.status(status).await,
            ScapMessage::Progress(progress) => {
                let progress = Progress {
                    name: self.shown(&progress.name),
                    ..progress
                };
                self.send(RunnerEvent::Progress(progress)).await;
            }
            ScapMessage::Choices {
                prompt,
                choices,
                default,
            } => {
                let choices = choices
                    .into_iter()
                    .map(|c| Choice {
                        label: self.shown(&c.label),
                        key: c.key,
                    })
                    .collect();
                self.prompt(PromptKind::Choices, &prompt, choices, default)
                    .await;
            }
            ScapMessage::InputLine { prompt } => {
                self.prompt(PromptKind::InputLine, &prompt, Vec::new(), None)
                    .await;
            }
        }
    }

    async fn log_line(&mut self, text: String, scap_says_sensitive: bool, stream: Stream) {
        let at_ms = self.now_ms();
        let other_pipe = self.run_stream.is_some_and(|s| s != stream);
        let shown = (other_pipe && !scap_says_sensitive)
            .then(|| self.redactor.shown(&text))
            .flatten();
        if let Some(text) = shown {
            self.send(RunnerEvent::Log {
                at_ms,
                kind: LogKind::Line,
                text,
            })
            .await;
            return;
        }
        let event = match self.redactor.feed(&text, scap_says_sensitive) {
            None => RunnerEvent::Sensitive {
                at_ms,
                starts_run: false,
                hidden: text,
            },
            // A shown line could read exactly like the placeholder: ask again.
            Some(shown)
                if shown == PLACEHOLDER
                    && (scap_says_sensitive || self.redactor.is_sensitive(&text)) =>
            {
                RunnerEvent::Sensitive {
                    at_ms,
                    starts_run: true,
                    hidden: text,
                }
            }
            Some(shown) => RunnerEvent::Log {
                at_ms,
                kind: LogKind::Line,
                text: shown,
            },
        };
        self.run_stream = matches!(event, RunnerEvent::Sensitive { .. }).then_some(stream);
        self.send(event).await;
    }

    async fn status(&mut self, status: Option<String>) {
        self.redactor.reset_run();
        self.run_stream = None;
        let at_ms = self.now_ms();
        let Some(status) = status else {
            self.send(RunnerEvent::Status(None)).await;
            return;
        };
        let Some(shown) = self.redactor.shown(&status) else {
            self.send(RunnerEvent::Sensitive {
                at_ms,
                starts_run: true,
                hidden: status,
            })
            .await;
            self.send(RunnerEvent::Status(Some(PLACEHOLDER.to_owned())))
                .await;
            return;
        };
        self.send(RunnerEvent::Status(Some(shown.clone()))).await;
        self.send(RunnerEvent::Log {
            at_ms,
            kind: LogKind::Status,
            text: shown,
        })
        .await;
    }

    async fn prompt(
        &mut self,
        kind: PromptKind,
        text: &str,
        choices: Vec<Choice>,
        default: Option<String>,
    ) {
        self.redactor.reset_run();
        self.run_stream = None;
        // Remembered before the engine hears of it, so an answer can never arrive
        // before the runner knows what it may be.
        let keys = choices.iter().map(|c| c.key.clone()).collect();
        {
            let mut state = self.shared.state();
            // If scap already exited, there is nobody left to answer to.
            if !state.reaped {
                state.pending = Some(PendingPrompt { kind, keys });
            }
        }
        // The deployer must see the question: only its sensitive lines are hidden.
        let text = text
            .split('\n')
            .map(|line| self.shown(line))
            .collect::<Vec<_>>()
            .join("\n");
        self.send(RunnerEvent::Prompt(PromptSpec {
            kind,
            text,
            choices,
            default,
        }))
        .await;
    }

    /// `text` as users may see it, for texts that are not log lines (prompt lines,
    /// choice labels, progress names): sanitised, or the placeholder.
    fn shown(&self, text: &str) -> String {
        self.redactor
            .shown(text)
            .unwrap_or_else(|| PLACEHOLDER.to_owned())
    }
}
