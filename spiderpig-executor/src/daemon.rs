//! `spiderpig-executor serve`: assemble the store, the OIDC client, the
//! engine, both sockets and the deadline ticker, and run until shutdown.
//! Trust: internal.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::auth::oidc::{ClientSecret, OidcClient};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::engine::{Audit, Engine};
use crate::error::{ExecutorError, Result};
use crate::peer::{PeerPolicy, group_gid_for};
use crate::rpc::admin::AdminService;
use crate::rpc::deployer::DeployerService;
use crate::server::{Refusal, bind, incoming_with, limit_admin, limit_deployer, server_builder};
use crate::store::Store;

/// How often deadlines are checked.
const TICK: Duration = Duration::from_millis(250);
/// How long open connections may take to finish at shutdown.
const DRAIN: Duration = Duration::from_secs(5);
/// How often old logs are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Create the state directory (0700) and open the store.
pub fn open_store(config: &Config) -> Result<Store> {
    let dir = &config.store.state_dir;
    std::fs::create_dir_all(dir)
        .map_err(|e| ExecutorError::Store(format!("cannot create {}: {e}", dir.display())))?;
    set_mode(dir, 0o700)?;
    Store::open(&config.database_path())
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| ExecutorError::Store(format!("cannot chmod {}: {e}", path.display())))
}

/// Build the engine: OIDC discovery (a mismatching issuer stops the start),
/// the store, crash recovery.
pub async fn build_engine(config: Arc<Config>, clock: SharedClock) -> Result<Arc<Engine>> {
    let secret = ClientSecret::from_file(&config.oidc.client_secret_file)?;
    let oidc = OidcClient::discover(&config.oidc, secret).await?;
    let store = Arc::new(open_store(&config)?);
    let engine = Engine::new(config, store, clock, Some(Arc::new(oidc)))?;
    engine.recover()?;
    engine.advance()?;
    Ok(engine)
}

/// Serve both sockets until `shutdown` resolves.
pub async fn run(
    engine: Arc<Engine>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let config = engine.config().clone();
    let admin_gid = group_gid_for("sockets.admin_group", &config.sockets.admin_group)?;
    let web_group = match &config.sockets.executor_socket_group {
        Some(g) => Some(group_gid_for("sockets.executor_socket_group", g)?),
        None => None,
    };
    let deployer_listener = bind(&config.sockets.executor, 0o660, web_group)?;
    let admin_listener = bind(&config.sockets.admin, 0o660, Some(admin_gid))?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let refusals = spawn_refusal_auditor(engine.clone());

    let deployer = {
        let on_refusal = refusal_sink(refusals.clone(), "executor.sock");
        let incoming = incoming_with(
            deployer_listener,
            PeerPolicy::WebOnly {
                uid: config.sockets.web_uid,
            },
            config.limits.max_connections,
            on_refusal,
        );
        let svc = limit_deployer(DeployerService::new(engine.clone()), &config.limits);
        let stop = wait_for(stop_rx.clone());
        tokio::spawn(
            server_builder(&config.timeouts)
                .add_service(svc)
                .serve_with_incoming_shutdown(incoming, stop),
        )
    };
    let admin = {
        let on_refusal = refusal_sink(refusals, "admin.sock");
        let incoming = incoming_with(
            admin_listener,
            PeerPolicy::Admins {
                gid: admin_gid,
                executor_uid: nix::unistd::geteuid().as_raw(),
            },
            config.limits.max_connections,
            on_refusal,
        );
        let svc = limit_admin(AdminService::new(engine.clone()), &config.limits);
        let stop = wait_for(stop_rx.clone());
        tokio::spawn(
            server_builder(&config.timeouts)
                .add_service(svc)
                .serve_with_incoming_shutdown(incoming, stop),
        )
    };
    let ticker = tokio::spawn(tick_loop(engine.clone(), stop_rx.clone()));
    tracing::info!(
        executor = %config.sockets.executor.display(),
        admin = %config.sockets.admin.display(),
        "spiderpig-executor is serving"
    );

    shutdown.await;
    tracing::info!("shutting down");
    engine.begin_stop();
    let _ = stop_tx.send(true);
    engine.hub().close_all();
    engine.flush_all_logs();
    for task in [deployer, admin] {
        let abort = task.abort_handle();
        match tokio::time::timeout(DRAIN, task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::error!(error = %e, "gRPC server failed"),
            Ok(Err(e)) => tracing::error!(error = %e, "gRPC server task failed"),
            Err(_) => {
                // A client that keeps its connection open must not hold the
                // executor up: the state is already on disk.
                tracing::warn!("connections still open after the drain time; closing them");
                abort.abort();
            }
        }
    }
    let _ = ticker.await;
    engine.flush_all_logs();
    for path in [&config.sockets.executor, &config.sockets.admin] {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

async fn wait_for(mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

async fn tick_loop(engine: Arc<Engine>, stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(TICK);
    let mut prune = tokio::time::interval(PRUNE_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Err(e) = engine.tick() {
                    tracing::error!(error = %e, "deadline check failed");
                }
            }
            _ = prune.tick() => {
                match engine.prune_logs() {
                    Ok((jobs, records)) if jobs > 0 => tracing::info!(jobs, records, "pruned old job logs"),
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "log pruning failed"),
                }
                match engine.prune_audit() {
                    Ok(0) => {}
                    Ok(records) => tracing::info!(records, "pruned old audit records"),
                    Err(e) => tracing::error!(error = %e, "audit pruning failed"),
                }
            }
            _ = wait_for(stop.clone()) => return,
        }
    }
}

/// Peer refusals are audited off the accept loop.
fn spawn_refusal_auditor(engine: Arc<Engine>) -> mpsc::Sender<(String, Refusal)> {
    let (tx, mut rx) = mpsc::channel::<(String, Refusal)>(256);
    tokio::spawn(async move {
        while let Some((socket, refusal)) = rx.recv().await {
            let (who, why) = match &refusal {
                Refusal::Peer(p) => (format!("uid:{} ({})", p.uid, p.user), "peer not allowed"),
                Refusal::OverCapacity(p) => (
                    format!("uid:{} ({})", p.uid, p.user),
                    "connection cap reached",
                ),
                Refusal::Unidentified(e) => (format!("unknown ({e})"), "SO_PEERCRED failed"),
            };
            let result = engine.store().write(|tx| {
                engine.audit(
                    tx,
                    Audit::refused(&who, "peer.rejected", &socket, why, &socket),
                )
            });
            if let Err(e) = result {
                tracing::error!(error = %e, "cannot audit a peer refusal");
            }
        }
    });
    tx
}

fn refusal_sink(
    tx: mpsc::Sender<(String, Refusal)>,
    socket: &'static str,
) -> impl Fn(Refusal) + Send + Sync + 'static {
    move |refusal| {
        // Never block the accept loop: drop the audit record if the auditor
        // is flooded (the refusal is still in the journal).
        let _ = tx.try_send((socket.to_string(), refusal));
    }
}
