//! Each session's end, watched once for all of its sockets. Trust: internal;
//! the executor decides whether a session is still valid, on every (re)open
//! of its stream, and holds the token only while a socket of it is open.
//!
//! A socket's global events come from the shared feed (`fanout`, the
//! [`GLOBAL`](super::fanout::GLOBAL) key), opened with one watcher's
//! session; so whether *this* socket's session still holds is asked apart:
//! one `Watch(job 0, logs_only)` stream per session, which carries nothing
//! but heartbeats and the session's end (logout, ban, expiry: the executor
//! ends it within a second). Every socket of the session is closed at once
//! with the reason. Tabs of one browser share its session, so they share
//! one stream. While the executor is unreachable the stream is retried with
//! backoff; reopening tells a dead session apart (UNAUTHENTICATED).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use spiderpig_proto::v1 as pb;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tonic::{Status, Streaming};

use super::retry::{Backoff, Class, SESSION_ENDED, classify};
use crate::executor::{Executor, RequestContext, session};

/// All sessions with an open socket; cheap to clone.
#[derive(Clone)]
pub struct SessionGuards {
    shared: Arc<Shared>,
}

struct Shared {
    executor: Executor,
    /// By session token (never logged).
    guards: Mutex<HashMap<String, Guard>>,
}

struct Guard {
    /// `Some(reason)` once the session has ended.
    ended: watch::Receiver<Option<String>>,
    sockets: usize,
    stop: CancellationToken,
}

/// A socket's hold on its session's guard; leaving is dropping it.
pub struct Held {
    ended: watch::Receiver<Option<String>>,
    token: String,
    guards: SessionGuards,
}

impl Held {
    /// Resolves with the reason when the session ends.
    pub async fn ended(&mut self) -> String {
        let reason = match self.ended.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone(),
            Err(_) => None,
        };
        match reason {
            Some(reason) => reason,
            // The guard's task is gone while we hold it: never (it only
            // stops when the last socket leaves).
            None => std::future::pending().await,
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.guards.leave(&self.token);
    }
}

impl SessionGuards {
    pub fn new(executor: Executor) -> SessionGuards {
        SessionGuards {
            shared: Arc::new(Shared {
                executor,
                guards: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn guards(&self) -> MutexGuard<'_, HashMap<String, Guard>> {
        self.shared.guards.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sessions watched now (one executor stream each).
    pub fn open(&self) -> usize {
        self.guards().len()
    }

    /// Watch `token`'s session for this socket, starting its stream if no
    /// other socket of the session has one.
    pub fn hold(&self, token: &str, origin: &RequestContext) -> Held {
        let mut guards = self.guards();
        let guard = guards.entry(token.to_string()).or_insert_with(|| {
            let (tx, ended) = watch::channel(None);
            let stop = CancellationToken::new();
            let task = follow(
                self.shared.executor.clone(),
                token.to_string(),
                origin.clone(),
            );
            let cancelled = stop.clone();
            tokio::spawn(async move {
                tokio::select! {
                    _ = cancelled.cancelled() => {}
                    reason = task => { let _ = tx.send(Some(reason)); }
                }
            });
            Guard {
                ended,
                sockets: 0,
                stop,
            }
        });
        guard.sockets += 1;
        Held {
            ended: guard.ended.clone(),
            token: token.to_string(),
            guards: self.clone(),
        }
    }

    fn leave(&self, token: &str) {
        let mut guards = self.guards();
        if let Some(g) = guards.get_mut(token) {
            g.sockets -= 1;
            if g.sockets == 0 {
                g.stop.cancel();
                guards.remove(token);
            }
        }
    }
}

/// Follow the session until it ends; returns the reason.
async fn follow(executor: Executor, token: String, origin: RequestContext) -> String {
    let mut backoff = Backoff::default();
    loop {
        match open(&executor, &token, &origin).await {
            Ok(stream) => {
                backoff.reset();
                if let Some(reason) = pump(stream).await {
                    return reason;
                }
            }
            Err(status) if classify(&status) == Class::Revoked => return SESSION_ENDED.into(),
            Err(_) => {}
        }
        backoff.wait().await;
    }
}

async fn open(
    executor: &Executor,
    token: &str,
    origin: &RequestContext,
) -> Result<Streaming<pb::Event>, Status> {
    let req = pb::WatchRequest {
        ctx: origin.pb(),
        session: session(token),
        job_id: 0,
        after_seq: 0,
        logs_only: true,
    };
    Ok(executor.raw().watch(req).await?.into_inner())
}

/// `Some(reason)` when the session ended; `None` when the stream broke.
async fn pump(mut stream: Streaming<pb::Event>) -> Option<String> {
    use pb::event::Kind;
    loop {
        match stream.message().await {
            Ok(Some(pb::Event {
                kind: Some(Kind::SessionRevoked(r)),
            })) => return Some(r.reason),
            // Heartbeats (a logs-only stream of job 0 carries nothing else).
            Ok(Some(_)) => {}
            Err(status) if classify(&status) == Class::Revoked => {
                return Some(SESSION_ENDED.into());
            }
            Ok(None) | Err(_) => return None,
        }
    }
}
