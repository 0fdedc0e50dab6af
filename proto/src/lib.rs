//! The contract between spiderpig-web and spiderpig-executor.
pub mod v1 {
    tonic::include_proto!("spiderpig.v1");
}
