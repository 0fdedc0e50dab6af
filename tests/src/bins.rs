//! Locating the workspace's binaries from a test of another package.
//! Integration tests run from `target/<profile>/deps/`; the binaries sit one
//! level up. Missing ones are built once (cargo's lock serialises builds).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

static BUILD: Mutex<()> = Mutex::new(());

/// `target/<profile>/` of the running test (in `deps/`), or of a workspace
/// binary such as spiderpig-bench (directly in `target/<profile>/`).
pub fn target_profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe.parent().expect("exe dir");
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().expect("profile dir").to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

/// Path of a workspace binary, built first if it is missing.
pub fn binary(package: &str, name: &str) -> PathBuf {
    let path = target_profile_dir().join(name);
    if path.exists() {
        return path;
    }
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    if !path.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", package, "--bin", name])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build");
        assert!(
            status.success(),
            "cargo build -p {package} --bin {name} failed"
        );
    }
    path
}

pub fn fake_scap() -> PathBuf {
    binary("spiderpig-tests", "fake-scap")
}

pub fn executor() -> PathBuf {
    binary("spiderpig-executor", "spiderpig-executor")
}

/// For the demo's stand-in binaries: print `READY <url>` (the line
/// scripts/demo waits for), then wait for SIGTERM or SIGINT.
pub async fn ready_until_stopped(url: &str) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    println!("READY {url}");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}
