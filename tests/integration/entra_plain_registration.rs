//! An app made in "App registrations → New registration" (Graph: `POST /applications`, then
//! `POST /servicePrincipals` for its enterprise app), not from the Custom (non-gallery) template:
//! kiro-onboard finds Kiro's app among the template's apps only, so a plan naming such an app
//! never reads, changes or deletes it.

use serde_json::{Value, json};

use crate::entra::{Tenant, entra_changes};
use crate::import_entra::finding;

/// A plain registration named `name` and its service principal, listed; returns the app and the
/// service principal as Graph answered their creation.
pub(crate) fn plainly_registered(tenant: &Tenant, name: &str) -> (Value, Value) {
    let (s, app) = tenant.graph("POST", "/applications", Some(json!({"displayName": name})));
    assert_eq!(s, 201, "{app}");
    assert!(app["applicationTemplateId"].is_null(), "{app:#}");
    let (s, sp) = tenant.graph("POST", "/servicePrincipals", Some(json!({"appId": app["appId"]})));
    assert_eq!(s, 201, "{sp}");
    assert_eq!(sp["appId"], app["appId"], "{sp:#}");
    tenant.control("POST", "replicate", json!({}));
    (app, sp)
}

fn named(tenant: &Tenant, name: &str) -> Vec<Value> {
    let (_, apps) = tenant.graph("GET", "/applications", None);
    apps["value"].as_array().unwrap().iter().filter(|a| a["displayName"] == name).cloned().collect()
}

#[test]
fn entra_plain_registration_graph_creates_an_app_without_template_and_its_service_principal_once() {
    let tenant = Tenant::start();
    let (app, sp) = plainly_registered(&tenant, "Kiro-Entra");
    for key in ["identifierUris", "tags", "appRoles"] {
        assert_eq!(app[key], json!([]), "{key}: {app:#}");
    }
    assert_eq!(app["api"]["oauth2PermissionScopes"], json!([]), "{app:#}");
    assert!(sp["applicationTemplateId"].is_null() && sp["appRoleAssignmentRequired"] == false, "{sp:#}");
    // One service principal per app; an appId no app has is refused; displayName is required.
    let (s, b) = tenant.graph("POST", "/servicePrincipals", Some(json!({"appId": app["appId"]})));
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("Request_MultipleObjectsWithSameKeyValue")), "{b}");
    let (s, b) =
        tenant.graph("POST", "/servicePrincipals", Some(json!({"appId": "00000000-0000-0000-0000-000000000001"})));
    assert_eq!(s, 400, "{b}");
    let (s, b) = tenant.graph("POST", "/applications", Some(json!({"applicationTemplateId": "x", "displayName": "A"})));
    assert_eq!(s, 400, "{b}");
    let (s, b) = tenant.graph("POST", "/applications", Some(json!({"tags": []})));
    assert_eq!(s, 400, "{b}");
    // The template filter kiro-onboard lists Kiro's app with does not show it.
    let filter = "/applications?$filter=applicationTemplateId%20eq%20%278adf8e6e-67b2-4cf2-a259-e3dc5476c621%27";
    let (s, listed) = tenant.graph("GET", filter, None);
    assert_eq!(s, 200, "{listed}");
    assert_eq!(listed["value"], json!([]), "{listed:#}");
}

#[test]
fn entra_plain_registration_named_by_the_plan_is_left_alone_and_kiros_app_is_made_from_the_template_beside_it() {
    let tenant = Tenant::start();
    let (plain, plain_sp) = plainly_registered(&tenant, "Kiro-Entra");
    let mut test = tenant.test(&tenant.plan_yaml(""));

    let json = test.again(["plan", "plan.yaml", "--json"]).json();
    let changes = entra_changes(&json);
    assert!(
        changes.contains(&("entra.application[\"Kiro-Entra\"]".to_owned(), "create".to_owned())),
        "plan creates Kiro's app from the template: {json:#}"
    );
    assert!(!changes.iter().any(|(_, a)| a == "delete"), "{json:#}");
    // And says so: the admin may have meant that app to be Kiro's.
    let finding = finding(&json, "entra.app_not_from_template");
    let text = finding.to_string();
    let plain_id = plain["appId"].as_str().unwrap();
    for expected in
        [plain_id, "not made from the Custom (non-gallery)", "beside it", "Create your own application", "display_name"]
    {
        assert!(text.contains(expected), "`{expected}` missing: {finding:#}");
    }

    test.again(["apply", "plan.yaml", "--yes"]).success();
    let apps = named(&tenant, "Kiro-Entra");
    assert_eq!(apps.len(), 2, "the plain app and the one apply made: {apps:#?}");
    let kept = apps.iter().find(|a| a["appId"] == plain["appId"]).expect("the plain app is never deleted");
    for key in ["identifierUris", "tags", "api", "publicClient", "appRoles", "web"] {
        assert_eq!(kept[key], plain[key], "apply changed the plain app's {key}");
    }
    let (s, sp) = tenant.graph("GET", &format!("/servicePrincipals/{}", plain_sp["id"].as_str().unwrap()), None);
    assert_eq!(s, 200, "{sp}");
    assert_eq!(sp["appRoleAssignmentRequired"], false, "{sp:#}");
    // (The state dump, not Graph: a new service principal's first synchronization calls fail.)
    let state = tenant.state();
    let assigned = state["appRoleAssignments"].as_array().unwrap();
    assert!(!assigned.iter().any(|a| a["resourceId"] == sp["id"]), "nothing assigned to the plain app: {assigned:#?}");
    let jobs = state["synchronization"]["jobs"].as_array().unwrap();
    assert!(!jobs.iter().any(|j| j["servicePrincipalId"] == sp["id"]), "no provisioning on the plain app: {jobs:#?}");

    // A second run agrees: nothing to do, the plain app still untouched, the finding gone (the
    // app is made).
    let json = test.again(["plan", "plan.yaml", "--json"]).json();
    assert!(!json.to_string().contains("entra.app_not_from_template"), "{json:#}");
    assert!(!entra_changes(&json).iter().any(|(_, a)| matches!(a.as_str(), "create" | "delete")), "{json:#}");
    assert_eq!(named(&tenant, "Kiro-Entra").len(), 2);
}
