//! `GET /ws` with the app on a real TCP socket and a fake executor on a real
//! Unix socket: SECURITY-TESTS.md cases 18 (revocation), 24 (Origin), 25
//! (session), 26 (frames), 27 (slow readers), 44/45 (restarts), 46 (shutdown),
//! and DESIGN.md's "exactly the records after it".

#[path = "ws/fake_executor.rs"]
mod fake_executor;
#[path = "ws/harness.rs"]
mod harness;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::SinkExt;
use serde_json::Value;
use spiderpig_proto::v1 as pb;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

use harness::{
    Got, Harness, Limits, ORIGIN, close_code, next, next_of, read_log_exactly, send_text, seqs,
    watch,
};

#[tokio::test]
async fn ws_upgrade_from_foreign_origin_is_refused() {
    let h = Harness::start(Limits::default()).await;
    let token = h.fake.session("ann", true);
    let origins = [
        None,
        Some("null"),
        Some("https://evil.example"),
        Some("https://deploy.example.evil.com"),
        Some("https://deploy.example.com.evil.com"),
        Some("http://deploy.example.com"),
    ];
    for origin in origins {
        assert_eq!(h.refused(origin, Some(&token)).await, 403, "{origin:?}");
    }
    // Refused before the executor was asked anything or a socket opened.
    assert_eq!(h.fake.count(|c| &c.who_am_i), 0);
    assert_eq!(h.fake.count(|c| &c.watch_opened), 0);
    assert_eq!(h.state.ws.open_sockets(), 0);
}

#[tokio::test]
async fn ws_upgrade_without_a_session_that_passed_totp_is_401() {
    let h = Harness::start(Limits::default()).await;
    let pre_totp = h.fake.session("bob", false);
    for token in [None, Some("not-a-session"), Some(pre_totp.as_str())] {
        assert_eq!(h.refused(Some(ORIGIN), token).await, 401, "{token:?}");
    }
    assert_eq!(h.fake.count(|c| &c.watch_opened), 0);
    assert_eq!(h.state.ws.open_sockets(), 0);
}

#[tokio::test]
async fn ws_upgrade_while_the_executor_is_down_is_503() {
    let h = Harness::start(Limits::default()).await;
    let token = h.fake.session("ann", true);
    h.fake.stop();
    assert_eq!(h.refused(Some(ORIGIN), Some(&token)).await, 503);
}

#[tokio::test]
async fn ws_connections_over_the_cap_are_refused_with_503() {
    let h = Harness::start(Limits {
        ws_connections: 2,
        ..Limits::default()
    })
    .await;
    let token = h.fake.session("ann", true);
    let first = h.connect(&token).await;
    let _second = h.connect(&token).await;
    assert_eq!(h.refused(Some(ORIGIN), Some(&token)).await, 503);
    drop(first);
    h.until("the first socket's place is free", |h| {
        h.state.ws.open_sockets() < 2
    })
    .await;
    let _third = h.connect(&token).await;
}

#[tokio::test]
async fn ws_revoked_session_gets_revoked_then_close_4001_within_a_second() {
    let h = Harness::start(Limits::default()).await;
    // A `SessionRevoked` event, then a stream that just ends UNAUTHENTICATED.
    for (silently, reason) in [
        (false, "logged out by an admin"),
        (true, "the session has ended"),
    ] {
        let token = h.fake.session("ann", true);
        let mut ws = h.connect(&token).await;
        next_of(&mut ws, "queue").await;
        let start = Instant::now();
        h.fake.revoke(&token, "logged out by an admin", silently);
        let revoked = next_of(&mut ws, "revoked").await;
        let code = close_code(&mut ws).await;
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "took {:?}",
            start.elapsed()
        );
        assert_eq!(code, 4001);
        assert_eq!(revoked["reason"], reason);
        assert_eq!(h.refused(Some(ORIGIN), Some(&token)).await, 401);
    }
    h.until("every socket closed", |h| h.state.ws.open_sockets() == 0)
        .await;
}

#[tokio::test]
async fn ws_log_feed_moves_to_another_watchers_session_when_its_session_ends() {
    let h = Harness::start(Limits::default()).await;
    h.fake.job(7);
    let (ann, bob) = (h.fake.session("ann", true), h.fake.session("bob", true));
    let mut a = h.connect(&ann).await;
    watch(&mut a, 7, 0).await;
    h.until("the feed is open", |h| h.fake.job_watchers(7).len() == 1)
        .await;
    h.fake.append(7, 10);
    read_log_exactly(&mut a, 0, 10).await;
    let mut b = h.connect(&bob).await;
    watch(&mut b, 7, 10).await;
    h.fake.append(7, 5);
    read_log_exactly(&mut b, 10, 15).await;
    h.fake.revoke(&ann, "banned", false);
    assert_eq!(close_code(&mut a).await, 4001);
    for _ in 0..5 {
        h.fake.append(7, 10);
    }
    read_log_exactly(&mut b, 15, 65).await;
    let users = h.fake.job_watchers(7);
    assert_eq!(users.first().map(String::as_str), Some("ann"));
    assert_eq!(users.last().map(String::as_str), Some("bob"), "{users:?}");
}

/// Read `log` frames until at least `upto`, checking order; the last seq.
async fn read_log_past(ws: &mut harness::Ws, after: u64, upto: u64) -> u64 {
    let mut last = after;
    while last < upto {
        if let Got::Json(v) = next(ws).await
            && v["type"] == "log"
        {
            for seq in seqs(&v) {
                assert_eq!(seq, last + 1, "gap or duplicate");
                last = seq;
            }
        }
    }
    last
}

#[tokio::test]
async fn ws_resume_from_after_seq_is_exact_across_a_reconnect() {
    let h = Harness::start(Limits::default()).await;
    h.fake.job(3);
    for _ in 0..10 {
        h.fake.append(3, 10);
    }
    let token = h.fake.session("ann", true);
    // The job keeps writing while the browser goes away and comes back.
    let fake = h.fake.clone();
    let writer = tokio::spawn(async move {
        for _ in 0..300 {
            fake.append(3, 1);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
    let mut ws = h.connect(&token).await;
    watch(&mut ws, 3, 0).await;
    let last = read_log_past(&mut ws, 0, 150).await;
    drop(ws);
    let mut ws = h.connect(&token).await;
    watch(&mut ws, 3, last).await;
    read_log_exactly(&mut ws, last, 400).await;
    writer.await.expect("writer");
    // Switching on the same socket: exactly the records after the new seq.
    watch(&mut ws, 3, 390).await;
    read_log_exactly(&mut ws, 390, 400).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_a_client_that_never_reads_is_told_it_skipped_and_others_get_every_record() {
    const PER_BATCH: usize = 50;
    const TOTAL: u64 = 50_000;
    let h = Harness::start(Limits {
        ws_queue: 64,
        ..Limits::default()
    })
    .await;
    h.fake.job(9);
    let (slow_token, fast_token) = (h.fake.session("slow", true), h.fake.session("fast", true));
    let mut slow = h.connect_small_buffer(&slow_token).await;
    watch(&mut slow, 9, 0).await;
    let mut fast = h.connect(&fast_token).await;
    watch(&mut fast, 9, 0).await;
    h.until("both watchers caught up", |h| {
        h.fake.count(|c| &c.get_log) >= 2
    })
    .await;
    h.until("the feed is open", |h| h.fake.job_watchers(9).len() == 1)
        .await;
    // The job writes as fast as the reading viewer takes it (at most 16
    // batches ahead of it), so only the one that does not read can fall
    // behind, however loaded the machine is. A server that let the slow
    // viewer hold the feed back would stall the reading one too: time-out.
    let progress = Arc::new(AtomicU64::new(0));
    let (fake, seen) = (h.fake.clone(), progress.clone());
    let flood = tokio::spawn(async move {
        let mut appended = 0;
        while appended < TOTAL {
            if appended - seen.load(Ordering::SeqCst) < 16 * PER_BATCH as u64 {
                appended = fake.append(9, PER_BATCH);
            } else {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            tokio::task::yield_now().await;
        }
    });
    read_log_tracking(&mut fast, TOTAL, &progress).await;
    flood.await.expect("flood");
    assert_eq!(
        h.fake.count(|c| &c.lagged),
        0,
        "the executor's stream to the web fell behind"
    );
    let skips = read_with_skips(&mut slow, TOTAL).await;
    assert!(skips >= 1, "the slow client was never told it skipped");
    assert_eq!(
        h.fake.job_watchers(9).len(),
        1,
        "one upstream stream for both watchers"
    );
}

/// Read to `upto`, every seq once and in order, publishing progress.
async fn read_log_tracking(ws: &mut harness::Ws, upto: u64, progress: &AtomicU64) {
    let mut last = 0;
    while last < upto {
        let v = next_of(ws, "log").await;
        for seq in seqs(&v) {
            assert_eq!(seq, last + 1, "gap or duplicate");
            last = seq;
        }
        progress.store(last, Ordering::SeqCst);
    }
}

/// Read to `upto`: records in order, jumps only right after `skipped`.
async fn read_with_skips(ws: &mut harness::Ws, upto: u64) -> usize {
    let (mut expect, mut skips) = (1, 0);
    while expect <= upto {
        let Got::Json(v) = next(ws).await else {
            panic!("closed at {expect}")
        };
        match v["type"].as_str() {
            Some("skipped") => {
                let next_seq = v["next_seq"].as_u64().expect("next_seq");
                assert!(next_seq > expect, "skipped backwards: {v}");
                expect = next_seq;
                skips += 1;
            }
            Some("log") => {
                for seq in seqs(&v) {
                    assert_eq!(seq, expect, "gap without `skipped`, or duplicate");
                    expect += 1;
                }
            }
            _ => {}
        }
    }
    skips
}

#[tokio::test]
async fn ws_the_same_log_record_is_serialised_once_for_every_watcher() {
    let h = Harness::start(Limits::default()).await;
    h.fake.job(4);
    let (ann, bob) = (h.fake.session("ann", true), h.fake.session("bob", true));
    let (mut a, mut b) = (h.connect(&ann).await, h.connect(&bob).await);
    watch(&mut a, 4, 0).await;
    watch(&mut b, 4, 0).await;
    h.until("both watchers caught up", |h| {
        h.fake.count(|c| &c.get_log) >= 2
    })
    .await;
    h.until("the feed is open", |h| h.fake.job_watchers(4).len() == 1)
        .await;
    let before = h.state.ws.log_frames_serialised();
    for _ in 0..20 {
        h.fake.append(4, 5);
    }
    let (fa, fb) = (log_frames(&mut a, 100).await, log_frames(&mut b, 100).await);
    assert_eq!(fa, fb, "both watchers got the same frames");
    assert_eq!(
        h.state.ws.log_frames_serialised() - before,
        20,
        "one serialisation per batch, not per watcher"
    );
}

/// The `log` frames up to seq `upto`, as they came.
async fn log_frames(ws: &mut harness::Ws, upto: u64) -> Vec<Value> {
    let mut frames = Vec::new();
    while frames
        .last()
        .and_then(|f: &Value| seqs(f).last().copied())
        .unwrap_or(0)
        < upto
    {
        frames.push(next_of(ws, "log").await);
    }
    frames
}

#[tokio::test]
async fn ws_binary_frame_is_closed_with_1003() {
    let h = Harness::start(Limits::default()).await;
    let mut ws = h.connect(&h.fake.session("ann", true)).await;
    ws.send(Message::Binary(vec![1u8, 2, 3].into()))
        .await
        .expect("send");
    assert_eq!(close_code(&mut ws).await, 1003);
}

#[tokio::test]
async fn ws_oversized_frame_or_message_is_closed_with_1009() {
    let h = Harness::start(Limits {
        ws_message_bytes: 1024,
        ..Limits::default()
    })
    .await;
    let token = h.fake.session("ann", true);
    let mut ws = h.connect(&token).await;
    send_text(&mut ws, &"x".repeat(4096)).await;
    assert_eq!(close_code(&mut ws).await, 1009);
    // Many small fragments of one message over the limit.
    let mut ws = h.connect(&token).await;
    let fragment = |op, last| Message::Frame(Frame::message("y".repeat(600), op, last));
    ws.feed(fragment(OpCode::Data(Data::Text), false))
        .await
        .expect("first fragment");
    ws.feed(fragment(OpCode::Data(Data::Continue), false))
        .await
        .expect("second fragment");
    ws.send(fragment(OpCode::Data(Data::Continue), true))
        .await
        .expect("last fragment");
    assert_eq!(close_code(&mut ws).await, 1009);
}

#[tokio::test]
async fn ws_invalid_messages_are_ignored_then_closed_with_1008() {
    let h = Harness::start(Limits::default()).await;
    let mut ws = h.connect(&h.fake.session("ann", true)).await;
    for bad in [
        r#"{"type":"answer"}"#,
        "not json",
        r#"{"type":"watch","job":-1}"#,
    ] {
        send_text(&mut ws, bad).await;
    }
    send_text(&mut ws, r#"{"type":"ping"}"#).await;
    next_of(&mut ws, "heartbeat").await;
    for _ in 3..reader_max_invalid() {
        send_text(&mut ws, "[]").await;
    }
    assert_eq!(close_code(&mut ws).await, 1008);
    assert_eq!(
        h.state.ws.invalid_messages(),
        u64::from(reader_max_invalid())
    );
}

fn reader_max_invalid() -> u32 {
    spiderpig_web::ws::reader::MAX_INVALID
}

#[tokio::test]
async fn ws_forwards_global_events_and_reports_a_refused_watch() {
    use pb::event::Kind;
    let h = Harness::start(Limits::default()).await;
    let mut ws = h.connect(&h.fake.session("ann", true)).await;
    next_of(&mut ws, "queue").await;
    let job = pb::Job {
        id: 12,
        owner: "ann".into(),
        kind: pb::JobKind::Backport as i32,
        state: pb::JobState::Running as i32,
        stage: pb::Stage::Merge as i32,
        ..Default::default()
    };
    h.fake.publish(Kind::Job(pb::JobChanged { job: Some(job) }));
    let j = next_of(&mut ws, "job").await;
    assert_eq!(
        (j["job"]["id"].as_u64(), j["job"]["state"].as_str()),
        (Some(12), Some("running"))
    );
    let closed = pb::PromptClosed {
        job_id: 12,
        prompt_id: 3,
        answered_by: "ann".into(),
        answer_label: "Yes".into(),
    };
    h.fake.publish(Kind::PromptClosed(closed));
    let p = next_of(&mut ws, "prompt_closed").await;
    assert_eq!(
        (
            p["job"].as_u64(),
            p["prompt_id"].as_u64(),
            p["answer"].as_str()
        ),
        (Some(12), Some(3), Some("Yes"))
    );
    watch(&mut ws, 999, 0).await;
    let e = next_of(&mut ws, "error").await;
    assert_eq!(
        (e["job"].as_u64(), e["error"].as_str()),
        (Some(999), Some("not_found"))
    );
    h.until("the refused watch left its feed", |h| {
        h.state.ws.log_feeds() == 0
    })
    .await;
    send_text(&mut ws, r#"{"type":"ping"}"#).await;
    next_of(&mut ws, "heartbeat").await;
}

#[tokio::test]
async fn ws_executor_restart_is_reported_and_logs_resume_without_gap_or_duplicate() {
    let h = Harness::start(Limits::default()).await;
    h.fake.job(5);
    h.fake.append(5, 20);
    let mut ws = h.connect(&h.fake.session("ann", true)).await;
    watch(&mut ws, 5, 0).await;
    read_log_exactly(&mut ws, 0, 20).await;
    h.fake.stop();
    assert_eq!(next_of(&mut ws, "executor").await["up"], false);
    // Written around the restart (say, the executor's "interrupted" note).
    h.fake.append(5, 10);
    h.fake.start();
    let (mut up, mut queue_after_up, mut last) = (false, false, 20);
    while !(up && queue_after_up && last >= 40) {
        let Got::Json(v) = next(&mut ws).await else {
            panic!("closed during the restart")
        };
        match v["type"].as_str() {
            Some("executor") => up = v["up"] == true,
            Some("queue") => queue_after_up |= up,
            Some("log") => {
                for seq in seqs(&v) {
                    assert_eq!(seq, last + 1, "gap or duplicate across the restart");
                    last = seq;
                }
                if last == 30 {
                    h.fake.append(5, 10);
                }
            }
            Some("heartbeat") => {}
            other => panic!("unexpected {other:?}: {v}"),
        }
    }
}

#[tokio::test]
async fn ws_shutdown_closes_open_sockets_with_1001() {
    let h = Harness::start(Limits::default()).await;
    let token = h.fake.session("ann", true);
    let mut ws = h.connect(&token).await;
    next_of(&mut ws, "queue").await;
    h.state.ws.shutdown();
    assert_eq!(close_code(&mut ws).await, 1001);
    tokio::time::timeout(harness::WAIT, h.state.ws.closed())
        .await
        .expect("sockets drained");
    assert_eq!(h.refused(Some(ORIGIN), Some(&token)).await, 503);
}

#[tokio::test]
async fn an_internal_error_shows_a_request_id_and_no_detail() {
    // The fake executor does not implement GetQueue: the web sees a fault it
    // cannot explain, and must show the request id, never the detail.
    let h = Harness::start(Limits::default()).await;
    let token = h.fake.session("ann", true);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut ids = Vec::new();
    for (path, html) in [("/api/queue", false), ("/", true)] {
        let res = client
            .get(format!("http://{}{path}", h.addr))
            .header("cookie", format!("__Host-spiderpig={token}"))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 500, "{path}");
        let body = res.text().await.expect("body");
        let at = body
            .find("internal error (request id ")
            .unwrap_or_else(|| panic!("{path}: no request id in {body}"));
        let id: String = body[at + "internal error (request id ".len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        assert_eq!(id.len(), 12, "{path}: {id}");
        assert!(!body.contains("unimplemented"), "{path}: {body}");
        if html {
            assert!(body.contains("Something went wrong"), "{path}: {body}");
        } else {
            let v: serde_json::Value = serde_json::from_str(&body).expect("json");
            assert_eq!(v["error"], "internal", "{path}");
        }
        ids.push(id);
    }
    assert_ne!(ids[0], ids[1], "each request has its own id");
}

/// A session that ended while the executor was away (its end was never on
/// the shared stream) is found when that stream reopens: the web asks once
/// per held session.
#[tokio::test]
async fn ws_a_session_ended_while_the_feed_was_down_is_closed_on_reconnect() {
    let h = Harness::start(Limits::default()).await;
    // ann's tab first: the shared stream is opened with ann's session.
    let mut ann = h.connect(&h.fake.session("ann", true)).await;
    next_of(&mut ann, "queue").await;
    let bob_token = h.fake.session("bob", true);
    let mut bob = h.connect(&bob_token).await;
    next_of(&mut bob, "queue").await;
    h.fake.stop();
    assert_eq!(next_of(&mut bob, "executor").await["up"], false);
    h.fake.revoke(&bob_token, "logged out by an admin", true);
    h.fake.start();
    assert_eq!(
        next_of(&mut bob, "revoked").await["reason"],
        "the session has ended"
    );
    assert_eq!(close_code(&mut bob).await, 4001);
    // ann's tab is back and untouched.
    assert_eq!(next_of(&mut ann, "executor").await["up"], false);
    assert_eq!(next_of(&mut ann, "executor").await["up"], true);
    send_text(&mut ann, r#"{"type":"ping"}"#).await;
    next_of(&mut ann, "heartbeat").await;
}
