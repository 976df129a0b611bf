//! The Microsoft Graph objects kiro-onboard reads about the Kiro app, with only the fields it
//! uses (Graph v1.0 reference, learn.microsoft.com/graph/api/resources/: application,
//! apiApplication, permissionScope, publicClientApplication, servicePrincipal, appRole,
//! appRoleAssignment, group, organization). Other fields are ignored, except where the tool
//! sends an object back: a permission scope keeps every other field in `rest`, because a PATCH
//! of `api.oauth2PermissionScopes` replaces the whole list, and the application keeps them so
//! that the fingerprint of a saved plan still sees every change to it.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::null_as_default::null_as_default;
use crate::error::Error;

/// `value` as a `T`, or an error that says which answer had an unexpected shape.
pub fn parse<T: DeserializeOwned>(value: Value, operation: &str) -> Result<T, Error> {
    serde_json::from_value(value).map_err(|e| Error::Remote {
        service: "graph".into(),
        operation: operation.into(),
        message: format!("Graph answered in a shape kiro-onboard cannot read: {e}"),
        hint: None,
        reason: None,
    })
}

/// Each of `values` as a `T`.
pub fn parse_all<T: DeserializeOwned>(values: Vec<Value>, operation: &str) -> Result<Vec<T>, Error> {
    values.into_iter().map(|v| parse(v, operation)).collect()
}

/// An app registration (`/applications`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    /// The object id.
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    /// The application (client) id.
    #[serde(default, deserialize_with = "null_as_default")]
    pub app_id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub identifier_uris: Vec<String>,
    #[serde(default)]
    pub api: Option<ApiApplication>,
    #[serde(default)]
    pub public_client: Option<PublicClient>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl Application {
    /// `createdDateTime` as Graph wrote it (ISO 8601 in UTC, so it sorts as text).
    pub fn created(&self) -> &str {
        self.rest.get("createdDateTime").and_then(Value::as_str).unwrap_or_default()
    }

    /// The app's `tags`.
    pub fn tags(&self) -> Vec<&str> {
        self.rest
            .get("tags")
            .and_then(Value::as_array)
            .map(|t| t.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// `api.requestedAccessTokenVersion` (Graph's `null` means v1).
    pub fn access_token_version(&self) -> Option<u64> {
        self.api.as_ref().and_then(|a| a.requested_access_token_version)
    }

    /// Every scope the app exposes (`api.oauth2PermissionScopes`).
    pub fn scopes(&self) -> &[PermissionScope] {
        self.api.as_ref().map(|a| a.oauth2_permission_scopes.as_slice()).unwrap_or_default()
    }

    /// The values of the scopes that are enabled.
    pub fn enabled_scopes(&self) -> Vec<String> {
        self.scopes().iter().filter(|s| s.is_enabled == Some(true)).map(|s| s.value.clone()).collect()
    }

    /// `publicClient.redirectUris`.
    pub fn redirect_uris(&self) -> Vec<String> {
        self.public_client.as_ref().map(|p| p.redirect_uris.clone()).unwrap_or_default()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiApplication {
    #[serde(default)]
    pub requested_access_token_version: Option<u64>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub oauth2_permission_scopes: Vec<PermissionScope>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// A delegated permission (scope) an app exposes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PermissionScope {
    #[serde(default, deserialize_with = "null_as_default")]
    pub value: String,
    #[serde(default)]
    pub is_enabled: Option<bool>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicClient {
    #[serde(default, deserialize_with = "null_as_default")]
    pub redirect_uris: Vec<String>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// The enterprise app of an app registration (`/servicePrincipals`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipal {
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    /// `null` when Graph does not say; shown as Graph shows it in findings and changes.
    #[serde(default)]
    pub app_role_assignment_required: Value,
    #[serde(default, deserialize_with = "null_as_default")]
    pub app_roles: Vec<AppRole>,
}

impl ServicePrincipal {
    pub fn requires_assignment(&self) -> bool {
        self.app_role_assignment_required.as_bool() == Some(true)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRole {
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub is_enabled: Option<bool>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub allowed_member_types: Vec<String>,
}

/// Who is assigned to a service principal (`/servicePrincipals/{id}/appRoleAssignedTo`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRoleAssignment {
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub principal_id: String,
    #[serde(default)]
    pub principal_type: Option<String>,
    #[serde(default)]
    pub principal_display_name: Option<String>,
}

/// A group, a group member, or the tenant (`/organization`): a directoryObject, with the
/// display name groups and the organization have.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryObject {
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    /// `#microsoft.graph.user`, `#microsoft.graph.group`, … in a list of mixed members.
    #[serde(default, rename = "@odata.type")]
    pub odata_type: Option<String>,
}

/// A collection Graph answers outside of paging (`{"value": [...]}`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Collection<T> {
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
}

/// A provisioning (synchronization) job of a service principal.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SynchronizationJob {
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    #[serde(default)]
    pub template_id: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: JobStatus,
    #[serde(default, deserialize_with = "null_as_default")]
    pub schedule: JobSchedule,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobStatus {
    #[serde(default, deserialize_with = "null_as_default")]
    pub code: String,
    #[serde(default)]
    pub quarantine: Option<Quarantine>,
    /// `None` when the job has never run.
    #[serde(default)]
    pub last_execution: Option<JobExecution>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Quarantine {
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub error: Option<JobError>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct JobExecution {
    #[serde(default)]
    pub error: Option<JobError>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct JobError {
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct JobSchedule {
    #[serde(default, deserialize_with = "null_as_default")]
    pub state: String,
}

/// A saved provisioning secret (`…/synchronization/secrets`), its value as Graph shows it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct SecretKeyValue {
    #[serde(default, deserialize_with = "null_as_default")]
    pub key: String,
    #[serde(default)]
    pub value: Option<String>,
}

/// The answer to `provisionOnDemand` (a stringKeyStringValuePair): `key` holds, as a JSON
/// string, what happened ([`OnDemandResult`]).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct OnDemandAnswer {
    #[serde(default)]
    pub key: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct OnDemandResult {
    #[serde(default)]
    pub result: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub details: OnDemandDetails,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnDemandDetails {
    #[serde(default)]
    pub error_code: Option<String>,
    #[serde(default)]
    pub error_message: Option<String>,
}

/// A provisioning job's schema (`…/jobs/{id}/schema`). Graph takes it back only whole (PUT),
/// so every level keeps the fields the tool does not read in `rest`, and a list that was absent
/// stays absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SynchronizationSchema {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synchronization_rules: Option<Vec<SynchronizationRule>>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl SynchronizationSchema {
    /// The object mappings from `source` (`User`, `Group`), in every rule.
    pub fn mappings_from<'a>(&'a self, source: &'a str) -> impl Iterator<Item = &'a ObjectMapping> + 'a {
        self.synchronization_rules
            .iter()
            .flatten()
            .flat_map(|rule| rule.object_mappings.iter().flatten())
            .filter(move |m| m.source_object_name.as_deref() == Some(source))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SynchronizationRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_mappings: Option<Vec<ObjectMapping>>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMapping {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_object_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute_mappings: Option<Vec<AttributeMapping>>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttributeMapping {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_attribute_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<AttributeSource>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AttributeSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// The answer to instantiating an application template: the app and its service principal.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Instantiated {
    #[serde(default)]
    pub application: Application,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_scope_sent_back_keeps_every_field_the_tool_does_not_read() {
        let read = json!({"id": "1b2c", "value": "codewhisperer:completions", "isEnabled": true, "type": "User", "adminConsentDescription": "d"});
        let scope: PermissionScope = parse(read.clone(), "a scope").unwrap();
        assert_eq!(serde_json::to_value(&scope).unwrap(), read);
    }

    #[test]
    fn an_app_without_api_settings_has_no_scopes_and_no_token_version() {
        let app: Application = parse(json!({"id": "o1", "appId": "a1"}), "an app").unwrap();
        assert!(app.scopes().is_empty() && app.enabled_scopes().is_empty());
        assert_eq!(app.access_token_version(), None);
        assert!(app.redirect_uris().is_empty());
    }
}
