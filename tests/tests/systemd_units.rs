//! The shipped systemd units, sysusers and tmpfiles snippets (SECURITY-TESTS.md
//! case 49): sandboxing scores, `systemd-analyze verify`, and that the snippets
//! create the users, groups and socket directory the configuration names.
//!
//! These tests need `systemd-analyze`, `systemd-sysusers` and
//! `systemd-tmpfiles` (Debian's `systemd` package) and fail, never skip, when
//! they are missing.
//!
//! `verify` checks that ExecStart= names an executable file, and the binaries
//! are not installed under /usr/bin on a build machine. So it runs on copies of
//! the units in a temporary directory whose ExecStart= path (and nothing else)
//! is rewritten to a stub script there; the file names, hence the unit names,
//! stay the same. `verify` exits 0 on an unknown or misspelt setting (it only
//! warns and ignores the line), so the tests also require empty stderr.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const WEB: &str = "spiderpig-web";
const EXECUTOR: &str = "spiderpig-executor";

fn systemd_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../systemd")
}

fn unit_path(name: &str) -> PathBuf {
    systemd_dir().join(format!("{name}.service"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Run a systemd tool; a missing tool is a failure with a clear message.
fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `{program}` ({e}): it comes with Debian's `systemd` package, \
             which scripts/lib/install.sh must install; these tests do not skip"
            )
        })
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The number in "→ Overall exposure level for X.service: 1.3 OK".
fn overall_exposure(stdout: &str) -> f64 {
    let line = stdout
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no \"Overall exposure level\" line in:\n{stdout}"));
    let after = line.rsplit_once(": ").map(|(_, v)| v).unwrap_or("");
    let number = after.split_whitespace().next().unwrap_or("");
    number
        .parse()
        .unwrap_or_else(|e| panic!("cannot read the score in {line:?}: {e}"))
}

/// `systemd-analyze security --offline=true --threshold=N`; N is in tenths
/// (checked on systemd 252: a unit scoring 0.9 fails `--threshold=8` and
/// passes `--threshold=9`). Asserts the exit status, the printed score and
/// that systemd understood every line of the unit.
fn assert_exposure_at_most(name: &str, max: f64) {
    let unit = unit_path(name);
    let tenths = format!("--threshold={}", (max * 10.0).round() as u32);
    let out = run(
        "systemd-analyze",
        &[
            "security",
            "--offline=true",
            &tenths,
            unit.to_str().unwrap(),
        ],
    );
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    let score = overall_exposure(&stdout);
    println!("{name}.service: overall exposure {score}");
    assert!(
        out.status.success(),
        "{name}: systemd-analyze security {tenths} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(score <= max, "{name}: exposure {score} > {max}\n{stdout}");
    assert!(
        stderr.trim().is_empty(),
        "{name}: systemd-analyze complained about the unit:\n{stderr}"
    );
}

#[test]
fn web_unit_exposure_is_at_most_2_0() {
    assert_exposure_at_most(WEB, 2.0);
}

#[test]
fn executor_unit_exposure_is_at_most_3_0() {
    assert_exposure_at_most(EXECUTOR, 3.0);
}

#[test]
fn threshold_is_enforced_by_systemd_analyze() {
    // Guards the tenths reading of --threshold: at 0.0 both units must fail.
    for name in [WEB, EXECUTOR] {
        let unit = unit_path(name);
        let out = run(
            "systemd-analyze",
            &[
                "security",
                "--offline=true",
                "--threshold=0",
                unit.to_str().unwrap(),
            ],
        );
        assert!(!out.status.success(), "{name}: --threshold=0 passed");
    }
}

#[test]
fn units_pass_systemd_analyze_verify() {
    let dir = tempfile::tempdir().unwrap();
    let stub = dir.path().join("stub");
    std::fs::write(&stub, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&stub, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut copies = Vec::new();
    for name in [WEB, EXECUTOR] {
        let shipped = read(&unit_path(name));
        let from = format!("ExecStart=/usr/bin/{name} ");
        assert_eq!(shipped.matches(&from).count(), 1, "{name}: one ExecStart");
        let copy = dir.path().join(format!("{name}.service"));
        let to = format!("ExecStart={} ", stub.display());
        std::fs::write(&copy, shipped.replace(&from, &to)).unwrap();
        copies.push(copy.to_str().unwrap().to_string());
    }
    let mut args = vec!["verify"];
    args.extend(copies.iter().map(String::as_str));
    let out = run("systemd-analyze", &args);
    let stderr = text(&out.stderr);
    assert!(
        out.status.success(),
        "verify failed ({}):\n{stderr}",
        out.status
    );
    assert!(
        stderr.trim().is_empty(),
        "verify printed warnings (unknown or bad settings are only warnings):\n{stderr}"
    );
}

/// Every place where a unit opens something up carries a comment on the line
/// (or lines) just above it saying what it is for (STYLE.md).
#[test]
fn every_opening_in_the_units_says_what_it_is_for() {
    const OPENINGS: [&str; 6] = [
        "ReadWritePaths=",
        "RestrictAddressFamilies=",
        "IPAddressAllow=",
        "SupplementaryGroups=",
        "LoadCredential=",
        "StateDirectory=",
    ];
    for name in [WEB, EXECUTOR] {
        let unit = read(&unit_path(name));
        let lines: Vec<&str> = unit.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if OPENINGS.iter().any(|o| line.starts_with(o)) {
                assert!(
                    i > 0 && lines[i - 1].starts_with('#'),
                    "{name}: `{line}` has no comment above it"
                );
            }
        }
    }
}

/// Users and groups as created by the sysusers snippet in a scratch root.
struct Accounts {
    root: tempfile::TempDir,
}

impl Accounts {
    fn create() -> Accounts {
        let snippet = systemd_dir().join("sysusers.d/spiderpig.conf");
        let snippet = snippet.to_str().unwrap();
        let dry = run("systemd-sysusers", &["--dry-run", snippet]);
        assert!(
            dry.status.success(),
            "sysusers --dry-run: {}",
            text(&dry.stderr)
        );
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("etc")).unwrap();
        let flag = format!("--root={}", root.path().display());
        let out = run("systemd-sysusers", &[&flag, snippet]);
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "systemd-sysusers: {stderr}");
        assert!(
            !stderr.to_lowercase().contains("ignoring") && !stderr.contains("Failed"),
            "systemd-sysusers warned:\n{stderr}"
        );
        Accounts { root }
    }

    /// (name, id, primary gid, home, shell) from the scratch root's passwd.
    fn user(&self, name: &str) -> (u32, u32, String, String) {
        let passwd = read(&self.root.path().join("etc/passwd"));
        let fields: Vec<&str> = passwd
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f[0] == name)
            .unwrap_or_else(|| panic!("no user {name} in:\n{passwd}"));
        (
            fields[2].parse().unwrap(),
            fields[3].parse().unwrap(),
            fields[5].to_string(),
            fields[6].to_string(),
        )
    }

    fn group(&self, name: &str) -> u32 {
        let group = read(&self.root.path().join("etc/group"));
        group
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f[0] == name)
            .unwrap_or_else(|| panic!("no group {name} in:\n{group}"))[2]
            .parse()
            .unwrap()
    }
}

#[test]
fn sysusers_snippet_creates_the_accounts_the_units_and_config_name() {
    let accounts = Accounts::create();
    let (web_uid, web_gid, _, web_shell) = accounts.user("spiderpig-web");
    let (_, exec_gid, exec_home, exec_shell) = accounts.user("spiderpig");
    assert_eq!(web_gid, accounts.group("spiderpig-web"));
    assert_eq!(exec_gid, accounts.group("spiderpig"));
    accounts.group("spiderpig-admin");
    assert_eq!(web_shell, "/usr/sbin/nologin");
    assert_eq!(exec_shell, "/usr/sbin/nologin");
    assert_eq!(exec_home, "/var/lib/spiderpig");
    assert!(web_uid > 0, "a system user, never root");

    let web = read(&unit_path(WEB));
    let executor = read(&unit_path(EXECUTOR));
    assert!(web.contains("\nUser=spiderpig-web\n") && web.contains("\nGroup=spiderpig-web\n"));
    assert!(executor.contains("\nUser=spiderpig\n"));
    assert!(executor.contains("\nSupplementaryGroups=spiderpig-web spiderpig-admin\n"));

    // The example configuration names the same groups and places.
    let example =
        read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples/executor.toml"));
    let config = spiderpig_executor::config::Config::parse(&example).unwrap();
    assert_eq!(config.sockets.admin_group, "spiderpig-admin");
    assert_eq!(
        config.sockets.executor_socket_group.as_deref(),
        Some("spiderpig-web")
    );
    assert_eq!(config.store.state_dir, Path::new("/var/lib/spiderpig"));
    assert!(executor.contains("\nStateDirectory=spiderpig\n"));
    for socket in [&config.sockets.executor, &config.sockets.admin] {
        assert_eq!(socket.parent(), Some(Path::new("/run/spiderpig")));
    }
    assert!(executor.contains("\nReadWritePaths=/run/spiderpig\n"));
    let staging = format!("\nReadWritePaths={}\n", config.scap.working_dir.display());
    assert!(
        executor.contains(&staging),
        "scap's working_dir must be writable"
    );
}

#[test]
fn executor_config_accepts_the_systemd_credential_path() {
    // The unit's LoadCredential=oidc-client-secret:... lands here; the config
    // takes an absolute path and expands neither %d nor $CREDENTIALS_DIRECTORY.
    let credential = "/run/credentials/spiderpig-executor.service/oidc-client-secret";
    let executor = read(&unit_path(EXECUTOR));
    assert!(
        executor
            .contains("\nLoadCredential=oidc-client-secret:/etc/spiderpig/oidc-client-secret\n")
    );
    let example =
        read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples/executor.toml"));
    let line = "client_secret_file = \"/etc/spiderpig/oidc-client-secret\"";
    assert!(example.contains(line));
    let with_credential = example.replace(line, &format!("client_secret_file = \"{credential}\""));
    let config = spiderpig_executor::config::Config::parse(&with_credential).unwrap();
    assert_eq!(config.oidc.client_secret_file, Path::new(credential));
}

/// tmpfiles resolves the ACL's group name with the host's user database, not
/// the `--root` one, so it runs in a private mount namespace where the scratch
/// root's passwd and group are bind-mounted over /etc's (needs root, as the
/// chown does anyway).
#[test]
fn tmpfiles_snippet_makes_a_0750_socket_directory_for_web_and_admins_only() {
    use std::os::unix::fs::MetadataExt;
    let accounts = Accounts::create();
    let root = accounts.root.path();
    let snippet = systemd_dir().join("tmpfiles.d/spiderpig.conf");
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test creates files owned by other users and must run as root (scripts/test does)"
    );
    let script = format!(
        "mount --bind {r}/etc/group /etc/group && mount --bind {r}/etc/passwd /etc/passwd \
         && exec systemd-tmpfiles --create --root={r} {s}",
        r = root.display(),
        s = snippet.display()
    );
    let out = run("unshare", &["--mount", "sh", "-c", &script]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "systemd-tmpfiles: {stderr}");
    assert!(
        stderr.trim().is_empty(),
        "systemd-tmpfiles warned:\n{stderr}"
    );

    let dir = root.join("run/spiderpig");
    let meta = std::fs::metadata(&dir).unwrap();
    assert_eq!(
        meta.mode() & 0o7777,
        0o750,
        "not writable by group or others"
    );
    assert_eq!(
        meta.uid(),
        accounts.user("spiderpig").0,
        "owned by the executor"
    );
    assert_eq!(
        meta.gid(),
        accounts.group("spiderpig-web"),
        "the web may enter"
    );

    // Who may enter (cd) and list (ls) it, tried as each kind of process.
    std::fs::set_permissions(root, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let admin = accounts.group("spiderpig-admin");
    let web = accounts.group("spiderpig-web");
    let stranger = 65534;
    assert_eq!(
        access(&dir, 60001, stranger),
        (false, false),
        "others may not enter"
    );
    assert_eq!(
        access(&dir, 60002, admin),
        (true, false),
        "admins pass through to admin.sock"
    );
    assert_eq!(access(&dir, 60003, web), (true, true), "the web enters");
}

/// (may enter, may list) `dir` for a process with this uid and gid and no
/// supplementary groups.
fn access(dir: &Path, uid: u32, gid: u32) -> (bool, bool) {
    let try_as = |check: &str| {
        let (uid, gid) = (uid.to_string(), gid.to_string());
        let script = format!("{check} {}", dir.display());
        let args = [
            "--reuid",
            &uid,
            "--regid",
            &gid,
            "--clear-groups",
            "sh",
            "-c",
            &script,
        ];
        let out = run("setpriv", &args);
        out.status.success()
    };
    (try_as("cd 2>/dev/null"), try_as("ls >/dev/null 2>&1"))
}
