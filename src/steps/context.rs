//! What steps pass forward to later steps (and to the commands that read after them), typed:
//! each step's facts about its provider. The engine carries a `Context` from one step to the next
//! without knowing what it holds. A value that is not known before apply is `None` and renders
//! as `(known after apply)`.

#[derive(Debug, Clone, Default)]
pub struct Context {
    pub identity_center: Option<IdentityCenterFacts>,
    /// Group memberships (group, user) that the plan removes, still to do or done by this apply:
    /// each needs a follow-up in the Kiro console.
    pub member_removals: MemberRemovals,
    pub entra: Option<EntraFacts>,
    /// What the Okta step found out, for the Kiro console step.
    pub okta: Option<OktaFacts>,
}

/// What the Okta step found out about the org: the values the Kiro profile takes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OktaFacts {
    pub org_url: String,
    /// The issuer URL of the authorization server that carries Kiro's scopes.
    pub issuer: Option<String>,
    /// That authorization server's audience: the `aud` of the tokens it issues.
    pub audience: Option<String>,
    /// The Kiro app's client id; `None` until apply creates the app.
    pub client_id: Option<String>,
    pub app_label: String,
}

#[derive(Debug, Clone, Default)]
pub struct MemberRemovals {
    /// Seen by the last check, not yet done.
    pub pending: Vec<(String, String)>,
    /// Done by this apply.
    pub applied: Vec<(String, String)>,
}

impl MemberRemovals {
    pub fn all(&self) -> impl Iterator<Item = &(String, String)> {
        self.pending.iter().chain(self.applied.iter().filter(|r| !self.pending.contains(r)))
    }
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
    /// The AWS access portal URL (the start URL users enter in Kiro), in its default form.
    pub portal_url: String,
    /// Users the plan creates (the plan's spelling): they need a first sign-in step.
    pub users_to_create: Vec<String>,
    /// The Kiro profiles Identity Center shows (its `codewhisperer` applications), or why they
    /// could not be read (then the console steps recorded in the plan are used).
    pub kiro_profiles: Result<Vec<KiroProfileFacts>, String>,
    /// Kiro sign-in applications (`Kiro Sign-In - <profile>`) whose profile application is not
    /// there.
    pub kiro_sign_ins_alone: Vec<String>,
}

/// A Kiro profile as IAM Identity Center shows it: an AWS managed application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KiroProfileFacts {
    pub arn: String,
    pub name: String,
    pub status: String,
    /// The names of the groups assigned (subscribed).
    pub groups: Vec<String>,
    /// The assigned groups as (id, name), and the ids of users assigned directly.
    pub assigned_groups: Vec<(String, String)>,
    pub assigned_user_ids: Vec<String>,
    /// The profile's sign-in application (`Kiro Sign-In - <name>`), when Identity Center shows it.
    pub sign_in_application: Option<String>,
}

/// What the Entra step found out: the values the Kiro console asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntraFacts {
    /// Directory (tenant) ID.
    pub tenant_id: Option<String>,
    /// Application (client) ID of the Kiro app; `None` until the app exists.
    pub client_id: Option<String>,
}
