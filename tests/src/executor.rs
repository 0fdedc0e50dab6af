//! A complete executor for tests: the real OpenID Provider, fake-scap, a
//! redb file and both Unix sockets in a temp dir. The engine runs in-process
//! with an injected clock ([`Harness::start`]) or as the real binary
//! ([`Harness::spawn_binary`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use spiderpig_client::{RequestContext, Session, unix_channel};
use spiderpig_executor::auth::totp::{TotpSecret, code_at, step_at};
use spiderpig_executor::clock::{Clock, ManualClock, SharedClock};
use spiderpig_executor::config::Config;
use spiderpig_executor::engine::Engine;
use spiderpig_policy::TotpCode;
use spiderpig_proto::v1 as pb;
use spiderpig_proto::v1::admin_client::AdminClient;
use spiderpig_proto::v1::deployer_client::DeployerClient;
use tokio::sync::oneshot;
use tonic::transport::Channel;

use crate::idp::{IdpOptions, TestIdp, login_via_forms};

/// The callback URL the test "web" registers at the IDP.
pub const REDIRECT: &str = "https://deploy.test.example/oidc/callback";

/// Knobs for a harness.
#[derive(Debug, Clone)]
pub struct HarnessOptions {
    pub idp: IdpOptions,
    pub ready_secs: u64,
    pub job_secs: u64,
    pub queued_per_user: usize,
    pub watch_buffer: usize,
    /// Patterns added to the default one (`[redaction] patterns`).
    pub patterns: Vec<String>,
    /// fake-scap's settings file.
    pub fake_scap: serde_json::Value,
    /// The OIDC callback URL: registered at the IDP (`--redirect-uri`) and
    /// the executor's `oidc.redirect_url`. A test with a real web process
    /// sets its own callback here.
    pub redirect_url: String,
}

impl Default for HarnessOptions {
    fn default() -> Self {
        HarnessOptions {
            idp: IdpOptions::default(),
            ready_secs: 600,
            job_secs: 7200,
            queued_per_user: 3,
            watch_buffer: 1024,
            // None added: the harness runs with the default pattern alone,
            // as the executor ships.
            patterns: Vec::new(),
            fake_scap: serde_json::json!({"pace": "instant", "record_invocations": true}),
            redirect_url: REDIRECT.to_string(),
        }
    }
}

/// Everything a test needs.
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub idp: TestIdp,
    pub config_path: PathBuf,
    pub config: Arc<Config>,
    /// fake-scap's HOME (settings, invocation records).
    pub home: PathBuf,
    pub clock: ManualClock,
    pub engine: Option<Arc<Engine>>,
    /// The OIDC callback URL in use (`HarnessOptions::redirect_url`).
    pub redirect_url: String,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

fn toml_str(s: &str) -> String {
    serde_json::to_string(s).expect("string")
}

impl Harness {
    /// Write the configuration; start the IDP. No executor yet.
    pub async fn prepare(opts: HarnessOptions) -> anyhow::Result<Harness> {
        let idp = TestIdp::start_with(&[opts.redirect_url.as_str()], opts.idp.clone()).await?;
        let dir = tempfile::Builder::new()
            .prefix("spiderpig-exec-")
            .tempdir()?;
        let home = dir.path().join("home");
        let staging = dir.path().join("staging");
        let run = dir.path().join("run");
        for d in [&home, &staging, &run] {
            std::fs::create_dir_all(d)?;
        }
        std::fs::write(home.join("fake-scap.json"), opts.fake_scap.to_string())?;
        let patterns: Vec<String> = opts.patterns.iter().map(|p| toml_str(p)).collect();
        let text = format!(
            r#"
[sockets]
executor = {exec}
admin = {admin}
web_uid = 0
admin_group = "root"

[store]
state_dir = {state}

[scap]
path = {scap}
working_dir = {staging}
home = {home}
ssh_auth_sock = {agent}

[oidc]
issuer = {issuer}
client_id = {client}
client_secret_file = {secret}
redirect_url = {redirect}

[roles]
deployer = ["deployers"]
admin = ["admins"]

[timeouts]
ready_secs = {ready}
job_secs = {job}

[limits]
queued_jobs_per_user = {per_user}
watch_buffer = {watch}

[redaction]
patterns = [{patterns}]
"#,
            exec = toml_str(&run.join("executor.sock").display().to_string()),
            admin = toml_str(&run.join("admin.sock").display().to_string()),
            state = toml_str(&dir.path().join("state").display().to_string()),
            scap = toml_str(&crate::bins::fake_scap().display().to_string()),
            staging = toml_str(&staging.display().to_string()),
            home = toml_str(&home.display().to_string()),
            agent = toml_str(&run.join("ssh-agent.sock").display().to_string()),
            issuer = toml_str(&idp.issuer),
            client = toml_str(&idp.client_id),
            secret = toml_str(&idp.client_secret_file.display().to_string()),
            redirect = toml_str(&opts.redirect_url),
            ready = opts.ready_secs,
            job = opts.job_secs,
            per_user = opts.queued_per_user,
            watch = opts.watch_buffer,
            patterns = patterns.join(", "),
        );
        let config_path = dir.path().join("executor.toml");
        std::fs::write(&config_path, &text)?;
        let config = Arc::new(Config::parse(&text)?);
        Ok(Harness {
            clock: ManualClock::new(spiderpig_executor::clock::SystemClock.now_ms()),
            dir,
            idp,
            config_path,
            config,
            home,
            engine: None,
            redirect_url: opts.redirect_url.clone(),
            stop: None,
            server: None,
        })
    }

    /// Start an in-process executor (injected clock) serving both sockets.
    pub async fn start(opts: HarnessOptions) -> anyhow::Result<Harness> {
        let mut h = Self::prepare(opts).await?;
        h.boot().await?;
        Ok(h)
    }

    /// (Re)start the in-process executor on the same state.
    pub async fn boot(&mut self) -> anyhow::Result<()> {
        let clock: SharedClock = Arc::new(self.clock.clone());
        let engine = spiderpig_executor::daemon::build_engine(self.config.clone(), clock).await?;
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let e = engine.clone();
        let server = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stop_rx.await;
            };
            if let Err(err) = spiderpig_executor::daemon::run(e, shutdown).await {
                eprintln!("executor stopped with error: {err}");
            }
        });
        self.engine = Some(engine);
        self.stop = Some(stop_tx);
        self.server = Some(server);
        wait_for_socket(&self.config.sockets.executor).await?;
        wait_for_socket(&self.config.sockets.admin).await?;
        Ok(())
    }

    /// Stop the in-process executor (graceful) and close the store.
    pub async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        self.engine = None;
    }

    pub fn engine(&self) -> &Arc<Engine> {
        self.engine.as_ref().expect("executor running")
    }

    pub fn deployer(&self) -> DeployerClient<Channel> {
        DeployerClient::new(unix_channel(self.config.sockets.executor.clone()))
    }

    /// The typed client spiderpig-web uses, on the executor socket.
    pub fn client(&self) -> spiderpig_client::DeployerClient {
        spiderpig_client::DeployerClient::new(unix_channel(self.config.sockets.executor.clone()))
    }

    pub fn admin(&self) -> AdminClient<Channel> {
        AdminClient::new(unix_channel(self.config.sockets.admin.clone()))
    }

    /// The current TOTP code for a secret at the harness clock, `ahead`
    /// steps in the future (0 = now).
    pub fn totp(&self, secret: &TotpSecret, ahead: u64) -> String {
        code_at(secret, step_at(self.clock.now_ms()) + ahead)
    }

    /// Invocation records written by fake-scap.
    pub fn invocations(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(self.home.join("fake-scap-invocations.jsonl"))
            .unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Sign in over gRPC as the web would: IDP forms, TOTP enrolment (first
    /// time) and verification. Returns the full session token and the secret.
    pub async fn login(&self, user: &str, password: &str) -> anyhow::Result<SignedIn> {
        let mut client = self.client();
        let pre = self.idp_login(&mut client, user, password).await?;
        let secret = if pre.enrolled {
            bail!("{user} is already enrolled: use login_enrolled")
        } else {
            let ctx = RequestContext::default();
            let r = client.enrol_totp(&Session::new(&pre.token), &ctx).await?;
            TotpSecret::from_base32(&r.secret_base32)?
        };
        let token = self.verify(&mut client, &pre.token, &secret).await?;
        Ok(SignedIn {
            token,
            secret,
            username: user.to_string(),
        })
    }

    /// Sign in again for a user who has TOTP already.
    pub async fn login_enrolled(
        &self,
        user: &str,
        password: &str,
        secret: &TotpSecret,
    ) -> anyhow::Result<String> {
        let mut client = self.client();
        let pre = self.idp_login(&mut client, user, password).await?;
        self.verify(&mut client, &pre.token, secret).await
    }

    async fn verify(
        &self,
        client: &mut spiderpig_client::DeployerClient,
        token: &str,
        secret: &TotpSecret,
    ) -> anyhow::Result<String> {
        let code = TotpCode::parse(&self.totp(secret, 0))?;
        let r = client
            .verify_totp(&Session::new(token), &RequestContext::default(), &code)
            .await?;
        Ok(r.session.context("no session")?.token)
    }

    /// The IDP part: BeginLogin, the forms, CompleteLogin.
    pub async fn idp_login(
        &self,
        client: &mut spiderpig_client::DeployerClient,
        user: &str,
        password: &str,
    ) -> anyhow::Result<PreSession> {
        let ctx = RequestContext::default();
        let begin = client.begin_login(&ctx).await?;
        let redirect =
            login_via_forms(&begin.authorize_url, user, password, &self.redirect_url).await?;
        let param = |name: &str| {
            redirect
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.to_string())
                .unwrap_or_default()
        };
        let done = client
            .complete_login(&ctx, &begin.login_binding, &param("code"), &param("state"))
            .await?;
        Ok(PreSession {
            token: done.session.context("no session")?.token,
            enrolled: done.totp_enrolled,
            role: done.role,
        })
    }
}

/// The real `spiderpig-executor serve` binary, for crash tests.
pub struct ExecutorProcess {
    child: std::process::Child,
    pub log: PathBuf,
}

impl ExecutorProcess {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, no warning, and reap it.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for the exit status.
    pub fn terminate(mut self) -> anyhow::Result<std::process::ExitStatus> {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM)?;
        Ok(self.child.wait()?)
    }
}

impl Drop for ExecutorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Harness {
    /// Start the real binary on this harness's configuration and wait until
    /// both sockets accept connections.
    pub async fn spawn_binary(&self) -> anyhow::Result<ExecutorProcess> {
        let log = self.dir.path().join("executor.log");
        let err = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        let child = std::process::Command::new(crate::bins::executor())
            .arg("serve")
            .arg("--config")
            .arg(&self.config_path)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(err)
            .spawn()
            .context("spawn spiderpig-executor")?;
        let process = ExecutorProcess { child, log };
        for path in [&self.config.sockets.executor, &self.config.sockets.admin] {
            wait_for_listener(path)
                .await
                .with_context(|| std::fs::read_to_string(&process.log).unwrap_or_default())?;
        }
        Ok(process)
    }

    /// Move the harness clock to the real time (for the real binary, whose
    /// clock is the system's: TOTP codes must match it).
    pub fn sync_clock(&self) {
        self.clock
            .set_ms(spiderpig_executor::clock::SystemClock.now_ms());
    }
}

/// Wait until a Unix socket accepts connections (a stale file does not).
pub async fn wait_for_listener(path: &Path) -> anyhow::Result<()> {
    for _ in 0..400 {
        if tokio::net::UnixStream::connect(path).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    bail!("nothing listens on {}", path.display())
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A pre-TOTP session.
#[derive(Debug, Clone)]
pub struct PreSession {
    pub token: String,
    pub enrolled: bool,
    pub role: i32,
}

/// A fully signed-in user.
pub struct SignedIn {
    pub token: String,
    pub secret: TotpSecret,
    pub username: String,
}

impl SignedIn {
    pub fn session(&self) -> Option<pb::Session> {
        Some(pb::Session {
            token: self.token.clone(),
        })
    }
}

/// Wait until a socket file exists.
pub async fn wait_for_socket(path: &Path) -> anyhow::Result<()> {
    for _ in 0..200 {
        if path.exists() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    bail!("socket {} did not appear", path.display())
}

/// Poll `f` until it returns `Some`, at most `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, mut f: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = f().await {
            return Ok(v);
        }
        if start.elapsed() > limit {
            bail!("condition not met within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
