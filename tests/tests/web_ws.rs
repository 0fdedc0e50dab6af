//! The WebSocket `/ws` over the real stack (docs/SECURITY-TESTS.md cases
//! 24–27): who may open one, what a browser may send, what a slow reader
//! costs, and resuming a job's log after a dropped connection.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use spiderpig_tests::web::{
    Frame, WebHarness, WebOptions, WsClient, id_of, refused_error, refused_status, server_nodelay,
    tcp_state,
};
use tokio_tungstenite::tungstenite::Message;

const SECS: fn(u64) -> Duration = Duration::from_secs;

/// spiderpig-web ends a socket one of whose frames could not be written for
/// this long (docs/API.md, "Limits").
const SEND_STALL: Duration = Duration::from_secs(60);

/// Frames are small writes: with Nagle's algorithm each waited for the ACK
/// of the one before (up to 40 ms of the peer's delayed ACK).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_turns_off_nagle_on_every_accepted_connection() -> anyhow::Result<()> {
    let web = WebHarness::start(WebOptions::default()).await?;
    let mut b = web.browser();
    b.login("deployer1", "deployer1-pass").await?;
    let mut ws = b.ws().await?;
    ws.wait_for(SECS(10), |v| v["type"] == "queue").await?;
    assert!(
        server_nodelay(web.addr.port(), ws.local)?,
        "the web's end of a WebSocket has Nagle's algorithm on"
    );
    // A plain HTTPS request's connection too (a raw TCP connection that
    // stays open while it is looked at).
    let tcp = tokio::net::TcpStream::connect(web.addr).await?;
    let client = tcp.local_addr()?;
    let mut found = None;
    for _ in 0..100 {
        match server_nodelay(web.addr.port(), client) {
            Ok(on) => {
                found = Some(on);
                break;
            }
            // Not accepted yet.
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    assert_eq!(
        found,
        Some(true),
        "an accepted HTTPS connection has Nagle on"
    );
    drop(tcp);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_upgrade_from_a_foreign_or_missing_origin_is_refused() -> anyhow::Result<()> {
    let web = WebHarness::start(WebOptions::default()).await?;
    let mut b = web.browser();
    b.login("deployer1", "deployer1-pass").await?;
    let cookie = format!("__Host-spiderpig={}", b.session().unwrap());
    let port = web.addr.port();
    let look_alike = format!("{}.evil.com", web.origin);
    let other_scheme = format!("http://127.0.0.1:{port}");
    let other_port = format!("https://127.0.0.1:{}", port.wrapping_add(1));
    let slash = format!("{}/", web.origin);
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("no Origin", vec![("cookie", &cookie)]),
        ("Origin null", vec![("origin", "null"), ("cookie", &cookie)]),
        (
            "foreign",
            vec![("origin", "https://evil.example"), ("cookie", &cookie)],
        ),
        (
            "look-alike",
            vec![("origin", &look_alike), ("cookie", &cookie)],
        ),
        ("http", vec![("origin", &other_scheme), ("cookie", &cookie)]),
        (
            "other port",
            vec![("origin", &other_port), ("cookie", &cookie)],
        ),
        (
            "trailing slash",
            vec![("origin", &slash), ("cookie", &cookie)],
        ),
        (
            "two Origins",
            vec![
                ("origin", &web.origin),
                ("origin", "https://evil.example"),
                ("cookie", &cookie),
            ],
        ),
        (
            "Sec-Fetch-Site instead",
            vec![("sec-fetch-site", "same-origin"), ("cookie", &cookie)],
        ),
    ];
    for (what, headers) in cases {
        let err = web.ws_raw(&headers, None).await.err();
        let err = err.unwrap_or_else(|| panic!("{what}: upgraded"));
        assert_eq!(refused_status(&err), Some(403), "{what}: {err}");
        assert_eq!(refused_error(&err).as_deref(), Some("cross_site"), "{what}");
    }
    // The same cookie with the right Origin is accepted.
    let mut ok = web
        .ws_raw(&[("origin", &web.origin), ("cookie", &cookie)], None)
        .await?;
    ok.wait_for(SECS(5), |f| f["type"] == "queue").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_upgrade_without_a_session_past_totp_is_refused() -> anyhow::Result<()> {
    let web = WebHarness::start(WebOptions::default()).await?;
    // Signed in at the IDP, TOTP not yet passed.
    let pre = web.browser();
    assert_eq!(pre.oidc("deployer1", "deployer1-pass").await?.status(), 303);
    let pre_cookie = format!("__Host-spiderpig={}", pre.session().unwrap());
    let made_up = format!("__Host-spiderpig={}", "A".repeat(43));
    for (what, cookie, error) in [
        ("no cookie", None, "unauthenticated"),
        ("made-up token", Some(made_up.as_str()), "unauthenticated"),
        (
            "odd characters",
            Some("__Host-spiderpig=a;b"),
            "unauthenticated",
        ),
        (
            "pre-TOTP session",
            Some(pre_cookie.as_str()),
            "totp_required",
        ),
    ] {
        let mut headers = vec![("origin", web.origin.as_str())];
        if let Some(c) = cookie {
            headers.push(("cookie", c));
        }
        let err = web.ws_raw(&headers, None).await.err();
        let err = err.unwrap_or_else(|| panic!("{what}: upgraded"));
        assert_eq!(refused_status(&err), Some(401), "{what}: {err}");
        assert_eq!(refused_error(&err).as_deref(), Some(error), "{what}");
    }
    Ok(())
}

/// Open a socket for a signed-in deployer1 and wait for the first snapshot.
async fn socket(web: &WebHarness) -> anyhow::Result<WsClient> {
    let mut b = web.browser();
    b.login("deployer1", "deployer1-pass").await?;
    let mut ws = b.ws().await?;
    ws.wait_for(SECS(5), |f| f["type"] == "queue").await?;
    Ok(ws)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_binary_and_invalid_frames_close_the_socket() -> anyhow::Result<()> {
    let web = WebHarness::start(WebOptions::default()).await?;
    // Under the limit but four times the web's 4 KiB read buffer: read in
    // chunks and answered.
    let mut ws = socket(&web).await?;
    let padded = format!(
        "{{\"type\":\"ping\",\"pad\":\"{}\"}}",
        "x".repeat(15 * 1024)
    );
    ws.send(Message::text(padded)).await?;
    ws.wait_for(SECS(5), |f| f["type"] == "heartbeat").await?;
    // Over limits.ws_message_bytes (16 KiB): 1009.
    let mut ws = socket(&web).await?;
    let big = format!(
        "{{\"type\":\"watch\",\"job\":1,\"pad\":\"{}\"}}",
        "x".repeat(20 * 1024)
    );
    ws.send(Message::text(big)).await?;
    assert_eq!(ws.close_code(SECS(5)).await?, Some(1009));
    // Binary: 1003.
    let mut ws = socket(&web).await?;
    ws.send(Message::binary(vec![0u8; 16])).await?;
    assert_eq!(ws.close_code(SECS(5)).await?, Some(1003));
    // A watch the executor refuses is answered with an error frame; the
    // socket stays open.
    let mut ws = socket(&web).await?;
    ws.watch(999_999, 0).await?;
    let refused = ws.wait_for(SECS(5), |f| f["type"] == "error").await?;
    assert_eq!(refused["job"], 999_999);
    assert_eq!(refused["error"], "not_found");
    ws.send_json(&json!({"type": "ping"})).await?;
    ws.wait_for(SECS(5), |f| f["type"] == "heartbeat").await?;
    // More than 100 messages in 10 s: 1008.
    for _ in 0..101 {
        ws.send_json(&json!({"type": "ping"})).await?;
    }
    assert_eq!(ws.close_code(SECS(5)).await?, Some(1008));
    // Ten messages that are not ours: 1008; a ping is still answered first.
    let mut ws = socket(&web).await?;
    ws.send_json(&json!({"type": "ping"})).await?;
    ws.wait_for(SECS(5), |f| f["type"] == "heartbeat").await?;
    for bad in 0..10 {
        ws.send(Message::text(format!("not json {bad}"))).await?;
    }
    assert_eq!(ws.close_code(SECS(5)).await?, Some(1008));
    Ok(())
}

/// Seqs of the `log` frames for `job` (asserting each frame is that job's).
fn log_seqs(frame: &Value, job: u64) -> Vec<u64> {
    assert_eq!(frame["job"], job, "{frame}");
    frame["records"]
        .as_array()
        .map(|r| r.iter().filter_map(|r| r["seq"].as_u64()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnected_socket_resumes_the_log_without_gap_or_duplicate() -> anyhow::Result<()> {
    let web = WebHarness::start(WebOptions::default()).await?;
    let mut b = web.browser();
    b.login("deployer1", "deployer1-pass").await?;
    let id = id_of(&b.submit(json!([42])).await?);
    let mut ws = b.ws().await?;
    ws.watch(id, 0).await?;
    b.act(id, "ready").await?;
    // Follow until scap asks its first question.
    let asking = b
        .wait_job(id, "asking", |j| j["state"] == "awaiting_input")
        .await?;
    let upto = asking["last_seq"].as_u64().unwrap();
    let mut seqs = Vec::new();
    while seqs.last().copied().unwrap_or(0) < upto {
        let frame = ws.wait_for(SECS(10), |f| f["type"] == "log").await?;
        seqs.extend(log_seqs(&frame, id));
    }
    // The connection drops; the job goes on meanwhile.
    drop(ws);
    b.answer(id, "Backport the changes?", "y").await?;
    b.answer(id, "Continue with deployment?", "y").await?;
    let done = b.wait_state(id, "awaiting_finish").await?;
    let last = done["last_seq"].as_u64().unwrap();
    assert!(last > upto + 10, "the job wrote little while away");

    // Reconnect and resume from the last seq shown.
    let mut ws = b.ws().await?;
    ws.watch(id, *seqs.last().unwrap()).await?;
    while seqs.last().copied().unwrap_or(0) < last {
        let frame = ws.wait_for(SECS(10), |f| f["type"] == "log").await?;
        seqs.extend(log_seqs(&frame, id));
    }
    let expected: Vec<u64> = (1..=last).collect();
    assert_eq!(seqs, expected, "gap or duplicate across the reconnection");
    // Nothing more arrives for it.
    for f in ws.drain(Duration::from_millis(500)).await {
        assert_ne!(f["type"], "log", "extra log frame {f}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_never_reads_is_told_it_skipped_while_others_get_everything()
-> anyhow::Result<()> {
    // Loopback TCP lets the kernel hold 2–4 MB for a socket that does not
    // read (the sender's buffer grows with the 64 KiB loopback MSS), about
    // 26,000 of these records here; 60,000 overflow it and the ring surely.
    const LINES: u64 = 60_000;
    let mut opts = WebOptions::default();
    opts.harness.fake_scap =
        json!({"pace": "instant", "record_invocations": true, "flood_lines": LINES});
    // A ring with room for a reader that shares two CPUs with the whole
    // stack, but not for one that never reads.
    opts.limits = vec!["ws_queue = 64".into()];
    let web = WebHarness::start(opts).await?;
    let mut b = web.browser();
    b.login("deployer1", "deployer1-pass").await?;
    let id = id_of(&b.submit(json!([1006])).await?);
    let cookie = format!("__Host-spiderpig={}", b.session().unwrap());
    // The slow one never reads. Its kernel receive buffer is fixed (no
    // autotuning up to tcp_rmem's 32 MB) but above the 64 KiB loopback MSS:
    // a buffer smaller than one segment stalls TCP itself (the sender waits
    // for zero-window probes that back off towards minutes) once it reads.
    let mut slow = web
        .ws_raw(
            &[("origin", &web.origin), ("cookie", &cookie)],
            Some(128 * 1024),
        )
        .await?;
    slow.watch(id, 0).await?;
    let mut fast = b.ws().await?;
    fast.watch(id, 0).await?;
    // The reading one follows until it has the job's last record (told
    // once the job is done), within a generous limit.
    let (target_tx, target) = tokio::sync::watch::channel(u64::MAX);
    let reader = tokio::spawn(async move {
        let (mut seqs, mut skipped) = (Vec::new(), false);
        let deadline = Instant::now() + SECS(180);
        while seqs.last().copied().unwrap_or(0) < *target.borrow() && Instant::now() < deadline {
            match fast.next_frame(SECS(1)).await {
                Frame::Json(f) if f["type"] == "log" => seqs.extend(log_seqs(&f, id)),
                Frame::Json(f) if f["type"] == "skipped" => skipped = true,
                Frame::Close(_) | Frame::Ended(_) => break,
                Frame::Json(_) | Frame::Other(_) | Frame::TimedOut => {}
            }
        }
        (seqs, skipped)
    });
    // Let both watches register before the flood starts.
    tokio::time::sleep(Duration::from_millis(300)).await;
    b.act(id, "ready").await?;
    b.answer(id, "Backport the changes?", "y").await?;
    let started = Instant::now();
    // The executor is not held up by the socket that does not read.
    let done = b.wait_state(id, "awaiting_finish").await?;
    eprintln!("flood of {LINES} lines took {:?}", started.elapsed());
    assert_eq!(done["exit_code"], 0);
    let last = done["last_seq"].as_u64().unwrap();
    target_tx.send_replace(last);

    // The one that never read reads now. It was sent a gap-free start of the
    // log, then told where it skipped to, then the feed from there. (A socket
    // that cannot be written for 60 s is dropped instead; only a machine so
    // loaded that the flood took that long may see it.)
    let stalled_for = started.elapsed();
    let mut before = Vec::new();
    let mut others = Vec::new();
    let give_up = Instant::now() + SECS(90);
    let skipped = loop {
        let left = give_up.saturating_duration_since(Instant::now());
        match slow.next_frame(left).await {
            Frame::Json(f) if f["type"] == "skipped" => break Some(f),
            Frame::Json(f) if f["type"] == "log" => before.extend(log_seqs(&f, id)),
            Frame::Json(f) => others.push(f["type"].to_string()),
            Frame::Other(_) => {}
            Frame::Ended(_) | Frame::Close(_) if stalled_for >= SEND_STALL => break None,
            other => panic!(
                "the stalled socket was never told it skipped ({} records, last {:?}, \
                 other frames {others:?}, then {other:?}; TCP: {})",
                before.len(),
                before.last(),
                tcp_state(slow.local.port())
            ),
        }
    };
    let got = before.len() as u64;
    assert_eq!(
        before,
        (1..=got).collect::<Vec<u64>>(),
        "gap before the skip"
    );
    match skipped {
        Some(skipped) => {
            eprintln!("the stalled socket got {got} records, then {skipped}");
            assert_eq!(skipped["job"], id);
            let next = skipped["next_seq"].as_u64().unwrap();
            assert!(next > got + 1, "skipped to {next} after {got}: no gap");
            let after = slow.wait_for(SECS(30), |f| f["type"] == "log").await?;
            assert_eq!(log_seqs(&after, id).first(), Some(&next));
        }
        None => eprintln!("the stalled socket was dropped after {stalled_for:?}"),
    }

    // The one that read got every record, in order, once.
    let (seqs, fast_skipped) = reader.await?;
    assert!(!fast_skipped, "the reading socket was told it skipped");
    let expected: Vec<u64> = (1..=last).collect();
    assert!(
        seqs == expected,
        "the reading socket got {} records, not 1..={last} in order",
        seqs.len()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_or_job_change_is_encoded_once_by_the_executor_however_many_sockets()
-> anyhow::Result<()> {
    const SOCKETS: usize = 12;
    let web = WebHarness::start(WebOptions::default()).await?;
    // Two users, several tabs each (a tab shares its browser's session).
    let mut b1 = web.browser();
    b1.login("deployer1", "deployer1-pass").await?;
    let mut b2 = web.browser();
    b2.login("deployer2", "deployer2-pass").await?;
    let mut sockets = Vec::new();
    for i in 0..SOCKETS {
        let b = if i % 2 == 0 { &b1 } else { &b2 };
        let mut ws = b.ws().await?;
        ws.wait_for(SECS(5), |f| f["type"] == "queue").await?;
        sockets.push(ws);
    }
    let hub = web.exec.engine().hub().clone();
    // One stream carries the global events and every session's end: none
    // per session, none per socket.
    assert_eq!(hub.event_subscribers(), 1);
    assert_eq!(
        hub.watchers(),
        1,
        "the shared feed is the web's only stream"
    );
    let (published, streamed) = (hub.events_published(), hub.events_streamed());
    let id = id_of(&b1.submit(json!([42])).await?);
    let has_it = |f: &serde_json::Value| {
        let q = &f["queue"];
        f["type"] == "queue"
            && (q["active"]["id"] == id
                || q["queued"]
                    .as_array()
                    .is_some_and(|q| q.iter().any(|j| j["id"] == id)))
    };
    for ws in &mut sockets {
        ws.wait_for(SECS(5), has_it).await?;
    }
    // The counters are read a moment apart: wait until they settle.
    let deadline = Instant::now() + SECS(5);
    loop {
        let p = hub.events_published() - published;
        let s = hub.events_streamed() - streamed;
        if p > 0 && s == p {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{p} events published, {s} encodes: not once each"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// F3: 40 lines of 65,000 bytes, then the rest of the run. Every reader
/// pages by bytes as well as records, so each reaches the last record: the
/// socket, `log.txt`, the JSON API and the admin's log (what `ctl log`
/// reads). Before, one page of them passed the 1 MiB message limit and the
/// log stopped there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_lines_of_65000_bytes_reach_every_reader_and_so_does_what_follows()
-> anyhow::Result<()> {
    use spiderpig_proto::v1 as pb;
    let mut opts = WebOptions::default();
    opts.harness.fake_scap =
        json!({"pace": "instant", "flood_lines": 40, "flood_line_bytes": 65_000});
    let web = WebHarness::start(opts).await?;
    let mut b = web.browser();
    b.login("deployer1", "deployer1-pass").await?;
    let id = id_of(&b.submit(json!([1006])).await?);
    let mut ws = b.ws().await?;
    ws.watch(id, 0).await?;
    b.act(id, "ready").await?;
    b.answer(id, "Backport the changes?", "y").await?;
    let done = b.wait_state(id, "awaiting_finish").await?;
    let last = done["last_seq"].as_u64().expect("last_seq");

    let mut seqs = Vec::new();
    while seqs.last().copied().unwrap_or(0) < last {
        let frame = ws.wait_for(SECS(20), |f| f["type"] == "log").await?;
        seqs.extend(log_seqs(&frame, id));
    }
    assert_eq!(seqs, (1..=last).collect::<Vec<_>>(), "the socket");

    let text = b.get(&format!("/jobs/{id}/log.txt")).await?.text().await?;
    let long = text.lines().filter(|l| l.len() > 60_000).count();
    assert_eq!(long, 40, "log.txt has every long line");
    assert!(text.contains("exit 0"), "log.txt reaches the end");

    let (mut after, mut api) = (0, Vec::new());
    loop {
        let (status, page) = b.json(&format!("/api/jobs/{id}/log?after={after}")).await?;
        assert_eq!(status, 200, "{page}");
        let got = page["records"].as_array().cloned().unwrap_or_default();
        api.extend(got.iter().filter_map(|r| r["seq"].as_u64()));
        after = api.last().copied().unwrap_or(after);
        if page["more"] != true {
            break;
        }
    }
    assert_eq!(api, (1..=last).collect::<Vec<_>>(), "the JSON API");

    let mut admin = web.exec.admin();
    let (mut after, mut admin_seqs) = (0, Vec::new());
    loop {
        let page = admin
            .admin_get_log(pb::AdminGetLogRequest {
                job_id: id,
                after_seq: after,
                ..Default::default()
            })
            .await?
            .into_inner();
        admin_seqs.extend(page.records.iter().map(|r| r.seq));
        after = admin_seqs.last().copied().unwrap_or(after);
        if !page.more {
            break;
        }
    }
    assert_eq!(
        admin_seqs,
        (1..=last).collect::<Vec<_>>(),
        "the admin's log"
    );
    Ok(())
}

/// F11: one session (one browser's tabs) gets at most `ws_per_session`
/// sockets; the next is refused plainly, nobody else is affected, and a tab
/// closing makes room again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_session_cannot_take_every_socket() -> anyhow::Result<()> {
    let opts = WebOptions {
        limits: vec!["ws_per_session = 2".into()],
        ..Default::default()
    };
    let web = WebHarness::start(opts).await?;
    let mut ann = web.browser();
    ann.login("deployer1", "deployer1-pass").await?;
    let first = ann.ws().await?;
    let mut second = ann.ws().await?;
    second.wait_for(SECS(5), |f| f["type"] == "queue").await?;
    let cookie = format!("__Host-spiderpig={}", ann.session().expect("session"));
    let headers = [("origin", web.origin.as_str()), ("cookie", cookie.as_str())];
    let err = web
        .ws_raw(&headers, None)
        .await
        .err()
        .expect("a third socket of one session");
    assert_eq!(refused_status(&err), Some(429), "{err}");
    assert_eq!(refused_error(&err).as_deref(), Some("ws_session_full"));
    // Someone else still gets one.
    let mut bob = web.browser();
    bob.login("deployer2", "deployer2-pass").await?;
    let mut theirs = bob.ws().await?;
    theirs.wait_for(SECS(5), |f| f["type"] == "queue").await?;
    // A tab closes: room again (the count goes down when its socket ends).
    drop(first);
    let deadline = Instant::now() + SECS(5);
    loop {
        match web.ws_raw(&headers, None).await {
            Ok(_) => break,
            Err(e) if Instant::now() < deadline && refused_status(&e) == Some(429) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => anyhow::bail!("no room after a tab closed: {e}"),
        }
    }
    Ok(())
}
