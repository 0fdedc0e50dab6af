//! A real Prometheus (Debian's `prometheus` package, installed by
//! `scripts/test`) over backfilled data: OpenMetrics text is turned into
//! blocks with `promtool tsdb create-blocks-from openmetrics`, and the server
//! is started on a loopback port over them, with no scrape targets. Used by
//! the monitoring tests and by `demo-prometheus` (the demo's).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long Prometheus may take to open its data and answer `/-/ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A Prometheus child process, killed when dropped.
pub struct Prometheus {
    child: Option<Child>,
    /// `http://127.0.0.1:<port>`
    pub url: String,
    dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

/// `/usr/bin/<name>`, or an error that says what to install.
pub fn tool(name: &str) -> anyhow::Result<PathBuf> {
    let path = PathBuf::from("/usr/bin").join(name);
    anyhow::ensure!(
        path.exists(),
        "{} is missing: install Debian's `prometheus` package (scripts/test does)",
        path.display()
    );
    Ok(path)
}

impl Prometheus {
    /// Backfill `openmetrics` into a temporary directory and serve it.
    pub fn start(openmetrics: &str) -> anyhow::Result<Prometheus> {
        let temp = tempfile::Builder::new()
            .prefix("spiderpig-prom-")
            .tempdir()?;
        let mut p = Prometheus::start_in(temp.path(), openmetrics)?;
        p._temp = Some(temp);
        Ok(p)
    }

    /// Backfill `openmetrics` into `dir` (which must be empty or absent) and
    /// serve it; `dir` is kept.
    pub fn start_in(dir: &Path, openmetrics: &str) -> anyhow::Result<Prometheus> {
        std::fs::create_dir_all(dir)?;
        let data = dir.join("data");
        let input = dir.join("input.om");
        std::fs::write(&input, openmetrics)?;
        let out = Command::new(tool("promtool")?)
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(&input)
            .arg(&data)
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "promtool failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let config = dir.join("prometheus.yml");
        std::fs::write(&config, "global:\n  scrape_interval: 1h\n")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = std::fs::File::create(dir.join("prometheus.log"))?;
        let child = Command::new(tool("prometheus")?)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg("--storage.tsdb.retention.time=100y")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        let p = Prometheus {
            child: Some(child),
            url: format!("http://127.0.0.1:{port}"),
            dir: dir.to_path_buf(),
            _temp: None,
        };
        p.wait_ready()?;
        Ok(p)
    }

    fn wait_ready(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let ready = format!("{}/-/ready", self.url);
        while Instant::now() < deadline {
            if http_ok(&ready) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let log = std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default();
        anyhow::bail!("prometheus did not become ready within {READY_TIMEOUT:?}:\n{log}")
    }

    /// Kill the server (its data stays until drop).
    pub fn stop(&mut self) {
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
/// runtime needed).
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

/// The shape of the demo's MediaWiki errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// About 3 errors a minute throughout.
    Calm,
    /// Calm, then about 45 a minute from [`SPIKE_AGO_SECS`] before `now`.
    Spike,
}

/// How long before "now" the spiky profile's errors rose: well inside the
/// default 30-minute baseline, so a job started now still has a calm median
/// before it.
pub const SPIKE_AGO_SECS: i64 = 10 * 60;
/// Sample spacing of the generated data (Prometheus's usual scrape).
const SAMPLE_SECS: i64 = 30;
/// The data reaches this far back and ahead of "now" (so a long demo keeps
/// a live-looking chart: samples after "now" become visible as time passes).
const BEFORE_SECS: i64 = 6 * 3600;
const AFTER_SECS: i64 = 24 * 3600;

/// OpenMetrics for the counter `mediawiki_errors_total` (the default
/// panel's query takes its rate) around `now_s`, one sample every 30 s, with
/// a little deterministic jitter.
pub fn mediawiki_errors(now_s: i64, profile: Profile) -> String {
    let start = now_s - BEFORE_SECS;
    let end = now_s + AFTER_SECS;
    let rise = now_s - SPIKE_AGO_SECS;
    let mut out = String::from(
        "# HELP mediawiki_errors errors and exceptions logged by MediaWiki (demo data)\n\
         # TYPE mediawiki_errors counter\n",
    );
    let mut total = 0.0_f64;
    let mut t = start;
    let mut i: u64 = 0;
    while t <= end {
        // 2.6 .. 3.4 a minute, from a fixed sequence.
        let calm = 2.6 + (i.wrapping_mul(2_654_435_761) % 9) as f64 / 10.0;
        let per_min = if profile == Profile::Spike && t >= rise {
            calm + 42.0
        } else {
            calm
        };
        total += per_min * SAMPLE_SECS as f64 / 60.0;
        out += &format!("mediawiki_errors_total {total:.1} {t}\n");
        t += SAMPLE_SECS;
        i += 1;
    }
    out + "# EOF\n"
}
