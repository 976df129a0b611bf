//! One integration-test binary: every test runs the real kiro-onboard against real local servers.

mod canary;
mod cli;
mod console;
mod dns_route53;
mod dns_verify;
mod docs;
mod entra;
mod entra_real;
mod faults;
mod harness;
mod identity_center;
mod interrupt;
mod kms;
mod okta;
mod scim;
mod validate;
