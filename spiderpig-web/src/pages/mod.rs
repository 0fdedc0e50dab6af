//! Server-rendered pages, usable before any script runs; the page script
//! only makes them live. Trust: all output is escaped by maud.
//!
//! Each page module documents, at its top, the ids, classes, `data-`
//! attributes and form shapes the page script relies on; [`vocab`] is the
//! data block of words every page carries for it.

pub mod dashboard;
pub mod deploy;
pub mod history;
pub mod job;
pub mod layout;
pub mod login;
pub mod parts;
#[cfg(test)]
mod test_support;
pub mod vocab;
