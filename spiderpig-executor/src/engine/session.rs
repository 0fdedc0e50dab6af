//! Sessions: issuing, checking and ending them. Trust: tokens come from the
//! web (untrusted); only their SHA-256 is looked up.

use spiderpig_policy::Role;

use super::{Audit, Ctx, Engine};
use crate::auth::token::SessionToken;
use crate::error::{ExecutorError, Result};
use crate::hub::Revocation;
use crate::store::Reads;

/// How often `last_seen` is written back (sessions are checked on every call;
/// writing each time would cost an fsync per request).
const LAST_SEEN_GRANULARITY_MS: i64 = 30_000;

/// An authenticated caller.
#[derive(Clone, Debug)]
pub struct Caller {
    pub username: String,
    pub role: Role,
    pub totp_passed: bool,
    /// SHA-256 of the session token.
    pub session_hash: [u8; 32],
    pub expires_ms: i64,
    pub client_addr: String,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

impl Engine {
    /// Check a session token. `need_totp`: refuse sessions that have not
    /// passed TOTP. Expired sessions are deleted; banned users refused.
    pub fn authenticate(&self, token: &str, need_totp: bool) -> Result<Caller> {
        let token = SessionToken::parse(token)?;
        let hash = token.hash();
        let now = self.now();
        let found = self.store.read(|tx| {
            let Some(s) = tx.session(&hash)? else {
                return Ok(None);
            };
            let banned = tx.user(&s.username)?.is_none_or(|u| u.banned.is_some());
            Ok(Some((s, banned)))
        })?;
        let Some((mut session, banned)) = found else {
            return Err(ExecutorError::Unauthenticated);
        };
        let expires = self.sessions.expiry(&session);
        if now >= expires || banned {
            self.store.write(|tx| {
                tx.delete_session(&hash)?;
                Ok(())
            })?;
            self.hub
                .revoke(Revocation::Session(hash.to_vec()), "session expired");
            return Err(ExecutorError::Unauthenticated);
        }
        if need_totp && !session.totp_passed {
            return Err(ExecutorError::TotpRequired);
        }
        if now - session.last_seen_ms >= LAST_SEEN_GRANULARITY_MS {
            self.store.write(|tx| {
                if let Some(mut s) = tx.session(&hash)? {
                    s.last_seen_ms = now;
                    tx.put_session(&hash, &s)?;
                }
                Ok(())
            })?;
            // Report the renewed idle time-out, not the one this call ended.
            session.last_seen_ms = now;
        }
        let expires = self.sessions.expiry(&session);
        Ok(Caller {
            username: session.username,
            role: session.role,
            totp_passed: session.totp_passed,
            session_hash: hash,
            expires_ms: expires,
            client_addr: session.client_addr,
        })
    }

    /// Inside a write transaction: the caller's session still exists and its
    /// user is not banned. `authenticate` ran in an earlier read; a logout or
    /// ban may have committed since, and a verb must not act on a session
    /// that no longer holds (nor mint a new one from it).
    pub(crate) fn still_signed_in(&self, tx: &impl Reads, caller: &Caller) -> Result<()> {
        let session = tx.session(&caller.session_hash)?;
        let banned = tx
            .user(&caller.username)?
            .is_none_or(|u| u.banned.is_some());
        match session {
            Some(s) if !banned && self.now() < self.sessions.expiry(&s) => Ok(()),
            _ => Err(ExecutorError::Unauthenticated),
        }
    }

    /// Is this session still valid right now? (Watch streams poll this.)
    pub fn session_alive(&self, hash: &[u8; 32]) -> bool {
        let now = self.now();
        self.store
            .read(|tx| {
                Ok(match tx.session(hash)? {
                    Some(s) => now < self.sessions.expiry(&s),
                    None => false,
                })
            })
            .unwrap_or(false)
    }

    /// End the caller's own session.
    pub fn logout(&self, caller: &Caller, ctx: &Ctx) -> Result<()> {
        self.store.write(|tx| {
            tx.delete_session(&caller.session_hash)?;
            self.audit(
                tx,
                Audit::ok(&caller.username, "logout", "own session", &ctx.client_addr),
            )
        })?;
        self.hub.revoke(
            Revocation::Session(caller.session_hash.to_vec()),
            "signed out",
        );
        Ok(())
    }
}

/// Signing in without the IDP, for tests only: never in a release build
/// (`cfg(test)` or the `test-support` feature).
#[cfg(any(test, feature = "test-support"))]
impl Engine {
    /// Create `username` with a confirmed TOTP secret and open a full
    /// session for them, as the IDP and TOTP steps would. Returns the caller
    /// and the secret, to make codes with.
    pub fn sign_in_for_test(
        &self,
        username: &str,
        role: Role,
    ) -> Result<(Caller, crate::auth::totp::TotpSecret)> {
        let secret = crate::auth::totp::TotpSecret::generate();
        let now = self.now();
        let token = self.store.write(|tx| {
            tx.put_user(&crate::store::UserRecord {
                username: username.to_string(),
                issuer: "test".into(),
                subject: username.to_string(),
                role,
                totp_secret: Some(secret.to_base32()),
                totp_confirmed: true,
                totp: Default::default(),
                banned: None,
                created_ms: now,
                last_login_ms: now,
            })?;
            let (token, _) = self.sessions.open(tx, username, role, true, "test", now)?;
            Ok(token)
        })?;
        Ok((self.authenticate(token.as_str(), true)?, secret))
    }
}
