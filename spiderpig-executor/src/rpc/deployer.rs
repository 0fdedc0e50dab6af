//! `Deployer`: what spiderpig-web may ask for. Trust: untrusted input.
//!
//! Each verb is a [`Verb`](super::verbs::Verb) impl: its phase, its typed
//! request and its engine call, declared once, in `signin` (the IDP steps,
//! TOTP, the session's own calls) or `jobs` (everything that needs a full
//! session). `serve` runs every call the same way. [`DEPLOYER_VERBS`]
//! lists them, and a test holds it to the proto.

use std::pin::Pin;
use std::sync::Arc;

use spiderpig_policy::{JobId, JobState, TotpCode};
use spiderpig_proto::v1 as pb;
use spiderpig_proto::v1::deployer_server::Deployer;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::verbs::{Phase, row, serve};
use crate::engine::Engine;
use crate::error::ExecutorError;
use crate::wire;

/// The `Deployer` service, served on executor.sock to the web's uid only
/// (checked per connection before a byte is read). It is the web's only way
/// into the monitor; every request is untrusted. It holds nothing but the
/// engine: every method is one `serve` call with the verb's [`Verb`]
/// impl, so the phase, the parsing and the refusal audit cannot be skipped.
///
/// [`Verb`]: super::verbs::Verb
#[derive(Debug, Clone)]
pub struct DeployerService {
    engine: Arc<Engine>,
}

impl DeployerService {
    pub fn new(engine: Arc<Engine>) -> Self {
        Self { engine }
    }
}

/// Every `Deployer` verb and the phase it needs, in the proto's order.
pub const DEPLOYER_VERBS: &[(&str, Phase)] = &[
    row::<BeginLogin>(),
    row::<CompleteLogin>(),
    row::<EnrolTotp>(),
    row::<VerifyTotp>(),
    row::<Logout>(),
    row::<WhoAmI>(),
    row::<SubmitJob>(),
    row::<CancelJob>(),
    row::<Ready>(),
    row::<Respond>(),
    row::<Finish>(),
    row::<Revert>(),
    row::<Interrupt>(),
    row::<GetJob>(),
    row::<ListJobs>(),
    row::<GetQueue>(),
    row::<GetLog>(),
    row::<Watch>(),
];

/// A job id from the wire.
fn job_id(n: u64) -> Result<JobId, ExecutorError> {
    Ok(JobId::new(n)?)
}

/// A TOTP code from the wire; a malformed one has its own outcome.
fn totp_code(code: &str) -> Result<TotpCode, ExecutorError> {
    TotpCode::parse(code).map_err(|_| ExecutorError::TotpMalformed)
}

fn job_target(id: &JobId) -> String {
    format!("job {id}")
}

fn job_reply(engine: &Engine, id: JobId) -> Result<pb::JobResponse, ExecutorError> {
    Ok(pb::JobResponse {
        job: Some(wire::job_view(&engine.get_job(id)?)),
    })
}

pub(super) type WatchStream =
    Pin<Box<dyn Stream<Item = Result<pb::Event, Status>> + Send + 'static>>;

/// The verbs that take nothing but their context (and session).
macro_rules! bare_verb {
    (
        $(#[$doc:meta])* $verb:ident, $name:literal, $gate:ty, $req:ty => $reply:ty,
        refused $refused:literal, target $target:literal,
        |$e:ident, $who:pat_param, $c:pat_param| $body:block
    ) => {
        $(#[$doc])*
        pub struct $verb;
        impl Verb for $verb {
            const NAME: &'static str = $name;
            const REFUSED: &'static str = $refused;
            type Gate = $gate;
            type Request = $req;
            type Typed = ();
            type Reply = $reply;
            fn parse(_: Self::Request) -> Result<(), ExecutorError> {
                Ok(())
            }
            fn target(_: &()) -> String {
                $target.into()
            }
            async fn call(
                $e: &Arc<Engine>,
                $who: &<$gate as verbs::Gate>::Who,
                _: (),
                $c: &Ctx,
            ) -> Result<$reply, ExecutorError> {
                $body
            }
        }
    };
}

mod jobs;
mod signin;

pub use jobs::*;
pub use signin::*;

#[tonic::async_trait]
impl Deployer for DeployerService {
    async fn begin_login(
        &self,
        req: Request<pb::BeginLoginRequest>,
    ) -> Result<Response<pb::BeginLoginResponse>, Status> {
        serve::<BeginLogin>(&self.engine, req).await
    }

    async fn complete_login(
        &self,
        req: Request<pb::CompleteLoginRequest>,
    ) -> Result<Response<pb::CompleteLoginResponse>, Status> {
        serve::<CompleteLogin>(&self.engine, req).await
    }

    async fn enrol_totp(
        &self,
        req: Request<pb::EnrolTotpRequest>,
    ) -> Result<Response<pb::EnrolTotpResponse>, Status> {
        serve::<EnrolTotp>(&self.engine, req).await
    }

    async fn verify_totp(
        &self,
        req: Request<pb::VerifyTotpRequest>,
    ) -> Result<Response<pb::VerifyTotpResponse>, Status> {
        serve::<VerifyTotp>(&self.engine, req).await
    }

    async fn logout(
        &self,
        req: Request<pb::LogoutRequest>,
    ) -> Result<Response<pb::LogoutResponse>, Status> {
        serve::<Logout>(&self.engine, req).await
    }

    async fn who_am_i(
        &self,
        req: Request<pb::WhoAmIRequest>,
    ) -> Result<Response<pb::WhoAmIResponse>, Status> {
        serve::<WhoAmI>(&self.engine, req).await
    }

    async fn submit_job(
        &self,
        req: Request<pb::SubmitJobRequest>,
    ) -> Result<Response<pb::JobResponse>, Status> {
        serve::<SubmitJob>(&self.engine, req).await
    }

    async fn cancel_job(
        &self,
        req: Request<pb::JobActionRequest>,
    ) -> Result<Response<pb::JobResponse>, Status> {
        serve::<CancelJob>(&self.engine, req).await
    }

    async fn ready(
        &self,
        req: Request<pb::JobActionRequest>,
    ) -> Result<Response<pb::JobResponse>, Status> {
        serve::<Ready>(&self.engine, req).await
    }

    async fn respond(
        &self,
        req: Request<pb::RespondRequest>,
    ) -> Result<Response<pb::JobResponse>, Status> {
        serve::<Respond>(&self.engine, req).await
    }

    async fn finish(
        &self,
        req: Request<pb::JobActionRequest>,
    ) -> Result<Response<pb::JobResponse>, Status> {
        serve::<Finish>(&self.engine, req).await
    }

    async fn revert(
        &self,
        req: Request<pb::RevertRequest>,
    ) -> Result<Response<pb::JobResponse>, Status> {
        serve::<Revert>(&self.engine, req).await
    }

    async fn interrupt(
        &self,
        req: Request<pb::JobActionRequest>,
    ) -> Result<Response<pb::JobResponse>, Status> {
        serve::<Interrupt>(&self.engine, req).await
    }

    async fn get_job(
        &self,
        req: Request<pb::JobActionRequest>,
    ) -> Result<Response<pb::JobResponse>, Status> {
        serve::<GetJob>(&self.engine, req).await
    }

    async fn list_jobs(
        &self,
        req: Request<pb::ListJobsRequest>,
    ) -> Result<Response<pb::ListJobsResponse>, Status> {
        serve::<ListJobs>(&self.engine, req).await
    }

    async fn get_queue(
        &self,
        req: Request<pb::GetQueueRequest>,
    ) -> Result<Response<pb::QueueResponse>, Status> {
        serve::<GetQueue>(&self.engine, req).await
    }

    async fn get_log(
        &self,
        req: Request<pb::GetLogRequest>,
    ) -> Result<Response<pb::GetLogResponse>, Status> {
        serve::<GetLog>(&self.engine, req).await
    }

    type WatchStream = WatchStream;

    async fn watch(
        &self,
        req: Request<pb::WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        serve::<Watch>(&self.engine, req).await
    }
}

/// Validate history filters (shared with the admin service).
pub(crate) fn list_filter(
    owner: &str,
    states: &[i32],
) -> Result<(Option<String>, Vec<JobState>), ExecutorError> {
    let owner = if owner.is_empty() {
        None
    } else {
        Some(
            spiderpig_policy::Username::parse(owner)?
                .as_str()
                .to_string(),
        )
    };
    if states.len() > 16 {
        return Err(ExecutorError::InvalidArgument(
            "too many state filters".into(),
        ));
    }
    let states = states
        .iter()
        .map(|s| wire::state_from_wire(*s))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((owner, states))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The RPC names of `service Deployer`, read from the proto itself.
    fn proto_methods() -> Vec<String> {
        let proto = include_str!("../../../proto/spiderpig.proto");
        let start = proto
            .find("service Deployer {")
            .expect("the proto has service Deployer");
        let body = &proto[start..];
        let body = &body[..body.find("\n}").expect("service Deployer ends")];
        body.lines()
            .filter_map(|l| l.trim().strip_prefix("rpc "))
            .map(|l| l[..l.find('(').expect("rpc Name(")].trim().to_string())
            .collect()
    }

    #[test]
    fn the_table_names_every_method_of_the_service_once() {
        let table: Vec<String> = DEPLOYER_VERBS.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(table, proto_methods());
    }

    #[test]
    fn only_the_sign_in_steps_skip_totp() {
        let phase = |name: &str| {
            DEPLOYER_VERBS
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, p)| *p)
                .unwrap()
        };
        for name in ["BeginLogin", "CompleteLogin"] {
            assert_eq!(phase(name), Phase::Anonymous, "{name}");
        }
        for name in ["EnrolTotp", "VerifyTotp", "Logout", "WhoAmI"] {
            assert_eq!(phase(name), Phase::SignedIn, "{name}");
        }
        let full = DEPLOYER_VERBS
            .iter()
            .filter(|(_, p)| *p == Phase::TotpPassed)
            .count();
        assert_eq!(full, DEPLOYER_VERBS.len() - 6);
    }
}
