//! Workload identity federation for Microsoft Entra: a short-lived token that a CI system or
//! Kubernetes issues is sent as the client assertion of a client credentials request
//! (learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow, third case;
//! learn.microsoft.com/entra/workload-id/workload-identity-federation). The token is read again
//! before every token request: these tokens rotate (a Kubernetes projected token, a fresh GitHub
//! Actions token written to the same file), so it is never kept.
//!
//! Where the token comes from, in this order (azure-identity's: explicit settings first, then
//! its environment variables, `WorkloadIdentityCredential`):
//! 1. the plan's `entra.client_credentials.federated_token` (with its `client_id`);
//! 2. when the plan has no `entra.client_credentials`: `AZURE_FEDERATED_TOKEN_FILE` with
//!    `AZURE_CLIENT_ID`, before the cached admin session of `kiro-onboard login entra`.
//!
//! The tenant is always the plan's `entra.tenant`: the plan, reviewed, says which tenant is
//! changed, and an environment variable does not redirect it. `AZURE_TENANT_ID` is only compared
//! with it, and a different tenant id is refused rather than silently ignored.

use secrecy::SecretString;

use super::calls::CallCounter;
use crate::error::Error;
use crate::shared::secret::{FileSecret, SecretRef};

/// The file azure-identity's `WorkloadIdentityCredential` reads the federated token from.
pub const TOKEN_FILE_VAR: &str = "AZURE_FEDERATED_TOKEN_FILE";
/// The app registration (client) id that trusts the federated token.
pub const CLIENT_ID_VAR: &str = "AZURE_CLIENT_ID";
/// The tenant id azure-identity signs in to; here only checked against the plan's tenant.
pub const TENANT_ID_VAR: &str = "AZURE_TENANT_ID";

/// The federated credential named by the environment, for a plan without `client_credentials`:
/// `(client_id, token source)`, or `None` when `AZURE_FEDERATED_TOKEN_FILE` is not set.
pub fn from_environment(tenant: &str) -> Result<Option<(String, SecretRef)>, Error> {
    let Some(file) = std::env::var_os(TOKEN_FILE_VAR).filter(|f| !f.is_empty()) else {
        return Ok(None);
    };
    let client_id = std::env::var(CLIENT_ID_VAR).ok().filter(|c| !c.trim().is_empty()).ok_or_else(|| {
        Error::Precondition {
            message: format!("{TOKEN_FILE_VAR} is set but {CLIENT_ID_VAR} is not"),
            hint: format!(
                "set {CLIENT_ID_VAR} to the Application (client) ID of the app registration whose federated credential trusts this token, or name it in the plan: entra.client_credentials: {{ client_id: …, federated_token: {{ file: … }} }}"
            ),
        }
    })?;
    check_tenant(tenant)?;
    Ok(Some((client_id.trim().to_owned(), SecretRef::File(FileSecret { file: file.into() }))))
}

/// Refuses an `AZURE_TENANT_ID` that names another tenant than the plan (both tenant ids); a
/// domain in the plan cannot be compared offline and is trusted as written.
fn check_tenant(tenant: &str) -> Result<(), Error> {
    let Ok(environment) = std::env::var(TENANT_ID_VAR) else { return Ok(()) };
    let environment = environment.trim();
    let is_id = |t: &str| {
        let parts: Vec<&str> = t.split('-').collect();
        parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
            && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
    };
    if is_id(environment) && is_id(tenant) && !environment.eq_ignore_ascii_case(tenant) {
        return Err(Error::Precondition {
            message: format!("{TENANT_ID_VAR} is {environment} but the plan's entra.tenant is {tenant}"),
            hint: "the plan names the tenant that is changed: correct entra.tenant, or unset AZURE_TENANT_ID".into(),
        });
    }
    Ok(())
}

/// An app-only Graph token for `client_id`, with the federated token read from `source` now.
pub async fn token(
    tenant: &str,
    client_id: &str,
    source: &SecretRef,
    calls: &CallCounter,
) -> Result<super::entra_auth::Token, Error> {
    let assertion: SecretString = source.resolve().await.map_err(|e| Error::Precondition {
        message: format!("could not read the federated token: {e}"),
        hint: format!(
            "check `entra.client_credentials.federated_token` (or {TOKEN_FILE_VAR}); in GitHub Actions the job needs `permissions: id-token: write` and a step that writes the token to the file (docs/ci.md)"
        ),
    })?;
    use secrecy::ExposeSecret;
    super::entra_auth::client_assertion_token(tenant, client_id, assertion.expose_secret(), calls)
        .await
        .map_err(|e| explain(e, client_id))
}

/// Entra's refusals of a federated token (learn.microsoft.com/entra/identity-platform/reference-error-codes
/// and the workload identity federation troubleshooting pages): the AADSTS codes, what they mean in
/// plain words, and what to change.
const REFUSALS: &[(&[&str], &str, &str)] = &[
    (
        &["700213", "7002138"],
        "the token's subject matches no federated credential of the app (AADSTS700213)",
        "the federated credential's Subject must equal the token's `sub` exactly (case-sensitive), e.g. repo:ORG/REPO:environment:NAME for a GitHub Actions job that names `environment: NAME`",
    ),
    (
        &["700211"],
        "the token's issuer matches no federated credential of the app (AADSTS700211)",
        "the federated credential's Issuer must equal the token's `iss`, e.g. https://token.actions.githubusercontent.com for GitHub Actions",
    ),
    (
        &["700212"],
        "the token's audience matches no federated credential of the app (AADSTS700212)",
        "request the token with audience api://AzureADTokenExchange, the Audience of the federated credential",
    ),
    (
        &["70021"],
        "the app has no federated credential that trusts this token (AADSTS70021)",
        "add a federated credential to the app registration (Certificates & secrets → Federated credentials) with the token's issuer, subject and audience api://AzureADTokenExchange",
    ),
    (
        &["7000272", "50013"],
        "the token's signature does not verify with the keys its issuer publishes (AADSTS7000272, AADSTS50013)",
        "give kiro-onboard the token exactly as the issuer wrote it (in GitHub Actions, the `value` of the ID token endpoint's answer), not one made or edited elsewhere",
    ),
    (
        &["700024"],
        "the federated token has expired (AADSTS700024)",
        "fetch a fresh token right before kiro-onboard runs: GitHub Actions tokens live minutes, and the file is read again before every token request",
    ),
];

/// `error` in plain words when it is one of Entra's refusals of a federated token.
fn explain(error: Error, client_id: &str) -> Error {
    let Error::Remote { service, operation, message, hint, reason } = error else { return error };
    let refusal =
        REFUSALS.iter().find(|(codes, _, _)| codes.iter().any(|code| message.contains(&format!("AADSTS{code}:"))));
    match refusal {
        Some((_, plain, fix)) => Error::Remote {
            service,
            operation,
            message: format!("Entra refused the federated token for app {client_id}: {plain}; {message}"),
            hint: Some((*fix).into()),
            reason,
        },
        None => Error::Remote { service, operation, message, hint, reason },
    }
}
