//! What each client is told when it is made: plain values and secret references, built by the
//! steps (and commands) from the plan (`steps::settings`), so a client knows nothing of the plan's
//! shape and can be used without one (`kms policy --region`, `scim check`).

use std::path::PathBuf;

use crate::shared::secret::SecretRef;

/// Where the AWS client finds its account: both optional, the standard credential chain fills in
/// the rest.
#[derive(Debug, Clone, Default)]
pub struct AwsSettings {
    /// The Region to sign for; when absent, the profile's or the environment's.
    pub region: Option<String>,
    /// A named profile from ~/.aws/config.
    pub profile: Option<String>,
}

/// How the Microsoft Graph client signs in to a tenant.
#[derive(Debug, Clone)]
pub struct EntraSettings {
    /// The tenant id or a verified domain.
    pub tenant: String,
    /// An app registration's own credentials; when absent, the cached admin session.
    pub client_credentials: Option<EntraClientCredentials>,
}

/// An app registration allowed to call Graph on its own (client credentials).
#[derive(Debug, Clone)]
pub struct EntraClientCredentials {
    pub client_id: String,
    pub client_secret: Option<SecretRef>,
    pub certificate: Option<EntraCertificate>,
    /// Workload identity federation: a token from another identity provider, read afresh for
    /// every token request.
    pub federated_token: Option<SecretRef>,
}

/// A certificate credential: the public certificate and where to read its private key.
#[derive(Debug, Clone)]
pub struct EntraCertificate {
    pub certificate_file: PathBuf,
    pub private_key: SecretRef,
}

/// How the Okta client signs in to the Management API.
#[derive(Debug, Clone)]
pub enum OktaCredentials {
    /// An SSWS API token.
    ApiToken { api_token: SecretRef },
    /// An OAuth 2.0 service app with private_key_jwt; `scopes` defaults to `okta::DEFAULT_SCOPES`.
    ServiceApp { client_id: String, private_key: SecretRef, key_id: Option<String>, scopes: Option<Vec<String>> },
}
