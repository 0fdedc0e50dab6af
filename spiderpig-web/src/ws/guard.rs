//! Each session's end, for all of its sockets. Trust: internal; the
//! executor decides whether a session is still valid, the web only matches
//! what it is told against the sessions it holds.
//!
//! A socket's global events come from the web process's one shared feed
//! (`fanout`, the [`GLOBAL`](super::fanout::GLOBAL) key). That stream also
//! carries every session's end (`SessionEnded`: one session by the SHA-256
//! of its token, a user's sessions, or everyone's), and [`SessionGuards`]
//! closes every socket of an ended session at once with the reason. So no
//! session holds an executor stream of its own: a signed-in browser costs
//! the executor nothing while it watches.
//!
//! What the shared stream cannot have said is asked with `WhoAmI`: for a
//! socket, once more after its guard is held and before it opens (the
//! session may have ended between its sign-in check and joining), and for
//! every held session ([`SessionGuards::recheck`]) when the shared stream
//! (re)opens (the executor restarted, or the stream broke) and when the
//! executor says the stream fell behind.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use sha2::{Digest, Sha256};
use spiderpig_proto::v1 as pb;
use tokio::sync::watch;

use super::retry::{Class, SESSION_ENDED, classify};
use crate::executor::{Executor, RequestContext, Session};

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
    hash: [u8; 32],
    username: String,
    origin: RequestContext,
    /// `Some(reason)` once the session has ended.
    ended: watch::Sender<Option<String>>,
    sockets: usize,
}

/// A socket's hold on its session's guard; leaving is dropping it.
pub struct Held {
    ended: watch::Receiver<Option<String>>,
    token: String,
    guards: SessionGuards,
}

impl Held {
    /// Resolves with the reason when the session ends.
    pub async fn ended(&self) -> String {
        let mut ended = self.ended.clone();
        let reason = match ended.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone(),
            Err(_) => None,
        };
        match reason {
            Some(reason) => reason,
            // The guard went while we hold it: never (only the last
            // socket's leaving removes it).
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

    /// Sessions held now (they hold no executor stream).
    pub fn held(&self) -> usize {
        self.guards().len()
    }

    /// Follow `token`'s session (of `username`) for one more socket, unless
    /// it has `max` already (`None`: refuse the socket). The caller asks the
    /// executor about the session once more after this (it may have ended
    /// since the socket's sign-in check, before the guard could hear it).
    pub fn hold(
        &self,
        token: &str,
        username: &str,
        origin: &RequestContext,
        max: usize,
    ) -> Option<Held> {
        let mut guards = self.guards();
        if guards.get(token).is_some_and(|g| g.sockets >= max) {
            return None;
        }
        let guard = guards.entry(token.to_string()).or_insert_with(|| Guard {
            hash: Sha256::digest(token.as_bytes()).into(),
            username: username.to_string(),
            origin: origin.clone(),
            ended: watch::channel(None).0,
            sockets: 0,
        });
        guard.sockets += 1;
        let held = Held {
            ended: guard.ended.subscribe(),
            token: token.to_string(),
            guards: self.clone(),
        };
        Some(held)
    }

    fn leave(&self, token: &str) {
        let mut guards = self.guards();
        if let Some(g) = guards.get_mut(token) {
            g.sockets -= 1;
            if g.sockets == 0 {
                guards.remove(token);
            }
        }
    }

    /// The executor says sessions ended: end every held one it names.
    pub fn ended(&self, e: &pb::SessionEnded) {
        if e.recheck {
            self.recheck_except(None);
            return;
        }
        let reason = if e.reason.is_empty() {
            SESSION_ENDED.to_string()
        } else {
            e.reason.clone()
        };
        for g in self.guards().values() {
            let hit = e.everyone
                || (!e.username.is_empty() && e.username == g.username)
                || e.session_hash.as_slice() == g.hash.as_slice();
            if hit {
                g.ended.send_replace(Some(reason.clone()));
            }
        }
    }

    /// The session of `token` ended (the executor ended a stream opened
    /// with it).
    pub fn end_token(&self, token: &str, reason: Option<String>) {
        if let Some(g) = self.guards().get(token) {
            g.ended
                .send_replace(Some(reason.unwrap_or_else(|| SESSION_ENDED.into())));
        }
    }

    /// Ask the executor about every held session once (the shared stream
    /// could not have told of some ends), but `known`, if given.
    pub fn recheck_except(&self, known: Option<&str>) {
        let held: Vec<(String, RequestContext)> = self
            .guards()
            .iter()
            .filter(|(token, _)| Some(token.as_str()) != known)
            .map(|(token, g)| (token.clone(), g.origin.clone()))
            .collect();
        for (token, origin) in held {
            self.check(token, origin);
        }
    }

    /// Ask whether one session still holds; end it if the executor says
    /// it does not. Anything else (the executor away) changes nothing: the
    /// shared stream's reopening asks again.
    fn check(&self, token: String, origin: RequestContext) {
        let guards = self.clone();
        tokio::spawn(async move {
            let session = Session::new(token.as_str());
            let answer = guards
                .shared
                .executor
                .client()
                .who_am_i(&session, &origin)
                .await;
            if let Err(status) = answer
                && classify(&status) == Class::Revoked
                && let Some(g) = guards.guards().get(&token)
            {
                g.ended.send_replace(Some(SESSION_ENDED.into()));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn guards() -> SessionGuards {
        // An executor that is not there: the first-hold check changes nothing.
        let executor = Executor::new("/nonexistent/executor.sock".into(), Duration::from_secs(1));
        SessionGuards::new(executor)
    }

    fn hash(token: &str) -> Vec<u8> {
        Sha256::digest(token.as_bytes()).to_vec()
    }

    async fn ends_soon(held: &Held) -> Option<String> {
        tokio::time::timeout(Duration::from_millis(200), held.ended())
            .await
            .ok()
    }

    #[tokio::test]
    async fn an_end_closes_exactly_the_sessions_it_names() {
        let g = guards();
        let ctx = RequestContext::default();
        let ann = g.hold("tok-ann", "ann", &ctx, 20).expect("room");
        let ann_tab = g.hold("tok-ann", "ann", &ctx, 20).expect("room");
        let ann_laptop = g.hold("tok-ann-2", "ann", &ctx, 20).expect("room");
        let bob = g.hold("tok-bob", "bob", &ctx, 20).expect("room");
        assert_eq!(g.held(), 3, "one guard per session, not per socket");
        // A session at its cap gets no more sockets; others still do.
        let extra: Vec<Held> = (0..18)
            .map(|_| g.hold("tok-ann", "ann", &ctx, 20).expect("room"))
            .collect();
        assert!(g.hold("tok-ann", "ann", &ctx, 20).is_none(), "the 21st");
        assert!(g.hold("tok-bob", "bob", &ctx, 20).is_some());
        drop(extra);
        assert!(g.hold("tok-ann", "ann", &ctx, 20).is_some(), "room again");

        // Someone else's session, by hash: nobody here.
        g.ended(&pb::SessionEnded {
            session_hash: hash("tok-cy"),
            reason: "signed out".into(),
            ..Default::default()
        });
        assert_eq!(ends_soon(&ann).await, None);

        // One session by hash: both its tabs, not ann's other session.
        g.ended(&pb::SessionEnded {
            session_hash: hash("tok-ann"),
            reason: "signed out".into(),
            ..Default::default()
        });
        assert_eq!(ends_soon(&ann).await.as_deref(), Some("signed out"));
        assert_eq!(ends_soon(&ann_tab).await.as_deref(), Some("signed out"));
        assert_eq!(ends_soon(&ann_laptop).await, None);
        assert_eq!(ends_soon(&bob).await, None);

        // A user's sessions, then everyone's.
        g.ended(&pb::SessionEnded {
            username: "ann".into(),
            reason: "banned by an admin".into(),
            ..Default::default()
        });
        assert_eq!(
            ends_soon(&ann_laptop).await.as_deref(),
            Some("banned by an admin")
        );
        assert_eq!(ends_soon(&bob).await, None);
        g.ended(&pb::SessionEnded {
            everyone: true,
            ..Default::default()
        });
        assert_eq!(ends_soon(&bob).await.as_deref(), Some(SESSION_ENDED));

        // Leaving frees the guards.
        drop((ann, ann_tab, ann_laptop, bob));
        assert_eq!(g.held(), 0);
    }
}
