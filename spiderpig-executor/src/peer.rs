//! Who is on the other end of a Unix socket, and may they talk to us.
//! Trust: the peer is untrusted; its identity comes from the kernel
//! (SO_PEERCRED, taken at `connect()` time), never from anything it sends.
//!
//! `executor.sock` admits exactly the web's uid ([`PeerPolicy::WebOnly`]).
//! `admin.sock` admits root and members of the admin group, never the
//! executor's own uid (scap's) ([`PeerPolicy::Admins`]). The check runs once per connection, in the
//! accept loop (`server::incoming`), before a single byte is read, so a
//! refused peer never reaches a handler. Handlers read the accepted peer
//! from the request extensions with [`peer_from`].

use std::ffi::CString;

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use nix::unistd::{Gid, Group, Uid, User, getgrouplist};

use crate::error::{ExecutorError, Result};

/// The credentials of a connected peer, as the kernel reported them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerIdentity {
    /// Effective uid of the connecting process.
    pub uid: u32,
    /// Effective gid of the connecting process.
    pub gid: u32,
    /// Pid of the connecting process (for logs only: pids are reused).
    pub pid: i32,
    /// The user name from the passwd database, or `uid:<n>` if there is none.
    /// For audit records and logs; decisions use `uid`/`gid`.
    pub user: String,
}

/// Who may use a socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerPolicy {
    /// Exactly this uid (spiderpig-web). Root is refused too: the web never
    /// runs as root, so a root peer on `executor.sock` is a misconfiguration.
    WebOnly { uid: u32 },
    /// Root, or a member of this group (see [`check`]), but never
    /// `executor_uid`, the uid the executor runs as (unless that is root):
    /// scap and all it runs have that uid, and must not reach the admin verbs
    /// even if someone adds the executor's user to the admin group.
    Admins { gid: u32, executor_uid: u32 },
}

/// The kernel's credentials of the process at the other end of `stream`.
pub fn peer_of(stream: &tokio::net::UnixStream) -> Result<PeerIdentity> {
    let cred = getsockopt(stream, PeerCredentials)
        .map_err(|e| ExecutorError::Internal(format!("SO_PEERCRED failed: {e}")))?;
    let uid = cred.uid();
    Ok(PeerIdentity {
        uid,
        gid: cred.gid(),
        pid: cred.pid(),
        user: user_name(uid),
    })
}

/// May this peer use a socket with this policy? `PeerRejected` if not.
///
/// `Admins` refuses the executor's own uid (unless it is root) whatever its
/// groups, then admits, in this order:
/// - uid 0;
/// - a process whose effective gid (from SO_PEERCRED) is the admin group:
///   that is a kernel credential, e.g. `sg spiderpig-admin ctl`;
/// - a user whose passwd entry lists the admin group, as primary group or in
///   `/etc/group` (getgrouplist). SO_PEERCRED does not carry a process's
///   supplementary groups, so membership is read from the user database at
///   connection time: removing someone from the group takes effect on their
///   next connection, even if their login session still holds the group.
///
/// Any lookup failure refuses (fails closed) and is logged.
pub fn check(peer: &PeerIdentity, policy: &PeerPolicy) -> Result<()> {
    let allowed = match policy {
        PeerPolicy::WebOnly { uid } => peer.uid == *uid,
        PeerPolicy::Admins { gid, executor_uid } => {
            let scap_side = *executor_uid != 0 && peer.uid == *executor_uid;
            !scap_side && (peer.uid == 0 || peer.gid == *gid || user_in_group(peer.uid, *gid))
        }
    };
    if allowed {
        Ok(())
    } else {
        Err(ExecutorError::PeerRejected { uid: peer.uid })
    }
}

/// The gid of the group named by `sockets.admin_group`.
pub fn group_gid(name: &str) -> Result<u32> {
    group_gid_for("sockets.admin_group", name)
}

/// The gid of a group named in the configuration under `key` (for example
/// `sockets.executor_socket_group`).
pub fn group_gid_for(key: &str, name: &str) -> Result<u32> {
    let bad = |reason: String| ExecutorError::BadConfig {
        key: key.to_string(),
        reason,
    };
    if name.is_empty() || name.contains('\0') {
        return Err(bad("must be a group name".into()));
    }
    match Group::from_name(name) {
        Ok(Some(group)) => Ok(group.gid.as_raw()),
        Ok(None) => Err(bad(format!("no group named `{name}` on this host"))),
        Err(e) => Err(bad(format!("cannot look up group `{name}`: {e}"))),
    }
}

/// The peer that passed the check for this request's connection. Set by the
/// accept loop as tonic connect info; missing only if a service was served
/// without `server::incoming`, which is refused rather than trusted.
pub fn peer_from<T>(request: &tonic::Request<T>) -> Result<&PeerIdentity> {
    request
        .extensions()
        .get::<PeerIdentity>()
        .ok_or_else(|| ExecutorError::Internal("request without a checked peer".into()))
}

fn user_name(uid: u32) -> String {
    match User::from_uid(Uid::from_raw(uid)) {
        Ok(Some(user)) => user.name,
        _ => format!("uid:{uid}"),
    }
}

fn user_in_group(uid: u32, gid: u32) -> bool {
    let user = match User::from_uid(Uid::from_raw(uid)) {
        Ok(Some(user)) => user,
        Ok(None) => return false,
        Err(e) => {
            tracing::warn!(uid, error = %e, "passwd lookup failed; peer refused");
            return false;
        }
    };
    if user.gid.as_raw() == gid {
        return true;
    }
    let Ok(name) = CString::new(user.name) else {
        return false;
    };
    match getgrouplist(&name, user.gid) {
        Ok(groups) => groups.contains(&Gid::from_raw(gid)),
        Err(e) => {
            tracing::warn!(uid, error = %e, "getgrouplist failed; peer refused");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(uid: u32, gid: u32) -> PeerIdentity {
        PeerIdentity {
            uid,
            gid,
            pid: 1,
            user: user_name(uid),
        }
    }

    /// A (uid, group gid) pair where the user is in the group only through
    /// `/etc/group` (not as primary group), if this host has one.
    fn supplementary_member() -> Option<(u32, u32)> {
        let text = std::fs::read_to_string("/etc/group").ok()?;
        text.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            let gid: u32 = fields.get(2)?.parse().ok()?;
            fields.get(3)?.split(',').find_map(|member| {
                let user = User::from_name(member).ok()??;
                (user.gid.as_raw() != gid && user.uid.as_raw() != 0)
                    .then_some((user.uid.as_raw(), gid))
            })
        })
    }

    #[test]
    fn web_only_admits_exactly_the_web_uid() {
        let policy = PeerPolicy::WebOnly { uid: 65534 };
        let table = [
            (peer(65534, 65534), true),
            (peer(65534, 0), true),
            (peer(0, 0), false),
            (peer(65533, 65534), false),
            (peer(1000, 1000), false),
        ];
        for (p, ok) in table {
            assert_eq!(check(&p, &policy).is_ok(), ok, "{p:?}");
        }
    }

    #[test]
    fn admins_admits_root_and_the_group_and_nobody_else() {
        let policy = PeerPolicy::Admins {
            gid: 4242,
            executor_uid: 0,
        };
        let table = [
            (peer(0, 0), true),
            (peer(65534, 4242), true),   // effective gid is the group
            (peer(65534, 65534), false), // nobody is in no such group
            (peer(4242, 65534), false),  // uid equal to the gid means nothing
        ];
        for (p, ok) in table {
            assert_eq!(check(&p, &policy).is_ok(), ok, "{p:?}");
        }
    }

    /// The executor's own uid (scap's) is refused on `admin.sock` even with
    /// the admin group as its effective gid; root as the executor's uid
    /// changes nothing for root.
    #[test]
    fn admins_refuses_the_executors_own_uid() {
        let policy = PeerPolicy::Admins {
            gid: 4242,
            executor_uid: 990,
        };
        let table = [
            (peer(990, 4242), false),
            (peer(990, 990), false),
            (peer(991, 4242), true),
            (peer(0, 0), true),
        ];
        for (p, ok) in table {
            assert_eq!(check(&p, &policy).is_ok(), ok, "{p:?}");
        }
        let err = check(&peer(990, 4242), &policy).unwrap_err();
        assert!(matches!(err, ExecutorError::PeerRejected { uid: 990 }));
        let root_executor = PeerPolicy::Admins {
            gid: 4242,
            executor_uid: 0,
        };
        assert!(check(&peer(0, 0), &root_executor).is_ok());
    }

    #[test]
    fn admins_reads_supplementary_membership_from_the_user_database() {
        let Some((uid, gid)) = supplementary_member() else {
            eprintln!("no user with a supplementary group on this host; skipped");
            return;
        };
        let member = peer(uid, 65534);
        assert!(
            check(
                &member,
                &PeerPolicy::Admins {
                    gid,
                    executor_uid: 0
                }
            )
            .is_ok()
        );
        let outsider = peer(65534, 65534);
        assert!(
            check(
                &outsider,
                &PeerPolicy::Admins {
                    gid,
                    executor_uid: 0
                }
            )
            .is_err()
        );
    }

    #[test]
    fn rejection_names_the_uid() {
        let err = check(&peer(1234, 1234), &PeerPolicy::WebOnly { uid: 1 }).unwrap_err();
        assert!(matches!(err, ExecutorError::PeerRejected { uid: 1234 }));
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
    }

    #[test]
    fn group_lookup_finds_root_and_refuses_unknown_names() {
        assert_eq!(group_gid("root").unwrap(), 0);
        for name in ["no-such-group-spiderpig", "", "a\0b"] {
            match group_gid(name) {
                Err(ExecutorError::BadConfig { key, .. }) => {
                    assert_eq!(key, "sockets.admin_group")
                }
                other => panic!("{name:?}: {other:?}"),
            }
        }
        match group_gid_for("sockets.executor_socket_group", "no-such-group-spiderpig") {
            Err(ExecutorError::BadConfig { key, .. }) => {
                assert_eq!(key, "sockets.executor_socket_group")
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn peer_of_reports_this_process() {
        let (a, _b) = tokio::net::UnixStream::pair().unwrap();
        let me = peer_of(&a).unwrap();
        assert_eq!(me.uid, nix::unistd::geteuid().as_raw());
        assert_eq!(me.gid, nix::unistd::getegid().as_raw());
        assert_eq!(me.pid, std::process::id() as i32);
        assert_eq!(me.user, user_name(me.uid));
        assert!(!me.user.is_empty());
    }

    #[test]
    fn unknown_uid_is_named_by_number() {
        assert_eq!(user_name(3_999_999_999), "uid:3999999999");
    }
}
