//! The fan-out without an executor: what is serialised once, for whom.
//! Trust level: test code.

use super::*;

fn fanout() -> LogFanout {
    let executor = Executor::new(
        "/nonexistent/executor.sock".into(),
        std::time::Duration::from_secs(1),
    );
    let monitor = Monitor::from_config(&crate::monitor::config::Monitoring::default());
    let guards = SessionGuards::new(executor.clone());
    LogFanout::new(executor, 16, monitor, guards)
}

fn records(seqs: std::ops::RangeInclusive<u64>) -> Vec<pb::LogRecord> {
    seqs.map(|seq| pb::LogRecord {
        job_id: 5,
        seq,
        text: format!("line {seq}"),
        ..Default::default()
    })
    .collect()
}

fn core(f: &LogFanout, job: u64) -> Arc<FeedCore> {
    f.feeds().get(&job).expect("feed").core.clone()
}

#[tokio::test]
async fn a_batch_is_serialised_once_and_shared_by_every_watcher() {
    let f = fanout();
    let mut a = f.subscribe(5, "tok-a", &RequestContext::default());
    let mut b = f.subscribe(5, "tok-b", &RequestContext::default());
    let mut cur = seq::Cursor::new(0);
    core(&f, 5).publish(records(1..=3), &mut cur);
    let (x, y) = (a.rx.recv().await.unwrap(), b.rx.recv().await.unwrap());
    assert!(Arc::ptr_eq(&x, &y));
    assert_eq!(x.frame.as_str().as_ptr(), y.frame.as_str().as_ptr());
    assert_eq!((x.first, x.last, cur.sent()), (1, 3, 3));
    assert_eq!(f.frames_serialised(), 1);
}

#[tokio::test]
async fn overlap_after_a_reopen_is_dropped_before_broadcast() {
    let f = fanout();
    let mut a = f.subscribe(5, "tok", &RequestContext::default());
    let mut cur = seq::Cursor::new(2);
    core(&f, 5).publish(records(1..=2), &mut cur);
    core(&f, 5).publish(records(2..=4), &mut cur);
    let x = a.rx.recv().await.unwrap();
    assert_eq!((x.first, x.last), (3, 4));
    assert!(a.rx.try_recv().is_err());
    assert_eq!(f.frames_serialised(), 1);
}

#[tokio::test]
async fn the_last_watcher_leaving_ends_the_feed() {
    let f = fanout();
    let a = f.subscribe(5, "tok-a", &RequestContext::default());
    let b = f.subscribe(5, "tok-b", &RequestContext::default());
    let c = core(&f, 5);
    let Pick::Use(first, _) = f.pick(&c) else {
        panic!("no pick")
    };
    drop(a);
    let Pick::Use(second, _) = f.pick(&c) else {
        panic!("no pick")
    };
    assert_ne!(second, first);
    f.mark_dead(&c, second);
    assert!(matches!(f.pick(&c), Pick::Nobody));
    drop(b);
    assert!(c.stop.is_cancelled());
    assert!(matches!(f.pick(&c), Pick::Gone));
    assert_eq!(f.feeds_open(), 0);
}

fn viewer(name: &str, is_admin: bool) -> Viewer {
    Viewer {
        username: name.into(),
        is_admin,
    }
}

#[tokio::test]
async fn a_job_event_is_serialised_once_per_person_with_that_persons_actions() {
    let f = fanout();
    let mut tabs = [
        f.subscribe(GLOBAL, "tok-ann-1", &RequestContext::default()),
        f.subscribe(GLOBAL, "tok-ann-2", &RequestContext::default()),
        f.subscribe(GLOBAL, "tok-bob", &RequestContext::default()),
    ];
    let job = pb::Job {
        id: 7,
        owner: "ann".into(),
        state: pb::JobState::AwaitingReady as i32,
        kind: pb::JobKind::Backport as i32,
        stage: pb::Stage::Queued as i32,
        ..Default::default()
    };
    let event = pb::Event {
        kind: Some(pb::event::Kind::Job(pb::JobChanged { job: Some(job) })),
    };
    let before = f.frames_serialised();
    core(&f, GLOBAL).publish_event(&event);
    let (ann, bob) = (viewer("ann", false), viewer("bob", false));
    let mut frames = Vec::new();
    for (tab, who) in tabs.iter_mut().zip([&ann, &ann, &bob]) {
        let batch = tab.rx.recv().await.unwrap();
        frames.push(batch.frame_for(who).expect("a job frame"));
    }
    // Ann's two tabs share one serialisation; Bob has his own.
    assert_eq!(frames[0].as_str().as_ptr(), frames[1].as_str().as_ptr());
    assert_eq!(f.frames_serialised() - before, 2);
    let actions = |frame: &Utf8Bytes| {
        let v: serde_json::Value = serde_json::from_str(frame.as_str()).unwrap();
        v["job"]["actions"].clone()
    };
    assert_eq!(actions(&frames[0]), serde_json::json!(["ready", "cancel"]));
    assert_eq!(actions(&frames[2]), serde_json::json!([]));
}

#[tokio::test]
async fn a_freeze_event_is_one_frame_for_everyone() {
    let f = fanout();
    let mut a = f.subscribe(GLOBAL, "tok-a", &RequestContext::default());
    let mut b = f.subscribe(GLOBAL, "tok-b", &RequestContext::default());
    let event = pb::Event {
        kind: Some(pb::event::Kind::Freeze(pb::FreezeChanged::default())),
    };
    let before = f.frames_serialised();
    core(&f, GLOBAL).publish_event(&event);
    let x =
        a.rx.recv()
            .await
            .unwrap()
            .frame_for(&viewer("ann", false))
            .unwrap();
    let y =
        b.rx.recv()
            .await
            .unwrap()
            .frame_for(&viewer("bob", true))
            .unwrap();
    assert_eq!(x.as_str().as_ptr(), y.as_str().as_ptr());
    assert_eq!(f.frames_serialised() - before, 1);
}
