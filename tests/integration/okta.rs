//! The Okta path against the stateful Okta emulator (tests/servers/okta_emulator.py): an empty org
//! converges, out-of-band breakage becomes findings, 429s are survived by the server's clock, an
//! org without API Access Management is stopped before anything is created, and the API token
//! never appears anywhere.

use serde_json::{Value, json};

use crate::harness::server::{LocalServer, http};
use crate::harness::{Test, repo_root};

pub(crate) const TOKEN: &str = "okta-canary-00c0ffee9d1e4b7a8c3f";
pub(crate) const SCIM_TOKEN: &str = "scim-canary-okta-5b6a7c8d9e0f1a2b";

pub(crate) struct Org {
    server: LocalServer,
}

/// How long a new group stays missing from the emulator's `search` in tests: on, as in a real
/// org, but short (the emulator's default is seconds).
const SEARCH_LAG: &str = "0.5";
/// The tool's bound on looking for such a group again, in tests.
pub(crate) const SEARCH_WAIT: &str = "3";

impl Org {
    pub(crate) fn start(args: &[&str]) -> Org {
        let mut args: Vec<&str> = args.to_vec();
        if !args.contains(&"--search-lag-seconds") {
            args.extend(["--search-lag-seconds", SEARCH_LAG]);
        }
        let org = Org { server: LocalServer::start("okta_emulator.py", &args) };
        let (status, _) = org.control(
            "POST",
            "seed",
            Some(&json!({
                "api_tokens": [{"token": TOKEN, "name": "kiro-onboard"}],
                "users": ["jdoe@example.com", "rroe@example.com"],
                "groups": [{"name": "Kiro Users", "members": ["jdoe@example.com"]}, {"name": "Contractors", "members": ["rroe@example.com"]}],
            })),
        );
        assert_eq!(status, 200);
        org
    }

    pub(crate) fn url(&self) -> String {
        self.server.url()
    }

    pub(crate) fn control(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        http(method, &format!("{}/_control/{path}", self.url()), body)
    }

    pub(crate) fn state(&self) -> Value {
        self.control("GET", "state", None).1
    }

    /// A Management API call with the admin token, as someone changing the org out of band.
    pub(crate) fn api(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        use std::io::{Read, Write};
        let host = self.url().trim_start_matches("http://").to_owned();
        let mut stream = std::net::TcpStream::connect(&host).unwrap();
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        write!(stream, "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: SSWS {TOKEN}\r\nAccept: application/json\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let payload = response.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        (status, serde_json::from_str(payload).unwrap_or(Value::Null))
    }

    fn kiro_app(&self) -> Value {
        let (_, apps) = self.api("GET", "/api/v1/apps?q=Kiro&limit=200", None);
        apps.as_array().unwrap().iter().find(|a| a["label"] == "Kiro").cloned().expect("the Kiro app exists")
    }

    pub(crate) fn test(&self, yaml: &str) -> Test {
        Test::new()
            .plan(yaml)
            .env("OKTA_API_TOKEN", TOKEN)
            .env("KIRO_SCIM_TOKEN", SCIM_TOKEN)
            .env("KIRO_ONBOARD_OKTA_SEARCH_WAIT", SEARCH_WAIT)
    }

    /// The emulator's log of Okta calls (not its control API).
    pub(crate) fn log(&self) -> Vec<Value> {
        self.control("GET", "log", None).1.as_array().cloned().unwrap_or_default()
    }
}

/// Every Okta test checks that nothing it made the tool send was outside Okta's published API
/// (the emulator refuses such requests; this makes a refusal a failure even where the tool
/// would have carried on).
impl Drop for Org {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let refused = self.state()["unpublished_requests"].clone();
        assert!(refused.as_array().is_some_and(|r| r.is_empty()), "requests outside Okta's published API: {refused}");
    }
}

pub(crate) fn plan_yaml(org: &str, extra: &str) -> String {
    format!(
        "version: 1\nkiro:\n  profile_region: us-east-1\nokta:\n  org_url: {org}\n  credentials: {{ api_token: {{ env: OKTA_API_TOKEN }} }}\n  assign_groups: [Kiro Users]\n{extra}"
    )
}

pub(crate) fn okta_writes(json: &Value) -> Vec<String> {
    json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["address"].as_str().unwrap().starts_with("okta.") && c["action"] != "manual")
        .map(|c| format!("{} {}", c["action"].as_str().unwrap(), c["address"].as_str().unwrap()))
        .collect()
}

pub fn finding_codes(json: &Value) -> Vec<String> {
    let mut codes = Vec::new();
    collect_codes(json, &mut codes);
    codes
}

fn collect_codes(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let (Some(code), Some(_)) = (map.get("code").and_then(Value::as_str), map.get("severity")) {
                out.push(code.to_owned());
            }
            map.values().for_each(|v| collect_codes(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_codes(v, out)),
        _ => {}
    }
}

#[test]
fn an_empty_org_converges_and_the_console_step_gets_issuer_and_client_id() {
    let org = Org::start(&[]);
    // Two items a page: every list (apps, scopes, policies, groups) must follow `Link: rel="next"`.
    let (status, _) = org.control("POST", "config", Some(&json!({"page_size": 2})));
    assert_eq!(status, 200);
    let mut test = org.test(&plan_yaml(&org.url(), ""));
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    plan.success();
    let json = plan.json();
    let writes = okta_writes(&json);
    for expected in [
        r#"create okta.application["Kiro"]"#,
        r#"create okta.scope["codewhisperer:completions"]"#,
        r#"create okta.scope["codewhisperer:conversations"]"#,
        r#"create okta.policy["Kiro"]"#,
        r#"create okta.rule["Kiro/Kiro access"]"#,
        r#"create okta.assignment["Kiro Users"]"#,
    ] {
        assert!(writes.iter().any(|w| w == expected), "{expected} missing from {writes:?}");
    }
    let text = test.again(["plan", "plan.yaml"]);
    text.success().stdout_has("(known after apply)").stdout_has("/oauth2/default");

    test.again(["apply", "plan.yaml", "--yes"]).success();
    let app = org.kiro_app();
    let client_id = app["credentials"]["oauthClient"]["client_id"].as_str().unwrap().to_owned();
    assert_eq!(app["credentials"]["oauthClient"]["token_endpoint_auth_method"], "none");
    assert_eq!(app["credentials"]["oauthClient"]["pkce_required"], true);
    assert_eq!(app["settings"]["oauthClient"]["application_type"], "native");
    assert_eq!(app["settings"]["oauthClient"]["redirect_uris"].as_array().unwrap().len(), 11);
    assert!(app["settings"]["oauthClient"]["grant_types"].as_array().unwrap().contains(&json!("refresh_token")));

    let again = test.again(["plan", "plan.yaml", "--json"]);
    again.success();
    let json = again.json();
    assert!(okta_writes(&json).is_empty(), "{json:#}");
    let profile = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == r#"kiro_console.profile["us-east-1"]"#)
        .unwrap();
    assert_eq!(profile["after"]["Client ID"], client_id.as_str());
    assert_eq!(profile["after"]["Issuer URL"], format!("{}/oauth2/default", org.url()));

    // Applying again changes nothing in Okta.
    let before = org.state();
    test.again(["apply", "plan.yaml", "--yes"]).success();
    assert_eq!(org.state()["apps"], before["apps"]);
}

#[test]
fn breaking_the_org_out_of_band_produces_each_finding_and_apply_repairs_what_it_owns() {
    let org = Org::start(&[]);
    let mut test = org.test(&plan_yaml(&org.url(), ""));
    test.again(["apply", "plan.yaml", "--yes"]).success();
    let audit = test.again(["audit", "plan.yaml", "--json"]);
    let codes = finding_codes(&audit.json());
    assert!(codes.iter().all(|c| c == "manual_step_pending"), "only the console steps are left: {codes:?}");

    // Break it: an extra redirect URI, refresh token off, PKCE off (with a secret), a direct user
    // assignment, a deleted scope and a deleted policy.
    let mut app = org.kiro_app();
    let id = app["id"].as_str().unwrap().to_owned();
    app["settings"]["oauthClient"]["redirect_uris"].as_array_mut().unwrap().push(json!("https://evil.example.com/cb"));
    app["settings"]["oauthClient"]["grant_types"] = json!(["authorization_code"]);
    app["credentials"]["oauthClient"] =
        json!({"token_endpoint_auth_method": "client_secret_basic", "pkce_required": false, "client_id": id});
    let (status, body) = org.api("PUT", &format!("/api/v1/apps/{id}"), Some(&app));
    assert_eq!(status, 200, "{body}");
    let (_, users) = org.api("GET", "/api/v1/users?search=profile.login%20eq%20%22rroe%40example.com%22", None);
    let user = users[0]["id"].as_str().unwrap().to_owned();
    let (status, body) =
        org.api("POST", &format!("/api/v1/apps/{id}/users"), Some(&json!({"id": user, "scope": "USER"})));
    assert_eq!(status, 200, "{body}");
    delete_conversations_scope(&org);
    let (_, policies) = org.api("GET", "/api/v1/authorizationServers/default/policies", None);
    let policy =
        policies.as_array().unwrap().iter().find(|p| p["name"] == "Kiro").unwrap()["id"].as_str().unwrap().to_owned();
    assert_eq!(org.api("DELETE", &format!("/api/v1/authorizationServers/default/policies/{policy}"), None).0, 204);

    let audit = test.again(["audit", "plan.yaml", "--json"]);
    audit.code(2);
    let codes = finding_codes(&audit.json());
    for code in [
        "okta.extra_redirect_uris",
        "okta.refresh_token_off",
        "okta.pkce_off",
        "okta.client_secret",
        "okta.direct_user_assignment",
        "okta.missing_scope",
        "okta.missing_policy",
    ] {
        assert!(codes.iter().any(|c| c == code), "{code} not in {codes:?}\n{}", audit.stdout);
    }
    test.again(["audit", "plan.yaml"]).code(2).stdout_has("rroe@example.com").stdout_has("https://evil.example.com/cb");

    // Apply repairs what the tool owns and leaves the rest as findings.
    test.again(["apply", "plan.yaml", "--yes"]).success();
    let app = org.kiro_app();
    assert_eq!(app["credentials"]["oauthClient"]["token_endpoint_auth_method"], "none");
    assert_eq!(app["credentials"]["oauthClient"]["pkce_required"], true);
    assert!(
        app["settings"]["oauthClient"]["redirect_uris"]
            .as_array()
            .unwrap()
            .contains(&json!("https://evil.example.com/cb"))
    );
    let codes = finding_codes(&test.again(["audit", "plan.yaml", "--json"]).json());
    assert!(codes.iter().any(|c| c == "okta.direct_user_assignment"), "{codes:?}");
    for fixed in
        ["okta.pkce_off", "okta.refresh_token_off", "okta.missing_scope", "okta.missing_policy", "okta.client_secret"]
    {
        assert!(!codes.iter().any(|c| c == fixed), "{fixed} still in {codes:?}");
    }
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    assert!(okta_writes(&plan.json()).is_empty(), "{}", plan.stdout);

    // A deactivated policy and rule are found and activated again.
    let (_, policies) = org.api("GET", "/api/v1/authorizationServers/default/policies", None);
    let policy =
        policies.as_array().unwrap().iter().find(|p| p["name"] == "Kiro").unwrap()["id"].as_str().unwrap().to_owned();
    let (_, rules) = org.api("GET", &format!("/api/v1/authorizationServers/default/policies/{policy}/rules"), None);
    let rule = rules[0]["id"].as_str().unwrap().to_owned();
    let base = format!("/api/v1/authorizationServers/default/policies/{policy}");
    assert_eq!(org.api("POST", &format!("{base}/rules/{rule}/lifecycle/deactivate"), None).0, 204);
    assert_eq!(org.api("POST", &format!("{base}/lifecycle/deactivate"), None).0, 204);
    let codes = finding_codes(&test.again(["audit", "plan.yaml", "--json"]).json());
    assert!(
        codes.iter().any(|c| c == "okta.policy_inactive") && codes.iter().any(|c| c == "okta.rule_inactive"),
        "{codes:?}"
    );
    test.again(["apply", "plan.yaml", "--yes"]).success();
    assert_eq!(org.api("GET", &base, None).1["status"], "ACTIVE");
    assert_eq!(org.api("GET", &format!("{base}/rules/{rule}"), None).1["status"], "ACTIVE");

    // A group assigned out of band is reported, and unassigned only with prune on.
    let (_, groups) = org.api("GET", "/api/v1/groups?q=Contractors", None);
    let contractors = groups[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(org.api("PUT", &format!("/api/v1/apps/{id}/groups/{contractors}"), Some(&json!({}))).0, 200);
    let codes = finding_codes(&test.again(["audit", "plan.yaml", "--json"]).json());
    assert!(codes.iter().any(|c| c == "okta.unmanaged_group_assignment"), "{codes:?}");
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    assert!(okta_writes(&plan.json()).is_empty(), "{}", plan.stdout);

    // With prune on, the extra redirect URI and the unlisted group go.
    let mut pruning = org.test(&plan_yaml(&org.url(), "  prune: { redirect_uris: true, groups: true }\n"));
    let writes = okta_writes(&pruning.again(["plan", "plan.yaml", "--json"]).json());
    assert!(writes.contains(&r#"delete okta.assignment["Contractors"]"#.to_owned()), "{writes:?}");
    pruning.again(["apply", "plan.yaml", "--yes"]).success();
    assert_eq!(org.api("GET", &format!("/api/v1/apps/{id}/groups/{contractors}"), None).0, 404);
    assert_eq!(org.kiro_app()["settings"]["oauthClient"]["redirect_uris"].as_array().unwrap().len(), 11);
}

#[test]
fn rate_limits_are_waited_out_by_the_servers_clock() {
    let org = Org::start(&[]);
    // The server's clock is an hour ahead: a client that measured X-Rate-Limit-Reset against its
    // own clock would wait an hour (or its cap) at every 429.
    let (status, body) = org.control(
        "POST",
        "config",
        Some(&json!({"rate_limit": {"limit": 4, "window_seconds": 2, "shared": true}, "clock_skew_seconds": 3600})),
    );
    assert_eq!(status, 200, "{body}");
    let started = std::time::Instant::now();
    let mut test = org.test(&plan_yaml(&org.url(), ""));
    test.again(["apply", "plan.yaml", "--yes"]).success();
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    plan.success();
    assert!(okta_writes(&plan.json()).is_empty());
    assert!(started.elapsed() < std::time::Duration::from_secs(90), "took {:?}", started.elapsed());
    let (_, log) = org.control("GET", "log", None);
    let log = log.as_array().unwrap();
    assert!(log.iter().any(|e| e["status"] == 429), "no 429 was served");
    assert!(
        log.iter().any(|e| e["retry_for"].is_string() && e["retry_count"].is_string()),
        "retries did not carry X-Okta-Retry-For"
    );
}

#[test]
fn an_org_without_api_access_management_is_explained_and_nothing_is_created() {
    let org = Org::start(&["--no-api-access-management"]);
    let mut test = org.test(&plan_yaml(&org.url(), ""));
    test.again(["plan", "plan.yaml"]).code(1).stderr_has("API Access Management").stderr_has("hint:");
    test.again(["apply", "plan.yaml", "--yes"]).code(1).stderr_has("nothing was changed");
    let state = org.state();
    assert!(
        state["apps"].as_array().map(|a| a.is_empty()).unwrap_or(true)
            || state["apps"].as_object().map(|a| a.is_empty()).unwrap_or(false),
        "{state:#}"
    );
    // The same with a 403 instead of a 401.
    org.control("POST", "config", Some(&json!({"api_access_management_status": 403})));
    test.again(["plan", "plan.yaml"]).code(1).stderr_has("API Access Management");
}

#[test]
fn a_wrong_token_is_an_error_with_okta_details_and_a_hint() {
    let org = Org::start(&[]);
    let test = org.test(&plan_yaml(&org.url(), "")).env("OKTA_API_TOKEN", "wrong-token").args(["plan", "plan.yaml"]);
    test.run().code(1).stderr_has("E0000011").stderr_has("hint:");
}

#[test]
fn the_api_token_never_appears_in_any_output() {
    let org = Org::start(&[]);
    let extra = format!(
        "  provisioning:\n    scim_endpoint: {}/scim/v2\n    scim_token: {{ env: KIRO_SCIM_TOKEN }}\n",
        org.url()
    );
    let mut test = org.test(&plan_yaml(&org.url(), &extra));
    for args in [
        vec!["-vvv", "plan", "plan.yaml"],
        vec!["-vvv", "plan", "plan.yaml", "--json"],
        vec!["-vvv", "apply", "plan.yaml", "--yes"],
        vec!["-vvv", "apply", "plan.yaml", "--yes", "--json"],
        vec!["-vvv", "audit", "plan.yaml"],
        vec!["-vvv", "audit", "plan.yaml", "--json"],
    ] {
        let output = test.again(&args);
        for secret in [TOKEN, SCIM_TOKEN] {
            assert!(!output.stdout.contains(secret) && !output.stderr.contains(secret), "{args:?} leaked a secret");
        }
    }
    // And not in errors either.
    let output = test.again(["-vvv", "plan", "plan.yaml"]);
    assert!(!output.stderr.contains(TOKEN));
}

#[test]
fn provisioning_is_a_manual_step_and_an_unknown_connection_is_never_success() {
    let org = Org::start(&[]);
    let scim = "https://scim.us-east-1.amazonaws.com/abc/scim/v2";
    let extra = format!("  provisioning:\n    scim_endpoint: {scim}\n    scim_token: {{ env: KIRO_SCIM_TOKEN }}\n");
    let mut test = org.test(&plan_yaml(&org.url(), &extra));
    test.again(["apply", "plan.yaml", "--yes"]).success();
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    let json = plan.json();
    let step = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == r#"okta.provisioning["Kiro SCIM"]"#)
        .expect("the provisioning step");
    assert_eq!(step["action"], "manual");
    assert_eq!(step["after"]["Base URL"], scim);
    assert!(step["manual"]["verify"].as_str().unwrap().contains("UNKNOWN"));

    // The admin did it in the console (the connection API still answers UNKNOWN).
    let (status, body) = org.api(
        "POST",
        "/api/v1/apps?activate=true",
        Some(&json!({"name": "amazon_aws_sso", "label": "Kiro SCIM", "signOnMode": "SAML_2_0"})),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = org.control(
        "POST",
        "console/provisioning",
        Some(&json!({"app": "Kiro SCIM", "base_url": scim, "token": SCIM_TOKEN, "create_users": true, "update_user_attributes": true, "deactivate_users": true, "push_groups": true})),
    );
    assert_eq!(status, 200, "{body}");
    let done = plan_yaml(&org.url(), &format!("{extra}    done: true\n"));
    let mut test = org.test(&done);
    let audit = test.again(["audit", "plan.yaml", "--json"]);
    let codes = finding_codes(&audit.json());
    assert!(codes.iter().any(|c| c == "okta.provisioning_unverified"), "{codes:?}");
    // The SCIM endpoint here is not reachable, so the check fails (as an endpoint problem, not a
    // token one): never a success.
    assert!(codes.iter().any(|c| c == "okta.scim_endpoint_unusable"), "{codes:?}");
    assert!(!codes.iter().any(|c| c == "okta.scim_token_rejected"), "{codes:?}");
    test.again(["audit", "plan.yaml"]).code(2).stdout_has("did NOT verify");

    // Against a real SCIM server that accepts the token: the token check passes, and the
    // connection Okta cannot show is still reported as not verified, never as success.
    let scim = LocalServer::scim(SCIM_TOKEN);
    let extra = format!(
        "  provisioning:\n    scim_endpoint: {}\n    scim_token: {{ env: KIRO_SCIM_TOKEN }}\n    done: true\n",
        scim.url()
    );
    let mut test = org.test(&plan_yaml(&org.url(), &extra));
    let audit = test.again(["audit", "plan.yaml", "--json"]);
    let codes = finding_codes(&audit.json());
    assert!(!codes.iter().any(|c| c == "okta.scim_token_rejected"), "{codes:?}\n{}", audit.stdout);
    assert!(codes.iter().any(|c| c == "okta.provisioning_unverified"), "{codes:?}");
    let text = test.again(["audit", "plan.yaml"]);
    text.stdout_has("did NOT verify");
    assert!(!text.stdout.to_lowercase().contains("provisioning is configured"));

    // A scheduled job without the secret: the token is said to be absent here, not rejected.
    let mut without = org.test(&plan_yaml(&org.url(), &extra)).without_env("KIRO_SCIM_TOKEN");
    for command in ["plan", "audit"] {
        let json = without.again([command, "plan.yaml", "--json"]).json();
        let codes = finding_codes(&json);
        assert!(codes.iter().any(|c| c == "okta.scim_token_not_available"), "{codes:?}");
        assert!(!codes.iter().any(|c| c == "okta.scim_token_rejected"), "{codes:?}");
        let text = without.again([command, "plan.yaml"]);
        text.stdout_has("not available here (environment variable KIRO_SCIM_TOKEN is not set)");
    }
}

#[test]
fn the_okta_playbook_validates_and_converges() {
    let org = Org::start(&[]);
    let playbook = std::fs::read_to_string(repo_root().join("playbooks/okta.yaml")).unwrap();
    let mut test = org.test(&playbook).env("KIRO_ONBOARD_OKTA_ORG_URL", &org.url());
    test.again(["validate", "plan.yaml"]).success();
    test.again(["apply", "plan.yaml", "--yes"]).success();
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    plan.success();
    assert!(okta_writes(&plan.json()).is_empty(), "{}", plan.stdout);
}

/// A PKCS#8 RSA key made with openssl, as an admin would, written to `name` in the test's directory.
pub fn rsa_key_at(test: &Test, name: &str) -> String {
    let path = test.file_path(name);
    let status = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out"])
        .arg(&path)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(status.success());
    std::fs::read_to_string(path).unwrap()
}

/// The public half of `rsa_key`, as the admin pastes it into the service app.
pub(crate) fn public_pem(test: &Test) -> String {
    let output = std::process::Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(test.file_path("service.pem"))
        .output()
        .expect("openssl runs");
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap()
}

pub(crate) const SERVICE_SCOPES: [&str; 5] = [
    "okta.apps.manage",
    "okta.groups.read",
    "okta.users.read",
    "okta.authorizationServers.manage",
    "okta.groups.manage",
];

pub(crate) fn service_app_yaml(org: &Org, client: &str) -> String {
    format!(
        "version: 1\nkiro:\n  profile_region: us-east-1\nokta:\n  org_url: {}\n  credentials: {{ client_id: {client}, key_id: k1, private_key: {{ file: service.pem }} }}\n  assign_groups: [Kiro Users]\n",
        org.url()
    )
}

// An app that requires DPoP (the default for new service apps, docs/vendor-behaviour.md
// §3.3.2) converges instead of being explained away; DPoP off still works.
#[test]
fn a_service_app_with_private_key_jwt_converges_and_dpop_is_explained() {
    let org = Org::start(&[]);
    let mut test = org.test(&service_app_yaml(&org, "0oakiroonboard"));
    let key = rsa_key_at(&test, "service.pem");
    let public = public_pem(&test);
    let (status, body) = org.control(
        "POST",
        "seed",
        Some(&json!({"service_apps": [
            {"client_id": "0oakiroonboard", "label": "kiro-onboard", "scopes": SERVICE_SCOPES, "roles": ["SUPER_ADMIN"], "public_key_pem": public, "key_id": "k1", "require_dpop": false},
            {"client_id": "0oadpop", "label": "dpop", "scopes": SERVICE_SCOPES, "roles": ["SUPER_ADMIN"], "public_key_pem": public, "key_id": "k1"},
        ]})),
    );
    assert_eq!(status, 200, "{body}");
    let body: String = key.lines().filter(|l| !l.starts_with("-----")).collect();
    test.again(["-vvv", "apply", "plan.yaml", "--yes"]).success();
    let plan = test.again(["-vvv", "plan", "plan.yaml", "--json"]);
    plan.success();
    assert!(okta_writes(&plan.json()).is_empty(), "{}", plan.stdout);
    assert!(!plan.stderr.contains(&body[..40]) && !plan.stdout.contains(&body[..40]));
    let log = org.log();
    assert!(log.iter().any(|e| e["path"] == "/oauth2/v1/token" && e["status"] == 200), "no token was minted");
    // The token endpoint and the API are told who calls (one User-Agent for every client).
    let user_agent = concat!("kiro-onboard/", env!("CARGO_PKG_VERSION"));
    assert!(log.iter().all(|e| e["user_agent"] == user_agent), "{log:?}");
    assert!(log.iter().filter(|e| e["path"].as_str().unwrap().starts_with("/api/")).all(|e| e["auth"] == "Bearer"));

    // DPoP required: the same plan converges, every API call carries a DPoP-bound token.
    org.control("DELETE", "log", None);
    let mut dpop = org.test(&service_app_yaml(&org, "0oadpop")).file("service.pem", &key);
    dpop.again(["apply", "plan.yaml", "--yes"]).success();
    let plan = dpop.again(["plan", "plan.yaml", "--json"]);
    plan.success();
    assert!(okta_writes(&plan.json()).is_empty(), "{}", plan.stdout);
    let log = org.log();
    let api: Vec<&Value> = log.iter().filter(|e| e["path"].as_str().unwrap().starts_with("/api/")).collect();
    assert!(
        !api.is_empty() && api.iter().all(|e| e["auth"] == "DPoP" && e["status"].as_u64().unwrap() < 400),
        "{api:?}"
    );
}

#[test]
fn a_create_whose_answer_was_lost_is_not_repeated_and_the_next_apply_converges() {
    let org = Org::start(&[]);
    // Okta creates the app, then the answer is lost (a 502 after the commit).
    let (status, body) = org.control(
        "POST",
        "faults",
        Some(&json!({"status": 502, "count": 1, "path_prefix": "/api/v1/apps", "method": "POST", "commit": true})),
    );
    assert_eq!(status, 200, "{body}");
    let mut test = org.test(&plan_yaml(&org.url(), ""));
    test.again(["apply", "plan.yaml", "--yes"]).code(1).stdout_has("E0000009");
    test.again(["apply", "plan.yaml", "--yes"]).success();
    let apps = org.state()["apps"].as_array().unwrap().iter().filter(|a| a["label"] == "Kiro").count();
    assert_eq!(apps, 1, "the app was created twice");
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    assert!(okta_writes(&plan.json()).is_empty(), "{}", plan.stdout);
    // Transient errors on reads are retried.
    org.control(
        "POST",
        "faults",
        Some(&json!({"status": 503, "count": 2, "path_prefix": "/api/v1/apps", "method": "GET"})),
    );
    test.again(["plan", "plan.yaml"]).success();
}

#[test]
fn the_okta_section_is_validated_offline_with_lines_and_hints() {
    let yaml = "version: 1\nkiro:\n  profile_region: us-east-1\nokta:\n  org_url: http://example.okta.com/oauth2\n  credentials: { api_token: { env: OKTA_API_TOKEN }, extra: 1 }\n  assign_groups: [A, A]\n  provisioning:\n    scim_endpoint: https://scim.us-east-1.amazonaws.com/x/scim/v2/\n    scim_token: { env: KIRO_SCIM_TOKEN }\n";
    let output = Test::new().plan(yaml).args(["validate", "plan.yaml"]).run();
    output.code(1).stderr_has("plan.yaml:6:").stderr_has("okta.credentials");
    let yaml = yaml.replace(", extra: 1", "");
    Test::new()
        .plan(&yaml)
        .args(["validate", "plan.yaml"])
        .run()
        .code(1)
        .stderr_has("plan.yaml:5:12: error: `http://example.okta.com/oauth2` is not an https:// Okta org URL")
        .stderr_has("plan.yaml:7:22: error: group `A` is listed twice")
        .stderr_has("Okta's Test API Credentials fails on it")
        .stderr_has("hint: write `https://scim.us-east-1.amazonaws.com/x/scim/v2`");
}

#[test]
fn a_deactivated_kiro_app_is_reactivated_not_duplicated_and_look_alikes_are_ignored() {
    let org = Org::start(&[]);
    let app = |label: &str, status: &str| {
        json!({"name": "oidc_client", "label": label, "signOnMode": "OPENID_CONNECT", "status": status,
               "credentials": {"oauthClient": {"token_endpoint_auth_method": "none", "pkce_required": true}},
               "settings": {"oauthClient": {"application_type": "native", "grant_types": ["authorization_code", "refresh_token"],
                             "redirect_uris": ["kiro://kiro.oauth/callback"]}}})
    };
    let (status, body) = org.control(
        "POST",
        "seed",
        Some(&json!({"apps": [app("Kiro", "INACTIVE"), app("Kiro-OIDC-legacy", "ACTIVE")]})),
    );
    assert_eq!(status, 200, "{body}");
    let mut test = org.test(&plan_yaml(&org.url(), ""));
    let audit = test.again(["audit", "plan.yaml", "--json"]);
    let codes = finding_codes(&audit.json());
    assert!(codes.iter().any(|c| c == "okta.app_inactive"), "{codes:?}");
    assert!(codes.iter().any(|c| c == "okta.missing_redirect_uris"), "{codes:?}");
    let writes = okta_writes(&test.again(["plan", "plan.yaml", "--json"]).json());
    assert!(writes.contains(&r#"update okta.application["Kiro"]"#.to_owned()), "{writes:?}");
    test.again(["apply", "plan.yaml", "--yes"]).success();
    let state = org.state();
    let kiro: Vec<&Value> = state["apps"].as_array().unwrap().iter().filter(|a| a["label"] == "Kiro").collect();
    assert_eq!(kiro.len(), 1);
    assert_eq!(kiro[0]["status"], "ACTIVE");
    assert_eq!(org.kiro_app()["settings"]["oauthClient"]["redirect_uris"].as_array().unwrap().len(), 11);
    let legacy = state["apps"].as_array().unwrap().iter().find(|a| a["label"] == "Kiro-OIDC-legacy").unwrap();
    assert_eq!(legacy["settings"]["oauthClient"]["redirect_uris"].as_array().unwrap().len(), 1);
    assert!(okta_writes(&test.again(["plan", "plan.yaml", "--json"]).json()).is_empty());
}

#[test]
fn init_writes_an_okta_starter_plan_that_validates() {
    let mut test = Test::new();
    test.again(["init", "--idp", "okta"]).success().stderr_has("Wrote plan.yaml");
    test.again(["validate", "plan.yaml"]).success();
}

#[test]
fn okta_and_identity_center_in_one_plan_are_refused() {
    let yaml = "version: 1\nkiro:\n  profile_region: us-east-1\nidentity_center:\n  groups: [{ name: g }]\nokta:\n  org_url: https://example.okta.com\n  credentials: { api_token: { env: OKTA_API_TOKEN } }\n";
    Test::new()
        .plan(yaml)
        .args(["validate", "plan.yaml"])
        .run()
        .code(1)
        .stderr_has("plan.yaml:6:1: error: `identity_center` and `okta` are both set");
}

/// Deletes Kiro's `codewhisperer:conversations` scope from the default authorization server, as
/// another admin would.
pub fn delete_conversations_scope(org: &Org) {
    let (_, scopes) = org.api("GET", "/api/v1/authorizationServers/default/scopes?q=codewhisperer:conv", None);
    let scope = scopes.as_array().unwrap().iter().find(|s| s["name"] == "codewhisperer:conversations").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(org.api("DELETE", &format!("/api/v1/authorizationServers/default/scopes/{scope}"), None).0, 204);
}

/// A service app `0oadpop` that requires DPoP (as new API service apps do), its key made in
/// `test`'s directory as `service.pem`.
fn seed_dpop_service_app(org: &Org, test: &Test) {
    rsa_key_at(test, "service.pem");
    let public = public_pem(test);
    let (status, body) = org.control(
        "POST",
        "seed",
        Some(&json!({"service_apps": [
            {"client_id": "0oadpop", "label": "dpop", "scopes": SERVICE_SCOPES, "roles": ["SUPER_ADMIN"], "public_key_pem": public, "key_id": "k1"},
        ]})),
    );
    assert_eq!(status, 200, "{body}");
}

// `okta.org_url` as an admin may write it (upper-case host, trailing slash): Okta compares the
// assertion's `aud` and DPoP's `htu` with the URL it was called at exactly (the emulator too, from
// the request's Host), and the console step names the org in the same normal form.
#[test]
fn an_org_url_written_loosely_is_used_in_its_normal_form() {
    let org = Org::start(&[]);
    let loose = format!("{}/", org.url().replace("127.0.0.1", "LOCALHOST"));
    let normal = org.url().replace("127.0.0.1", "localhost");
    let provisioning = "  provisioning:\n    scim_endpoint: https://scim.us-east-1.amazonaws.com/abc/scim/v2\n    scim_token: { env: KIRO_SCIM_TOKEN }\n";
    let yaml = service_app_yaml(&org, "0oadpop")
        .replace(&format!("org_url: {}", org.url()), &format!("org_url: {loose}"))
        + provisioning;
    assert!(yaml.contains(&loose), "{yaml}");
    let mut test = org.test(&yaml);
    seed_dpop_service_app(&org, &test);
    test.again(["validate", "plan.yaml"]).success();
    test.again(["apply", "plan.yaml", "--yes"]).success();
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    plan.success();
    assert!(okta_writes(&plan.json()).is_empty(), "{}", plan.stdout);
    assert!(plan.stdout.contains(&normal), "{}", plan.stdout);
    assert!(!plan.stdout.contains("LOCALHOST"), "{}", plan.stdout);
    let log = org.log();
    assert!(log.iter().any(|e| e["path"] == "/oauth2/v1/token" && e["status"] == 200), "{log:?}");
    assert!(log.iter().filter(|e| e["path"] == "/oauth2/v1/token").all(|e| e["error_code"] != "invalid_client"));
}

pub(crate) fn push_mappings(org: &Org, app_label: &str) -> Vec<Value> {
    let state = org.state();
    let app = state["apps"].as_array().unwrap().iter().find(|a| a["label"] == app_label).cloned().unwrap();
    app["push_mappings"].as_array().cloned().unwrap_or_default()
}

fn group_id(org: &Org, name: &str) -> String {
    let state = org.state();
    state["groups"].as_array().unwrap().iter().find(|g| g["profile"]["name"] == name).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

// Okta doesn't support one group for both app assignment and Group Push (help.okta.com, "App
// assignments and Group Push"); the symptom is that users removed from such a group stay in the
// target app's group ("Troubleshooting Group Push"). The plan assigns `assign_groups` and pushes
// the separate `push_groups`; a live push of an assigned group is reported, and the emulator
// shows why: the removed user stays in Kiro's copy of the group.
#[test]
fn assigned_groups_are_never_pushed_and_a_group_both_assigned_and_pushed_keeps_removed_users() {
    let org = Org::start(&[]);
    let (status, body) =
        org.control("POST", "seed", Some(&json!({"groups": [{"name": "Kiro Push", "members": ["jdoe@example.com"]}]})));
    assert_eq!(status, 200, "{body}");
    let (status, body) = org.api(
        "POST",
        "/api/v1/apps?activate=true",
        Some(&json!({"name": "amazon_aws_sso", "label": "Kiro SCIM", "signOnMode": "SAML_2_0"})),
    );
    assert_eq!(status, 200, "{body}");
    let scim = "https://scim.us-east-1.amazonaws.com/abc/scim/v2";
    let (status, body) = org.control(
        "POST",
        "console/provisioning",
        Some(&json!({"app": "Kiro SCIM", "base_url": scim, "token": SCIM_TOKEN, "push_groups": true})),
    );
    assert_eq!(status, 200, "{body}");

    // Without push_groups: nothing is pushed, and the plan says so.
    let without = format!(
        "  provisioning:\n    scim_endpoint: {scim}\n    scim_token: {{ env: KIRO_SCIM_TOKEN }}\n    done: true\n"
    );
    let mut test = org.test(&plan_yaml(&org.url(), &without));
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    assert!(finding_codes(&plan.json()).iter().any(|c| c == "okta.push_groups_unset"), "{}", plan.stdout);
    test.again(["apply", "plan.yaml", "--yes"]).success();
    assert!(push_mappings(&org, "Kiro SCIM").is_empty(), "an assigned group was pushed");

    // With push_groups: the assigned group is assigned to the SCIM app, only the push group pushed.
    let with = format!("{without}    push_groups: [Kiro Push]\n");
    let mut test = org.test(&plan_yaml(&org.url(), &with));
    test.again(["validate", "plan.yaml"]).success();
    test.again(["apply", "plan.yaml", "--yes"]).success();
    let kiro_users = group_id(&org, "Kiro Users");
    let kiro_push = group_id(&org, "Kiro Push");
    let mappings = push_mappings(&org, "Kiro SCIM");
    let sources: Vec<&str> = mappings.iter().map(|m| m["sourceGroupId"].as_str().unwrap()).collect();
    assert_eq!(sources, [kiro_push.as_str()], "{mappings:?}");
    let state = org.state();
    let scim_app = state["apps"].as_array().unwrap().iter().find(|a| a["label"] == "Kiro SCIM").unwrap();
    assert!(scim_app["assigned_groups"].get(&kiro_users).is_some(), "{scim_app}");
    assert!(scim_app["assigned_groups"].get(&kiro_push).is_none(), "{scim_app}");
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    assert!(okta_writes(&plan.json()).is_empty(), "{}", plan.stdout);
    assert!(!finding_codes(&plan.json()).iter().any(|c| c == "okta.push_groups_unset"));

    // Someone pushes the assigned group as well, out of band: reported, with Okta's reason.
    let app_id = scim_app["id"].as_str().unwrap();
    let (status, body) = org.api(
        "POST",
        &format!("/api/v1/apps/{app_id}/group-push/mappings"),
        Some(&json!({"sourceGroupId": kiro_users, "targetGroupName": "Kiro Users", "status": "ACTIVE"})),
    );
    assert_eq!(status, 201, "{body}");
    let audit = test.again(["audit", "plan.yaml", "--json"]);
    assert!(finding_codes(&audit.json()).iter().any(|c| c == "okta.group_assigned_and_pushed"), "{}", audit.stdout);
    assert!(!finding_codes(&audit.json()).iter().any(|c| c == "okta.group_push_unplanned"), "{}", audit.stdout);
    test.again(["audit", "plan.yaml"]).stdout_has("help.okta.com");

    // Why: jdoe leaves the push-only group and is gone from its copy in Kiro; jdoe leaves the
    // assigned-and-pushed group and stays in its copy.
    let target = |source: &str| -> Vec<Value> {
        let mappings = push_mappings(&org, "Kiro SCIM");
        let m = mappings.iter().find(|m| m["sourceGroupId"] == source).unwrap();
        m["target_members"].as_array().unwrap().clone()
    };
    assert_eq!(target(&kiro_push), [json!("jdoe@example.com")]);
    assert_eq!(target(&kiro_users), [json!("jdoe@example.com")]);
    org.control("POST", "memberships", Some(&json!({"group": "Kiro Push", "remove": ["jdoe@example.com"]})));
    assert!(target(&kiro_push).is_empty(), "removed from the push-only group, gone from Kiro's copy");
    org.control("POST", "memberships", Some(&json!({"group": "Kiro Users", "remove": ["jdoe@example.com"]})));
    assert_eq!(target(&kiro_users), [json!("jdoe@example.com")], "Okta's documented symptom");
}

fn dpop_counts(org: &Org) -> Value {
    org.state()["dpop"].clone()
}

fn count(counts: &Value, key: &str) -> u64 {
    counts[key].as_u64().unwrap_or_else(|| panic!("no {key} in {counts}"))
}

// RFC 9449 §8.2 and §9: the last `DPoP-Nonce` of the token endpoint and of the API is kept for
// the whole run, token renewals included, so a renewal costs no second `use_dpop_nonce` round
// trip. A DPoP-bound token refused as expired (`WWW-Authenticate: DPoP error="invalid_token"`,
// Okta's DPoP guide) is renewed once and the request retried once, never in a loop.
#[test]
fn dpop_nonces_last_the_run_and_an_expired_token_is_renewed_once() {
    let org = Org::start(&[]);
    let mut test = org.test(&service_app_yaml(&org, "0oadpop"));
    seed_dpop_service_app(&org, &test);
    // Tokens worn out after four calls, and an API that wants its nonce too: one run renews its
    // token several times, each time on Okta's `invalid_token`.
    let (status, body) =
        org.control("POST", "config", Some(&json!({"access_token_max_uses": 4, "api_dpop_nonce": true})));
    assert_eq!(status, 200, "{body}");
    test.again(["apply", "plan.yaml", "--yes"]).success();
    let counts = dpop_counts(&org);
    assert!(count(&counts, "tokens_issued") >= 3, "the run never renewed its token: {counts}");
    assert_eq!(count(&counts, "api_invalid_token"), count(&counts, "tokens_issued") - 1, "{counts}");
    assert_eq!(count(&counts, "token_nonce_challenges"), 1, "a renewal asked for the nonce again: {counts}");
    assert_eq!(count(&counts, "api_nonce_challenges"), 1, "the API nonce was forgotten: {counts}");
    assert_eq!(count(&counts, "token_proofs_with_nonce"), count(&counts, "tokens_issued"), "{counts}");

    // Every token is expired on arrival: the first call is refused, the token renewed once, the
    // call retried once, and the run stops with Okta's answer instead of looping.
    let (status, body) =
        org.control("POST", "config", Some(&json!({"access_token_lifetime": 0, "access_token_max_uses": null})));
    assert_eq!(status, 200, "{body}");
    let before = dpop_counts(&org);
    let output = test.again(["plan", "plan.yaml"]);
    output.code(1);
    let after = dpop_counts(&org);
    let delta = |key: &str| count(&after, key) - count(&before, key);
    assert_eq!(delta("api_invalid_token"), 2, "{before} → {after}\n{}", output.stdout);
    assert_eq!(delta("tokens_issued"), 2, "{before} → {after}");
    let said = format!("{}{}", output.stdout, output.stderr);
    assert!(said.contains("E0000011"), "{said}");
}

/// The Kiro apps labelled "Kiro" in the org.
fn kiro_apps(org: &Org) -> Vec<Value> {
    let (_, apps) = org.api("GET", "/api/v1/apps?q=Kiro&limit=200&includeNonDeleted=true", None);
    apps.as_array().unwrap().iter().filter(|a| a["label"] == "Kiro").cloned().collect()
}

/// An apply killed after it created a second Kiro app (two runners raced, one was killed before
/// it removed its own) leaves a marked duplicate: the next plan, from any machine, shows it as a
/// duplicate to delete, apply deletes it and keeps the older app (the one Kiro's console has).
#[test]
fn okta_a_duplicate_app_a_killed_apply_left_is_deleted_and_the_older_one_kept() {
    let (org, kept, dup) = org_with_a_marked_duplicate();
    let dup = dup["id"].as_str().unwrap().to_owned();

    let mut other_runner = org.test(&plan_yaml(&org.url(), ""));
    let json = other_runner.again(["plan", "plan.yaml", "--json"]).json();
    assert!(okta_writes(&json).contains(&format!("delete okta.duplicate_application[\"{dup}\"]")), "{json:#}");
    other_runner.again(["apply", "plan.yaml", "--yes"]).success();
    let apps = kiro_apps(&org);
    assert_eq!(apps.len(), 1, "{apps:#?}");
    assert_eq!(apps[0]["id"], kept.as_str());
    let json = other_runner.again(["plan", "plan.yaml", "--json"]).json();
    assert!(okta_writes(&json).is_empty(), "{json:#}");

    // An app of that label kiro-onboard did not make is never deleted: the plan stops, as before.
    let mut foreign = marked_kiro_app();
    foreign.as_object_mut().unwrap().remove("profile");
    assert_eq!(org.api("POST", "/api/v1/apps?activate=true", Some(&foreign)).0, 200);
    let stopped = other_runner.again(["plan", "plan.yaml"]);
    assert_ne!(stopped.code, 0);
    stopped.stderr_has("2 Okta apps are labelled \"Kiro\" exactly");
}

/// An org after one apply, with a second Kiro app as a killed or racing apply leaves it (created a
/// second later, so the first is older): the org, the kept app's id and the duplicate as Okta
/// answered.
fn org_with_a_marked_duplicate() -> (Org, String, Value) {
    let org = Org::start(&[]);
    org.test(&plan_yaml(&org.url(), "")).args(["apply", "plan.yaml", "--yes"]).run().success();
    let kept = org.kiro_app()["id"].as_str().unwrap().to_owned();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let body = marked_kiro_app();
    let (status, dup) = org.api("POST", "/api/v1/apps?activate=true", Some(&body));
    assert_eq!(status, 200, "{dup}");
    (org, kept, dup)
}

/// A second Kiro app as a killed or racing apply leaves it: marked as kiro-onboard's, nothing
/// configured on it yet.
fn marked_kiro_app() -> Value {
    json!({"name": "oidc_client", "label": "Kiro", "signOnMode": "OPENID_CONNECT",
        "profile": {"created_by": "kiro-onboard"},
        "credentials": {"oauthClient": {"token_endpoint_auth_method": "none", "pkce_required": true}},
        "settings": {"oauthClient": {"application_type": "native", "grant_types": ["authorization_code", "refresh_token"],
                     "response_types": ["code"], "redirect_uris": ["http://127.0.0.1/oauth/callback"]}}})
}

/// Two runners raced and the one whose app lost made the access policy: the policy names only the
/// duplicate. Apply deletes the duplicate and leaves it out of the policy (Okta refuses a policy
/// naming a client it no longer has), so one run converges.
#[test]
fn okta_a_policy_naming_only_the_duplicate_app_is_moved_to_the_kept_one() {
    let (org, kept, dup) = org_with_a_marked_duplicate();
    let dup_client =
        dup["credentials"]["oauthClient"]["client_id"].as_str().unwrap_or(dup["id"].as_str().unwrap()).to_owned();
    let (_, policies) = org.api("GET", "/api/v1/authorizationServers/default/policies", None);
    let mut policy = policies.as_array().unwrap().iter().find(|p| p["name"] == "Kiro").cloned().unwrap();
    policy["conditions"]["clients"]["include"] = json!([dup_client]);
    let id = policy["id"].as_str().unwrap().to_owned();
    let (status, answer) =
        org.api("PUT", &format!("/api/v1/authorizationServers/default/policies/{id}"), Some(&policy));
    assert_eq!(status, 200, "{answer}");

    let mut other_runner = org.test(&plan_yaml(&org.url(), ""));
    other_runner.again(["apply", "plan.yaml", "--yes"]).success();
    let apps = kiro_apps(&org);
    assert_eq!(apps.len(), 1, "{apps:#?}");
    assert_eq!(apps[0]["id"], kept.as_str());
    let json = other_runner.again(["plan", "plan.yaml", "--json"]).json();
    assert!(okta_writes(&json).is_empty(), "{json:#}");
}

/// Two applies at once on an empty org (two runners): each may create an app; the apps listing
/// shows both at once (Okta documents no delay for it), both keep the older, and the run whose app
/// lost deletes it.
#[test]
fn okta_two_applies_racing_end_with_one_app() {
    let org = Org::start(&[]);
    let one = org.test(&plan_yaml(&org.url(), "")).args(["apply", "plan.yaml", "--yes"]);
    let two = org.test(&plan_yaml(&org.url(), "")).args(["apply", "plan.yaml", "--yes"]);
    let a = one.command().stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let b = two.command().stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    if !a.status.success() || !b.status.success() {
        org.test(&plan_yaml(&org.url(), "")).args(["apply", "plan.yaml", "--yes"]).run().success();
    }
    assert_eq!(kiro_apps(&org).len(), 1, "{:#?}", kiro_apps(&org));
    let json = org.test(&plan_yaml(&org.url(), "")).args(["plan", "plan.yaml", "--json"]).run().json();
    assert!(okta_writes(&json).iter().all(|w| !w.contains("application")), "{json:#}");
}

/// `apply --yes` ends with the console steps still to do, with the client id and issuer of the
/// app it just created, in text and in `--json`.
#[test]
fn okta_apply_ends_with_the_console_steps_holding_the_client_id_and_issuer_it_created() {
    for json in [false, true] {
        let org = Org::start(&[]);
        let mut test = org.test(&plan_yaml(&org.url(), ""));
        let args: &[&str] =
            if json { &["apply", "plan.yaml", "--yes", "--json"] } else { &["apply", "plan.yaml", "--yes"] };
        let apply = test.again(args);
        apply.success();
        let client_id = org.kiro_app()["credentials"]["oauthClient"]["client_id"].as_str().unwrap().to_owned();
        let steps = if json {
            apply.json()["manual_steps"].to_string()
        } else {
            apply.stdout.split("Still to do by hand").nth(1).expect("the console steps end the output").to_owned()
        };
        assert!(steps.contains(&client_id), "the client id {client_id} is missing: {steps}");
        assert!(steps.contains("/oauth2/default"), "the issuer is missing: {steps}");
        assert!(!steps.contains("(known after apply)"), "{steps}");
    }
}
