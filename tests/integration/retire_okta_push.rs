//! `retire` and Okta's Push Groups: the SCIM app's assignments of the plan's groups are removed,
//! and each push mapping of a group in `okta.provisioning.push_groups` is made INACTIVE and then
//! deleted (Okta deletes only an INACTIVE mapping), never a mapping the plan does not name. The
//! pushed group stays in Kiro's directory unless `--include-identities`.

use serde_json::{Value, json};

use crate::harness::Test;
use crate::harness::server::LocalServer;
use crate::harness::test::change_list;
use crate::okta::{Org, SCIM_TOKEN, finding_codes, plan_yaml, push_mappings};

const PUSHED: &str = "okta.group_push[\"Kiro SCIM/Kiro Users Push\"]";

/// An org whose SCIM app's console step is done, a plan pushing "Kiro Users Push", applied.
fn applied() -> (Org, LocalServer, Test) {
    let org = Org::start(&[]);
    let groups = json!({"groups": [{"name": "Kiro Users Push", "members": ["jdoe@example.com"]},
                                   {"name": "Other Push", "members": ["rroe@example.com"]}]});
    assert_eq!(org.control("POST", "seed", Some(&groups)).0, 200);
    let scim = LocalServer::scim(SCIM_TOKEN);
    let app = json!({"name": "amazon_aws_sso", "label": "Kiro SCIM", "signOnMode": "SAML_2_0"});
    assert_eq!(org.api("POST", "/api/v1/apps?activate=true", Some(&app)).0, 200);
    let console = json!({"app": "Kiro SCIM", "base_url": scim.url(), "token": SCIM_TOKEN,
        "create_users": true, "update_user_attributes": true, "deactivate_users": true, "push_groups": true,
        "connection_api": "REFLECTS_CONSOLE"});
    assert_eq!(org.control("POST", "console/provisioning", Some(&console)).0, 200);
    let provisioning = format!(
        "  provisioning:\n    app_label: Kiro SCIM\n    scim_endpoint: {}\n    scim_token: {{ env: KIRO_SCIM_TOKEN }}\n    done: true\n    push_groups: [Kiro Users Push]\n",
        scim.url()
    );
    let mut test = org.test(&plan_yaml(&org.url(), &provisioning));
    test.again(["apply", "plan.yaml", "--yes"]).success();
    assert_eq!(push_mappings(&org, "Kiro SCIM").len(), 1, "apply pushed the plan's group");
    (org, scim, test)
}

fn scim_app_id(org: &Org) -> String {
    let state = org.state();
    let app = state["apps"].as_array().unwrap().iter().find(|a| a["label"] == "Kiro SCIM").unwrap();
    app["id"].as_str().unwrap().to_owned()
}

/// The groups of the org named `name` (a pushed group's copy in the target app has its name).
fn named(org: &Org, name: &str) -> usize {
    org.state()["groups"].as_array().unwrap().iter().filter(|g| g["profile"]["name"] == name).count()
}

fn change<'a>(json: &'a Value, address: &str) -> &'a Value {
    json["changes"].as_array().unwrap().iter().find(|c| c["address"] == address).unwrap_or_else(|| panic!("{json:#}"))
}

/// The Okta calls with this method to a group push mapping, with their query.
fn mapping_calls(org: &Org, method: &str) -> Vec<String> {
    let log = org.log();
    log.iter()
        .filter(|e| e["method"] == method && e["path"].as_str().unwrap_or_default().contains("/group-push/mappings/"))
        .map(|e| format!("{}?{}", e["path"].as_str().unwrap(), e["query"].as_str().unwrap_or_default()))
        .collect()
}

#[test]
fn the_plans_push_mapping_is_deactivated_then_deleted_and_a_mapping_it_does_not_name_kept() {
    let (org, _scim, mut test) = applied();
    let app_id = scim_app_id(&org);
    // Someone pushes another group by hand: not the plan's, so retire leaves it.
    let other_group =
        org.state()["groups"].as_array().unwrap().iter().find(|g| g["profile"]["name"] == "Other Push").unwrap()["id"]
            .clone();
    let mappings = format!("/api/v1/apps/{app_id}/group-push/mappings");
    let (status, other) =
        org.api("POST", &mappings, Some(&json!({"sourceGroupId": other_group, "targetGroupName": "Other Push"})));
    assert_eq!(status, 201, "{other}");
    let other_path = format!("{mappings}/{}", other["id"].as_str().unwrap());
    // Okta refuses to delete an ACTIVE mapping, and wants deleteTargetGroup said.
    let (status, refused) = org.api("DELETE", &format!("{other_path}?deleteTargetGroup=false"), None);
    assert_eq!((status, refused["errorCode"].as_str()), (400, Some("E0000001")), "{refused}");
    assert_eq!(org.api("DELETE", &other_path, None).0, 400);

    let dry = test.again(["retire", "plan.yaml", "--json"]);
    dry.code(2);
    let json = dry.json();
    let listed = change_list(&json);
    for expected in [("okta.provisioning_assignment[\"Kiro SCIM/Kiro Users\"]", "delete"), (PUSHED, "delete")] {
        assert!(listed.contains(&(expected.0.into(), expected.1.into())), "{expected:?} not in {listed:?}");
    }
    assert!(!listed.iter().any(|(a, _)| a.contains("Other Push")), "{listed:?}");
    let before = &change(&json, PUSHED)["before"];
    assert_eq!(
        (before["status"].as_str(), before["target_group"].as_str()),
        (Some("ACTIVE"), Some("kept")),
        "{before}"
    );
    assert!(finding_codes(&json).contains(&"okta.pushed_group_kept".to_owned()), "{json:#}");
    test.again(["retire", "plan.yaml"]).code(2).stdout_has("okta.group_push[\"Kiro SCIM/Kiro Users Push\"]");

    let retired = test.again(["retire", "plan.yaml", "--yes"]);
    retired.success().stdout_has("Retire complete: ").stdout_has("stay in Kiro's directory");
    let left = push_mappings(&org, "Kiro SCIM");
    assert_eq!(left.len(), 1, "{left:#?}");
    assert_eq!(left[0]["id"], other["id"], "the mapping the plan does not name is kept");
    assert_eq!(left[0]["status"], "ACTIVE");
    let ours: Vec<String> = mapping_calls(&org, "PATCH");
    assert_eq!(ours.len(), 1, "deactivated once: {ours:?}");
    let deletes = mapping_calls(&org, "DELETE");
    assert!(deletes.last().unwrap().ends_with("?deleteTargetGroup=false"), "{deletes:?}");
    assert_eq!(named(&org, "Kiro Users Push"), 2, "the pushed group stays in the target app");
    let (_, groups) = org.api("GET", &format!("/api/v1/apps/{app_id}/groups"), None);
    assert_eq!(groups, json!([]), "the plan's group is no longer assigned to the SCIM app");

    let again = test.again(["retire", "plan.yaml", "--json"]);
    again.code(0);
    let listed = change_list(&again.json());
    assert!(!listed.iter().any(|(a, _)| a.starts_with("okta.")), "a second retire finds nothing in Okta: {listed:?}");
    test.again(["retire", "plan.yaml", "--yes"]).success().stdout_has("Nothing left to retire");
}

#[test]
fn a_mapping_left_inactive_is_deleted_and_include_identities_deletes_the_pushed_group() {
    let (org, _scim, mut test) = applied();
    // A retire interrupted between the two calls left the mapping INACTIVE.
    let mapping = push_mappings(&org, "Kiro SCIM")[0]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/apps/{}/group-push/mappings/{mapping}", scim_app_id(&org));
    let (status, patched) = org.api("PATCH", &path, Some(&json!({"status": "INACTIVE"})));
    assert_eq!((status, patched["status"].as_str()), (200, Some("INACTIVE")), "{patched}");

    let dry = test.again(["retire", "plan.yaml", "--include-identities", "--json"]);
    dry.code(2);
    let json = dry.json();
    let pushed = change(&json, PUSHED);
    assert_eq!(pushed["action"], "delete");
    assert_eq!(
        (pushed["before"]["status"].as_str(), pushed["before"]["target_group"].as_str()),
        (Some("INACTIVE"), Some("deleted"))
    );
    assert!(pushed["reason"].as_str().unwrap().contains("--include-identities"), "{pushed:#}");
    assert!(!finding_codes(&json).contains(&"okta.pushed_group_kept".to_owned()));

    test.again(["retire", "plan.yaml", "--include-identities", "--yes"]).success().stdout_has("Retire complete: ");
    assert!(push_mappings(&org, "Kiro SCIM").is_empty());
    assert_eq!(mapping_calls(&org, "PATCH").len(), 1, "an INACTIVE mapping is only deleted");
    assert!(mapping_calls(&org, "DELETE").last().unwrap().ends_with("?deleteTargetGroup=true"));
    assert_eq!(
        named(&org, "Kiro Users Push"),
        1,
        "the pushed group's copy in the target app is deleted, the Okta group kept"
    );
    test.again(["retire", "plan.yaml", "--include-identities"]).code(0);
}
