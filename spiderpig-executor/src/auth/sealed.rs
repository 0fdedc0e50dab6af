//! Logins in flight, sealed into the browser's login cookie: the executor
//! keeps no table of them, so no number of anonymous `/login/start` requests
//! can crowd out a real user's sign-in. Trust: the binding presented at the
//! callback is untrusted (from spiderpig-web, from the browser's cookie).
//!
//! What [`super::oidc::OidcClient::begin`] generated (state, nonce, PKCE
//! verifier) and when, is encrypted and authenticated with ChaCha20-Poly1305
//! under a key made at start that never leaves this process. The result is
//! the login *binding*: the web sets it as the short-lived login cookie of
//! the browser that started the login and hands it back at the callback.
//! The web (and the browser) can neither read the verifier and nonce nor
//! forge or alter a binding; a `state` copied into another browser has no
//! binding to go with it. A restart of the executor makes the logins in
//! flight invalid (a new key): their users start again.
//!
//! Each login is handed out at most once: a binding whose state matched is
//! remembered as spent until it expires. That memory is the only state, and
//! only a matched callback adds to it; it is capped, and when full the
//! oldest spent binding is forgotten first. Forgetting one cannot let anyone
//! in: a spent login's authorization code is single-use at the IDP, and a
//! new code needs its owner to sign in at the IDP again. Real users are never
//! refused because it is full.

use std::collections::{HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard};

use data_encoding::BASE64URL_NOPAD;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use spiderpig_policy::constant_time::constant_time_eq;

use super::oidc::PendingLogin;
use crate::error::{ExecutorError, Result};

pub use spiderpig_policy::limits::MAX_LOGIN_BINDING_BYTES as MAX_BINDING_BYTES;

/// What the seal is bound to: a binding is good for nothing else.
const AAD: &[u8] = b"spiderpig login binding v1";

/// The sealed fields (short names: the cookie is small).
#[derive(Serialize, Deserialize)]
struct Sealed {
    s: String,
    n: String,
    v: String,
    c: i64,
}

/// Spent bindings, oldest first, and the same as a set.
#[derive(Default)]
struct Spent {
    order: VecDeque<([u8; 32], i64)>,
    set: HashSet<[u8; 32]>,
}

/// The sealing key and the spent logins.
pub struct SealedLogins {
    key: LessSafeKey,
    rng: SystemRandom,
    ttl_ms: i64,
    max_spent: usize,
    spent: Mutex<Spent>,
}

impl SealedLogins {
    /// Logins valid for `ttl_ms`; at most `max_spent` spent ones remembered.
    pub fn new(max_spent: usize, ttl_ms: i64) -> Result<Self> {
        let rng = SystemRandom::new();
        let mut key = [0u8; 32];
        rng.fill(&mut key)
            .map_err(|_| ExecutorError::Internal("no OS randomness for the login key".into()))?;
        let key = UnboundKey::new(&CHACHA20_POLY1305, &key)
            .map_err(|_| ExecutorError::Internal("login key rejected".into()))?;
        Ok(SealedLogins {
            key: LessSafeKey::new(key),
            rng,
            ttl_ms,
            max_spent: max_spent.max(1),
            spent: Mutex::new(Spent::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Spent> {
        // Each change keeps `order` and `set` in step before it can panic.
        self.spent.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Seal a login begun at `now_ms` into its binding.
    pub fn seal(&self, login: &PendingLogin, now_ms: i64) -> Result<String> {
        let fields = Sealed {
            s: login.state.clone(),
            n: login.nonce.clone(),
            v: login.pkce_verifier.clone(),
            c: now_ms,
        };
        let mut data = serde_json::to_vec(&fields)
            .map_err(|e| ExecutorError::Internal(format!("sealing a login: {e}")))?;
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| ExecutorError::Internal("no OS randomness for a login".into()))?;
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(AAD),
                &mut data,
            )
            .map_err(|_| ExecutorError::Internal("sealing a login failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(BASE64URL_NOPAD.encode(&out))
    }

    /// Hand out the login sealed in `binding` if it is genuine, not expired,
    /// not spent, and `state` is its own (compared in constant time). A match
    /// spends it; a mismatch leaves it for the real callback. Anything else
    /// is `LoginStateInvalid`, and nothing is remembered.
    pub fn take(&self, binding: &str, state: &str, now_ms: i64) -> Result<PendingLogin> {
        let fields = self.open(binding).ok_or(ExecutorError::LoginStateInvalid)?;
        let expires_ms = fields.c.saturating_add(self.ttl_ms);
        if now_ms >= expires_ms || !constant_time_eq(fields.s.as_bytes(), state.as_bytes()) {
            return Err(ExecutorError::LoginStateInvalid);
        }
        let id: [u8; 32] = Sha256::digest(binding.as_bytes()).into();
        let mut spent = self.lock();
        while spent.order.front().is_some_and(|(_, exp)| *exp <= now_ms)
            || spent.order.len() >= self.max_spent
        {
            if let Some((old, _)) = spent.order.pop_front() {
                spent.set.remove(&old);
            }
        }
        if !spent.set.insert(id) {
            return Err(ExecutorError::LoginStateInvalid);
        }
        spent.order.push_back((id, expires_ms));
        Ok(PendingLogin {
            state: fields.s,
            nonce: fields.n,
            pkce_verifier: fields.v,
            created_ms: fields.c,
        })
    }

    /// The sealed fields, if `binding` is one of ours, unaltered.
    fn open(&self, binding: &str) -> Option<Sealed> {
        if binding.len() > MAX_BINDING_BYTES {
            return None;
        }
        let raw = BASE64URL_NOPAD.decode(binding.as_bytes()).ok()?;
        if raw.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut data = sealed.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(AAD), &mut data)
            .ok()?;
        serde_json::from_slice(plain).ok()
    }

    /// Spent logins remembered now (expired ones until the next take).
    pub fn spent(&self) -> usize {
        self.lock().order.len()
    }
}

impl std::fmt::Debug for SealedLogins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedLogins")
            .field("key", &"..")
            .field("ttl_ms", &self.ttl_ms)
            .field("spent", &self.spent())
            .finish()
    }
}

#[cfg(test)]
mod tests;
