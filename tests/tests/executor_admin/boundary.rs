//! The edges of the admin surface: `ctl audit`, the executor socket that
//! serves no admin verb (case 29), `ctl` and the database file (case 42),
//! hostile reasons in the audit trail (case 47), and `ctl`'s own errors
//! (no executor, not an admin: case 28).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use spiderpig_client::unix_channel;
use spiderpig_proto::v1 as pb;
use spiderpig_proto::v1::admin_client::AdminClient;
use spiderpig_tests::executor::Harness;
use tonic::Code;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_lists_admin_actions_with_the_os_user_as_actor() -> anyhow::Result<()> {
    let h = start().await?;
    let ctl = Ctl::new(&h);
    let _d1 = sign_in(&h, "deployer1").await?;
    ctl.ok(&["freeze", "--reason", "incident 42"]).await;
    ctl.ok(&["unfreeze", "--reason", "incident over"]).await;
    ctl.ok(&["logout", "deployer1", "--reason", "done for today"])
        .await;

    let json = ctl.json(&["audit"]).await;
    let records = json["records"].as_array().expect("records");
    let admin: Vec<_> = records
        .iter()
        .filter(|r| text(&r["action"]).starts_with("admin."))
        .collect();
    let seen: Vec<(&str, &str, &str)> = admin
        .iter()
        .map(|r| (text(&r["actor"]), text(&r["action"]), text(&r["reason"])))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("admin:root", "admin.freeze", "incident 42"),
            ("admin:root", "admin.unfreeze", "incident over"),
            ("admin:root", "admin.logout", "done for today"),
        ]
    );
    for r in &admin {
        assert_eq!(text(&r["client_addr"]), "admin.sock");
        assert_eq!(r["success"], true);
        assert!(r["at_ms"].as_i64().expect("at_ms") > 0);
    }
    // Oldest first, numbered without gaps; login records are there too.
    let seqs: Vec<u64> = records.iter().map(|r| int(&r["seq"])).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    assert!(records.iter().any(|r| r["action"] == "login.idp_success"));

    let table = ctl.ok(&["audit"]).await;
    for (action, reason) in [
        ("admin.freeze", "incident 42"),
        ("admin.unfreeze", "incident over"),
        ("admin.logout", "done for today"),
    ] {
        let line = table
            .lines()
            .find(|l| l.contains(action))
            .unwrap_or_else(|| panic!("no {action} in:\n{table}"));
        assert!(line.contains("admin:root"), "{line}");
        assert!(line.contains("admin.sock"), "{line}");
        assert!(line.trim_end().ends_with(reason), "{line}");
    }
    // --since: a duration back from now, or a time.
    let recent = ctl.json(&["audit", "--since", "1d"]).await;
    assert_eq!(recent["records"], json["records"]);
    assert_eq!(
        ctl.ok(&["audit", "--since", "2100-01-01T00:00:00Z"]).await,
        "No audit records.\n"
    );
    let first_two = ctl.json(&["audit", "--limit", "2"]).await;
    let got: Vec<u64> = first_two["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| int(&r["seq"]))
        .collect();
    assert_eq!(got, seqs[..2]);
    Ok(())
}

/// Each call's status code (`Ok` for an answer).
macro_rules! codes {
    ($client:ident: $($method:ident($request:expr)),* $(,)?) => {
        vec![$(match $client.$method($request).await {
            Ok(_) => Code::Ok,
            Err(s) => s.code(),
        }),*]
    };
}

/// Every Admin method, called on `client`; each status code.
async fn every_admin_call(client: &mut AdminClient<tonic::transport::Channel>) -> Vec<Code> {
    use pb::logout_user_request::Who;
    let reason = || "test".to_string();
    let user = || "deployer1".to_string();
    codes![client:
        status(pb::StatusRequest {}),
        freeze(pb::FreezeRequest { reason: reason(), until_ms: 0 }),
        unfreeze(pb::UnfreezeRequest { reason: reason() }),
        ban(pb::BanRequest { username: user(), reason: reason() }),
        unban(pb::UnbanRequest { username: user(), reason: reason() }),
        logout_user(pb::LogoutUserRequest { who: Some(Who::Everyone(true)), reason: reason() }),
        list_sessions(pb::ListSessionsRequest {}),
        list_queue(pb::ListQueueRequest {}),
        queue_move(pb::QueueMoveRequest { job_id: 2, position: 1, reason: reason() }),
        queue_remove(pb::QueueRemoveRequest { job_id: 2, reason: reason() }),
        release(pb::ReleaseRequest { job_id: 1, reason: reason() }),
        admin_interrupt(pb::AdminInterruptRequest { job_id: 1, reason: reason() }),
        admin_finish(pb::AdminFinishRequest { job_id: 1, reason: reason() }),
        admin_list_jobs(pb::AdminListJobsRequest::default()),
        admin_get_log(pb::AdminGetLogRequest {
            job_id: 1, after_seq: 0, limit: 0, include_sensitive: true, reason: reason(),
            after_hidden: 0,
        }),
        reset_totp(pb::ResetTotpRequest { username: user(), reason: reason() }),
        audit(pb::AuditRequest { since_ms: 0, limit: 0 }),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_service_is_not_served_on_the_executor_socket() -> anyhow::Result<()> {
    let h = start().await?;
    let ctl = Ctl::new(&h);
    let mut d1 = sign_in(&h, "deployer1").await?;
    let mut d2 = sign_in(&h, "deployer2").await?;
    let j1 = d1.submit(&h, &[42]).await?.id;
    let j2 = d2.submit(&h, &[43]).await?.id;
    let mut tab = Watch::open(&h, &d1.user.token).await?;
    let audit_before = audit(&h).await?;
    let queue_before = queue(&h).await?;

    // The harness's web uid is root, so this connection passes the peer
    // check of executor.sock: only the missing service stands in the way.
    let mut wrong = AdminClient::new(unix_channel(h.config.sockets.executor.clone()));
    let codes = every_admin_call(&mut wrong).await;
    assert_eq!(codes.len(), 17, "every Admin method");
    assert!(codes.iter().all(|c| *c == Code::Unimplemented), "{codes:?}");
    let via_ctl = Ctl::new(&h)
        .at(h.config.sockets.executor.clone())
        .run(&["freeze", "--reason", "sneaky"])
        .await;
    assert_eq!(via_ctl.code, Some(1), "{via_ctl:?}");

    // Nothing changed: no freeze, no ban, no logout, same queue, no record.
    assert_eq!(field(&ctl.ok(&["status"]).await, "freeze"), "none");
    assert!(!token_refused(&h, &d1.user.token).await);
    assert!(!token_refused(&h, &d2.user.token).await);
    assert_eq!(queue(&h).await?, queue_before);
    assert_eq!(queued_ids(&queue_before), vec![j2]);
    assert_eq!(d1.state(j1).await?, pb::JobState::AwaitingReady);
    assert_eq!(audit(&h).await?, audit_before);
    assert!(
        tab.expect(PROMPTLY, |k| match k {
            pb::event::Kind::Heartbeat(_) => None,
            other => Some(format!("{other:?}")),
        })
        .await
        .is_err(),
        "watchers heard of no change"
    );

    // The same calls on admin.sock are served.
    let mut right = h.admin();
    let codes = every_admin_call(&mut right).await;
    assert!(codes.iter().all(|c| *c != Code::Unimplemented), "{codes:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctl_never_opens_the_database_file() -> anyhow::Result<()> {
    let h = start().await?;
    let ctl = Ctl::new(&h);
    let db = h.config.database_path();
    let db = db.to_str().expect("UTF-8 path");
    assert!(Path::new(db).exists(), "the executor has its database");
    let strace = which("strace").expect(
        "strace is required for case 42 (scripts/lib/install.sh installs it): \
         apt-get install strace",
    );

    let trace = h.dir.path().join("ctl.strace");
    let trace_arg = trace.to_str().expect("UTF-8 path").to_string();
    for verb in [&["status"][..], &["--json", "audit"], &["sessions"]] {
        let wrapper = [
            strace.as_str(),
            "-f",
            "-e",
            "trace=open,openat,openat2",
            "-o",
            &trace_arg,
        ];
        let out = output(ctl.command(Some(&wrapper), verb)).await;
        assert_eq!(out.code, Some(0), "ctl {verb:?} under strace: {out:#?}");
        let log = std::fs::read_to_string(&trace)?;
        // The trace saw ctl's own opens (the dynamic loader at least), so
        // an open of the database would have been seen.
        assert!(log.contains("openat("), "strace recorded nothing:\n{log}");
        assert!(
            !log.contains(db),
            "ctl {verb:?} opened the database:\n{log}"
        );
        let state_dir = h.config.store.state_dir.to_str().expect("UTF-8 path");
        assert!(
            !log.contains(state_dir),
            "ctl {verb:?} looked into the state dir:\n{log}"
        );
    }
    // It did reach the executor: status names the file it did not open.
    assert_eq!(field(&ctl.ok(&["status"]).await, "state file"), db);
    Ok(())
}

/// An executable on PATH.
fn which(name: &str) -> Option<String> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| {
            p.metadata()
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
        .map(|p| p.display().to_string())
}

/// A reason with a line break, a colour escape and JSON (case 47).
const HOSTILE: &str = "evil\n\u{1b}[31m{\"x\":1}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_reason_is_one_audit_record_printed_on_one_line() -> anyhow::Result<()> {
    let h = start().await?;
    let ctl = Ctl::new(&h);
    let before = audit(&h).await?.len();

    // Reasons are one line of printable text (Admin contract): refused, with
    // a clear message, and nothing changes...
    let refused = ctl.fails(&["freeze", "--reason", HOSTILE]).await;
    assert!(refused.stderr.contains("reason"), "{refused:?}");
    assert!(!refused.stderr.contains('\u{1b}'), "{refused:?}");
    assert_eq!(ctl.json(&["status"]).await["freeze"]["active"], false);

    // ...but the attempt is one audit record holding the reason as given.
    let records = audit(&h).await?;
    let new = &records[before..];
    assert_eq!(new.len(), 1, "{new:#?}");
    let record = &new[0];
    assert_eq!(record.action, "admin.freeze");
    assert_eq!(record.actor, "admin:root");
    assert!(!record.success);
    assert!(record.reason.contains(HOSTILE), "{:?}", record.reason);

    // `ctl audit`: one line per record, the escapes visible, no raw ESC.
    let table = ctl.ok(&["audit"]).await;
    assert!(!table.contains('\u{1b}'), "raw ESC in:\n{table}");
    assert_eq!(table.lines().count(), records.len() + 1, "{table}");
    let line = table
        .lines()
        .find(|l| l.contains("admin.freeze"))
        .expect("the record");
    assert!(line.contains(r#"evil\n\x1b[31m{"x":1}"#), "{line}");
    let json = ctl.ok(&["--json", "audit"]).await;
    assert!(!json.contains('\u{1b}'), "raw ESC in:\n{json}");
    let parsed: serde_json::Value = serde_json::from_str(&json)?;
    let stored = parsed["records"]
        .as_array()
        .expect("records")
        .iter()
        .find(|r| r["action"] == "admin.freeze")
        .expect("the record");
    assert!(text(&stored["reason"]).contains(HOSTILE));

    // JSON, quotes and backslashes on one line are a valid reason: stored
    // and shown exactly, still one record.
    let odd = r#"{"x":1} "quoted" \x1b[31m not an escape"#;
    ctl.ok(&["freeze", "--reason", odd]).await;
    let frozen = ctl.json(&["status"]).await;
    assert_eq!(text(&frozen["freeze"]["reason"]), odd);
    let records = audit(&h).await?;
    assert_eq!(records.len(), before + 2);
    let last = records.last().expect("a record");
    assert_eq!(
        (last.action.as_str(), last.reason.as_str()),
        ("admin.freeze", odd)
    );
    assert!(last.success);
    let table = ctl.ok(&["audit"]).await;
    assert_eq!(table.lines().count(), records.len() + 1, "{table}");
    assert!(
        table
            .lines()
            .last()
            .expect("a row")
            .ends_with(r#"{"x":1} "quoted" \\x1b[31m not an escape"#),
        "a backslash is doubled so no escape can be faked:\n{table}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctl_says_the_executor_is_not_running_when_its_socket_is_gone() -> anyhow::Result<()> {
    let mut h = start().await?;
    let ctl = Ctl::new(&h);
    ctl.ok(&["status"]).await;
    h.shutdown().await;
    assert!(!ctl.socket.exists());
    for verb in [&["status"][..], &["freeze", "--reason", "x"], &["audit"]] {
        let out = ctl.fails(verb).await;
        assert!(
            out.stderr
                .starts_with("spiderpig-executor is not running: no socket at"),
            "{out:?}"
        );
        assert!(out.stderr.contains(&ctl.socket.display().to_string()));
    }
    Ok(())
}

fn chmod(path: &Path, mode: u32) -> std::io::Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctl_run_by_a_non_admin_is_refused_and_the_refusal_is_audited() -> anyhow::Result<()> {
    let h = start().await?;
    let ctl = Ctl::new(&h);
    let nobody = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ];

    // As installed, the socket's modes keep strangers out: the kernel
    // refuses the connect, so the executor never sees them.
    let out = output(ctl.command(Some(&nobody), &["status"])).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.starts_with("permission denied on "), "{out:?}");
    assert!(audited(&h, "peer.rejected").await?.is_empty());

    // With the directory and socket opened to everyone (this test only), the
    // executor's SO_PEERCRED check is what refuses them, and audits it.
    let run = h.config.sockets.admin.parent().expect("socket dir");
    chmod(h.dir.path(), 0o711)?;
    chmod(run, 0o777)?;
    chmod(&h.config.sockets.admin, 0o666)?;
    for verb in [&["status"][..], &["freeze", "--reason", "let me in"]] {
        let out = output(ctl.command(Some(&nobody), verb)).await;
        assert_eq!(out.code, Some(1), "{out:?}");
        assert!(out.stdout.is_empty(), "{out:?}");
        // The executor closes the connection before reading a byte, so ctl
        // cannot be told why; it says who may use the socket.
        let said = out.stderr.to_lowercase();
        assert!(
            said.contains("permission denied")
                || said.contains("not an admin")
                || said.contains("only root and members of the admin group"),
            "{out:?}"
        );
    }
    let rejected = eventually_audited(&h, "peer.rejected", 2).await?;
    for r in &rejected {
        assert!(r.actor.starts_with("uid:65534"), "{r:?}");
        assert_eq!(r.target, "admin.sock");
        assert!(!r.success);
    }
    assert_eq!(field(&ctl.ok(&["status"]).await, "freeze"), "none");
    assert!(
        audit(&h)
            .await?
            .iter()
            .all(|r| !r.action.starts_with("admin."))
    );
    Ok(())
}

/// Peer refusals are audited off the accept loop: poll (bounded) for `n`.
async fn eventually_audited(
    h: &Harness,
    action: &str,
    n: usize,
) -> anyhow::Result<Vec<pb::AuditRecord>> {
    spiderpig_tests::executor::eventually(SCAP_LIMIT, || async {
        audited(h, action).await.ok().filter(|r| r.len() >= n)
    })
    .await
}
