//! The executor's TOML configuration. Trust: read from a root-owned file at
//! start. A bad value stops the start with a message naming the key; every
//! key is documented in docs/CONFIG.md.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use spiderpig_policy::command::ScapPath;
use spiderpig_policy::config_key::error_key;
use spiderpig_policy::redact::RedactionPatterns;

use crate::error::{ExecutorError, Result};

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub sockets: Sockets,
    pub store: StoreConfig,
    pub scap: ScapConfig,
    pub oidc: OidcConfig,
    pub roles: Roles,
    #[serde(default)]
    pub timeouts: Timeouts,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub redaction: Redaction,
}

/// `[sockets]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sockets {
    /// The `Deployer` socket, for spiderpig-web.
    pub executor: PathBuf,
    /// The `Admin` socket, for `spiderpig-executor ctl`.
    pub admin: PathBuf,
    /// The only uid allowed on `executor`.
    pub web_uid: u32,
    /// Members of this group (and root) may use `admin`.
    pub admin_group: String,
    /// Group owner of the socket files (so the web's group can connect).
    #[serde(default)]
    pub executor_socket_group: Option<String>,
}

/// `[store]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Directory holding `spiderpig.redb`.
    pub state_dir: PathBuf,
    /// Job logs older than this are pruned (summaries and audit stay).
    #[serde(default = "default_retention_days")]
    pub log_retention_days: u32,
    /// Audit records older than this are pruned.
    #[serde(default = "default_audit_retention_days")]
    pub audit_retention_days: u32,
}

/// `[scap]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScapConfig {
    /// Absolute path of scap.
    pub path: String,
    /// scap's working directory.
    pub working_dir: PathBuf,
    /// `HOME` for scap.
    pub home: String,
    /// `PATH` for scap.
    #[serde(default = "default_path_env")]
    pub path_env: String,
    /// `LANG` for scap.
    #[serde(default = "default_lang")]
    pub lang: String,
    /// `SSH_AUTH_SOCK` for scap (the keyholder proxy), if any.
    #[serde(default)]
    pub ssh_auth_sock: Option<String>,
}

/// `[oidc]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The issuer, exactly as the IDP's discovery document states it.
    pub issuer: String,
    pub client_id: String,
    /// A file readable only by the executor holding the client secret.
    pub client_secret_file: PathBuf,
    /// The web's callback URL, registered at the IDP.
    pub redirect_url: String,
    /// The ID token claim holding the group list.
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// The ID token claim holding the username.
    #[serde(default = "default_username_claim")]
    pub username_claim: String,
    /// Scopes to request besides `openid`.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// Allowed clock difference for `iat`/`exp`, seconds.
    #[serde(default = "default_clock_skew")]
    pub clock_skew_secs: u32,
}

/// `[roles]`: group names that grant each role. Anyone else is refused.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Roles {
    #[serde(default)]
    pub deployer: Vec<String>,
    #[serde(default)]
    pub admin: Vec<String>,
}

/// `[timeouts]`, all in seconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Timeouts {
    pub ready_secs: u64,
    pub prompt_secs: u64,
    pub job_secs: u64,
    pub session_idle_secs: u64,
    pub session_absolute_secs: u64,
    pub login_secs: u64,
    pub grpc_request_secs: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            ready_secs: 600,
            prompt_secs: 0,
            job_secs: 7200,
            session_idle_secs: 3600,
            session_absolute_secs: 12 * 3600,
            login_secs: 600,
            grpc_request_secs: 30,
        }
    }
}

/// `[limits]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub queued_jobs_per_user: usize,
    pub grpc_message_bytes: usize,
    pub max_connections: usize,
    pub watch_buffer: usize,
    /// Spent logins remembered so that a replayed callback is refused
    /// (logins in flight live sealed in the browser's cookie and take no
    /// room). `pending_logins`, its name before, is still read.
    #[serde(alias = "pending_logins")]
    pub spent_logins: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            queued_jobs_per_user: 3,
            grpc_message_bytes: 1024 * 1024,
            max_connections: 256,
            watch_buffer: 1024,
            spent_logins: 10_000,
        }
    }
}

/// `[redaction]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redaction {
    /// Regular expressions added to `spiderpig_policy::redact::DEFAULT_PATTERN`
    /// (the security-patch directory), which always applies: a matching line is
    /// hidden even if scap did not mark it sensitive. None by default.
    #[serde(default)]
    pub patterns: Vec<String>,
}

fn default_retention_days() -> u32 {
    90
}
fn default_audit_retention_days() -> u32 {
    400
}
fn default_path_env() -> String {
    "/usr/local/bin:/usr/bin:/bin".into()
}
fn default_lang() -> String {
    "C.UTF-8".into()
}
fn default_groups_claim() -> String {
    "groups".into()
}
fn default_username_claim() -> String {
    "preferred_username".into()
}
fn default_scopes() -> Vec<String> {
    vec!["profile".into(), "groups".into()]
}
fn default_clock_skew() -> u32 {
    60
}

fn bad(key: &str, reason: impl Into<String>) -> ExecutorError {
    ExecutorError::BadConfig {
        key: key.to_string(),
        reason: reason.into(),
    }
}

impl Config {
    /// Read and check a configuration file.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad("(file)", format!("cannot read {}: {e}", path.display())))?;
        Self::parse(&text)
    }

    /// Parse and check configuration text.
    pub fn parse(text: &str) -> Result<Config> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let key = error_key(text, e.span().map(|span| span.start), e.message());
            bad(&key, e.message().to_string())
        })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<()> {
        ScapPath::new(&self.scap.path).map_err(|e| bad("scap.path", e.to_string()))?;
        require_absolute("scap.working_dir", &self.scap.working_dir)?;
        require_absolute("sockets.executor", &self.sockets.executor)?;
        require_absolute("sockets.admin", &self.sockets.admin)?;
        require_absolute("store.state_dir", &self.store.state_dir)?;
        require_absolute("oidc.client_secret_file", &self.oidc.client_secret_file)?;
        if self.sockets.executor == self.sockets.admin {
            return Err(bad("sockets.admin", "must differ from sockets.executor"));
        }
        check_url("oidc.issuer", &self.oidc.issuer)?;
        check_url("oidc.redirect_url", &self.oidc.redirect_url)?;
        if self.oidc.client_id.trim().is_empty() {
            return Err(bad("oidc.client_id", "must not be empty"));
        }
        if self.roles.deployer.is_empty() && self.roles.admin.is_empty() {
            return Err(bad(
                "roles",
                "no group grants any role: nobody could sign in",
            ));
        }
        self.redaction_patterns()?;
        self.check_numbers()
    }

    fn check_numbers(&self) -> Result<()> {
        let t = &self.timeouts;
        for (key, value) in [
            ("timeouts.ready_secs", t.ready_secs),
            ("timeouts.job_secs", t.job_secs),
            ("timeouts.session_idle_secs", t.session_idle_secs),
            ("timeouts.session_absolute_secs", t.session_absolute_secs),
            ("timeouts.login_secs", t.login_secs),
            ("timeouts.grpc_request_secs", t.grpc_request_secs),
        ] {
            if value == 0 {
                return Err(bad(key, "must be greater than 0"));
            }
        }
        if t.session_idle_secs > t.session_absolute_secs {
            return Err(bad(
                "timeouts.session_idle_secs",
                "must not exceed timeouts.session_absolute_secs",
            ));
        }
        let l = &self.limits;
        if l.queued_jobs_per_user == 0 {
            return Err(bad("limits.queued_jobs_per_user", "must be at least 1"));
        }
        if !(64 * 1024..=16 * 1024 * 1024).contains(&l.grpc_message_bytes) {
            return Err(bad(
                "limits.grpc_message_bytes",
                "must be between 64 KiB and 16 MiB",
            ));
        }
        if l.max_connections == 0 || l.watch_buffer < 16 || l.spent_logins == 0 {
            return Err(bad(
                "limits",
                "max_connections and spent_logins must be > 0, watch_buffer ≥ 16",
            ));
        }
        if self.store.log_retention_days == 0 {
            return Err(bad("store.log_retention_days", "must be at least 1"));
        }
        if self.store.audit_retention_days < 30 {
            return Err(bad("store.audit_retention_days", "must be at least 30"));
        }
        Ok(())
    }

    /// The compiled redaction patterns: the default pattern and the configured
    /// ones (fails closed on a bad pattern).
    pub fn redaction_patterns(&self) -> Result<RedactionPatterns> {
        RedactionPatterns::new(&self.redaction.patterns)
            .map_err(|e| bad("redaction.patterns", e.to_string()))
    }

    /// Group → role lookup table.
    pub fn role_table(&self) -> BTreeMap<String, spiderpig_policy::job::Role> {
        use spiderpig_policy::job::Role;
        let mut table = BTreeMap::new();
        for g in &self.roles.deployer {
            table.insert(g.clone(), Role::Deployer);
        }
        // Admin wins when a group is listed twice.
        for g in &self.roles.admin {
            table.insert(g.clone(), Role::Admin);
        }
        table
    }

    /// Path of the redb file.
    pub fn database_path(&self) -> PathBuf {
        self.store.state_dir.join("spiderpig.redb")
    }
}

fn require_absolute(key: &str, path: &Path) -> Result<()> {
    if path.is_absolute() {
        Ok(())
    } else {
        Err(bad(
            key,
            format!("must be an absolute path, got {}", path.display()),
        ))
    }
}

fn check_url(key: &str, value: &str) -> Result<()> {
    let url = url::Url::parse(value).map_err(|e| bad(key, format!("not a URL: {e}")))?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        _ => Err(bad(key, "must be https (http only on loopback, for tests)")),
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

#[cfg(test)]
pub(crate) mod tests;
