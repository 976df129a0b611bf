//! The Okta path against what a real org does and the emulator's defaults model
//! (docs/vendor-behaviour.md §3): DPoP, verified client-assertion signatures, eventually consistent
//! group search, next-page links on another host, an inactive or by-name authorization server, the
//! SCIM app's groups and Push Groups mappings, the cost of plan at 10,000 assigned users, and only
//! Okta's published API.

use serde_json::{Value, json};

use crate::okta::{
    Org, SCIM_TOKEN, SERVICE_SCOPES, finding_codes, okta_writes, plan_yaml, public_pem, rsa_key_at, service_app_yaml,
};

fn seed_service_app(org: &Org, client: &str, public: &str) {
    let (status, body) = org.control(
        "POST",
        "seed",
        Some(&json!({"service_apps": [{"client_id": client, "label": client, "scopes": SERVICE_SCOPES, "roles": ["SUPER_ADMIN"], "public_key_pem": public, "key_id": "k1"}]})),
    );
    assert_eq!(status, 200, "{body}");
}

#[test]
fn a_dpop_service_app_converges_from_an_empty_org_with_a_nonce_handshake_and_fresh_assertions() {
    let org = Org::start(&[]);
    let mut test = org.test(&service_app_yaml(&org, "0oadpop"));
    let key = rsa_key_at(&test, "service.pem");
    seed_service_app(&org, "0oadpop", &public_pem(&test));
    let plan = test.again(["-vvv", "plan", "plan.yaml", "--json"]);
    plan.success();
    let key_body: String = key.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(!plan.stderr.contains(&key_body[..40]) && !plan.stdout.contains(&key_body[..40]), "the key leaked");
    assert!(!okta_writes(&plan.json()).is_empty());
    test.again(["apply", "plan.yaml", "--yes"]).success();
    let again = test.again(["plan", "plan.yaml", "--json"]);
    again.success();
    assert!(okta_writes(&again.json()).is_empty(), "{}", again.stdout);

    let log = org.log();
    let tokens: Vec<&Value> = log.iter().filter(|e| e["path"] == "/oauth2/v1/token").collect();
    // Each run: the first proof has no nonce (400 use_dpop_nonce), the retry with a fresh
    // assertion gets the token. A reused assertion would be refused as already used.
    assert!(tokens.iter().any(|e| e["error_code"] == "use_dpop_nonce"), "{tokens:?}");
    assert!(tokens.iter().all(|e| e["error_code"] != "invalid_client"), "{tokens:?}");
    assert_eq!(tokens.iter().filter(|e| e["status"] == 200).count(), 3, "{tokens:?}");
    let api: Vec<&Value> = log.iter().filter(|e| e["path"].as_str().unwrap().starts_with("/api/")).collect();
    assert!(api.iter().all(|e| e["auth"] == "DPoP"), "{api:?}");
    assert!(api.iter().all(|e| e["status"].as_u64().unwrap() < 400), "{api:?}");
}

#[test]
fn an_api_that_asks_for_its_own_dpop_nonce_gets_it_on_the_retry() {
    let org = Org::start(&[]);
    let (status, body) = org.control("POST", "config", Some(&json!({"api_dpop_nonce": true})));
    assert_eq!(status, 200, "{body}");
    let mut test = org.test(&service_app_yaml(&org, "0oanonce"));
    rsa_key_at(&test, "service.pem");
    seed_service_app(&org, "0oanonce", &public_pem(&test));
    test.again(["plan", "plan.yaml", "--json"]).success();
    let api: Vec<Value> = org.log().into_iter().filter(|e| e["path"].as_str().unwrap().starts_with("/api/")).collect();
    assert_eq!(api.iter().filter(|e| e["error_code"] == "E0000011").count(), 1, "one nonce round trip: {api:?}");
    assert!(api.iter().skip(1).all(|e| e["status"].as_u64().unwrap() < 400), "{api:?}");
}

#[test]
fn a_client_assertion_signed_with_another_key_or_kid_is_refused_with_a_hint() {
    let org = Org::start(&[]);
    let test = org.test(&service_app_yaml(&org, "0oasigned"));
    rsa_key_at(&test, "registered.pem");
    let registered = {
        let output = std::process::Command::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(test.file_path("registered.pem"))
            .output()
            .unwrap();
        String::from_utf8(output.stdout).unwrap()
    };
    seed_service_app(&org, "0oasigned", &registered);
    let registered_key = std::fs::read_to_string(test.file_path("registered.pem")).unwrap();
    rsa_key_at(&test, "service.pem");
    let run = test.args(["plan", "plan.yaml"]).run();
    run.code(1).stderr_has("invalid_client").stderr_has("signature").stderr_has("hint:");

    let wrong_kid = org
        .test(&service_app_yaml(&org, "0oasigned").replace("key_id: k1", "key_id: k2"))
        .file("service.pem", &registered_key)
        .args(["plan", "plan.yaml"])
        .run();
    wrong_kid.code(1).stderr_has("invalid_client").stderr_has("kid");
}

#[test]
fn a_group_created_moments_ago_is_found_once_search_catches_up() {
    let org = Org::start(&["--search-lag-seconds", "1.5"]);
    let mut test = org.test(&plan_yaml(&org.url(), "").replace("[Kiro Users]", "[Kiro Users, Kiro Admins]"));
    // Made out of band just now: `search` does not show it for a while.
    let (status, body) = org.control("POST", "seed", Some(&json!({"groups": ["Kiro Admins"]})));
    assert_eq!(status, 200, "{body}");
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    let codes = finding_codes(&plan.json());
    assert!(!codes.iter().any(|c| c == "okta.group_missing"), "{codes:?}\n{}", plan.stdout);
    assert!(
        okta_writes(&plan.json()).iter().any(|w| w == r#"create okta.assignment["Kiro Admins"]"#),
        "{}",
        plan.stdout
    );
}

#[test]
fn a_group_that_does_not_exist_is_missing_after_a_bounded_wait() {
    let org = Org::start(&[]);
    let mut test = org.test(&plan_yaml(&org.url(), "").replace("[Kiro Users]", "[Nobody Here]"));
    let started = std::time::Instant::now();
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    assert!(finding_codes(&plan.json()).iter().any(|c| c == "okta.group_missing"), "{}", plan.stdout);
    let waited = started.elapsed();
    let bound: f64 = crate::okta::SEARCH_WAIT.parse().unwrap();
    assert!(waited.as_secs_f64() >= bound && waited.as_secs_f64() < bound + 10.0, "{waited:?}");
}

#[test]
fn a_next_page_link_on_another_host_is_not_followed_with_the_credential() {
    let org = Org::start(&[]);
    let port = org.url().rsplit(':').next().unwrap().to_owned();
    // The same emulator under another name: were the link followed, the token would reach it.
    let (status, body) = org.control(
        "POST",
        "config",
        Some(&json!({"page_size": 1, "next_link_base": format!("http://localhost:{port}")})),
    );
    assert_eq!(status, 200, "{body}");
    let test = org.test(&plan_yaml(&org.url(), ""));
    org.control("DELETE", "log", None);
    test.args(["plan", "plan.yaml"]).run().code(1).stderr_has("another host").stderr_has("not followed");
    let followed = org.log().iter().filter(|e| e["query"].as_str().unwrap_or_default().contains("after=")).count();
    assert_eq!(followed, 0, "a next link on another host was followed");
}

#[test]
fn an_inactive_authorization_server_is_a_finding_and_one_named_by_name_is_found_by_search() {
    let org = Org::start(&[]);
    let (status, server) = org.api(
        "POST",
        "/api/v1/authorizationServers",
        Some(&json!({"name": "kiro", "description": "Kiro", "audiences": ["api://kiro"]})),
    );
    assert_eq!(status, 201, "{server}");
    let id = server["id"].as_str().unwrap();
    // By name: Okta answers 400 on a lookup by id with a name, and the search finds it.
    let extra = "  authorization_server: kiro\n";
    let mut test = org.test(&plan_yaml(&org.url(), extra));
    test.again(["apply", "plan.yaml", "--yes"]).success();
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    plan.success();
    assert!(okta_writes(&plan.json()).is_empty(), "{}", plan.stdout);

    let (status, _) = org.api("POST", &format!("/api/v1/authorizationServers/{id}/lifecycle/deactivate"), None);
    assert_eq!(status, 204);
    let audit = test.again(["audit", "plan.yaml", "--json"]);
    assert!(finding_codes(&audit.json()).iter().any(|c| c == "okta.authorization_server_inactive"), "{}", audit.stdout);
    test.again(["audit", "plan.yaml"]).stdout_has("INACTIVE").stdout_has("lifecycle/activate");
}

fn provisioning_plan(org: &Org, done: bool) -> String {
    plan_yaml(
        &org.url(),
        &format!(
            "  provisioning:\n    scim_endpoint: https://scim.us-east-1.amazonaws.com/abc/scim/v2\n    scim_token: {{ env: KIRO_SCIM_TOKEN }}\n    done: {done}\n    push_groups: [Kiro Users Push]\n"
        ),
    )
}

/// The provisioning app, and the push group (separate from the assigned `Kiro Users`: Okta
/// doesn't support one group for app assignment and Group Push).
fn add_scim_app(org: &Org) -> String {
    let push = json!({"groups": [{"name": "Kiro Users Push", "members": ["jdoe@example.com"]}]});
    assert_eq!(org.control("POST", "seed", Some(&push)).0, 200);
    let (status, body) = org.api(
        "POST",
        "/api/v1/apps?activate=true",
        Some(&json!({"name": "amazon_aws_sso", "label": "Kiro SCIM", "signOnMode": "SAML_2_0"})),
    );
    assert_eq!(status, 200, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

#[test]
fn the_scim_app_gets_the_plans_groups_and_push_mappings_and_other_pushes_are_reported() {
    // The assigned group is assigned to the SCIM app, and only the push group is pushed.
    let org = Org::start(&[]);
    let scim_app = add_scim_app(&org);
    let mut test = org.test(&provisioning_plan(&org, false));
    // Before the console step: the SCIM app gets the plan's groups; nothing is pushed yet.
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    let writes = okta_writes(&plan.json());
    assert!(writes.iter().any(|w| w == r#"create okta.provisioning_assignment["Kiro SCIM/Kiro Users"]"#), "{writes:?}");
    assert!(!writes.iter().any(|w| w.contains("okta.group_push")), "{writes:?}");
    let console = plan.json()["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == r#"okta.provisioning["Kiro SCIM"]"#)
        .cloned()
        .unwrap();
    let text = console.to_string();
    assert!(!text.contains("Assign to Groups") && !text.contains("Find groups by name"), "{text}");
    test.again(["apply", "plan.yaml", "--yes"]).success();
    let state = org.state();
    let app = state["apps"].as_array().unwrap().iter().find(|a| a["id"] == scim_app.as_str()).unwrap().clone();
    assert_eq!(app["assigned_groups"].as_object().unwrap().len(), 1, "{app}");

    // The admin did the console part (URL, token, To App, Push Groups on).
    let (status, body) = org.control(
        "POST",
        "console/provisioning",
        Some(&json!({"app": "Kiro SCIM", "base_url": "https://scim.us-east-1.amazonaws.com/abc/scim/v2", "token": SCIM_TOKEN})),
    );
    assert_eq!(status, 200, "{body}");
    let mut test = org.test(&provisioning_plan(&org, true));
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    let writes = okta_writes(&plan.json());
    assert_eq!(writes, [r#"create okta.group_push["Kiro SCIM/Kiro Users Push"]"#], "{}", plan.stdout);
    test.again(["apply", "plan.yaml", "--yes"]);
    let mappings = org.api("GET", &format!("/api/v1/apps/{scim_app}/group-push/mappings"), None).1;
    assert_eq!(mappings.as_array().unwrap().len(), 1, "{mappings}");
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    assert!(okta_writes(&plan.json()).is_empty(), "{}", plan.stdout);

    // Someone pushes another group: reported, not removed.
    let contractors =
        org.state()["groups"].as_array().unwrap().iter().find(|g| g["profile"]["name"] == "Contractors").unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let (status, body) = org.api(
        "POST",
        &format!("/api/v1/apps/{scim_app}/group-push/mappings"),
        Some(&json!({"sourceGroupId": contractors, "targetGroupName": "Contractors", "status": "ACTIVE"})),
    );
    assert!(status < 300, "{body}");
    let audit = test.again(["audit", "plan.yaml", "--json"]);
    let codes = finding_codes(&audit.json());
    assert!(codes.iter().any(|c| c == "okta.group_push_unplanned"), "{codes:?}");
    assert!(audit.stdout.contains("Contractors") || audit.stdout.contains(&contractors), "{}", audit.stdout);
}

#[test]
fn plan_and_audit_make_at_most_30_okta_calls_at_10000_assigned_users() {
    let org = Org::start(&[]);
    let scim_app = add_scim_app(&org);
    let users: Vec<String> = (0..10_000).map(|i| format!("user{i:05}@example.com")).collect();
    let (status, body) = org.control("POST", "seed", Some(&json!({"users": users})));
    assert_eq!(status, 200, "{}", body.to_string().chars().take(300).collect::<String>());
    let (status, body) = org.control("POST", "memberships", Some(&json!({"group": "Kiro Users", "add": users})));
    assert_eq!(status, 200, "{}", body.to_string().chars().take(300).collect::<String>());
    let (status, body) = org.control(
        "POST",
        "console/provisioning",
        Some(&json!({"app": "Kiro SCIM", "base_url": "https://scim.us-east-1.amazonaws.com/abc/scim/v2", "token": SCIM_TOKEN})),
    );
    assert_eq!(status, 200, "{body}");
    let mut test = org.test(&provisioning_plan(&org, true));
    test.again(["apply", "plan.yaml", "--yes"]);
    let app_users = org.api("GET", &format!("/api/v1/apps/{scim_app}/users?limit=2"), None).1;
    assert_eq!(app_users.as_array().unwrap().len(), 2, "the SCIM app has its users");
    for command in ["plan", "audit"] {
        org.control("DELETE", "log", None);
        let started = std::time::Instant::now();
        test.again([command, "plan.yaml", "--json"]);
        let calls = org.log().len();
        eprintln!("{command} at 10,000 assigned users: {calls} Okta calls in {:?}", started.elapsed());
        assert!(calls <= 30, "{command} made {calls} Okta calls: {:#?}", org.log());
    }
}

#[test]
fn the_emulator_refuses_what_okta_does_not_publish() {
    let org = Org::start(&[]);
    let (status, body) = org.api("GET", "/api/v1/apps/0oa1/not-a-route", None);
    assert_eq!((status, body["errorCode"].as_str()), (404, Some("E0000007")), "{body}");
    let (status, body) = org.api(
        "POST",
        "/api/v1/apps",
        Some(&json!({"name": "oidc_client", "label": "x", "signOnMode": "OPENID_CONNECT", "madeUp": true})),
    );
    assert_eq!((status, body["errorCode"].as_str()), (400, Some("E0000001")), "{body}");
    assert!(body.to_string().contains("madeUp"), "{body}");
    // What was refused is recorded; this test's Org must not fail on drop for it.
    let refused = org.state()["unpublished_requests"].as_array().unwrap().len();
    assert_eq!(refused, 2);
    // A reset clears the record, so dropping this Org does not count these as the tool's.
    org.control("POST", "reset", None);
}

#[test]
fn the_plan_chooses_which_of_kiros_scopes_to_create_and_grant() {
    let org = Org::start(&[]);
    let mut test = org.test(&plan_yaml(&org.url(), "  kiro_scopes: [codewhisperer:completions]\n"));
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    let writes = okta_writes(&plan.json());
    assert!(writes.iter().any(|w| w == r#"create okta.scope["codewhisperer:completions"]"#), "{writes:?}");
    assert!(!writes.iter().any(|w| w.contains("codewhisperer:conversations")), "{writes:?}");
    test.again(["apply", "plan.yaml", "--yes"]).success();
    let server = org.state()["authorization_servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "default")
        .cloned()
        .unwrap();
    let names: Vec<&str> = server["scopes"].as_array().unwrap().iter().filter_map(|s| s["name"].as_str()).collect();
    assert!(
        names.contains(&"codewhisperer:completions") && !names.contains(&"codewhisperer:conversations"),
        "{names:?}"
    );
    let rule = server["policies"].as_array().unwrap().iter().find(|p| p["name"] == "Kiro").unwrap()["rules"][0].clone();
    let granted = rule["conditions"]["scopes"]["include"].to_string();
    assert!(granted.contains("codewhisperer:completions") && !granted.contains("conversations"), "{granted}");
    let again = test.again(["plan", "plan.yaml", "--json"]);
    assert!(okta_writes(&again.json()).is_empty(), "{}", again.stdout);

    let wrong = org.test(&plan_yaml(&org.url(), "  kiro_scopes: [codewhisperer:everything]\n"));
    wrong.args(["validate", "plan.yaml"]).run().code(1).stderr_has("not one of Kiro's scopes");
}

#[test]
fn a_service_app_gets_half_the_rate_limit_and_the_step_waits_within_it() {
    let org = Org::start(&[]);
    let (status, body) = org.control("POST", "config", Some(&json!({"rate_limit": {"limit": 4, "window_seconds": 1}})));
    assert_eq!(status, 200, "{body}");
    let mut test = org.test(&service_app_yaml(&org, "0oashare"));
    rsa_key_at(&test, "service.pem");
    seed_service_app(&org, "0oashare", &public_pem(&test));
    org.control("DELETE", "log", None);
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    plan.success();
    let log = org.log();
    let limited: Vec<&Value> = log.iter().filter(|e| e["status"] == 429).collect();
    assert!(!limited.is_empty(), "2 calls a second per family (half of 4) should have been exceeded: {log:?}");
    // Every 429 was waited out and retried: the plan is complete.
    assert!(!okta_writes(&plan.json()).is_empty());
    assert!(limited.iter().all(|e| e["error_code"] == "E0000047"), "{limited:?}");
}
