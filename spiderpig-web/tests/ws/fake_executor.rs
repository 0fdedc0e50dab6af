//! A minimal in-process `Deployer` for the WebSocket tests: sessions, job
//! logs and the Watch stream, behaving as the executor's contract says
//! (stored records then live ones, no gap, no duplicate; a queue snapshot
//! first; `SessionRevoked` then the end), on a real Unix socket. It can be
//! stopped and started again on the same socket, like a restart.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use spiderpig_proto::v1 as pb;
use spiderpig_proto::v1::deployer_server::{Deployer, DeployerServer};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::{ReceiverStream, UnixListenerStream};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

type Reply<T> = Result<Response<T>, Status>;
type Tx = mpsc::Sender<Result<pb::Event, Status>>;

/// Live log batches the fake's own watchers may buffer before they are
/// told they skipped (a web that keeps up never is).
const LIVE_CAPACITY: usize = 4096;

#[derive(Default)]
pub struct Counters {
    pub who_am_i: AtomicUsize,
    pub watch_opened: AtomicUsize,
    pub get_log: AtomicUsize,
    /// Times a watcher of the fake fell behind (the web slowed "the executor").
    pub lagged: AtomicUsize,
}

pub struct Shared {
    sessions: Mutex<HashMap<String, (String, bool)>>,
    logs: Mutex<HashMap<u64, Vec<pb::LogRecord>>>,
    live: broadcast::Sender<Arc<pb::LogRecords>>,
    events: broadcast::Sender<pb::Event>,
    /// (token, reason, silently: end with UNAUTHENTICATED instead).
    revocations: broadcast::Sender<(String, String, bool)>,
    crash: Mutex<CancellationToken>,
    pub counters: Counters,
    /// Who opened each Watch of a job's log, in order: (job, user).
    pub job_watches: Mutex<Vec<(u64, String)>>,
}

/// The fake executor; cheap to clone.
#[derive(Clone)]
pub struct Fake {
    pub shared: Arc<Shared>,
    socket: PathBuf,
}

impl Fake {
    pub fn new(socket: PathBuf) -> Fake {
        let shared = Shared {
            sessions: Mutex::new(HashMap::new()),
            logs: Mutex::new(HashMap::new()),
            live: broadcast::channel(LIVE_CAPACITY).0,
            events: broadcast::channel(256).0,
            revocations: broadcast::channel(64).0,
            crash: Mutex::new(CancellationToken::new()),
            counters: Counters::default(),
            job_watches: Mutex::new(Vec::new()),
        };
        Fake {
            shared: Arc::new(shared),
            socket,
        }
    }

    /// Listen on the socket until [`Fake::stop`].
    pub fn start(&self) {
        let _ = std::fs::remove_file(&self.socket);
        let listener =
            tokio::net::UnixListener::bind(&self.socket).expect("bind the fake executor");
        let crash = CancellationToken::new();
        *self.shared.crash.lock().unwrap() = crash.clone();
        let service = DeployerServer::new(Service(self.shared.clone()));
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(
                    UnixListenerStream::new(listener),
                    crash.cancelled_owned(),
                )
                .await
                .expect("fake executor serves");
        });
    }

    /// Like a crash: open streams break, the socket goes away.
    pub fn stop(&self) {
        self.shared.crash.lock().unwrap().cancel();
        let _ = std::fs::remove_file(&self.socket);
    }

    /// A session; `totp`: whether it has passed TOTP.
    pub fn session(&self, user: &str, totp: bool) -> String {
        let token = format!("tok-{user}-{}", self.shared.sessions.lock().unwrap().len());
        self.shared
            .sessions
            .lock()
            .unwrap()
            .insert(token.clone(), (user.to_string(), totp));
        token
    }

    /// End a session: its streams get `SessionRevoked` (or, `silently`,
    /// end with UNAUTHENTICATED) and every later call is refused.
    pub fn revoke(&self, token: &str, reason: &str, silently: bool) {
        self.shared.sessions.lock().unwrap().remove(token);
        let _ = self
            .shared
            .revocations
            .send((token.to_string(), reason.to_string(), silently));
    }

    /// Make a job (with no records yet).
    pub fn job(&self, job: u64) {
        self.shared.logs.lock().unwrap().entry(job).or_default();
    }

    /// Append `n` records to `job` as one live batch; returns the last seq.
    pub fn append(&self, job: u64, n: usize) -> u64 {
        let mut logs = self.shared.logs.lock().unwrap();
        let log = logs.entry(job).or_default();
        let from = log.len() as u64 + 1;
        let batch: Vec<pb::LogRecord> = (from..from + n as u64)
            .map(|seq| record(job, seq))
            .collect();
        log.extend(batch.iter().cloned());
        // Under the lock, so stored order and live order agree.
        let _ = self.shared.live.send(Arc::new(pb::LogRecords {
            job_id: job,
            records: batch,
        }));
        log.len() as u64
    }

    /// Publish a global event to every watcher.
    pub fn publish(&self, kind: pb::event::Kind) {
        let _ = self.shared.events.send(pb::Event { kind: Some(kind) });
    }

    pub fn count(&self, c: impl Fn(&Counters) -> &AtomicUsize) -> usize {
        c(&self.shared.counters).load(Ordering::SeqCst)
    }

    /// Users whose session opened a Watch of `job`'s log, in order.
    pub fn job_watchers(&self, job: u64) -> Vec<String> {
        let all = self.shared.job_watches.lock().unwrap();
        all.iter()
            .filter(|(j, _)| *j == job)
            .map(|(_, u)| u.clone())
            .collect()
    }
}

/// A record whose text names its seq (and is long enough to fill buffers).
pub fn record(job: u64, seq: u64) -> pb::LogRecord {
    pb::LogRecord {
        job_id: job,
        seq,
        at_ms: 1_700_000_000_000 + seq as i64,
        kind: pb::log_record::Kind::Line as i32,
        text: format!("line {seq}: {}", "scap sync-world output ".repeat(4)),
        sensitive_lines: vec![],
    }
}

struct Service(Arc<Shared>);

impl Shared {
    /// The user of a session that passed TOTP, or UNAUTHENTICATED.
    fn user(&self, s: Option<&pb::Session>) -> Result<String, Status> {
        let token = s.map(|s| s.token.as_str()).unwrap_or("");
        match self.sessions.lock().unwrap().get(token) {
            Some((user, true)) => Ok(user.clone()),
            _ => Err(Status::unauthenticated("no valid session")),
        }
    }

    fn stored(
        &self,
        job: u64,
        after: u64,
        limit: usize,
    ) -> Result<(Vec<pb::LogRecord>, bool), Status> {
        let logs = self.logs.lock().unwrap();
        let log = logs
            .get(&job)
            .ok_or_else(|| Status::not_found("job not found"))?;
        let rest: Vec<_> = log.iter().filter(|r| r.seq > after).cloned().collect();
        let more = rest.len() > limit;
        Ok((rest.into_iter().take(limit).collect(), more))
    }
}

fn unimplemented<T>() -> Reply<T> {
    Err(Status::unimplemented("not in the fake"))
}

#[tonic::async_trait]
impl Deployer for Service {
    async fn begin_login(
        &self,
        _: Request<pb::BeginLoginRequest>,
    ) -> Reply<pb::BeginLoginResponse> {
        unimplemented()
    }
    async fn complete_login(
        &self,
        _: Request<pb::CompleteLoginRequest>,
    ) -> Reply<pb::CompleteLoginResponse> {
        unimplemented()
    }
    async fn enrol_totp(&self, _: Request<pb::EnrolTotpRequest>) -> Reply<pb::EnrolTotpResponse> {
        unimplemented()
    }
    async fn verify_totp(
        &self,
        _: Request<pb::VerifyTotpRequest>,
    ) -> Reply<pb::VerifyTotpResponse> {
        unimplemented()
    }
    async fn logout(&self, _: Request<pb::LogoutRequest>) -> Reply<pb::LogoutResponse> {
        unimplemented()
    }
    async fn who_am_i(&self, req: Request<pb::WhoAmIRequest>) -> Reply<pb::WhoAmIResponse> {
        self.0.counters.who_am_i.fetch_add(1, Ordering::SeqCst);
        let token = req
            .into_inner()
            .session
            .map(|s| s.token)
            .unwrap_or_default();
        let Some((user, totp)) = self.0.sessions.lock().unwrap().get(&token).cloned() else {
            return Err(Status::unauthenticated("no valid session"));
        };
        let role = pb::Role::Deployer as i32;
        Ok(Response::new(pb::WhoAmIResponse {
            username: user,
            role,
            totp_passed: totp,
            totp_enrolled: true,
            expires_at_ms: 0,
        }))
    }
    async fn submit_job(&self, _: Request<pb::SubmitJobRequest>) -> Reply<pb::JobResponse> {
        unimplemented()
    }
    async fn cancel_job(&self, _: Request<pb::JobActionRequest>) -> Reply<pb::JobResponse> {
        unimplemented()
    }
    async fn ready(&self, _: Request<pb::JobActionRequest>) -> Reply<pb::JobResponse> {
        unimplemented()
    }
    async fn respond(&self, _: Request<pb::RespondRequest>) -> Reply<pb::JobResponse> {
        unimplemented()
    }
    async fn finish(&self, _: Request<pb::JobActionRequest>) -> Reply<pb::JobResponse> {
        unimplemented()
    }
    async fn revert(&self, _: Request<pb::RevertRequest>) -> Reply<pb::JobResponse> {
        unimplemented()
    }
    async fn interrupt(&self, _: Request<pb::JobActionRequest>) -> Reply<pb::JobResponse> {
        unimplemented()
    }
    async fn get_job(&self, req: Request<pb::JobActionRequest>) -> Reply<pb::JobResponse> {
        let r = req.into_inner();
        self.0.user(r.session.as_ref())?;
        let logs = self.0.logs.lock().unwrap();
        let log = logs
            .get(&r.job_id)
            .ok_or_else(|| Status::not_found("job not found"))?;
        let job = pb::Job {
            id: r.job_id,
            last_seq: log.len() as u64,
            ..Default::default()
        };
        Ok(Response::new(pb::JobResponse { job: Some(job) }))
    }
    async fn list_jobs(&self, _: Request<pb::ListJobsRequest>) -> Reply<pb::ListJobsResponse> {
        unimplemented()
    }
    async fn get_queue(&self, _: Request<pb::GetQueueRequest>) -> Reply<pb::QueueResponse> {
        unimplemented()
    }
    async fn get_log(&self, req: Request<pb::GetLogRequest>) -> Reply<pb::GetLogResponse> {
        self.0.counters.get_log.fetch_add(1, Ordering::SeqCst);
        let r = req.into_inner();
        self.0.user(r.session.as_ref())?;
        let limit = if r.limit == 0 { 1000 } else { r.limit as usize };
        let (records, more) = self.0.stored(r.job_id, r.after_seq, limit)?;
        Ok(Response::new(pb::GetLogResponse {
            records,
            more,
            next_hidden: 0,
        }))
    }

    type WatchStream = ReceiverStream<Result<pb::Event, Status>>;

    async fn watch(&self, req: Request<pb::WatchRequest>) -> Reply<Self::WatchStream> {
        let r = req.into_inner();
        let user = self.0.user(r.session.as_ref())?;
        if r.job_id != 0 {
            self.0.stored(r.job_id, 0, 0)?;
        }
        self.0.counters.watch_opened.fetch_add(1, Ordering::SeqCst);
        // Subscribe before answering: nothing published after the open is missed.
        let subs = Subs {
            crash: self.0.crash.lock().unwrap().clone(),
            revocations: self.0.revocations.subscribe(),
            events: self.0.events.subscribe(),
            live: self.0.live.subscribe(),
        };
        if r.job_id != 0 {
            self.0.job_watches.lock().unwrap().push((r.job_id, user));
        }
        let (tx, rx) = mpsc::channel(64);
        let token = r.session.map(|s| s.token).unwrap_or_default();
        tokio::spawn(watch_stream(
            self.0.clone(),
            subs,
            tx,
            token,
            r.job_id,
            r.after_seq,
        ));
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

struct Subs {
    crash: CancellationToken,
    revocations: broadcast::Receiver<(String, String, bool)>,
    events: broadcast::Receiver<pb::Event>,
    live: broadcast::Receiver<Arc<pb::LogRecords>>,
}

fn event(kind: pb::event::Kind) -> Result<pb::Event, Status> {
    Ok(pb::Event { kind: Some(kind) })
}

/// One Watch stream, as the executor's contract describes it.
async fn watch_stream(
    shared: Arc<Shared>,
    subs: Subs,
    tx: Tx,
    token: String,
    job: u64,
    after: u64,
) {
    let Subs {
        crash,
        mut revocations,
        mut events,
        mut live,
    } = subs;
    let mut next = catch_up(&shared, &tx, job, after).await;
    let queue = pb::QueueChanged {
        queue: Some(pb::QueueResponse::default()),
    };
    let _ = tx.send(event(pb::event::Kind::Queue(queue))).await;
    let last = loop {
        tokio::select! {
            _ = crash.cancelled() => break Some(Err(Status::unavailable("executor stopped"))),
            _ = tx.closed() => break None,
            rev = revocations.recv() => match rev {
                Ok((t, _, true)) if t == token => break Some(Err(Status::unauthenticated("session ended"))),
                Ok((t, reason, false)) if t == token => {
                    break Some(event(pb::event::Kind::SessionRevoked(pb::SessionRevoked { reason })));
                }
                _ => {}
            },
            Ok(ev) = events.recv() => {
                let _ = tx.send(Ok(ev)).await;
            }
            batch = live.recv(), if job != 0 => forward(&shared, &tx, job, batch, &mut next).await,
        }
    };
    if let Some(last) = last {
        let _ = tx.send(last).await;
    }
}

/// Stored records after `after`; returns the next seq to send.
async fn catch_up(shared: &Shared, tx: &Tx, job: u64, after: u64) -> u64 {
    let mut next = after + 1;
    if job == 0 {
        return next;
    }
    let (stored, _) = shared.stored(job, after, usize::MAX).unwrap_or_default();
    for chunk in stored.chunks(256) {
        next = chunk.last().map_or(next, |r| r.seq + 1);
        let records = chunk.to_vec();
        let _ = tx
            .send(event(pb::event::Kind::Log(pb::LogRecords {
                job_id: job,
                records,
            })))
            .await;
    }
    next
}

/// A live batch, without what was already sent.
async fn forward(
    shared: &Shared,
    tx: &Tx,
    job: u64,
    batch: Result<Arc<pb::LogRecords>, broadcast::error::RecvError>,
    next: &mut u64,
) {
    match batch {
        Ok(b) if b.job_id == job => {
            let records: Vec<_> = b
                .records
                .iter()
                .filter(|r| r.seq >= *next)
                .cloned()
                .collect();
            if let Some(last) = records.last() {
                *next = last.seq + 1;
                let _ = tx
                    .send(event(pb::event::Kind::Log(pb::LogRecords {
                        job_id: job,
                        records,
                    })))
                    .await;
            }
        }
        Err(broadcast::error::RecvError::Lagged(_)) => {
            shared.counters.lagged.fetch_add(1, Ordering::SeqCst);
        }
        _ => {}
    }
}
