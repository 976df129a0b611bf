//! Test helpers: a fluent builder that runs the real binary, and real local servers.

pub mod dns;
pub mod moto;
pub mod server;
pub mod test;
pub mod user;

pub use moto::{FaultProxy, Moto};
pub use test::Test;

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

pub fn repo_root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
