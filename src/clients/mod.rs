//! Thin clients for the remote systems (AWS, DNS), and what they share: call counting, rate limiting and
//! retries.

pub mod aws;
pub mod aws_profile;
pub mod calls;
pub mod dns;
pub mod dpop;
pub mod entra_auth;
pub mod entra_federated;
pub mod graph;
pub mod graph_model;
pub mod http;
pub mod jwt;
pub mod null_as_default;
pub mod oauth_pkce;
pub mod okta;
pub mod okta_model;
pub mod rate_limit;
pub mod retry;
pub mod scim;
pub mod settings;
pub mod sso_oidc;

/// How long one remote call may take before it counts as failed: `KIRO_ONBOARD_CALL_TIMEOUT` in
/// seconds when set (tests make it short), else `default`. Every client (AWS, Graph, Okta) uses it.
pub fn call_timeout(default: std::time::Duration) -> std::time::Duration {
    std::env::var("KIRO_ONBOARD_CALL_TIMEOUT")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(std::time::Duration::from_secs_f64)
        .unwrap_or(default)
}
