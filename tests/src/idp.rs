//! A real OpenID Provider for tests: starts `tests/idp/idp.mjs` (npm `oidc-provider`) on
//! loopback, and drives its login form like a browser would.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use spiderpig_tests::idp::{TestIdp, login_via_forms};
//! let idp = TestIdp::start(&["http://127.0.0.1:8443/oidc/callback"]).await?;
//! // ... build an authorization URL against `idp.issuer` with PKCE S256, then:
//! let back = login_via_forms("<authorization URL>", "deployer1", "deployer1-pass",
//!                            "http://127.0.0.1:8443/oidc/callback").await?;
//! # Ok(()) }
//! ```
//!
//! Users (see `tests/idp/README.md`): `deployer1`/`deployer1-pass` and
//! `deployer2`/`deployer2-pass` in `["deployers"]`, `admin1`/`admin1-pass` in `["admins"]`,
//! `outsider`/`outsider-pass` in `[]`; `sub` is `sub-<login>`.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// The client id registered at every [`TestIdp`].
pub const CLIENT_ID: &str = "spiderpig-test";

/// How long [`TestIdp::start`] waits for the `READY` line.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Providers started before giving up (see [`TestIdp::start_with`]).
const START_ATTEMPTS: usize = 3;

/// Most of the provider's stderr kept for [`TestIdp::logs`] and error messages.
const LOG_LIMIT: usize = 64 * 1024;

/// Test-only settings of the provider. `Default` gives the normal provider.
#[derive(Debug, Clone, Default)]
pub struct IdpOptions {
    /// Extra audiences added to every ID token (`aud` becomes `[client_id, ...]`, plus `azp`).
    pub extra_audiences: Vec<String>,
    /// ID token lifetime in seconds (default 3600).
    pub id_token_ttl: Option<u32>,
    /// Replace the built-in users: a JSON array of
    /// `{"login", "password", "groups"?, "sub"?, "name"?, "email"?}`.
    pub users: Option<serde_json::Value>,
}

/// A running `oidc-provider` on `127.0.0.1`, killed when dropped.
pub struct TestIdp {
    /// The issuer URL, e.g. `http://127.0.0.1:43567` (no trailing slash).
    pub issuer: String,
    pub client_id: String,
    /// A file (mode 0600) holding the client secret, for the executor's configuration.
    pub client_secret_file: PathBuf,
    child: Child,
    logs: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for TestIdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never prints the secret.
        f.debug_struct("TestIdp")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret_file", &self.client_secret_file)
            .finish_non_exhaustive()
    }
}

impl TestIdp {
    /// Start a provider whose single client may redirect to `redirect_uris`.
    pub async fn start(redirect_uris: &[&str]) -> anyhow::Result<TestIdp> {
        Self::start_with(redirect_uris, IdpOptions::default()).await
    }

    /// Start a provider with test-only settings.
    pub async fn start_with(redirect_uris: &[&str], opts: IdpOptions) -> anyhow::Result<TestIdp> {
        if redirect_uris.is_empty() {
            bail!("TestIdp needs at least one redirect URI");
        }
        let idp_dir = idp_dir();
        ensure_node_modules().await?;

        let dir = tempfile::Builder::new()
            .prefix("spiderpig-idp-")
            .tempdir()?;
        let client_secret_file = dir.path().join("client-secret");
        let secret = random_urlsafe(32)?;
        write_private(&client_secret_file, secret.as_bytes())?;

        let mut cmd = Command::new(node_binary());
        cmd.current_dir(&idp_dir)
            .arg("idp.mjs")
            .args(["--port", "0", "--issuer-host", "127.0.0.1"])
            .args(["--client-id", CLIENT_ID])
            .arg("--client-secret-file")
            .arg(&client_secret_file);
        for uri in redirect_uris {
            cmd.args(["--redirect-uri", uri]);
        }
        for aud in &opts.extra_audiences {
            cmd.args(["--extra-audience", aud]);
        }
        if let Some(ttl) = opts.id_token_ttl {
            cmd.args(["--id-token-ttl", &ttl.to_string()]);
        }
        if let Some(users) = &opts.users {
            let path = dir.path().join("users.json");
            std::fs::write(&path, serde_json::to_vec(users)?)?;
            cmd.arg("--users").arg(path);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);

        // A start takes well under a second (a few on a busy machine). Rarely
        // (about one start in a few hundred, under parallel load) node prints
        // nothing at all; that provider is killed, its state kept for the
        // error message, and a fresh one started.
        let mut failures = Vec::new();
        let (child, logs, mut stdout, issuer) = loop {
            match launch(&mut cmd, &idp_dir).await {
                Ok(started) => break started,
                Err(e) if failures.len() + 1 < START_ATTEMPTS => failures.push(format!("{e:#}")),
                Err(e) => {
                    failures.push(format!("{e:#}"));
                    bail!(
                        "test IDP did not start in {START_ATTEMPTS} attempts:\n{}",
                        failures.join("\n---\n")
                    );
                }
            }
        };
        if !failures.is_empty() {
            eprintln!(
                "test IDP: started after {} failed attempt(s):\n{}",
                failures.len(),
                failures.join("\n---\n")
            );
        }
        // Keep draining stdout so the provider never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });

        Ok(TestIdp {
            issuer,
            client_id: CLIENT_ID.to_owned(),
            client_secret_file,
            child,
            logs,
            _dir: dir,
        })
    }

    /// The client secret (read from [`TestIdp::client_secret_file`]).
    pub fn client_secret(&self) -> String {
        std::fs::read_to_string(&self.client_secret_file)
            .expect("reading the test IDP client secret")
            .trim_end()
            .to_owned()
    }

    /// `<issuer>/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }

    /// What the provider wrote to stderr so far (the last 64 KiB), for debugging a test.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// The provider's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Stop the provider (SIGKILL) and wait for it.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.child.kill().await?;
        Ok(())
    }
}

async fn collect_lines(stream: impl AsyncRead + Unpin, sink: Arc<Mutex<String>>) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let mut buf = sink.lock().unwrap();
        buf.push_str(&line);
        buf.push('\n');
        if buf.len() > LOG_LIMIT {
            let mut cut = buf.len() - LOG_LIMIT;
            while !buf.is_char_boundary(cut) {
                cut += 1;
            }
            buf.drain(..cut);
        }
    }
}

/// `tests/idp`, found from this crate's manifest directory.
pub fn idp_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("idp")
}

fn node_binary() -> String {
    std::env::var("NODE").unwrap_or_else(|_| "node".to_owned())
}

fn node_modules_ready(dir: &Path) -> bool {
    // npm writes node_modules/.package-lock.json last; refresh when package-lock.json is newer.
    let marker = dir.join("node_modules/.package-lock.json");
    let installed = dir.join("node_modules/oidc-provider/package.json");
    let (Ok(marker), Ok(lock)) = (
        std::fs::metadata(&marker),
        std::fs::metadata(dir.join("package-lock.json")),
    ) else {
        return false;
    };
    if !installed.exists() {
        return false;
    }
    match (marker.modified(), lock.modified()) {
        (Ok(m), Ok(l)) => m >= l,
        _ => true,
    }
}

/// Run `npm ci` in `tests/idp` unless `node_modules` is already installed. Once per test
/// process, and under a file lock so parallel test processes do not race.
async fn ensure_node_modules() -> anyhow::Result<()> {
    static DONE: OnceLock<()> = OnceLock::new();
    static LOCAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    if DONE.get().is_some() {
        return Ok(());
    }
    let _local = LOCAL.lock().await;
    if DONE.get().is_some() {
        return Ok(());
    }
    tokio::task::spawn_blocking(|| -> anyhow::Result<()> {
        let dir = idp_dir();
        if node_modules_ready(&dir) {
            return Ok(());
        }
        // The lock lives outside the repository so it is never committed.
        let lock_path = std::env::temp_dir().join(format!(
            "spiderpig-idp-npm-{}.lock",
            data_encoding::HEXLOWER.encode(&simple_hash(dir.as_os_str().as_encoded_bytes()))
        ));
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("opening {}", lock_path.display()))?;
        lock.lock()
            .with_context(|| format!("locking {}", lock_path.display()))?;
        if node_modules_ready(&dir) {
            return Ok(());
        }
        let out =
            std::process::Command::new(std::env::var("NPM").unwrap_or_else(|_| "npm".to_owned()))
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir)
                .stdin(Stdio::null())
                .output()
                .context("running `npm ci` in tests/idp (is Node.js/npm installed?)")?;
        if !out.status.success() {
            bail!(
                "`npm ci` in {} failed ({}):\n{}\n{}",
                dir.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
        // The lock is released when `lock` is dropped.
    })
    .await??;
    let _ = DONE.set(());
    Ok(())
}

/// FNV-1a, only to name the lock file after the directory.
fn simple_hash(bytes: &[u8]) -> [u8; 8] {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h.to_be_bytes()
}

/// `n` random bytes from the kernel, base64url without padding.
pub fn random_urlsafe(n: usize) -> anyhow::Result<String> {
    let mut buf = vec![0u8; n];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(data_encoding::BASE64URL_NOPAD.encode(&buf))
}

fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(contents)?;
    Ok(())
}

/// Drive the provider's login form like a browser: GET `authorize_url` (following redirects
/// by hand with a cookie-keeping client), fill in `login` and `password`, submit, and follow
/// redirects until one points at `redirect_uri_prefix`. Returns that redirect URL (with `code`,
/// `state` and `iss`, or with `error`). A refused password is an `Err` whose message contains
/// the form's error text ("Invalid username or password.").
pub async fn login_via_forms(
    authorize_url: &str,
    user: &str,
    password: &str,
    redirect_uri_prefix: &str,
) -> anyhow::Result<url::Url> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .timeout(Duration::from_secs(10))
        .build()?;
    let form_re = regex::Regex::new(r#"(?is)<form[^>]*\baction="([^"]*)""#).unwrap();
    let error_re = regex::Regex::new(r#"(?is)<p id="error"[^>]*>(.*?)</p>"#).unwrap();

    let mut url = url::Url::parse(authorize_url).context("authorization URL")?;
    let mut submitted = false;
    let mut response = client.get(url.clone()).send().await?;
    for _hop in 0..20 {
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .ok_or_else(|| anyhow!("{status} from {url} without Location"))?
                .to_str()?;
            let next = url.join(location)?;
            if next.as_str().starts_with(redirect_uri_prefix) {
                return Ok(next);
            }
            url = next;
            response = client.get(url.clone()).send().await?;
            continue;
        }
        let body = response.text().await?;
        let has_login_form =
            body.contains(r#"name="login""#) && body.contains(r#"name="password""#);
        if !has_login_form {
            bail!(
                "{status} from {url} is neither a redirect nor a login form:\n{}",
                excerpt(&body)
            );
        }
        if submitted {
            let err = error_re
                .captures(&body)
                .map(|c| html_unescape(c[1].trim()))
                .unwrap_or_else(|| "no error shown".to_owned());
            bail!("login as {user:?} refused ({status}): {err}");
        }
        let action = form_re
            .captures(&body)
            .map(|c| html_unescape(&c[1]))
            .ok_or_else(|| anyhow!("login form at {url} has no action"))?;
        url = url.join(&action)?;
        submitted = true;
        response = client
            .post(url.clone())
            .form(&[("login", user), ("password", password)])
            .send()
            .await?;
    }
    bail!("too many redirects starting at {authorize_url}")
}

fn excerpt(body: &str) -> &str {
    let mut end = body.len().min(2000);
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    &body[..end]
}

fn html_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The kernel's view of a provider that printed nothing: its state, each
/// thread's wait channel and kernel stack (when readable), and its open
/// files; for the error message.
fn explain_stuck(pid: u32) -> String {
    let mut out = String::new();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    out += status
        .lines()
        .filter(|l| l.starts_with("State"))
        .collect::<Vec<_>>()
        .join(" ")
        .as_str();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            let p = t.path();
            let w = std::fs::read_to_string(p.join("wchan")).unwrap_or_default();
            let st = std::fs::read_to_string(p.join("stat")).unwrap_or_default();
            let stack = std::fs::read_to_string(p.join("stack")).unwrap_or_default();
            let comm = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
            out += &format!(
                "\n task {} {} wchan={} stat={} stack={}",
                t.file_name().to_string_lossy(),
                comm.trim(),
                w,
                st.split_whitespace().nth(2).unwrap_or(""),
                stack.replace('\n', " | ")
            );
        }
    }
    if let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for f in fds.flatten() {
            out += &format!(
                "\n fd {} -> {:?}",
                f.file_name().to_string_lossy(),
                std::fs::read_link(f.path()).ok()
            );
        }
    }
    out
}

/// Spawn one provider and wait for its `READY` line.
async fn launch(
    cmd: &mut Command,
    idp_dir: &Path,
) -> anyhow::Result<(
    Child,
    Arc<Mutex<String>>,
    Lines<BufReader<ChildStdout>>,
    String,
)> {
    let mut child = cmd.spawn().with_context(|| {
        format!(
            "spawning {:?} idp.mjs in {}",
            node_binary(),
            idp_dir.display()
        )
    })?;

    let logs = Arc::new(Mutex::new(String::new()));
    let stderr = child.stderr.take().expect("stderr is piped");
    tokio::spawn(collect_lines(stderr, logs.clone()));

    let stdout = child.stdout.take().expect("stdout is piped");
    let mut stdout = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(READY_TIMEOUT, async {
        while let Some(line) = stdout.next_line().await? {
            if let Some(issuer) = line.strip_prefix("READY ") {
                return Ok(Some(issuer.trim().to_owned()));
            }
        }
        Ok::<_, std::io::Error>(None)
    })
    .await;
    let issuer = match ready {
        Ok(Ok(Some(issuer))) => issuer,
        other => {
            let why = match other {
                Err(_) => format!("no READY line within {READY_TIMEOUT:?}"),
                Ok(Err(e)) => format!("reading its stdout: {e}"),
                _ => "it exited before printing READY".to_owned(),
            };
            let stuck = child.id().map(explain_stuck).unwrap_or_default();
            let _ = child.start_kill();
            let status = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
            // Give the stderr reader a moment to catch the last lines.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let logs = logs.lock().unwrap().clone();
            bail!(
                "test IDP did not start: {why} (status {status:?}); its stderr:\n{logs}\n\
                     the process then:\n{stuck}"
            );
        }
    };
    Ok((child, logs, stdout, issuer))
}
