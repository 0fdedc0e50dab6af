//! harness

pub mod idp;
