//! Signing in: the OIDC code flow and the TOTP second factor. Trust: codes,
//! states and TOTP codes come from the browser through the web (untrusted).

use spiderpig_policy::{Role, TotpCode, Username};

use super::session::Caller;
use super::{Audit, Ctx, Engine};
use crate::auth::oidc::Identity;
use crate::auth::token::SessionToken;
use crate::auth::totp::{self, TotpSecret, TotpState};
use crate::error::{ExecutorError, Result};
use crate::store::{Reads, UserRecord, WriteTx};

/// What BeginLogin hands back to the web.
#[derive(Debug)]
pub struct LoginStart {
    pub authorize_url: String,
    pub binding: String,
}

/// A signed-in (pre-TOTP) session.
#[derive(Debug)]
pub struct LoginDone {
    pub token: SessionToken,
    pub username: String,
    pub role: Role,
    pub totp_enrolled: bool,
}

impl Engine {
    /// Start a login: state, nonce and PKCE verifier stay here.
    pub fn begin_login(&self) -> Result<LoginStart> {
        self.sessions.begin(self.now())
    }

    /// Finish the IDP part of a login.
    pub async fn complete_login(
        &self,
        binding: &str,
        code: &str,
        state: &str,
        ctx: &Ctx,
    ) -> Result<LoginDone> {
        let now = self.now();
        let pending = match self.sessions.take(binding, state, now) {
            Ok(p) => p,
            Err(e) => {
                // Anyone on the internet can send these: counted, and
                // audited as one summary a minute (`tick`), never one write
                // each.
                self.sessions
                    .refusals
                    .count("login.state_invalid", "no login in flight");
                tracing::debug!(client = %ctx.client_addr, "login callback matched no login in flight");
                return Err(e);
            }
        };
        let identity = match self
            .sessions
            .oidc()?
            .complete(pending, code, self.now())
            .await
        {
            Ok(id) => id,
            Err(e) => {
                // Anyone who began a login can send a bad code: counted
                // too, with the last detail, not written one by one.
                let detail = match &e {
                    ExecutorError::LoginFailed(detail) => detail.clone(),
                    other => other.to_string(),
                };
                tracing::info!(client = %ctx.client_addr, %detail, "the IDP part of a sign-in failed");
                self.sessions.refusals.count("login.failure", &detail);
                return Err(e);
            }
        };
        self.admit(identity, ctx)
    }

    fn audit_refusal(&self, who: &str, action: &str, e: &ExecutorError, ctx: &Ctx) -> Result<()> {
        let reason = match e {
            ExecutorError::LoginFailed(detail) => detail.clone(),
            other => other.to_string(),
        };
        self.store.write(|tx| {
            self.audit(
                tx,
                Audit::refused(who, action, "login", &reason, &ctx.client_addr),
            )
        })
    }

    /// A verified identity: check role, identity binding and ban; open a
    /// pre-TOTP session.
    fn admit(&self, id: Identity, ctx: &Ctx) -> Result<LoginDone> {
        let username = id.username.as_str().to_string();
        let Some(role) = self.sessions.role_for(&id.groups) else {
            let e = ExecutorError::NotAuthorized;
            self.audit_refusal(&username, "login.not_authorized", &e, ctx)?;
            return Err(e);
        };
        self.store.write_outcome(|tx| {
            if let Err(e) = self.bind_identity(tx, &id, role) {
                let reason = e.to_string();
                self.audit(
                    tx,
                    Audit::refused(
                        &username,
                        "login.refused",
                        "login",
                        &reason,
                        &ctx.client_addr,
                    ),
                )?;
                return Ok(Err(e));
            }
            let user = tx.user(&username)?.expect("bound above");
            let (token, _) =
                self.sessions
                    .open(tx, &username, role, false, &ctx.client_addr, self.now())?;
            self.audit(
                tx,
                Audit::ok(&username, "login.idp_success", "login", &ctx.client_addr),
            )?;
            Ok(Ok(LoginDone {
                token,
                username: username.clone(),
                role,
                totp_enrolled: user.totp_confirmed,
            }))
        })
    }

    /// Create or update the user; refuse a username claimed by another
    /// identity, and banned users.
    fn bind_identity(&self, tx: &mut WriteTx, id: &Identity, role: Role) -> Result<()> {
        let now = self.now();
        let name = id.username.as_str();
        if let Some(bound) = tx.identity(&id.issuer, &id.subject)?
            && bound != name
        {
            return Err(ExecutorError::LoginFailed(format!(
                "subject is bound to user {bound}, token says {name}"
            )));
        }
        let mut user = match tx.user(name)? {
            Some(u) if u.issuer != id.issuer || u.subject != id.subject => {
                return Err(ExecutorError::LoginFailed(format!(
                    "username {name} belongs to another identity"
                )));
            }
            Some(u) => u,
            None => UserRecord {
                username: name.to_string(),
                issuer: id.issuer.clone(),
                subject: id.subject.clone(),
                role,
                totp_secret: None,
                totp_confirmed: false,
                totp: TotpState::default(),
                banned: None,
                created_ms: now,
                last_login_ms: now,
            },
        };
        if user.banned.is_some() {
            return Err(ExecutorError::Banned);
        }
        user.role = role;
        user.last_login_ms = now;
        tx.put_identity(&id.issuer, &id.subject, name)?;
        tx.put_user(&user)?;
        Ok(())
    }

    /// First sign-in: create the TOTP secret (shown once).
    pub fn enrol_totp(&self, caller: &Caller, ctx: &Ctx) -> Result<(String, String)> {
        let username = Username::parse(&caller.username)?;
        self.store.write(|tx| {
            let mut user = tx
                .user(username.as_str())?
                .ok_or(ExecutorError::Unauthenticated)?;
            if user.totp_confirmed {
                return Err(ExecutorError::TotpAlreadyEnrolled);
            }
            let secret = match &user.totp_secret {
                Some(b32) => TotpSecret::from_base32(b32)?,
                None => {
                    let s = TotpSecret::generate();
                    user.totp_secret = Some(s.to_base32());
                    tx.put_user(&user)?;
                    self.audit(
                        tx,
                        Audit::ok(
                            username.as_str(),
                            "totp.enrol",
                            "own account",
                            &ctx.client_addr,
                        ),
                    )?;
                    s
                }
            };
            let uri = totp::otpauth_uri("SpiderPig", username.as_str(), &secret);
            Ok((uri, secret.to_base32()))
        })
    }

    /// Check a TOTP code for `username` inside `tx`, persisting the new TOTP
    /// state (failures count, used steps) whatever the outcome.
    pub(crate) fn check_totp(
        &self,
        tx: &mut WriteTx,
        username: &str,
        code: &TotpCode,
        ctx: &Ctx,
    ) -> Result<Result<()>> {
        let mut user = tx.user(username)?.ok_or(ExecutorError::Unauthenticated)?;
        let Some(b32) = user.totp_secret.clone() else {
            return Ok(Err(ExecutorError::TotpNotEnrolled));
        };
        let secret = TotpSecret::from_base32(&b32)?;
        let (outcome, state) = totp::verify(&secret, code, self.now(), &user.totp);
        user.totp = state;
        if outcome.is_ok() {
            user.totp_confirmed = true;
        }
        tx.put_user(&user)?;
        if let Err(e) = &outcome {
            let reason = e.to_string();
            self.audit(
                tx,
                Audit::refused(
                    username,
                    "totp.failure",
                    "own account",
                    &reason,
                    &ctx.client_addr,
                ),
            )?;
        }
        Ok(outcome.map(|_| ()))
    }

    /// Second factor: a pre-TOTP session becomes a full one, with a new token.
    /// A session passes TOTP once: a full session is refused.
    pub fn verify_totp(
        &self,
        caller: &Caller,
        code: &TotpCode,
        ctx: &Ctx,
    ) -> Result<(SessionToken, i64)> {
        if caller.totp_passed {
            return Err(ExecutorError::WrongState(
                "TOTP already passed for this session".into(),
            ));
        }
        let (token, expires) = self.store.write_outcome(|tx| {
            if let Err(e) = self.still_signed_in(tx, caller) {
                return Ok(Err(e));
            }
            if let Err(e) = self.check_totp(tx, &caller.username, code, ctx)? {
                return Ok(Err(e));
            }
            tx.delete_session(&caller.session_hash)?;
            let (token, record) = self.sessions.open(
                tx,
                &caller.username,
                caller.role,
                true,
                &ctx.client_addr,
                self.now(),
            )?;
            self.audit(
                tx,
                Audit::ok(
                    &caller.username,
                    "login.success",
                    "session",
                    &ctx.client_addr,
                ),
            )?;
            Ok(Ok((token, self.sessions.expiry(&record))))
        })?;
        self.hub.revoke(
            crate::hub::Revocation::Session(caller.session_hash.to_vec()),
            "session replaced",
        );
        Ok((token, expires))
    }
}

impl Engine {
    /// Has this user confirmed a TOTP secret?
    pub fn totp_enrolled(&self, username: &str) -> Result<bool> {
        self.store
            .read(|tx| Ok(tx.user(username)?.is_some_and(|u| u.totp_confirmed)))
    }
}
