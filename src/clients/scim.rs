//! Checks a SCIM token against Kiro's SCIM endpoint before it is handed to an identity provider:
//! `ServiceProviderConfig` (is this a SCIM service?), then an authenticated list of one user (does
//! it accept this token?). The token is only ever sent in the Authorization header of these two
//! requests; results and errors name it by its fingerprint.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// What the endpoint said, told apart so the admin knows what to fix.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum ScimCheck {
    /// The endpoint is a SCIM service and accepted the token.
    Authenticated { total_users: Option<u64> },
    /// Nothing SCIM answers at this URL.
    WrongEndpoint { detail: String },
    /// The service refused the token (wrong, expired or revoked).
    TokenRejected { status: u16, detail: String },
    /// The TLS handshake failed (certificate, proxy interception).
    Tls { detail: String },
    /// No answer in time.
    Timeout { seconds: u64 },
    /// Could not connect at all.
    Unreachable { detail: String },
    /// An answer that fits none of the above.
    Unexpected { status: u16, detail: String },
}

impl ScimCheck {
    pub fn authenticated(&self) -> bool {
        matches!(self, ScimCheck::Authenticated { .. })
    }

    /// Whether the check ran and got an answer (as opposed to not reaching the service).
    pub fn answered(&self) -> bool {
        !matches!(self, ScimCheck::Tls { .. } | ScimCheck::Timeout { .. } | ScimCheck::Unreachable { .. })
    }

    pub fn summary(&self) -> String {
        match self {
            ScimCheck::Authenticated { total_users: Some(n) } => {
                format!("the token is accepted ({n} user(s) provisioned so far)")
            }
            ScimCheck::Authenticated { total_users: None } => "the token is accepted".into(),
            ScimCheck::WrongEndpoint { detail } => format!("this is not a SCIM endpoint: {detail}"),
            ScimCheck::TokenRejected { status, detail } => format!(
                "the token was rejected (HTTP {status}{})",
                if detail.is_empty() { String::new() } else { format!(": {detail}") }
            ),
            ScimCheck::Tls { detail } => format!("the TLS connection failed: {detail}"),
            ScimCheck::Timeout { seconds } => format!("no answer within {seconds} s"),
            ScimCheck::Unreachable { detail } => format!("could not connect: {detail}"),
            ScimCheck::Unexpected { status, detail } => format!("unexpected answer (HTTP {status}): {detail}"),
        }
    }

    pub fn hint(&self) -> Option<String> {
        let tokens = crate::requirements::latest().limits.scim_tokens;
        Some(match self {
            ScimCheck::Authenticated { .. } => return None,
            ScimCheck::WrongEndpoint { .. } => "copy the SCIM endpoint from the Kiro console (Settings → Identity Management); it is a URL ending in /scim/v2".into(),
            ScimCheck::TokenRejected { .. } => format!("generate a token in the Kiro console (Settings → Identity Management → Access Tokens → Generate Token); it is shown once. A profile holds at most {tokens} tokens: to rotate, generate the new one, hand it to your identity provider and check it, then revoke the old one"),
            ScimCheck::Tls { .. } => "the endpoint's certificate was not trusted: check the URL, the system clock, and any TLS-inspecting proxy (its CA must be in the system trust store)".into(),
            ScimCheck::Timeout { .. } | ScimCheck::Unreachable { .. } => "check the network path to the endpoint (firewall, proxy: HTTPS_PROXY is honoured) and the URL".into(),
            ScimCheck::Unexpected { .. } => "run again; if it persists, compare the endpoint with the one in the Kiro console".into(),
        })
    }
}

pub async fn check(endpoint: &str, token: &SecretString, timeout: Duration) -> ScimCheck {
    let client = match super::http::credential_client(endpoint, super::http::Redirects::SameOrigin)
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .build()
    {
        Ok(client) => client,
        Err(e) => return ScimCheck::Unexpected { status: 0, detail: e.to_string() },
    };
    let base = endpoint.trim_end_matches('/');
    let get = |path: &str| {
        client
            .get(format!("{base}/{path}"))
            .header(reqwest::header::ACCEPT, "application/scim+json, application/json")
            .bearer_auth(token.expose_secret())
    };

    let response = match get("ServiceProviderConfig").send().await {
        Ok(response) => response,
        Err(e) => return transport_failure(&e, timeout),
    };
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    if let Some(failed) = judge_service_provider_config(status, &body, base) {
        return failed;
    }

    let response = match get("Users?count=1").send().await {
        Ok(response) => response,
        Err(e) => return transport_failure(&e, timeout),
    };
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    judge_users(status, &body)
}

/// The answer to `GET ServiceProviderConfig`: `None` when it is a SCIM service, else what is wrong.
fn judge_service_provider_config(status: u16, body: &str, base: &str) -> Option<ScimCheck> {
    Some(match status {
        200 if has_schema(body, SPC_SCHEMA) => return None,
        200 => ScimCheck::WrongEndpoint { detail: "it answered, but not with a SCIM ServiceProviderConfig".into() },
        401 | 403 => ScimCheck::TokenRejected { status, detail: scim_detail(body) },
        404 => ScimCheck::WrongEndpoint { detail: format!("{base}/ServiceProviderConfig does not exist (HTTP 404)") },
        _ => ScimCheck::Unexpected { status, detail: scim_detail(body) },
    })
}

/// The answer to the authenticated `GET Users?count=1`: only a SCIM ListResponse is success.
fn judge_users(status: u16, body: &str) -> ScimCheck {
    match status {
        200 if has_schema(body, LIST_SCHEMA) => {
            let total = serde_json::from_str::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("totalResults").and_then(serde_json::Value::as_u64));
            ScimCheck::Authenticated { total_users: total }
        }
        200 => ScimCheck::Unexpected { status, detail: "the Users list is not a SCIM ListResponse".into() },
        401 | 403 => ScimCheck::TokenRejected { status, detail: scim_detail(body) },
        _ => ScimCheck::Unexpected { status, detail: scim_detail(body) },
    }
}

fn has_schema(body: &str, schema: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("schemas").and_then(|s| s.as_array()).map(|s| s.iter().any(|x| x.as_str() == Some(schema))))
        .unwrap_or(false)
}

/// SCIM errors carry `detail`; keep it short and never echo more than the server's words.
fn scim_detail(body: &str) -> String {
    let detail = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("detail").and_then(|d| d.as_str()).map(str::to_owned))
        .unwrap_or_default();
    detail.chars().take(200).collect()
}

fn transport_failure(error: &reqwest::Error, timeout: Duration) -> ScimCheck {
    if error.is_timeout() {
        return ScimCheck::Timeout { seconds: timeout.as_secs().max(1) };
    }
    let mut chain = Vec::new();
    let mut source: Option<&dyn std::error::Error> = Some(error);
    while let Some(e) = source {
        chain.push(e.to_string());
        source = e.source();
    }
    let text = chain.join(": ");
    let lower = text.to_lowercase();
    // rustls's own words: a bad certificate, a failed handshake, or a server that does not speak
    // TLS at all ("received corrupt message").
    let tls_words = ["certificate", "tls", "handshake", "invalid peer", "corrupt message", "alert"];
    if tls_words.iter().any(|w| lower.contains(w)) {
        ScimCheck::Tls { detail: chain.last().cloned().unwrap_or(text) }
    } else if error.is_connect() {
        ScimCheck::Unreachable { detail: chain.last().cloned().unwrap_or(text) }
    } else {
        ScimCheck::Unexpected { status: 0, detail: text }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_scim_answers_never_panic_and_only_a_list_response_authenticates() {
        let seeds: Vec<Vec<u8>> = [
            r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],"patch":{"supported":true},"bulk":{"supported":false},"filter":{"supported":true,"maxResults":100},"authenticationSchemes":[{"type":"oauthbearertoken","name":"OAuth Bearer Token"}]}"#,
            r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":12,"itemsPerPage":1,"startIndex":1,"Resources":[{"id":"u1","userName":"jdoe"}]}"#,
            r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"401","detail":"Invalid bearer token"}"#,
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        crate::fuzz::run("scim", &seeds, crate::fuzz::JSON_PIECES, 3_000, |input| {
            let body = String::from_utf8_lossy(input);
            let value: Option<serde_json::Value> = serde_json::from_str(&body).ok();
            for status in [200, 201, 204, 301, 401, 403, 404, 429, 500] {
                let first = judge_service_provider_config(status, &body, "https://scim.example/scim/v2");
                if first.is_none() {
                    assert!(status == 200 && has_schema(&body, SPC_SCHEMA));
                }
                let users = judge_users(status, &body);
                if users.authenticated() {
                    let schemas = value.as_ref().and_then(|v| v.get("schemas")).map(|s| s.to_string());
                    assert!(status == 200 && schemas.is_some_and(|s| s.contains(LIST_SCHEMA)), "{body}");
                }
                for check in first.into_iter().chain([users]) {
                    assert!(check.summary().len() < 1_000 && !check.summary().is_empty());
                }
            }
        });
    }
}
