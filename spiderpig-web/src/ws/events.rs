//! The socket's own executor stream, `Watch(job 0)` with the browser's
//! session: queue, job, prompt and freeze events (small, forwarded as they
//! come), and the session's revocation. While the executor is unreachable
//! the browser is told `executor up:false` and the stream is retried with
//! backoff; when it is back, `up:true` and the executor's fresh queue
//! snapshot (the first event of every Watch). Trust: the executor decides
//! whether the session is still valid, on every (re)open.

use spiderpig_proto::v1 as pb;
use tonic::{Status, Streaming};

use super::conn::{Ctx, End, Gone};
use super::protocol::{Incoming, ServerMsg, incoming};
use super::retry::{Backoff, Class, SESSION_ENDED, classify};
use crate::executor::session;

/// How one stream ended.
enum Ended {
    Revoked(String),
    Down,
}

/// Follow the browser's global events until its session ends or it leaves.
pub async fn run(ctx: &Ctx) -> End {
    match follow(ctx).await {
        Ok(reason) => End::Revoked(reason),
        Err(Gone) => End::ClientGone,
    }
}

/// Returns the revocation reason.
async fn follow(ctx: &Ctx) -> Result<String, Gone> {
    // The upgrade's WhoAmI has just succeeded: the executor is up.
    let mut up = true;
    let mut backoff = Backoff::default();
    loop {
        let ended = match open(ctx).await {
            Ok(stream) => {
                if !up {
                    ctx.out.msg(&ServerMsg::Executor { up: true }).await?;
                    up = true;
                }
                backoff.reset();
                pump(ctx, stream).await?
            }
            Err(status) if classify(&status) == Class::Revoked => {
                Ended::Revoked(SESSION_ENDED.into())
            }
            Err(_) => Ended::Down,
        };
        if let Ended::Revoked(reason) = ended {
            return Ok(reason);
        }
        if up {
            ctx.out.msg(&ServerMsg::Executor { up: false }).await?;
            up = false;
        }
        backoff.wait().await;
    }
}

async fn open(ctx: &Ctx) -> Result<Streaming<pb::Event>, Status> {
    let c = &ctx.conn;
    let req = pb::WatchRequest {
        ctx: c.origin.ctx(),
        session: session(&c.token),
        job_id: 0,
        after_seq: 0,
    };
    Ok(c.executor.client().watch(req).await?.into_inner())
}

/// Forward events until the stream ends.
async fn pump(ctx: &Ctx, mut stream: Streaming<pb::Event>) -> Result<Ended, Gone> {
    loop {
        match stream.message().await {
            Ok(Some(event)) => {
                // The monitoring panels follow the job holding the lock.
                ctx.conn.hub.monitor().see_event(&event);
                match incoming(&event, &ctx.conn.viewer) {
                    Incoming::Forward(frame) => ctx.out.send(frame).await?,
                    Incoming::Revoked(reason) => return Ok(Ended::Revoked(reason)),
                    Incoming::Ignore => {}
                }
            }
            Err(status) if classify(&status) == Class::Revoked => {
                return Ok(Ended::Revoked(SESSION_ENDED.into()));
            }
            // Ended without a revocation, or broke: the executor went away
            // (reopening tells a dead session apart: UNAUTHENTICATED).
            Ok(None) | Err(_) => return Ok(Ended::Down),
        }
    }
}
