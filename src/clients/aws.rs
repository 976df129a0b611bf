//! AWS access: configuration from the standard chain (profiles, SSO, environment, including
//! `AWS_ENDPOINT_URL` for local servers), and `call`, which every AWS request goes through.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::calls::CallCounter;
use super::rate_limit::RateLimiter;
use super::retry::{Failure, RetryPolicy};
use super::settings::AwsSettings;
use crate::error::{Error, RemoteReason};

/// Identity Center's documented collective limit for its APIs.
pub const DEFAULT_MAX_TPS: f64 = 20.0;

/// The Region that global services (Route 53) are signed for in the `aws` partition.
const GLOBAL_REGION: &str = "us-east-1";

/// `--profile` and `--region` from the command line: they win over the plan's `aws` section on
/// every command that reads AWS (docs/plan-reference.md, "aws").
static OVERRIDES: std::sync::OnceLock<AwsSettings> = std::sync::OnceLock::new();

/// `-v`: errors also show the SDK's own account of a failure.
static SDK_DETAIL: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// What the last `Aws::load` used, so an error can say it in the admin's terms.
static LOADED: std::sync::Mutex<Option<Loaded>> = std::sync::Mutex::new(None);

struct Loaded {
    profile: Option<String>,
    region: String,
    sso_sign_in_missing: Option<String>,
}

/// Called once, from the command line: `profile` and `region` override every plan's `aws`.
pub fn set_command_line(profile: Option<String>, region: Option<String>, verbose: bool) {
    let _ = OVERRIDES.set(AwsSettings { profile, region });
    SDK_DETAIL.store(verbose, std::sync::atomic::Ordering::Relaxed);
}

fn with_overrides(settings: &AwsSettings) -> AwsSettings {
    let overrides = OVERRIDES.get().cloned().unwrap_or_default();
    AwsSettings {
        profile: overrides.profile.or_else(|| settings.profile.clone()),
        region: overrides.region.or_else(|| settings.region.clone()),
    }
}

/// A named profile that neither shared file defines fails in the SDK with an account of its
/// provider chain; said here in one sentence. Credentials in the environment come first in the
/// chain, so with them the profile is not needed for credentials and the SDK goes on.
fn missing_profile(profiles: &super::aws_profile::Profiles, name: &str) -> Option<Error> {
    if profiles.has(name) || std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
        return None;
    }
    let known = profiles.names();
    let there = match crate::shared::words::did_you_mean(name, known.iter().map(String::as_str)) {
        Some(close) => format!("did you mean `{close}`? Profiles there: {}", known.join(", ")),
        None if known.is_empty() => "those files define no profile".to_owned(),
        None => format!("profiles there: {}", known.join(", ")),
    };
    Some(Error::Precondition {
        message: format!(
            "the AWS profile `{name}` is in neither {} nor {}",
            profiles.config.describe(),
            profiles.credentials.describe()
        ),
        hint: format!(
            "{there}; correct `aws.profile` in the plan (or --profile, AWS_PROFILE), or create it with `aws configure sso --profile {name}`"
        ),
    })
}

pub struct Aws {
    pub config: SdkConfig,
    pub calls: Arc<CallCounter>,
    limiter: RateLimiter,
    retry: RetryPolicy,
}

pub type AwsResult<T, E> = Result<T, SdkError<E, HttpResponse>>;

impl Aws {
    pub async fn load(
        settings: &AwsSettings,
        max_tps: f64,
        calls: Arc<CallCounter>,
        require_region: bool,
    ) -> Result<Self, Error> {
        let settings = &with_overrides(settings);
        let profiles = super::aws_profile::Profiles::read();
        let profile = settings.profile.clone().or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()));
        if let Some(error) = profile.as_deref().and_then(|name| missing_profile(&profiles, name)) {
            return Err(error);
        }
        let timeout = super::call_timeout(Duration::from_secs(30));
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            // The SDK's own User-Agent gains `app/kiro-onboard` (its AppName), so CloudTrail's
            // userAgent tells the tool's calls apart; the name allows no `/`, so no version.
            .app_name(aws_config::AppName::new("kiro-onboard").expect("a valid AppName"))
            // Our own retry loop honours RetryAfterSeconds and shares the rate limit; the SDK's
            // would retry blindly underneath it.
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5).min(timeout))
                    .operation_attempt_timeout(timeout)
                    .build(),
            );
        if let Some(profile) = &settings.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &settings.region {
            loader = loader.region(Region::new(region.clone()));
        } else if !require_region {
            // Only global services (Route 53): the environment or the profile may name a Region,
            // else any Region signs them. Not asking the instance metadata service spares a
            // machine outside EC2 a wait and a screen of warnings.
            let profile_region = match &settings.profile {
                Some(name) => aws_config::profile::ProfileFileRegionProvider::builder().profile_name(name).build(),
                None => aws_config::profile::ProfileFileRegionProvider::builder().build(),
            };
            loader = loader.region(
                aws_config::meta::region::RegionProviderChain::first_try(
                    aws_config::environment::EnvironmentVariableRegionProvider::new(),
                )
                .or_else(profile_region)
                .or_else(Region::new(GLOBAL_REGION)),
            );
        }
        let mut config = loader.load().await;
        if config.region().is_none() && !require_region {
            // Only global services (Route 53) are used: any Region signs them.
            config = config.into_builder().region(Region::new(GLOBAL_REGION)).build();
        }
        if config.region().is_none() {
            let from_profile = match &profile {
                Some(name) => format!(", nor does the profile `{name}` in {}", profiles.config.describe()),
                None => String::new(),
            };
            return Err(Error::Precondition {
                message: format!(
                    "no AWS Region is configured: the plan has no `aws.region`, AWS_REGION is not set{from_profile}"
                ),
                hint:
                    "set `aws.region` in the plan (the Region of your IAM Identity Center instance), or pass --region"
                        .into(),
            });
        }
        let sso_sign_in_missing = profile.as_deref().and_then(|name| profiles.sso_sign_in_missing(name));
        *LOADED.lock().unwrap_or_else(|e| e.into_inner()) = Some(Loaded {
            profile,
            region: config.region().map(|r| r.to_string()).unwrap_or_default(),
            sso_sign_in_missing,
        });
        Ok(Aws { config, calls, limiter: RateLimiter::new(max_tps), retry: RetryPolicy::default() })
    }

    pub fn region(&self) -> String {
        self.config.region().map(|r| r.to_string()).unwrap_or_default()
    }

    pub fn identity_store(&self) -> aws_sdk_identitystore::Client {
        aws_sdk_identitystore::Client::new(&self.config)
    }

    pub fn kms(&self) -> aws_sdk_kms::Client {
        aws_sdk_kms::Client::new(&self.config)
    }

    pub fn sso_admin(&self) -> aws_sdk_ssoadmin::Client {
        aws_sdk_ssoadmin::Client::new(&self.config)
    }

    /// The account these credentials belong to (STS GetCallerIdentity, which needs no permission:
    /// "No permissions are required to perform this operation", STS API reference). `None` when
    /// STS cannot be reached; callers then fall back to what they know.
    pub async fn caller_account(&self) -> Option<String> {
        let client = aws_sdk_sts::Client::new(&self.config);
        match self.call("sts", "GetCallerIdentity", || client.get_caller_identity().send()).await {
            Ok(out) => out.account,
            Err(e) => {
                tracing::debug!("sts GetCallerIdentity failed: {e}");
                None
            }
        }
    }

    /// IAM Identity Center OIDC in the instance's Region. Its operations are unsigned (the
    /// service model marks them `"authtype": "none"`): no AWS credentials are used.
    pub fn sso_oidc(&self, region: &str) -> aws_sdk_ssooidc::Client {
        let config =
            aws_sdk_ssooidc::config::Builder::from(&self.config).region(Region::new(region.to_owned())).build();
        aws_sdk_ssooidc::Client::from_conf(config)
    }

    /// Route 53 is a global service; its endpoint rules pick the signing Region from the partition.
    pub fn route53(&self) -> aws_sdk_route53::Client {
        aws_sdk_route53::Client::new(&self.config)
    }

    /// Runs one AWS operation under the rate limit, retrying throttling (after the wait the
    /// service names, if any) and transient failures, and counting every attempt.
    pub async fn call<T, E, F, Fut>(&self, service: &'static str, operation: &'static str, send: F) -> AwsResult<T, E>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = AwsResult<T, E>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let mut attempt = 1;
        loop {
            self.limiter.acquire().await;
            self.calls.record(service);
            let result = send().await;
            let Err(err) = result else { return result };
            let failure = classify(&err);
            match self.retry.delay(failure, attempt) {
                Some(wait) => {
                    tracing::debug!(
                        service,
                        operation,
                        attempt,
                        ?failure,
                        wait_ms = wait.as_millis() as u64,
                        "retrying"
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                None => return Err(err),
            }
        }
    }
}

impl Aws {
    /// Every item of a paginated list operation: one `call` per page, following `NextToken`
    /// until the service stops returning one.
    pub async fn list_all<T, P, E, F, Fut>(
        &self,
        service: &'static str,
        operation: &'static str,
        send: F,
        split: impl Fn(P) -> (Vec<T>, Option<String>),
    ) -> Result<Vec<T>, Error>
    where
        F: Fn(Option<String>) -> Fut,
        Fut: Future<Output = AwsResult<P, E>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .call(service, operation, || send(token.clone()))
                .await
                .map_err(|e| remote_error(service, operation, &e))?;
            let (batch, next) = split(page);
            items.extend(batch);
            token = next.filter(|t| !t.is_empty());
            if token.is_none() {
                return Ok(items);
            }
        }
    }
}

/// Sorts an SDK error into what retrying can do about it.
pub fn classify<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> Failure {
    match err {
        SdkError::TimeoutError(_) => Failure::Transient,
        SdkError::ResponseError(_) => Failure::Transient,
        SdkError::DispatchFailure(failure) if failure.is_timeout() => Failure::Transient,
        SdkError::DispatchFailure(failure) if failure.is_io() => Failure::Unreachable,
        SdkError::DispatchFailure(failure) if failure.is_other() => Failure::Transient,
        SdkError::ServiceError(context) => {
            let code = err.code().unwrap_or("");
            let status = context.raw().status().as_u16();
            if matches!(
                code,
                "ThrottlingException"
                    | "Throttling"
                    | "TooManyRequestsException"
                    | "RequestLimitExceeded"
                    | "PriorRequestNotComplete"
                    | "SlowDown"
                    | "RequestThrottled"
            ) || status == 429
            {
                Failure::Throttled { after: retry_after(context.raw()) }
            } else if matches!(
                code,
                "InternalServerException"
                    | "InternalFailure"
                    | "ServiceUnavailable"
                    | "KMSInternalException"
                    | "DependencyTimeoutException"
            ) || matches!(status, 500 | 502 | 503 | 504)
            {
                Failure::Transient
            } else {
                Failure::Permanent
            }
        }
        _ => Failure::Permanent,
    }
}

/// The wait a throttling answer asks for: Identity Store puts `RetryAfterSeconds` in the body,
/// which the SDK parses but does not act on.
fn retry_after(response: &HttpResponse) -> Option<Duration> {
    if let Some(seconds) = response.headers().get("retry-after").and_then(|v| v.trim().parse::<f64>().ok()) {
        return Some(Duration::from_secs_f64(seconds.max(0.0)));
    }
    let body = response.body().bytes()?;
    let json: serde_json::Value = serde_json::from_slice(body).ok()?;
    json.get("RetryAfterSeconds").and_then(serde_json::Value::as_f64).map(|s| Duration::from_secs_f64(s.max(0.0)))
}

/// An error for the admin: what failed, the service's own code and message, and what to do.
/// Failures that carry no service answer (credentials, DNS, the network) are said in one
/// sentence; the SDK's own account of them only with `-v`.
pub fn remote_error<E>(service: &'static str, operation: &'static str, err: &SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = err.code().map(str::to_owned);
    let text = DisplayErrorContext(err).to_string();
    let request_id = err.meta().extra("aws_request_id").map(|id| format!(" (request id {id})")).unwrap_or_default();
    let reason = error_reason(err);
    let (message, hint) = match plain_words(service, code.as_deref(), err, &text) {
        Some((message, hint)) => (message, Some(hint)),
        None => {
            let message = match (&code, err.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.clone(),
                _ => text.clone(),
            };
            (message, service_hint(service, operation, code.as_deref(), reason.as_deref(), err))
        }
    };
    let message = if code.is_none() && SDK_DETAIL.load(std::sync::atomic::Ordering::Relaxed) {
        format!("{message} (the SDK says: {text})")
    } else {
        message
    };
    let typed_reason = (reason.as_deref() == Some("KMS_ACCESS_DENIED")).then_some(RemoteReason::KmsAccessDenied);
    let reason = reason.map(|r| format!(" (reason {r})")).unwrap_or_default();
    Error::Remote {
        service: service.into(),
        operation: operation.into(),
        message: format!("{message}{reason}{request_id}"),
        hint,
        reason: typed_reason,
    }
}

/// The first-hour mistakes, in the admin's terms: no credentials (an SSO profile never signed
/// in), expired credentials, an endpoint that does not resolve (a Region that does not exist),
/// AWS out of reach. `None` for an answer the service gave in its own words.
fn plain_words<E>(
    service: &str,
    code: Option<&str>,
    err: &SdkError<E, HttpResponse>,
    text: &str,
) -> Option<(String, String)> {
    let loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
    let profile = loaded.as_ref().and_then(|l| l.profile.clone());
    let sso_login = match &profile {
        Some(name) => format!("run `aws sso login --profile {name}`"),
        None => "run `aws sso login --profile NAME`".to_owned(),
    };
    if let Some(code @ ("ExpiredTokenException" | "ExpiredToken" | "RequestExpired")) = code {
        return Some((
            format!("the AWS credentials in use have expired ({code})"),
            format!("get new ones and run this again: for an SSO profile, {sso_login}"),
        ));
    }
    let dispatch = matches!(err, SdkError::DispatchFailure(_) | SdkError::TimeoutError(_));
    if code.is_some() || !dispatch {
        return None;
    }
    if text.contains("loading credentials") || text.contains("no credentials found") {
        if let Some(why) = loaded.as_ref().and_then(|l| l.sso_sign_in_missing.clone()) {
            return Some((why, format!("{sso_login}, then run this again")));
        }
        let hint = match &profile {
            Some(name) => format!(
                "see what the profile `{name}` gives with `aws sts get-caller-identity --profile {name}`; for an SSO profile, {sso_login}"
            ),
            None => "no usable AWS credentials: set `aws.profile` in the plan (or --profile, AWS_PROFILE), export AWS credentials, or run `aws sso login`".to_owned(),
        };
        return Some(("no AWS credentials could be loaded (tried the environment, the profile files, SSO, credential_process and the instance metadata service)".to_owned(), hint));
    }
    let region = loaded.as_ref().map(|l| l.region.clone()).unwrap_or_default();
    let endpoint = std::env::var("AWS_ENDPOINT_URL").ok().filter(|e| !e.is_empty());
    if text.contains("dns error") || text.contains("failed to lookup address") {
        return Some(match (endpoint, crate::shared::regions::aws_region(&region)) {
            (Some(url), _) => (
                format!("the host of AWS_ENDPOINT_URL={url} does not resolve"),
                "check AWS_ENDPOINT_URL, or unset it to use AWS".to_owned(),
            ),
            (None, None) => {
                let meant = crate::shared::words::did_you_mean(&region, crate::shared::regions::aws_region_codes())
                    .map(|code| format!("did you mean `{code}`? "))
                    .unwrap_or_default();
                (
                    format!("`{region}` is not an AWS Region: the {service} endpoint for it does not resolve"),
                    format!(
                        "{meant}The Region comes from --region, `aws.region` in the plan, AWS_REGION or the profile's `region`"
                    ),
                )
            }
            (None, Some(_)) => (
                format!("the AWS {service} endpoint in {region} does not resolve (DNS)"),
                "check the network and DNS of this machine, and proxy settings".to_owned(),
            ),
        });
    }
    let target =
        endpoint.map(|url| format!("AWS_ENDPOINT_URL={url}")).unwrap_or_else(|| format!("AWS {service} in {region}"));
    Some((
        format!("could not reach {target}"),
        "check the network, proxy settings, and AWS_ENDPOINT_URL if it is set".to_owned(),
    ))
}

/// What to do about an answer AWS gave: a refusal names the IAM action and the policy to read.
fn service_hint<E>(
    service: &str,
    operation: &str,
    code: Option<&str>,
    reason: Option<&str>,
    err: &SdkError<E, HttpResponse>,
) -> Option<String> {
    let action = format!("{}:{operation}", iam_prefix(service));
    let forbidden = err.raw_response().is_some_and(|r| r.status().as_u16() == 403);
    match code {
        // IAM Identity Center user guide, "Baseline KMS key and IAM policy statements": with a
        // customer managed key, Identity Store calls need kms:Decrypt, kms:Encrypt and
        // kms:GenerateDataKeyWithoutPlaintext on that key; a refusal says KMS_ACCESS_DENIED.
        Some("AccessDeniedException") if reason == Some("KMS_ACCESS_DENIED") => Some(format!(
            "{action} itself was allowed, but IAM Identity Center encrypts with a customer managed KMS key that this AWS identity may not use: it needs kms:Decrypt, kms:Encrypt and kms:GenerateDataKeyWithoutPlaintext on that key (via identitystore and sso), in the key policy or an IAM policy; see docs/security.md"
        )),
        Some("AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation") => Some(format!(
            "the AWS identity in use may not call {action}; docs/security.md lists the least-privilege policy"
        )),
        // A 403 whose body names no error code the SDK can read (moto answers every service's
        // refusals in one XML shape) is still a refusal of this action.
        None if forbidden => Some(format!(
            "AWS refused the request (HTTP 403): the AWS identity in use may not call {action}; docs/security.md lists the least-privilege policy"
        )),
        Some("UnrecognizedClientException" | "InvalidClientTokenId") => Some(
            "your AWS credentials are not valid for this account; for SSO profiles run `aws sso login --profile NAME`"
                .into(),
        ),
        Some("ThrottlingException") => {
            Some("AWS kept throttling after several retries; run again later or lower --max-tps".into())
        }
        _ => None,
    }
}

/// The IAM action prefix of a service: sso-admin's actions are `sso:…` (Service Authorization
/// Reference, "Actions defined by AWS IAM Identity Center").
pub fn iam_prefix(service: &str) -> &str {
    match service {
        "sso-admin" => "sso",
        other => other,
    }
}

/// The `Reason` member of an AWS JSON error body (Identity Store's ConflictException,
/// AccessDeniedException, ValidationException, ResourceNotFoundException carry one).
pub fn error_reason<E>(err: &SdkError<E, HttpResponse>) -> Option<String> {
    let body = err.raw_response()?.body().bytes()?;
    let json: serde_json::Value = serde_json::from_slice(body).ok()?;
    json.get("Reason").and_then(serde_json::Value::as_str).map(str::to_owned)
}
