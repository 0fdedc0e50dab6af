//! The socket's log subscription: the job named by the browser's last
//! `watch`, from after its `after_seq`. It joins the job's shared feed
//! first, catches up from the executor's store with `GetLog` (the
//! browser's own session), then follows the feed's ready-made frames,
//! dropping what it already sent and fetching any gap from the store, so the
//! browser gets every seq exactly once. Falling behind the feed's ring means
//! a `skipped` frame, then the feed from where it is. Trust: the executor
//! authorizes each `GetLog` with this browser's session.

use spiderpig_policy::seq::{self, Step};
use spiderpig_proto::v1 as pb;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;

use super::conn::{Ctx, End, Gone};
use super::fanout::LogBatch;
use super::protocol::{self, ServerMsg};
use super::retry::{Backoff, Class, SESSION_ENDED, classify};
use crate::error::WebError;
use crate::executor::session;

/// Records per `GetLog` page (the executor allows 1..=5000). Catch-up
/// frames are this socket's own, so they are kept as small as the
/// executor's live batches: at most `OUTBOX` of them wait per socket.
const PAGE: u32 = 256;

/// What the browser asked to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub job: u64,
    pub after_seq: u64,
}

impl Target {
    /// Job 0 means "follow no log".
    pub fn new(job: u64, after_seq: u64) -> Option<Target> {
        (job != 0).then_some(Target { job, after_seq })
    }
}

/// Why following stopped.
#[derive(Debug)]
enum Stop {
    Revoked(String),
    /// The executor refused this job (no such job ...): tell the browser.
    Refused(WebError),
    Gone,
}

impl From<Gone> for Stop {
    fn from(_: Gone) -> Stop {
        Stop::Gone
    }
}

/// Where this browser is in the job's log.
struct Cursor {
    job: u64,
    seq: seq::Cursor,
}

/// Follow whatever `target` names, switching when it changes.
pub async fn run(ctx: &Ctx, mut target: watch::Receiver<Option<Target>>) -> End {
    loop {
        let current = *target.borrow_and_update();
        tokio::select! {
            changed = target.changed() => if changed.is_err() {
                return End::ClientGone;
            },
            stop = follow_or_wait(ctx, current) => return match stop {
                Stop::Revoked(reason) => End::Revoked(reason),
                Stop::Refused(_) | Stop::Gone => End::ClientGone,
            },
        }
    }
}

/// Follow `target`; on a refusal, say so and wait for the next `watch`.
async fn follow_or_wait(ctx: &Ctx, target: Option<Target>) -> Stop {
    let Some(t) = target else {
        return std::future::pending().await;
    };
    match follow(ctx, t).await {
        Stop::Refused(e) => {
            let msg = ServerMsg::Error {
                job: t.job,
                error: e.kind(),
                message: e.to_string(),
            };
            if ctx.out.msg(&msg).await.is_err() {
                return Stop::Gone;
            }
            std::future::pending().await
        }
        stop => stop,
    }
}

async fn follow(ctx: &Ctx, t: Target) -> Stop {
    let c = &ctx.conn;
    // Join before catching up, so nothing published meanwhile is missed.
    let mut sub = c.hub.fanout().subscribe(t.job, &c.token, &c.origin);
    let mut cur = Cursor {
        job: t.job,
        seq: seq::Cursor::new(t.after_seq),
    };
    if let Err(stop) = fill(ctx, &mut cur, None).await {
        return stop;
    }
    loop {
        let result = match sub.rx.recv().await {
            Ok(batch) => deliver(ctx, &mut cur, &batch).await,
            Err(RecvError::Lagged(_)) => {
                cur.seq.lagged();
                Ok(())
            }
            // The feed lives while we hold the subscription.
            Err(RecvError::Closed) => std::future::pending().await,
        };
        if let Err(stop) = result {
            return stop;
        }
    }
}

async fn deliver(ctx: &Ctx, cur: &mut Cursor, b: &LogBatch) -> Result<(), Stop> {
    match cur.seq.step(b.first, b.last) {
        Step::Drop => return Ok(()),
        Step::Send => ctx.out.send(b.frame.clone()).await?,
        Step::Skip => {
            ctx.out
                .msg(&ServerMsg::Skipped {
                    job: cur.job,
                    next_seq: b.first,
                })
                .await?;
            ctx.out.send(b.frame.clone()).await?;
        }
        Step::Fill => {
            fill(ctx, cur, Some(b.last)).await?;
            // Asked again as if never lagged: the fill answered the gap.
            match seq::Cursor::new(cur.seq.sent()).step(b.first, b.last) {
                Step::Drop => {}
                Step::Send => ctx.out.send(b.frame.clone()).await?,
                // The store is behind the live stream (it should never be):
                // say so rather than send a duplicate.
                Step::Skip | Step::Fill => {
                    ctx.out
                        .msg(&ServerMsg::Skipped {
                            job: cur.job,
                            next_seq: b.last + 1,
                        })
                        .await?;
                }
            }
        }
    }
    cur.seq.advance(b.last);
    Ok(())
}

/// Send stored records after what was sent, up to `upto` (or to the end).
async fn fill(ctx: &Ctx, cur: &mut Cursor, upto: Option<u64>) -> Result<(), Stop> {
    while upto.is_none_or(|u| cur.seq.sent() < u) {
        let page = get_log(ctx, cur.job, cur.seq.sent()).await?;
        let records: Vec<pb::LogRecord> = page
            .records
            .into_iter()
            .filter(|r| cur.seq.wants(r.seq) && upto.is_none_or(|u| r.seq <= u))
            .collect();
        let Some(last) = records.last().map(|r| r.seq) else {
            break;
        };
        ctx.out.send(protocol::log_frame(cur.job, &records)).await?;
        cur.seq.sent_up_to(last);
        if !page.more {
            break;
        }
    }
    Ok(())
}

/// One `GetLog` page with the browser's session, retried while the
/// executor is down.
async fn get_log(ctx: &Ctx, job: u64, after_seq: u64) -> Result<pb::GetLogResponse, Stop> {
    let c = &ctx.conn;
    let mut backoff = Backoff::default();
    loop {
        let req = pb::GetLogRequest {
            ctx: c.origin.pb(),
            session: session(&c.token),
            job_id: job,
            after_seq,
            limit: PAGE,
        };
        match c.executor.raw().get_log(req).await {
            Ok(r) => return Ok(r.into_inner()),
            Err(status) => match classify(&status) {
                Class::Revoked => return Err(Stop::Revoked(SESSION_ENDED.into())),
                Class::Refused => return Err(Stop::Refused(WebError::from_status(&status))),
                Class::Down => backoff.wait().await,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_zero_follows_nothing() {
        assert_eq!(Target::new(0, 5), None);
        assert_eq!(
            Target::new(3, 5),
            Some(Target {
                job: 3,
                after_seq: 5
            })
        );
    }
}
