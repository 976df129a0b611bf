//! The typed plan: what the admin asks for. Field names here are the plan file's keys, a contract
//! that users' files and the JSON Schema rely on.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A kiro-onboard plan: how your organisation signs in to Kiro, reviewed as one file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "kiro-onboard plan")]
pub struct Plan {
    /// Plan file format version. This kiro-onboard reads version 1.
    pub version: u32,
    /// The Kiro profile these identities are for.
    pub kiro: Kiro,
    /// Which AWS account and credentials to use. Both keys are optional: the standard AWS
    /// credential chain (environment, profiles, SSO, instance roles) applies.
    #[serde(default, skip_serializing_if = "Aws::is_empty")]
    #[schemars(extend("default" = {}))]
    pub aws: Aws,
    /// Users, groups and memberships in IAM Identity Center.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_center: Option<IdentityCenter>,
    /// Kiro's statements in the key policy of the customer managed KMS key Identity Center
    /// encrypts with. Leave out when Identity Center uses an AWS owned key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms: Option<Kms>,
    /// Domains to verify for Kiro (Entra ID and Okta): one TXT record each.
    ///
    /// Kiro looks the record up in public DNS. A Kiro profile supports at most 10 domains.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<Domain>,
    /// Public DNS resolvers that verification asks, as IP or IP:PORT (default 1.1.1.1, 8.8.8.8).
    ///
    /// They also find the domain's authoritative servers, which are asked directly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resolvers: Vec<String>,
    /// Okta connected directly to Kiro: the OIDC native app, Kiro's scopes on an authorization
    /// server, the groups assigned, and SCIM provisioning (a console step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub okta: Option<Okta>,
    /// Microsoft Entra ID connected directly to Kiro: the enterprise app, its groups and SCIM
    /// provisioning (Kiro's Entra guide).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entra: Option<Entra>,
}

impl Plan {
    /// The plan as every step uses it: URLs a server compares exactly in their one normal form
    /// (`okta.org_url`: see `shared::endpoint::normal_origin`), once, where the plan is loaded.
    pub fn normalised(mut self) -> Self {
        if let Some(okta) = &mut self.okta {
            okta.org_url = crate::shared::endpoint::normal_origin(&okta.org_url);
        }
        self
    }
}

/// The Kiro profile.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Kiro {
    /// The AWS Region of the Kiro profile: us-east-1, eu-central-1, us-gov-east-1 or us-gov-west-1.
    pub profile_region: String,
    /// Which edition of Kiro's published requirements to check against (see
    /// templates/requirements.yaml). Defaults to the newest this kiro-onboard knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirements: Option<String>,
    /// Steps only the Kiro console can do. kiro-onboard cannot see them, so record each here once
    /// it is done; until then plan and apply show it with every value to paste.
    #[serde(default)]
    pub console: Console,
}

/// What has been done by hand in the Kiro console.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Console {
    /// You created the Kiro profile in `profile_region` and connected it to the identity source.
    #[serde(default)]
    pub profile_created: bool,
    /// Groups to subscribe to Kiro in the console (subscribe groups, not single users).
    #[serde(default)]
    pub subscribe: Vec<Subscription>,
    /// People who left and whose Kiro subscription must be cancelled in the Kiro console (user
    /// names as the identity source shows them). Removing someone from a subscribed group does not
    /// cancel their seat: until a name moves to `unsubscribed`, plan, audit and the checklist show
    /// the step. With IAM Identity Center, `identity_center.users[].absent: true` users are listed
    /// here implicitly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsubscribe: Vec<String>,
    /// People you unsubscribed in the Kiro console (`kiro-onboard console done` adds them). Their
    /// unsubscribe step is no longer shown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsubscribed: Vec<String>,
    /// The Kiro console steps of `retire` you did, by address:
    /// `kiro_console.retire_subscription["GROUP"]`, `kiro_console.retire_domain["DOMAIN"]`,
    /// `kiro_console.retire_profile["REGION"]` (`kiro-onboard console done ADDRESS PLAN` adds
    /// them). retire shows them as done; once every one is recorded and nothing else is left,
    /// retire says the retirement is complete.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired: Vec<String>,
}

impl Console {
    /// Whether `user`'s unsubscribe step is recorded as done (names compare case-insensitively).
    pub fn is_unsubscribed(&self, user: &str) -> bool {
        self.unsubscribed.iter().any(|u| u.eq_ignore_ascii_case(user))
    }

    /// Whether the retire step at `address` is recorded in `retired` (quotes and surrounding
    /// space aside: `kiro_console.retire_domain[example.com]` is the same step).
    pub fn is_retired(&self, address: &str) -> bool {
        let bare = |a: &str| a.trim().replace(['"', '\''], "");
        self.retired.iter().any(|r| bare(r) == bare(address))
    }
}

/// A group subscription in the Kiro console.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    /// The group's name, as the identity source shows it.
    #[schemars(length(min = 1))]
    pub group: String,
    /// The Kiro plan: pro, pro_plus or power.
    #[serde(default)]
    pub tier: Tier,
    /// You subscribed the group in the Kiro console.
    #[serde(default)]
    pub done: bool,
}

/// Kiro's subscription plans.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    #[default]
    Pro,
    ProPlus,
    Power,
}

impl Tier {
    /// The plan's name as the Kiro console shows it.
    pub fn label(self) -> &'static str {
        match self {
            Tier::Pro => "Pro",
            Tier::ProPlus => "Pro+",
            Tier::Power => "Power",
        }
    }
}

/// AWS settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Aws {
    /// The Region of your IAM Identity Center instance, e.g. us-east-1. Defaults to the Region of
    /// the AWS profile or environment. The command line's --region wins over it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// A named profile from ~/.aws/config (SSO profiles work: run `aws sso login` first). The
    /// command line's --profile wins over it, and it over AWS_PROFILE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

impl Aws {
    /// Neither key set: the section is left out of a written plan (`import`).
    pub fn is_empty(&self) -> bool {
        self.region.is_none() && self.profile.is_none()
    }
}

/// IAM Identity Center: the directory Kiro subscribes.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentityCenter {
    /// The instance to use, e.g. arn:aws:sso:::instance/ssoins-0123456789abcdef. Discovered when
    /// absent (the Region must then have exactly one active instance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_arn: Option<String>,
    /// Users to create or keep up to date. Users not listed here are never changed.
    #[serde(default)]
    pub users: Vec<User>,
    /// Groups to create or keep up to date, with the members the plan owns.
    #[serde(default)]
    pub groups: Vec<Group>,
    /// Where the directory's users and groups come from (IAM Identity Center console →
    /// Settings → Identity source). With `external_idp` (SCIM) or `active_directory` the
    /// directory belongs to that source: kiro-onboard then creates and changes no user, group or
    /// membership, and the plan may only reference existing ones. Left out, kiro-onboard looks
    /// for evidence (users with external ids, `UnknownOperationException`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_source: Option<IdentitySource>,
    /// How users created by kiro-onboard get their first password (users created with the
    /// CreateUser API have none, IAM Identity Center user guide, "userswithoutpwd"). Until it is
    /// set, plan, apply and audit show the step `identity_center.first_sign_in` while the plan
    /// lists users, also after apply has created them. email_otp: "Send email OTP for users
    /// created from API" is turned on, which covers every user, so the step goes for good.
    /// one_time_password: you generate one for each user once it exists; kiro-onboard cannot see
    /// passwords and keeps no record per user, so the step is shown only by the plan and the
    /// apply that create users, not by later runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_sign_in: Option<FirstSignIn>,
}

/// The identity source of the Identity Center instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdentitySource {
    /// The Identity Center directory itself: kiro-onboard may create users and groups.
    IdentityCenter,
    /// An external identity provider provisions users and groups with SCIM.
    ExternalIdp,
    /// Active Directory (AWS Managed Microsoft AD or AD Connector) is the source.
    ActiveDirectory,
}

/// How users created with the API are able to sign in the first time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FirstSignIn {
    /// "Send email OTP for users created from API" is turned on: each user gets a one-time
    /// password by email at their first sign-in attempt.
    EmailOtp,
    /// You generate a one-time password for each new user and share it with them (IAM Identity
    /// Center console → Users → the user → Reset password), after apply has created it.
    OneTimePassword,
}

/// A user in the Identity Center directory.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Sign-in name, unique in the directory (compared case-insensitively), no spaces.
    #[schemars(length(min = 1))]
    pub user_name: String,
    /// First name.
    #[schemars(length(min = 1))]
    pub given_name: String,
    /// Last name.
    #[schemars(length(min = 1))]
    pub family_name: String,
    /// Primary work email, unique in the directory. Identity Center sends nothing here by itself:
    /// see `first_sign_in`.
    #[schemars(length(min = 1))]
    pub email: String,
    /// Name shown in the portal. Defaults to "given_name family_name" when the user is created,
    /// and is left alone afterwards unless set here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// This person left: apply removes the user from every group this plan manages, and plan,
    /// audit and the checklist show the Kiro console step that cancels their seat until it is
    /// recorded in `kiro.console.unsubscribed`. The user itself stays unless `delete_user` is true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub absent: bool,
    /// With `absent: true`: apply also deletes the user from the Identity Store (not undoable).
    /// Refused for a user an external identity provider provisions (it carries `ExternalIds`):
    /// delete such a user in that provider.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delete_user: bool,
}

impl User {
    pub fn effective_display_name(&self) -> String {
        self.display_name.clone().unwrap_or_else(|| format!("{} {}", self.given_name, self.family_name))
    }
}

/// A group in the Identity Center directory, such as the group you subscribe to Kiro.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// Group name, unique in the directory (compared case-insensitively).
    #[schemars(length(min = 1))]
    pub name: String,
    /// Group description. Left alone when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// User names (from `identity_center.users`) that must be members.
    #[serde(default)]
    pub members: Vec<String>,
    /// Remove members the plan does not list. Off by default: unlisted members are only reported.
    #[serde(default)]
    pub prune_members: bool,
}

/// The customer managed KMS key of IAM Identity Center.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Kms {
    /// Key id, key ARN, alias/NAME or alias ARN. Defaults to the key Identity Center reports
    /// (DescribeInstance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// exact: StringEquals on this instance, identity store and Region (Kiro's guide). wildcard:
    /// the relaxed StringLike form.
    #[serde(default)]
    pub condition: KmsCondition,
    /// merge: own Kiro's two statements in the key policy, keep every other statement. snippet:
    /// only show the statements, for someone else to add.
    #[serde(default)]
    pub manage: KmsManage,
}

/// How tightly Kiro's statements are pinned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum KmsCondition {
    #[default]
    Exact,
    Wildcard,
}

/// Whether kiro-onboard writes the key policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum KmsManage {
    #[default]
    Merge,
    Snippet,
}

/// A company domain to verify for Kiro with a DNS TXT record.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Domain {
    /// The domain, e.g. example.com, as added in the Kiro console.
    ///
    /// Any case, a trailing dot and internationalised names are accepted (written to DNS as
    /// punycode). It must resolve in public DNS.
    #[schemars(length(min = 1))]
    pub name: String,
    /// The record's prefix: the TXT record is `<record>.<name>` (default kiro-app-1).
    #[serde(default = "default_record")]
    #[schemars(length(min = 1))]
    pub record: String,
    /// The verification token from the Kiro console (Settings, Domains, Add domain).
    ///
    /// Kiro shows it once the domain is added, and the domain stays "Pending" until the token
    /// resolves in public DNS. Leave it out until you have added the domain: plan then shows that
    /// console step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub token: Option<String>,
    /// Where the domain's DNS is managed: route53 or manual (the default).
    ///
    /// `route53`: kiro-onboard adds the token to the TXT record set in the public hosted zone.
    /// `manual`: kiro-onboard prints the record for your DNS provider, then verifies it.
    #[serde(default)]
    pub dns: DnsProvider,
    /// The Route 53 public hosted zone to write to, e.g. Z0123456789ABCDEFGHIJ.
    ///
    /// Found by the longest matching public zone when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosted_zone_id: Option<String>,
}

/// The record prefix Kiro's guide suggests.
pub const DEFAULT_RECORD: &str = "kiro-app-1";

fn default_record() -> String {
    DEFAULT_RECORD.to_owned()
}

/// Where a domain's DNS records are managed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DnsProvider {
    // Plain comments, not doc comments: documented variants would make the schema a `oneOf` of
    // constants instead of an `enum`, which reads worse in editors and in `validate`'s messages.
    // Amazon Route 53: kiro-onboard reads the record set and adds the token to it.
    Route53,
    // Any other DNS provider: kiro-onboard prints the record to create, then verifies it.
    #[default]
    Manual,
}

/// Okta connected directly to Kiro.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Okta {
    /// Your Okta org URL, e.g. https://example.okta.com (no path). Used in its normal form
    /// (scheme and host lower-case, no default port, no trailing slash): Okta compares the token
    /// URL in the client assertion and the DPoP proof exactly.
    #[schemars(length(min = 1))]
    pub org_url: String,
    /// How kiro-onboard signs in to the Okta Management API (secret references only).
    pub credentials: OktaCredentials,
    /// The label of the Kiro OIDC app. Found by exact label, created when missing.
    #[serde(default = "default_okta_label")]
    pub app_label: String,
    /// The custom authorization server that carries Kiro's scopes (id or name). Custom
    /// authorization servers need Okta's API Access Management add-on.
    #[serde(default = "default_authorization_server")]
    pub authorization_server: String,
    /// Okta groups to assign to the app (assign groups, not single users), and to the
    /// provisioning app when `provisioning` is set (which creates their users in Kiro). They
    /// are never pushed: see `provisioning.push_groups`.
    #[serde(default)]
    pub assign_groups: Vec<String>,
    /// Which of Kiro's scopes to create on the authorization server and grant to the app
    /// (codewhisperer:completions, codewhisperer:conversations). Default: both. Kiro's guide
    /// says to grant only the scopes the organisation needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kiro_scopes: Option<Vec<String>>,
    /// What kiro-onboard may remove. Nothing is removed by omission unless set here.
    #[serde(default)]
    pub prune: OktaPrune,
    /// SCIM provisioning to Kiro. Okta's API cannot set it for this kind of app, so it is a
    /// console step with every value filled in, checked afterwards as far as Okta shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning: Option<OktaProvisioning>,
    /// Let apply fix the settings of what exists that break Kiro's requirements: the app's
    /// redirect URIs, grants, client authentication and status, Kiro's scopes, the access
    /// policy and its rule. Default true. `false` (what `import` writes for a setup that breaks
    /// a requirement): plan leaves them as they are and reports each broken one as a finding,
    /// proposing no create or update for them.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    #[schemars(extend("default" = true))]
    pub fix_settings: bool,
}

fn is_true(value: &bool) -> bool {
    *value
}

fn default_okta_label() -> String {
    "Kiro".into()
}

fn default_authorization_server() -> String {
    "default".into()
}

/// Credentials for the Okta Management API.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged, deny_unknown_fields)]
pub enum OktaCredentials {
    /// An SSWS API token (Security → API → Tokens).
    ApiToken {
        /// Where to read the token, e.g. `{ env: OKTA_API_TOKEN }`.
        api_token: crate::plan::secret::SecretRef,
    },
    /// An OAuth 2.0 service app with private_key_jwt (recommended for CI).
    ServiceApp {
        /// The service app's client id.
        client_id: String,
        /// Where to read its PKCS#8 PEM RSA private key.
        private_key: crate::plan::secret::SecretRef,
        /// The key id (`kid`) registered with the app's public key.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key_id: Option<String>,
        /// The Okta scopes to request. Defaults to okta.apps.manage, okta.groups.read,
        /// okta.users.read and okta.authorizationServers.manage.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scopes: Option<Vec<String>>,
    },
}

/// What kiro-onboard may remove from Okta.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OktaPrune {
    /// Unassign groups from the Kiro app that `assign_groups` does not list.
    #[serde(default)]
    pub groups: bool,
    /// Remove redirect URIs that Kiro does not use from the app.
    #[serde(default)]
    pub redirect_uris: bool,
}

/// SCIM provisioning from Okta to Kiro.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OktaProvisioning {
    /// The label of the Okta app that provisions to Kiro (the "AWS IAM Identity Center" catalog app).
    #[serde(default = "default_provisioning_label")]
    pub app_label: String,
    /// Kiro's SCIM endpoint, from the Kiro console (no trailing slash).
    #[schemars(length(min = 1))]
    pub scim_endpoint: String,
    /// Where to read the SCIM access token generated in the Kiro console.
    pub scim_token: crate::plan::secret::SecretRef,
    /// You completed the provisioning setup in the Okta admin console.
    #[serde(default)]
    pub done: bool,
    /// The Okta groups pushed to Kiro (Push Groups), so that Kiro has groups to subscribe.
    /// Each must be a group of its own, never one of `okta.assign_groups`: Okta doesn't support
    /// using the same group for app assignment and Group Push (removed users stay in the
    /// pushed group). Their members must be assigned too (through `okta.assign_groups`). Left
    /// out: no group is pushed, Kiro gets the assigned users only, and plan says so.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub push_groups: Vec<String>,
}

fn default_provisioning_label() -> String {
    "Kiro SCIM".into()
}

/// Microsoft Entra ID: the non-gallery enterprise app Kiro signs users in with.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Entra {
    /// The tenant: its id (a GUID) or a verified domain such as example.onmicrosoft.com.
    #[schemars(length(min = 1))]
    pub tenant: String,
    /// The enterprise application.
    #[serde(default)]
    pub app: EntraApp,
    /// Groups to assign to the app (assign groups, not single users), by display name or object id.
    #[serde(default)]
    pub assign_groups: Vec<String>,
    /// Remove group assignments the plan does not name. Off by default: they are only reported.
    #[serde(default)]
    pub prune_assignments: bool,
    /// SCIM provisioning from Entra to Kiro. Leave out to set up only the app and its groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning: Option<EntraProvisioning>,
    /// How kiro-onboard signs in to Microsoft Graph without a person (automation). Leave out to
    /// use the admin session of `kiro-onboard login entra`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_credentials: Option<EntraClientCredentials>,
}

/// The enterprise application in Entra.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EntraApp {
    /// Display name of the enterprise app (and its app registration).
    #[schemars(length(min = 1))]
    pub display_name: String,
    /// Let apply fix the settings of an existing app that break Kiro's requirements (token
    /// version, Kiro's scopes, redirect URIs, the `api://{appId}` identifier, "Assignment
    /// required?") and those of its existing provisioning job (the attribute mapping: externalId
    /// from objectId, no attribute Kiro's SCIM endpoint rejects, users and groups on; and Admin
    /// Credentials never saved). On by default. `false` leaves them as they are: plan reports
    /// each broken one as a finding and proposes no update for it (`import` writes `false` for an
    /// app or job made by hand that breaks one). What apply creates is always set up.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    #[schemars(extend("default" = true))]
    pub fix_settings: bool,
}

impl Default for EntraApp {
    fn default() -> Self {
        EntraApp { display_name: "Kiro".into(), fix_settings: true }
    }
}

/// SCIM provisioning of the assigned groups' users to Kiro.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EntraProvisioning {
    /// Kiro's SCIM endpoint, as the Kiro console shows it (Settings → Identity Management).
    #[schemars(length(min = 1))]
    pub scim_endpoint: String,
    /// Where to read the SCIM access token generated in the Kiro console. Never inline.
    pub scim_token: crate::plan::secret::SecretRef,
    /// Start the provisioning job (Provisioning Status: On). On by default.
    #[serde(default = "yes")]
    pub start: bool,
    /// Groups (from `assign_groups`) to provision on demand right away, instead of waiting for
    /// Entra's next cycle.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("default" = []))]
    pub provision_on_demand: Vec<String>,
}

fn yes() -> bool {
    true
}

/// An app registration allowed to call Graph on its own (client credentials).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EntraClientCredentials {
    /// Application (client) ID of the automation app.
    #[schemars(length(min = 1))]
    pub client_id: String,
    /// Where to read its client secret. Give exactly one of this, `certificate` and
    /// `federated_token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<crate::plan::secret::SecretRef>,
    /// A certificate registered on the app, used to sign a client assertion (PS256). Give exactly
    /// one of this, `client_secret` and `federated_token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<EntraCertificate>,
    /// Workload identity federation: where to read a short-lived token that a CI system or
    /// Kubernetes issues (GitHub Actions, GitLab, a service account) and that a federated
    /// identity credential on the app trusts. It is sent as the client assertion and read again
    /// before every token request, since these tokens rotate. Give exactly one of this,
    /// `client_secret` and `certificate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federated_token: Option<crate::plan::secret::SecretRef>,
}

/// A certificate credential: the public certificate and where to read its private key.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EntraCertificate {
    /// The PEM certificate file (as uploaded to the app registration).
    pub certificate_file: std::path::PathBuf,
    /// Where to read the PEM private key (PKCS#8, RSA): a secret reference, never inline.
    pub private_key: crate::plan::secret::SecretRef,
}
