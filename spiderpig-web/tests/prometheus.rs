//! The monitoring poller against the real Prometheus (Debian's `prometheus`
//! package, installed by `scripts/test`): OpenMetrics data with a known
//! spike is backfilled with `promtool tsdb create-blocks-from openmetrics`,
//! a Prometheus is started on loopback over it, and the `metrics` frame the
//! web pushes is checked: the points, the latest value, the spike decision
//! (and its absence on calm data), and the plain messages for a bad query
//! and a stopped Prometheus.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
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

/// A Prometheus over backfilled data, killed (by pid) when dropped.
struct Prometheus {
    child: Option<Child>,
    url: String,
    dir: tempfile::TempDir,
}

fn tool(name: &str) -> PathBuf {
    let path = PathBuf::from("/usr/bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: install Debian's `prometheus` package (scripts/test does)",
        path.display()
    );
    path
}

impl Prometheus {
    fn start() -> Prometheus {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let input = dir.path().join("input.om");
        std::fs::write(&input, openmetrics()).expect("write OpenMetrics");
        let out = Command::new(tool("promtool"))
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(&input)
            .arg(&data)
            .output()
            .expect("run promtool");
        assert!(
            out.status.success(),
            "promtool failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, "global:\n  scrape_interval: 1h\n").expect("write config");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log file");
        let child = Command::new(tool("prometheus"))
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg("--storage.tsdb.retention.time=100y")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        let p = Prometheus {
            child: Some(child),
            url: format!("http://127.0.0.1:{port}"),
            dir,
        };
        p.wait_ready();
        p
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let ready = format!("{}/-/ready", self.url);
        while Instant::now() < deadline {
            if http_ok(&ready) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let log =
            std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default();
        panic!("prometheus did not become ready:\n{log}");
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A blocking GET that says whether the answer was 200 (no HTTP client
/// runtime needed before the test's own).
fn http_ok(url: &str) -> bool {
    use std::io::{Read, Write};
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let Ok(mut s) = std::net::TcpStream::connect(host) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!("GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200")
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
        stage_marks: [("test_servers", 2), ("canaries", 5), ("production", 12)]
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
    let p = Prometheus::start();

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
    let mut p = Prometheus::start();
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

    p.stop();
    let f = poll(&m).await;
    for panel in f["panels"].as_array().unwrap() {
        let error = panel["error"].as_str().expect("an error");
        assert!(
            error.starts_with("Prometheus is unreachable (cannot connect"),
            "{error}"
        );
    }
    assert_eq!(f["spike"], Value::Null, "no data, no prompt");
}
