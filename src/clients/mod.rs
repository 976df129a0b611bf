//! Thin clients for the remote systems (AWS, DNS), and what they share: call counting, rate limiting and
//! retries.

pub mod aws;
pub mod calls;
pub mod dns;
pub mod entra_auth;
pub mod graph;
pub mod jwt;
pub mod okta;
pub mod rate_limit;
pub mod retry;
pub mod scim;
