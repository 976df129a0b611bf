//! A thin Microsoft Graph v1.0 client: bearer token, `@odata.nextLink` paging, retries on 429
//! (honouring `Retry-After`) and 503/504 with backoff, a bounded wait for Graph's replication delay
//! (404 right after create), and errors that carry Graph's code, message and request id.
//! Calls are counted under the service "graph".

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::calls::CallCounter;
use super::retry::{Failure, RetryPolicy};

pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com";

/// The Graph base URL (without `/v1.0`), overridable for tests and demos.
pub fn graph_base() -> String {
    std::env::var("KIRO_ONBOARD_GRAPH_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_GRAPH_URL.into())
        .trim_end_matches('/')
        .to_owned()
}

/// A Graph call that failed after retries.
#[derive(Debug, Clone)]
pub struct GraphError {
    /// HTTP status, 0 when no answer came.
    pub status: u16,
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
    pub method: String,
    pub path: String,
}

impl std::fmt::Display for GraphError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.status == 0 {
            write!(f, "{} {}: {}", self.method, self.path, self.message)
        } else {
            write!(f, "{} {}: HTTP {} {}: {}", self.method, self.path, self.status, self.code, self.message)?;
            if let Some(id) = &self.request_id {
                write!(f, " (request-id {id})")?;
            }
            Ok(())
        }
    }
}

impl GraphError {
    pub fn is_not_found(&self) -> bool {
        self.status == 404
    }

    /// No usable answer to a call that was sent (connection lost, timeout, gateway error): it may
    /// or may not have happened.
    pub fn answer_lost(&self) -> bool {
        matches!(self.status, 0 | 502 | 503 | 504)
    }

    /// What the admin can do about it: which permission or directory role is missing on 403,
    /// what to do about an expired session on 401.
    pub fn hint(&self) -> Option<String> {
        match self.status {
            401 => Some("the Graph session is not valid: run `kiro-onboard login entra --tenant TENANT` again, or check `entra.client_credentials`".into()),
            403 => Some(format!("Graph refused this call: {}", required_permission(&self.method, &self.path))),
            _ => None,
        }
    }

    pub fn into_error(self, operation: &str) -> crate::error::Error {
        let hint = self.hint();
        crate::error::Error::Remote {
            service: "graph".into(),
            operation: operation.into(),
            message: self.to_string(),
            hint,
        }
    }
}

/// The least Graph permission (and directory role) a call needs (reference §1.5).
pub fn required_permission(method: &str, path: &str) -> String {
    let role = "and the signed-in admin needs the directory role Application Administrator, Cloud Application Administrator or Global Administrator";
    if path.contains("/synchronization") {
        format!(
            "it needs the Graph permission Synchronization.ReadWrite.All (or Application.ReadWrite.OwnedBy), {role}"
        )
    } else if path.contains("/appRoleAssignedTo") {
        format!("it needs AppRoleAssignment.ReadWrite.All and Application.Read.All (or Directory.Read.All), {role}")
    } else if path.starts_with("/groups") {
        "it needs the Graph permission Group.Read.All (or Directory.Read.All)".into()
    } else if path.starts_with("/organization") {
        "it needs Organization.Read.All or Directory.Read.All (or User.Read when signed in)".into()
    } else if method == "GET" {
        "it needs Application.Read.All (or Application.ReadWrite.All / Directory.Read.All)".into()
    } else {
        format!("it needs the Graph permission Application.ReadWrite.All, {role}")
    }
}

pub struct Graph {
    http: reqwest::Client,
    /// `{base}/v1.0`
    root: String,
    token: SecretString,
    calls: Arc<CallCounter>,
    policy: RetryPolicy,
    /// How long to keep retrying 404/409 on objects created moments ago.
    pub replication_wait: Duration,
}

impl Graph {
    pub fn new(token: SecretString, calls: Arc<CallCounter>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(super::call_timeout(Duration::from_secs(60)))
            .connect_timeout(Duration::from_secs(15))
            .build()
            .unwrap_or_default();
        let replication_wait = std::env::var("KIRO_ONBOARD_GRAPH_REPLICATION_WAIT")
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_secs)
            .unwrap_or(Duration::from_secs(300));
        Graph {
            http,
            root: format!("{}/v1.0", graph_base()),
            token,
            calls,
            policy: RetryPolicy { max_attempts_throttled: 16, ..RetryPolicy::default() },
            replication_wait,
        }
    }

    /// One call, retried on throttling, 503/504 and transport errors. `path` is relative to
    /// `/v1.0` or a full URL (a nextLink). 204 and empty bodies give `Value::Null`.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Value, GraphError> {
        let url = if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.root)
        };
        let shown = path.strip_prefix(&self.root).unwrap_or(path).split('?').next().unwrap_or(path).to_owned();
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.calls.record("graph");
            let mut request = self.http.request(method.clone(), &url).bearer_auth(self.token.expose_secret());
            if !query.is_empty() {
                request = request.query(query);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let failure = match request.send().await {
                Err(e) => {
                    // A POST creates: once sent it may have happened, so it is sent again only
                    // when the connection was never made. Reads and PATCH/PUT/DELETE are safe to
                    // repeat whatever became of the first attempt.
                    let failure = if method == Method::POST && !e.is_connect() {
                        Failure::Permanent
                    } else if e.is_timeout() {
                        Failure::Transient
                    } else {
                        Failure::Unreachable
                    };
                    let error = GraphError {
                        status: 0,
                        code: String::new(),
                        message: e.to_string(),
                        request_id: None,
                        method: method.to_string(),
                        path: shown.clone(),
                    };
                    (failure, error)
                }
                Ok(response) => {
                    let status = response.status();
                    let request_id =
                        response.headers().get("request-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let text = response.text().await.unwrap_or_default();
                    if status.is_success() {
                        return Ok(if text.trim().is_empty() {
                            Value::Null
                        } else {
                            serde_json::from_str(&text).unwrap_or(Value::Null)
                        });
                    }
                    let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    let error = GraphError {
                        status: status.as_u16(),
                        code: parsed["error"]["code"].as_str().unwrap_or_default().to_owned(),
                        message: parsed["error"]["message"]
                            .as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| text.chars().take(300).collect()),
                        request_id: request_id
                            .or_else(|| parsed["error"]["innerError"]["request-id"].as_str().map(str::to_owned)),
                        method: method.to_string(),
                        path: shown.clone(),
                    };
                    let failure = match status {
                        StatusCode::TOO_MANY_REQUESTS => Failure::Throttled { after: retry_after },
                        StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT if retry_after.is_some() => {
                            Failure::Throttled { after: retry_after }
                        }
                        // A gateway error on a POST does not say whether it was created.
                        StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT | StatusCode::BAD_GATEWAY
                            if method == Method::POST =>
                        {
                            Failure::Permanent
                        }
                        StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT | StatusCode::BAD_GATEWAY => {
                            Failure::Transient
                        }
                        _ => Failure::Permanent,
                    };
                    (failure, error)
                }
            };
            let (failure, error) = failure;
            match self.policy.delay(failure, attempt) {
                Some(wait) => {
                    tracing::info!("graph {} {}: {} — retrying in {:?}", error.method, error.path, error.code, wait);
                    tokio::time::sleep(wait).await;
                }
                None => return Err(error),
            }
        }
    }

    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, GraphError> {
        self.call(Method::GET, path, query, None).await
    }

    /// Every item of a collection, following `@odata.nextLink` verbatim until it is absent.
    pub async fn list(&self, path: &str, query: &[(&str, &str)]) -> Result<Vec<Value>, GraphError> {
        let mut items = Vec::new();
        let mut page = self.get(path, query).await?;
        loop {
            if let Some(values) = page["value"].as_array() {
                items.extend(values.iter().cloned());
            }
            match page["@odata.nextLink"].as_str() {
                Some(next) => {
                    let next = next.to_owned();
                    page = self.call(Method::GET, &next, &[], None).await?;
                }
                None => return Ok(items),
            }
        }
    }

    /// A call on an object created moments ago: 404 (and 409) mean "not replicated yet" and are
    /// retried with backoff for at most `replication_wait`, as Terraform's azuread provider does.
    pub async fn fresh(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, GraphError> {
        let started = Instant::now();
        let mut wait = Duration::from_millis(250);
        loop {
            match self.call(method.clone(), path, &[], body).await {
                Err(e) if (e.status == 404 || e.status == 409) && started.elapsed() + wait < self.replication_wait => {
                    tracing::info!("graph {method} {path}: {} (replication delay) — retrying in {wait:?}", e.status);
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
                other => return other,
            }
        }
    }
}

/// Escapes a value for an OData string literal (`'` → `''`).
pub fn odata_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn quotes_odata_literals() {
        assert_eq!(super::odata_quote("O'Brien"), "'O''Brien'");
    }

    #[test]
    fn a_refused_sync_call_names_the_permission_and_role() {
        let text = super::required_permission("POST", "/servicePrincipals/x/synchronization/jobs");
        assert!(text.contains("Synchronization.ReadWrite.All") && text.contains("Application Administrator"));
    }
}
