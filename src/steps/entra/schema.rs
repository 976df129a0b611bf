//! The provisioning job's schema edit Kiro's guide asks for, as a pure function of the schema
//! Graph returns (GET), so that `plan` shows it and `apply` PUTs the whole edited schema (Graph
//! only accepts a full PUT, never PATCH): `externalId` from `objectId`, the unsupported
//! attributes removed, the User and Group mappings enabled.

use serde_json::{Map, Value, json};

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

fn mappings_of<'a>(schema: &'a Value, source: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    schema["synchronizationRules"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|rule| rule["objectMappings"].as_array().into_iter().flatten())
        .filter(move |m| m["sourceObjectName"].as_str() == Some(source))
}

pub fn read(schema: &Value, req: &EntraRequirements) -> Mappings {
    let mut out = Mappings::default();
    let users: Vec<&Value> = mappings_of(schema, "User").collect();
    out.users_enabled = !users.is_empty() && users.iter().all(|m| m["enabled"].as_bool() == Some(true));
    let groups: Vec<&Value> = mappings_of(schema, "Group").collect();
    out.groups_enabled = !groups.is_empty() && groups.iter().all(|m| m["enabled"].as_bool() == Some(true));
    let attributes: Vec<&Value> =
        users.iter().flat_map(|m| m["attributeMappings"].as_array().into_iter().flatten()).collect();
    let target = |a: &Value| a["targetAttributeName"].as_str().unwrap_or_default().to_owned();
    out.external_id_source = attributes
        .iter()
        .find(|a| target(a) == "externalId")
        .map(|a| a["source"]["name"].as_str().unwrap_or_default().to_owned());
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

/// The objects in the list `value`, skipping whatever else the list holds.
fn objects(value: Option<&mut Value>) -> impl Iterator<Item = &mut Map<String, Value>> {
    value.and_then(Value::as_array_mut).into_iter().flatten().filter_map(Value::as_object_mut)
}

/// The whole schema with Kiro's edits, ready to PUT. Read-only keys are dropped.
pub fn edit(schema: &Value, req: &EntraRequirements) -> Value {
    let mut schema = schema.clone();
    if let Some(object) = schema.as_object_mut() {
        object.retain(|k, _| !k.starts_with("@odata"));
    }
    let source = &req.external_id_source;
    let new_source =
        json!({"expression": format!("[{source}]"), "name": source, "parameters": [], "type": "Attribute"});
    // Only objects are edited: `value[key] = …` panics on anything else, and Graph's answer is
    // not trusted to have the documented shape.
    for rule in objects(schema.get_mut("synchronizationRules")) {
        for mapping in objects(rule.get_mut("objectMappings")) {
            match mapping.get("sourceObjectName").and_then(Value::as_str) {
                Some("User") => {
                    mapping.insert("enabled".into(), Value::Bool(true));
                    if let Some(attributes) = mapping.get_mut("attributeMappings").and_then(Value::as_array_mut) {
                        attributes.retain(|a| {
                            let t = a["targetAttributeName"].as_str().unwrap_or_default();
                            !req.unsupported_scim_attributes.iter().any(|u| u == t)
                        });
                        let mut found = false;
                        for a in attributes.iter_mut().filter_map(Value::as_object_mut) {
                            if a.get("targetAttributeName").and_then(Value::as_str) == Some("externalId") {
                                a.insert("source".into(), new_source.clone());
                                found = true;
                            }
                        }
                        if !found {
                            attributes.push(json!({
                                "targetAttributeName": "externalId", "source": new_source.clone(), "defaultValue": null,
                                "flowType": "Always", "flowBehavior": "FlowWhenChanged", "matchingPriority": 0,
                                "exportMissingReferences": false
                            }));
                        }
                    }
                }
                Some("Group") => {
                    mapping.insert("enabled".into(), Value::Bool(true));
                }
                _ => {}
            }
        }
    }
    schema
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
            let schema: serde_json::Value = serde_json::from_slice(input).unwrap_or_default();
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
        let before = super::read(&schema, req);
        assert_eq!(before.external_id_source.as_deref(), Some("mailNickname"));
        assert_eq!(before.unsupported.len(), 1);
        assert!(!super::is_as_kiro_needs(&before, req));
        let edited = super::edit(&schema, req);
        assert!(edited.get("@odata.context").is_none());
        let after = super::read(&edited, req);
        assert!(super::is_as_kiro_needs(&after, req), "{after:?}");
    }
}
