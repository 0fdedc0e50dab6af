//! A valid file parses; every bad value stops the start with an error that
//! names its key.

use super::*;

/// The shipped example, which must always parse.
const EXAMPLE: &str = include_str!("../../../docs/examples/executor.toml");

/// The smallest valid file: every required key, nothing else.
pub(crate) const MINIMAL: &str = r#"
[sockets]
executor = "/run/spiderpig/executor.sock"
admin = "/run/spiderpig/admin.sock"
web_uid = 998
admin_group = "spiderpig-admin"

[store]
state_dir = "/var/lib/spiderpig"

[scap]
path = "/usr/bin/scap"
working_dir = "/srv/mediawiki-staging"
home = "/var/lib/spiderpig/home"

[oidc]
issuer = "https://idp.wikimedia.org/oidc"
client_id = "spiderpig"
client_secret_file = "/etc/spiderpig/oidc-client-secret"
redirect_url = "https://deploy.wikimedia.org/oidc/callback"

[roles]
deployer = ["deployers"]
admin = ["admins"]
"#;

/// `MINIMAL` with `from` replaced by `to` (which must occur exactly once).
fn with(from: &str, to: &str) -> String {
    assert_eq!(MINIMAL.matches(from).count(), 1, "{from:?} must occur once");
    MINIMAL.replacen(from, to, 1)
}

/// `MINIMAL` with `extra` appended (a new section or keys of the last one).
fn plus(extra: &str) -> String {
    format!("{MINIMAL}\n{extra}\n")
}

#[test]
fn the_minimal_file_parses_with_the_documented_defaults() {
    let c = Config::parse(MINIMAL).expect("minimal config");
    assert_eq!(c.sockets.executor_socket_group, None);
    assert_eq!(c.store.log_retention_days, 90);
    assert_eq!(c.store.audit_retention_days, 400);
    assert_eq!(c.scap.path_env, "/usr/local/bin:/usr/bin:/bin");
    assert_eq!(c.scap.lang, "C.UTF-8");
    assert_eq!(c.scap.ssh_auth_sock, None);
    assert_eq!(c.oidc.groups_claim, "groups");
    assert_eq!(c.oidc.username_claim, "preferred_username");
    assert_eq!(c.oidc.scopes, ["profile", "groups"]);
    assert_eq!(c.oidc.clock_skew_secs, 60);
    let t = &c.timeouts;
    assert_eq!(
        (
            t.ready_secs,
            t.prompt_secs,
            t.job_secs,
            t.login_secs,
            t.grpc_request_secs
        ),
        (600, 0, 7200, 600, 30)
    );
    assert_eq!(
        (t.session_idle_secs, t.session_absolute_secs),
        (3600, 43_200)
    );
    let l = &c.limits;
    assert_eq!(
        (
            l.queued_jobs_per_user,
            l.grpc_message_bytes,
            l.max_connections
        ),
        (3, 1024 * 1024, 256)
    );
    assert_eq!((l.watch_buffer, l.spent_logins), (1024, 10_000));
    assert!(c.redaction.patterns.is_empty());
    assert_eq!(
        c.database_path(),
        PathBuf::from("/var/lib/spiderpig/spiderpig.redb")
    );
}

#[test]
fn the_shipped_example_parses() {
    let c = Config::parse(EXAMPLE).unwrap_or_else(|e| panic!("docs/examples/executor.toml: {e}"));
    assert_eq!(c.oidc.issuer, "https://idp.wikimedia.org/oidc");
    assert_eq!(
        c.oidc.redirect_url,
        "https://deploy.wikimedia.org/oidc/callback"
    );
    assert_eq!(c.sockets.admin, PathBuf::from("/run/spiderpig/admin.sock"));
    assert_eq!(c.store.state_dir, PathBuf::from("/var/lib/spiderpig"));
    assert!(c.oidc.client_secret_file.starts_with("/etc/spiderpig"));
    let roles = c.role_table();
    assert_eq!(
        roles.get("deployers"),
        Some(&spiderpig_policy::job::Role::Deployer)
    );
    assert_eq!(
        roles.get("admins"),
        Some(&spiderpig_policy::job::Role::Admin)
    );
}

/// Every key of the example has its entry in docs/CONFIG.md.
#[test]
fn every_example_key_is_documented() {
    let doc = include_str!("../../../docs/CONFIG.md");
    let example: toml::Table = toml::from_str(EXAMPLE).unwrap();
    for (section, keys) in &example {
        assert!(
            doc.contains(&format!("### `[{section}]`")),
            "[{section}] undocumented"
        );
        let keys = keys.as_table().expect("sections only at the top level");
        for key in keys.keys() {
            assert!(
                doc.contains(&format!("| `{key}` |")),
                "{section}.{key} undocumented"
            );
        }
    }
}

#[test]
fn http_is_accepted_only_on_loopback() {
    for issuer in [
        "http://127.0.0.1:8080/oidc",
        "http://localhost:3000",
        "http://[::1]:9000",
    ] {
        let text = with("https://idp.wikimedia.org/oidc", issuer);
        assert!(Config::parse(&text).is_ok(), "{issuer} refused");
    }
}

#[test]
fn a_group_in_both_roles_is_admin() {
    let c = Config::parse(&with(
        r#"deployer = ["deployers"]"#,
        r#"deployer = ["admins"]"#,
    ))
    .unwrap();
    assert_eq!(
        c.role_table().get("admins"),
        Some(&spiderpig_policy::job::Role::Admin)
    );
}

/// Bad values found by the checks after parsing: the error's key is exact.
#[test]
fn each_bad_value_is_refused_naming_its_key() {
    const SCAP: &str = r#"path = "/usr/bin/scap""#;
    const ADMIN: &str = r#"admin = "/run/spiderpig/admin.sock""#;
    const STATE: &str = r#"state_dir = "/var/lib/spiderpig""#;
    const ISSUER: &str = "https://idp.wikimedia.org/oidc";
    const REDIRECT: &str = "https://deploy.wikimedia.org/oidc/callback";
    const ROLES: &str = "deployer = [\"deployers\"]\nadmin = [\"admins\"]";
    #[rustfmt::skip]
    let cases: Vec<(&str, String, &str)> = vec![
        ("relative scap", with(SCAP, r#"path = "usr/bin/scap""#), "scap.path"),
        ("dot-dot in scap", with(SCAP, r#"path = "/usr/bin/../local/scap""#), "scap.path"),
        ("scap is a directory", with(SCAP, r#"path = "/usr/bin/""#), "scap.path"),
        ("relative working dir", with(r#""/srv/mediawiki-staging""#, r#""srv""#), "scap.working_dir"),
        ("relative executor socket", with(r#""/run/spiderpig/executor.sock""#, r#""e.sock""#), "sockets.executor"),
        ("relative admin socket", with(ADMIN, r#"admin = "admin.sock""#), "sockets.admin"),
        ("same socket twice", with(ADMIN, r#"admin = "/run/spiderpig/executor.sock""#), "sockets.admin"),
        ("relative state dir", with(STATE, r#"state_dir = "state""#), "store.state_dir"),
        ("relative secret file", with(r#""/etc/spiderpig/oidc-client-secret""#, r#""secret""#), "oidc.client_secret_file"),
        ("http issuer off loopback", with(ISSUER, "http://idp.wikimedia.org/oidc"), "oidc.issuer"),
        ("http issuer on a lookalike host", with(ISSUER, "http://localhost.evil.example/oidc"), "oidc.issuer"),
        ("issuer not a URL", with(ISSUER, "idp.wikimedia.org"), "oidc.issuer"),
        ("http redirect off loopback", with(REDIRECT, "http://deploy.wikimedia.org/cb"), "oidc.redirect_url"),
        ("empty client_id", with(r#"client_id = "spiderpig""#, r#"client_id = "  ""#), "oidc.client_id"),
        ("no roles", with(ROLES, "deployer = []"), "roles"),
        ("zero ready", plus("[timeouts]\nready_secs = 0"), "timeouts.ready_secs"),
        ("zero job", plus("[timeouts]\njob_secs = 0"), "timeouts.job_secs"),
        ("zero idle", plus("[timeouts]\nsession_idle_secs = 0"), "timeouts.session_idle_secs"),
        ("zero absolute", plus("[timeouts]\nsession_absolute_secs = 0"), "timeouts.session_absolute_secs"),
        ("zero login", plus("[timeouts]\nlogin_secs = 0"), "timeouts.login_secs"),
        ("zero grpc", plus("[timeouts]\ngrpc_request_secs = 0"), "timeouts.grpc_request_secs"),
        (
            "idle longer than absolute",
            plus("[timeouts]\nsession_idle_secs = 7200\nsession_absolute_secs = 3600"),
            "timeouts.session_idle_secs",
        ),
        ("zero queued jobs", plus("[limits]\nqueued_jobs_per_user = 0"), "limits.queued_jobs_per_user"),
        ("grpc message too small", plus("[limits]\ngrpc_message_bytes = 65535"), "limits.grpc_message_bytes"),
        ("grpc message too large", plus("[limits]\ngrpc_message_bytes = 16777217"), "limits.grpc_message_bytes"),
        ("zero connections", plus("[limits]\nmax_connections = 0"), "limits"),
        ("tiny watch buffer", plus("[limits]\nwatch_buffer = 15"), "limits"),
        ("zero spent logins", plus("[limits]\nspent_logins = 0"), "limits"),
        ("zero spent logins, old name", plus("[limits]\npending_logins = 0"), "limits"),
        ("zero retention", with(STATE, &format!("{STATE}\nlog_retention_days = 0")), "store.log_retention_days"),
        ("audit retention under a month", with(STATE, &format!("{STATE}\naudit_retention_days = 29")), "store.audit_retention_days"),
        ("unbalanced regex", plus("[redaction]\npatterns = [\"(\"]"), "redaction.patterns"),
        ("empty regex", plus("[redaction]\npatterns = [\"/srv/patches/\", \"\"]"), "redaction.patterns"),
    ];
    for (name, text, key) in cases {
        match Config::parse(&text) {
            Ok(_) => panic!("{name}: accepted"),
            Err(ExecutorError::BadConfig { key: got, reason }) => {
                assert_eq!(got, key, "{name}: {reason}");
                assert!(!reason.is_empty(), "{name}");
            }
            Err(other) => panic!("{name}: not a BadConfig error: {other}"),
        }
    }
}

/// Mistakes that TOML decoding catches: the message names the key.
#[test]
fn unknown_and_missing_keys_are_named() {
    assert_each_names_its_key(vec![
        (
            "unknown top-level key",
            format!("colour = true\n{MINIMAL}"),
            "colour",
        ),
        ("unknown key in roles", plus("colour = true"), "colour"),
        ("unknown section", plus("[extras]\nx = 1"), "extras"),
        (
            "unknown key in a section",
            with("web_uid = 998", "web_uid = 998\nweb_gid = 998"),
            "web_gid",
        ),
        (
            "misspelt key",
            plus("[timeouts]\nready_sec = 60"),
            "ready_sec",
        ),
        (
            "misspelt section",
            MINIMAL.replace("[oidc]", "[odic]"),
            "odic",
        ),
        (
            "missing section",
            with(
                "[roles]\ndeployer = [\"deployers\"]\nadmin = [\"admins\"]\n",
                "",
            ),
            "roles",
        ),
        ("missing key", with("web_uid = 998\n", ""), "web_uid"),
        ("empty file", String::new(), "sockets"),
    ]);
}

/// A value of the wrong type must name its key too. config.rs reports the
/// text under the TOML error's span, which for a type error is the value
/// (`configuration key `"www-data"`: invalid type ...`), not the key.
#[test]
fn mistyped_values_are_named_by_their_key() {
    assert_each_names_its_key(vec![
        (
            "string for a number",
            with("web_uid = 998", "web_uid = \"www-data\""),
            "web_uid",
        ),
        (
            "negative number",
            plus("[timeouts]\njob_secs = -1"),
            "job_secs",
        ),
        (
            "string for a list",
            plus("[redaction]\npatterns = \"x\""),
            "patterns",
        ),
    ]);
}

fn assert_each_names_its_key(cases: Vec<(&str, String, &str)>) {
    for (name, text, key) in cases {
        let err = match Config::parse(&text) {
            Ok(_) => panic!("{name}: accepted"),
            Err(e) => e,
        };
        let message = err.to_string();
        assert!(
            matches!(err, ExecutorError::BadConfig { .. }),
            "{name}: {message}"
        );
        assert!(
            message.contains(key),
            "{name}: {message:?} does not name {key}"
        );
    }
}

#[test]
fn a_file_that_cannot_be_read_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let err = Config::load(&dir.path().join("missing.toml")).unwrap_err();
    assert!(err.to_string().contains("cannot read"), "{err}");
    let file = dir.path().join("executor.toml");
    std::fs::write(&file, EXAMPLE).unwrap();
    assert!(Config::load(&file).is_ok());
}

/// The lines of the security review (F4) are hidden under the default
/// configuration, under the shipped example, and under a file whose own
/// patterns (even none) would miss them: configuration adds patterns, it
/// never replaces the default.
#[test]
fn the_default_pattern_applies_whatever_the_file_says() {
    let lines = [
        "cd /srv//patches/x",
        "cat /srv/./patches/x",
        "ls /srv/patches",
        "(/srv/patches)",
        "fatal: cannot chdir to /srv/patches: No such file or directory",
    ];
    let files = [
        MINIMAL.to_owned(),
        EXAMPLE.to_owned(),
        plus("[redaction]\npatterns = []"),
        plus("[redaction]\npatterns = ['nothing-like-it']"),
    ];
    for file in &files {
        let patterns = Config::parse(file)
            .expect("config")
            .redaction_patterns()
            .expect("patterns");
        assert_eq!(
            patterns.patterns()[0],
            spiderpig_policy::redact::DEFAULT_PATTERN
        );
        for line in lines {
            assert!(patterns.is_sensitive(line), "{line:?}");
        }
        assert!(!patterns.is_sensitive("ls /srv/mediawiki-staging"));
    }
    // What ships by default is exactly what the policy tests and the fuzz
    // target check.
    let shipped = Config::parse(MINIMAL)
        .unwrap()
        .redaction_patterns()
        .unwrap();
    assert_eq!(
        shipped.patterns(),
        RedactionPatterns::default_patterns().patterns()
    );
}
