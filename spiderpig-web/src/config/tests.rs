//! web.toml: the shipped example parses, mistakes are refused naming their
//! key, and plain HTTP is only ever served on loopback.

use super::*;

const EXAMPLE: &str = include_str!("../../../docs/examples/web.toml");

/// The smallest valid file (behind a terminator).
const MINIMAL: &str = r#"
listen = "127.0.0.1:8080"
public_origin = "https://deploy.example.org"
executor_socket = "/run/spiderpig/executor.sock"
gerrit_url = "https://gerrit.example.org"
"#;

const TLS: &str =
    "\n[tls]\ncert = \"/etc/spiderpig/tls/cert.pem\"\nkey = \"/etc/spiderpig/tls/key.pem\"\n";

fn with(from: &str, to: &str) -> String {
    assert!(MINIMAL.contains(from), "{from}");
    MINIMAL.replace(from, to)
}

fn plus(extra: &str) -> String {
    format!("{MINIMAL}\n{extra}\n")
}

#[test]
fn the_example_parses_and_says_what_it_shows() {
    let c = Config::parse(EXAMPLE).expect("docs/examples/web.toml");
    assert_eq!(c.listen, "127.0.0.1:8080".parse().unwrap());
    assert_eq!(c.public_origin, "https://deploy.wikimedia.org");
    assert_eq!(
        c.executor_socket,
        PathBuf::from("/run/spiderpig/executor.sock")
    );
    assert_eq!(c.gerrit().as_str(), "https://gerrit.wikimedia.org");
    assert_eq!(c.phabricator_url, "https://phabricator.wikimedia.org");
    assert!(c.tls.is_none(), "behind the terminator");
    assert!(c.is_https());
    // The example spells out the defaults.
    let (t, l) = (Timeouts::default(), Limits::default());
    assert_eq!(
        (
            c.timeouts.request_secs,
            c.timeouts.executor_secs,
            c.timeouts.gerrit_secs,
            c.timeouts.shutdown_drain_secs,
            c.timeouts.header_read_secs
        ),
        (
            t.request_secs,
            t.executor_secs,
            t.gerrit_secs,
            t.shutdown_drain_secs,
            t.header_read_secs
        )
    );
    assert_eq!(
        (
            c.limits.body_bytes,
            c.limits.ws_message_bytes,
            c.limits.ws_queue,
            c.limits.ws_connections,
            c.limits.connections,
            c.limits.connections_per_client
        ),
        (
            l.body_bytes,
            l.ws_message_bytes,
            l.ws_queue,
            l.ws_connections,
            l.connections,
            l.connections_per_client
        )
    );
    assert!(c.monitoring.enabled());
}

#[test]
fn the_examples_commented_tls_alternative_parses() {
    // Uncomment the `listen` and `[tls]` lines of "The alternative".
    let start = EXAMPLE.find("# The alternative").expect("the alternative");
    let end = EXAMPLE.find("[timeouts]").expect("[timeouts]");
    let lines: Vec<&str> = EXAMPLE[start..end]
        .lines()
        .filter_map(|l| l.strip_prefix("#   "))
        .filter(|l| !l.starts_with('#'))
        .collect();
    let (listen, tls): (Vec<&str>, Vec<&str>) = lines.iter().partition(|l| l.starts_with("listen"));
    let text = EXAMPLE
        .replace("listen = \"127.0.0.1:8080\"", listen[0])
        .replacen(
            "[timeouts]",
            &format!("{}\n\n[timeouts]", tls.join("\n")),
            1,
        );
    let c = Config::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let tls = c.tls.expect("tls");
    assert_eq!(tls.cert, PathBuf::from("/etc/spiderpig/tls/fullchain.pem"));
    assert_eq!(tls.key, PathBuf::from("/etc/spiderpig/tls/privkey.pem"));
    assert_eq!(c.listen, "[::]:443".parse().unwrap());
}

#[test]
fn the_minimal_file_takes_the_documented_defaults() {
    let c = Config::parse(MINIMAL).unwrap();
    assert_eq!(c.phabricator_url, "https://phabricator.wikimedia.org");
    assert_eq!(c.timeouts.request_secs, 30);
    assert_eq!(c.timeouts.executor_secs, 10);
    assert_eq!(c.timeouts.gerrit_secs, 5);
    assert_eq!(c.timeouts.shutdown_drain_secs, 10);
    assert_eq!(c.limits.body_bytes, 65536);
    assert_eq!(c.limits.ws_message_bytes, 16384);
    assert_eq!(c.limits.ws_queue, 512);
    assert_eq!(c.limits.ws_connections, 1000);
    assert_eq!(c.timeouts.header_read_secs, 10);
    assert_eq!(
        (c.limits.connections, c.limits.connections_per_client),
        (2048, 64)
    );
    assert!(!c.monitoring.enabled());
}

#[test]
fn plain_http_is_refused_off_loopback() {
    for addr in [
        "0.0.0.0:8080",
        "192.0.2.10:80",
        "[::]:8080",
        "[2001:db8::1]:80",
    ] {
        let text = with("127.0.0.1:8080", addr);
        let err = Config::parse(&text).expect_err(addr).to_string();
        assert!(err.contains("`listen`"), "{addr}: {err}");
        assert!(err.contains("loopback"), "{addr}: {err}");
        // With TLS of its own, any address will do.
        let tls = format!("{text}{TLS}");
        assert!(Config::parse(&tls).is_ok(), "{addr} with [tls]");
    }
    for addr in ["127.0.0.1:8080", "127.0.0.53:80", "[::1]:8080"] {
        assert!(
            Config::parse(&with("127.0.0.1:8080", addr)).is_ok(),
            "{addr}"
        );
    }
}

/// Each case must be refused with a message naming `key`.
fn assert_each_names_its_key(cases: &[(&str, String, &str)]) {
    for (what, text, key) in cases {
        let err = match Config::parse(text) {
            Ok(_) => panic!("{what}: accepted"),
            Err(e) => e,
        };
        assert!(matches!(err, WebError::BadConfig { .. }), "{what}: {err}");
        let message = err.to_string();
        assert!(
            message.contains(&format!("`{key}`")),
            "{what}: {message:?} does not name {key}"
        );
    }
}

#[test]
fn unknown_and_missing_keys_are_named() {
    assert_each_names_its_key(&[
        ("misspelt key", with("listen =", "listn ="), "listn"),
        (
            "misspelt key in a section",
            plus("[limits]\nws_queu = 32"),
            "limits.ws_queu",
        ),
        ("misspelt section", plus("[limit]\nws_queue = 32"), "limit"),
        (
            "unknown key in [tls]",
            format!("{MINIMAL}{TLS}chain = \"/x\"\n"),
            "tls.chain",
        ),
        (
            "missing key",
            with("executor_socket = \"/run/spiderpig/executor.sock\"\n", ""),
            "executor_socket",
        ),
        (
            "[tls] without its key",
            plus("[tls]\ncert = \"/etc/c.pem\""),
            "tls.key",
        ),
        ("empty file", String::new(), "listen"),
    ]);
}

#[test]
fn mistyped_values_are_named_by_their_key() {
    assert_each_names_its_key(&[
        (
            "not an address",
            with("127.0.0.1:8080", "localhost"),
            "listen",
        ),
        (
            "number for a string",
            with("\"https://gerrit.example.org\"", "443"),
            "gerrit_url",
        ),
        (
            "string for a number",
            plus("[limits]\nws_queue = \"many\""),
            "limits.ws_queue",
        ),
        (
            "negative time-out",
            plus("[timeouts]\nrequest_secs = -1"),
            "timeouts.request_secs",
        ),
    ]);
}

#[test]
fn bad_values_are_refused_naming_the_key() {
    assert_each_names_its_key(&[
        (
            "origin with a path",
            with("deploy.example.org\"", "deploy.example.org/spiderpig\""),
            "public_origin",
        ),
        (
            "origin with a trailing slash",
            with("deploy.example.org\"", "deploy.example.org/\""),
            "public_origin",
        ),
        (
            "http origin off loopback",
            with("https://deploy", "http://deploy"),
            "public_origin",
        ),
        (
            "relative socket",
            with("/run/spiderpig/executor.sock", "executor.sock"),
            "executor_socket",
        ),
        (
            "Gerrit with a query",
            with("gerrit.example.org\"", "gerrit.example.org/?x=1\""),
            "gerrit_url",
        ),
        (
            "tiny body limit",
            plus("[limits]\nbody_bytes = 100"),
            "limits.body_bytes",
        ),
        (
            "huge WebSocket messages",
            plus("[limits]\nws_message_bytes = 16777216"),
            "limits.ws_message_bytes",
        ),
        ("tiny ring", plus("[limits]\nws_queue = 4"), "limits"),
        (
            "zero time-out",
            plus("[timeouts]\ngerrit_secs = 0"),
            "timeouts",
        ),
    ]);
    // A loopback origin may be plain http (tests, a local demo).
    let local = with("https://deploy.example.org", "http://127.0.0.1:8080");
    assert!(Config::parse(&local).is_ok());
}

#[test]
fn a_file_that_cannot_be_read_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let err = Config::load(&dir.path().join("missing.toml")).unwrap_err();
    assert!(err.to_string().contains("cannot read"), "{err}");
    let file = dir.path().join("web.toml");
    std::fs::write(&file, EXAMPLE).unwrap();
    assert!(Config::load(&file).is_ok());
}
