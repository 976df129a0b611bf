//! A thin client for the Okta Management API: SSWS API token or an OAuth service app with
//! `private_key_jwt` and DPoP (RFC 9449, `clients::dpop`) when the app requires it; paging by the
//! `Link` header (followed only on the org's own scheme and host); 429 handled by waiting until
//! `X-Rate-Limit-Reset` measured against the server's `Date`; errors with `errorCode`,
//! `errorSummary` and causes. Secrets are resolved when first needed and only ever sent in the
//! Authorization header (or the signed client assertion).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio::sync::Mutex;

use super::calls::CallCounter;
use super::dpop::DpopKey;
use super::settings::OktaCredentials;
use crate::error::Error;
use crate::shared::endpoint::Vendor;

pub const SERVICE: &str = "okta";
/// Never wait longer than this for a rate-limit window, however far the reset is.
const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(120);
const MAX_THROTTLED_RETRIES: u32 = 10;
const MAX_TRANSIENT_RETRIES: u32 = 4;
/// The Okta scopes a service app asks for (docs/vendor-behaviour.md §3.3.2).
pub const DEFAULT_SCOPES: &[&str] =
    &["okta.apps.manage", "okta.groups.read", "okta.users.read", "okta.authorizationServers.manage"];

/// An error Okta answered with, or why no answer came. Never holds a secret.
#[derive(Debug, Clone)]
pub enum OktaError {
    /// Okta answered with an error body.
    Api { status: u16, code: String, summary: String, causes: Vec<String>, request_id: Option<String> },
    /// The org authorization server refused the service app (RFC 6749 error).
    Token { status: u16, error: String, description: String },
    /// No usable answer (network, timeout, not JSON).
    Transport(String),
    /// The credentials could not be read.
    Credentials(String),
}

impl OktaError {
    pub fn status(&self) -> Option<u16> {
        match self {
            OktaError::Api { status, .. } | OktaError::Token { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            OktaError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    pub fn message(&self) -> String {
        match self {
            OktaError::Api { status, code, summary, causes, request_id } => {
                let mut text = format!("HTTP {status} {code}: {summary}");
                for cause in causes {
                    text.push_str(&format!("; {cause}"));
                }
                if let Some(id) = request_id {
                    text.push_str(&format!(" (X-Okta-Request-Id {id})"));
                }
                text
            }
            OktaError::Token { status, error, description } => {
                format!("the org authorization server refused the service app (HTTP {status} {error}: {description})")
            }
            OktaError::Transport(detail) => detail.clone(),
            OktaError::Credentials(detail) => detail.clone(),
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            OktaError::Api { code, .. } if code == "E0000011" => {
                "Okta did not accept the credentials: check okta.credentials (an SSWS token is revoked after 30 days unused or when its admin is deactivated)".into()
            }
            OktaError::Api { code, .. } if code == "E0000006" => {
                "the token's admin (or the service app's role and granted scopes) may not do this: use a Super Admin token, or grant the scopes listed in playbooks/okta.yaml".into()
            }
            OktaError::Api { code, .. } if code == "E0000047" => {
                "Okta kept rate limiting the org: run again later, or raise the app's rate-limit share in Okta".into()
            }
            OktaError::Token { error, .. } if error == "invalid_dpop_proof" || error == "use_dpop_nonce" => {
                "Okta refused kiro-onboard's DPoP proof: check that this machine's clock is right (proofs carry the time they were made), then run again".into()
            }
            OktaError::Token { error, .. } if error == "invalid_scope" => {
                "grant the service app these Okta API scopes (Okta API Scopes tab), or set okta.credentials.scopes".into()
            }
            OktaError::Token { .. } => {
                "check okta.credentials.client_id, that key_id is the kid of a public key registered on the service app, and that this key matches private_key".into()
            }
            OktaError::Transport(_) => "check okta.org_url and the network path to Okta".into(),
            OktaError::Credentials(_) => "check okta.credentials".into(),
            OktaError::Api { .. } => return None,
        })
    }

    /// The tool's error for a failed `operation`.
    pub fn into_error(self, operation: &str) -> Error {
        let hint = self.hint();
        Error::Remote {
            service: SERVICE.into(),
            operation: operation.into(),
            message: self.message(),
            hint,
            reason: None,
        }
    }
}

enum Auth {
    Ssws(crate::shared::secret::SecretRef),
    Service {
        client_id: String,
        key_id: Option<String>,
        private_key: crate::shared::secret::SecretRef,
        scopes: Vec<String>,
        /// This run's DPoP key (RFC 9449): proofs go with every token request and, when Okta
        /// issued a DPoP-bound token, with every API call.
        dpop: DpopKey,
    },
}

/// The credential an API call carries.
#[derive(Clone)]
struct Credential {
    /// The Authorization header value: `SSWS …`, `Bearer …` or `DPoP …`.
    header: SecretString,
    /// The access token itself, when it is DPoP-bound (for the proof's `ath`).
    dpop_token: Option<SecretString>,
    expires: Option<std::time::Instant>,
}

pub struct Okta {
    http: reqwest::Client,
    /// For the token endpoint only: it follows no redirect.
    token_http: reqwest::Client,
    base: String,
    auth: Auth,
    /// The resolved credential (for a service app, until it expires).
    credential: Mutex<Option<Credential>>,
    /// The last `DPoP-Nonce` the API (resource server) sent, for the next proof.
    api_nonce: std::sync::Mutex<Option<String>>,
    /// The last `DPoP-Nonce` the token endpoint sent: kept for the life of the process, so a
    /// token renewal sends it at once instead of paying a `use_dpop_nonce` round trip again
    /// (RFC 9449 §8.2: a nonce stays good until the server says otherwise).
    token_nonce: std::sync::Mutex<Option<String>>,
    calls: Arc<CallCounter>,
}

/// A response: the JSON body (`Null` when empty) and the `next` page link.
struct Page {
    body: Value,
    next: Option<String>,
}

impl Okta {
    pub fn new(org_url: &str, credentials: &OktaCredentials, calls: Arc<CallCounter>) -> Result<Self, Error> {
        let checked = crate::shared::endpoint::credential_url(org_url, Vendor::Okta).map_err(|refused| {
            Error::Precondition { message: refused.about(org_url, Vendor::Okta), hint: refused.hint(Vendor::Okta) }
        })?;
        // The origin as Okta compares it in `aud` and `htu` (the plan is normalised already; an
        // override or a caller outside the plan is too).
        let org_url = &crate::shared::endpoint::normal_origin(checked.as_str());
        // The token request follows no redirect (it would resend the client assertion); API calls
        // go back to the org only.
        let client = |redirects| {
            super::http::credential_client(org_url, redirects)
                .timeout(super::call_timeout(Duration::from_secs(30)))
                .connect_timeout(Duration::from_secs(10))
                .build()
                .map_err(|e| Error::Usage(format!("could not build the HTTP client: {e}")))
        };
        let http = client(super::http::Redirects::SameOrigin)?;
        let token_http = client(super::http::Redirects::None)?;
        let auth = match credentials {
            OktaCredentials::ApiToken { api_token } => Auth::Ssws(api_token.clone()),
            OktaCredentials::ServiceApp { client_id, private_key, key_id, scopes } => Auth::Service {
                client_id: client_id.clone(),
                key_id: key_id.clone(),
                private_key: private_key.clone(),
                scopes: scopes.clone().unwrap_or_else(|| DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect()),
                dpop: DpopKey::generate().map_err(Error::Usage)?,
            },
        };
        Ok(Okta {
            http,
            token_http,
            base: org_url.clone(),
            auth,
            credential: Mutex::new(None),
            api_nonce: std::sync::Mutex::new(None),
            token_nonce: std::sync::Mutex::new(None),
            calls,
        })
    }

    pub fn org_url(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    async fn authorization(&self) -> Result<Credential, OktaError> {
        let mut cached = self.credential.lock().await;
        if let Some(credential) = cached.as_ref()
            && credential.expires.is_none_or(|e| e > std::time::Instant::now())
        {
            return Ok(credential.clone());
        }
        let credential = match &self.auth {
            Auth::Ssws(token) => {
                let token =
                    token.resolve().await.map_err(|e| OktaError::Credentials(format!("the Okta API token: {e}")))?;
                Credential {
                    header: SecretString::from(format!("SSWS {}", token.expose_secret())),
                    dpop_token: None,
                    expires: None,
                }
            }
            Auth::Service { client_id, key_id, private_key, scopes, dpop } => {
                let key = private_key
                    .resolve()
                    .await
                    .map_err(|e| OktaError::Credentials(format!("the service app's private key: {e}")))?;
                let issued = self.service_token(client_id, key_id.as_deref(), &key, scopes, dpop).await?;
                // Renewed a minute early (a quarter of a short lifetime), so a token does not
                // expire on its way to Okta; one that does anyway is renewed on Okta's word.
                let margin = Duration::from_secs(60).min(issued.lifetime / 4);
                let expires = std::time::Instant::now() + issued.lifetime.saturating_sub(margin);
                let scheme = if issued.dpop_bound { "DPoP" } else { "Bearer" };
                Credential {
                    header: SecretString::from(format!("{scheme} {}", issued.token.expose_secret())),
                    dpop_token: issued.dpop_bound.then(|| issued.token.clone()),
                    expires: Some(expires),
                }
            }
        };
        *cached = Some(credential.clone());
        Ok(credential)
    }

    /// Client credentials with a `private_key_jwt` assertion against the org authorization server,
    /// with a DPoP proof. Every attempt carries a fresh assertion (Okta refuses a reused `jti`)
    /// and a fresh proof. Okta answers the first DPoP request with `use_dpop_nonce` and a
    /// `DPoP-Nonce` header: the request is sent once more with that nonce in the proof. An app
    /// that does not use DPoP gets a Bearer token (RFC 9449 §5); one that refuses the proof
    /// outright is asked once more without it.
    async fn service_token(
        &self,
        client_id: &str,
        key_id: Option<&str>,
        key: &SecretString,
        scopes: &[String],
        dpop: &DpopKey,
    ) -> Result<IssuedToken, OktaError> {
        let audience = format!("{}/oauth2/v1/token", self.base);
        let scope = scopes.join(" ");
        let mut throttled = 0;
        let mut nonce: Option<String> = self.token_nonce.lock().map(|n| n.clone()).unwrap_or_default();
        let mut nonce_retried = false;
        let mut send_proof = true;
        loop {
            let assertion = super::jwt::client_assertion(client_id, key_id, &audience, key)
                .map_err(|e| OktaError::Credentials(format!("the service app's private key: {e}")))?;
            let form = [
                ("grant_type", "client_credentials"),
                ("scope", scope.as_str()),
                ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ("client_assertion", assertion.expose_secret()),
            ];
            let mut builder = self.token_http.post(&audience).form(&form);
            if send_proof {
                let proof = dpop
                    .proof("POST", &audience, None, nonce.as_deref())
                    .map_err(|e| OktaError::Credentials(format!("the DPoP proof: {e}")))?;
                builder = builder.header("DPoP", proof);
            }
            self.calls.record(SERVICE);
            let response = builder.send().await.map_err(|e| OktaError::Transport(transport(&e)))?;
            let status = response.status();
            let headers = response.headers().clone();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            // Any answer may carry the next nonce (RFC 9449 §8.2), the refusal and the token alike.
            if let Some(value) = headers.get("dpop-nonce").and_then(|v| v.to_str().ok())
                && let Ok(mut slot) = self.token_nonce.lock()
            {
                *slot = Some(value.to_owned());
            }
            if status == StatusCode::TOO_MANY_REQUESTS && throttled < MAX_THROTTLED_RETRIES {
                throttled += 1;
                tokio::time::sleep(rate_limit_wait(&headers)).await;
                continue;
            }
            let error = body["error"].as_str().unwrap_or_default();
            if status == StatusCode::BAD_REQUEST
                && error == "use_dpop_nonce"
                && send_proof
                && !nonce_retried
                && let Some(value) = headers.get("dpop-nonce").and_then(|v| v.to_str().ok())
            {
                nonce = Some(value.to_owned());
                nonce_retried = true;
                continue;
            }
            if status == StatusCode::BAD_REQUEST && send_proof && refuses_any_proof(&body) {
                send_proof = false;
                continue;
            }
            let (token, lifetime) = token_of(status, &body)?;
            let dpop_bound = send_proof && body["token_type"].as_str().is_some_and(|t| t.eq_ignore_ascii_case("DPoP"));
            return Ok(IssuedToken { token, lifetime, dpop_bound });
        }
    }

    /// A 401 whose challenge says the service app's access token is no longer good, which a
    /// new token can cure (an SSWS token cannot be renewed).
    fn refused_as_expired(&self, headers: &HeaderMap) -> bool {
        matches!(self.auth, Auth::Service { .. })
            && headers.get_all("www-authenticate").iter().any(|v| v.to_str().is_ok_and(|v| v.contains("invalid_token")))
    }

    /// The DPoP proof for an API call with a DPoP-bound token, with the API's last nonce.
    fn api_proof(&self, method: &Method, url: &str, credential: &Credential) -> Result<Option<String>, OktaError> {
        let (Auth::Service { dpop, .. }, Some(token)) = (&self.auth, &credential.dpop_token) else {
            return Ok(None);
        };
        let nonce = self.api_nonce.lock().map(|n| n.clone()).unwrap_or_default();
        dpop.proof(method.as_str(), url, Some(token.expose_secret()), nonce.as_deref())
            .map(Some)
            .map_err(|e| OktaError::Credentials(format!("the DPoP proof: {e}")))
    }

    async fn request(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Page, OktaError> {
        let url = self.url(path);
        let mut throttled = 0;
        let mut transient = 0;
        let mut retry_for: Option<String> = None;
        let mut nonce_retried = false;
        let mut renewed = false;
        loop {
            let credential = self.authorization().await?;
            let mut header = HeaderValue::from_str(credential.header.expose_secret()).map_err(|_| {
                OktaError::Credentials("the Okta credential has characters a header cannot carry".into())
            })?;
            header.set_sensitive(true);
            let mut builder = self
                .http
                .request(method.clone(), &url)
                .header(reqwest::header::AUTHORIZATION, header)
                .header(reqwest::header::ACCEPT, "application/json");
            if let Some(proof) = self.api_proof(&method, &url, &credential)? {
                builder = builder.header("DPoP", proof);
            }
            if let Some(id) = &retry_for {
                builder = builder.header("X-Okta-Retry-For", id).header("X-Okta-Retry-Count", throttled.to_string());
            }
            if let Some(body) = body {
                builder = builder.json(body);
            }
            self.calls.record(SERVICE);
            tracing::debug!(method = %method, path, "okta request");
            let response = match builder.send().await {
                Ok(r) => r,
                // A read or a PUT/DELETE is safe to send again whatever happened to the first one
                // (timeout, connection reset). A create (POST) only when the connection was never
                // made: once sent, it may have happened (see the 5xx case below).
                Err(e) if transient < MAX_TRANSIENT_RETRIES && (e.is_connect() || method != Method::POST) => {
                    transient += 1;
                    tokio::time::sleep(Duration::from_millis(250 << transient)).await;
                    continue;
                }
                Err(e) => return Err(OktaError::Transport(transport(&e))),
            };
            let status = response.status();
            let headers = response.headers().clone();
            let request_id = headers.get("x-okta-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
            let text = response.text().await.map_err(|e| OktaError::Transport(transport(&e)))?;
            if let Some(nonce) = headers.get("dpop-nonce").and_then(|v| v.to_str().ok())
                && let Ok(mut slot) = self.api_nonce.lock()
            {
                *slot = Some(nonce.to_owned());
            }
            // RFC 9449 §9: a resource server that wants a nonce answers 401 `use_dpop_nonce`.
            if status == StatusCode::UNAUTHORIZED
                && credential.dpop_token.is_some()
                && !nonce_retried
                && headers
                    .get_all("www-authenticate")
                    .iter()
                    .any(|v| v.to_str().is_ok_and(|v| v.contains("use_dpop_nonce")))
            {
                nonce_retried = true;
                continue;
            }
            if status == StatusCode::TOO_MANY_REQUESTS && throttled < MAX_THROTTLED_RETRIES {
                throttled += 1;
                let wait = rate_limit_wait(&headers);
                tracing::info!(
                    path,
                    wait_seconds = wait.as_secs_f64(),
                    "okta rate limit; waiting for the window to reset"
                );
                retry_for = request_id;
                tokio::time::sleep(wait).await;
                continue;
            }
            if status == StatusCode::UNAUTHORIZED && !renewed && self.refused_as_expired(&headers) {
                // An expired access token (`WWW-Authenticate: Bearer|DPoP error="invalid_token"`,
                // RFC 6750 §3.1, RFC 9449 §7.1): mint a new one and send the request again, once.
                renewed = true;
                *self.credential.lock().await = None;
                continue;
            }
            // A create (POST) that failed with a 5xx may have happened all the same: retrying it
            // could make a duplicate. It fails instead; the next run finds the object and converges.
            if status.is_server_error() && method != Method::POST && transient < MAX_TRANSIENT_RETRIES {
                transient += 1;
                tokio::time::sleep(Duration::from_millis(250 << transient)).await;
                continue;
            }
            if !status.is_success() {
                return Err(error_of(status, &text, request_id));
            }
            let body = success_body(&text)?;
            return Ok(Page { body, next: next_link(&headers) });
        }
    }

    pub async fn get(&self, path: &str) -> Result<Value, OktaError> {
        Ok(self.request(Method::GET, path, None).await?.body)
    }

    /// Every item of a list, following `Link: <…>; rel="next"` as an opaque URL.
    pub async fn list(&self, path: &str) -> Result<Vec<Value>, OktaError> {
        let mut items = Vec::new();
        let mut next = Some(path.to_owned());
        let mut pages = 0;
        while let Some(url) = next {
            let page = self.request(Method::GET, &url, None).await?;
            match page.body {
                Value::Array(mut page_items) => items.append(&mut page_items),
                // Anything else would read as "no such objects" and plan to create them.
                other => {
                    let shown: String = other.to_string().chars().take(120).collect();
                    return Err(OktaError::Transport(format!(
                        "{path}: Okta answered with something that is not a list ({shown})"
                    )));
                }
            }
            // The credential goes with every page: follow a link only on the scheme and host
            // (and port) of the request that returned it. An org with a custom domain can answer
            // with links on its okta.com name, or the other way round: those stop here.
            if let Some(link) = &page.next
                && !same_origin(link, &self.url(&url))
            {
                let shown: String = link.chars().take(200).collect();
                return Err(OktaError::Transport(format!(
                    "{path}: Okta's next-page link is on another host than the request ({shown}); not followed, so the credential is not sent there"
                )));
            }
            next = page.next;
            pages += 1;
            if pages > 10_000 {
                return Err(OktaError::Transport(format!("{path}: more than 10,000 pages; giving up")));
            }
        }
        Ok(items)
    }

    /// The first page of a list only, and whether Okta has more: for reads whose cost must not
    /// grow with the org (a sample of an app's users, not all of them).
    pub async fn first_page(&self, path: &str) -> Result<(Vec<Value>, bool), OktaError> {
        let page = self.request(Method::GET, path, None).await?;
        match page.body {
            Value::Array(items) => Ok((items, page.next.is_some())),
            other => {
                let shown: String = other.to_string().chars().take(120).collect();
                Err(OktaError::Transport(format!("{path}: Okta answered with something that is not a list ({shown})")))
            }
        }
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, OktaError> {
        Ok(self.request(Method::POST, path, Some(body)).await?.body)
    }

    pub async fn put(&self, path: &str, body: &Value) -> Result<Value, OktaError> {
        Ok(self.request(Method::PUT, path, Some(body)).await?.body)
    }

    /// A partial update (a group push mapping's status is changed only this way).
    pub async fn patch(&self, path: &str, body: &Value) -> Result<Value, OktaError> {
        Ok(self.request(Method::PATCH, path, Some(body)).await?.body)
    }

    pub async fn delete(&self, path: &str) -> Result<(), OktaError> {
        self.request(Method::DELETE, path, None).await.map(|_| ())
    }
}

/// A token from the org authorization server.
struct IssuedToken {
    token: SecretString,
    lifetime: Duration,
    /// `token_type: DPoP`: the token goes as `Authorization: DPoP …` with a proof on every call.
    dpop_bound: bool,
}

/// A refusal that says the app takes no DPoP proof at all (DPoP off), rather than that this
/// proof is wrong: worth one attempt without it. RFC 9449 §5 lets such a server ignore the proof
/// and issue a Bearer token (what the emulator does); a server that refuses instead is met here.
fn refuses_any_proof(body: &Value) -> bool {
    let error = body["error"].as_str().unwrap_or_default();
    let description = body["error_description"].as_str().unwrap_or_default().to_ascii_lowercase();
    matches!(error, "invalid_dpop_proof" | "invalid_request")
        && description.contains("dpop")
        && ["not configured", "not enabled", "not allowed", "not required"].iter().any(|p| description.contains(p))
}

/// The access token a successful token answer carries, and for how long it lasts (at most a day:
/// a server's huge `expires_in` must not overflow the clock).
fn token_of(status: StatusCode, body: &Value) -> Result<(SecretString, Duration), OktaError> {
    if !status.is_success() {
        return Err(OktaError::Token {
            status: status.as_u16(),
            error: bounded(body["error"].as_str().unwrap_or("error"), 100),
            description: bounded(body["error_description"].as_str().unwrap_or_default(), 500),
        });
    }
    let token = body["access_token"]
        .as_str()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| OktaError::Transport("the token endpoint answered without an access_token".into()))?;
    let lifetime = Duration::from_secs(body["expires_in"].as_u64().unwrap_or(3600).min(86_400));
    Ok((SecretString::from(token.to_owned()), lifetime))
}

/// An error answer: Okta's `errorCode`, `errorSummary` and causes when the body has them.
fn error_of(status: StatusCode, text: &str, request_id: Option<String>) -> OktaError {
    let body: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    OktaError::Api {
        status: status.as_u16(),
        code: bounded(body["errorCode"].as_str().unwrap_or("(none)"), 100),
        summary: bounded(body["errorSummary"].as_str().unwrap_or(status.canonical_reason().unwrap_or("")), 500),
        causes: body["errorCauses"]
            .as_array()
            .map(|c| c.iter().filter_map(|c| c["errorSummary"].as_str()).take(10).map(|c| bounded(c, 300)).collect())
            .unwrap_or_default(),
        request_id: request_id.map(|id| bounded(&id, 100)),
    }
}

/// A successful answer's body: nothing (204) is `Null`; anything else must be JSON, or a proxy's
/// HTML page would read as an empty answer.
fn success_body(text: &str) -> Result<Value, OktaError> {
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(text).map_err(|e| {
        OktaError::Transport(format!(
            "Okta answered with a body that is not JSON ({e}): {}",
            text.chars().take(120).collect::<String>()
        ))
    })
}

/// Whatever a server sends ends up on the admin's terminal: keep it to a readable length.
fn bounded(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

fn transport(error: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// `X-Rate-Limit-Reset − Date + 1` seconds, both on the server's clock (docs/vendor-behaviour.md §3.4.2), bounded.
pub fn rate_limit_wait(headers: &HeaderMap) -> Duration {
    let reset =
        headers.get("x-rate-limit-reset").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<i64>().ok());
    let now = headers
        .get(reqwest::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_http_date)
        .unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0));
    let seconds = match reset {
        Some(reset) => reset.saturating_sub(now).saturating_add(1).max(1),
        None => 5,
    };
    Duration::from_secs(seconds as u64).min(MAX_RATE_LIMIT_WAIT)
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) into epoch seconds.
pub fn parse_http_date(text: &str) -> Option<i64> {
    let mut parts = text.split_whitespace();
    let _weekday = parts.next()?;
    let day: i64 = parts.next()?.parse().ok()?;
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        .iter()
        .position(|m| Some(*m) == parts.clone().next())? as i64
        + 1;
    parts.next();
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    // Out-of-range fields are garbage, and would overflow the arithmetic below.
    if !(1..=31).contains(&day) || !(0..=9999).contains(&year) || h > 23 || m > 59 || s > 60 || h.min(m).min(s) < 0 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + m * 60 + s)
}

/// Whether two absolute URLs have the same scheme, host and port.
pub fn same_origin(a: &str, b: &str) -> bool {
    match (reqwest::Url::parse(a), reqwest::Url::parse(b)) {
        (Ok(a), Ok(b)) => crate::shared::endpoint::same_origin(&a, &b),
        _ => false,
    }
}

/// The `rel="next"` target among the response's `Link` headers (RFC 8288, several may be present).
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    for value in headers.get_all(reqwest::header::LINK) {
        let Ok(value) = value.to_str() else { continue };
        for link in value.split(',') {
            let mut parts = link.split(';');
            let target = parts.next()?.trim();
            let is_next = parts.any(|p| {
                let p = p.trim();
                p.strip_prefix("rel=")
                    .map(|r| r.trim_matches('"').split_whitespace().any(|r| r == "next"))
                    .unwrap_or(false)
            });
            if is_next && target.starts_with('<') && target.ends_with('>') {
                return Some(target[1..target.len() - 1].to_owned());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn seeds() -> Vec<Vec<u8>> {
        [
            r#"[{"id":"0oa1","label":"Kiro","status":"ACTIVE","signOnMode":"OPENID_CONNECT","credentials":{"oauthClient":{"client_id":"0oa1"}},"settings":{"oauthClient":{"redirect_uris":["kiro://kiro.oauth/callback"],"grant_types":["authorization_code"]}}}]"#,
            r#"{"id":"aus1","name":"default","audiences":["api://default"],"issuer":"https://example.okta.com/oauth2/default"}"#,
            r#"{"errorCode":"E0000001","errorSummary":"Api validation failed: label","errorLink":"E0000001","errorId":"oae1","errorCauses":[{"errorSummary":"label: An object with this field already exists."}]}"#,
            r#"{"token_type":"Bearer","expires_in":3600,"access_token":"eyJ.a.b","scope":"okta.apps.manage"}"#,
            r#"{"error":"invalid_dpop_proof","error_description":"The DPoP proof JWT header is missing."}"#,
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect()
    }

    const HEADER_PIECES: &[&str] = &[
        "<",
        ">",
        ";",
        ",",
        "rel=",
        "\"",
        "next",
        "self",
        " ",
        "GMT",
        ":",
        "-",
        "9999999999999999999",
        "Feb",
        "31",
        "00:00:00",
    ];

    #[test]
    fn hostile_okta_answers_never_panic_and_never_read_as_success() {
        crate::fuzz::run("okta", &seeds(), crate::fuzz::JSON_PIECES, 3_000, |input| {
            let text = String::from_utf8_lossy(input);
            match success_body(&text) {
                Ok(_) => assert!(text.trim().is_empty() || serde_json::from_str::<Value>(&text).is_ok()),
                Err(e) => assert!(e.message().contains("not JSON"), "{}", e.message()),
            }
            for status in [400u16, 401, 403, 404, 429, 500] {
                let status = StatusCode::from_u16(status).unwrap();
                let error = error_of(status, &text, Some("req".into()));
                assert!(error.message().starts_with(&format!("HTTP {}", status.as_u16())));
                assert!(error.message().len() < 6_000, "unbounded: {} bytes", error.message().len());
                let _ = error.into_error("list apps").to_string();
            }
            let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            match token_of(StatusCode::OK, &body) {
                Ok((token, lifetime)) => {
                    assert!(!token.expose_secret().is_empty() && lifetime <= Duration::from_secs(86_400));
                    // What the caller does with the lifetime must not overflow the clock.
                    let _ = std::time::Instant::now() + lifetime;
                }
                Err(e) => assert!(e.message().contains("access_token"), "{}", e.message()),
            }
            assert!(token_of(StatusCode::BAD_REQUEST, &body).unwrap_err().message().contains("refused"));
        });
    }

    #[test]
    fn hostile_okta_headers_never_panic_or_wait_unbounded() {
        let seeds: Vec<Vec<u8>> = [
            "<https://o.okta.com/api/v1/apps?after=x&limit=2>; rel=\"next\", <https://o/a>; rel=\"self\"",
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "784111780",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        crate::fuzz::run("okta headers", &seeds, HEADER_PIECES, 5_000, |input| {
            let Ok(value) = HeaderValue::from_bytes(input) else { return };
            let mut headers = HeaderMap::new();
            for name in ["link", "date", "x-rate-limit-reset"] {
                headers.insert(name, value.clone());
            }
            if let Some(next) = next_link(&headers) {
                assert!(!next.contains('<') || value.to_str().is_ok());
            }
            let wait = rate_limit_wait(&headers);
            assert!(wait >= Duration::from_secs(1) && wait <= MAX_RATE_LIMIT_WAIT, "{wait:?}");
            if let Ok(text) = value.to_str() {
                let _ = parse_http_date(text);
            }
        });
        // Dates no server sends parse as nothing rather than overflowing.
        assert_eq!(parse_http_date("Sun, 06 Nov 9223372036854775807 08:49:37 GMT"), None);
        assert_eq!(parse_http_date("Sun, 99999999999 Nov 1994 08:49:37 GMT"), None);
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 9223372036854775807:49:37 GMT"), None);
        let mut headers = HeaderMap::new();
        headers.insert("date", HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"));
        headers.insert("x-rate-limit-reset", HeaderValue::from_static("9223372036854775807"));
        assert_eq!(rate_limit_wait(&headers), MAX_RATE_LIMIT_WAIT);
        headers.insert("x-rate-limit-reset", HeaderValue::from_static("-9223372036854775808"));
        assert_eq!(rate_limit_wait(&headers), Duration::from_secs(1));
    }

    #[test]
    fn next_links_are_followed_only_on_the_requests_scheme_and_host() {
        let request = "https://acme.okta.com/api/v1/apps?limit=2";
        assert!(same_origin("https://acme.okta.com/api/v1/apps?after=x", request));
        assert!(same_origin("https://ACME.okta.com:443/api/v1/apps?after=x", request));
        for elsewhere in [
            "https://login.acme.com/api/v1/apps?after=x",
            "http://acme.okta.com/api/v1/apps?after=x",
            "https://acme.okta.com.evil.example/api/v1/apps",
            "https://acme.okta.com:8443/api/v1/apps",
            "https://acme.okta.com@evil.example/api/v1/apps",
            "https://user@acme.okta.com/api/v1/apps",
            "/api/v1/apps?after=x",
        ] {
            assert!(!same_origin(elsewhere, request), "{elsewhere}");
        }
    }

    #[test]
    fn only_a_refusal_of_any_proof_drops_dpop() {
        let refusal = |error: &str, description: &str| json!({"error": error, "error_description": description});
        assert!(refuses_any_proof(&refusal(
            "invalid_dpop_proof",
            "DPoP proof was provided but the client is not configured for DPoP"
        )));
        assert!(refuses_any_proof(&refusal("invalid_request", "DPoP is not enabled for this client")));
        assert!(!refuses_any_proof(&refusal("invalid_dpop_proof", "The DPoP proof JWT signature is invalid.")));
        assert!(!refuses_any_proof(&refusal("use_dpop_nonce", "Authorization server requires nonce in DPoP proof.")));
        assert!(!refuses_any_proof(&refusal("invalid_client", "The client is not configured")));
    }

    #[test]
    fn http_dates_parse() {
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(parse_http_date("Sun, 22 Nov 2026 04:45:02 GMT"), Some(1_795_322_702));
        assert_eq!(parse_http_date("garbage"), None);
    }

    #[test]
    fn waits_by_the_servers_clock_not_ours() {
        let mut headers = HeaderMap::new();
        headers.insert("date", HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"));
        headers.insert("x-rate-limit-reset", HeaderValue::from_static("784111780"));
        assert_eq!(rate_limit_wait(&headers), Duration::from_secs(4));
        headers.insert("x-rate-limit-reset", HeaderValue::from_static("884111780"));
        assert_eq!(rate_limit_wait(&headers), MAX_RATE_LIMIT_WAIT);
    }

    #[test]
    fn finds_the_next_link_among_several() {
        let mut headers = HeaderMap::new();
        headers.append("link", HeaderValue::from_static("<https://o/api/v1/apps?limit=2>; rel=\"self\""));
        headers.append("link", HeaderValue::from_static("<https://o/api/v1/apps?after=x&limit=2>; rel=\"next\""));
        assert_eq!(next_link(&headers).as_deref(), Some("https://o/api/v1/apps?after=x&limit=2"));
        let mut one = HeaderMap::new();
        one.insert("link", HeaderValue::from_static("<https://o/a>; rel=\"self\", <https://o/b>; rel=\"next\""));
        assert_eq!(next_link(&one).as_deref(), Some("https://o/b"));
    }
}
