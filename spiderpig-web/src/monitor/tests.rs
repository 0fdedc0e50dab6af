//! The poller against a closed port and an injected active job (the real
//! Prometheus is in `tests/prometheus.rs`).

use super::*;
use serde_json::Value;

fn frame(m: &Monitor) -> Value {
    serde_json::from_str(m.latest().expect("a frame").as_str()).expect("JSON")
}

fn monitor(url: Option<&str>) -> Monitor {
    let config = Monitoring {
        prometheus_url: url.map(str::to_string),
        ..Monitoring::default()
    };
    Monitor::new(config, reqwest::Client::new(), Arc::new(|| 0))
}

#[test]
fn without_a_url_every_panel_says_not_configured() {
    let f = frame(&monitor(None));
    assert_eq!(f["type"], "metrics");
    assert_eq!(f["configured"], false);
    assert_eq!(f["panels"][0]["title"], "MediaWiki errors");
    assert_eq!(f["panels"][0]["error"], NOT_CONFIGURED);
    assert_eq!(f["spike"], Value::Null);
}

#[tokio::test]
async fn a_closed_port_is_said_plainly() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let m = monitor(Some(&format!("http://127.0.0.1:{port}")));
    let before = frame(&m);
    assert_eq!(before["panels"][0]["error"], Value::Null, "not asked yet");
    m.poll_once(1_700_000_000_000).await;
    let f = frame(&m);
    assert_eq!(f["panels"][0]["error"], prom::CANNOT_CONNECT);
    assert_eq!(f["panels"][0]["points"], serde_json::json!([]));
    assert_eq!(f["at_ms"], 1_700_000_000_000_i64);
}

/// A server that takes the connection and closes it without answering (as a
/// stopped server does to a pooled connection) reads the same as a closed
/// port, on the first request and on the next.
#[tokio::test]
async fn a_connection_closed_before_the_answer_is_said_like_a_closed_port() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            // Read the request head, then hang up without a byte of answer.
            let mut buf = [0u8; 1024];
            let _ = socket.read(&mut buf).await;
        }
    });
    let m = monitor(Some(&format!("http://127.0.0.1:{port}")));
    for at in [1_700_000_000_000_i64, 1_700_000_001_000] {
        m.poll_once(at).await;
        let f = frame(&m);
        assert_eq!(f["panels"][0]["error"], prom::CANNOT_CONNECT, "{f}");
        assert_eq!(f["panels"][0]["points"], serde_json::json!([]));
        assert_eq!(f["spike"], Value::Null);
    }
    server.abort();
}

#[test]
fn the_active_job_follows_queue_and_job_events() {
    use pb::event::Kind;
    let m = monitor(None);
    let job = |state: pb::JobState| pb::Job {
        id: 7,
        owner: "ann".into(),
        state: state as i32,
        started_at_ms: 5_000,
        stage_marks: vec![pb::StageMark {
            stage: pb::Stage::Canaries as i32,
            at_ms: 6_000,
        }],
        ..Default::default()
    };
    let ev = |k| pb::Event { kind: Some(k) };
    m.see_event(&ev(Kind::Queue(pb::QueueChanged {
        queue: Some(pb::QueueResponse {
            active: Some(job(pb::JobState::Running)),
            ..Default::default()
        }),
    })));
    let f = frame(&m);
    assert_eq!(f["active"]["job"], 7);
    assert_eq!(f["active"]["started_at_ms"], 5_000);
    assert_eq!(f["active"]["stage_marks"][0]["stage"], "canaries");
    // Another job's events do not matter; this one's end does.
    let mut other = job(pb::JobState::Done);
    other.id = 8;
    m.see_event(&ev(Kind::Job(pb::JobChanged { job: Some(other) })));
    assert_eq!(frame(&m)["active"]["job"], 7);
    m.see_event(&ev(Kind::Job(pb::JobChanged {
        job: Some(job(pb::JobState::Done)),
    })));
    assert_eq!(frame(&m)["active"], Value::Null);
}

/// The monitor follows the policy's lock rule: an interrupted job still
/// holds the lock (a person must finish it), so it stays the active job;
/// every state that frees the lock ends it.
#[test]
fn an_interrupted_job_stays_active_and_every_freeing_state_ends_it() {
    use pb::event::Kind;
    use spiderpig_policy::JobState;
    let ev = |k| pb::Event { kind: Some(k) };
    for state in JobState::ALL {
        let m = monitor(None);
        let job = |state: JobState| pb::Job {
            id: 7,
            owner: "ann".into(),
            state: pb::JobState::from(state) as i32,
            ..Default::default()
        };
        m.see_event(&ev(Kind::Queue(pb::QueueChanged {
            queue: Some(pb::QueueResponse {
                active: Some(job(JobState::Running)),
                ..Default::default()
            }),
        })));
        m.see_event(&ev(Kind::Job(pb::JobChanged {
            job: Some(job(state)),
        })));
        let active = frame(&m)["active"]["job"] == 7;
        assert_eq!(active, state.holds_lock(), "{state}");
    }
    let m = monitor(None);
    m.set_active(Some(ActiveJob::from_job(&pb::Job {
        id: 7,
        ..Default::default()
    })));
    m.see_event(&ev(Kind::Job(pb::JobChanged {
        job: Some(pb::Job {
            id: 7,
            state: pb::JobState::Interrupted as i32,
            ..Default::default()
        }),
    })));
    assert_eq!(frame(&m)["active"]["job"], 7, "interrupted holds the lock");
}

#[test]
fn the_range_covers_the_baseline_and_is_aligned() {
    let m = monitor(Some("http://127.0.0.1:9"));
    let now = 10_000_000_017;
    let r = m.range(now);
    assert_eq!(
        (r.end_ms, r.end_ms - r.start_ms),
        (9_999_990_000, 3_600_000)
    );
    m.set_active(Some(ActiveJob {
        id: 1,
        owner: "ann".into(),
        started_at_ms: Some(now - 3_000_000),
        stage_marks: vec![],
    }));
    let r = m.range(now);
    assert_eq!(
        r.start_ms, 9_995_190_000,
        "30 min before the start, on a step"
    );
    assert_eq!(r.start_ms % 30_000, 0);
}
