//! SIGINT ends the run with status 130 at once, whatever the main thread is doing
//! (blocked reading an answer, sleeping, or looping forever in the `hang`
//! scenario), as Python's KeyboardInterrupt ends scap.
//!
//! No signal handler is installed (that would need `unsafe`): SIGINT is blocked in
//! every thread and one thread waits for it with `sigwait`. SIGTERM and SIGKILL
//! keep their default action. Must run before any other thread is started, so
//! that every thread inherits the blocked mask.

use nix::sys::signal::{SigSet, Signal};

use crate::protocol;

pub fn exit_130_on_sigint() -> std::io::Result<()> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.thread_block().map_err(std::io::Error::from)?;
    std::thread::Builder::new()
        .name("sigint".into())
        .spawn(move || {
            while set.wait() != Ok(Signal::SIGINT) {}
            protocol::exit_after_signal(130)
        })
        .map(drop)
}
