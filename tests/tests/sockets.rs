//! The executor's sockets, end to end: real Unix sockets in temp dirs, real
//! processes under other uids (the `sock-probe` binary, started with
//! `Command::uid/gid`, which also drops supplementary groups). Runs as root.
//!
//! Sockets here are 0666 in a 0755 directory on purpose: only the SO_PEERCRED
//! check stands between a stranger and the handler. Every refusal also
//! asserts that no handler ran. The harness serves both test services on one
//! socket; the executor serves one service per socket.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use spiderpig_client::{ChannelTimeouts, unix_channel, unix_channel_with};
use spiderpig_executor::config::{Limits, Timeouts};
use spiderpig_executor::peer::{PeerPolicy, peer_from};
use spiderpig_executor::server::{self, Refusal};
use spiderpig_proto::v1::admin_client::AdminClient;
use spiderpig_proto::v1::admin_server::Admin;
use spiderpig_proto::v1::deployer_client::DeployerClient;
use spiderpig_proto::v1::deployer_server::Deployer;
use spiderpig_proto::v1::{self as pb, Event, Heartbeat, event};
use tokio::io::AsyncReadExt;
use tokio::net::UnixStream;
use tonic::codegen::tokio_stream::Stream;
use tonic::{Code, Request, Response, Status};

/// Every handler call, whatever the method.
#[derive(Clone, Default)]
struct Calls(Arc<AtomicUsize>);

impl Calls {
    fn hit(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

fn who(req: &Request<impl Sized>) -> Result<String, Status> {
    let peer = peer_from(req).map_err(|e| Status::internal(e.to_string()))?;
    Ok(format!("{}:{}", peer.uid, peer.user))
}

/// An impl of a generated service trait: the methods given, plus every other
/// method counting its call and answering `UNIMPLEMENTED`. (The traits use
/// `async_trait`, which must see the expanded methods, hence the whole impl.)
macro_rules! test_service {
    ($trait:ident for $ty:ty { $($custom:tt)* }
     unimplemented { $($name:ident($req:ident) -> $resp:ident;)* }) => {
        #[tonic::async_trait]
        impl $trait for $ty {
            $($custom)*
            $(
                async fn $name(
                    &self,
                    _: Request<pb::$req>,
                ) -> Result<Response<pb::$resp>, Status> {
                    self.calls.hit();
                    Err(Status::unimplemented("not in this test"))
                }
            )*
        }
    };
}

/// `Status` answers `<uid>:<user>` of the caller, padded with `reply_bytes`.
struct TestAdmin {
    calls: Calls,
    reply_bytes: usize,
}

test_service! { Admin for TestAdmin {
    async fn status(
        &self,
        req: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::StatusResponse>, Status> {
        self.calls.hit();
        Ok(Response::new(pb::StatusResponse {
            version: who(&req)?,
            state_file: "x".repeat(self.reply_bytes),
            ..Default::default()
        }))
    }
} unimplemented {
        freeze(FreezeRequest) -> FreezeResponse; unfreeze(UnfreezeRequest) -> FreezeResponse;
        ban(BanRequest) -> BanResponse; unban(UnbanRequest) -> BanResponse;
        logout_user(LogoutUserRequest) -> LogoutUserResponse;
        list_sessions(ListSessionsRequest) -> ListSessionsResponse;
        list_queue(ListQueueRequest) -> QueueResponse;
        queue_move(QueueMoveRequest) -> QueueResponse;
        queue_remove(QueueRemoveRequest) -> QueueResponse; release(ReleaseRequest) -> JobResponse;
        admin_interrupt(AdminInterruptRequest) -> JobResponse;
        admin_finish(AdminFinishRequest) -> JobResponse;
        admin_list_jobs(AdminListJobsRequest) -> ListJobsResponse;
        admin_get_log(AdminGetLogRequest) -> GetLogResponse;
        reset_totp(ResetTotpRequest) -> ResetTotpResponse; audit(AuditRequest) -> AuditResponse;
} }

/// `WhoAmI` answers after `slow`; `Watch` sends 5 heartbeats 400 ms apart.
struct TestDeployer {
    calls: Calls,
    slow: Duration,
}

struct Beats(tokio::sync::mpsc::Receiver<Result<Event, Status>>);

impl Stream for Beats {
    type Item = Result<Event, Status>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

test_service! { Deployer for TestDeployer {
    type WatchStream = Beats;
    async fn who_am_i(
        &self,
        req: Request<pb::WhoAmIRequest>,
    ) -> Result<Response<pb::WhoAmIResponse>, Status> {
        self.calls.hit();
        tokio::time::sleep(self.slow).await;
        let username = who(&req)?;
        Ok(Response::new(pb::WhoAmIResponse { username, ..Default::default() }))
    }
    async fn watch(&self, _: Request<pb::WatchRequest>) -> Result<Response<Beats>, Status> {
        self.calls.hit();
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        tokio::spawn(async move {
            for at_ms in 1..=5 {
                tokio::time::sleep(Duration::from_millis(400)).await;
                let beat = Event { kind: Some(event::Kind::Heartbeat(Heartbeat { at_ms })) };
                if tx.send(Ok(beat)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(Beats(rx)))
    }
} unimplemented {
        begin_login(BeginLoginRequest) -> BeginLoginResponse;
        complete_login(CompleteLoginRequest) -> CompleteLoginResponse;
        enrol_totp(EnrolTotpRequest) -> EnrolTotpResponse;
        verify_totp(VerifyTotpRequest) -> VerifyTotpResponse;
        logout(LogoutRequest) -> LogoutResponse;
        submit_job(SubmitJobRequest) -> JobResponse; cancel_job(JobActionRequest) -> JobResponse;
        ready(JobActionRequest) -> JobResponse; respond(RespondRequest) -> JobResponse;
        finish(JobActionRequest) -> JobResponse; revert(RevertRequest) -> JobResponse;
        interrupt(JobActionRequest) -> JobResponse; get_job(JobActionRequest) -> JobResponse;
        list_jobs(ListJobsRequest) -> ListJobsResponse; get_queue(GetQueueRequest) -> QueueResponse;
        get_log(GetLogRequest) -> GetLogResponse;
} }

struct Opts {
    max_connections: usize,
    message_bytes: usize,
    request_secs: u64,
    reply_bytes: usize,
    slow: Duration,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            max_connections: 16,
            message_bytes: 64 * 1024,
            request_secs: 30,
            reply_bytes: 0,
            slow: Duration::ZERO,
        }
    }
}

/// A running test server; it stops when dropped.
struct Served {
    _dir: tempfile::TempDir,
    sock: PathBuf,
    calls: Calls,
    refusals: Arc<Mutex<Vec<Refusal>>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn serve(policy: PeerPolicy, opts: Opts) -> Served {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let sock = dir.path().join("test.sock");
    let listener = server::bind(&sock, 0o666, None).unwrap();
    let calls = Calls::default();
    let refusals = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&refusals);
    let conns = server::incoming_with(listener, policy, opts.max_connections, move |r| {
        seen.lock().unwrap().push(r)
    });
    let limits = Limits {
        grpc_message_bytes: opts.message_bytes,
        ..Limits::default()
    };
    let timeouts = Timeouts {
        grpc_request_secs: opts.request_secs,
        ..Timeouts::default()
    };
    let admin = TestAdmin {
        calls: calls.clone(),
        reply_bytes: opts.reply_bytes,
    };
    let deployer = TestDeployer {
        calls: calls.clone(),
        slow: opts.slow,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(
        server::server_builder(&timeouts)
            .add_service(server::limit_admin(admin, &limits))
            .add_service(server::limit_deployer(deployer, &limits))
            .serve_with_incoming_shutdown(conns, async {
                let _ = stopped.await;
            }),
    );
    Served {
        _dir: dir,
        sock,
        calls,
        refusals,
        _stop: stop,
    }
}

impl Served {
    fn admin(&self) -> AdminClient<tonic::transport::Channel> {
        AdminClient::new(unix_channel(self.sock.clone()))
    }
    fn refused_uids(&self) -> Vec<u32> {
        let refusals = self.refusals.lock().unwrap();
        let peer_uid = |r: &Refusal| match r {
            Refusal::Peer(p) => Some(p.uid),
            _ => None,
        };
        refusals.iter().filter_map(peer_uid).collect()
    }
}

/// `sock-probe` where any uid may run it: the build directory may sit in a
/// folder only root can enter (a `mktemp -d` clone), so a copy goes into a
/// world-readable temporary folder once per test binary.
fn probe_binary() -> &'static Path {
    static COPY: std::sync::OnceLock<(tempfile::TempDir, std::path::PathBuf)> =
        std::sync::OnceLock::new();
    let (_, path) = COPY.get_or_init(|| {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod temp dir");
        let path = dir.path().join("sock-probe");
        std::fs::copy(env!("CARGO_BIN_EXE_sock-probe"), &path).expect("copy sock-probe");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .expect("chmod sock-probe");
        (dir, path)
    });
    path
}

/// Run `sock-probe` as `uid:gid` (None: as root). Returns (success, output).
async fn probe(sock: &Path, verb: &str, ids: Option<(u32, u32)>) -> (bool, String) {
    let mut cmd = tokio::process::Command::new(probe_binary());
    cmd.arg(sock).arg(verb).kill_on_drop(true);
    if let Some((uid, gid)) = ids {
        cmd.uid(uid).gid(gid);
    }
    let out = tokio::time::timeout(Duration::from_secs(30), cmd.output())
        .await
        .unwrap()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

const NOBODY: Option<(u32, u32)> = Some((65534, 65534));

#[tokio::test]
async fn root_reaches_the_handler_which_sees_its_identity() {
    let s = serve(
        PeerPolicy::Admins {
            gid: 4242,
            executor_uid: 0,
        },
        Opts::default(),
    )
    .await;
    let (ok, out) = probe(&s.sock, "status", None).await;
    assert!(ok, "{out}");
    assert_eq!(out.trim(), "OK 0:root");
    assert_eq!(s.calls.get(), 1);
}

#[tokio::test]
async fn another_uid_is_refused_before_any_handler_runs() {
    for policy in [
        PeerPolicy::WebOnly { uid: 4242 },
        PeerPolicy::Admins {
            gid: 4242,
            executor_uid: 0,
        },
    ] {
        let s = serve(policy.clone(), Opts::default()).await;
        for verb in ["status", "whoami"] {
            let (ok, out) = probe(&s.sock, verb, NOBODY).await;
            assert!(!ok, "{policy:?} {verb}: {out}");
            assert!(out.starts_with("ERR"), "{out}");
        }
        assert_eq!(s.calls.get(), 0, "{policy:?}: no handler ran");
        assert_eq!(
            s.refused_uids(),
            [65534, 65534],
            "{policy:?}: each refusal reported"
        );
    }
}

#[tokio::test]
async fn web_only_admits_the_web_uid_and_refuses_root() {
    let s = serve(PeerPolicy::WebOnly { uid: 65534 }, Opts::default()).await;
    let (ok, out) = probe(&s.sock, "whoami", NOBODY).await;
    assert!(ok, "{out}");
    assert_eq!(out.trim(), "OK 65534:nobody");
    let (ok, out) = probe(&s.sock, "whoami", None).await;
    assert!(!ok, "root must be refused on the web's socket: {out}");
    assert_eq!(s.calls.get(), 1);
    assert_eq!(s.refused_uids(), [0]);
}

#[tokio::test]
async fn admins_admits_the_group_by_effective_gid_and_refuses_others() {
    let s = serve(
        PeerPolicy::Admins {
            gid: 4242,
            executor_uid: 0,
        },
        Opts::default(),
    )
    .await;
    let (ok, out) = probe(&s.sock, "status", Some((65534, 4242))).await;
    assert!(ok, "effective gid 4242 is in the admin group: {out}");
    let (ok, out) = probe(&s.sock, "status", NOBODY).await;
    assert!(!ok, "{out}");
    assert_eq!(s.calls.get(), 1);
}

/// scap runs as the executor's uid: on `admin.sock` that uid is refused
/// before any handler, even with the admin group as its effective gid
/// (security review F13).
#[tokio::test]
async fn admins_refuses_the_executors_own_uid_even_in_the_admin_group() {
    let policy = PeerPolicy::Admins {
        gid: 4242,
        executor_uid: 65534,
    };
    let s = serve(policy, Opts::default()).await;
    let (ok, out) = probe(&s.sock, "status", Some((65534, 4242))).await;
    assert!(!ok, "{out}");
    assert!(out.starts_with("ERR"), "{out}");
    assert_eq!(s.calls.get(), 0, "no handler ran");
    assert_eq!(s.refused_uids(), [65534]);
    // Another member of the group still gets in.
    let (ok, out) = probe(&s.sock, "status", Some((65533, 4242))).await;
    assert!(ok, "{out}");
    assert_eq!(s.calls.get(), 1);
}

#[tokio::test]
async fn admins_admits_members_listed_in_the_group_database() {
    // A user in a group through /etc/group only; the probe runs with its
    // primary gid and no supplementary groups, so only the lookup admits it.
    let groups = std::fs::read_to_string("/etc/group").unwrap();
    let member = groups.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        let gid: u32 = f.get(2)?.parse().ok()?;
        f.get(3)?.split(',').find_map(|name| {
            let user = nix::unistd::User::from_name(name).ok()??;
            let (uid, primary) = (user.uid.as_raw(), user.gid.as_raw());
            (uid != 0 && primary != gid).then_some((uid, primary, gid))
        })
    });
    let Some((uid, primary, gid)) = member else {
        eprintln!("no user with a supplementary group on this host; skipped");
        return;
    };
    let s = serve(
        PeerPolicy::Admins {
            gid,
            executor_uid: 0,
        },
        Opts::default(),
    )
    .await;
    let (ok, out) = probe(&s.sock, "status", Some((uid, primary))).await;
    assert!(ok, "uid {uid} is listed in group {gid}: {out}");
    let (ok, _) = probe(&s.sock, "status", NOBODY).await;
    assert!(!ok);
    assert_eq!(s.calls.get(), 1);
}

#[tokio::test]
async fn connections_beyond_the_cap_are_closed_until_one_ends() {
    let s = serve(
        PeerPolicy::Admins {
            gid: 4242,
            executor_uid: 0,
        },
        Opts {
            max_connections: 2,
            ..Opts::default()
        },
    )
    .await;
    let mut first = UnixStream::connect(&s.sock).await.unwrap();
    let _second = UnixStream::connect(&s.sock).await.unwrap();
    let mut third = UnixStream::connect(&s.sock).await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), third.read_to_end(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "third connection closed at once: {read:?}"
    );
    assert!(
        matches!(s.refusals.lock().unwrap().as_slice(), [Refusal::OverCapacity(p)] if p.uid == 0)
    );
    let mut byte = [0u8; 64];
    let alive = tokio::time::timeout(Duration::from_millis(300), first.read(&mut byte)).await;
    assert!(!matches!(alive, Ok(Ok(0))), "the first two stay open");
    let (ok, _) = probe(&s.sock, "status", None).await;
    assert!(!ok, "still full");
    assert_eq!(s.calls.get(), 0);

    drop(first);
    let mut served = false;
    for _ in 0..50 {
        if s.admin().status(pb::StatusRequest {}).await.is_ok() {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "a slot is free again once a connection ends");
}

#[tokio::test]
async fn oversized_request_is_refused_before_the_handler() {
    let s = serve(
        PeerPolicy::Admins {
            gid: 4242,
            executor_uid: 0,
        },
        Opts::default(),
    )
    .await;
    let huge = pb::FreezeRequest {
        reason: "x".repeat(200_000),
        until_ms: 0,
    };
    let err = s.admin().freeze(huge).await.unwrap_err();
    assert_eq!(err.code(), Code::OutOfRange, "{err:?}");
    assert_eq!(s.calls.get(), 0, "the handler never saw it");
    // Just under the limit reaches the handler (which answers unimplemented).
    let fits = pb::FreezeRequest {
        reason: "x".repeat(60_000),
        until_ms: 0,
    };
    assert_eq!(
        s.admin().freeze(fits).await.unwrap_err().code(),
        Code::Unimplemented
    );
    assert_eq!(s.calls.get(), 1);
}

#[tokio::test]
async fn oversized_reply_is_not_sent() {
    let s = serve(
        PeerPolicy::Admins {
            gid: 4242,
            executor_uid: 0,
        },
        Opts {
            reply_bytes: 100_000,
            ..Opts::default()
        },
    )
    .await;
    let err = s.admin().status(pb::StatusRequest {}).await.unwrap_err();
    assert_eq!(err.code(), Code::OutOfRange, "{err:?}");
}

#[tokio::test]
async fn request_timeout_ends_a_slow_unary_call() {
    let opts = Opts {
        request_secs: 1,
        slow: Duration::from_secs(3),
        ..Opts::default()
    };
    let s = serve(
        PeerPolicy::Admins {
            gid: 4242,
            executor_uid: 0,
        },
        opts,
    )
    .await;
    let started = std::time::Instant::now();
    let err = DeployerClient::new(unix_channel(s.sock.clone()))
        .who_am_i(pb::WhoAmIRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::Cancelled,
        "tonic's mapping of its timeout: {err:?}"
    );
    assert!(started.elapsed() < Duration::from_millis(2500));
}

#[tokio::test]
async fn request_timeouts_do_not_cut_a_watch_stream() {
    // Server timeout 1 s, client timeout 1 s, and a 500 ms grpc-timeout
    // header: the stream lasts 2 s and still arrives whole, because all three
    // bound only the time to the response headers.
    let s = serve(
        PeerPolicy::Admins {
            gid: 4242,
            executor_uid: 0,
        },
        Opts {
            request_secs: 1,
            ..Opts::default()
        },
    )
    .await;
    let channel = unix_channel_with(
        s.sock.clone(),
        ChannelTimeouts {
            connect: Duration::from_secs(5),
            request: Duration::from_secs(1),
        },
    );
    for header in [None, Some(Duration::from_millis(500))] {
        let mut req = Request::new(pb::WatchRequest::default());
        if let Some(t) = header {
            req.set_timeout(t);
        }
        let mut stream = DeployerClient::new(channel.clone())
            .watch(req)
            .await
            .unwrap()
            .into_inner();
        let mut beats = Vec::new();
        while let Some(ev) = stream.message().await.unwrap() {
            if let Some(event::Kind::Heartbeat(h)) = ev.kind {
                beats.push(h.at_ms);
            }
        }
        assert_eq!(beats, [1, 2, 3, 4, 5], "header {header:?}");
    }
}
