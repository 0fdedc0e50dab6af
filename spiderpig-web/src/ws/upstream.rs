//! A feed's one upstream stream: `Watch(job, after_seq, logs_only)` on the
//! executor, opened with a current watcher's session, reopened from the last
//! seq when that session ends, that watcher leaves, or the executor
//! restarts. The [`GLOBAL`] feed's stream is `Watch(job 0)` with the global
//! events, and says when the executor goes away and comes back. Trust:
//! internal; the executor authorizes every (re)open with the session used.

use std::sync::Arc;

use spiderpig_policy::seq;
use spiderpig_proto::v1 as pb;
use tonic::{Status, Streaming};

use super::fanout::{FeedCore, GLOBAL, LogFanout, Pick, Watcher};
use super::retry::{Backoff, Class, MAX_RETRY, classify};
use crate::executor::session;

/// How a stream ended.
enum Ended {
    /// Its session ended (with the executor's reason, if it gave one): use
    /// another watcher's, at once.
    Revoked(Option<String>),
    /// The watcher whose session it used left: use another's, at once.
    Switch,
    /// The executor went away: retry after a wait.
    Down,
}

/// Run the upstream of `core` until its last watcher leaves.
pub async fn run(fanout: LogFanout, core: Arc<FeedCore>) {
    tokio::select! {
        _ = core.stop.cancelled() => {}
        _ = follow(&fanout, &core) => {}
    }
    tracing::debug!(job = core.job, "log feed ended");
}

async fn follow(fanout: &LogFanout, core: &FeedCore) {
    // Unknown until the first open: the feed carries live records only
    // (each watcher catches up with GetLog itself).
    let mut cur: Option<seq::Cursor> = None;
    let mut backoff = Backoff::default();
    loop {
        let (id, watcher) = match fanout.pick(core) {
            Pick::Use(id, w) => (id, w),
            Pick::Nobody => {
                // Until a watcher joins (or, at worst, the longest retry).
                let _ = tokio::time::timeout(MAX_RETRY, core.switch.notified()).await;
                continue;
            }
            Pick::Gone => return,
        };
        let opened = if core.job == GLOBAL {
            open_globals(fanout, &watcher).await
        } else {
            open(fanout, core.job, &watcher, &mut cur).await
        };
        let ended = match opened {
            Ok(stream) => {
                backoff.reset();
                if core.job == GLOBAL {
                    core.set_executor_up(true);
                    // Ends while no stream was open went unheard: ask
                    // (not about the session the stream was just opened
                    // with: the executor just accepted it, and its end
                    // comes on this stream, with its reason).
                    fanout.guards().recheck_except(Some(&watcher.token));
                }
                pump(fanout, core, stream, cur.get_or_insert(seq::Cursor::new(0))).await
            }
            Err(status) => match classify(&status) {
                Class::Down => Ended::Down,
                Class::Revoked => Ended::Revoked(None),
                // Refused (no such job, not allowed): this session cannot
                // feed it, though it may well hold.
                Class::Refused => {
                    fanout.mark_dead(core, id);
                    continue;
                }
            },
        };
        match ended {
            Ended::Revoked(reason) => {
                // The stream's own session is the one stream that cannot
                // carry its end as a `SessionEnded`: its sockets hear of it
                // here.
                fanout.guards().end_token(&watcher.token, reason);
                fanout.mark_dead(core, id);
            }
            Ended::Switch => {}
            Ended::Down => {
                core.set_executor_up(false);
                backoff.wait().await;
            }
        }
    }
}

/// Open `Watch(job)` after what `cur` has passed on; the first time, from
/// the job's current end (so the ring is not flooded with old records).
async fn open(
    fanout: &LogFanout,
    job: u64,
    who: &Watcher,
    cur: &mut Option<seq::Cursor>,
) -> Result<Streaming<pb::Event>, Status> {
    let mut client = fanout.executor().raw();
    let after_seq = match *cur {
        Some(c) => c.sent(),
        None => {
            let r = client
                .get_job(pb::JobActionRequest {
                    ctx: who.origin.pb(),
                    session: session(&who.token),
                    job_id: job,
                })
                .await?
                .into_inner();
            let end = r.job.map_or(0, |j| j.last_seq);
            *cur = Some(seq::Cursor::new(end));
            end
        }
    };
    let req = pb::WatchRequest {
        ctx: who.origin.pb(),
        session: session(&who.token),
        job_id: job,
        after_seq,
        // The global events have their own feed.
        logs_only: true,
        session_ends: false,
    };
    Ok(client.watch(req).await?.into_inner())
}

/// Open the global events' stream (its first event is the queue snapshot).
async fn open_globals(fanout: &LogFanout, who: &Watcher) -> Result<Streaming<pb::Event>, Status> {
    let req = pb::WatchRequest {
        ctx: who.origin.pb(),
        session: session(&who.token),
        job_id: 0,
        after_seq: 0,
        logs_only: false,
        // Every session's end, for the sockets' guards.
        session_ends: true,
    };
    Ok(fanout.executor().raw().watch(req).await?.into_inner())
}

/// Broadcast what the stream brings (the job's log records, or on the
/// [`GLOBAL`] feed the global events), each serialised once, until it ends
/// or must be switched.
async fn pump(
    fanout: &LogFanout,
    core: &FeedCore,
    mut stream: Streaming<pb::Event>,
    cur: &mut seq::Cursor,
) -> Ended {
    use pb::event::Kind;
    loop {
        let next = tokio::select! {
            _ = core.switch.notified() => return Ended::Switch,
            next = stream.message() => next,
        };
        let event = match next {
            Ok(Some(event)) => event,
            Ok(None) => return Ended::Down,
            Err(status) if classify(&status) == Class::Revoked => return Ended::Revoked(None),
            Err(_) => return Ended::Down,
        };
        if let Some(Kind::SessionRevoked(r)) = event.kind {
            // The session lent to this stream ended (not the others').
            return Ended::Revoked(Some(r.reason));
        }
        if let Some(Kind::SessionEnded(e)) = &event.kind {
            fanout.guards().ended(e);
            continue;
        }
        if core.job == GLOBAL {
            // The monitoring panels follow the job holding the lock.
            fanout.monitor().see_event(&event);
            core.publish_event(&event);
            continue;
        }
        match event.kind {
            Some(Kind::Log(batch)) if batch.job_id == core.job => {
                core.publish(batch.records, cur);
            }
            // The executor dropped records for this stream: watchers see the
            // gap and fetch it from the store.
            Some(Kind::Skipped(s)) if s.job_id == core.job => {
                cur.advance(s.next_seq.saturating_sub(1));
            }
            // Heartbeats (the stream is logs-only).
            _ => {}
        }
    }
}
