//! The Okta objects kiro-onboard reads, with only the fields it uses (Okta Management API,
//! developer.okta.com/docs/api/openapi/okta-management/management/: Application,
//! AuthorizationServer, OAuth2Scope, AuthorizationServerPolicy and its rules, Group,
//! ApplicationGroupAssignment, AppUser, GroupPushMapping). Other fields are ignored, except in
//! the objects the tool writes back whole (an app, a policy, a rule): Okta's PUT replaces the
//! object, so those keep every other field in `rest`, untouched, and a PUT changes only what the
//! tool means to change.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::null_as_default::null_as_default;

use super::okta::OktaError;

/// `value` as a `T`, or an error that says which answer had an unexpected shape.
pub fn parse<T: DeserializeOwned>(value: Value, what: &str) -> Result<T, OktaError> {
    serde_json::from_value(value)
        .map_err(|e| OktaError::Transport(format!("Okta answered {what} in a shape kiro-onboard cannot read: {e}")))
}

/// Each of `values` as a `T`.
pub fn parse_all<T: DeserializeOwned>(values: Vec<Value>, what: &str) -> Result<Vec<T>, OktaError> {
    values.into_iter().map(|v| parse(v, what)).collect()
}

/// A list of values under `include` (policy clients, rule grant types and scopes).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Include {
    #[serde(default, deserialize_with = "null_as_default")]
    pub include: Vec<String>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// An app (`/api/v1/apps`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct App {
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_on_mode: Option<String>,
    /// Provisioning features (`PUSH_NEW_USERS`, …) of an app that provisions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<AppSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<AppCredentials>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl App {
    /// The OAuth client id (Okta makes it the app id unless one was given).
    pub fn client_id(&self) -> Option<String> {
        self.credentials
            .as_ref()
            .and_then(|c| c.oauth_client.as_ref())
            .and_then(|o| o.client_id.clone())
            .or_else(|| Some(self.id.clone()).filter(|id| !id.is_empty()))
    }

    /// `settings.oauthClient`, as read (all `None` when absent).
    pub fn oauth_settings(&self) -> OAuthClientSettings {
        self.settings.as_ref().and_then(|s| s.oauth_client.clone()).unwrap_or_default()
    }

    /// `credentials.oauthClient`, as read (all `None` when absent).
    pub fn oauth_credentials(&self) -> OAuthClientCredentials {
        self.credentials.as_ref().and_then(|c| c.oauth_client.clone()).unwrap_or_default()
    }

    /// `settings.oauthClient`, made when absent, to change.
    pub fn oauth_settings_mut(&mut self) -> &mut OAuthClientSettings {
        self.settings.get_or_insert_with(AppSettings::default).oauth_client.get_or_insert_with(Default::default)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth_client: Option<OAuthClientSettings>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// `settings.oauthClient` of an OIDC app (Okta spells these in snake case).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OAuthClientSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uris: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_types: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_types: Option<Vec<String>>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppCredentials {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth_client: Option<OAuthClientCredentials>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// `credentials.oauthClient` of an OIDC app.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OAuthClientCredentials {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pkce_required: Option<bool>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// A custom authorization server (`/api/v1/authorizationServers`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct AuthorizationServer {
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub audiences: Vec<String>,
}

/// A scope of an authorization server.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Scope {
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
}

/// An access policy of an authorization server, or a rule of a policy (`C`: its conditions).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicyObject<C> {
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<C>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

pub type Policy = PolicyObject<PolicyConditions>;
pub type Rule = PolicyObject<RuleConditions>;

impl Policy {
    /// The client ids the policy covers (`ALL_CLIENTS` for all).
    pub fn clients(&self) -> Vec<String> {
        self.conditions.as_ref().and_then(|c| c.clients.as_ref()).map(|c| c.include.clone()).unwrap_or_default()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicyConditions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clients: Option<Include>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl Rule {
    pub fn grant_types(&self) -> Vec<String> {
        self.conditions.as_ref().and_then(|c| c.grant_types.as_ref()).map(|g| g.include.clone()).unwrap_or_default()
    }

    pub fn scopes(&self) -> Vec<String> {
        self.conditions.as_ref().and_then(|c| c.scopes.as_ref()).map(|s| s.include.clone()).unwrap_or_default()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleConditions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_types: Option<Include>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Include>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// A group (`/api/v1/groups`), or one embedded in an assignment.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Group {
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    #[serde(default)]
    pub profile: GroupProfile,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct GroupProfile {
    #[serde(default)]
    pub name: Option<String>,
}

/// A group assigned to an app (`/api/v1/apps/{app}/groups?expand=group`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct AppGroup {
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    #[serde(default, rename = "_embedded")]
    pub embedded: Option<EmbeddedGroup>,
}

impl AppGroup {
    /// The group's name, or its id when Okta did not embed the group.
    pub fn name(&self) -> String {
        self.embedded.as_ref().and_then(|e| e.group.profile.name.clone()).unwrap_or_else(|| self.id.clone())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct EmbeddedGroup {
    #[serde(default)]
    pub group: Group,
}

/// A user assigned to an app (`/api/v1/apps/{app}/users`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppUser {
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    /// `USER` when assigned directly, `GROUP` through a group.
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub sync_state: Option<String>,
    #[serde(default)]
    pub credentials: Option<AppUserCredentials>,
    #[serde(default, rename = "_embedded")]
    pub embedded: Option<EmbeddedUser>,
}

impl AppUser {
    /// The user's login, else the app user name, else the id.
    pub fn login(&self) -> String {
        self.embedded
            .as_ref()
            .and_then(|e| e.user.profile.login.clone())
            .or_else(|| self.credentials.as_ref().and_then(|c| c.user_name.clone()))
            .unwrap_or_else(|| self.id.clone())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppUserCredentials {
    #[serde(default)]
    pub user_name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct EmbeddedUser {
    #[serde(default)]
    pub user: User,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct User {
    #[serde(default)]
    pub profile: UserProfile,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct UserProfile {
    #[serde(default)]
    pub login: Option<String>,
}

/// An app's provisioning connection (`/api/v1/apps/{app}/connections/default`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Connection {
    #[serde(default)]
    pub status: Option<String>,
    /// The SCIM base URL, where Okta shows it (okta SDK `ProvisioningConnectionResponse.baseUrl`;
    /// for the apps kiro-onboard reads it usually answers UNKNOWN without one).
    #[serde(default, rename = "baseUrl")]
    pub base_url: Option<String>,
}

/// A Push Groups mapping (`/api/v1/apps/{app}/group-push/mappings`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushMapping {
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub source_group_id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: String,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_app_written_back_keeps_every_field_the_tool_does_not_read() {
        let read = json!({
            "id": "0oa1", "label": "Kiro", "name": "oidc_client", "signOnMode": "OPENID_CONNECT",
            "visibility": {"hide": {"iOS": true}},
            "settings": {"app": {}, "oauthClient": {"application_type": "native", "consent_method": "TRUSTED"}},
            "credentials": {"signing": {"kid": "k"}, "oauthClient": {"client_id": "c1", "autoKeyRotation": true}},
        });
        let app: App = parse(read.clone(), "an app").unwrap();
        assert_eq!(app.client_id().as_deref(), Some("c1"));
        assert_eq!(serde_json::to_value(&app).unwrap(), read);
    }

    #[test]
    fn an_app_without_a_client_id_in_its_credentials_is_its_own_client() {
        let app: App = parse(json!({"id": "0oa1"}), "an app").unwrap();
        assert_eq!(app.client_id().as_deref(), Some("0oa1"));
        assert_eq!(App::default().client_id(), None);
    }
}
