//! `retire`: what the plan owns is removed and everything else kept, against moto and a DNS
//! server serving what moto holds. A dry run exits 2 while something would be removed; a second
//! retire finds nothing (exit 0).

use serde_json::Value;

use crate::dns_route53::{GOOGLE, SPF, block, create_zone, plan, put_txt, txt_sets};
use crate::harness::dns::MotoDns;
use crate::harness::test::change_list;
use crate::harness::{Moto, Test};
use crate::identity_center::{add_member_out_of_band, snapshot};
use crate::kms::{IDC_SID, STORE_SID, key_with_three_statements, plan_yaml as kms_plan, policy_of};

/// The changes `--yes` makes (steps only a person can do are shown too, and never count).
fn removals(json: &Value) -> Vec<(String, String)> {
    change_list(json).into_iter().filter(|(_, action)| action != "manual").collect()
}

/// A dry run shows exactly `expected` and exits 2; `--yes` removes it; then nothing is left.
fn retire_and_check_nothing_left(test: &mut Test, expected: Vec<(String, String)>) -> Value {
    let dry = test.again(["retire", "plan.yaml", "--json"]);
    dry.code(2);
    let json = dry.json();
    assert_eq!(json["command"], "retire");
    assert_eq!(removals(&json), expected);
    assert!(change_list(&json).contains(&("kiro_console.retire_profile[\"us-east-1\"]".into(), "manual".into())));
    test.again(["retire", "plan.yaml"])
        .code(2)
        .stdout_has("kiro-onboard will make these changes")
        .stdout_has("Delete the Kiro profile in us-east-1")
        .stderr_has("retire plan.yaml --yes");
    let retired = test.again(["retire", "plan.yaml", "--yes"]);
    retired.success().stdout_has("Retire complete: ");
    assert!(!retired.stdout.contains("Apply complete"), "the verdict names retire: {}", retired.stdout);
    let again = test.again(["retire", "plan.yaml", "--json"]);
    again.code(0);
    assert_eq!(removals(&again.json()), vec![], "a second retire finds nothing to remove");
    test.again(["retire", "plan.yaml", "--yes"]).success().stdout_has("Nothing left to retire");
    json
}

#[tokio::test]
async fn kiro_statements_are_removed_by_sid_and_the_others_kept() {
    let moto = Moto::start();
    let (key, original) = key_with_three_statements(&moto).await;
    let mut test = Test::new().plan(&kms_plan(&format!("  key: {key}"))).aws(&moto);
    test.again(["retire", "plan.yaml"]).code(0).stdout_has("Delete the Kiro profile");
    test.again(["apply", "plan.yaml", "--yes"]).success();
    assert_eq!(policy_of(&moto, &key).await["Statement"].as_array().unwrap().len(), 5);

    let dry = retire_and_check_nothing_left(
        &mut test,
        vec![
            (format!("kms.statement[\"{IDC_SID}\"]"), "delete".into()),
            (format!("kms.statement[\"{STORE_SID}\"]"), "delete".into()),
        ],
    );
    assert_eq!(dry["changes"][0]["before"]["Sid"], IDC_SID);
    let policy = policy_of(&moto, &key).await;
    assert_eq!(policy["Statement"], original["Statement"], "every other statement is kept as it was");
    assert_eq!(policy["Id"], original["Id"]);
}

#[test]
fn the_token_value_is_removed_and_other_values_kept() {
    let moto = Moto::start();
    let (shared, alone) = block(async {
        let shared = create_zone(&moto, "example.com", false).await;
        put_txt(&moto, &shared, "kiro-app-1.example.com", &[SPF, GOOGLE]).await;
        (shared, create_zone(&moto, "example.org", false).await)
    });
    let dns = MotoDns::start(&moto);
    let yaml = plan(
        "  - name: example.com\n    token: kiro-verification=tok-1\n    dns: route53\n  - name: example.org\n    token: kiro-verification=tok-2\n    dns: route53\n",
        &dns.resolver(),
    );
    let mut test = Test::new().plan(&yaml).aws(&moto).env("KIRO_ONBOARD_DNS_PORT", &dns.port());
    test.again(["apply", "plan.yaml", "--yes"]).success();
    assert_eq!(block(txt_sets(&moto, &alone, "kiro-app-1.example.org")).len(), 1);

    let dry = retire_and_check_nothing_left(
        &mut test,
        vec![
            ("dns.txt[\"kiro-app-1.example.com\"]".into(), "update".into()),
            ("dns.txt[\"kiro-app-1.example.org\"]".into(), "delete".into()),
        ],
    );
    assert_eq!(dry["changes"][0]["after"]["values"].as_array().unwrap().len(), 2);
    assert_eq!(
        block(txt_sets(&moto, &shared, "kiro-app-1.example.com")),
        vec![(Some(3600), vec![SPF.to_owned(), GOOGLE.to_owned()])],
        "the other values and the TTL are kept"
    );
    assert_eq!(block(txt_sets(&moto, &alone, "kiro-app-1.example.org")), vec![], "the token was the only value");
}

#[tokio::test]
async fn the_plans_memberships_are_removed_and_users_groups_and_other_members_kept() {
    let moto = Moto::start();
    let mut test = Test::new().plan(&crate::identity_center::plan_yaml(&["jdoe", "rroe"], false)).aws(&moto);
    test.again(["apply", "plan.yaml", "--yes"]).success();
    add_member_out_of_band(&moto, "mallory", "kiro_dev_group").await;

    retire_and_check_nothing_left(
        &mut test,
        vec![
            ("identity_center.membership[\"kiro_dev_group/jdoe\"]".into(), "delete".into()),
            ("identity_center.membership[\"kiro_dev_group/rroe\"]".into(), "delete".into()),
        ],
    );
    let after = snapshot(&moto).await;
    assert_eq!(after.groups["kiro_dev_group"], vec!["mallory"], "a member the plan does not list is kept");
    assert!(after.users.contains_key("jdoe") && after.users.contains_key("rroe"), "users are kept");
}

#[test]
fn the_man_page_shows_how_to_retire() {
    let man = Test::new().args(["man"]).run();
    man.success().stdout_has("kiro\\-onboard retire plan.yaml \\-\\-yes").stdout_has(".SS \"kiro\\-onboard retire\"");
}

#[tokio::test]
async fn include_identities_deletes_the_plans_users_and_groups_only() {
    let moto = Moto::start();
    let mut test = Test::new().plan(&crate::identity_center::plan_yaml(&["jdoe"], false)).aws(&moto);
    test.again(["apply", "plan.yaml", "--yes"]).success();
    add_member_out_of_band(&moto, "mallory", "kiro_dev_group").await;

    let dry = test.again(["retire", "plan.yaml", "--include-identities", "--json"]);
    dry.code(2);
    assert_eq!(
        removals(&dry.json()),
        vec![
            ("identity_center.group[\"kiro_dev_group\"]".into(), "delete".into()),
            ("identity_center.membership[\"kiro_dev_group/jdoe\"]".into(), "delete".into()),
            ("identity_center.user[\"jdoe\"]".into(), "delete".into()),
        ]
    );
    test.again(["retire", "plan.yaml", "--include-identities", "--yes"]).success();
    let after = snapshot(&moto).await;
    assert!(!after.users.contains_key("jdoe"), "the plan's user is deleted");
    assert!(!after.groups.contains_key("kiro_dev_group"), "the plan's group is deleted");
    assert!(after.users.contains_key("mallory"), "a user the plan does not name is kept");
    test.again(["retire", "plan.yaml", "--include-identities"]).code(0);
}

#[test]
fn the_entra_app_kiro_onboard_made_is_deleted_with_its_service_principal() {
    let tenant = crate::entra::Tenant::start();
    let mut test = crate::entra::converge(&tenant);
    let state = tenant.state();
    let apps = |state: &Value| -> Vec<String> {
        state["applications"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["displayName"].as_str().unwrap().to_owned())
            .collect()
    };
    let others: Vec<String> = apps(&state).into_iter().filter(|n| n != "Kiro-Entra").collect();
    assert!(apps(&state).contains(&"Kiro-Entra".to_owned()));
    assert!(state["servicePrincipals"].as_array().unwrap().iter().any(|sp| sp["displayName"] == "Kiro-Entra"));

    let dry =
        retire_and_check_nothing_left(&mut test, vec![("entra.application[\"Kiro-Entra\"]".into(), "delete".into())]);
    assert!(dry["changes"][0]["before"]["service_principal"].is_string(), "{dry:#}");
    let state = tenant.state();
    assert_eq!(apps(&state), others, "only the plan's app is deleted");
    let sps = state["servicePrincipals"].as_array().cloned().unwrap_or_default();
    assert!(sps.iter().all(|sp| sp["displayName"] != "Kiro-Entra"), "its service principal went with it: {sps:#?}");
}

#[test]
fn the_okta_app_policy_rule_and_unshared_scopes_are_deleted_and_a_shared_scope_kept() {
    use crate::okta::{Org, plan_yaml};
    let org = Org::start(&[]);
    let mut test = org.test(&plan_yaml(&org.url(), ""));
    test.again(["apply", "plan.yaml", "--yes"]).success();
    // Another app's policy on the same server grants one of Kiro's scopes: that scope stays.
    let server = "/api/v1/authorizationServers/default";
    let (status, other) = org.api(
        "POST",
        &format!("{server}/policies"),
        Some(&serde_json::json!({"type": "OAUTH_AUTHORIZATION_POLICY", "name": "Other", "status": "ACTIVE",
            "description": "another app", "priority": 1, "conditions": {"clients": {"include": ["ALL_CLIENTS"]}}})),
    );
    assert_eq!(status, 201, "{other}");
    let rule = serde_json::json!({"type": "RESOURCE_ACCESS", "name": "Other rule", "priority": 1,
        "conditions": {"people": {"groups": {"include": ["EVERYONE"]}}, "grantTypes": {"include": ["authorization_code"]},
                       "scopes": {"include": ["codewhisperer:completions"]}},
        "actions": {"token": {"accessTokenLifetimeMinutes": 60, "refreshTokenLifetimeMinutes": 0, "refreshTokenWindowMinutes": 10080}}});
    let (status, body) =
        org.api("POST", &format!("{server}/policies/{}/rules", other["id"].as_str().unwrap()), Some(&rule));
    assert_eq!(status, 201, "{body}");

    retire_and_check_nothing_left(
        &mut test,
        vec![
            ("okta.application[\"Kiro\"]".into(), "delete".into()),
            ("okta.policy[\"Kiro\"]".into(), "delete".into()),
            ("okta.rule[\"Kiro/Kiro access\"]".into(), "delete".into()),
            ("okta.scope[\"codewhisperer:conversations\"]".into(), "delete".into()),
        ],
    );
    let (_, apps) = org.api("GET", "/api/v1/apps?q=Kiro&limit=200", None);
    assert!(apps.as_array().unwrap().iter().all(|a| a["label"] != "Kiro"), "{apps:#}");
    let (_, scopes) = org.api("GET", &format!("{server}/scopes"), None);
    let names: Vec<&str> = scopes.as_array().unwrap().iter().filter_map(|s| s["name"].as_str()).collect();
    assert!(names.contains(&"codewhisperer:completions"), "the shared scope is kept: {names:?}");
    assert!(!names.contains(&"codewhisperer:conversations"), "{names:?}");
    let (_, policies) = org.api("GET", &format!("{server}/policies"), None);
    let names: Vec<&str> = policies.as_array().unwrap().iter().filter_map(|p| p["name"].as_str()).collect();
    assert!(names.contains(&"Other") && !names.contains(&"Kiro"), "{names:?}");
}

#[test]
fn the_kiro_console_steps_to_finish_are_prefilled_and_never_count_as_left() {
    let yaml = "version: 1\nkiro:\n  profile_region: eu-central-1\n  console: { profile_created: true, subscribe: [{ group: Kiro Users, done: true }] }\ndomains:\n  - name: Example.COM\n    dns: manual\n";
    let mut test = Test::new().plan(yaml);
    let dry = test.again(["retire", "plan.yaml", "--json"]);
    dry.code(0);
    let json = dry.json();
    assert_eq!(
        change_list(&json),
        vec![
            ("kiro_console.retire_domain[\"example.com\"]".into(), "manual".into()),
            ("kiro_console.retire_profile[\"eu-central-1\"]".into(), "manual".into()),
            ("kiro_console.retire_subscription[\"Kiro Users\"]".into(), "manual".into()),
        ]
    );
    let changes = json["changes"].as_array().unwrap();
    let profile = changes.iter().find(|c| c["address"] == "kiro_console.retire_profile[\"eu-central-1\"]").unwrap();
    assert_eq!(profile["manual"]["needs"].as_array().unwrap().len(), 2, "the profile goes last: {profile:#}");
    let subscription =
        changes.iter().find(|c| c["address"] == "kiro_console.retire_subscription[\"Kiro Users\"]").unwrap();
    assert!(
        subscription["manual"]["where"]
            .as_str()
            .unwrap()
            .contains("(eu-central-1) → Users & Groups → Groups → Kiro Users")
    );
    assert_eq!(subscription["manual"]["permissions"][0], "q:DeleteAssignment");
    test.again(["retire", "plan.yaml", "--yes"]).success().stdout_has("Remove the domain example.com");
}

#[test]
fn the_kiro_console_retire_steps_are_recorded_with_console_done_and_then_the_retirement_is_complete() {
    let yaml = "version: 1\nkiro:\n  profile_region: eu-central-1\n  console:\n    profile_created: true\n    subscribe:\n      - group: Kiro Users\n        done: true\ndomains:\n  - name: example.com\n    dns: manual\n";
    let mut test = Test::new().plan(yaml);
    test.again(["console", "done", "kiro_console.retire_subscription[\"Kiro Users\"]", "plan.yaml"])
        .success()
        .stderr_has("Recorded `kiro.console.retired: [..., ");
    // As a shell leaves it, without the quotes.
    test.again(["console", "done", "kiro_console.retire_domain[example.com]", "plan.yaml"]).success();
    let plan = std::fs::read_to_string(test.file_path("plan.yaml")).unwrap();
    assert!(plan.contains("retired:"), "{plan}");
    assert!(plan.contains("kiro_console.retire_subscription[\\\"Kiro Users\\\"]"), "{plan}");

    let dry = test.again(["retire", "plan.yaml", "--json"]);
    dry.code(0);
    let json = dry.json();
    assert_eq!(change_list(&json), vec![("kiro_console.retire_profile[\"eu-central-1\"]".into(), "manual".into())]);
    let profile = &json["changes"][0]["manual"];
    assert!(
        profile["needs"].as_array().is_none_or(Vec::is_empty),
        "what is recorded is no longer waited for: {profile:#}"
    );
    let recorded = json["findings"].as_array().unwrap().iter().find(|f| f["code"] == "kiro_console.retire_recorded");
    assert_eq!(recorded.expect("the recorded steps are shown as done")["evidence"].as_array().unwrap().len(), 2);
    test.again(["retire", "plan.yaml"]).code(0).stdout_has("Delete the Kiro profile").stdout_has("recorded as done");

    test.again(["console", "done", "kiro_console.retire_profile[\"eu-central-1\"]", "plan.yaml"]).success();
    test.again(["console", "done", "kiro_console.retire_profile[eu-central-1]", "plan.yaml"])
        .success()
        .stderr_has("already");
    let done = test.again(["retire", "plan.yaml", "--json"]);
    done.code(0);
    assert_eq!(change_list(&done.json()), vec![]);
    test.again(["retire", "plan.yaml"]).code(0).stdout_has("Retirement complete");
    test.again(["retire", "plan.yaml", "--yes"]).success().stdout_has("Retirement complete");
    test.again(["validate", "plan.yaml"]).success();
}
