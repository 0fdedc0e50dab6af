//! Logins in flight: what [`super::oidc::OidcClient::begin`] generated, kept
//! until the callback. Trust: the binding and `state` presented at the callback
//! are untrusted (from spiderpig-web). In memory only, bounded, expiring, and
//! each login is handed out at most once.
//!
//! The key is the SHA-256 of a login binding — a random value that the web
//! process keeps in a short-lived cookie of the browser that started the login —
//! so a `state` copied into another browser finds nothing.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use spiderpig_policy::constant_time::constant_time_eq;

use super::oidc::PendingLogin;
use crate::error::{ExecutorError, Result};

struct Entry {
    login: PendingLogin,
    expires_ms: i64,
}

/// Logins between `BeginLogin` and `CompleteOidc`.
pub struct PendingLogins {
    max: usize,
    ttl_ms: i64,
    entries: Mutex<HashMap<[u8; 32], Entry>>,
}

impl PendingLogins {
    /// At most `max` logins at once, each valid for `ttl_ms`.
    pub fn new(max: usize, ttl_ms: i64) -> Self {
        Self {
            max,
            ttl_ms,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<[u8; 32], Entry>> {
        // A panic while holding the lock cannot leave the map half-updated.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remember a login. Expired logins are dropped first; when `max` are still
    /// in flight the new one is refused (and nothing is evicted: a flood of
    /// begun logins must not push out real ones). A binding seen again replaces
    /// its older login.
    pub fn insert(&self, binding_hash: [u8; 32], login: PendingLogin, now_ms: i64) -> Result<()> {
        let mut entries = self.lock();
        entries.retain(|_, e| now_ms < e.expires_ms);
        if entries.len() >= self.max && !entries.contains_key(&binding_hash) {
            return Err(ExecutorError::InvalidArgument(
                "too many logins in progress: try again in a few minutes".into(),
            ));
        }
        let expires_ms = now_ms.saturating_add(self.ttl_ms);
        entries.insert(binding_hash, Entry { login, expires_ms });
        Ok(())
    }

    /// Hand out the login for this binding if `state` matches (compared in
    /// constant time) and it has not expired. It is removed on a match, so a
    /// second callback with the same state fails; a mismatch leaves it for the
    /// real callback. Missing, expired or mismatched → `LoginStateInvalid`.
    pub fn take(&self, binding_hash: &[u8; 32], state: &str, now_ms: i64) -> Result<PendingLogin> {
        let mut entries = self.lock();
        let Some(entry) = entries.get(binding_hash) else {
            return Err(ExecutorError::LoginStateInvalid);
        };
        if now_ms >= entry.expires_ms {
            entries.remove(binding_hash);
            return Err(ExecutorError::LoginStateInvalid);
        }
        if !constant_time_eq(entry.login.state.as_bytes(), state.as_bytes()) {
            return Err(ExecutorError::LoginStateInvalid);
        }
        entries
            .remove(binding_hash)
            .map(|e| e.login)
            .ok_or(ExecutorError::LoginStateInvalid)
    }

    /// Logins currently held (expired ones included until the next insert).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Debug for PendingLogins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogins")
            .field("max", &self.max)
            .field("ttl_ms", &self.ttl_ms)
            .field("in_flight", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: i64 = 600_000;

    fn login(state: &str) -> PendingLogin {
        PendingLogin {
            state: state.into(),
            nonce: "nonce".into(),
            pkce_verifier: "verifier".into(),
            created_ms: 0,
        }
    }

    fn key(n: u8) -> [u8; 32] {
        [n; 32]
    }

    #[test]
    fn a_login_is_handed_out_exactly_once() {
        let p = PendingLogins::new(10, TTL);
        p.insert(key(1), login("s1"), 0).unwrap();
        assert_eq!(p.take(&key(1), "s1", 1).unwrap().state, "s1");
        assert!(matches!(
            p.take(&key(1), "s1", 2),
            Err(ExecutorError::LoginStateInvalid)
        ));
        assert!(p.is_empty());
    }

    #[test]
    fn a_wrong_state_or_binding_finds_nothing_and_spoils_nothing() {
        let p = PendingLogins::new(10, TTL);
        p.insert(key(1), login("s1"), 0).unwrap();
        for (k, s) in [
            (key(1), "s2"),
            (key(1), ""),
            (key(1), "s1 "),
            (key(2), "s1"),
        ] {
            assert!(
                matches!(p.take(&k, s, 1), Err(ExecutorError::LoginStateInvalid)),
                "{s:?}"
            );
        }
        assert_eq!(p.len(), 1);
        assert!(p.take(&key(1), "s1", 1).is_ok());
    }

    #[test]
    fn logins_expire() {
        let p = PendingLogins::new(10, TTL);
        p.insert(key(1), login("s1"), 0).unwrap();
        p.insert(key(2), login("s2"), 0).unwrap();
        assert!(p.take(&key(1), "s1", TTL - 1).is_ok());
        assert!(matches!(
            p.take(&key(2), "s2", TTL),
            Err(ExecutorError::LoginStateInvalid)
        ));
        assert!(p.is_empty(), "the expired login is dropped when seen");
    }

    #[test]
    fn capacity_is_enforced_after_dropping_expired_logins() {
        let p = PendingLogins::new(2, TTL);
        p.insert(key(1), login("s1"), 0).unwrap();
        p.insert(key(2), login("s2"), 10).unwrap();
        let err = p.insert(key(3), login("s3"), 20).unwrap_err();
        assert!(
            matches!(err, ExecutorError::InvalidArgument(ref m) if m.contains("too many logins"))
        );
        // The refused insert changed nothing.
        assert_eq!(p.len(), 2);
        assert!(matches!(
            p.take(&key(3), "s3", 30),
            Err(ExecutorError::LoginStateInvalid)
        ));
        // Replacing a binding's own login is allowed when full.
        p.insert(key(2), login("s2b"), 30).unwrap();
        assert!(matches!(
            p.take(&key(2), "s2", 31),
            Err(ExecutorError::LoginStateInvalid)
        ));
        assert!(p.take(&key(2), "s2b", 31).is_ok());
        p.insert(key(2), login("s2c"), 32).unwrap();
        // Once the first ones expire there is room again.
        p.insert(key(3), login("s3"), TTL + 10).unwrap();
        assert!(p.take(&key(3), "s3", TTL + 11).is_ok());
        assert!(matches!(
            p.take(&key(1), "s1", TTL + 11),
            Err(ExecutorError::LoginStateInvalid)
        ));
    }

    #[test]
    fn debug_shows_no_login_secrets() {
        let p = PendingLogins::new(2, TTL);
        p.insert(key(1), login("state-secret"), 0).unwrap();
        let shown = format!("{p:?}");
        assert!(!shown.contains("state-secret") && shown.contains("in_flight: 1"));
    }
}
