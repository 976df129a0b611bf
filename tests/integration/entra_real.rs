//! The Entra path against what Graph really does (docs/vendor-behaviour.md §2), every behaviour on
//! in the emulator by default: provisionOnDemand takes one group with at most 5 members and 5
//! requests per 10 s; an assignment reaches provisioning after a replication delay; a body-less
//! POST needs `Content-Length: 0`; a PATCH right after another meets a stale replica; a new service
//! principal answers 403/409 (sync) and 400 "Not a valid reference update" (assignments); saved
//! secrets show late, GET secrets 404s when none are saved and may mask every value; tokens
//! expire mid-run; Conditional Access can block the device code flow; and only what
//! Microsoft's API description (msgraph-sdk) publishes is served.

use serde_json::{Value, json};

use crate::entra::{GROUP, Tenant, entra_changes};
use crate::harness::Test;

/// Seeds a group of `n` users named `{prefix}-{i}`.
fn seed_group(tenant: &Tenant, name: &str, prefix: &str, n: usize) {
    let users: Vec<Value> =
        (0..n).map(|i| json!({"userPrincipalName": format!("{prefix}-{i}@example.onmicrosoft.com")})).collect();
    let members: Vec<String> = (0..n).map(|i| format!("{prefix}-{i}@example.onmicrosoft.com")).collect();
    let (s, b) =
        tenant.control("POST", "seed", json!({"users": users, "groups": [{"displayName": name, "members": members}]}));
    assert_eq!(s, 200, "{b}");
}

/// A tenant with the groups "Twelve" (12 members) and "Forty" (40), and a plan that assigns and
/// provisions both on demand.
fn big_groups(tenant: &Tenant) -> Test {
    seed_group(tenant, "Twelve", "twelve", 12);
    seed_group(tenant, "Forty", "forty", 40);
    let yaml = tenant
        .plan_yaml("")
        .replace(&format!("assign_groups: [{GROUP}]"), "assign_groups: [Twelve, Forty]")
        .replace(&format!("provision_on_demand: [{GROUP}]"), "provision_on_demand: [Twelve, Forty]");
    tenant.test(&yaml)
}

/// Every member of both groups (and the groups) reached the SCIM side through provisionOnDemand.
fn all_provisioned(tenant: &Tenant) {
    let state = tenant.state();
    let jobs = state["synchronization"]["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1, "one provisioning job");
    let provisioned = jobs[0]["provisioned"].as_object().unwrap();
    let users = state["users"].as_array().unwrap();
    for user in users {
        let upn = user["userPrincipalName"].as_str().unwrap();
        if upn.starts_with("twelve-") || upn.starts_with("forty-") {
            assert!(provisioned.contains_key(user["id"].as_str().unwrap()), "{upn} was not provisioned");
        }
    }
}

/// What the tool sent that Graph would refuse: a request the published-API check or the length
/// check answered, or a provisionOnDemand Graph did not take.
fn refused_requests(log: &[Value]) -> Vec<Value> {
    log.iter()
        .filter(|e| {
            e["status"] == 411
                || e["error_code"] == "BadRequest"
                || (e["path"].as_str().unwrap_or_default().ends_with("/provisionOnDemand") && e["status"] == 400)
        })
        .cloned()
        .collect()
}

fn statuses(log: &[Value], path_end: &str, status: u64) -> usize {
    log.iter().filter(|e| e["path"].as_str().unwrap_or_default().ends_with(path_end) && e["status"] == status).count()
}

#[test]
fn entra_groups_of_12_and_40_converge_on_the_first_apply_through_every_real_graph_behaviour() {
    let tenant = Tenant::start();
    let mut test = big_groups(&tenant);
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    plan.success();
    assert!(!entra_changes(&plan.json()).is_empty());
    let apply = test.again(["apply", "plan.yaml", "--yes"]);
    apply.success();
    assert!(!apply.stdout.contains("pending entra."), "{}", apply.stdout);
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    assert!(entra_changes(&plan.json()).is_empty(), "{}", plan.stdout);
    all_provisioned(&tenant);

    let log = tenant.log();
    assert!(refused_requests(&log).is_empty(), "{:#?}", refused_requests(&log));
    // The unpleasant answers did happen, and were survived.
    assert!(log.iter().any(|e| e["path"].as_str().unwrap().contains("/synchronization") && e["status"] == 403));
    assert!(log.iter().any(|e| e["path"].as_str().unwrap().contains("/synchronization") && e["status"] == 409));
    assert!(statuses(&log, "/appRoleAssignedTo", 400) >= 1, "'Not a valid reference update' was not met");
    assert!(
        log.iter().any(|e| e["error_code"] == "CannotDeleteOrUpdateEnabledEntitlement")
            || log
                .iter()
                .filter(|e| e["method"] == "GET" && e["path"].as_str().unwrap().starts_with("/v1.0/applications/"))
                .count()
                >= 2,
        "the scope was not read back before removal"
    );
    // 52 members in batches of at most 5: 3 + 8 requests at least (the emulator refuses more).
    assert!(statuses(&log, "/provisionOnDemand", 200) >= 11);
    assert_eq!(statuses(&log, "/provisionOnDemand", 429), 0, "the tool paces itself under 5 per 10 s");
}

#[test]
fn entra_tokens_that_expire_every_20_seconds_do_not_stop_a_long_apply() {
    let tenant = Tenant::start();
    // Short-lived tokens, and an assignment that takes longer than one token to reach
    // provisioning: the apply outlives several tokens.
    tenant.control("POST", "config", json!({"access_token_lifetime": 20, "assignment_replication_seconds": 25}));
    let mut test = big_groups(&tenant);
    let apply = test.again(["apply", "plan.yaml", "--yes"]);
    apply.success();
    assert!(!apply.stdout.contains("pending entra."), "{}", apply.stdout);
    assert!(apply.stderr.contains("waiting up to 30 s"), "the wait and its bound are shown: {}", apply.stderr);
    let log = tenant.log();
    assert_eq!(log.iter().filter(|e| e["status"] == 401).count(), 0, "a token expired in flight");
    let tokens = log.iter().filter(|e| e["path"].as_str().unwrap().ends_with("/oauth2/v2.0/token")).count();
    assert!(tokens >= 2, "the token was renewed ({tokens} token requests)");
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    assert!(entra_changes(&plan.json()).is_empty(), "{}", plan.stdout);
    all_provisioned(&tenant);
}

#[test]
fn entra_a_401_renews_the_token_once_and_the_call_goes_through() {
    let tenant = Tenant::start();
    let mut test = tenant.test(&tenant.plan_yaml(""));
    // The token is revoked out of band between two calls of the same run.
    tenant.control(
        "POST",
        "faults",
        json!({"status": 401, "count": 1, "path_prefix": "/v1.0/servicePrincipals", "code": "InvalidAuthenticationToken", "message": "Lifetime validation failed, the token is expired."}),
    );
    test.again(["apply", "plan.yaml", "--yes"]).success();
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    assert!(entra_changes(&plan.json()).is_empty(), "{}", plan.stdout);
}

#[test]
fn entra_not_entitled_past_the_wait_is_pending_with_the_command_then_converges() {
    let tenant = Tenant::start();
    tenant.control("POST", "config", json!({"assignment_replication_seconds": 3600}));
    let mut test = tenant.test(&tenant.plan_yaml("")).env("KIRO_ONBOARD_ENTRA_ENTITLEMENT_WAIT", "2");
    let apply = test.again(["apply", "plan.yaml", "--yes"]);
    apply.success();
    let text = format!("{}{}", apply.stdout, apply.stderr);
    assert!(text.contains("pending"), "{text}");
    assert!(text.contains("kiro-onboard apply plan.yaml --yes"), "the exact command: {text}");
    assert!(text.contains("waiting up to 2 s"), "{text}");
    // Still to do, and shown as such until it is done.
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    let changes = entra_changes(&plan.json());
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert!(plan.stdout.contains("provision_on_demand"), "{}", plan.stdout);
    // Minutes later Entra has replicated the assignment.
    tenant.control("POST", "replicate", json!({}));
    test.again(["apply", "plan.yaml", "--yes"]).success();
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    assert!(entra_changes(&plan.json()).is_empty(), "{}", plan.stdout);
    let state = tenant.state();
    assert!(!state["synchronization"]["jobs"][0]["provisioned"].as_object().unwrap().is_empty());
}

#[test]
fn entra_plan_converges_when_graph_masks_every_secret_value() {
    let tenant = Tenant::start();
    tenant.control("POST", "config", json!({"secrets_get_masking": "all"}));
    let mut test = tenant.test(&tenant.plan_yaml(""));
    test.again(["apply", "plan.yaml", "--yes"]).success();
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    assert!(entra_changes(&plan.json()).is_empty(), "{}", plan.stdout);
}

#[test]
fn entra_a_job_without_saved_secrets_reads_as_no_credentials() {
    let tenant = Tenant::start();
    let mut test = tenant.test(&tenant.plan_yaml(""));
    test.again(["apply", "plan.yaml", "--yes"]).success();
    // The credentials are gone (someone cleared them in the portal): GET secrets answers 404.
    let sp = tenant.sp_id();
    let (s, b) = tenant.graph(
        "PUT",
        &format!("/servicePrincipals/{sp}/synchronization/secrets"),
        Some(json!({"value": [{"key": "BaseAddress", "value": ""}, {"key": "SecretToken", "value": ""}, {"key": "SyncAll", "value": ""}]})),
    );
    assert_eq!(s, 204, "{b}");
    tenant.control("POST", "replicate", json!({}));
    let (s, _) = tenant.graph("GET", &format!("/servicePrincipals/{sp}/synchronization/secrets"), None);
    assert_eq!(s, 404, "none saved");
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    plan.success();
    assert!(plan.stdout.contains("scim_endpoint"), "{}", plan.stdout);
    test.again(["apply", "plan.yaml", "--yes"]).success();
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    assert!(entra_changes(&plan.json()).is_empty(), "{}", plan.stdout);
}

#[test]
fn entra_only_assigned_users_may_sign_in() {
    let tenant = Tenant::start();
    let mut test = tenant.test(&tenant.plan_yaml(""));
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    assert!(plan.stdout.contains("assignment_required"), "shown in the plan: {}", plan.stdout);
    test.again(["apply", "plan.yaml", "--yes"]).success();
    let sp = tenant.sp_id();
    let state = tenant.state();
    let sps = state["servicePrincipals"].as_array().unwrap();
    assert_eq!(sps[0]["appRoleAssignmentRequired"], true, "the template's default, kept");
    // Someone turns "Assignment required?" off in the portal.
    let (s, b) =
        tenant.graph("PATCH", &format!("/servicePrincipals/{sp}"), Some(json!({"appRoleAssignmentRequired": false})));
    assert_eq!(s, 204, "{b}");
    let audit = test.again(["audit", "plan.yaml", "--json"]);
    audit.code(2);
    assert!(audit.stdout.contains("entra.assignment_not_required"), "{}", audit.stdout);
    test.again(["apply", "plan.yaml", "--yes"]).success();
    let (_, sp_now) = tenant.graph("GET", &format!("/servicePrincipals/{sp}"), None);
    assert_eq!(sp_now["appRoleAssignmentRequired"], true);
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    assert!(entra_changes(&plan.json()).is_empty(), "{}", plan.stdout);
}

#[test]
fn entra_a_device_code_login_blocked_by_conditional_access_is_one_clear_error() {
    let tenant = Tenant::start();
    tenant.control("POST", "config", json!({"device_code_interval": 1, "conditional_access_block_device_code": true}));
    let test = tenant.test(&tenant.plan_yaml(""));
    let child = test
        .command()
        .args(["login", "entra", "--tenant", "example.onmicrosoft.com"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tenant.approve_device_code();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.matches("error:").count(), 1, "one error: {stderr}");
    assert!(stderr.contains("AADSTS53003"), "{stderr}");
    assert!(stderr.contains("hint:") && stderr.contains("client_credentials"), "{stderr}");
}

#[test]
fn entra_the_emulator_serves_only_what_microsoft_publishes() {
    let tenant = Tenant::start();
    tenant.test(&tenant.plan_yaml("")).args(["apply", "plan.yaml", "--yes"]).run().success();
    let sp = tenant.sp_id();
    let app = tenant.app()["appId"].as_str().unwrap().to_owned();
    // Not in msgraph-sdk: the alternate key has no sub-resources there.
    let (s, b) = tenant.graph("GET", &format!("/servicePrincipals(appId='{app}')/appRoleAssignedTo"), None);
    assert_eq!(s, 400, "{b}");
    let (s, b) = tenant.graph("DELETE", "/organization", None);
    assert_eq!(s, 400, "{b}");
    // Published, and PUT on the schema is the documented exception.
    let (_, jobs) = tenant.graph("GET", &format!("/servicePrincipals/{sp}/synchronization/jobs"), None);
    let job = jobs["value"][0]["id"].as_str().unwrap().to_owned();
    let (s, schema) = tenant.graph("GET", &format!("/servicePrincipals/{sp}/synchronization/jobs/{job}/schema"), None);
    assert_eq!(s, 200, "{schema}");
    let (s, b) =
        tenant.graph("PUT", &format!("/servicePrincipals/{sp}/synchronization/jobs/{job}/schema"), Some(schema));
    assert_eq!(s, 204, "{b}");
    let (s, _) = tenant.graph("GET", &format!("/servicePrincipals/{sp}/synchronization/secrets"), None);
    assert_eq!(s, 200);
}

/// Killed while it provisions on demand (waiting for the assignment to reach provisioning), and
/// run again: one app, one assignment per group, one job, everyone provisioned.
#[test]
fn entra_killed_while_provisioning_on_demand_converges_without_duplicates() {
    let tenant = Tenant::start();
    tenant.control("POST", "config", json!({"assignment_replication_seconds": 6}));
    let mut test = big_groups(&tenant);
    let mut child = test
        .command()
        .args(["apply", "plan.yaml", "--yes"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while !tenant.log().iter().any(|e| e["path"].as_str().unwrap().ends_with("/provisionOnDemand")) {
        assert!(started.elapsed().as_secs() < 60, "apply never reached provisionOnDemand");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    test.again(["apply", "plan.yaml", "--yes"]).success();
    let state = tenant.state();
    assert_eq!(state["applications"].as_array().unwrap().len(), 1, "one app");
    assert_eq!(state["appRoleAssignments"].as_array().unwrap().len(), 2, "one assignment per group");
    assert_eq!(state["synchronization"]["jobs"].as_array().unwrap().len(), 1, "one job");
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    assert!(entra_changes(&plan.json()).is_empty(), "{}", plan.stdout);
    all_provisioned(&tenant);
}
