//! Sign-in and sessions: one of the engine's components. Trust: bindings,
//! states and tokens come from the web (untrusted); only hashes are looked
//! up, and nothing here decides a role but the configured group table.
//!
//! State: the logins in flight are sealed into the browsers' login cookies
//! ([`SealedLogins`]; only the spent ones are remembered, under its own
//! mutex, never held across another lock), and the store's session table
//! (changed only inside the façade's write transactions, so redb's writer is
//! its lock).

use std::collections::BTreeMap;
use std::sync::Arc;

use spiderpig_policy::Role;

use super::login::LoginStart;
use super::tally::RefusalTally;
use crate::auth::oidc::{OidcClient, PendingLogin};
use crate::auth::sealed::SealedLogins;
use crate::auth::token::{SessionToken, public_session_id};
use crate::config::Config;
use crate::error::{ExecutorError, Result};
use crate::store::{SessionRecord, WriteTx};

/// The sign-in rules and the logins in flight.
pub(crate) struct Sessions {
    oidc: Option<Arc<OidcClient>>,
    logins: SealedLogins,
    /// IDP group → role (deny by default).
    roles: BTreeMap<String, Role>,
    idle_ms: i64,
    absolute_ms: i64,
    /// The whole life of a session that has not passed TOTP yet: a login's
    /// time (`login_secs`), not a working day's, so an abandoned half-login
    /// neither keeps showing its TOTP secret nor keeps its guesses.
    pre_totp_ms: i64,
    /// Refused callbacks, audited as summaries (`tick`).
    pub refusals: RefusalTally,
}

impl Sessions {
    /// `oidc` is `None` only in tests that do not sign in through an IDP.
    pub fn new(config: &Config, oidc: Option<Arc<OidcClient>>) -> Result<Self> {
        let logins = SealedLogins::new(
            config.limits.spent_logins,
            config.timeouts.login_secs as i64 * 1000,
        )?;
        Ok(Sessions {
            oidc,
            logins,
            roles: config.role_table(),
            idle_ms: config.timeouts.session_idle_secs as i64 * 1000,
            absolute_ms: config.timeouts.session_absolute_secs as i64 * 1000,
            pre_totp_ms: config.timeouts.login_secs as i64 * 1000,
            refusals: RefusalTally::default(),
        })
    }

    pub fn oidc(&self) -> Result<&OidcClient> {
        self.oidc
            .as_deref()
            .ok_or_else(|| ExecutorError::Internal("no OIDC client configured".into()))
    }

    /// Start a login: state, nonce and PKCE verifier are sealed into the
    /// binding that only the starting browser gets.
    pub fn begin(&self, now: i64) -> Result<LoginStart> {
        let (authorize_url, pending) = self.oidc()?.begin(now);
        let binding = self.logins.seal(&pending, now)?;
        Ok(LoginStart {
            authorize_url,
            binding,
        })
    }

    /// Hand out the login begun with `binding`, if `state` is its own.
    pub fn take(&self, binding: &str, state: &str, now: i64) -> Result<PendingLogin> {
        self.logins.take(binding, state, now)
    }

    /// Map IDP groups to a role (deny by default; admin wins).
    pub fn role_for(&self, groups: &[String]) -> Option<Role> {
        let mut role = None;
        for g in groups {
            match self.roles.get(g) {
                Some(Role::Admin) => return Some(Role::Admin),
                Some(Role::Deployer) => role = Some(Role::Deployer),
                None => {}
            }
        }
        role
    }

    /// When a session ends: the earlier of its idle and absolute time-outs.
    pub fn expiry(&self, s: &SessionRecord) -> i64 {
        (s.last_seen_ms + self.idle_ms).min(s.absolute_expiry_ms)
    }

    /// Open a session inside `tx`; returns its token (shown once) and record.
    pub fn open(
        &self,
        tx: &mut WriteTx,
        username: &str,
        role: Role,
        totp_passed: bool,
        client_addr: &str,
        now: i64,
    ) -> Result<(SessionToken, SessionRecord)> {
        let token = SessionToken::generate();
        let record = SessionRecord {
            public_id: public_session_id(),
            username: username.to_string(),
            role,
            totp_passed,
            created_ms: now,
            last_seen_ms: now,
            absolute_expiry_ms: now
                + if totp_passed {
                    self.absolute_ms
                } else {
                    self.pre_totp_ms.min(self.absolute_ms)
                },
            client_addr: client_addr.to_string(),
        };
        tx.put_session(&token.hash(), &record)?;
        Ok((token, record))
    }
}
