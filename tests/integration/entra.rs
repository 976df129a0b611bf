//! The Entra path against the Graph emulator (tests/servers/graph_emulator.py) and a real SCIM
//! server: an empty tenant converges in one apply; each row of Kiro's troubleshooting table, broken
//! out of band, is a planned fix and an audit finding; throttling, replication delays and an
//! interrupted apply are survived without duplicates; device code login; the SCIM token canary.

use serde_json::{Value, json};

use crate::harness::Test;
use crate::harness::server::{LocalServer, http, http_raw};
use crate::harness::test::change_list;

pub(crate) const SCIM_TOKEN: &str = "entra-scim-canary-5b8d2f0e9c1a4d7b";
pub(crate) const CLIENT_ID: &str = "5f1c0e2a-7a51-4f3c-9d0e-6b2a8e4c1d90";
pub const CLIENT_SECRET: &str = "automation-secret-0123456789";
pub(crate) const GROUP: &str = "Kiro Developers";

pub(crate) struct Tenant {
    pub(crate) graph: LocalServer,
    pub(crate) scim: LocalServer,
}

impl Tenant {
    pub(crate) fn start() -> Tenant {
        // Graph's minutes-long assignment replication, shortened (it stays on: the tool waits).
        let graph = LocalServer::start("graph_emulator.py", &["--config", "assignment_replication_seconds=2"]);
        let scim = LocalServer::scim(SCIM_TOKEN);
        let tenant = Tenant { graph, scim };
        let (status, body) = tenant.control(
            "POST",
            "seed",
            json!({
                "users": [{"userPrincipalName": "alice@example.onmicrosoft.com"}, {"userPrincipalName": "bob@example.onmicrosoft.com"},
                          {"userPrincipalName": "carol@example.onmicrosoft.com"}],
                "groups": [{"displayName": GROUP, "members": ["alice@example.onmicrosoft.com", "bob@example.onmicrosoft.com"]},
                           {"displayName": "Contractors", "members": ["carol@example.onmicrosoft.com"]}],
                "clients": [{"client_id": CLIENT_ID, "display_name": "kiro-onboard automation", "client_secret": CLIENT_SECRET,
                             "permissions": ["Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All",
                                             "Synchronization.ReadWrite.All", "Group.Read.All", "Directory.Read.All"]}],
                "scim_tokens": [SCIM_TOKEN],
            }),
        );
        assert_eq!(status, 200, "{body}");
        tenant
    }

    pub(crate) fn control(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        http(method, &format!("{}/_control/{path}", self.graph.url()), Some(&body))
    }

    pub(crate) fn state(&self) -> Value {
        http("GET", &format!("{}/_control/state", self.graph.url()), None).1
    }

    pub(crate) fn log(&self) -> Vec<Value> {
        http("GET", &format!("{}/_control/log", self.graph.url()), None).1["value"]
            .as_array()
            .cloned()
            .or_else(|| http("GET", &format!("{}/_control/log", self.graph.url()), None).1.as_array().cloned())
            .unwrap_or_default()
    }

    /// A Graph call made out of band (someone in the portal), with the automation client.
    pub(crate) fn graph(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let form = format!(
            "grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"
        );
        let (status, token) = http_raw(
            "POST",
            &format!("{}/example.onmicrosoft.com/oauth2/v2.0/token", self.graph.url()),
            "application/x-www-form-urlencoded",
            &[],
            &form,
        );
        assert_eq!(status, 200, "{token}");
        let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap());
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        http_raw(
            method,
            &format!("{}/v1.0{path}", self.graph.url()),
            "application/json",
            &[("Authorization", &bearer)],
            &body,
        )
    }

    pub(crate) fn app(&self) -> Value {
        let (_, apps) = self.graph("GET", "/applications", None);
        let apps = apps["value"].as_array().unwrap().clone();
        assert_eq!(apps.len(), 1, "{apps:#?}");
        apps[0].clone()
    }

    pub(crate) fn sp_id(&self) -> String {
        let (_, sps) = self.graph("GET", "/servicePrincipals", None);
        sps["value"][0]["id"].as_str().unwrap().to_owned()
    }

    /// Approves the pending device code as the admin would in a browser; returns the user code.
    pub(crate) fn approve_device_code(&self) -> String {
        let started = std::time::Instant::now();
        let code = loop {
            let (_, codes) = http("GET", &format!("{}/_control/devicecode", self.graph.url()), None);
            let list = codes["value"].as_array().or(codes.as_array()).cloned().unwrap_or_default();
            if let Some(c) = list.first() {
                break c["user_code"].as_str().unwrap().to_owned();
            }
            assert!(started.elapsed().as_secs() < 20, "no device code");
            std::thread::sleep(std::time::Duration::from_millis(100));
        };
        let (s, b) = self.control("POST", "devicecode/approve", json!({"user_code": code}));
        assert_eq!(s, 200, "{b}");
        code
    }

    pub(crate) fn plan_yaml(&self, extra: &str) -> String {
        format!(
            "version: 1\nkiro:\n  profile_region: us-east-1\nentra:\n  tenant: example.onmicrosoft.com\n  app: {{ display_name: Kiro-Entra }}\n  assign_groups: [{GROUP}]\n  client_credentials: {{ client_id: {CLIENT_ID}, client_secret: {{ env: ENTRA_CLIENT_SECRET }} }}\n  provisioning:\n    scim_endpoint: {}\n    scim_token: {{ env: KIRO_SCIM_TOKEN }}\n    provision_on_demand: [{GROUP}]\n{extra}",
            self.scim.url()
        )
    }

    pub(crate) fn test(&self, yaml: &str) -> Test {
        let url = self.graph.url();
        let test = Test::new().plan(yaml);
        let config = test.file_path("config");
        test.env("KIRO_ONBOARD_GRAPH_URL", &url)
            .env("KIRO_ONBOARD_LOGIN_URL", &url)
            .env("KIRO_ONBOARD_CONFIG_DIR", config.to_str().unwrap())
            .env("KIRO_ONBOARD_GRAPH_REPLICATION_WAIT", "60")
            .env("KIRO_ONBOARD_ENTRA_ENTITLEMENT_WAIT", "30")
            .env("ENTRA_CLIENT_SECRET", CLIENT_SECRET)
            .env("KIRO_SCIM_TOKEN", SCIM_TOKEN)
    }
}

pub(crate) fn entra_changes(json: &Value) -> Vec<(String, String)> {
    change_list(json).into_iter().filter(|(a, _)| a.starts_with("entra.")).collect()
}

fn no_token_in(output: &crate::harness::test::Output) {
    assert!(!output.stdout.contains(SCIM_TOKEN) && !output.stderr.contains(SCIM_TOKEN), "the SCIM token leaked");
    assert!(
        !output.stdout.contains(CLIENT_SECRET) && !output.stderr.contains(CLIENT_SECRET),
        "the client secret leaked"
    );
}

pub(crate) fn converge(tenant: &Tenant) -> Test {
    let mut test = tenant.test(&tenant.plan_yaml(""));
    let apply = test.again(["-vvv", "apply", "plan.yaml", "--yes"]);
    no_token_in(&apply);
    apply.success();
    test
}

#[test]
fn entra_empty_tenant_plan_apply_plan_has_nothing_to_do() {
    let tenant = Tenant::start();
    let mut test = tenant.test(&tenant.plan_yaml(""));
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    no_token_in(&plan);
    plan.success();
    let json = plan.json();
    assert_eq!(
        entra_changes(&json),
        [
            ("entra.application[\"Kiro-Entra\"]".to_owned(), "create".to_owned()),
            (format!("entra.assignment[\"{GROUP}\"]"), "create".to_owned()),
            ("entra.provisioning[\"Kiro-Entra\"]".to_owned(), "create".to_owned()),
        ]
    );
    let human = test.again(["plan", "plan.yaml"]);
    human.success().stdout_has("(known after apply)").stdout_has("(sensitive)");

    let apply = test.again(["apply", "plan.yaml", "--yes", "--json"]);
    no_token_in(&apply);
    apply.success();

    // The app is as Kiro's guide wants it.
    let app = tenant.app();
    let app_id = app["appId"].as_str().unwrap();
    assert_eq!(app["identifierUris"], json!([format!("api://{app_id}")]));
    assert_eq!(app["api"]["requestedAccessTokenVersion"], 2);
    let scopes: Vec<&str> =
        app["api"]["oauth2PermissionScopes"].as_array().unwrap().iter().map(|s| s["value"].as_str().unwrap()).collect();
    assert_eq!(scopes, ["codewhisperer:completions", "codewhisperer:conversations"]);
    assert_eq!(
        app["publicClient"]["redirectUris"],
        json!(["kiro://kiro.oauth/callback", "http://localhost/oauth/callback"])
    );
    let state = tenant.state();
    assert_eq!(
        state["appRoleAssignments"].as_array().map(|a| a.len()).unwrap_or(0),
        1,
        "{:#}",
        state["appRoleAssignments"]
    );

    // Provisioning: running, externalId from objectId, the group provisioned on demand.
    let sp = tenant.sp_id();
    let (_, jobs) = tenant.graph("GET", &format!("/servicePrincipals/{sp}/synchronization/jobs"), None);
    assert_eq!(jobs["value"].as_array().unwrap().len(), 1);
    assert_eq!(jobs["value"][0]["schedule"]["state"], "Active");

    // Nothing left to do, and the Kiro console step has both ids.
    let apply_log = tenant.log();
    tenant.control("DELETE", "log", json!({}));
    let again = test.again(["plan", "plan.yaml", "--json", "--detailed-exitcode"]);
    let json = again.json();
    assert!(entra_changes(&json).is_empty(), "{json:#}");
    // Every request of that run, to Graph and to the login endpoint, names the tool and its version.
    let user_agent = concat!("kiro-onboard/", env!("CARGO_PKG_VERSION"));
    let log = tenant.log();
    assert!(log.iter().any(|e| e["path"].as_str().unwrap().contains("/oauth2/")), "no login request");
    assert!(log.iter().any(|e| e["path"].as_str().unwrap().starts_with("/v1.0/")), "no Graph request");
    for entry in &log {
        assert_eq!(entry["user_agent"], user_agent, "{entry}");
    }
    let profile = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "kiro_console.profile[\"us-east-1\"]")
        .unwrap();
    assert_eq!(profile["after"]["Application (client) ID"], app_id);
    assert_eq!(profile["after"]["Directory (tenant) ID"], state["tenant"]["id"]);
    assert!(
        json["changes"].as_array().unwrap().iter().all(|c| c["address"] != "kiro_console.scim_token[\"Kiro-Entra\"]")
    );

    // The SCIM token went to Graph only in Test Connection and the secrets call.
    for entry in &apply_log {
        let path = entry["path"].as_str().unwrap_or_default();
        if entry["scim_token_in_body"] == true {
            assert!(
                path.ends_with("/validateCredentials") || path.ends_with("/synchronization/secrets"),
                "token sent to {path}"
            );
        }
        assert_ne!(entry["scim_token_in_url"], true, "{entry}");
        assert_ne!(entry["scim_token_in_headers"], true, "{entry}");
    }
    assert!(
        apply_log
            .iter()
            .any(|e| e["scim_token_in_body"] == true
                && e["path"].as_str().unwrap().ends_with("/synchronization/secrets"))
    );
    assert!(!apply_log.iter().any(|e| e["method"] == "PATCH" && e["path"].as_str().unwrap().ends_with("/schema")));
}

/// Breaks the tenant with `break_it`, then checks that plan proposes the fix and audit names the
/// finding; apply then converges again.
fn broken_row(break_it: impl Fn(&Tenant), fix_field: &str, finding: &str) {
    let tenant = Tenant::start();
    let mut test = converge(&tenant);
    break_it(&tenant);
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    plan.success();
    let json = plan.json();
    let change = json["changes"].as_array().unwrap().iter().find(|c| c["after"].get(fix_field).is_some());
    assert!(change.is_some(), "no change fixes {fix_field}: {json:#}");
    let audit = test.again(["audit", "plan.yaml", "--json"]);
    audit.code(2);
    let codes: Vec<String> =
        audit.json()["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap().to_owned()).collect();
    assert!(codes.iter().any(|c| c == finding), "{codes:?}");
    test.again(["apply", "plan.yaml", "--yes"]).success();
    let json = test.again(["plan", "plan.yaml", "--json"]).json();
    assert!(entra_changes(&json).is_empty(), "{json:#}");
}

#[test]
fn entra_row_token_version_1() {
    broken_row(
        |t| {
            let id = t.app()["id"].as_str().unwrap().to_owned();
            let (s, b) = t.graph(
                "PATCH",
                &format!("/applications/{id}"),
                Some(json!({"api": {"requestedAccessTokenVersion": 1}})),
            );
            assert_eq!(s, 204, "{b}");
        },
        "access_token_version",
        "entra.access_token_version",
    );
}

#[test]
fn entra_row_missing_scopes() {
    broken_row(
        |t| {
            let app = t.app();
            let id = app["id"].as_str().unwrap().to_owned();
            let mut scopes = app["api"]["oauth2PermissionScopes"].as_array().unwrap().clone();
            for s in &mut scopes {
                s["isEnabled"] = json!(false);
            }
            let (s, b) = t.graph(
                "PATCH",
                &format!("/applications/{id}"),
                Some(json!({"api": {"oauth2PermissionScopes": scopes}})),
            );
            assert_eq!(s, 204, "{b}");
            // Graph's writes are eventually consistent: a PATCH right after another can meet a
            // replica that has not seen it yet. A person in the portal is slower than that.
            t.control("POST", "replicate", json!({}));
            let (s, b) =
                t.graph("PATCH", &format!("/applications/{id}"), Some(json!({"api": {"oauth2PermissionScopes": []}})));
            assert_eq!(s, 204, "{b}");
        },
        "scopes",
        "entra.scopes_missing",
    );
}

#[test]
fn entra_row_redirect_uris() {
    broken_row(
        |t| {
            let id = t.app()["id"].as_str().unwrap().to_owned();
            let (s, b) = t.graph(
                "PATCH",
                &format!("/applications/{id}"),
                Some(json!({"publicClient": {"redirectUris": ["http://localhost/other"]}})),
            );
            assert_eq!(s, 204, "{b}");
        },
        "redirect_uris",
        "entra.redirect_uris_missing",
    );
}

#[test]
fn entra_row_attribute_mapping() {
    broken_row(
        |t| {
            let sp = t.sp_id();
            let (_, jobs) = t.graph("GET", &format!("/servicePrincipals/{sp}/synchronization/jobs"), None);
            let job = jobs["value"][0]["id"].as_str().unwrap().to_owned();
            let path = format!("/servicePrincipals/{sp}/synchronization/jobs/{job}/schema");
            let (_, mut schema) = t.graph("GET", &path, None);
            for rule in schema["synchronizationRules"].as_array_mut().unwrap() {
                for m in rule["objectMappings"].as_array_mut().unwrap() {
                    if m["sourceObjectName"] == "User" {
                        for a in m["attributeMappings"].as_array_mut().unwrap() {
                            if a["targetAttributeName"] == "externalId" {
                                a["source"] = json!({"expression": "[mailNickname]", "name": "mailNickname", "parameters": [], "type": "Attribute"});
                            }
                        }
                    }
                }
            }
            let (s, b) = t.graph("PUT", &path, Some(schema));
            assert_eq!(s, 204, "{b}");
        },
        "mappings",
        "entra.scim_mapping",
    );
}

#[test]
fn entra_row_provisioning_quarantined() {
    broken_row(
        |t| {
            let (s, b) = t.control("POST", "sync/quarantine", json!({}));
            assert_eq!(s, 200, "{b}");
        },
        "started",
        "entra.provisioning_quarantine",
    );
}

#[test]
fn entra_direct_user_and_unnamed_group_assignments_are_findings_and_prune_removes_groups() {
    let tenant = Tenant::start();
    let mut test = converge(&tenant);
    let sp = tenant.sp_id();
    let state = tenant.state();
    let find = |kind: &str, key: &str, value: &str| -> String {
        state[kind].as_array().unwrap().iter().find(|o| o[key] == value).unwrap()["id"].as_str().unwrap().to_owned()
    };
    let role = "18d14569-c3bd-439b-9a66-3a2aee01d14f";
    for principal in [
        find("users", "userPrincipalName", "carol@example.onmicrosoft.com"),
        find("groups", "displayName", "Contractors"),
    ] {
        let (s, b) = tenant.graph(
            "POST",
            &format!("/servicePrincipals/{sp}/appRoleAssignedTo"),
            Some(json!({"principalId": principal, "resourceId": sp, "appRoleId": role})),
        );
        assert_eq!(s, 201, "{b}");
    }
    let audit = test.again(["audit", "plan.yaml", "--json"]);
    audit.code(2);
    let codes: Vec<String> =
        audit.json()["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap().to_owned()).collect();
    assert!(codes.contains(&"entra.user_assigned_directly".to_owned()), "{codes:?}");
    assert!(codes.contains(&"entra.unmanaged_assignment".to_owned()), "{codes:?}");
    // Without prune nothing is removed; with it the unnamed group goes (never the user).
    let json = test.again(["plan", "plan.yaml", "--json"]).json();
    assert!(entra_changes(&json).is_empty(), "{json:#}");
    let mut pruning = tenant.test(&tenant.plan_yaml("  prune_assignments: true\n"));
    let json = pruning.again(["plan", "plan.yaml", "--json"]).json();
    assert_eq!(entra_changes(&json), [("entra.assignment[\"Contractors\"]".to_owned(), "delete".to_owned())]);
    pruning.again(["apply", "plan.yaml", "--yes"]).success();
    let (_, left) = tenant.graph("GET", &format!("/servicePrincipals/{sp}/appRoleAssignedTo"), None);
    assert_eq!(left["value"].as_array().unwrap().len(), 2);
}

#[test]
fn entra_provisioning_never_run_is_a_finding_until_apply_starts_it() {
    let tenant = Tenant::start();
    let mut test = tenant
        .test(&tenant.plan_yaml("").replace("    provision_on_demand", "    start: false\n    provision_on_demand"));
    test.again(["apply", "plan.yaml", "--yes"]).success();
    let audit = test.again(["audit", "plan.yaml", "--json"]);
    let codes: Vec<String> =
        audit.json()["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap().to_owned()).collect();
    assert!(codes.contains(&"entra.provisioning_never_run".to_owned()), "{codes:?}");
    let mut started = tenant.test(&tenant.plan_yaml(""));
    let json = started.again(["plan", "plan.yaml", "--json"]).json();
    assert_eq!(entra_changes(&json), [("entra.provisioning[\"Kiro-Entra\"]".to_owned(), "update".to_owned())]);
    started.again(["apply", "plan.yaml", "--yes"]).success();
    // Only the Kiro console steps, not recorded in this plan, are left for audit to report.
    let audit = started.again(["audit", "plan.yaml", "--json"]);
    audit.code(2);
    let codes: Vec<String> =
        audit.json()["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap().to_owned()).collect();
    assert!(!codes.is_empty() && codes.iter().all(|c| c == "manual_step_pending"), "{codes:?}");
}

#[test]
fn entra_throttling_and_replication_delays_are_survived_without_duplicates() {
    let tenant = Tenant::start();
    tenant.control("POST", "config", json!({"replication_404_count": 2}));
    tenant.control(
        "POST",
        "faults",
        json!({"status": 429, "count": 2, "retry_after": 1, "path_prefix": "/v1.0/applications"}),
    );
    tenant.control("POST", "faults", json!({"status": 503, "count": 1, "path_prefix": "/v1.0/servicePrincipals"}));
    tenant.control(
        "POST",
        "faults",
        json!({"status": 404, "count": 1, "commit": true, "path_prefix": "/v1.0/applicationTemplates", "method": "POST"}),
    );
    let mut test = tenant.test(&tenant.plan_yaml(""));
    let apply = test.again(["apply", "plan.yaml", "--yes"]);
    no_token_in(&apply);
    apply.success();
    let state = tenant.state();
    assert_eq!(state["applications"].as_array().unwrap().len(), 1, "duplicate apps");
    assert_eq!(state["servicePrincipals"].as_array().unwrap().len(), 1);
    let json = test.again(["plan", "plan.yaml", "--json"]).json();
    assert!(entra_changes(&json).is_empty(), "{json:#}");
    assert!(tenant.log().iter().any(|e| e["status"] == 429));
}

#[test]
fn entra_an_apply_stopped_part_way_converges_when_run_again() {
    let tenant = Tenant::start();
    // Provisioning fails half way (the job cannot be created), after app and assignment.
    tenant.control("POST", "faults", json!({"status": 400, "count": 1, "path_prefix": "/v1.0/servicePrincipals/", "method": "POST", "message": "injected"}));
    // The first apply waits for an entitlement its failed assignment never gives, up to this bound
    // (10 s, not the usual 30: the bound is not what this test is about); the second apply's
    // assignment reaches provisioning after the Tenant's 2 s.
    let mut test = tenant.test(&tenant.plan_yaml("")).env("KIRO_ONBOARD_ENTRA_ENTITLEMENT_WAIT", "10");
    let first = test.again(["apply", "plan.yaml", "--yes"]);
    assert_ne!(first.code, 0, "{}", first.stderr);
    test.again(["apply", "plan.yaml", "--yes"]).success();
    let state = tenant.state();
    assert_eq!(state["applications"].as_array().unwrap().len(), 1);
    assert_eq!(state["appRoleAssignments"].as_array().unwrap().len(), 1);
    let json = test.again(["plan", "plan.yaml", "--json"]).json();
    assert!(entra_changes(&json).is_empty(), "{json:#}");
}

#[test]
fn entra_a_rejected_scim_token_is_never_handed_to_graph_and_shows_the_console_step() {
    let tenant = Tenant::start();
    let mut test = tenant.test(&tenant.plan_yaml("")).env("KIRO_SCIM_TOKEN", "entra-scim-wrong-0000000000000000");
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    let json = plan.json();
    let step =
        json["changes"].as_array().unwrap().iter().find(|c| c["address"] == "kiro_console.scim_token[\"Kiro-Entra\"]");
    assert!(step.is_some(), "{json:#}");
    assert!(!plan.stdout.contains("entra-scim-wrong"));
    let apply = test.again(["apply", "plan.yaml", "--yes"]);
    assert_ne!(apply.code, 0);
    assert!(!apply.stdout.contains("entra-scim-wrong") && !apply.stderr.contains("entra-scim-wrong"));
    apply.stdout_has("does not accept the SCIM token");
    assert!(
        tenant
            .log()
            .iter()
            .all(|e| !e["path"].as_str().unwrap().ends_with("/synchronization/secrets") || e["method"] == "GET")
    );
}

#[test]
fn entra_device_code_login_caches_reuses_and_refreshes_the_session() {
    let tenant = Tenant::start();
    let test = tenant.test(&tenant.plan_yaml("").replace(
        &format!("  client_credentials: {{ client_id: {CLIENT_ID}, client_secret: {{ env: ENTRA_CLIENT_SECRET }} }}\n"),
        "",
    ));
    tenant.control("POST", "config", json!({"device_code_interval": 1}));
    let child = test
        .command()
        .args(["login", "entra", "--tenant", "example.onmicrosoft.com"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let code = tenant.approve_device_code();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains(&code) && stderr.contains("https://microsoft.com/devicelogin"), "{stderr}");

    let cache = test.file_path("config").join("entra-tokens.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // Reused: plan works with no new login call.
    let logins_before = tenant.log().iter().filter(|e| e["path"].as_str().unwrap().contains("/oauth2/")).count();
    let plan = test.command().args(["plan", "plan.yaml"]).output().unwrap();
    assert!(plan.status.success(), "{}", String::from_utf8_lossy(&plan.stderr));
    let logins_after = tenant.log().iter().filter(|e| e["path"].as_str().unwrap().contains("/oauth2/")).count();
    assert_eq!(logins_before, logins_after, "the cached token was not reused");
    // Refreshed once expired.
    tenant.control("POST", "tokens/expire", json!({"kind": "access"}));
    let before = std::fs::read_to_string(&cache).unwrap();
    // Our cache still believes the token is valid; make it look expired as time would.
    let mut cached: Value = serde_json::from_str(&before).unwrap();
    cached["sessions"][0]["expires_at"] = json!(0);
    std::fs::write(&cache, cached.to_string()).unwrap();
    let plan = test.command().args(["plan", "plan.yaml"]).output().unwrap();
    assert!(plan.status.success(), "{}", String::from_utf8_lossy(&plan.stderr));
    assert!(
        tenant.log().iter().any(|e| e["path"].as_str().unwrap().ends_with("/oauth2/v2.0/token") && e["status"] == 200)
    );
    assert_ne!(std::fs::read_to_string(&cache).unwrap(), before);
    // logout deletes it.
    let out = test.command().args(["logout"]).output().unwrap();
    assert!(out.status.success());
    assert!(!cache.exists());
}

#[test]
fn entra_the_playbook_converges_against_the_emulator() {
    let tenant = Tenant::start();
    let playbook = std::fs::read_to_string(crate::harness::repo_root().join("playbooks/entra.yaml")).unwrap();
    let yaml = playbook
        .replace("https://scim.us-east-1.amazonaws.com/EXAMPLE-1234/scim/v2", &tenant.scim.url())
        .replace("  # client_credentials:\n", "  client_credentials:\n")
        .replace("  #   client_id: 00000000-0000-0000-0000-000000000000", &format!("    client_id: {CLIENT_ID}"))
        .replace("  #   client_secret:", "    client_secret:");
    let mut test = tenant.test(&yaml);
    test.again(["validate", "plan.yaml"]).success();
    let apply = test.again(["apply", "plan.yaml", "--yes"]);
    no_token_in(&apply);
    apply.success();
    let json = test.again(["plan", "plan.yaml", "--json"]).json();
    assert!(entra_changes(&json).is_empty(), "{json:#}");
    // Only the Kiro console steps are left: the profile (with both ids) and the subscription.
    let manual: Vec<&str> =
        json["changes"].as_array().unwrap().iter().map(|c| c["address"].as_str().unwrap()).collect();
    assert_eq!(manual, ["kiro_console.profile[\"us-east-1\"]", "kiro_console.subscription[\"Kiro Developers\"]"]);
}

#[test]
fn entra_client_credentials_with_a_certificate_sign_in_for_automation() {
    let tenant = Tenant::start();
    let cert_client = "6a2d1f3b-8b62-4a4d-9e1f-7c3b9f5d2e01";
    let (s, b) = tenant.control(
        "POST",
        "seed",
        json!({"clients": [{"client_id": cert_client, "certificate": true, "public_client": false,
                            "permissions": ["Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All",
                                            "Synchronization.ReadWrite.All", "Group.Read.All", "Directory.Read.All"]}]}),
    );
    assert_eq!(s, 200, "{b}");
    let yaml = tenant.plan_yaml("").replace(
        &format!("  client_credentials: {{ client_id: {CLIENT_ID}, client_secret: {{ env: ENTRA_CLIENT_SECRET }} }}\n"),
        &format!("  client_credentials:\n    client_id: {cert_client}\n    certificate: {{ certificate_file: cert.pem, private_key: {{ file: key.pem }} }}\n"),
    );
    let mut test = tenant.test(&yaml);
    let dir = test.file_path("");
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-subj",
            "/CN=kiro-onboard",
            "-days",
            "1",
        ])
        .current_dir(&dir)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    plan.success();
    assert_eq!(entra_changes(&plan.json()).len(), 3);
    let log = tenant.log();
    let token = log.iter().find(|e| e["path"].as_str().unwrap().ends_with("/oauth2/v2.0/token")).unwrap();
    assert_eq!(token["status"], 200);
    // Graph calls were made with the token the assertion got.
    assert!(log.iter().any(|e| e["client_id"] == cert_client), "{log:#?}");
    // The pairing Entra's certificate-credentials page names today: PS256 with x5t#S256.
    let header = &tenant.state()["last_assertion_header"];
    assert_eq!(header["alg"], "PS256", "{header}");
    assert!(header["x5t#S256"].as_str().is_some_and(|t| t.len() == 43), "{header}");
}

/// The canary SCIM token and client secret never reach any surface the tool writes: stdout and
/// stderr (with -vvv logs and --json), the checklist, and a saved plan.
#[test]
fn entra_canary_secrets_reach_no_output_file_or_log() {
    let tenant = Tenant::start();
    let mut test = tenant.test(&tenant.plan_yaml(""));
    for args in [
        vec!["-vvv", "plan", "plan.yaml", "--json", "--checklist", "checklist.md", "--out", "saved.json"],
        vec!["-vvv", "plan", "plan.yaml"],
        vec!["-vvv", "apply", "saved.json", "--json"],
        vec!["-vvv", "audit", "plan.yaml", "--json"],
        vec!["-vvv", "apply", "plan.yaml", "--yes"],
    ] {
        let output = test.again(&args);
        no_token_in(&output);
    }
    for file in ["checklist.md", "saved.json"] {
        let text = std::fs::read_to_string(test.file_path(file)).unwrap();
        assert!(!text.contains(SCIM_TOKEN) && !text.contains(CLIENT_SECRET), "a secret leaked into {file}");
    }
    // A plan that cannot even be loaded must not echo the token either.
    let broken = Test::new()
        .plan(&tenant.plan_yaml("").replace("{ env: KIRO_SCIM_TOKEN }", SCIM_TOKEN))
        .args(["validate", "plan.yaml"])
        .run();
    broken.code(1).stderr_has("not hold the secret itself");
    no_token_in(&broken);
}

/// Kiro's app and service principal in the emulator: exactly one of each, whatever listings show.
fn one_app_and_sp(tenant: &Tenant) -> Value {
    tenant.control("POST", "replicate", json!({}));
    let state = tenant.state();
    let apps = state["applications"].as_array().unwrap();
    assert_eq!(apps.len(), 1, "exactly one Entra app: {apps:#?}");
    assert_eq!(state["servicePrincipals"].as_array().unwrap().len(), 1, "exactly one service principal");
    apps[0].clone()
}

/// A CI job killed (SIGKILL, a job timeout) right after Graph created the app, then the same
/// apply on a fresh runner (another, empty config directory) while Graph still leaves the new app
/// out of listings (the emulator does by default): one app in the end, and the next plan is clean.
#[test]
fn entra_a_rerun_from_a_fresh_runner_while_graph_hides_the_new_app_makes_no_second_app() {
    let tenant = Tenant::start();
    // Longer than the default, so that the rerun surely starts while the app is still unlisted.
    tenant.control("POST", "config", json!({"replication_list_seconds": 8}));
    let first_runner = tenant.test(&tenant.plan_yaml("")).args(["apply", "plan.yaml", "--yes"]);
    let mut child =
        first_runner.command().stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let started = std::time::Instant::now();
    while tenant.state()["applications"].as_array().unwrap().is_empty() {
        assert!(started.elapsed().as_secs() < 30, "the first apply never created the app");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(tenant.state()["applications"].as_array().unwrap().len(), 1, "the app was created before the kill");

    let mut fresh_runner = tenant.test(&tenant.plan_yaml(""));
    assert_ne!(fresh_runner.file_path("config"), first_runner.file_path("config"), "another machine");
    let rerun = fresh_runner.again(["apply", "plan.yaml", "--yes"]);
    if rerun.code != 0 {
        // Both apps were made in the same second (Graph's createdDateTime has whole seconds) and the
        // rerun's own won the tie by object id: the killed run's app, listed only after, is a
        // duplicate the rerun did not plan, so it says so and asks for one more apply, which
        // deletes it (docs/automation.md, "Applies from anywhere").
        rerun.code(1).stdout_has("entra.duplicate_application[").stdout_has("Run apply again");
        fresh_runner.again(["apply", "plan.yaml", "--yes"]).success();
    }
    one_app_and_sp(&tenant);
    let json = fresh_runner.again(["plan", "plan.yaml", "--json"]).json();
    assert!(entra_changes(&json).is_empty(), "{json:#}");
}

/// SIGKILL while apply waits out a long replication delay right after creating the app; the next
/// apply, from another runner while Graph still hides that app from every read, creates its own;
/// once Graph lists both, the next apply deletes the one nothing was configured on and keeps the
/// one Kiro's settings are on.
#[test]
fn entra_an_apply_killed_part_way_converges_without_a_second_app() {
    let tenant = Tenant::start();
    tenant.control("POST", "config", json!({"replication_404_count": 1000}));
    let test = tenant.test(&tenant.plan_yaml("")).args(["apply", "plan.yaml", "--yes"]);
    let mut child =
        test.command().stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(tenant.state()["applications"].as_array().unwrap().len(), 1, "the app was created before the kill");

    tenant.control("POST", "config", json!({"replication_404_count": 0}));
    let graph = tenant.graph.url();
    let settle = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(2));
        http("POST", &format!("{graph}/_control/replicate"), Some(&json!({})));
    });
    let mut other_runner = tenant.test(&tenant.plan_yaml(""));
    other_runner.again(["apply", "plan.yaml", "--yes"]).success();
    settle.join().unwrap();
    other_runner.again(["apply", "plan.yaml", "--yes"]).success();
    let app = one_app_and_sp(&tenant);
    assert!(!app["identifierUris"].as_array().unwrap().is_empty(), "the configured app was kept: {app:#}");
    let json = other_runner.again(["plan", "plan.yaml", "--json"]).json();
    assert!(entra_changes(&json).is_empty(), "{json:#}");
}

/// Two applies at once from two runners: each may create an app while the other's is not listed
/// yet; both agree which one to keep, and the run whose app lost deletes it.
#[test]
fn entra_two_applies_racing_from_two_runners_end_with_one_app() {
    let tenant = Tenant::start();
    // The run whose app was deleted under it meets 404s that look like replication lag and waits
    // them out up to this bound before it stops (which the test allows for): 10 s, not the usual
    // 60, keeps that wait from being most of the test. The 2 s listing lag the race needs is met
    // well within it.
    let racer = || {
        tenant.test(&tenant.plan_yaml("")).env("KIRO_ONBOARD_GRAPH_REPLICATION_WAIT", "10").args([
            "apply",
            "plan.yaml",
            "--yes",
        ])
    };
    let (one, two) = (racer(), racer());
    let a = one.command().stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let b = two.command().stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    // One of them may stop (the app it configured was deleted under it); the next apply finishes.
    if !a.status.success() || !b.status.success() {
        tenant.test(&tenant.plan_yaml("")).args(["apply", "plan.yaml", "--yes"]).run().success();
    }
    let mut check = tenant.test(&tenant.plan_yaml(""));
    let json = check.again(["plan", "plan.yaml", "--json"]).json();
    let dups: Vec<_> = entra_changes(&json).into_iter().filter(|(a, _)| a.contains("duplicate")).collect();
    if !dups.is_empty() {
        check.again(["apply", "plan.yaml", "--yes"]).success();
    }
    one_app_and_sp(&tenant);
    let json = check.again(["plan", "plan.yaml", "--json"]).json();
    assert!(entra_changes(&json).is_empty(), "{json:#}");
}

/// A create replayed after its first attempt landed (the answer was a transient error, the retry
/// meets the assignment) is success, not an error
/// (https://github.com/hashicorp/terraform-provider-azuread/pull/1896).
#[test]
fn entra_a_replayed_assignment_that_already_exists_is_success() {
    let tenant = Tenant::start();
    tenant.control("POST", "config", json!({"new_sp_assignment_transient_count": 0}));
    tenant.control(
        "POST",
        "faults",
        json!({"status": 400, "count": 1, "commit": true, "path_prefix": "/v1.0/servicePrincipals/", "method": "POST",
               "message": "Not a valid reference update."}),
    );
    let mut test = tenant.test(&tenant.plan_yaml(""));
    test.again(["apply", "plan.yaml", "--yes"]).success();
    let log = tenant.log();
    let posts: Vec<u64> = log
        .iter()
        .filter(|e| e["method"] == "POST" && e["path"].as_str().unwrap_or_default().ends_with("/appRoleAssignedTo"))
        .map(|e| e["status"].as_u64().unwrap_or_default())
        .collect();
    assert_eq!(posts, [400, 400], "the landed attempt, then the replay answered 'already exists'");
    assert_eq!(tenant.state()["appRoleAssignments"].as_array().unwrap().len(), 1);
    let json = test.again(["plan", "plan.yaml", "--json"]).json();
    assert!(entra_changes(&json).is_empty(), "{json:#}");
}

/// Entra answers a sign-in to a tenant it does not know with AADSTS90002 "Tenant '…' not found":
/// said as such, with where the name came from, and no advice to sign in to the typo.
#[test]
fn a_sign_in_to_a_tenant_that_does_not_exist_says_so() {
    let tenant = Tenant::start();
    let typo = "exmaple.onmicrosoft.com";
    let plan = tenant.plan_yaml("").replace("tenant: example.onmicrosoft.com", &format!("tenant: {typo}"));
    let mut test = tenant.test(&plan);
    for args in [vec!["plan", "plan.yaml"], vec!["login", "entra", "--tenant", typo]] {
        let out = test.again(&args);
        out.code(1).stderr_has(&format!("Microsoft Entra ID has no tenant `{typo}`")).stderr_has("`entra.tenant`");
        assert!(!out.stderr.contains(&format!("login entra --tenant {typo}")), "{}", out.stderr);
        assert!(!out.stderr.contains("check the client id"), "{}", out.stderr);
    }
}

/// `apply --yes` ends with the console steps still to do, with the Application (client) ID it
/// just created in them (never "(known after apply)"), in text and in `--json`.
#[test]
fn entra_apply_ends_with_the_console_steps_holding_the_client_id_it_created() {
    for json in [false, true] {
        let tenant = Tenant::start();
        let mut test = tenant.test(&tenant.plan_yaml(""));
        let args: &[&str] =
            if json { &["apply", "plan.yaml", "--yes", "--json"] } else { &["apply", "plan.yaml", "--yes"] };
        let apply = test.again(args);
        apply.success();
        let app_id = tenant.app()["appId"].as_str().unwrap().to_owned();
        let steps = if json {
            let steps = apply.json()["manual_steps"].clone();
            assert!(
                steps
                    .as_array()
                    .is_some_and(|s| s.iter().any(|c| c["address"] == "kiro_console.profile[\"us-east-1\"]")),
                "{steps:#}"
            );
            steps.to_string()
        } else {
            apply.stdout.split("Still to do by hand").nth(1).expect("the console steps end the output").to_owned()
        };
        assert!(steps.contains(&app_id), "the client id {app_id} is missing: {steps}");
        assert!(!steps.contains("(known after apply)"), "{steps}");
    }
}

/// A SCIM token that this environment does not have (a scheduled CI job without the secret, an
/// unset variable or a missing file) is said to be absent, as its own finding, in `plan` and
/// `audit`, text and `--json`; never "Generate a SCIM token".
#[test]
fn entra_a_scim_token_absent_from_this_environment_is_said_to_be_absent_not_to_be_generated() {
    let tenant = Tenant::start();
    converge(&tenant);
    let by_file = tenant.plan_yaml("").replace("{ env: KIRO_SCIM_TOKEN }", "{ file: scim-token.txt }");
    for (yaml, missing) in [
        (tenant.plan_yaml(""), "environment variable KIRO_SCIM_TOKEN is not set"),
        (by_file, "file scim-token.txt does not exist"),
    ] {
        let mut test = tenant.test(&yaml).without_env("KIRO_SCIM_TOKEN");
        for command in ["plan", "audit"] {
            let text = test.again([command, "plan.yaml"]);
            assert!(text.code == 0 || text.code == 2, "{command}: {}", text.stderr);
            let all = format!("{}{}", text.stdout, text.stderr);
            assert!(all.contains(&format!("not available here ({missing})")), "{command}: {all}");
            assert!(!all.contains("Generate a SCIM token"), "{command}: {all}");
            let json = test.again([command, "plan.yaml", "--json"]).json();
            let text = json.to_string();
            assert!(
                crate::okta::finding_codes(&json).iter().any(|c| c == "kiro_console.scim_token_not_available"),
                "{json:#}"
            );
            assert!(text.contains(&format!("not available here ({missing})")), "{json:#}");
            assert!(!text.contains("Generate a SCIM token"), "{json:#}");
            let steps: Vec<(String, String)> = change_list(&json);
            assert!(steps.iter().all(|(a, _)| !a.starts_with("kiro_console.scim_token")), "{steps:?}");
        }
    }
}
