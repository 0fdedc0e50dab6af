//! The gRPC services. Trust: every request on `Deployer` comes from
//! spiderpig-web and is untrusted; requests on `Admin` come from a checked
//! admin peer. Both validate arguments here (sizes, formats, enums) and leave
//! authorization and state rules to the engine.
//!
//! # Layout
//!
//! - [`verbs`]: the Deployer's dispatch table: [`Phase`], the `Verb` trait
//!   and `serve`, the one path every Deployer call takes (context, phase,
//!   parsing into `policy` newtypes, the call, the refusal audit, the status).
//! - [`deployer`]: the `Deployer` service, one `Verb` per RPC, and
//!   [`DEPLOYER_VERBS`].
//! - [`admin`]: the `Admin` service (admin.sock).
//! - `watch`: the Watch stream.
//! - This file: shape checks of request strings, and the status mapping.

pub mod admin;
pub mod deployer;
pub mod verbs;
mod watch;

pub use deployer::DEPLOYER_VERBS;
pub use verbs::Phase;

use spiderpig_proto::v1 as pb;
use tonic::Status;

use crate::engine::Ctx;
use crate::error::ExecutorError;

/// Limits on request strings (the proto documents them).
const MAX_ADDR: usize = 64;
const MAX_AGENT: usize = 256;
const MAX_REQUEST_ID: usize = 64;
const MAX_TOKEN: usize = 64;
const MAX_CODE: usize = 512;
const MAX_STATE: usize = 128;

fn printable_ascii(s: &str) -> bool {
    s.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// Check a short string field; error names the field.
pub(crate) fn field<'a>(name: &str, value: &'a str, max: usize) -> Result<&'a str, ExecutorError> {
    if value.len() > max || !printable_ascii(value) {
        return Err(ExecutorError::InvalidArgument(format!(
            "{name} must be at most {max} printable ASCII characters"
        )));
    }
    Ok(value)
}

/// The request context, validated.
pub(crate) fn ctx(ctx: Option<&pb::RequestContext>) -> Result<Ctx, ExecutorError> {
    let Some(c) = ctx else {
        return Ok(Ctx::default());
    };
    field("ctx.user_agent", &c.user_agent, MAX_AGENT)?;
    Ok(Ctx {
        client_addr: field("ctx.client_addr", &c.client_addr, MAX_ADDR)?.to_string(),
        request_id: field("ctx.request_id", &c.request_id, MAX_REQUEST_ID)?.to_string(),
    })
}

/// The session token of a request, size-checked (the engine checks it).
pub(crate) fn token(session: Option<&pb::Session>) -> Result<&str, ExecutorError> {
    let token = session.map(|s| s.token.as_str()).unwrap_or("");
    if token.is_empty() || token.len() > MAX_TOKEN {
        return Err(ExecutorError::Unauthenticated);
    }
    Ok(token)
}

pub(crate) fn code_field(value: &str) -> Result<&str, ExecutorError> {
    field("code", value, MAX_CODE)
}

pub(crate) fn state_field(value: &str) -> Result<&str, ExecutorError> {
    field("state", value, MAX_STATE)
}

/// Map an engine error to a status, tagged with the request id.
pub(crate) fn status(e: ExecutorError, ctx: &Ctx) -> Status {
    let id = if ctx.request_id.is_empty() {
        "-"
    } else {
        &ctx.request_id
    };
    e.into_status(id)
}
