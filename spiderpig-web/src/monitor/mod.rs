//! The monitoring panels (DESIGN.md, "Monitoring panel"; docs/CONFIG.md,
//! "Monitoring"; the `metrics` frame in docs/API.md). One poller for the
//! whole process asks a Prometheus-compatible HTTP API for every panel once
//! per `interval_secs` and publishes one `metrics` frame, which every
//! WebSocket forwards (a new socket gets the latest one at once). Browsers
//! never query Prometheus themselves.
//!
//! Trust: Prometheus's answers are untrusted numbers and text (size-capped,
//! parsed, shown as text). Monitoring decides nothing: a failed query only
//! puts a sentence in its panel, and a spike only prompts the job's owner;
//! no deployment ever waits for it. The active job is learnt from the queue
//! and job events the sockets already relay (the web process has no
//! session of its own to ask the executor with).
//!
//! # Layout
//!
//! - this file: [`Monitor`] (state, poller, frame).
//! - [`config`]: `[monitoring]` and its checks.
//! - [`prom`]: the `query_range` request and the JSON parser.
//! - [`spike`]: the spike rule (pure).

pub mod config;
pub mod prom;
pub mod spike;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use serde::Serialize;
use spiderpig_proto::{v1 as pb, vocab};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use self::config::Monitoring;
use self::prom::{Points, Range};
use crate::views::{self, StageMarkView};

/// Milliseconds since the Unix epoch, now (injectable for tests).
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// What a panel says when there is no `prometheus_url`.
pub const NOT_CONFIGURED: &str =
    "Monitoring is not configured (no prometheus_url in [monitoring]).";

/// The job holding the lock, as far as the spike rule needs it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActiveJob {
    #[serde(rename = "job")]
    pub id: u64,
    pub owner: String,
    /// `None` until scap has started (no spike before).
    pub started_at_ms: Option<i64>,
    pub stage_marks: Vec<StageMarkView>,
}

impl ActiveJob {
    pub fn from_job(j: &pb::Job) -> ActiveJob {
        ActiveJob {
            id: j.id,
            owner: j.owner.clone(),
            started_at_ms: (j.started_at_ms != 0).then_some(j.started_at_ms),
            stage_marks: views::stage_marks(&j.stage_marks),
        }
    }
}

/// One panel in a `metrics` frame.
#[derive(Debug, Serialize)]
struct PanelFrame<'a> {
    title: &'a str,
    unit: &'a str,
    /// `[t_ms, value]`, ascending.
    points: &'a [(i64, f64)],
    latest: Option<f64>,
    error: Option<&'a str>,
}

/// A spike of the active job.
#[derive(Debug, Serialize)]
struct SpikeFrame<'a> {
    job: u64,
    owner: &'a str,
    panel: &'a str,
    unit: &'a str,
    #[serde(flatten)]
    found: spike::Found,
}

/// The whole `metrics` frame.
#[derive(Debug, Serialize)]
struct Frame<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    configured: bool,
    /// When the data was asked for (0: not yet).
    at_ms: i64,
    window_secs: u64,
    step_secs: u64,
    panels: Vec<PanelFrame<'a>>,
    active: Option<&'a ActiveJob>,
    spike: Option<SpikeFrame<'a>>,
}

/// What the poller knows.
#[derive(Default)]
struct State {
    /// Per panel: the latest series, or why there is none (`None`: not asked yet).
    series: Vec<Option<Result<Points, String>>>,
    polled_at_ms: i64,
    active: Option<ActiveJob>,
}

struct Inner {
    config: Monitoring,
    http: reqwest::Client,
    clock: Clock,
    state: Mutex<State>,
    frames: watch::Sender<Option<Utf8Bytes>>,
    /// Poll now (the active job changed).
    poke: Notify,
}

/// The poller and its latest frame; cheap to clone.
#[derive(Clone)]
pub struct Monitor {
    inner: Arc<Inner>,
}

impl Monitor {
    /// A monitor with an injected HTTP client and clock (tests).
    pub fn new(config: Monitoring, http: reqwest::Client, clock: Clock) -> Monitor {
        let panels = config.panels.len();
        let m = Monitor {
            inner: Arc::new(Inner {
                config,
                http,
                clock,
                state: Mutex::new(State {
                    series: vec![None; panels],
                    ..State::default()
                }),
                frames: watch::channel(None).0,
                poke: Notify::new(),
            }),
        };
        m.publish(&m.state());
        m
    }

    /// The process's monitor: its own HTTP client (no redirects) and the
    /// system clock.
    pub fn from_config(config: &Monitoring) -> Monitor {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Monitor::new(config.clone(), http, Arc::new(crate::ws::protocol::now_ms))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every new frame (a new subscriber sees the latest one first).
    pub fn subscribe(&self) -> watch::Receiver<Option<Utf8Bytes>> {
        self.inner.frames.subscribe()
    }

    /// The latest `metrics` frame.
    pub fn latest(&self) -> Option<Utf8Bytes> {
        self.inner.frames.borrow().clone()
    }

    /// Poll every `interval_secs` (and at once when the active job
    /// changes) until `stop`; does nothing when monitoring is off.
    pub async fn run(self, stop: CancellationToken) {
        if !self.inner.config.enabled() {
            return;
        }
        let every = Duration::from_secs(self.inner.config.interval_secs);
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
                _ = self.inner.poke.notified() => {}
            }
            let now = (self.inner.clock)();
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = self.poll_once(now) => {}
            }
        }
    }

    /// Ask Prometheus for every panel as of `now_ms`, keep the answers,
    /// publish the frame and return it.
    pub async fn poll_once(&self, now_ms: i64) -> Utf8Bytes {
        let c = &self.inner.config;
        let Some(base) = c.prometheus_url.as_deref() else {
            return self.latest().unwrap_or_default();
        };
        let range = self.range(now_ms);
        let timeout = Duration::from_secs(c.timeout_secs);
        let asks = c
            .panels
            .iter()
            .map(|p| prom::fetch(&self.inner.http, base, &p.query, range, timeout));
        let answers = futures::future::join_all(asks).await;
        for (panel, a) in c.panels.iter().zip(&answers) {
            if let Err(e) = a {
                tracing::debug!(panel = %panel.title, "monitoring: {e}");
            }
        }
        let mut st = self.state();
        st.series = answers.into_iter().map(Some).collect();
        st.polled_at_ms = now_ms;
        self.publish(&st)
    }

    /// The range to ask for: the window up to now, stretched back to cover
    /// the active job's baselines, aligned to the step.
    fn range(&self, now_ms: i64) -> Range {
        let c = &self.inner.config;
        let step_ms = i64::try_from(c.step_secs * 1000).unwrap_or(i64::MAX);
        let ms = |s: u64| i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX);
        let end_ms = now_ms - now_ms.rem_euclid(step_ms);
        let mut start_ms = end_ms.saturating_sub(ms(c.window_secs));
        let started = self.state().active.as_ref().and_then(|a| a.started_at_ms);
        let baseline = c
            .panels
            .iter()
            .filter_map(|p| p.spike.map(|s| s.baseline_secs))
            .max();
        if let (Some(t), Some(b)) = (started, baseline) {
            start_ms = start_ms.min(t.saturating_sub(ms(b)));
        }
        let earliest = end_ms.saturating_sub(step_ms.saturating_mul(config::MAX_POINTS as i64));
        start_ms = start_ms.max(earliest);
        start_ms -= start_ms.rem_euclid(step_ms);
        Range {
            start_ms,
            end_ms,
            step_secs: c.step_secs,
        }
    }

    /// Follow the job holding the lock from an event a socket relays.
    pub fn see_event(&self, event: &pb::Event) {
        use pb::event::Kind;
        match event.kind.as_ref() {
            Some(Kind::Queue(pb::QueueChanged { queue: Some(q) })) => {
                self.set_active(q.active.as_ref().map(ActiveJob::from_job));
            }
            Some(Kind::Job(pb::JobChanged { job: Some(j) })) => {
                let current = self.state().active.as_ref().map(|a| a.id);
                if current == Some(j.id) {
                    // The policy's rule: an `interrupted` job still holds
                    // the lock. A state this build does not know changes
                    // nothing.
                    let ended = vocab::job_state(j.state).is_some_and(|s| !s.holds_lock());
                    self.set_active((!ended).then(|| ActiveJob::from_job(j)));
                }
            }
            _ => {}
        }
    }

    /// Set the job holding the lock; a change re-applies the spike rule to
    /// the series at hand and asks for fresh ones.
    pub fn set_active(&self, job: Option<ActiveJob>) {
        let mut st = self.state();
        if st.active == job {
            return;
        }
        let new_start = job.as_ref().and_then(|j| j.started_at_ms)
            != st.active.as_ref().and_then(|j| j.started_at_ms);
        st.active = job;
        self.publish(&st);
        if new_start {
            self.inner.poke.notify_one();
        }
    }

    /// Build the frame from `st`, publish it and return it.
    fn publish(&self, st: &State) -> Utf8Bytes {
        let c = &self.inner.config;
        let configured = c.enabled();
        let panels: Vec<PanelFrame<'_>> = c
            .panels
            .iter()
            .zip(&st.series)
            .map(|(p, s)| {
                let (points, error): (&[(i64, f64)], Option<&str>) = match s {
                    _ if !configured => (&[], Some(NOT_CONFIGURED)),
                    None => (&[], None),
                    Some(Ok(points)) => (points, None),
                    Some(Err(e)) => (&[], Some(e)),
                };
                PanelFrame {
                    title: &p.title,
                    unit: &p.unit,
                    points,
                    latest: points.last().map(|(_, v)| *v),
                    error,
                }
            })
            .collect();
        let spike = st.active.as_ref().and_then(|job| {
            let started = job.started_at_ms?;
            c.panels.iter().zip(&panels).find_map(|(p, f)| {
                let found =
                    spike::evaluate(f.points, started, &job.stage_marks, p.spike.as_ref()?)?;
                Some(SpikeFrame {
                    job: job.id,
                    owner: &job.owner,
                    panel: &p.title,
                    unit: &p.unit,
                    found,
                })
            })
        });
        if let Some(s) = &spike {
            tracing::info!(
                job = s.job,
                panel = s.panel,
                from = s.found.from,
                to = s.found.to,
                "monitoring: spike"
            );
        }
        let frame = Frame {
            kind: "metrics",
            configured,
            at_ms: st.polled_at_ms,
            window_secs: c.window_secs,
            step_secs: c.step_secs,
            panels,
            active: st.active.as_ref(),
            spike,
        };
        let text = Utf8Bytes::from(serde_json::to_string(&frame).unwrap_or_default());
        self.inner.frames.send_replace(Some(text.clone()));
        text
    }
}

#[cfg(test)]
mod tests;
