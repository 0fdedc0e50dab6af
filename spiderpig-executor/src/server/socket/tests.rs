//! `bind`: what it refuses, what it replaces, what it leaves behind.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::bind;
use crate::error::ExecutorError;

fn dir(mode: u32) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(mode)).unwrap();
    let sock = dir.path().join("executor.sock");
    (dir, sock)
}

fn refused(result: crate::Result<tokio::net::UnixListener>) -> String {
    match result {
        Err(ExecutorError::BadConfig { key, reason }) => {
            assert_eq!(key, "sockets");
            reason
        }
        Err(other) => panic!("expected BadConfig, got {other:?}"),
        Ok(_) => panic!("expected a refusal"),
    }
}

/// Changing owners needs root; the suite runs as root, elsewhere skip.
fn not_root() -> bool {
    let skip = !nix::unistd::geteuid().is_root();
    if skip {
        eprintln!("not root: skipped");
    }
    skip
}

fn mode_of(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

#[tokio::test]
async fn socket_is_0660_with_the_group_after_bind() {
    if not_root() {
        return;
    }
    let (_d, sock) = dir(0o750);
    let _l = bind(&sock, 0o660, Some(65534)).unwrap();
    let meta = std::fs::symlink_metadata(&sock).unwrap();
    assert!(std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()));
    assert_eq!(mode_of(&sock), 0o660);
    assert_eq!(meta.gid(), 65534);
}

#[tokio::test]
async fn stale_socket_is_replaced() {
    let (_d, sock) = dir(0o755);
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap()); // file stays, nobody listens
    assert!(sock.exists());
    let listener = bind(&sock, 0o660, None).unwrap();
    let _client = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    let (_server_side, _) = listener.accept().await.unwrap();
}

#[tokio::test]
async fn live_socket_is_refused_and_keeps_working() {
    let (_d, sock) = dir(0o755);
    let first = bind(&sock, 0o660, None).unwrap();
    let reason = refused(bind(&sock, 0o660, None));
    assert!(reason.contains("another executor is running"), "{reason}");
    // The first listener is untouched: its file is still there and answers.
    let _client = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    first.accept().await.unwrap();
}

#[tokio::test]
async fn regular_file_is_never_replaced() {
    let (_d, sock) = dir(0o755);
    std::fs::write(&sock, b"precious").unwrap();
    let reason = refused(bind(&sock, 0o660, None));
    assert!(reason.contains("not a socket"), "{reason}");
    assert_eq!(std::fs::read(&sock).unwrap(), b"precious");
}

#[tokio::test]
async fn symlink_at_the_path_is_refused_and_its_target_untouched() {
    let (d, sock) = dir(0o755);
    let target = d.path().join("target");
    std::fs::write(&target, b"x").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink(&target, &sock).unwrap();
    refused(bind(&sock, 0o666, None));
    assert_eq!(mode_of(&target), 0o600);
    assert!(
        std::fs::symlink_metadata(&sock)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[tokio::test]
async fn writable_directories_are_refused() {
    for mode in [0o777, 0o770, 0o757, 0o1777, 0o1770] {
        let (_d, sock) = dir(mode);
        let reason = refused(bind(&sock, 0o660, None));
        assert!(
            reason.contains("others could replace the socket"),
            "{mode:o}: {reason}"
        );
        assert!(!sock.exists(), "{mode:o}: nothing created");
    }
}

#[tokio::test]
async fn writable_ancestor_is_refused_unless_sticky() {
    let (outer, _) = dir(0o777);
    let inner = outer.path().join("run");
    std::fs::create_dir(&inner).unwrap();
    std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o750)).unwrap();
    let sock = inner.join("executor.sock");
    refused(bind(&sock, 0o660, None));
    // Sticky (like /tmp): others cannot rename our `run`, so this is safe.
    std::fs::set_permissions(outer.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    bind(&sock, 0o660, None).unwrap();
}

#[tokio::test]
async fn directory_owned_by_someone_else_is_refused() {
    if not_root() {
        return;
    }
    let (d, sock) = dir(0o755);
    std::os::unix::fs::chown(d.path(), Some(65534), None).unwrap();
    let reason = refused(bind(&sock, 0o660, None));
    assert!(reason.contains("owned by uid 65534"), "{reason}");
}

#[tokio::test]
async fn missing_directory_and_odd_modes_are_refused() {
    let (d, _) = dir(0o755);
    refused(bind(&d.path().join("nope/executor.sock"), 0o660, None));
    refused(bind(&d.path().join("s.sock"), 0o4660, None));
    refused(bind(Path::new("relative.sock"), 0o660, None));
}
