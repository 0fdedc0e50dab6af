//! Server-rendered pages, usable before any script runs; the page script
//! only makes them live. Trust: all output is escaped by maud.

pub mod layout;
pub mod login;
