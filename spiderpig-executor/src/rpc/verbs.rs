//! The monitor's dispatch table: what each `Deployer` verb needs before the
//! engine hears of it. Trust: requests are untrusted; nothing reaches the
//! engine before the checks here pass.
//!
//! Every verb is one [`Verb`] impl (in `deployer.rs`) that names its phase
//! and parses its request into `policy` newtypes; `serve` is the one path
//! every call takes:
//!
//! 1. the request context is checked (sizes, printable ASCII);
//! 2. the session is authenticated for the verb's [`Phase`];
//! 3. the request is parsed into the verb's typed arguments;
//! 4. the engine is called;
//! 5. an authorization refusal (`PERMISSION_DENIED`) is audited, the same
//!    way for every verb that has a signed-in caller;
//! 6. the outcome becomes a `tonic::Status` tagged with the request id.
//!
//! Before sign-in there is no caller to name: the engine audits the login
//! refusals itself, with the identity it checked.

use std::future::Future;
use std::sync::Arc;

use spiderpig_proto::v1 as pb;
use tonic::{Request, Response, Status};

use super::{ctx, status, token};
use crate::engine::{Audit, Caller, Ctx, Engine};
use crate::error::ExecutorError;

/// How far a session must have come before a verb may be called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No session: the steps of signing in with the IDP.
    Anonymous,
    /// A session that has passed the IDP but maybe not TOTP.
    SignedIn,
    /// A full session: IDP and TOTP passed.
    TotpPassed,
}

/// A phase as a type: what it requires of a request and whom it yields.
pub trait Gate {
    const PHASE: Phase;
    /// Who is calling, once the gate is passed.
    type Who: Send + Sync;
    /// Authenticate `session` for this phase.
    fn admit(engine: &Engine, session: Option<&pb::Session>) -> Result<Self::Who, ExecutorError>;
    /// The caller to name in a refusal's audit record, if there is one.
    fn actor(who: &Self::Who) -> Option<&str>;
}

/// [`Phase::Anonymous`]: no session is looked at.
#[derive(Debug)]
pub struct Anonymous;
/// [`Phase::SignedIn`].
#[derive(Debug)]
pub struct SignedIn;
/// [`Phase::TotpPassed`].
#[derive(Debug)]
pub struct TotpPassed;

impl Gate for Anonymous {
    const PHASE: Phase = Phase::Anonymous;
    type Who = ();
    fn admit(_: &Engine, _: Option<&pb::Session>) -> Result<(), ExecutorError> {
        Ok(())
    }
    fn actor(_: &()) -> Option<&str> {
        None
    }
}

fn authenticate(
    engine: &Engine,
    session: Option<&pb::Session>,
    need_totp: bool,
) -> Result<Caller, ExecutorError> {
    engine.authenticate(token(session)?, need_totp)
}

impl Gate for SignedIn {
    const PHASE: Phase = Phase::SignedIn;
    type Who = Caller;
    fn admit(engine: &Engine, session: Option<&pb::Session>) -> Result<Caller, ExecutorError> {
        authenticate(engine, session, false)
    }
    fn actor(who: &Caller) -> Option<&str> {
        Some(&who.username)
    }
}

impl Gate for TotpPassed {
    const PHASE: Phase = Phase::TotpPassed;
    type Who = Caller;
    fn admit(engine: &Engine, session: Option<&pb::Session>) -> Result<Caller, ExecutorError> {
        authenticate(engine, session, true)
    }
    fn actor(who: &Caller) -> Option<&str> {
        Some(&who.username)
    }
}

/// The parts every request carries: its context and (after sign-in) its
/// session.
pub trait Envelope {
    fn ctx(&self) -> Option<&pb::RequestContext>;
    fn session(&self) -> Option<&pb::Session>;
}

macro_rules! envelope {
    (without session: $($t:ty),*) => {$(
        impl Envelope for $t {
            fn ctx(&self) -> Option<&pb::RequestContext> {
                self.ctx.as_ref()
            }
            fn session(&self) -> Option<&pb::Session> {
                None
            }
        }
    )*};
    ($($t:ty),*) => {$(
        impl Envelope for $t {
            fn ctx(&self) -> Option<&pb::RequestContext> {
                self.ctx.as_ref()
            }
            fn session(&self) -> Option<&pb::Session> {
                self.session.as_ref()
            }
        }
    )*};
}
envelope!(without session: pb::BeginLoginRequest, pb::CompleteLoginRequest);
envelope!(
    pb::EnrolTotpRequest,
    pb::VerifyTotpRequest,
    pb::LogoutRequest,
    pb::WhoAmIRequest,
    pb::SubmitJobRequest,
    pb::JobActionRequest,
    pb::RespondRequest,
    pb::RevertRequest,
    pb::ListJobsRequest,
    pb::GetQueueRequest,
    pb::GetLogRequest,
    pb::WatchRequest
);

/// One `Deployer` verb: its name, its phase, its typed request, and the
/// engine call it makes.
pub trait Verb {
    /// The RPC's name in the proto's `service Deployer`.
    const NAME: &'static str;
    /// The audit action of an authorization refusal of this verb.
    const REFUSED: &'static str = "job.not_authorized";
    /// The phase the session must have reached.
    type Gate: Gate;
    type Request: Envelope + Send + 'static;
    /// The request once checked: `policy` newtypes, nothing unchecked.
    type Typed: Send;
    type Reply: Send;

    /// Check the request's arguments and build the typed values.
    fn parse(req: Self::Request) -> Result<Self::Typed, ExecutorError>;

    /// What the verb acts on, as the audit names it (`job 7`).
    fn target(args: &Self::Typed) -> String;

    /// Ask the engine and encode its answer.
    fn call(
        engine: &Arc<Engine>,
        who: &<Self::Gate as Gate>::Who,
        args: Self::Typed,
        ctx: &Ctx,
    ) -> impl Future<Output = Result<Self::Reply, ExecutorError>> + Send;
}

/// One row of the dispatch table.
pub const fn row<V: Verb>() -> (&'static str, Phase) {
    (V::NAME, <V::Gate as Gate>::PHASE)
}

/// Run one call of verb `V`: see the module's documentation for the steps.
pub(super) async fn serve<V: Verb>(
    engine: &Arc<Engine>,
    req: Request<V::Request>,
) -> Result<Response<V::Reply>, Status> {
    let req = req.into_inner();
    let c = ctx(req.ctx()).map_err(|e| status(e, &Ctx::default()))?;
    let who = V::Gate::admit(engine, req.session()).map_err(|e| status(e, &c))?;
    let args = V::parse(req).map_err(|e| status(e, &c))?;
    let target = V::target(&args);
    match V::call(engine, &who, args, &c).await {
        Ok(reply) => Ok(Response::new(reply)),
        Err(e) => {
            if let Some(actor) = V::Gate::actor(&who) {
                audit_refusal(engine, actor, V::REFUSED, &target, V::NAME, &e, &c);
            }
            Err(status(e, &c))
        }
    }
}

/// Audit an authorization refusal (SECURITY-TESTS.md case 48). Other
/// refusals (bad input, wrong state) are the caller's to see, not the
/// audit's.
fn audit_refusal(
    engine: &Engine,
    actor: &str,
    action: &str,
    target: &str,
    verb: &str,
    e: &ExecutorError,
    c: &Ctx,
) {
    if e.code() != tonic::Code::PermissionDenied {
        return;
    }
    let reason = format!("{verb}: {e}");
    let written = engine.store().write(|tx| {
        engine.audit(
            tx,
            Audit::refused(actor, action, target, &reason, &c.client_addr),
        )
    });
    if let Err(err) = written {
        tracing::error!(error = %err, verb, "cannot audit a refused call");
    }
}
