//! `spiderpig-executor ctl`, the real binary, against an in-process executor
//! (injected clock, real OpenID Provider, fake-scap): every admin verb, its
//! table and `--json` output, and its effect as deployers see it (their Watch
//! streams, their tokens, their jobs) and as the audit trail records it.
//! SECURITY-TESTS.md cases 18, 28, 29, 42, 47, 48.
//!
//! Time moves only with the harness's `ManualClock`; waits on real processes
//! (ctl, fake-scap) and on Watch streams are bounded polls.

#[path = "executor_admin/boundary.rs"]
mod boundary;
#[path = "executor_admin/freeze.rs"]
mod freeze;
#[path = "executor_admin/jobs.rs"]
mod jobs;
#[path = "executor_admin/queue.rs"]
mod queue;
#[path = "executor_admin/sessions.rs"]
mod sessions;
#[path = "executor_admin/support.rs"]
mod support;
