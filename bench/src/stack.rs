//! The system under test: the real `spiderpig-executor` and `spiderpig-web`
//! binaries, with the harness's real OpenID Provider, Gerrit stand-in and
//! fake-scap. [`WebHarness`] writes both configurations and starts them
//! in-process; the bench stops those and starts the binaries on the same
//! files, timing each cold start (process start → its socket accepting).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use spiderpig_tests::executor::HarnessOptions;
use spiderpig_tests::idp::IdpOptions;
use spiderpig_tests::web::{Browser, WebHarness, WebOptions};

/// Password of every bench user: `<login>-pass`.
pub fn password(user: &str) -> String {
    format!("{user}-pass")
}

/// A child process, killed when dropped.
pub struct Proc {
    child: Child,
    pub log: PathBuf,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then wait.
    pub fn terminate(mut self) -> anyhow::Result<()> {
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM)?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How to know a process is ready: its sockets accept connections.
enum Ready<'a> {
    Unix(&'a [&'a Path]),
    Tcp(SocketAddr),
}

/// Start `bin args...`, and time it until `ready` (polled every 0.5 ms).
fn spawn_timed(
    bin: &Path,
    args: &[&str],
    log: &Path,
    ready: Ready,
) -> anyhow::Result<(Proc, Duration)> {
    let err = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    let started = Instant::now();
    let child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .with_context(|| format!("spawn {}", bin.display()))?;
    let mut proc = Proc {
        child,
        log: log.to_path_buf(),
    };
    let deadline = started + Duration::from_secs(20);
    let is_ready = || match &ready {
        Ready::Unix(paths) => paths
            .iter()
            .all(|p| std::os::unix::net::UnixStream::connect(p).is_ok()),
        Ready::Tcp(addr) => std::net::TcpStream::connect(addr).is_ok(),
    };
    loop {
        if is_ready() {
            return Ok((proc, started.elapsed()));
        }
        if let Some(status) = proc.child.try_wait()? {
            bail!(
                "{} exited with {status}: {}",
                bin.display(),
                std::fs::read_to_string(&proc.log).unwrap_or_default()
            );
        }
        if Instant::now() > deadline {
            bail!("{} not ready within 20 s", bin.display());
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}

/// Everything running, and the cold starts measured on the way.
pub struct Stack {
    pub web: WebHarness,
    pub executor: Proc,
    pub web_proc: Proc,
    /// Each cold start of the executor, then of the web.
    pub executor_starts: Vec<Duration>,
    pub web_starts: Vec<Duration>,
    pub tls: Arc<rustls::ClientConfig>,
}

/// What the stack needs to know.
pub struct StackOptions {
    pub users: Vec<String>,
    pub flood_lines: u64,
    pub max_watchers: usize,
    pub queued_per_user: usize,
    /// Cold starts of each binary (the last one stays up).
    pub starts: usize,
}

impl Stack {
    pub async fn start(o: &StackOptions) -> anyhow::Result<Stack> {
        let users: Vec<serde_json::Value> = o
            .users
            .iter()
            .map(|u| serde_json::json!({"login": u, "password": password(u), "groups": ["deployers"]}))
            .collect();
        let opts = WebOptions {
            harness: HarnessOptions {
                idp: IdpOptions {
                    users: Some(serde_json::Value::Array(users)),
                    ..IdpOptions::default()
                },
                queued_per_user: o.queued_per_user,
                fake_scap: serde_json::json!({"pace": "instant", "flood_lines": o.flood_lines}),
                ..HarnessOptions::default()
            },
            // Every watcher, the bench's browsers, and some room; all come
            // from loopback, so the per-client cap is lifted to the total,
            // and the watchers share a few sessions, so is the per-session
            // socket cap.
            limits: vec![
                format!("ws_connections = {}", o.max_watchers + 64),
                format!("ws_per_session = {}", o.max_watchers + 64),
                format!("connections = {}", o.max_watchers + 256),
                format!("connections_per_client = {}", o.max_watchers + 256),
            ],
            ..WebOptions::default()
        };
        let mut web = WebHarness::start(opts).await?;
        // Swap the in-process executor and web for the real binaries.
        web.stop_web(Duration::from_secs(10)).await?;
        web.exec.shutdown().await;
        web.exec.sync_clock();

        let exec_bin = spiderpig_tests::bins::executor();
        let web_bin = spiderpig_tests::bins::binary("spiderpig-web", "spiderpig-web");
        let exec_cfg = web.exec.config_path.display().to_string();
        let web_cfg = web.config_path.display().to_string();
        let sockets = [
            web.exec.config.sockets.executor.as_path(),
            web.exec.config.sockets.admin.as_path(),
        ];
        let exec_log = web.exec.dir.path().join("executor.log");
        let web_log = web.exec.dir.path().join("web.log");
        let mut executor_starts = Vec::new();
        let mut web_starts = Vec::new();
        let (mut executor, mut web_proc) = (None, None);
        for i in 0..o.starts.max(1) {
            let args = ["serve", "--config", exec_cfg.as_str()];
            let (p, t) = spawn_timed(&exec_bin, &args, &exec_log, Ready::Unix(&sockets))?;
            executor_starts.push(t);
            let args = ["serve", "--config", web_cfg.as_str()];
            let (w, t) = spawn_timed(&web_bin, &args, &web_log, Ready::Tcp(web.addr))?;
            web_starts.push(t);
            if i + 1 < o.starts {
                w.terminate()?;
                p.terminate()?;
            } else {
                (executor, web_proc) = (Some(p), Some(w));
            }
        }
        let tls = client_tls(&web.cert_pem)?;
        Ok(Stack {
            web,
            executor: executor.context("no executor")?,
            web_proc: web_proc.context("no web")?,
            executor_starts,
            web_starts,
            tls,
        })
    }

    /// A browser signed in as `user` (IDP forms and TOTP, through the web).
    pub async fn browser(&self, user: &str) -> anyhow::Result<Browser> {
        // The executor binary checks codes against the real clock.
        self.web.exec.sync_clock();
        let mut b = self.web.browser();
        b.login(user, &password(user))
            .await
            .with_context(|| format!("browser login of {user}"))?;
        Ok(b)
    }
}

/// A rustls client trusting only the web's certificate.
fn client_tls(cert_pem: &str) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(cert_pem.as_bytes())?)?;
    Ok(Arc::new(
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}
