//! Compiles `spiderpig.proto` with protox (pure Rust, no system `protoc`).
fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=spiderpig.proto");
    let fds = protox::compile(["spiderpig.proto"], ["."])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
