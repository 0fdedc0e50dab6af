//! Creating the socket files. Trust: runs once at start with the executor's
//! own rights; the paths come from the root-owned configuration, but the
//! file system around them is checked rather than assumed.
//!
//! Why this is free of races (no TOCTOU between "check" and "bind/chmod"):
//! every directory from the socket's parent up to `/` must be owned by root
//! or by the executor's user, and must not be writable by group or others
//! (an ancestor such as `/tmp` may be, if it is sticky: then nobody else can
//! rename or remove the entries we own). The parent itself has no sticky
//! exception. So between looking at `path`, removing a stale socket, binding
//! and setting mode and group, no other user can create, remove, rename or
//! replace anything at `path`: the only possible racers are root and the
//! executor itself. Two executors starting at once are kept apart by the redb
//! file lock, not by this module. As defence in depth, chown and chmod do
//! not follow symlinks, so a wrong directory check could at worst make them
//! fail, never change the mode of some other file.
//!
//! Between `bind()` and the chmod the file carries the umask's mode: a
//! process that connects in that instant still meets the SO_PEERCRED check
//! in the accept loop, which is the real gate; the file mode and the
//! directory's mode are the outer layers.

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::AT_FDCWD;
use nix::sys::socket::{AddressFamily, SockFlag, SockType, UnixAddr, connect, socket};
use nix::sys::stat::{FchmodatFlags, Mode, fchmodat};
use tokio::net::UnixListener;

use crate::error::{ExecutorError, Result};

/// Create a listening Unix socket at `path` with permission bits `mode`
/// (e.g. 0o660) and, if given, group owner `group`.
///
/// Refuses (`BadConfig`) when the parent directory is missing, not owned by
/// root or us, or group/world-writable; when `path` is anything but a
/// socket (a regular file is never deleted); and when a process answers on
/// an existing socket ("another executor is running"). A socket nobody
/// answers on is stale and is replaced. Must be called inside a tokio
/// runtime.
pub fn bind(path: &Path, mode: u32, group: Option<u32>) -> Result<UnixListener> {
    if mode & !0o777 != 0 {
        return Err(bad(path, format!("mode {mode:o} has bits beyond rwx")));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() && path.file_name().is_some() => p,
        _ => {
            return Err(bad(
                path,
                "must be an absolute path of a file in a directory",
            ));
        }
    };
    check_directories(path, parent)?;
    clear_stale(path)?;
    let listener = std::os::unix::net::UnixListener::bind(path)
        .map_err(|e| bad(path, format!("cannot bind: {e}")))?;
    if let Err(e) = restrict(path, mode, group) {
        // Do not leave a socket with the wrong mode behind.
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    listener
        .set_nonblocking(true)
        .and_then(|()| UnixListener::from_std(listener))
        .map_err(|e| ExecutorError::Internal(format!("listener at {}: {e}", path.display())))
}

fn bad(path: &Path, reason: impl std::fmt::Display) -> ExecutorError {
    ExecutorError::BadConfig {
        key: "sockets".into(),
        reason: format!("{}: {reason}", path.display()),
    }
}

/// The parent and all its ancestors: owned by root or us, and writable by
/// nobody else (sticky ancestors excepted, never the parent).
fn check_directories(path: &Path, parent: &Path) -> Result<()> {
    let canonical = std::fs::canonicalize(parent)
        .map_err(|e| bad(path, format!("directory {}: {e}", parent.display())))?;
    let me = nix::unistd::geteuid().as_raw();
    for (depth, dir) in canonical.ancestors().enumerate() {
        let meta = std::fs::metadata(dir)
            .map_err(|e| bad(path, format!("directory {}: {e}", dir.display())))?;
        if !meta.is_dir() {
            return Err(bad(path, format!("{} is not a directory", dir.display())));
        }
        if meta.uid() != 0 && meta.uid() != me {
            return Err(bad(
                path,
                format!(
                    "{} is owned by uid {}, not root or us",
                    dir.display(),
                    meta.uid()
                ),
            ));
        }
        let bits = meta.permissions().mode() & 0o7777;
        let sticky = bits & 0o1000 != 0;
        if bits & 0o022 != 0 && (depth == 0 || !sticky) {
            return Err(bad(
                path,
                format!(
                    "directory {} has mode {bits:04o}: others could replace the socket; \
                     make it 0750 (or 0755)",
                    dir.display()
                ),
            ));
        }
    }
    Ok(())
}

/// Remove a stale socket at `path`; refuse anything else that is there.
fn clear_stale(path: &Path) -> Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(bad(path, format!("cannot inspect: {e}"))),
    };
    if !std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()) {
        return Err(bad(
            path,
            "exists and is not a socket; refusing to replace it (remove it by hand if it is wrong)",
        ));
    }
    if someone_listens(path)? {
        return Err(bad(
            path,
            "another executor is running (the socket answers)",
        ));
    }
    tracing::info!(path = %path.display(), "removing stale socket");
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(bad(path, format!("cannot remove stale socket: {e}"))),
    }
}

/// Does a process accept connections on the socket at `path`? A
/// non-blocking connect, so a live server with a full backlog answers
/// "yes" (EAGAIN) instead of hanging the start.
fn someone_listens(path: &Path) -> Result<bool> {
    let addr =
        UnixAddr::new(path).map_err(|e| bad(path, format!("not a usable socket path: {e}")))?;
    let fd = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| ExecutorError::Internal(format!("socket(): {e}")))?;
    match connect(fd.as_raw_fd(), &addr) {
        Ok(()) | Err(Errno::EAGAIN) | Err(Errno::EINPROGRESS) => Ok(true),
        Err(Errno::ECONNREFUSED) | Err(Errno::ENOENT) => Ok(false),
        Err(e) => Err(bad(
            path,
            format!("cannot tell whether the socket is in use: {e}"),
        )),
    }
}

/// Set group and mode on the socket just bound, never following a symlink.
fn restrict(path: &Path, mode: u32, group: Option<u32>) -> Result<()> {
    if let Some(gid) = group {
        std::os::unix::fs::lchown(path, None, Some(gid))
            .map_err(|e| bad(path, format!("cannot set group {gid}: {e}")))?;
    }
    fchmodat(
        AT_FDCWD,
        path,
        Mode::from_bits_truncate(mode),
        FchmodatFlags::NoFollowSymlink,
    )
    .map_err(|e| bad(path, format!("cannot set mode {mode:04o}: {e}")))
}

#[cfg(test)]
mod tests;
