//! A thin Microsoft Graph v1.0 client: bearer token (refreshed before it expires and once on a
//! 401), `@odata.nextLink` paging, retries on 429 (honouring `Retry-After`) and 503/504 with
//! backoff, a bounded wait for Graph's replication delay (404 right after create, and the other
//! transient answers of objects created moments ago), `Content-Length: 0` on body-less writes,
//! and errors that carry Graph's code, message and request id.
//! Calls are counted under the service "graph".

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::calls::CallCounter;
use super::retry::{Failure, RetryPolicy};

pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com";

/// The Graph base URL (without `/v1.0`); `KIRO_ONBOARD_GRAPH_URL` points it at a local emulator
/// (loopback only, `clients::http`).
pub fn graph_base() -> String {
    super::http::base_url("KIRO_ONBOARD_GRAPH_URL", DEFAULT_GRAPH_URL)
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
    /// A failed answer: Graph's `error.code` and `error.message` when the body has them, else
    /// the start of whatever the body was.
    fn from_answer(status: u16, text: &str, request_id: Option<String>, method: &str, path: &str) -> Self {
        let parsed: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        GraphError {
            status,
            // Bounded: whatever a server sends ends up on the admin's terminal.
            code: parsed["error"]["code"].as_str().unwrap_or_default().chars().take(100).collect(),
            message: parsed["error"]["message"].as_str().unwrap_or(text).chars().take(1_000).collect(),
            request_id: request_id.or_else(|| parsed["error"]["innerError"]["request-id"].as_str().map(str::to_owned)),
            method: method.to_owned(),
            path: path.to_owned(),
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status == 404
    }

    /// The answers Graph gives about an object created (or changed) moments ago, which go away
    /// on their own, as hashicorp/terraform-provider-azuread retries them: 404 and 409 (not
    /// replicated yet; 409 `Error_MsaAppDoesNotExist`), 403 and 409 on synchronization calls for a
    /// new service principal (`synchronizationRetryFunc`), 400 "Not a valid reference update" on
    /// `appRoleAssignedTo` (`app_role_assignment_resource.go`), and 400
    /// `CannotDeleteOrUpdateEnabledEntitlement` from a replica that has not seen the PATCH that
    /// disabled a scope (`applications.go`).
    pub fn is_replication_lag(&self) -> bool {
        match self.status {
            404 | 409 => true,
            403 => self.path.contains("/synchronization"),
            400 => {
                self.code == "CannotDeleteOrUpdateEnabledEntitlement"
                    || self.message.contains("Not a valid reference update")
            }
            _ => false,
        }
    }

    /// Graph refusing to create what already exists: a replayed create whose first attempt
    /// landed (`appRoleAssignedTo` answers 400 "Permission being assigned already exists on the
    /// object", <https://github.com/hashicorp/terraform-provider-azuread/pull/1896>, or
    /// "EntitlementGrant entry already exists", <https://github.com/microsoftgraph/msgraph-bicep-types/issues/161>).
    pub fn already_exists(&self) -> bool {
        matches!(self.status, 400 | 409) && self.message.to_ascii_lowercase().contains("already exists")
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
            reason: None,
        }
    }
}

/// The least Graph permission (and directory role) a call needs (docs/vendor-behaviour.md §2.1.5).
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

/// A Graph access token and when it stops working.
pub struct AccessToken {
    pub token: SecretString,
    pub issued: Instant,
    pub expires_at: Instant,
}

impl AccessToken {
    pub fn new(token: SecretString, lifetime: Duration) -> Self {
        let issued = Instant::now();
        AccessToken { token, issued, expires_at: issued + lifetime }
    }

    /// Renewed this long before it expires: a minute, or a quarter of a short lifetime, so that
    /// no request leaves with a token that dies on the way (delegated tokens live 60-90 minutes;
    /// an apply that waits out replication can outlive what a cached token had left).
    fn due(&self) -> bool {
        let margin = ((self.expires_at - self.issued) / 4).min(Duration::from_secs(60));
        Instant::now() + margin >= self.expires_at
    }
}

/// Where a new token comes from. `force`: the current one was refused (401) although it had
/// not expired, so a cached one will not do.
pub trait TokenSource: Send + Sync {
    fn fetch(&self, force: bool) -> std::pin::Pin<Box<dyn Future<Output = Result<AccessToken, String>> + Send + '_>>;
}

pub struct Graph {
    http: reqwest::Client,
    /// `{base}/v1.0`
    root: String,
    token: tokio::sync::Mutex<AccessToken>,
    source: Option<Arc<dyn TokenSource>>,
    calls: Arc<CallCounter>,
    policy: RetryPolicy,
    /// How long to keep retrying 404/409 on objects created moments ago.
    pub replication_wait: Duration,
}

impl Graph {
    /// A client whose token is renewed from `source` before it expires and once on a 401.
    pub fn with_source(first: AccessToken, source: Arc<dyn TokenSource>, calls: Arc<CallCounter>) -> Self {
        let mut graph = Graph::new(SecretString::from(String::new()), calls);
        graph.token = tokio::sync::Mutex::new(first);
        graph.source = Some(source);
        graph
    }

    /// The bearer token to send: renewed first when it is due (or `force`d after a 401).
    async fn bearer(&self, force: bool) -> Result<SecretString, GraphError> {
        let mut current = self.token.lock().await;
        if let Some(source) = &self.source
            && (force || current.due())
        {
            match source.fetch(force).await {
                Ok(fresh) => *current = fresh,
                // Still usable: keep it and try again on the next call.
                Err(message) if !force && Instant::now() < current.expires_at => {
                    tracing::info!("could not renew the Graph token yet: {message}");
                }
                Err(message) => {
                    return Err(GraphError {
                        status: 401,
                        code: "TokenRenewalFailed".into(),
                        message: format!("the Graph token expired and could not be renewed: {message}"),
                        request_id: None,
                        method: String::new(),
                        path: String::new(),
                    });
                }
            }
        }
        Ok(current.token.clone())
    }

    pub fn new(token: SecretString, calls: Arc<CallCounter>) -> Self {
        let root = format!("{}/v1.0", graph_base());
        let http = super::http::credential_client(&root, super::http::Redirects::SameOrigin)
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
            root,
            // A token without a source is used as it is, for as long as Graph takes it.
            token: tokio::sync::Mutex::new(AccessToken::new(token, Duration::from_secs(86_400 * 365))),
            source: None,
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
        let mut renewed_after_401 = false;
        loop {
            attempt += 1;
            let bearer = self.bearer(false).await.map_err(|e| GraphError {
                method: method.to_string(),
                path: shown.clone(),
                ..e
            })?;
            self.calls.record("graph");
            let mut request = self.http.request(method.clone(), &url).bearer_auth(bearer.expose_secret());
            if !query.is_empty() {
                request = request.query(query);
            }
            if let Some(body) = body {
                request = request.json(body);
            } else if method != Method::GET && method != Method::DELETE {
                // Graph's front end answers 411 to a POST with neither a length nor chunking
                // (microsoft-graph-docs PR #2262; graph-rs-sdk #524: reqwest sends none).
                request = request.header(reqwest::header::CONTENT_LENGTH, "0");
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
                    let retry_after = retry_after(response.headers().get("retry-after").and_then(|v| v.to_str().ok()));
                    match response.text().await {
                        // A body cut off part way is a dropped connection, not an empty answer
                        // (and for a POST, one that may have created something).
                        Err(e) => (
                            if method == Method::POST { Failure::Permanent } else { Failure::Transient },
                            GraphError {
                                status: 0,
                                code: String::new(),
                                message: format!("the answer was cut off: {e}"),
                                request_id,
                                method: method.to_string(),
                                path: shown.clone(),
                            },
                        ),
                        Ok(text) if status.is_success() => {
                            return success_body(&text).map_err(|message| GraphError {
                                status: status.as_u16(),
                                code: "InvalidResponse".into(),
                                message,
                                request_id,
                                method: method.to_string(),
                                path: shown.clone(),
                            });
                        }
                        Ok(_) if status == StatusCode::UNAUTHORIZED && self.source.is_some() && !renewed_after_401 => {
                            // Revoked or expired early: one new token, then the call once more.
                            renewed_after_401 = true;
                            self.bearer(true).await.map_err(|e| GraphError {
                                method: method.to_string(),
                                path: shown.clone(),
                                ..e
                            })?;
                            attempt -= 1;
                            continue;
                        }
                        Ok(text) => {
                            let error =
                                GraphError::from_answer(status.as_u16(), &text, request_id, method.as_str(), &shown);
                            (failure_of(&method, status, retry_after), error)
                        }
                    }
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
        let page = self.get(path, query).await?;
        self.pages_from(path, page).await
    }

    /// `list` of a collection under an object created moments ago: its first page is asked for
    /// as `fresh` asks (the answers of `GraphError::is_replication_lag` are waited out).
    pub async fn list_fresh(&self, path: &str) -> Result<Vec<Value>, GraphError> {
        let page = self.fresh(Method::GET, path, None).await?;
        self.pages_from(path, page).await
    }

    async fn pages_from(&self, path: &str, first: Value) -> Result<Vec<Value>, GraphError> {
        let mut items = Vec::new();
        let mut page = first;
        for _ in 0..MAX_PAGES {
            let failed = |message: String| GraphError {
                status: 0,
                code: String::new(),
                message,
                request_id: None,
                method: "GET".into(),
                path: path.to_owned(),
            };
            let (values, next) = page_of(page, &self.root).map_err(failed)?;
            items.extend(values);
            match next {
                Some(next) => page = self.call(Method::GET, &next, &[], None).await?,
                None => return Ok(items),
            }
        }
        Err(GraphError {
            status: 0,
            code: String::new(),
            message: format!("more than {MAX_PAGES} pages; giving up"),
            request_id: None,
            method: "GET".into(),
            path: path.to_owned(),
        })
    }

    /// A call on an object created (or changed) moments ago: the answers of
    /// `GraphError::is_replication_lag` are retried with backoff for at most `replication_wait`
    /// (403 on a sync call for at most a minute, so a missing permission is not waited on for
    /// long), as Terraform's azuread provider does.
    pub async fn fresh(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, GraphError> {
        self.fresh_within(method, path, body, self.replication_wait).await
    }

    /// `fresh`, waiting at most `limit` (and never longer than `replication_wait`).
    pub async fn fresh_within(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        limit: Duration,
    ) -> Result<Value, GraphError> {
        self.retrying(method, path, body, limit, GraphError::is_replication_lag).await
    }

    /// `fresh_within`, retrying only the answers `retry` picks out of `is_replication_lag`'s.
    pub async fn retrying(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        limit: Duration,
        retry: impl Fn(&GraphError) -> bool,
    ) -> Result<Value, GraphError> {
        let limit = limit.min(self.replication_wait);
        let started = Instant::now();
        let mut wait = Duration::from_millis(250);
        loop {
            match self.call(method.clone(), path, &[], body).await {
                Err(e)
                    if e.is_replication_lag()
                        && retry(&e)
                        && started.elapsed() + wait < limit
                        && (e.status != 403 || started.elapsed() + wait < NEW_OBJECT_403_WAIT) =>
                {
                    tracing::info!(
                        "graph {method} {path}: {} {} (replication delay) — retrying in {wait:?}",
                        e.status,
                        e.code
                    );
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
                other => return other,
            }
        }
    }
}

/// How a failed answer is retried: 429 (and 503/504 that name a wait) as throttling, other
/// 502/503/504 as transient, everything else not at all.
fn failure_of(method: &Method, status: StatusCode, retry_after: Option<Duration>) -> Failure {
    match status {
        StatusCode::TOO_MANY_REQUESTS => Failure::Throttled { after: retry_after },
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT if retry_after.is_some() => {
            Failure::Throttled { after: retry_after }
        }
        // A gateway error on a POST does not say whether it created something.
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT | StatusCode::BAD_GATEWAY
            if method == Method::POST =>
        {
            Failure::Permanent
        }
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT | StatusCode::BAD_GATEWAY => Failure::Transient,
        _ => Failure::Permanent,
    }
}

/// How long a 403 on a synchronization call is taken for "the service principal is new".
const NEW_OBJECT_403_WAIT: Duration = Duration::from_secs(60);

/// A collection longer than this many pages is a server going round in circles.
const MAX_PAGES: usize = 10_000;

/// The body of a successful answer: empty (204) is `Null`, anything else must be JSON. A body
/// that is not (a proxy's HTML page) would otherwise read as "nothing there" and plan a create.
fn success_body(text: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(text).map_err(|e| {
        format!("Graph answered with a body that is not JSON ({e}): {}", text.chars().take(120).collect::<String>())
    })
}

/// `Retry-After` in seconds (Graph never sends the HTTP-date form).
fn retry_after(value: Option<&str>) -> Option<Duration> {
    value.and_then(|v| v.trim().parse::<u64>().ok()).map(Duration::from_secs)
}

/// One page of a collection: its items and the next page's link. The bearer token goes with the
/// next request, so a link that leaves Graph (`root`, `{base}/v1.0`) is refused, never followed.
fn page_of(page: Value, root: &str) -> Result<(Vec<Value>, Option<String>), String> {
    let Value::Object(mut page) = page else {
        return Err("Graph answered a list request with something that is not a collection".into());
    };
    let items = match page.remove("value") {
        Some(Value::Array(items)) => items,
        _ => return Err("Graph answered a list request without a `value` array".into()),
    };
    let next = match page.remove("@odata.nextLink") {
        None | Some(Value::Null) => None,
        Some(Value::String(next))
            if next.to_ascii_lowercase().starts_with(&format!("{}/", root.to_ascii_lowercase())) =>
        {
            Some(next)
        }
        Some(other) => {
            let shown: String = other.to_string().chars().take(120).collect();
            return Err(format!("Graph's next-page link is not on {root} ({shown}); not followed"));
        }
    };
    Ok((items, next))
}

/// Escapes a value for an OData string literal (`'` → `''`).
pub fn odata_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "https://graph.microsoft.com/v1.0";

    /// Realistic answers: a page of applications with a next link, a sync job list, an error.
    fn seeds() -> Vec<Vec<u8>> {
        [
            r#"{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#applications","@odata.nextLink":"https://graph.microsoft.com/v1.0/applications?$skiptoken=X1","value":[{"id":"5d1c","appId":"0f1e","displayName":"Kiro-Entra","identifierUris":["api://0f1e"],"api":{"requestedAccessTokenVersion":2,"oauth2PermissionScopes":[{"id":"a","value":"codewhisperer:completions","isEnabled":true}]},"publicClient":{"redirectUris":["kiro://kiro.oauth/callback"]}}]}"#,
            r#"{"value":[{"id":"scim.0f1e.1","templateId":"scim","status":{"code":"Active","lastExecution":null},"schedule":{"state":"Active","interval":"PT40M"}}]}"#,
            r#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation.","innerError":{"date":"2026-01-01T00:00:00","request-id":"7a1b","client-request-id":"7a1b"}}}"#,
            r#"{"value":[]}"#,
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect()
    }

    #[test]
    fn hostile_graph_answers_never_panic_and_never_read_as_success() {
        crate::fuzz::run("graph", &seeds(), crate::fuzz::JSON_PIECES, 3_000, |input| {
            let text = String::from_utf8_lossy(input);
            match success_body(&text) {
                Ok(value) => {
                    assert!(text.trim().is_empty() || serde_json::from_str::<Value>(&text).is_ok());
                    match page_of(value, ROOT) {
                        Ok((_, Some(next))) => assert!(next.starts_with(&format!("{ROOT}/")), "{next}"),
                        Ok((_, None)) => {}
                        Err(message) => assert!(message.starts_with("Graph"), "{message}"),
                    }
                }
                Err(message) => assert!(message.contains("not JSON"), "{message}"),
            }
            for status in [400, 401, 403, 404, 429, 503] {
                let error = GraphError::from_answer(status, &text, None, "GET", "/applications");
                let shown = error.to_string();
                assert!(shown.contains(&format!("HTTP {status}")) && shown.len() < 1_500, "{shown}");
                let _ = error.hint();
            }
            let _ = retry_after(Some(&text));
        });
    }

    #[test]
    fn a_next_link_off_graph_or_a_page_without_items_is_refused() {
        let page = |next: &str| serde_json::json!({"value": [], "@odata.nextLink": next});
        assert!(page_of(page("https://attacker.example/v1.0/x"), ROOT).unwrap_err().contains("not followed"));
        assert!(page_of(page("https://graph.microsoft.com.attacker.example/v1.0/x"), ROOT).is_err());
        assert!(page_of(serde_json::json!({"value": [], "@odata.nextLink": 7}), ROOT).is_err());
        assert!(page_of(serde_json::json!({"values": []}), ROOT).unwrap_err().contains("without a `value` array"));
        let next = format!("{ROOT}/applications?$skiptoken=2");
        assert_eq!(page_of(page(&next), ROOT).unwrap().1, Some(next));
        assert!(success_body("<html>proxy login</html>").is_err());
        assert_eq!(success_body("").unwrap(), Value::Null);
        assert_eq!(retry_after(Some(" 7 ")), Some(Duration::from_secs(7)));
    }

    #[test]
    fn only_the_documented_transient_answers_count_as_replication_lag() {
        let error = |status: u16, code: &str, message: &str, path: &str| GraphError {
            status,
            code: code.into(),
            message: message.into(),
            request_id: None,
            method: "POST".into(),
            path: path.into(),
        };
        let sync = "/servicePrincipals/x/synchronization/jobs";
        assert!(error(403, "Authorization_RequestDenied", "", sync).is_replication_lag());
        assert!(!error(403, "Authorization_RequestDenied", "", "/applications/x").is_replication_lag());
        assert!(error(409, "UnknownError", "", sync).is_replication_lag());
        let assign = "/servicePrincipals/x/appRoleAssignedTo";
        assert!(error(400, "Request_BadRequest", "Not a valid reference update.", assign).is_replication_lag());
        assert!(
            !error(400, "Request_BadRequest", "EntitlementGrant entry already exists.", assign).is_replication_lag()
        );
        assert!(error(400, "CannotDeleteOrUpdateEnabledEntitlement", "", "/applications/x").is_replication_lag());
        assert!(!error(401, "InvalidAuthenticationToken", "", sync).is_replication_lag());
    }

    #[test]
    fn a_token_is_renewed_before_it_expires() {
        let token = |lifetime: u64| AccessToken::new(SecretString::from("t".to_owned()), Duration::from_secs(lifetime));
        assert!(!token(3600).due(), "an hour-long token is not renewed at once");
        assert!(!token(20).due(), "nor a 20 s one");
        assert!(token(0).due());
        let aged = |lifetime: u64, left: u64| {
            let now = Instant::now();
            let issued = now.checked_sub(Duration::from_secs(lifetime - left))?;
            let mut t = token(lifetime);
            t.issued = issued;
            t.expires_at = now + Duration::from_secs(left);
            Some(t.due())
        };
        assert_ne!(aged(20, 4), Some(false), "a 20 s token with 4 s left is renewed (a quarter of its life)");
        assert_ne!(aged(20, 10), Some(true), "with 10 s left it is not yet");
        assert_ne!(aged(3600, 59), Some(false), "an hour-long token with under a minute left is renewed");
    }

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
