//! The contract between spiderpig-web and spiderpig-executor.
//!
//! - [`v1`]: the generated messages and services.
//! - [`vocab`]: the wire numbers of the policy's states, stages, kinds and
//!   roles, in one place for both processes.
pub mod v1 {
    tonic::include_proto!("spiderpig.v1");
}

pub mod vocab;
