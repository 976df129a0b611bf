//! Signing in to Microsoft Graph: the device code flow for an admin at a terminal (also over SSH),
//! refresh tokens, a token cache readable only by its owner, and client credentials with a secret
//! for automation. Calls are counted under the service "login". Tokens are never printed or logged.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::calls::CallCounter;
use super::jwt::{base64_decode, base64url, sign_ps256};
use crate::error::Error;

/// Microsoft Graph Command Line Tools: a public client every tenant knows (docs/vendor-behaviour.md §2.1.2).
pub const DEFAULT_CLIENT_ID: &str = "14d82eec-204b-4c2f-b7e8-296a70dab67e";
pub const DEFAULT_LOGIN_URL: &str = "https://login.microsoftonline.com";
/// Delegated scopes for onboarding (docs/vendor-behaviour.md §2.1.2).
pub const DELEGATED_SCOPES: &str = "https://graph.microsoft.com/Application.ReadWrite.All https://graph.microsoft.com/AppRoleAssignment.ReadWrite.All https://graph.microsoft.com/Synchronization.ReadWrite.All https://graph.microsoft.com/Group.Read.All offline_access openid profile";
const APP_SCOPE: &str = "https://graph.microsoft.com/.default";

/// The sign-in base URL; `KIRO_ONBOARD_LOGIN_URL` points it at a local emulator (loopback only,
/// `clients::http`).
pub fn login_base() -> String {
    super::http::base_url("KIRO_ONBOARD_LOGIN_URL", DEFAULT_LOGIN_URL)
}

/// `$KIRO_ONBOARD_CONFIG_DIR`, else `$XDG_CONFIG_HOME/kiro-onboard`, else `~/.config/kiro-onboard`.
pub fn config_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KIRO_ONBOARD_CONFIG_DIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir).join("kiro-onboard");
    }
    PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".config").join("kiro-onboard")
}

pub fn cache_path() -> PathBuf {
    config_dir().join("entra-tokens.json")
}

/// One cached admin session per tenant (as typed in the plan / on the command line).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Cache {
    #[serde(default)]
    sessions: Vec<Session>,
}

#[derive(Clone, Serialize, Deserialize)]
struct Session {
    tenant: String,
    tenant_id: Option<String>,
    client_id: String,
    access_token: String,
    refresh_token: Option<String>,
    /// Unix seconds.
    expires_at: u64,
}

/// Tokens stay out of Debug output, so that no log line or panic message can carry them.
impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("tenant", &self.tenant)
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("access_token", &"(sensitive)")
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "(sensitive)"))
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A token lifetime a server names, bounded: a huge `expires_in` must not overflow the clock.
fn expiry(expires_in: Option<u64>) -> u64 {
    now().saturating_add(expires_in.unwrap_or(3600).min(86_400 * 90))
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn read_cache() -> Cache {
    let path = cache_path();
    match crate::files::read_private(&path) {
        Ok(None) => Cache::default(),
        Err(e) => unreadable_cache(&path, &e.to_string()),
        Ok(Some(bytes)) => parse_cache(&bytes).unwrap_or_else(|reason| unreadable_cache(&path, &reason)),
    }
}

/// A damaged cache is treated as no cache (the next login rewrites it), and the admin is told why.
fn unreadable_cache(path: &std::path::Path, reason: &str) -> Cache {
    crate::output::warning(&format!(
        "ignoring the token cache {}: {reason}; run `kiro-onboard login entra` to sign in again",
        path.display()
    ));
    Cache::default()
}

fn parse_cache(bytes: &[u8]) -> Result<Cache, String> {
    const MAX_CACHE_BYTES: usize = 1024 * 1024;
    if bytes.len() > MAX_CACHE_BYTES {
        return Err(format!("it is {} bytes, far more than a token cache holds", bytes.len()));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".to_owned())?;
    if text.trim().is_empty() {
        return Err("it is empty".into());
    }
    serde_json::from_str(text).map_err(|e| match e.classify() {
        // A type error quotes the value it met, which may be a token: say where, not what.
        serde_json::error::Category::Data => {
            format!(
                "it is not a kiro-onboard token cache (unexpected value at line {} column {})",
                e.line(),
                e.column()
            )
        }
        _ => format!("it is not a kiro-onboard token cache ({e})"),
    })
}

fn write_cache(cache: &Cache) -> Result<(), Error> {
    write_private(&cache_path(), &serde_json::to_string_pretty(cache).unwrap_or_default())
}

/// Writes a file in the config directory that only this user may read (mode 0600, in a 0700
/// directory), atomically and without following links (`files::write_atomically`).
pub fn write_private(path: &std::path::Path, text: &str) -> Result<(), Error> {
    let dir = path.parent().map(std::path::Path::to_path_buf).unwrap_or_else(config_dir);
    crate::files::private_dir(&dir).map_err(|source| Error::Write { path: dir.display().to_string(), source })?;
    crate::files::write_atomically(path, text.as_bytes(), 0o600)
        .map_err(|source| Error::Write { path: path.display().to_string(), source })
}

/// Deletes the cached sessions. Returns whether there was a cache.
pub fn logout() -> Result<bool, Error> {
    let path = cache_path();
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(Error::Write { path: path.display().to_string(), source }),
    }
}

/// A token endpoint error, in the admin's terms.
fn login_error(operation: &str, body: &Value, status: u16) -> Error {
    let error = body["error"].as_str().unwrap_or("unknown_error");
    let error: String = error.chars().take(100).collect();
    let description: String = body["error_description"]
        .as_str()
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(500)
        .collect();
    if let Some(tenant) = unknown_tenant(body, &description) {
        return Error::Remote {
            service: "login".into(),
            operation: operation.into(),
            message: format!("Microsoft Entra ID has no tenant `{tenant}` (AADSTS90002)"),
            hint: Some("check `entra.tenant` in the plan (or --tenant): the tenant id (a GUID) or one of its verified domains, such as contoso.onmicrosoft.com; Entra admin center → Overview shows both".to_owned()),
            reason: None,
        };
    }
    let hint = match error.as_str() {
        "invalid_grant" => Some(
            "the cached session has expired or was revoked: run `kiro-onboard login entra --tenant TENANT` again"
                .to_owned(),
        ),
        "invalid_client" | "unauthorized_client" => {
            Some("check the client id and its secret (`entra.client_credentials`)".to_owned())
        }
        "authorization_declined" => Some("the sign-in was declined in the browser; run login again".to_owned()),
        "expired_token" => Some(
            "the code expired before it was entered; run login again and enter the code within its time".to_owned(),
        ),
        _ if blocked_by_conditional_access(body) => Some(
            "a Conditional Access policy of the tenant blocks the device code flow (AADSTS53003); sign in without it: set `entra.client_credentials` in the plan (an app registration with a client secret or certificate, see docs/getting-started/entra.md) instead of `kiro-onboard login entra`".to_owned(),
        ),
        _ => None,
    };
    Error::Remote {
        service: "login".into(),
        operation: operation.into(),
        message: format!("HTTP {status} {error}: {description}"),
        hint,
        reason: None,
    }
}

/// AADSTS90002 "Tenant '{tenant}' not found": Entra's answer at the token and device code
/// endpoints for a tenant name it does not know (Microsoft Entra authentication and authorization
/// error codes, https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes).
/// The tenant as Entra quoted it.
fn unknown_tenant(body: &Value, description: &str) -> Option<String> {
    let coded = body["error_codes"].as_array().is_some_and(|codes| codes.iter().any(|c| c.as_u64() == Some(90002)))
        || description.starts_with("AADSTS90002");
    if !coded {
        return None;
    }
    let quoted = description.split_once("Tenant '").and_then(|(_, rest)| rest.split_once('\'')).map(|(t, _)| t);
    Some(quoted.unwrap_or("named").chars().filter(|c| !c.is_control()).take(200).collect())
}

/// AADSTS53003 "Access has been blocked by Conditional Access policies": Entra's answer when a
/// policy blocks an authentication flow such as the device code flow (Entra docs, Conditional
/// Access, "Block authentication flows").
fn blocked_by_conditional_access(body: &Value) -> bool {
    body["error_codes"].as_array().is_some_and(|codes| codes.iter().any(|c| c.as_u64() == Some(53003)))
        || body["error_description"].as_str().is_some_and(|d| d.starts_with("AADSTS53003"))
}

async fn token_request(
    http: &reqwest::Client,
    calls: &CallCounter,
    tenant: &str,
    form: &[(&str, &str)],
    operation: &str,
) -> Result<Result<Value, (u16, Value)>, Error> {
    let url = format!("{}/{tenant}/oauth2/v2.0/{operation}", login_base());
    let mut attempt = 0;
    loop {
        attempt += 1;
        calls.record("login");
        let response = http.post(&url).form(form).send().await.map_err(|e| Error::Remote {
            service: "login".into(),
            operation: operation.into(),
            message: format!("could not reach {url}: {e}"),
            hint: Some("check the network, or KIRO_ONBOARD_LOGIN_URL".into()),
            reason: None,
        })?;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if (status == 429 || status >= 500) && attempt < 5 {
            tokio::time::sleep(Duration::from_millis(500 * attempt)).await;
            continue;
        }
        return Ok(if (200..300).contains(&status) { Ok(body) } else { Err((status, body)) });
    }
}

/// The `tid` claim of an (unsigned-or-not) id token: the Directory (tenant) ID.
fn tenant_id_of(id_token: Option<&str>) -> Option<String> {
    let payload = id_token?.split('.').nth(1)?;
    let bytes = base64_decode(payload)?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims["tid"].as_str().map(str::to_owned)
}

fn session_from(tenant: &str, client_id: &str, body: &Value, previous: Option<&Session>) -> Option<Session> {
    Some(Session {
        tenant: tenant.to_owned(),
        tenant_id: tenant_id_of(body["id_token"].as_str()).or_else(|| previous.and_then(|p| p.tenant_id.clone())),
        client_id: client_id.to_owned(),
        access_token: body["access_token"].as_str()?.to_owned(),
        refresh_token: body["refresh_token"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| previous.and_then(|p| p.refresh_token.clone())),
        expires_at: expiry(body["expires_in"].as_u64()),
    })
}

/// The client for the token and device-code endpoints: it follows no redirect, since a 307/308
/// would resend the form (client secret or refresh token included) to wherever it points.
fn http() -> reqwest::Client {
    super::http::credential_client(&login_base(), super::http::Redirects::None)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default()
}

/// Never poll less often than this, whatever interval the server names.
const MAX_POLL_INTERVAL: u64 = 60;

/// The device authorization answer (RFC 8628 §3.2), checked: a server that names no code cannot be
/// polled, and its numbers are bounded so that a hostile one cannot make login wait for ever.
#[derive(Debug)]
struct DeviceCode {
    device_code: String,
    user_code: String,
    uri: String,
    interval: u64,
    deadline: u64,
}

impl DeviceCode {
    fn from_answer(body: &Value) -> Result<Self, Error> {
        let text = |key: &str| body[key].as_str().filter(|v| !v.is_empty() && v.len() <= 4096).map(str::to_owned);
        let (Some(device_code), Some(user_code)) = (text("device_code"), text("user_code")) else {
            return Err(Error::Remote {
                service: "login".into(),
                operation: "devicecode".into(),
                message: "the sign-in service answered without a device code and user code".into(),
                hint: Some("check KIRO_ONBOARD_LOGIN_URL and the tenant".into()),
                reason: None,
            });
        };
        Ok(DeviceCode {
            device_code,
            user_code: user_code.chars().filter(|c| !c.is_control()).collect(),
            uri: text("verification_uri")
                .map(|uri| uri.chars().filter(|c| !c.is_control()).collect())
                .unwrap_or_else(|| "https://microsoft.com/devicelogin".into()),
            interval: body["interval"].as_u64().unwrap_or(5).clamp(1, MAX_POLL_INTERVAL),
            deadline: now().saturating_add(body["expires_in"].as_u64().unwrap_or(900).min(3600)),
        })
    }
}

/// The device code flow: prints the URL and the code (to stderr), polls until the admin has signed
/// in, and caches the session. Returns the tenant id when the token names it.
pub async fn login_device_code(tenant: &str, client_id: &str, calls: &CallCounter) -> Result<Option<String>, Error> {
    let http = http();
    let started = match token_request(
        &http,
        calls,
        tenant,
        &[("client_id", client_id), ("scope", DELEGATED_SCOPES)],
        "devicecode",
    )
    .await?
    {
        Ok(body) => body,
        Err((status, body)) => return Err(login_error("devicecode", &body, status)),
    };
    let DeviceCode { device_code, user_code, uri, mut interval, deadline } = DeviceCode::from_answer(&started)?;
    // Something to do, not something wrong: a prompt, shown even with --quiet.
    crate::output::prompt(&format!(
        "To sign in, open {uri} in a browser (on any device) and enter the code {user_code}. Waiting…"
    ));
    loop {
        tokio::time::sleep(Duration::from_secs(interval)).await;
        if now() > deadline {
            return Err(login_error("token", &serde_json::json!({"error": "expired_token"}), 400));
        }
        let form = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", client_id),
            ("device_code", device_code.as_str()),
        ];
        match token_request(&http, calls, tenant, &form, "token").await? {
            Ok(body) => {
                let session =
                    session_from(tenant, client_id, &body, None).ok_or_else(|| login_error("token", &body, 200))?;
                let tenant_id = session.tenant_id.clone();
                let mut cache = read_cache();
                cache.sessions.retain(|s| s.tenant != tenant);
                cache.sessions.push(session);
                write_cache(&cache)?;
                return Ok(tenant_id);
            }
            Err((status, body)) => match body["error"].as_str() {
                Some("authorization_pending") => {}
                Some("slow_down") => interval = (interval + 5).min(MAX_POLL_INTERVAL),
                _ => return Err(login_error("token", &body, status)),
            },
        }
    }
}

/// A Graph access token and what is known about the tenant.
pub struct Token {
    pub access_token: SecretString,
    pub tenant_id: Option<String>,
    /// How long the token is valid from now.
    pub lifetime: Duration,
}

/// Client credentials with a secret: an app-only token, never cached.
pub async fn client_credentials(
    tenant: &str,
    client_id: &str,
    secret: &SecretString,
    calls: &CallCounter,
) -> Result<Token, Error> {
    let http = http();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", secret.expose_secret()),
        ("scope", APP_SCOPE),
    ];
    match token_request(&http, calls, tenant, &form, "token").await? {
        Ok(body) => app_token(&body),
        Err((status, body)) => Err(login_error("token", &body, status)),
    }
}

/// The app-only token of a successful client credentials answer; one without a token is an error,
/// not an empty bearer token that Graph would refuse with a confusing 401.
fn app_token(body: &Value) -> Result<Token, Error> {
    match body["access_token"].as_str().filter(|t| !t.is_empty()) {
        Some(token) => Ok(Token {
            access_token: SecretString::from(token.to_owned()),
            tenant_id: None,
            lifetime: Duration::from_secs(expiry(body["expires_in"].as_u64()).saturating_sub(now())),
        }),
        None => Err(Error::Remote {
            service: "login".into(),
            operation: "token".into(),
            message: "the token endpoint answered without an access_token".into(),
            hint: Some("check KIRO_ONBOARD_LOGIN_URL and `entra.client_credentials`".into()),
            reason: None,
        }),
    }
}

/// The DER body of the first PEM block labelled `label`.
fn pem_block(text: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    base64_decode(&text[start..stop])
}

/// A signed client assertion for the certificate credential (docs/vendor-behaviour.md §2.1.4): PS256 with the
/// `x5t#S256` thumbprint (SHA-256 of the certificate's DER), the pairing the current Entra page
/// "Microsoft identity platform application authentication certificate credentials"
/// (learn.microsoft.com/entra/identity-platform/certificate-credentials) names; its older
/// RS256 + `x5t` (SHA-1) form is not used.
async fn client_assertion(
    tenant: &str,
    client_id: &str,
    certificate: &super::settings::EntraCertificate,
) -> Result<String, Error> {
    use sha2::{Digest, Sha256};
    let bad = |message: String| {
        Error::Precondition {
        message,
        hint: "`entra.client_credentials.certificate` needs the PEM certificate uploaded to the app registration and its RSA private key in PKCS#8 PEM (BEGIN PRIVATE KEY)".into(),
    }
    };
    let cert_text = crate::files::read_at_most(&certificate.certificate_file, crate::files::MAX_SECRET_BYTES)
        .and_then(|bytes| {
            String::from_utf8(bytes)
                .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not UTF-8 text"))
        })
        .map_err(|e| bad(format!("could not read {}: {e}", certificate.certificate_file.display())))?;
    let der = pem_block(&cert_text, "CERTIFICATE")
        .ok_or_else(|| bad(format!("{} holds no PEM certificate", certificate.certificate_file.display())))?;
    let key =
        certificate.private_key.resolve().await.map_err(|e| bad(format!("could not read the private key: {e}")))?;
    let key_der = pem_block(key.expose_secret(), "PRIVATE KEY")
        .ok_or_else(|| bad("the private key is not a PKCS#8 PEM key".into()))?;
    let pair = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&key_der)
        .map_err(|e| bad(format!("the private key is not a usable RSA key ({e})")))?;
    let header = serde_json::json!({"alg": "PS256", "typ": "JWT", "x5t#S256": base64url(&Sha256::digest(&der))});
    let now = now();
    let jti = base64url(
        &Sha256::digest(format!("{client_id}{:?}{}", SystemTime::now(), std::process::id()).as_bytes())[..16],
    );
    let claims = serde_json::json!({
        "aud": format!("{}/{tenant}/oauth2/v2.0/token", login_base()),
        "iss": client_id, "sub": client_id, "jti": jti, "nbf": now, "iat": now, "exp": now + 600,
    });
    sign_ps256(&header, &claims, &pair).map_err(|e| bad(format!("the client assertion could not be made: {e}")))
}

pub(super) async fn client_assertion_token(
    tenant: &str,
    client_id: &str,
    assertion: &str,
    calls: &CallCounter,
) -> Result<Token, Error> {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
        ("client_assertion", assertion),
        ("scope", APP_SCOPE),
    ];
    match token_request(&http(), calls, tenant, &form, "token").await? {
        Ok(body) => app_token(&body),
        Err((status, body)) => Err(login_error("token", &body, status)),
    }
}

/// The cached admin session for `tenant`, refreshed (and the cache rewritten with the rotated
/// refresh token) when it has expired or is about to.
pub async fn cached(tenant: &str, calls: &CallCounter) -> Result<Token, Error> {
    cached_session(tenant, calls, false).await
}

/// `cached`; with `force`, refreshed even when the cached token has time left (Graph refused it).
async fn cached_session(tenant: &str, calls: &CallCounter, force: bool) -> Result<Token, Error> {
    let mut cache = read_cache();
    let Some(session) = cache.sessions.iter().find(|s| s.tenant == tenant).cloned() else {
        return Err(Error::Precondition {
            message: format!("not signed in to Microsoft Entra tenant {tenant}"),
            hint: format!(
                "run `kiro-onboard login entra --tenant {tenant}`, or set `entra.client_credentials` in the plan for automation"
            ),
        });
    };
    // A token this close to its end would die during the run: refreshed now instead (short-lived
    // tokens, as some tenants issue, are always refreshed).
    if !force && session.expires_at > now() + 120 {
        return Ok(Token {
            lifetime: Duration::from_secs(session.expires_at.saturating_sub(now())),
            access_token: SecretString::from(session.access_token),
            tenant_id: session.tenant_id,
        });
    }
    let Some(refresh) = session.refresh_token.clone() else {
        return Err(login_error("token", &serde_json::json!({"error": "invalid_grant"}), 400));
    };
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", session.client_id.as_str()),
        ("refresh_token", refresh.as_str()),
        ("scope", DELEGATED_SCOPES),
    ];
    match token_request(&http(), calls, tenant, &form, "token").await? {
        Ok(body) => {
            let fresh = session_from(tenant, &session.client_id, &body, Some(&session))
                .ok_or_else(|| login_error("token", &body, 200))?;
            let token = Token {
                access_token: SecretString::from(fresh.access_token.clone()),
                tenant_id: fresh.tenant_id.clone(),
                lifetime: Duration::from_secs(fresh.expires_at.saturating_sub(now())),
            };
            cache.sessions.retain(|s| s.tenant != tenant);
            cache.sessions.push(fresh);
            write_cache(&cache)?;
            Ok(token)
        }
        Err((status, body)) => Err(login_error("refresh", &body, status)),
    }
}

/// A Graph client for a plan's `entra` section: client credentials when the plan names them,
/// else the cached admin session.
pub async fn graph_for(
    entra: &super::settings::EntraSettings,
    calls: Arc<CallCounter>,
) -> Result<(super::graph::Graph, Option<String>), Error> {
    let token = token_for(entra, &calls, false).await?;
    let first = super::graph::AccessToken::new(token.access_token, token.lifetime);
    let source = Arc::new(PlanTokens { entra: entra.clone(), calls: calls.clone() });
    Ok((super::graph::Graph::with_source(first, source, calls), token.tenant_id))
}

/// Renews the Graph token of a plan's `entra` section the way it was first obtained.
struct PlanTokens {
    entra: super::settings::EntraSettings,
    calls: Arc<CallCounter>,
}

impl super::graph::TokenSource for PlanTokens {
    fn fetch(
        &self,
        force: bool,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<super::graph::AccessToken, String>> + Send + '_>> {
        Box::pin(async move {
            let token = token_for(&self.entra, &self.calls, force).await.map_err(|e| e.to_string())?;
            tracing::info!("renewed the Graph access token (valid {} s)", token.lifetime.as_secs());
            Ok(super::graph::AccessToken::new(token.access_token, token.lifetime))
        })
    }
}

/// A token for the plan: client credentials when the plan names them, else the cached admin
/// session (`force`: refreshed even if the cached token has time left).
async fn token_for(
    entra: &super::settings::EntraSettings,
    calls: &Arc<CallCounter>,
    force: bool,
) -> Result<Token, Error> {
    Ok(match &entra.client_credentials {
        Some(cc) => match (&cc.client_secret, &cc.certificate) {
            (Some(secret), _) => {
                let secret = secret.resolve().await.map_err(|e| Error::Precondition {
                    message: format!("could not read the Entra client secret: {e}"),
                    hint: "check `entra.client_credentials.client_secret`".into(),
                })?;
                client_credentials(&entra.tenant, &cc.client_id, &secret, calls).await?
            }
            (None, Some(certificate)) => {
                let assertion = client_assertion(&entra.tenant, &cc.client_id, certificate).await?;
                client_assertion_token(&entra.tenant, &cc.client_id, &assertion, calls).await?
            }
            (None, None) => match &cc.federated_token {
                Some(source) => super::entra_federated::token(&entra.tenant, &cc.client_id, source, calls).await?,
                None => {
                    return Err(Error::Precondition {
                        message: "`entra.client_credentials` names no client secret, certificate or federated token".into(),
                        hint: "add `client_secret: { env: NAME }`, `certificate: { certificate_file: …, private_key: { file: … } }` or `federated_token: { file: … }`".into(),
                    });
                }
            },
        },
        // Workload identity federation from the environment (azure-identity's variables) comes
        // before the cached admin session: a CI runner has no session, a laptop rarely these.
        None => match super::entra_federated::from_environment(&entra.tenant)? {
            Some((client_id, source)) => {
                super::entra_federated::token(&entra.tenant, &client_id, &source, calls).await?
            }
            None if !force => cached(&entra.tenant, calls).await?,
            None => cached_session(&entra.tenant, calls, true).await?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANARY: &str = "entra-auth-canary-3f9a";

    fn token_answers() -> Vec<Vec<u8>> {
        [
            format!(r#"{{"token_type":"Bearer","scope":"https://graph.microsoft.com/.default","expires_in":3599,"ext_expires_in":3599,"access_token":"{CANARY}","refresh_token":"{CANARY}-r","id_token":"e30.eyJ0aWQiOiJhYmMifQ."}}"#),
            r#"{"device_code":"DAQABAAEAAA","user_code":"F7K2PQ9TX","verification_uri":"https://microsoft.com/devicelogin","expires_in":900,"interval":5,"message":"To sign in, use a web browser"}"#.into(),
            r#"{"error":"authorization_pending","error_description":"AADSTS70016: OAuth 2.0 device flow error.\r\nTrace ID: 0","error_codes":[70016]}"#.into(),
            r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#.into(),
        ]
        .into_iter()
        .map(String::into_bytes)
        .collect()
    }

    #[test]
    fn hostile_token_answers_never_panic_hang_or_read_as_a_session() {
        crate::fuzz::run("entra token", &token_answers(), crate::fuzz::JSON_PIECES, 3_000, |input| {
            let body: Value = serde_json::from_slice(input).unwrap_or(Value::Null);
            match session_from("t", "c", &body, None) {
                Some(session) => {
                    assert_eq!(Some(session.access_token.as_str()), body["access_token"].as_str());
                    assert!(!format!("{session:?}").contains(CANARY));
                }
                None => assert!(body["access_token"].as_str().is_none()),
            }
            match app_token(&body) {
                Ok(token) => assert!(!token.access_token.expose_secret().is_empty()),
                Err(e) => assert!(e.to_string().contains("without an access_token")),
            }
            match DeviceCode::from_answer(&body) {
                Ok(code) => {
                    assert!(!code.device_code.is_empty() && (1..=MAX_POLL_INTERVAL).contains(&code.interval));
                    assert!(code.deadline <= now() + 3600);
                }
                Err(e) => assert!(e.to_string().contains("without a device code")),
            }
            let error = login_error("token", &body, 400).to_string();
            assert!(error.starts_with("login token failed: HTTP 400") && error.len() < 1_000, "{error}");
            let _ = tenant_id_of(std::str::from_utf8(input).ok());
        });
    }

    #[test]
    fn a_damaged_token_cache_is_explained_without_showing_its_tokens() {
        let cache = format!(
            r#"{{"sessions":[{{"tenant":"example.onmicrosoft.com","tenant_id":"abc","client_id":"c","access_token":"{CANARY}","refresh_token":"{CANARY}","expires_at":1}}]}}"#
        );
        crate::fuzz::run("entra cache", &[cache.clone().into_bytes()], crate::fuzz::JSON_PIECES, 2_000, |input| {
            if let Err(reason) = parse_cache(input) {
                assert!(!reason.is_empty() && !reason.contains(CANARY), "{reason}");
            }
        });
        assert!(parse_cache(cache.as_bytes()).unwrap().sessions.len() == 1);
        assert_eq!(parse_cache(b"").unwrap_err(), "it is empty");
        assert_eq!(parse_cache(&[0xff, 0xfe]).unwrap_err(), "it is not UTF-8 text");
        assert!(parse_cache(&vec![b' '; 2 * 1024 * 1024]).unwrap_err().contains("far more than a token cache holds"));
        let wrong_type = cache.replace("\"expires_at\":1", &format!("\"expires_at\":\"{CANARY}\""));
        let reason = parse_cache(wrong_type.as_bytes()).unwrap_err();
        assert!(reason.contains("not a kiro-onboard token cache") && !reason.contains(CANARY), "{reason}");
    }

    #[test]
    fn huge_lifetimes_do_not_overflow() {
        assert!(expiry(Some(u64::MAX)) <= now() + 86_400 * 90);
        let body = serde_json::json!({"access_token": "a", "expires_in": u64::MAX});
        assert!(session_from("t", "c", &body, None).is_some());
        let code =
            serde_json::json!({"device_code": "d", "user_code": "u", "interval": u64::MAX, "expires_in": u64::MAX});
        assert_eq!(DeviceCode::from_answer(&code).unwrap().interval, MAX_POLL_INTERVAL);
    }

    #[test]
    fn reads_the_tenant_from_an_id_token() {
        // {"tid":"abc"} base64url-encoded
        let token = format!("e30.{}.", "eyJ0aWQiOiJhYmMifQ");
        assert_eq!(super::tenant_id_of(Some(&token)).as_deref(), Some("abc"));
    }

    #[test]
    fn base64url_round_trips() {
        for text in ["", "a", "ab", "abc", "abcd", "{\"tid\":\"abc\"}"] {
            let encoded = super::base64url(text.as_bytes());
            assert!(!encoded.contains('='));
            assert_eq!(super::base64_decode(&encoded).unwrap(), text.as_bytes());
        }
    }
}
