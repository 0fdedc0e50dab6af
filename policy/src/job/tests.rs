//! The job state machine's specification (a hand-written table over every state,
//! event and actor) and the one-lock-holder property; trust level: test code.

use proptest::prelude::*;

use super::*;

/// Who may cause an event, written out for the spec table below.
#[derive(Clone, Copy)]
enum Who {
    Sys,
    Own,
    OwnAdm,
    Adm,
}

/// The specification, written by hand: for each event, who may cause it and the
/// state it leads to from each state, in the order
/// queued, awaiting_ready, running, awaiting_input, awaiting_finish, done,
/// cancelled, expired, failed_to_start, interrupted. `None`: refused (NotAllowed).
fn spec() -> Vec<(JobEvent, Who, [Option<JobState>; 10])> {
    use JobEvent as E;
    use JobState::*;
    const X: Option<JobState> = None;
    let q = Some(Queued);
    let ar = Some(AwaitingReady);
    let r = Some(Running);
    let ai = Some(AwaitingInput);
    let af = Some(AwaitingFinish);
    let d = Some(Done);
    let c = Some(Cancelled);
    let e = Some(Expired);
    let f = Some(FailedToStart);
    let i = Some(Interrupted);
    vec![
        //                              Q   AR  R   AI  AF  D  C  E  F  I
        (
            E::Promote,
            Who::Sys,
            /*    */ [ar, X, X, X, X, X, X, X, X, X],
        ),
        (
            E::Ready,
            Who::Own,
            /*      */ [X, r, X, X, X, X, X, X, X, X],
        ),
        (E::ReadyTimedOut, Who::Sys, [X, e, X, X, X, X, X, X, X, X]),
        (
            E::Cancel,
            Who::OwnAdm,
            /*  */ [c, c, X, X, X, X, X, X, X, X],
        ),
        (
            E::Remove,
            Who::Adm,
            /*     */ [c, X, X, X, X, X, X, X, X, X],
        ),
        (E::StartFailed, Who::Sys, [X, X, f, X, X, X, X, X, X, X]),
        (E::PromptOpened, Who::Sys, [X, X, ai, X, X, X, X, X, X, X]),
        (
            E::PromptAnswered,
            Who::OwnAdm,
            [X, X, X, r, X, X, X, X, X, X],
        ),
        (E::ScapExited, Who::Sys, [X, X, af, af, X, X, X, X, X, X]),
        (
            E::TimedOut,
            Who::Sys,
            /*   */ [X, X, af, af, X, X, X, X, X, X],
        ),
        (
            E::Finish,
            Who::OwnAdm,
            /*  */ [X, X, X, X, d, X, X, X, X, d],
        ),
        (
            E::ExecutorRestarted,
            Who::Sys,
            [q, ar, i, i, af, X, X, X, X, i],
        ),
        (
            E::Release,
            Who::Adm,
            /*    */ [X, c, X, X, d, X, X, X, X, d],
        ),
        (E::Interrupt, Who::OwnAdm, [X, X, r, ai, X, X, X, X, X, X]),
    ]
}

fn refusal(event: JobEvent, who: Who, actor: Actor) -> Option<PolicyError> {
    let permitted = match who {
        Who::Sys => actor == Actor::System,
        Who::Own => actor == Actor::Owner,
        Who::OwnAdm => actor == Actor::Owner || actor == Actor::Admin,
        Who::Adm => actor == Actor::Admin,
    };
    match (permitted, who) {
        (true, _) => None,
        (false, Who::Sys) => Some(PolicyError::SystemOnly { event }),
        (false, Who::Adm) => Some(PolicyError::AdminOnly { event }),
        (false, _) => Some(PolicyError::NotYourJob),
    }
}

#[test]
fn every_state_event_and_actor_follows_the_spec_table() {
    let table = spec();
    assert_eq!(table.len(), JobEvent::ALL.len());
    let mut checked = 0;
    for (event, who, row) in table {
        for (state, expected) in JobState::ALL.into_iter().zip(row) {
            for actor in Actor::ALL {
                let want = match (refusal(event, who, actor), expected) {
                    (Some(err), _) => Err(err),
                    (None, Some(next)) => Ok(next),
                    (None, None) => Err(PolicyError::NotAllowed { event, state }),
                };
                assert_eq!(
                    transition(state, event, actor),
                    want,
                    "{event} from {state} by {actor:?}"
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 10 * 14 * 4);
}

#[test]
fn state_predicates_match_design() {
    use JobState::*;
    let holds = [
        AwaitingReady,
        Running,
        AwaitingInput,
        AwaitingFinish,
        Interrupted,
    ];
    let finals = [Done, Cancelled, Expired, FailedToStart];
    for s in JobState::ALL {
        assert_eq!(s.holds_lock(), holds.contains(&s), "{s}");
        assert_eq!(s.is_final(), finals.contains(&s), "{s}");
        assert_eq!(s.is_queued(), s == Queued, "{s}");
        assert!(!(s.holds_lock() && s.is_final()), "{s}");
        // A final state accepts no event at all.
        if s.is_final() {
            for e in JobEvent::ALL {
                assert!(
                    Actor::ALL.iter().all(|a| transition(s, e, *a).is_err()),
                    "{e} from {s}"
                );
            }
        }
    }
}

#[test]
fn names_round_trip() {
    let names = [
        "queued",
        "awaiting_ready",
        "running",
        "awaiting_input",
        "awaiting_finish",
        "done",
        "cancelled",
        "expired",
        "failed_to_start",
        "interrupted",
    ];
    for (state, name) in JobState::ALL.into_iter().zip(names) {
        assert_eq!(state.as_str(), name);
        assert_eq!(name.parse::<JobState>(), Ok(state));
        assert_eq!(
            serde_json::to_string(&state).unwrap(),
            format!("\"{name}\"")
        );
        assert_eq!(
            serde_json::from_str::<JobState>(&format!("\"{name}\"")).unwrap(),
            state
        );
    }
    assert_eq!(
        "Running".parse::<JobState>().unwrap_err().to_string(),
        "unknown job state: expected one of queued, awaiting_ready, running, awaiting_input, \
         awaiting_finish, done, cancelled, expired, failed_to_start, interrupted"
    );
    assert_eq!("admin".parse::<Role>(), Ok(Role::Admin));
    assert_eq!("deployer".parse::<Role>(), Ok(Role::Deployer));
    assert_eq!(
        "root".parse::<Role>().unwrap_err().to_string(),
        "unknown role: expected one of deployer, admin"
    );
    assert_eq!("revert".parse::<JobKind>(), Ok(JobKind::Revert));
    assert_eq!("redacted".parse::<LogKind>(), Ok(LogKind::Redacted));
    assert_eq!("finish".parse::<Action>(), Ok(Action::Finish));
    for bad in [
        "",
        " queued",
        "queued ",
        "QUEUED",
        "unspecified",
        "queued,done",
    ] {
        assert!(bad.parse::<JobState>().is_err(), "{bad:?}");
    }
    assert_eq!(
        serde_json::to_string(&JobEvent::PromptAnswered).unwrap(),
        "\"prompt_answered\""
    );
}

/// The words people read, for every value: a new state, stage or kind
/// without words (or with a word another already uses) fails here.
#[test]
fn every_word_is_written_once_and_has_words_for_people() {
    fn distinct<T: Copy + std::fmt::Debug>(all: &[T], f: impl Fn(T) -> &'static str) {
        let mut seen = std::collections::HashSet::new();
        for v in all {
            let w = f(*v);
            assert!(!w.trim().is_empty(), "{v:?} has no words");
            assert!(seen.insert(w), "{v:?} repeats {w:?}");
        }
    }
    distinct(&JobState::ALL, JobState::as_str);
    distinct(&JobState::ALL, JobState::words);
    distinct(&JobState::ALL, JobState::describe);
    distinct(&crate::Stage::ALL, crate::Stage::as_str);
    distinct(&crate::Stage::ALL, crate::Stage::words);
    distinct(&JobEvent::ALL, JobEvent::as_str);
    distinct(&JobEvent::ALL, JobEvent::describe);
    distinct(&JobKind::ALL, JobKind::as_str);
    distinct(&LogKind::ALL, LogKind::as_str);
    distinct(&Role::ALL, Role::as_str);
    distinct(&Action::ALL, Action::as_str);
    assert_eq!(JobState::NAMES.len(), JobState::ALL.len());
    for (v, name) in JobState::ALL.into_iter().zip(JobState::NAMES) {
        assert_eq!(v.as_str(), name);
        assert_eq!(v.to_string(), name);
    }
}

#[test]
fn may_is_transition_without_the_reason() {
    for state in JobState::ALL {
        for event in JobEvent::ALL {
            for actor in Actor::ALL {
                assert_eq!(
                    may(state, event, actor),
                    transition(state, event, actor).is_ok()
                );
            }
        }
    }
}

/// What the pages offer, written out: the rule the web used to restate.
#[test]
fn the_actions_a_viewer_is_offered() {
    use Action as A;
    use JobState::*;
    let b = JobKind::Backport;
    let cases: [(JobState, JobKind, Actor, &[Action]); 14] = [
        (Queued, b, Actor::Owner, &[A::Cancel]),
        (Queued, b, Actor::Admin, &[A::Cancel]),
        (Queued, b, Actor::OtherUser, &[]),
        (AwaitingReady, b, Actor::Owner, &[A::Ready, A::Cancel]),
        (AwaitingReady, b, Actor::Admin, &[A::Cancel]),
        (Running, b, Actor::Owner, &[A::Interrupt]),
        (AwaitingInput, b, Actor::Admin, &[A::Interrupt]),
        (AwaitingFinish, b, Actor::Owner, &[A::Finish]),
        (Interrupted, b, Actor::Admin, &[A::Finish]),
        (Interrupted, b, Actor::OtherUser, &[]),
        (Done, b, Actor::OtherUser, &[A::Revert]),
        (Done, b, Actor::Owner, &[A::Revert]),
        (Done, JobKind::Revert, Actor::Owner, &[]),
        (Cancelled, b, Actor::Owner, &[]),
    ];
    for (state, kind, actor, want) in cases {
        assert_eq!(
            actions_for(state, kind, actor),
            want,
            "{state} {kind} {actor:?}"
        );
    }
    assert!(!A::Ready.ever_allowed(b, Actor::Admin));
    assert!(A::Ready.ever_allowed(b, Actor::Owner));
    assert!(A::Finish.ever_allowed(b, Actor::Admin));
    assert!(!A::Cancel.ever_allowed(b, Actor::OtherUser));
    assert!(A::Revert.ever_allowed(b, Actor::OtherUser));
    assert!(!A::Revert.ever_allowed(JobKind::Revert, Actor::Owner));
    assert_eq!(Actor::relative("ann", true, "ann"), Actor::Owner);
    assert_eq!(Actor::relative("bob", true, "ann"), Actor::Admin);
    assert_eq!(Actor::relative("bob", false, "ann"), Actor::OtherUser);
}

#[test]
fn jobs_wait_for_a_person_and_end_badly_where_the_pages_say() {
    use JobState::*;
    for s in JobState::ALL {
        let waits = [AwaitingReady, AwaitingInput, AwaitingFinish, Interrupted].contains(&s);
        assert_eq!(s.waits_for_person(), waits, "{s}");
        let bad = [Cancelled, Expired, FailedToStart, Interrupted].contains(&s);
        assert_eq!(s.ended_badly(), bad, "{s}");
    }
}

#[test]
fn refusals_say_what_happened() {
    let cases = [
        (
            JobState::Running,
            JobEvent::Cancel,
            Actor::Owner,
            "cannot cancel a job that is running",
        ),
        (
            JobState::Running,
            JobEvent::Cancel,
            Actor::OtherUser,
            "this job belongs to someone else: only its owner or an admin may do that",
        ),
        (
            JobState::Queued,
            JobEvent::Remove,
            Actor::Owner,
            "only an admin may remove a job",
        ),
        (
            JobState::Queued,
            JobEvent::Promote,
            Actor::Admin,
            "only SpiderPig itself may promote a job, not a person",
        ),
        (
            JobState::Running,
            JobEvent::Release,
            Actor::Admin,
            "cannot release the lock of a job that is running",
        ),
    ];
    for (state, event, actor, message) in cases {
        assert_eq!(
            transition(state, event, actor).unwrap_err().to_string(),
            message
        );
    }
}

#[test]
fn two_lock_holders_are_detected() {
    let id = |n| JobId::new(n).unwrap();
    use JobState::*;
    assert_eq!(check_single_lock_holder([]), Ok(None));
    assert_eq!(
        check_single_lock_holder([(id(1), Queued), (id(2), Done)]),
        Ok(None)
    );
    assert_eq!(
        check_single_lock_holder([(id(1), Queued), (id(2), Interrupted)]),
        Ok(Some(id(2)))
    );
    assert_eq!(
        check_single_lock_holder([(id(1), Running), (id(2), Queued), (id(3), AwaitingReady)]),
        Err(PolicyError::TwoLockHolders(id(1), id(3)))
    );
}

proptest! {
    #[test]
    fn at_most_one_job_holds_the_lock(
        steps in proptest::collection::vec((0usize..5, 0usize..14, 0usize..4), 0..200),
    ) {
        let mut jobs = [JobState::Queued; 5];
        for (job, event, actor) in steps {
            let event = JobEvent::ALL[event];
            let holder = check_single_lock_holder(
                jobs.iter().enumerate().map(|(i, s)| (JobId::new(i as u64 + 1).unwrap(), *s)),
            );
            prop_assert!(holder.is_ok());
            // The caller promotes only while nobody holds the lock.
            if event == JobEvent::Promote && holder.unwrap().is_some() {
                continue;
            }
            if let Ok(next) = transition(jobs[job], event, Actor::ALL[actor]) {
                jobs[job] = next;
            }
        }
        let holders = jobs.iter().filter(|s| s.holds_lock()).count();
        prop_assert!(holders <= 1);
    }
}
