//! `import --idp entra` against the Graph emulator: an app set up by hand (here: by an apply with
//! the automation client, then stripped of kiro-onboard's marker tag, as an app made in the admin
//! center has none) is written as a plan with which `plan` proposes no create, update or delete;
//! an app that breaks Kiro's requirements is written with `fix_settings: false`, its problems
//! findings; names not found or shared are errors listing the candidates.

use serde_json::{Value, json};

use crate::entra::{CLIENT_SECRET, GROUP, SCIM_TOKEN, Tenant, converge, entra_changes};
use crate::harness::Test;
use crate::harness::test::Output;
use crate::okta::finding_codes;

const ROLE: &str = "18d14569-c3bd-439b-9a66-3a2aee01d14f";
const CUSTOM_TEMPLATE: &str = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621";

/// Kiro's app as an admin made it in the portal: set up, group assigned, provisioning running,
/// no kiro-onboard tag; and the admin signed in with `login entra` in the returned test's
/// directory.
fn console_made(tenant: &Tenant) -> Test {
    hand_made(tenant, converge(tenant))
}

/// What `test`'s apply made, stripped of kiro-onboard's marker tag, and the admin signed in.
fn hand_made(tenant: &Tenant, test: Test) -> Test {
    let id = tenant.app()["id"].as_str().unwrap().to_owned();
    let (s, b) = tenant.graph("PATCH", &format!("/applications/{id}"), Some(json!({"tags": []})));
    assert_eq!(s, 204, "{b}");
    tenant.control("POST", "replicate", json!({}));
    sign_in(tenant, &test);
    test
}

/// `login entra` in `test`'s config directory, the device code approved as the admin would.
fn sign_in(tenant: &Tenant, test: &Test) {
    tenant.control("POST", "config", json!({"device_code_interval": 1}));
    let child = test
        .command_with(["login", "entra", "--tenant", "example.onmicrosoft.com"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tenant.approve_device_code();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

fn import(test: &mut Test, app: &[&str], out: &str) -> Output {
    let mut args = vec!["-vvv", "import", "--idp", "entra", "--tenant", "example.onmicrosoft.com"];
    args.extend(app);
    args.extend(["--out", out]);
    test.again(&args)
}

/// The first finding of `code` in a `plan --json`.
pub(crate) fn finding(json: &Value, code: &str) -> Value {
    fn find(value: &Value, code: &str) -> Option<Value> {
        match value {
            Value::Object(map) if map.get("code").and_then(Value::as_str) == Some(code) => Some(value.clone()),
            Value::Object(map) => map.values().find_map(|v| find(v, code)),
            Value::Array(items) => items.iter().find_map(|v| find(v, code)),
            _ => None,
        }
    }
    find(json, code).unwrap_or_else(|| panic!("no {code} finding in {json:#}"))
}

/// The provisioning job's User mapping changed by hand: `externalId` from `mailNickname`
/// (the template's default) instead of `objectId`.
fn map_external_id_from_mail_nickname(tenant: &Tenant) {
    let path = schema_path(tenant);
    let (_, mut schema) = tenant.graph("GET", &path, None);
    for rule in schema["synchronizationRules"].as_array_mut().unwrap() {
        for m in rule["objectMappings"].as_array_mut().unwrap().iter_mut().filter(|m| m["sourceObjectName"] == "User") {
            for a in m["attributeMappings"].as_array_mut().into_iter().flatten() {
                if a["targetAttributeName"] == "externalId" {
                    a["source"] = json!({"expression": "[mailNickname]", "name": "mailNickname", "parameters": [], "type": "Attribute"});
                }
            }
        }
    }
    let (s, b) = tenant.graph("PUT", &path, Some(schema));
    assert_eq!(s, 204, "{b}");
}

fn schema_path(tenant: &Tenant) -> String {
    let sp = tenant.sp_id();
    let (_, jobs) = tenant.graph("GET", &format!("/servicePrincipals/{sp}/synchronization/jobs"), None);
    format!("/servicePrincipals/{sp}/synchronization/jobs/{}/schema", jobs["value"][0]["id"].as_str().unwrap())
}

fn writes(json: &Value) -> Vec<(String, String)> {
    entra_changes(json).into_iter().filter(|(_, a)| matches!(a.as_str(), "create" | "update" | "delete")).collect()
}

fn no_secret_in(output: &Output, written: &str) {
    for secret in [SCIM_TOKEN, CLIENT_SECRET] {
        assert!(!output.stdout.contains(secret) && !output.stderr.contains(secret), "a secret leaked");
        assert!(!written.contains(secret), "a secret was written into the plan");
    }
}

#[test]
fn import_entra_a_console_made_app_with_groups_and_provisioning_plans_no_change() {
    let tenant = Tenant::start();
    let mut test = console_made(&tenant);
    // A user assigned directly: a hint, not written.
    let sp = tenant.sp_id();
    let state = tenant.state();
    let carol = state["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["userPrincipalName"] == "carol@example.onmicrosoft.com")
        .unwrap()["id"]
        .clone();
    let (s, b) = tenant.graph(
        "POST",
        &format!("/servicePrincipals/{sp}/appRoleAssignedTo"),
        Some(json!({"principalId": carol, "resourceId": sp, "appRoleId": ROLE})),
    );
    assert_eq!(s, 201, "{b}");

    let out = import(&mut test, &["--app-name", "Kiro-Entra"], "adopted.yaml");
    out.success().stderr_has("assigned to the app directly");
    let written = std::fs::read_to_string(test.file_path("adopted.yaml")).unwrap();
    no_secret_in(&out, &written);
    for expected in [
        "tenant: example.onmicrosoft.com",
        "display_name: Kiro-Entra",
        &format!("- \"{GROUP}\""),
        &tenant.scim.url(),
        "env: KIRO_SCIM_TOKEN",
        "fill in",
        "start: true",
        "profile_created: false",
    ] {
        assert!(written.contains(expected), "`{expected}` missing:\n{written}");
    }
    assert!(!written.contains("fix_settings"), "{written}");
    assert!(!written.contains("carol"), "{written}");
    assert!(!written.contains("aws:"), "no AWS settings to write:\n{written}");

    let plan = test.again(["plan", "adopted.yaml", "--json"]);
    no_secret_in(&plan, "");
    let json = plan.json();
    assert!(writes(&json).is_empty(), "{json:#}");
    assert!(finding_codes(&json).contains(&"entra.user_assigned_directly".to_owned()), "{json:#}");

    // `--json`: the same import as one document, the app's appId and the hints in it.
    let printed = test.again([
        "import",
        "--idp",
        "entra",
        "--tenant",
        "example.onmicrosoft.com",
        "--app-name",
        "Kiro-Entra",
        "--json",
    ]);
    no_secret_in(&printed, "");
    let document = printed.success().json();
    assert_eq!(
        (&document["command"], &document["idp"], &document["out"]),
        (&json!("import"), &json!("entra"), &Value::Null)
    );
    assert!(document["plan"].as_str().unwrap_or_default().contains("display_name: Kiro-Entra"), "{document:#}");
    assert_eq!(document["plan_data"]["entra"]["app"]["display_name"], "Kiro-Entra", "{document:#}");
    let adopted = &document["adopted"];
    assert_eq!(adopted["app"], json!({"app_id": tenant.app()["appId"], "display_name": "Kiro-Entra"}), "{document:#}");
    assert_eq!(adopted["groups"], json!([GROUP]), "{document:#}");
    assert_eq!(adopted["provisioning"]["scim_endpoint"], tenant.scim.url(), "{document:#}");
    assert_eq!(adopted["provisioning"]["start"], true, "{document:#}");
    assert_eq!(document["fix_settings"], true, "{document:#}");
    assert_eq!(document["remaining_writes"], json!([]), "{document:#}");
    assert!(finding_codes(&document["findings"]).contains(&"entra.user_assigned_directly".to_owned()), "{document:#}");
    let hints = document["hints"].to_string();
    assert!(hints.contains("assigned to the app directly"), "{document:#}");
    assert!(!printed.stderr.contains("hint:"), "{}", printed.stderr);
}

#[test]
fn import_entra_an_app_that_breaks_kiros_requirements_is_adopted_with_fix_settings_false() {
    let tenant = Tenant::start();
    let mut test = console_made(&tenant);
    let app = tenant.app();
    let (id, app_id) = (app["id"].as_str().unwrap().to_owned(), app["appId"].as_str().unwrap().to_owned());
    // Token version 1 and the conversations scope missing (disabled first, as Graph requires).
    let mut scopes = app["api"]["oauth2PermissionScopes"].as_array().unwrap().clone();
    for s in &mut scopes {
        if s["value"] == "codewhisperer:conversations" {
            s["isEnabled"] = json!(false);
        }
    }
    let path = format!("/applications/{id}");
    let (s, b) = tenant.graph("PATCH", &path, Some(json!({"api": {"oauth2PermissionScopes": scopes}})));
    assert_eq!(s, 204, "{b}");
    tenant.control("POST", "replicate", json!({}));
    scopes.retain(|s| s["value"] != "codewhisperer:conversations");
    let api = json!({"api": {"oauth2PermissionScopes": scopes, "requestedAccessTokenVersion": 1}});
    let (s, b) = tenant.graph("PATCH", &path, Some(api));
    assert_eq!(s, 204, "{b}");
    // And anyone in the tenant may sign in (Properties → Assignment required? = No).
    let sp = format!("/servicePrincipals/{}", tenant.sp_id());
    let (s, b) = tenant.graph("PATCH", &sp, Some(json!({"appRoleAssignmentRequired": false})));
    assert_eq!(s, 204, "{b}");
    tenant.control("POST", "replicate", json!({}));

    let out = import(&mut test, &["--app-id", &app_id], "adopted.yaml");
    out.success().stderr_has("fix_settings: false");
    let written = std::fs::read_to_string(test.file_path("adopted.yaml")).unwrap();
    no_secret_in(&out, &written);
    assert!(written.contains("fix_settings: false   # "), "{written}");

    let json = test.again(["plan", "adopted.yaml", "--json"]).json();
    assert!(writes(&json).is_empty(), "{json:#}");
    let codes = finding_codes(&json);
    for code in ["entra.access_token_version", "entra.scopes_missing", "entra.assignment_not_required"] {
        assert!(codes.iter().any(|c| c == code), "{code}: {codes:?}");
    }
    assert!(
        json.to_string().contains("set entra.app.fix_settings: true (or remove it) to let apply fix this"),
        "{json:#}"
    );
    let document = test
        .again(["import", "--idp", "entra", "--tenant", "example.onmicrosoft.com", "--app-id", &app_id, "--json"])
        .success()
        .json();
    assert_eq!(document["fix_settings"], false, "{document:#}");
    assert_eq!(document["remaining_writes"], json!([]), "{document:#}");
    let codes = finding_codes(&document["findings"]);
    assert!(codes.iter().any(|c| c == "entra.access_token_version"), "{codes:?}");
    assert!(document["hints"].to_string().contains("fix_settings: false"), "{document:#}");

    // An apply that has something else to do (another group) still leaves the app as it is.
    let more = written.replace("  assign_groups:", "  assign_groups:\n    - Contractors");
    std::fs::write(test.file_path("adopted.yaml"), &more).unwrap();
    let apply = test.again(["apply", "adopted.yaml", "--yes"]);
    assert!(apply.code == 0 || apply.code == 2, "{}\n{}", apply.stdout, apply.stderr);
    let after = tenant.app();
    assert_eq!(after["api"]["requestedAccessTokenVersion"], 1, "{after:#}");
    let (_, sp_now) = tenant.graph("GET", &sp, None);
    assert_eq!(sp_now["appRoleAssignmentRequired"], false, "{sp_now:#}");
    let (_, assigned) = tenant.graph("GET", &format!("{sp}/appRoleAssignedTo"), None);
    assert_eq!(assigned["value"].as_array().unwrap().len(), 2, "Contractors assigned: {assigned:#}");

    // Without the key, plan proposes the fix.
    let unfixed: String = more.lines().filter(|l| !l.contains("fix_settings")).map(|l| format!("{l}\n")).collect();
    std::fs::write(test.file_path("adopted.yaml"), unfixed).unwrap();
    let json = test.again(["plan", "adopted.yaml", "--json"]).json();
    assert_eq!(writes(&json), [("entra.application[\"Kiro-Entra\"]".to_owned(), "update".to_owned())], "{json:#}");
}

#[test]
fn import_entra_names_not_found_or_shared_are_errors_listing_the_candidates_and_out_is_not_overwritten() {
    let tenant = Tenant::start();
    let mut test = console_made(&tenant);
    let app_id = tenant.app()["appId"].as_str().unwrap().to_owned();

    let out = import(&mut test, &["--app-name", "Kiro-Typo"], "adopted.yaml");
    out.code(1).stderr_has("no app registration named `Kiro-Typo`").stderr_has(&format!("Kiro-Entra ({app_id})"));
    let out = import(&mut test, &["--app-id", "00000000-0000-0000-0000-000000000001"], "adopted.yaml");
    out.code(1).stderr_has("no app registration with appId").stderr_has(&format!("Kiro-Entra ({app_id})"));
    assert!(!test.file_path("adopted.yaml").exists());

    // --out is never overwritten without --force.
    std::fs::write(test.file_path("adopted.yaml"), "mine\n").unwrap();
    import(&mut test, &["--app-name", "Kiro-Entra"], "adopted.yaml").code(1).stderr_has("--force");
    assert_eq!(std::fs::read_to_string(test.file_path("adopted.yaml")).unwrap(), "mine\n");
    let mut args = vec!["import", "--idp", "entra", "--tenant", "example.onmicrosoft.com", "--app-name", "Kiro-Entra"];
    args.extend(["--out", "adopted.yaml", "--force"]);
    test.again(&args).success();
    assert!(std::fs::read_to_string(test.file_path("adopted.yaml")).unwrap().contains("display_name: Kiro-Entra"));

    // A second app of that name, made in the portal: the name is ambiguous, and adopting either
    // by appId is refused (a plan finds its app by name, and apply would delete the pristine one).
    let (s, b) = tenant.graph(
        "POST",
        &format!("/applicationTemplates/{CUSTOM_TEMPLATE}/instantiate"),
        Some(json!({"displayName": "Kiro-Entra"})),
    );
    assert_eq!(s, 201, "{b}");
    let other = b["application"]["appId"].as_str().unwrap().to_owned();
    tenant.control("POST", "replicate", json!({}));
    let out = import(&mut test, &["--app-name", "Kiro-Entra"], "other.yaml");
    out.code(1)
        .stderr_has("2 app registrations are named `Kiro-Entra`")
        .stderr_has(&app_id)
        .stderr_has(&other)
        .stderr_has("--app-id");
    let out = import(&mut test, &["--app-id", &app_id], "other.yaml");
    out.code(1).stderr_has("also named `Kiro-Entra`").stderr_has(&other).stderr_has("rename");
    assert!(!test.file_path("other.yaml").exists());
    assert_eq!(tenant.state()["applications"].as_array().unwrap().len(), 2, "import deleted nothing");
}

#[test]
fn import_entra_with_a_domain_route53_holds_writes_the_zone_and_plans_no_change() {
    use crate::dns_route53::{block, create_zone, put_txt};
    let tenant = Tenant::start();
    let moto = crate::harness::Moto::start();
    let zone = block(create_zone(&moto, "example.com", false));
    block(put_txt(&moto, &zone, "kiro-app-1.example.com", &["\"kiro-verification=tok-1\""]));
    let server = crate::harness::dns::DnsServer::start();
    let resolver = server.resolver();
    let mut test = console_made(&tenant).aws(&moto).env("KIRO_ONBOARD_DNS_PORT", &server.port());
    let domain = ["--app-name", "Kiro-Entra", "--domain", "example.com", "--resolver", &resolver];
    let out = import(&mut test, &domain, "adopted.yaml");
    out.success();
    let written = std::fs::read_to_string(test.file_path("adopted.yaml")).unwrap();
    for expected in ["dns: route53", "token: kiro-verification=tok-1", zone.as_str(), resolver.as_str()] {
        assert!(written.contains(expected), "`{expected}` missing:\n{written}");
    }
    let json = test.again(["plan", "adopted.yaml", "--json"]).json();
    let writes: Vec<_> = crate::harness::test::change_list(&json)
        .into_iter()
        .filter(|(_, a)| matches!(a.as_str(), "create" | "update" | "delete"))
        .collect();
    assert!(writes.is_empty(), "{json:#}");
}

#[test]
fn import_entra_a_wrong_attribute_mapping_is_adopted_with_fix_settings_false_and_is_a_finding() {
    let tenant = Tenant::start();
    let mut test = console_made(&tenant);
    map_external_id_from_mail_nickname(&tenant);

    let out = import(&mut test, &["--app-name", "Kiro-Entra"], "adopted.yaml");
    out.success().stderr_has("fix_settings: false");
    assert!(!out.stderr.contains("plan would still change"), "{}", out.stderr);
    let written = std::fs::read_to_string(test.file_path("adopted.yaml")).unwrap();
    assert!(written.contains("fix_settings: false   # "), "{written}");

    let json = test.again(["plan", "adopted.yaml", "--json"]).json();
    assert!(writes(&json).is_empty(), "{json:#}");
    let mapping = finding(&json, "entra.scim_mapping");
    let text = mapping.to_string();
    for expected in
        ["mailNickname", "set entra.app.fix_settings: true (or remove it) to let apply fix this", "Provisioning"]
    {
        assert!(text.contains(expected), "`{expected}` missing: {mapping:#}");
    }

    // An apply with other provisioning work (restarting a quarantined job) leaves the mapping.
    let (s, b) = tenant.control("POST", "sync/quarantine", json!({}));
    assert_eq!(s, 200, "{b}");
    let json = test.again(["plan", "adopted.yaml", "--json"]).json();
    let fix = finding(&json, "entra.provisioning_quarantine")["fix"].as_str().unwrap().to_owned();
    assert!(fix.contains("apply, which saves the plan's SCIM credentials again and restarts the job"), "{fix}");
    let restart = json["changes"].as_array().unwrap().iter().find(|c| c["after"].get("started").is_some());
    assert!(restart.is_some_and(|c| c["after"].get("scim_token").is_some()), "{json:#}");
    let apply = test.again(["apply", "adopted.yaml", "--yes"]);
    assert!(apply.code == 0 || apply.code == 2, "{}\n{}", apply.stdout, apply.stderr);
    let (_, schema) = tenant.graph("GET", &schema_path(&tenant), None);
    assert!(schema.to_string().contains("[mailNickname]"), "the mapping was changed: {schema:#}");

    // Without the key, plan proposes to fix the mapping.
    let unfixed: String = written.lines().filter(|l| !l.contains("fix_settings")).map(|l| format!("{l}\n")).collect();
    std::fs::write(test.file_path("adopted.yaml"), unfixed).unwrap();
    let json = test.again(["plan", "adopted.yaml", "--json"]).json();
    assert_eq!(writes(&json), [("entra.provisioning[\"Kiro-Entra\"]".to_owned(), "update".to_owned())], "{json:#}");
    assert!(json.to_string().contains("mappings"), "{json:#}");
}

#[test]
fn import_entra_a_job_that_never_ran_is_adopted_stopped_and_its_finding_says_how_to_start_it() {
    let tenant = Tenant::start();
    let stopped = tenant.plan_yaml("").replace("    provision_on_demand", "    start: false\n    provision_on_demand");
    let mut made = tenant.test(&stopped);
    made.again(["apply", "plan.yaml", "--yes"]).success();
    let mut test = hand_made(&tenant, made);

    let out = import(&mut test, &["--app-name", "Kiro-Entra"], "adopted.yaml");
    out.success();
    assert!(!out.stderr.contains("plan would still change"), "{}", out.stderr);
    let written = std::fs::read_to_string(test.file_path("adopted.yaml")).unwrap();
    assert!(written.contains("start: false"), "{written}");
    let json = test.again(["plan", "adopted.yaml", "--json"]).json();
    assert!(writes(&json).is_empty(), "{json:#}");
    let fix = finding(&json, "entra.provisioning_never_run")["fix"].as_str().unwrap().to_owned();
    assert!(!fix.contains("apply starts the job"), "apply does not start it with start: false: {fix}");
    assert!(fix.contains("entra.provisioning.start: true") && fix.contains("Start provisioning"), "{fix}");

    // In quarantine, with start: false: apply does not restart it either.
    let (s, b) = tenant.control("POST", "sync/quarantine", json!({}));
    assert_eq!(s, 200, "{b}");
    let json = test.again(["plan", "adopted.yaml", "--json"]).json();
    assert!(writes(&json).is_empty(), "{json:#}");
    let fix = finding(&json, "entra.provisioning_quarantine")["fix"].as_str().unwrap().to_owned();
    assert!(!fix.contains("then apply") && fix.contains("entra.provisioning.start: true"), "{fix}");
}

#[test]
fn import_entra_a_job_without_credentials_is_adopted_with_fix_settings_false_and_is_a_finding() {
    let tenant = Tenant::start();
    let yaml = tenant.plan_yaml("");
    let mut made = tenant.test(&yaml[..yaml.find("  provisioning:").unwrap()]);
    made.again(["apply", "plan.yaml", "--yes"]).success();
    // The job made through Graph without its Admin Credentials.
    let jobs = format!("/servicePrincipals/{}/synchronization/jobs", tenant.sp_id());
    // A new service principal's first synchronization calls answer 403, then 409.
    let created =
        (0..10).map(|_| tenant.graph("POST", &jobs, Some(json!({"templateId": "scim"})))).find(|(s, _)| *s == 201);
    assert!(created.is_some(), "the job was not created");
    let mut test = hand_made(&tenant, made);

    let out = import(&mut test, &["--app-name", "Kiro-Entra"], "adopted.yaml");
    out.success().stderr_has("fix_settings: false");
    assert!(!out.stderr.contains("plan would still change"), "{}", out.stderr);
    let written = std::fs::read_to_string(test.file_path("adopted.yaml")).unwrap();
    assert!(written.contains("fix_settings: false   # ") && written.contains("FILL-IN"), "{written}");
    let json = test.again(["plan", "adopted.yaml", "--json"]).json();
    assert!(writes(&json).is_empty(), "{json:#}");
    let fix = finding(&json, "entra.scim_credentials_missing")["fix"].as_str().unwrap().to_owned();
    assert!(fix.contains("set entra.app.fix_settings: true") && fix.contains("Admin Credentials"), "{fix}");
}

#[test]
fn import_entra_a_plain_app_registration_is_refused_with_what_to_do_and_no_file() {
    let tenant = Tenant::start();
    let (plain, _) = crate::entra_plain_registration::plainly_registered(&tenant, "Kiro-Entra");
    let app_id = plain["appId"].as_str().unwrap().to_owned();
    let mut test = tenant.test(&tenant.plan_yaml(""));
    sign_in(&tenant, &test);

    for app in [["--app-id", app_id.as_str()], ["--app-name", "Kiro-Entra"]] {
        let out = import(&mut test, &app, "adopted.yaml");
        out.code(1)
            .stderr_has(&format!("the app `Kiro-Entra` ({app_id}) was not made from the Custom (non-gallery)"))
            .stderr_has("hint:")
            .stderr_has("Enterprise applications → New application → Create your own application")
            .stderr_has("kiro-onboard apply");
        assert!(!test.file_path("adopted.yaml").exists(), "{app:?}: a file was written");
    }
    let apps = tenant.state()["applications"].as_array().unwrap().clone();
    assert_eq!(apps.len(), 1, "import created or deleted nothing: {apps:#?}");
}
