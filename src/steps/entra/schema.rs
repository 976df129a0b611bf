//! The provisioning job's schema edit Kiro's guide asks for, as a pure function of the schema
//! Graph returns (GET), so that `plan` shows it and `apply` PUTs the whole edited schema (Graph
//! only accepts a full PUT, never PATCH): `externalId` from `objectId`, the unsupported
//! attributes removed, the User and Group mappings enabled.

use serde_json::{Map, Value, json};

use crate::clients::graph_model::{AttributeMapping, AttributeSource, ObjectMapping, SynchronizationSchema};
use crate::requirements::EntraRequirements;

/// What the schema looks like in Kiro's terms.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Mappings {
    /// The source of the User `externalId` mapping (`mailNickname` by default).
    pub external_id_source: Option<String>,
    /// Unsupported attributes that are still mapped.
    pub unsupported: Vec<String>,
    /// Required targets (userName, externalId, active) with no mapping.
    pub missing_required: Vec<String>,
    pub users_enabled: bool,
    pub groups_enabled: bool,
}

pub fn read(schema: &SynchronizationSchema, req: &EntraRequirements) -> Mappings {
    let mut out = Mappings::default();
    let users: Vec<&ObjectMapping> = schema.mappings_from("User").collect();
    out.users_enabled = !users.is_empty() && users.iter().all(|m| m.enabled == Some(true));
    let groups: Vec<&ObjectMapping> = schema.mappings_from("Group").collect();
    out.groups_enabled = !groups.is_empty() && groups.iter().all(|m| m.enabled == Some(true));
    let attributes: Vec<&AttributeMapping> = users.iter().flat_map(|m| m.attribute_mappings.iter().flatten()).collect();
    let target = |a: &AttributeMapping| a.target_attribute_name.clone().unwrap_or_default();
    out.external_id_source = attributes
        .iter()
        .find(|a| target(a) == "externalId")
        .map(|a| a.source.as_ref().and_then(|s| s.name.clone()).unwrap_or_default());
    out.unsupported = req
        .unsupported_scim_attributes
        .iter()
        .filter(|u| attributes.iter().any(|a| &target(a) == *u))
        .cloned()
        .collect();
    out.missing_required =
        req.required_scim_mappings.iter().filter(|r| !attributes.iter().any(|a| &target(a) == *r)).cloned().collect();
    out
}

/// Whether the schema already is as Kiro needs it.
pub fn is_as_kiro_needs(m: &Mappings, req: &EntraRequirements) -> bool {
    m.external_id_source.as_deref() == Some(req.external_id_source.as_str())
        && m.unsupported.is_empty()
        && m.missing_required.is_empty()
        && m.users_enabled
        && m.groups_enabled
}

/// The whole schema with Kiro's edits, ready to PUT. Read-only keys are dropped.
pub fn edit(schema: &SynchronizationSchema, req: &EntraRequirements) -> SynchronizationSchema {
    let mut schema = schema.clone();
    schema.rest.retain(|k, _| !k.starts_with("@odata"));
    let source = &req.external_id_source;
    let mut source_fields = Map::new();
    source_fields.insert("expression".into(), json!(format!("[{source}]")));
    source_fields.insert("parameters".into(), json!([]));
    source_fields.insert("type".into(), json!("Attribute"));
    let new_source = AttributeSource { name: Some(source.clone()), rest: source_fields };
    for rule in schema.synchronization_rules.iter_mut().flatten() {
        for mapping in rule.object_mappings.iter_mut().flatten() {
            match mapping.source_object_name.as_deref() {
                Some("User") => {
                    mapping.enabled = Some(true);
                    if let Some(attributes) = &mut mapping.attribute_mappings {
                        edit_user_attributes(attributes, &new_source, req);
                    }
                }
                Some("Group") => mapping.enabled = Some(true),
                _ => {}
            }
        }
    }
    schema
}

/// The unsupported attributes removed, and `externalId` mapped from `new_source`.
fn edit_user_attributes(attributes: &mut Vec<AttributeMapping>, new_source: &AttributeSource, req: &EntraRequirements) {
    attributes.retain(|a| {
        let t = a.target_attribute_name.as_deref().unwrap_or_default();
        !req.unsupported_scim_attributes.iter().any(|u| u == t)
    });
    let mut found = false;
    for a in attributes.iter_mut() {
        if a.target_attribute_name.as_deref() == Some("externalId") {
            a.source = Some(new_source.clone());
            found = true;
        }
    }
    if !found {
        let mut rest = Map::new();
        for (key, value) in [
            ("defaultValue", Value::Null),
            ("flowType", json!("Always")),
            ("flowBehavior", json!("FlowWhenChanged")),
            ("matchingPriority", json!(0)),
            ("exportMissingReferences", json!(false)),
        ] {
            rest.insert(key.into(), value);
        }
        attributes.push(AttributeMapping {
            target_attribute_name: Some("externalId".into()),
            source: Some(new_source.clone()),
            rest,
        });
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn hostile_provisioning_schemas_never_panic_and_the_edit_is_stable() {
        let req = &crate::requirements::latest().entra;
        let seed = json!({"@odata.context": "x", "synchronizationRules": [{"id": "r", "objectMappings": [
            {"sourceObjectName": "User", "enabled": true, "attributeMappings": [
                {"targetAttributeName": "userName", "source": {"name": "userPrincipalName"}},
                {"targetAttributeName": "externalId", "source": {"name": "mailNickname"}}]},
            {"sourceObjectName": "Group", "enabled": false, "attributeMappings": []}]}]});
        crate::fuzz::run("entra schema", &[seed.to_string().into_bytes()], crate::fuzz::JSON_PIECES, 2_000, |input| {
            // What does not parse is refused before it reaches the edit; whatever parses must
            // not panic it.
            let Ok(schema) = serde_json::from_slice::<super::SynchronizationSchema>(input) else { return };
            let _ = super::read(&schema, req);
            let edited = super::edit(&schema, req);
            assert_eq!(super::edit(&edited, req), edited, "editing twice must change nothing more");
            let after = super::read(&edited, req);
            assert!(after.unsupported.is_empty(), "{after:?}");
        });
    }

    #[test]
    fn maps_external_id_from_object_id_and_drops_unsupported_attributes() {
        let req = &crate::requirements::latest().entra;
        let schema = json!({"@odata.context": "x", "directories": [], "synchronizationRules": [{"id": "r", "objectMappings": [
            {"sourceObjectName": "User", "enabled": true, "attributeMappings": [
                {"targetAttributeName": "userName", "source": {"name": "userPrincipalName"}},
                {"targetAttributeName": "active", "source": {"name": "Switch"}},
                {"targetAttributeName": "externalId", "source": {"name": "mailNickname"}},
                {"targetAttributeName": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "source": {"name": "department"}}]},
            {"sourceObjectName": "Group", "enabled": false, "attributeMappings": []}]}]});
        let schema: super::SynchronizationSchema = serde_json::from_value(schema).unwrap();
        let before = super::read(&schema, req);
        assert_eq!(before.external_id_source.as_deref(), Some("mailNickname"));
        assert_eq!(before.unsupported.len(), 1);
        assert!(!super::is_as_kiro_needs(&before, req));
        let edited = super::edit(&schema, req);
        assert!(!edited.rest.contains_key("@odata.context") && edited.rest.contains_key("directories"));
        let after = super::read(&edited, req);
        assert!(super::is_as_kiro_needs(&after, req), "{after:?}");
    }
}
