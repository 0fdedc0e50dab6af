//! The wire numbers of `spiderpig-policy`'s vocabulary: each policy enum
//! maps to its proto enum in one exhaustive `match` (a new policy state does
//! not build until it has a wire value), and a wire value maps back by
//! searching the policy's `ALL` (so the two directions cannot disagree).
//! Trust: numbers from the wire are untrusted: unknown and `UNSPECIFIED`
//! values come back as `None`, and the caller refuses or shows them as
//! unknown.

use spiderpig_policy::{JobKind, JobState, LogKind, Role, Stage};

use crate::v1 as pb;

impl From<JobState> for pb::JobState {
    fn from(s: JobState) -> Self {
        match s {
            JobState::Queued => pb::JobState::Queued,
            JobState::AwaitingReady => pb::JobState::AwaitingReady,
            JobState::Running => pb::JobState::Running,
            JobState::AwaitingInput => pb::JobState::AwaitingInput,
            JobState::AwaitingFinish => pb::JobState::AwaitingFinish,
            JobState::Done => pb::JobState::Done,
            JobState::Cancelled => pb::JobState::Cancelled,
            JobState::Expired => pb::JobState::Expired,
            JobState::FailedToStart => pb::JobState::FailedToStart,
            JobState::Interrupted => pb::JobState::Interrupted,
        }
    }
}

impl From<Stage> for pb::Stage {
    fn from(s: Stage) -> Self {
        match s {
            Stage::Queued => pb::Stage::Queued,
            Stage::Merge => pb::Stage::Merge,
            Stage::Prepare => pb::Stage::Prepare,
            Stage::TestServers => pb::Stage::TestServers,
            Stage::Canaries => pb::Stage::Canaries,
            Stage::Production => pb::Stage::Production,
            Stage::Complete => pb::Stage::Complete,
        }
    }
}

impl From<JobKind> for pb::JobKind {
    fn from(k: JobKind) -> Self {
        match k {
            JobKind::Backport => pb::JobKind::Backport,
            JobKind::Revert => pb::JobKind::Revert,
        }
    }
}

impl From<LogKind> for pb::log_record::Kind {
    fn from(k: LogKind) -> Self {
        use pb::log_record::Kind;
        match k {
            LogKind::Line => Kind::Line,
            LogKind::Redacted => Kind::Redacted,
            LogKind::Status => Kind::Status,
            LogKind::Prompt => Kind::Prompt,
            LogKind::Answer => Kind::Answer,
            LogKind::System => Kind::System,
        }
    }
}

impl From<Role> for pb::Role {
    fn from(r: Role) -> Self {
        match r {
            Role::Deployer => pb::Role::Deployer,
            Role::Admin => pb::Role::Admin,
        }
    }
}

/// The value of `all` whose wire number is `v`.
fn back<T: Copy, W: Into<i32>>(all: &[T], to_wire: impl Fn(T) -> W, v: i32) -> Option<T> {
    all.iter().copied().find(|x| to_wire(*x).into() == v)
}

/// A job state from the wire; `None` for unknown or unspecified values.
pub fn job_state(v: i32) -> Option<JobState> {
    back(&JobState::ALL, pb::JobState::from, v)
}

/// A stage from the wire; `None` for unknown or unspecified values.
pub fn stage(v: i32) -> Option<Stage> {
    back(&Stage::ALL, pb::Stage::from, v)
}

/// A job kind from the wire; `None` for unknown or unspecified values.
pub fn job_kind(v: i32) -> Option<JobKind> {
    back(&JobKind::ALL, pb::JobKind::from, v)
}

/// A log record kind from the wire; `None` for unknown or unspecified values.
pub fn log_kind(v: i32) -> Option<LogKind> {
    back(&LogKind::ALL, pb::log_record::Kind::from, v)
}

/// A role from the wire; `None` for unknown or unspecified values.
pub fn role(v: i32) -> Option<Role> {
    back(&Role::ALL, pb::Role::from, v)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every wire value but `UNSPECIFIED` has exactly one policy value and
    /// comes back to it: a state added to the proto alone fails here, one
    /// added to the policy alone does not build.
    #[test]
    fn every_wire_value_has_its_policy_word() {
        fn check<T: Copy + PartialEq + std::fmt::Debug>(
            what: &str,
            all: &[T],
            from_wire: fn(i32) -> Option<T>,
            known: impl Fn(i32) -> bool,
        ) {
            let mut mapped = 0;
            for v in 0..64 {
                match from_wire(v) {
                    Some(x) => {
                        assert!(known(v), "{what} {v} is not on the wire");
                        assert_eq!(all.iter().filter(|y| **y == x).count(), 1);
                        mapped += 1;
                    }
                    None => assert!(v == 0 || !known(v), "{what} {v} has no policy value"),
                }
            }
            assert_eq!(mapped, all.len(), "{what}: two values share a wire number");
        }
        check("job state", &JobState::ALL, job_state, |v| {
            pb::JobState::try_from(v).is_ok()
        });
        check("stage", &Stage::ALL, stage, |v| {
            pb::Stage::try_from(v).is_ok()
        });
        check("job kind", &JobKind::ALL, job_kind, |v| {
            pb::JobKind::try_from(v).is_ok()
        });
        check("log kind", &LogKind::ALL, log_kind, |v| {
            pb::log_record::Kind::try_from(v).is_ok()
        });
        check("role", &Role::ALL, role, |v| pb::Role::try_from(v).is_ok());
        assert_eq!(job_state(0), None);
        assert_eq!(
            job_state(pb::JobState::Interrupted as i32),
            Some(JobState::Interrupted)
        );
    }
}
