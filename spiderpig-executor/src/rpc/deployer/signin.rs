//! The sign-in verbs of `Deployer`: the IDP steps, TOTP, the session's
//! own calls. Trust: untrusted input, checked by each `parse`.

use std::sync::Arc;

use spiderpig_policy::TotpCode;
use spiderpig_proto::v1 as pb;

use super::totp_code;
use crate::engine::{Caller, Ctx, Engine};
use crate::error::ExecutorError;
use crate::rpc::verbs::{self, Anonymous, SignedIn, Verb};
use crate::rpc::{code_field, state_field};
use crate::wire;

bare_verb!(
    /// Start an OIDC login.
    BeginLogin, "BeginLogin", Anonymous, pb::BeginLoginRequest => pb::BeginLoginResponse,
    refused "login.not_authorized", target "login",
    |e, _, _| {
        let start = e.begin_login()?;
        Ok(pb::BeginLoginResponse {
            authorize_url: start.authorize_url,
            login_binding: start.binding,
        })
    }
);

/// The IDP's callback, shape-checked (the engine checks the values).
pub struct Callback {
    binding: String,
    code: String,
    state: String,
}

/// Finish the IDP part of a login.
pub struct CompleteLogin;
impl Verb for CompleteLogin {
    const NAME: &'static str = "CompleteLogin";
    type Gate = Anonymous;
    type Request = pb::CompleteLoginRequest;
    type Typed = Callback;
    type Reply = pb::CompleteLoginResponse;
    fn parse(r: Self::Request) -> Result<Callback, ExecutorError> {
        crate::rpc::field(
            "login_binding",
            &r.login_binding,
            crate::auth::sealed::MAX_BINDING_BYTES,
        )?;
        code_field(&r.code)?;
        state_field(&r.state)?;
        Ok(Callback {
            binding: r.login_binding,
            code: r.code,
            state: r.state,
        })
    }
    fn target(_: &Callback) -> String {
        "login".into()
    }
    async fn call(
        e: &Arc<Engine>,
        _: &(),
        a: Callback,
        c: &Ctx,
    ) -> Result<Self::Reply, ExecutorError> {
        let done = e.complete_login(&a.binding, &a.code, &a.state, c).await?;
        Ok(pb::CompleteLoginResponse {
            session: Some(pb::Session {
                token: done.token.as_str().to_string(),
            }),
            username: done.username,
            role: wire::role(done.role) as i32,
            totp_enrolled: done.totp_enrolled,
        })
    }
}

bare_verb!(
    /// First sign-in: create the TOTP secret.
    EnrolTotp, "EnrolTotp", SignedIn, pb::EnrolTotpRequest => pb::EnrolTotpResponse,
    refused "session.not_authorized", target "own account",
    |e, who, c| {
        let (otpauth_uri, secret_base32) = e.enrol_totp(who, c)?;
        Ok(pb::EnrolTotpResponse {
            otpauth_uri,
            secret_base32,
        })
    }
);

/// The second factor.
pub struct VerifyTotp;
impl Verb for VerifyTotp {
    const NAME: &'static str = "VerifyTotp";
    const REFUSED: &'static str = "session.not_authorized";
    type Gate = SignedIn;
    type Request = pb::VerifyTotpRequest;
    type Typed = TotpCode;
    type Reply = pb::VerifyTotpResponse;
    fn parse(r: Self::Request) -> Result<TotpCode, ExecutorError> {
        totp_code(&r.code)
    }
    fn target(_: &TotpCode) -> String {
        "session".into()
    }
    async fn call(
        e: &Arc<Engine>,
        who: &Caller,
        code: TotpCode,
        c: &Ctx,
    ) -> Result<Self::Reply, ExecutorError> {
        let (token, expires_at_ms) = e.verify_totp(who, &code, c)?;
        Ok(pb::VerifyTotpResponse {
            session: Some(pb::Session {
                token: token.as_str().to_string(),
            }),
            expires_at_ms,
        })
    }
}

bare_verb!(
    /// End this session.
    Logout, "Logout", SignedIn, pb::LogoutRequest => pb::LogoutResponse,
    refused "session.not_authorized", target "own session",
    |e, who, c| {
        e.logout(who, c)?;
        Ok(pb::LogoutResponse {})
    }
);

bare_verb!(
    /// Who holds this session.
    WhoAmI, "WhoAmI", SignedIn, pb::WhoAmIRequest => pb::WhoAmIResponse,
    refused "session.not_authorized", target "own session",
    |e, who, _| {
        Ok(pb::WhoAmIResponse {
            username: who.username.clone(),
            role: wire::role(who.role) as i32,
            totp_passed: who.totp_passed,
            totp_enrolled: e.totp_enrolled(&who.username)?,
            expires_at_ms: who.expires_ms,
        })
    }
);
