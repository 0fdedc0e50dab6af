//! The monitoring poller against the real Prometheus (Debian's `prometheus`
//! package, installed by `scripts/test`; see `spiderpig_tests::prometheus`): OpenMetrics data with a known
//! spike is backfilled with `promtool tsdb create-blocks-from openmetrics`,
//! a Prometheus is started on loopback over it, and the `metrics` frame the
//! web pushes is checked: the points, the latest value, the spike decision
//! (and its absence on calm data), and the plain messages for a bad query
//! and a stopped Prometheus.

use std::sync::Arc;

use serde_json::Value;
use spiderpig_policy::Stage;
use spiderpig_tests::prometheus::Prometheus;
use spiderpig_web::monitor::config::{Monitoring, Panel, SpikeRule};
use spiderpig_web::monitor::{ActiveJob, Monitor};
use spiderpig_web::views::StageMarkView;

const MIN: i64 = 60;
/// The data's first sample (seconds); far in the past, queried with an
/// explicit range; on a whole hour, so the steps fall on the samples.
const T0: i64 = 1_699_999_200;
/// The job started an hour into the data.
const START: i64 = T0 + 60 * MIN;
/// "Now" for the poller: 20 minutes into the job.
const NOW: i64 = START + 20 * MIN;

/// Two gauges, one sample a minute for two hours: calm (3.0, 3.1, 3.2 ...)
/// throughout, and the same but 40 from 8 minutes into the job.
fn openmetrics() -> String {
    let mut out = String::new();
    for (name, spiky) in [("mw_errors_calm", false), ("mw_errors_spiky", true)] {
        out += &format!("# HELP {name} MediaWiki errors per minute (test data)\n");
        out += &format!("# TYPE {name} gauge\n");
        for i in 0..=120 {
            let t = T0 + i * MIN;
            let calm = 3.0 + (i % 3) as f64 / 10.0;
            let v = if spiky && t >= START + 8 * MIN {
                40.0
            } else {
                calm
            };
            out += &format!("{name} {v} {t}\n");
        }
    }
    out + "# EOF\n"
}

fn new_panel(title: &str, query: &str) -> Panel {
    Panel {
        title: title.into(),
        query: query.into(),
        unit: "errors/min".into(),
        spike: Some(SpikeRule::default()),
    }
}

fn monitor(url: &str, panels: Vec<Panel>) -> Monitor {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = Monitoring {
        prometheus_url: Some(url.into()),
        timeout_secs: 5,
        interval_secs: 15,
        window_secs: 3600,
        step_secs: 60,
        panels,
    };
    let m = Monitor::new(config, reqwest::Client::new(), Arc::new(|| NOW * 1000));
    m.set_active(Some(ActiveJob {
        id: 42,
        owner: "ann".into(),
        started_at_ms: Some(START * 1000),
        stage_marks: [
            (Stage::TestServers, 2),
            (Stage::Canaries, 5),
            (Stage::Production, 12),
        ]
        .into_iter()
        .map(|(stage, m)| StageMarkView {
            stage,
            at_ms: (START + m * MIN) * 1000,
        })
        .collect(),
    }));
    m
}

/// Poll once; the frame pushed to subscribers must be the one returned.
async fn poll(m: &Monitor) -> Value {
    let mut rx = m.subscribe();
    rx.borrow_and_update();
    let text = m.poll_once(NOW * 1000).await;
    rx.changed().await.expect("a frame was published");
    let pushed = rx.borrow().clone().expect("a frame");
    assert_eq!(pushed.as_str(), text.as_str());
    serde_json::from_str(text.as_str()).expect("JSON frame")
}

fn points(panel: &Value) -> Vec<(i64, f64)> {
    panel["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|p| (p[0].as_i64().unwrap(), p[1].as_f64().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn real_prometheus_spike_is_found_and_calm_data_is_quiet() {
    let p = Prometheus::start(&openmetrics()).expect("prometheus");

    let f = poll(&monitor(
        &p.url,
        vec![new_panel("MediaWiki errors", "mw_errors_spiky")],
    ))
    .await;
    assert_eq!(f["type"], "metrics");
    let panel = &f["panels"][0];
    assert_eq!(panel["error"], Value::Null, "{f}");
    let pts = points(panel);
    // The window (the last 60 min) already covers the baseline (the 30 min
    // before the start): 40 min before the start up to now, one a minute.
    assert_eq!(pts.len(), 61, "{pts:?}");
    assert_eq!(pts.first().unwrap().0, (START - 40 * MIN) * 1000);
    assert_eq!(pts.last().unwrap(), &(NOW * 1000, 40.0));
    assert_eq!(panel["latest"], 40.0);
    let calm_part = pts.iter().filter(|(t, _)| *t < (START + 8 * MIN) * 1000);
    assert!(calm_part.clone().all(|(_, v)| (3.0..=3.2).contains(v)));
    let spike = &f["spike"];
    assert_eq!(spike["job"], 42, "{f}");
    assert_eq!(spike["owner"], "ann");
    assert_eq!(spike["panel"], "MediaWiki errors");
    assert!(
        (spike["from"].as_f64().unwrap() - 3.1).abs() < 1e-9,
        "{spike}"
    );
    assert_eq!(spike["to"], 40.0);
    assert_eq!(spike["threshold"], 10.0);
    assert_eq!(spike["since_stage"], "canaries");
    assert_eq!(spike["at_ms"], (START + 8 * MIN) * 1000);
    assert_eq!(f["active"]["job"], 42);

    let f = poll(&monitor(&p.url, vec![new_panel("Calm", "mw_errors_calm")])).await;
    assert_eq!(f["panels"][0]["error"], Value::Null, "{f}");
    assert_eq!(points(&f["panels"][0]).len(), 61);
    assert_eq!(f["spike"], Value::Null, "{f}");

    // No job holding the lock: charts, but no spike.
    let m = monitor(
        &p.url,
        vec![new_panel("MediaWiki errors", "mw_errors_spiky")],
    );
    m.set_active(None);
    let f = poll(&m).await;
    assert_eq!(f["panels"][0]["latest"], 40.0);
    assert_eq!(f["spike"], Value::Null);
}

#[tokio::test(flavor = "multi_thread")]
async fn real_prometheus_bad_query_and_stopped_server_are_said_plainly() {
    let mut p = Prometheus::start(&openmetrics()).expect("prometheus");
    let m = monitor(
        &p.url,
        vec![
            new_panel("Good", "mw_errors_spiky"),
            new_panel("Broken", "sum(rate(mw_errors_spiky[5m]"),
        ],
    );
    let f = poll(&m).await;
    assert_eq!(f["panels"][0]["error"], Value::Null, "{f}");
    let error = f["panels"][1]["error"].as_str().expect("an error");
    assert!(error.starts_with("the query failed: "), "{error}");
    assert!(error.contains("parse error"), "{error}");
    assert_eq!(f["panels"][1]["points"], serde_json::json!([]));
    assert_eq!(f["panels"][1]["latest"], Value::Null);
    // A broken panel does not hide another's spike.
    assert_eq!(f["spike"]["panel"], "Good");

    // Stopped: whether a panel's request finds the port closed or a pooled
    // connection the server has just closed, it says the one sentence.
    p.stop();
    let f = poll(&m).await;
    for panel in f["panels"].as_array().unwrap() {
        assert_eq!(
            panel["error"],
            spiderpig_web::monitor::prom::CANNOT_CONNECT,
            "{f}"
        );
        assert_eq!(panel["points"], serde_json::json!([]), "{f}");
    }
    assert_eq!(f["spike"], Value::Null, "no data, no prompt");
}

/// The whole path: a real Prometheus over data around the real "now", the
/// web's poller, and `metrics` frames on a real `/ws` over TLS, before and
/// while a job holds the lock, and after Prometheus stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_frames_reach_a_real_socket_with_the_spike_of_the_running_job() -> anyhow::Result<()>
{
    use spiderpig_tests::prometheus::{Profile, mediawiki_errors};
    use spiderpig_tests::web::{WebHarness, WebOptions, id_of};
    use std::time::Duration;

    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let mut p = Prometheus::start(&mediawiki_errors(now_s, Profile::Spike))?;
    let web = WebHarness::start(WebOptions {
        monitoring: vec![
            format!("prometheus_url = {:?}", p.url),
            "interval_secs = 1".into(),
            "timeout_secs = 1".into(),
        ],
        ..Default::default()
    })
    .await?;
    let mut b = web.browser();
    b.login("deployer1", "deployer1-pass").await?;
    let mut ws = b.ws().await?;
    let is_metrics = |v: &Value| v["type"] == "metrics";

    // No job yet: the default panel (the rate of mediawiki_errors_total), no spike.
    let f = ws.wait_for(Duration::from_secs(30), is_metrics).await?;
    let panel = &f["panels"][0];
    assert_eq!(panel["title"], "MediaWiki errors", "{f}");
    assert_eq!(panel["error"], Value::Null, "{f}");
    assert!(points(panel).len() > 60, "an hour at 30 s steps: {f}");
    let latest = panel["latest"].as_f64().expect("a latest value");
    assert!(
        (40.0..50.0).contains(&latest),
        "about 45 a minute: {latest}"
    );
    assert_eq!(f["spike"], Value::Null, "no job, no prompt: {f}");

    // A job holds the lock: the same frames now carry its spike.
    let id = id_of(&b.submit(serde_json::json!([42])).await?);
    b.act(id, "ready").await?;
    let f = ws
        .wait_for(Duration::from_secs(30), |v| {
            is_metrics(v) && v["spike"]["job"] == id
        })
        .await?;
    let spike = &f["spike"];
    assert_eq!(spike["owner"], "deployer1", "{f}");
    assert_eq!(spike["panel"], "MediaWiki errors");
    let from = spike["from"].as_f64().expect("from");
    assert!(
        (2.5..3.5).contains(&from),
        "the calm median before the job: {spike}"
    );
    assert!(spike["to"].as_f64().expect("to") > 40.0, "{spike}");
    assert_eq!(spike["threshold"], 10.0, "max(floor 10, 3 × ~3): {spike}");
    assert_eq!(
        spike["since_stage"], "before",
        "it rose before the job: {spike}"
    );
    assert_eq!(f["active"]["job"], id);

    // Prometheus gone: the panel says so; the job is untouched.
    p.stop();
    let f = ws
        .wait_for(Duration::from_secs(30), |v| {
            is_metrics(v) && v["panels"][0]["error"].is_string()
        })
        .await?;
    let error = f["panels"][0]["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("Prometheus is unreachable"), "{error}");
    assert_eq!(f["spike"], Value::Null, "no data, no prompt: {f}");
    let (_, job) = b.json(&format!("/api/jobs/{id}")).await?;
    assert_eq!(
        job["state"], "awaiting_input",
        "still at scap's prompt: {job}"
    );
    Ok(())
}
