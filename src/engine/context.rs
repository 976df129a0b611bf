//! Values that steps pass forward to later steps, typed. A value that is not known before apply
//! is `None` and renders as `(known after apply)`.

#[derive(Debug, Clone, Default)]
pub struct Context {
    pub identity_center: Option<IdentityCenterFacts>,
}

/// What the Identity Center step found out about the instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityCenterFacts {
    pub instance_arn: String,
    pub identity_store_id: String,
    /// `arn:aws:identitystore::ACCOUNT:identitystore/d-…`, as Identity Center reports it or
    /// built from the owner account when it does not.
    pub identity_store_arn: Option<String>,
    pub owner_account: Option<String>,
    pub region: String,
}
