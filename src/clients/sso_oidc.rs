//! IAM Identity Center OIDC: the OAuth 2.0 device authorization grant (RFC 8628) that Kiro CLI
//! runs on a remote machine (https://kiro.dev/docs/cli/authentication/, "Sign in from a remote
//! machine: Device flow"):
//! RegisterClient, StartDeviceAuthorization with the AWS access portal URL, then CreateToken
//! polled until the user has signed in at the portal and allowed access. The operations are
//! unsigned (`"authtype": "none"` in the service model): no AWS credentials are used or needed.
//! The client secret, the device code and the tokens are secrets, wrapped from the moment they
//! arrive; only the user code is shown, because the user types it.

use std::time::{Duration, Instant};

use aws_sdk_ssooidc::operation::create_token::CreateTokenError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use secrecy::{ExposeSecret, SecretString};

use super::aws::{Aws, remote_error};
use crate::error::Error;

const SERVICE: &str = "sso-oidc";
/// CreateToken's grant type for the device code (IAM Identity Center OIDC API reference).
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// RFC 8628 §3.5: on `slow_down` "the interval MUST be increased by 5 seconds for this and all
/// subsequent requests".
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// A client registered with Identity Center for this run only (never cached or written).
pub struct Registration {
    pub client_id: String,
    client_secret: SecretString,
}

/// What the user needs to sign in: the verification URL and the code to enter there.
pub struct DeviceAuthorization {
    device_code: SecretString,
    pub user_code: String,
    pub verification_uri: String,
    /// The verification URL with the code filled in.
    pub verification_uri_complete: Option<String>,
    pub expires_in: Duration,
    interval: Duration,
}

pub enum Start {
    Started(DeviceAuthorization),
    /// Identity Center refused the start URL (`InvalidRequestException`): its message.
    StartUrlRefused(String),
}

pub enum Outcome {
    /// The user signed in and allowed access: the access token (held in memory only).
    Token(SecretString),
    /// The user chose Deny (`AccessDeniedException`): its message.
    Denied(String),
    /// The code expired (`ExpiredTokenException`) or the wait ran out before the user approved.
    NotCompleted(String),
}

/// RegisterClient: a public client asking for `scopes`.
pub async fn register(aws: &Aws, region: &str, client_name: &str, scopes: &[&str]) -> Result<Registration, Error> {
    let client = aws.sso_oidc(region);
    let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
    let out = aws
        .call(SERVICE, "RegisterClient", || {
            client
                .register_client()
                .client_name(client_name)
                .client_type("public")
                .set_scopes(Some(scopes.clone()))
                .send()
        })
        .await
        .map_err(|e| remote_error(SERVICE, "RegisterClient", &e))?;
    let (Some(client_id), Some(secret)) = (out.client_id, out.client_secret) else {
        return Err(malformed("RegisterClient", "no clientId or clientSecret"));
    };
    Ok(Registration { client_id, client_secret: SecretString::from(secret) })
}

/// StartDeviceAuthorization for the AWS access portal `start_url`.
pub async fn start(aws: &Aws, region: &str, registration: &Registration, start_url: &str) -> Result<Start, Error> {
    let client = aws.sso_oidc(region);
    let answer = aws
        .call(SERVICE, "StartDeviceAuthorization", || {
            client
                .start_device_authorization()
                .client_id(&registration.client_id)
                .client_secret(registration.client_secret.expose_secret())
                .start_url(start_url)
                .send()
        })
        .await;
    let out = match answer {
        Ok(out) => out,
        Err(e) if e.as_service_error().is_some_and(|s| s.is_invalid_request_exception()) => {
            return Ok(Start::StartUrlRefused(e.message().unwrap_or("InvalidRequestException").to_owned()));
        }
        Err(e) => return Err(remote_error(SERVICE, "StartDeviceAuthorization", &e)),
    };
    let (Some(device_code), Some(user_code), Some(verification_uri)) =
        (out.device_code, out.user_code, out.verification_uri)
    else {
        return Err(malformed("StartDeviceAuthorization", "no deviceCode, userCode or verificationUri"));
    };
    Ok(Start::Started(DeviceAuthorization {
        device_code: SecretString::from(device_code),
        user_code,
        verification_uri,
        verification_uri_complete: out.verification_uri_complete,
        expires_in: Duration::from_secs(out.expires_in.max(0) as u64),
        // RFC 8628 §3.2: "If no value is provided, clients MUST use 5 as the default."
        interval: Duration::from_secs(if out.interval > 0 { out.interval as u64 } else { 5 }),
    }))
}

/// Polls CreateToken every `interval` until the user approves or denies, the code expires, or
/// `wait` runs out, whichever comes first.
pub async fn wait_for_token(
    aws: &Aws,
    region: &str,
    registration: &Registration,
    authorization: &DeviceAuthorization,
    wait: Duration,
) -> Result<Outcome, Error> {
    let client = aws.sso_oidc(region);
    let deadline = Instant::now() + wait.min(authorization.expires_in);
    let mut interval = authorization.interval;
    loop {
        let answer = aws
            .call(SERVICE, "CreateToken", || {
                client
                    .create_token()
                    .client_id(&registration.client_id)
                    .client_secret(registration.client_secret.expose_secret())
                    .grant_type(DEVICE_GRANT)
                    .device_code(authorization.device_code.expose_secret())
                    .send()
            })
            .await;
        match answer {
            Ok(out) => {
                return match out.access_token {
                    Some(token) => Ok(Outcome::Token(SecretString::from(token))),
                    None => Err(malformed("CreateToken", "no accessToken")),
                };
            }
            Err(e) => match e.as_service_error() {
                Some(CreateTokenError::AuthorizationPendingException(_)) => {}
                Some(CreateTokenError::SlowDownException(_)) => interval += SLOW_DOWN_STEP,
                Some(CreateTokenError::AccessDeniedException(denied)) => {
                    return Ok(Outcome::Denied(denied.message().unwrap_or("AccessDeniedException").to_owned()));
                }
                Some(CreateTokenError::ExpiredTokenException(_)) => {
                    return Ok(Outcome::NotCompleted(format!(
                        "the code expired after {}s",
                        authorization.expires_in.as_secs()
                    )));
                }
                _ => return Err(remote_error(SERVICE, "CreateToken", &e)),
            },
        }
        if Instant::now() + interval > deadline {
            return Ok(Outcome::NotCompleted(format!(
                "the user did not sign in within {}s",
                wait.min(authorization.expires_in).as_secs()
            )));
        }
        tokio::time::sleep(interval).await;
    }
}

fn malformed(operation: &str, what: &str) -> Error {
    Error::Remote {
        service: SERVICE.into(),
        operation: operation.into(),
        message: format!("IAM Identity Center OIDC answered without what the API promises: {what}"),
        hint: None,
        reason: None,
    }
}
