//! One integration-test binary: every test runs the real kiro-onboard against real local servers.

mod cli;
mod console;
mod entra;
mod harness;
mod identity_center;
mod kms;
mod scim;
mod validate;
