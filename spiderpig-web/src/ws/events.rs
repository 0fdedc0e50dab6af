//! The socket's global events and its session's end. The events (queue,
//! job, prompt, freeze, and `executor up`/`down`) come ready-made from the
//! web process's one shared feed (`fanout`, key `GLOBAL`): serialised once
//! for everyone, or, for queue and job events (the viewer's `actions`), once
//! per person and shared by their sockets. The session's end comes from its
//! guard (`guard`), told by the same shared feed. Trust: the executor
//! decides whether the session is still valid.

use tokio::sync::broadcast::error::RecvError;

use super::conn::{Ctx, End, Gone};
use super::fanout::{GLOBAL, Subscription};

/// Forward the global events until the browser's session ends or it leaves.
pub async fn run(ctx: &Ctx) -> End {
    let c = &ctx.conn;
    // The session's guard was joined at the upgrade, and the feed is
    // joined before anything is sent, so nothing published meanwhile is
    // missed.
    let mut sub = c.hub.fanout().subscribe(GLOBAL, &c.token, &c.origin);
    tokio::select! {
        biased;
        reason = c.session.ended() => End::Revoked(reason),
        Err(Gone) = forward(ctx, &mut sub) => End::ClientGone,
    }
}

async fn forward(ctx: &Ctx, sub: &mut Subscription) -> Result<(), Gone> {
    let viewer = &ctx.conn.viewer;
    for frame in sub.first_frames(viewer) {
        ctx.out.send(frame).await?;
    }
    loop {
        match sub.rx.recv().await {
            Ok(b) => {
                if let Some(frame) = b.frame_for(viewer) {
                    ctx.out.send(frame).await?;
                }
            }
            // Fell behind the ring: resynchronise with the latest snapshot.
            Err(RecvError::Lagged(_)) => {
                for frame in sub.first_frames(viewer) {
                    ctx.out.send(frame).await?;
                }
            }
            // The feed lives while we hold the subscription.
            Err(RecvError::Closed) => std::future::pending::<()>().await,
        }
    }
}
