//! The one way to build an HTTP client that carries a credential (a token, a client secret, an API
//! key): https only, except to this machine's loopback emulators, and redirects that cannot carry
//! the credential or a form body to another host. Also the test-only base-URL overrides, which
//! may only name this machine.

use std::sync::Once;

use reqwest::Url;
use reqwest::redirect::{Attempt, Policy};

use crate::error::Error;
use crate::shared::endpoint;

/// What every request says it is (`User-Agent`): the tool and its version.
pub const USER_AGENT: &str = concat!("kiro-onboard/", env!("CARGO_PKG_VERSION"));

/// Which redirects a client follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redirects {
    /// Token endpoints: a 307/308 would resend the form (client secret included) to the new place.
    None,
    /// API clients: only to the scheme, host and port of the request that was redirected.
    SameOrigin,
}

/// A client builder for requests to `base`: https-only unless `base` is loopback (127.0.0.1, ::1,
/// localhost), with the redirect policy given and the tool's `User-Agent`. Callers add their
/// timeouts.
pub fn credential_client(base: &str, redirects: Redirects) -> reqwest::ClientBuilder {
    let loopback = Url::parse(base).is_ok_and(|url| endpoint::is_loopback(&url));
    let policy = match redirects {
        Redirects::None => Policy::none(),
        Redirects::SameOrigin => Policy::custom(same_origin_only),
    };
    reqwest::Client::builder().https_only(!loopback).redirect(policy).user_agent(USER_AGENT)
}

fn same_origin_only(attempt: Attempt<'_>) -> reqwest::redirect::Action {
    let allowed = attempt.previous().first().is_some_and(|first| endpoint::same_origin(attempt.url(), first));
    if allowed && attempt.previous().len() < 5 { attempt.follow() } else { attempt.stop() }
}

/// The variables that point kiro-onboard at local test servers instead of the vendors.
pub const TEST_OVERRIDES: &[&str] = &["KIRO_ONBOARD_GRAPH_URL", "KIRO_ONBOARD_LOGIN_URL", "KIRO_ONBOARD_OKTA_ORG_URL"];

/// Refuses a test-only override that names another machine, and notes once, on stderr, which
/// overrides are in force: an admin's tokens go to them instead of Microsoft or Okta.
pub fn check_test_overrides() -> Result<(), Error> {
    for variable in TEST_OVERRIDES {
        match endpoint::loopback_override(variable) {
            Ok(None) => {}
            Ok(Some(url)) => warn_once(variable, &url),
            Err(refused) => {
                return Err(Error::Precondition {
                    message: refused.to_string(),
                    hint: format!(
                        "unset {variable}: it exists for the local emulators; real tenants and orgs are reached at the vendor's own address"
                    ),
                });
            }
        }
    }
    Ok(())
}

fn warn_once(variable: &str, url: &Url) {
    static GRAPH: Once = Once::new();
    static LOGIN: Once = Once::new();
    static OKTA: Once = Once::new();
    let once = match variable {
        "KIRO_ONBOARD_GRAPH_URL" => &GRAPH,
        "KIRO_ONBOARD_LOGIN_URL" => &LOGIN,
        _ => &OKTA,
    };
    // A note, not a warning: only loopback is accepted (`check_test_overrides` refuses the rest),
    // and whoever set the variable did it on purpose; it is said once so nobody forgets it.
    once.call_once(|| crate::output::note(&format!("{variable} is set: talking to the local test server {url}")));
}

/// The base URL for a vendor: the test override when it names this machine, else `default`.
/// A refused override was already reported by `check_test_overrides`; it is never used.
pub fn base_url(variable: &str, default: &str) -> String {
    match endpoint::loopback_override(variable) {
        Ok(Some(url)) => url.as_str().trim_end_matches('/').to_owned(),
        _ => default.trim_end_matches('/').to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loopback server that answers every request with a redirect to `location` and records
    /// every request line it receives.
    async fn redirecting(location: String) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buffer = vec![0; 4096];
                let read = socket.read(&mut buffer).await.unwrap_or(0);
                record
                    .lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buffer[..read]).lines().next().unwrap_or("").to_owned());
                let answer = format!(
                    "HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            }
        });
        (address, seen)
    }

    #[tokio::test]
    async fn token_endpoints_follow_no_redirect_and_api_clients_only_same_origin() {
        let (attacker, attacker_seen) = redirecting("http://127.0.0.1:1/never".into()).await;
        let (token_endpoint, _) = redirecting(format!("{attacker}/stolen")).await;
        let client = credential_client(&token_endpoint, Redirects::None).build().unwrap();
        let answer =
            client.post(format!("{token_endpoint}/token")).form(&[("client_secret", "s")]).send().await.unwrap();
        assert_eq!(answer.status().as_u16(), 307);
        let api = credential_client(&token_endpoint, Redirects::SameOrigin).build().unwrap();
        let answer = api.get(format!("{token_endpoint}/api")).send().await.unwrap();
        assert_eq!(answer.status().as_u16(), 307, "a redirect to another port is not followed");
        assert!(attacker_seen.lock().unwrap().is_empty(), "{:?}", attacker_seen.lock().unwrap());
    }

    /// Every client is built here, so every request (Graph, the Microsoft login, Okta, its token
    /// endpoint, SCIM) names the tool: vendors' request logs and support cases can tell it apart.
    #[tokio::test]
    async fn every_client_sends_the_tools_user_agent() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buffer = vec![0; 4096];
            let read = socket.read(&mut buffer).await.unwrap_or(0);
            let _ = socket.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n").await;
            String::from_utf8_lossy(&buffer[..read]).to_ascii_lowercase()
        });
        let client = credential_client(&base, Redirects::None).build().unwrap();
        client.get(format!("{base}/x")).send().await.unwrap();
        let request = server.await.unwrap();
        let expected = format!("user-agent: kiro-onboard/{}\r\n", env!("CARGO_PKG_VERSION"));
        assert!(request.contains(&expected), "{request}");
        assert_eq!(USER_AGENT, concat!("kiro-onboard/", env!("CARGO_PKG_VERSION")));
    }

    #[tokio::test]
    async fn a_client_for_a_remote_host_refuses_plain_http() {
        let client = credential_client("https://acme.okta.com", Redirects::SameOrigin).build().unwrap();
        let refused = client.get("http://127.0.0.1:1/").send().await.unwrap_err();
        assert!(refused.is_builder() || refused.to_string().contains("URL scheme"), "{refused}");
    }
}
