//! `import --idp okta` against the Okta emulator: a setup made by hand in Okta's console (an OIDC
//! app, Kiro's scopes, a policy and rule of its own names, assigned groups, the SCIM catalog app
//! with a pushed group) becomes a plan on which `plan` proposes no write; a setup that breaks
//! Kiro's requirements gets `fix_settings: false` and findings; not found and ambiguous apps are
//! errors that list the candidates; the API token never appears.

use serde_json::{Value, json};

use crate::harness::Test;
use crate::import::writes;
use crate::okta::{Org, SCIM_TOKEN, TOKEN, finding_codes};

fn redirect_uris() -> Vec<String> {
    let text = std::fs::read_to_string(crate::harness::repo_root().join("templates/requirements.yaml")).unwrap();
    let start = text.find("    okta:\n      # Kiro's Okta guide").expect("the okta requirements");
    text[start..]
        .lines()
        .skip(3)
        .take_while(|l| l.trim_start().starts_with("- "))
        .map(|l| l.trim().trim_start_matches("- ").trim_matches('"').to_owned())
        .collect()
}

fn ok(answer: (u16, Value)) -> Value {
    assert!((200..300).contains(&answer.0), "{answer:?}");
    answer.1
}

fn group_id(org: &Org, name: &str) -> String {
    let (_, groups) = org.api("GET", &format!("/api/v1/groups?q={}", name.replace(' ', "%20")), None);
    groups.as_array().unwrap().iter().find(|g| g["profile"]["name"] == name).unwrap()["id"].as_str().unwrap().to_owned()
}

/// An OIDC native app as an admin makes it in the console; returns its id.
fn console_app(org: &Org, label: &str, grants: &[&str], uris: &[String]) -> String {
    let body = json!({"name": "oidc_client", "label": label, "signOnMode": "OPENID_CONNECT",
        "credentials": {"oauthClient": {"token_endpoint_auth_method": "none", "pkce_required": true}},
        "settings": {"oauthClient": {"application_type": "native", "grant_types": grants, "redirect_uris": uris}}});
    ok(org.api("POST", "/api/v1/apps?activate=true", Some(&body)))["id"].as_str().unwrap().to_owned()
}

/// Kiro's scopes, a policy "Kiro IDE policy" for the app and its rule granting `scopes`, and
/// the group assignment, as Kiro's Okta guide has the admin click them.
fn console_server(org: &Org, app_id: &str, scopes: &[&str]) {
    let kiro = ["codewhisperer:completions", "codewhisperer:conversations"];
    let server = "/api/v1/authorizationServers/default";
    for scope in kiro {
        ok(org.api("POST", &format!("{server}/scopes"), Some(&json!({"name": scope, "consent": "IMPLICIT"}))));
    }
    let policy = json!({"type": "OAUTH_AUTHORIZATION_POLICY", "name": "Kiro IDE policy", "description": "Kiro",
        "conditions": {"clients": {"include": [app_id]}}});
    let policy = ok(org.api("POST", &format!("{server}/policies"), Some(&policy)));
    let mut granted = vec!["openid", "profile", "email", "offline_access"];
    granted.extend(scopes);
    let rule = json!({"type": "RESOURCE_ACCESS", "name": "Kiro IDE rule", "conditions": {
        "grantTypes": {"include": ["authorization_code"]}, "scopes": {"include": granted},
        "people": {"groups": {"include": ["EVERYONE"]}}}});
    ok(org.api("POST", &format!("{server}/policies/{}/rules", policy["id"].as_str().unwrap()), Some(&rule)));
    ok(org.api("PUT", &format!("/api/v1/apps/{app_id}/groups/{}", group_id(org, "Kiro Users")), Some(&json!({}))));
}

/// The SCIM catalog app, set up in the console, with `Kiro Users` assigned and `Kiro Push` pushed.
fn console_scim(org: &Org, base_url: &str) {
    ok(org.control("POST", "seed", Some(&json!({"groups": [{"name": "Kiro Push", "members": ["jdoe@example.com"]}]}))));
    let app = json!({"name": "amazon_aws_sso", "label": "Kiro Provisioning", "signOnMode": "SAML_2_0"});
    let app_id = ok(org.api("POST", "/api/v1/apps?activate=true", Some(&app)))["id"].as_str().unwrap().to_owned();
    ok(org.control(
        "POST",
        "console/provisioning",
        Some(&json!({"app": app_id, "base_url": base_url,
        "token": SCIM_TOKEN, "create_users": true, "update_user_attributes": true, "deactivate_users": true,
        "push_groups": true, "connection_api": "REFLECTS_CONSOLE"})),
    ));
    ok(org.api("PUT", &format!("/api/v1/apps/{app_id}/groups/{}", group_id(org, "Kiro Users")), Some(&json!({}))));
    let push = json!({"sourceGroupId": group_id(org, "Kiro Push"), "targetGroupName": "Kiro Push", "status": "ACTIVE"});
    ok(org.api("POST", &format!("/api/v1/apps/{app_id}/group-push/mappings"), Some(&push)));
}

fn test() -> Test {
    Test::new()
        .env("OKTA_API_TOKEN", TOKEN)
        .env("KIRO_SCIM_TOKEN", SCIM_TOKEN)
        .env("KIRO_ONBOARD_OKTA_SEARCH_WAIT", crate::okta::SEARCH_WAIT)
}

#[test]
fn a_console_made_setup_imports_to_a_plan_that_changes_nothing() {
    let org = Org::start(&[]);
    let app_id = console_app(&org, "Kiro IDE", &["authorization_code", "refresh_token"], &redirect_uris());
    console_server(&org, &app_id, &["codewhisperer:completions", "codewhisperer:conversations"]);
    let scim = "https://scim.us-east-1.amazonaws.com/abc/scim/v2";
    console_scim(&org, scim);
    let mut test = test();
    let url = org.url();
    test.again(["import", "--idp", "okta", "--org-url", &url, "--app-id", &app_id, "--out", "plan.yaml"]).success();
    let written = std::fs::read_to_string(test.file_path("plan.yaml")).unwrap();
    for expected in [
        "app_label: \"Kiro IDE\"",
        "authorization_server: default",
        "- \"Kiro Users\"",
        "app_label: \"Kiro Provisioning\"",
        scim,
        "env: OKTA_API_TOKEN",
        "env: KIRO_SCIM_TOKEN",
        "done: true",
        "- \"Kiro Push\"",
        "# fill in",
    ] {
        assert!(written.contains(expected), "plan lacks {expected:?}:\n{written}");
    }
    assert!(!written.contains("fix_settings"), "nothing is broken:\n{written}");
    assert!(!written.contains("kiro_scopes"), "both scopes:\n{written}");
    assert!(!written.contains("Contractors"), "only the assigned groups:\n{written}");
    assert!(!written.contains("aws:"), "no AWS settings to write:\n{written}");
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    let json = plan.json();
    assert_eq!(writes(&json), Vec::<(String, String)>::new(), "plan after import:\n{}", plan.stdout);

    // `--json`: one document with what was adopted, and no secret.
    let printed = test.again(["import", "--idp", "okta", "--org-url", &url, "--app-id", &app_id, "--json"]);
    let document = printed.success().json();
    assert!(!printed.stdout.contains(TOKEN) && !printed.stdout.contains(SCIM_TOKEN), "a token is in the document");
    assert_eq!(
        (&document["command"], &document["idp"], &document["out"]),
        (&json!("import"), &json!("okta"), &Value::Null)
    );
    assert!(document["plan"].as_str().unwrap_or_default().contains("app_label: \"Kiro IDE\""), "{document:#}");
    assert_eq!(document["plan_data"]["okta"]["app_label"], "Kiro IDE", "{document:#}");
    let adopted = &document["adopted"];
    assert_eq!(adopted["app"]["id"], app_id.as_str(), "{document:#}");
    assert_eq!(adopted["app"]["label"], "Kiro IDE", "{document:#}");
    assert!(adopted["app"]["client_id"].is_string(), "{document:#}");
    assert_eq!(adopted["authorization_server"], "default", "{document:#}");
    assert_eq!(adopted["groups"], json!(["Kiro Users"]), "{document:#}");
    assert_eq!(adopted["provisioning"]["app_label"], "Kiro Provisioning", "{document:#}");
    assert_eq!(adopted["provisioning"]["push_groups"], json!(["Kiro Push"]), "{document:#}");
    assert_eq!(document["fix_settings"], true, "{document:#}");
    assert_eq!(document["remaining_writes"], json!([]), "{document:#}");
    let before = org.state();
    test.again(["apply", "plan.yaml", "--yes"]).success();
    assert_eq!(org.state()["apps"], before["apps"], "apply changed nothing in Okta");
    assert_eq!(org.state()["authorization_servers"], before["authorization_servers"]);
}

#[test]
fn a_broken_console_setup_gets_fix_settings_false_and_findings_until_it_is_removed() {
    let org = Org::start(&[]);
    // Only the kiro:// callback, without the refresh token grant; the rule lacks one of Kiro's scopes.
    let app_id = console_app(&org, "Kiro", &["authorization_code"], &redirect_uris()[..1]);
    console_server(&org, &app_id, &["codewhisperer:completions"]);
    let mut test = test();
    let url = org.url();
    let import =
        test.again(["import", "--idp", "okta", "--org-url", &url, "--app-label", "Kiro", "--out", "plan.yaml"]);
    import.success().stderr_has("fix_settings");
    let written = std::fs::read_to_string(test.file_path("plan.yaml")).unwrap();
    assert!(written.contains("fix_settings: false   # "), "{written}");
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    let json = plan.json();
    assert_eq!(writes(&json), Vec::<(String, String)>::new(), "{}", plan.stdout);
    let codes = finding_codes(&json);
    for code in ["okta.missing_redirect_uris", "okta.refresh_token_off", "okta.rule_missing_scopes"] {
        assert!(codes.iter().any(|c| c == code), "{code} in {codes:?}");
    }
    test.again(["plan", "plan.yaml"]).stdout_has("set okta.fix_settings: true (or remove it)");
    let document =
        test.again(["import", "--idp", "okta", "--org-url", &url, "--app-label", "Kiro", "--json"]).success().json();
    assert_eq!(document["fix_settings"], false, "{document:#}");
    assert_eq!(document["remaining_writes"], json!([]), "{document:#}");
    let found = finding_codes(&document["findings"]);
    for code in ["okta.missing_redirect_uris", "okta.refresh_token_off", "okta.rule_missing_scopes"] {
        assert!(found.iter().any(|c| c == code), "{code} in {found:?}");
    }
    assert!(document["hints"].to_string().contains("okta.fix_settings: false"), "{document:#}");
    let before = org.state();
    test.again(["apply", "plan.yaml", "--yes"]).success();
    assert_eq!(org.state()["apps"], before["apps"], "apply left the app as it is");

    // Without the key, plan proposes the fixes.
    let fixing: Vec<&str> = written.lines().filter(|l| !l.contains("fix_settings")).collect();
    std::fs::write(test.file_path("plan.yaml"), fixing.join("\n")).unwrap();
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    let writes = writes(&plan.json());
    for expected in
        [(r#"okta.application["Kiro"]"#, "update"), (r#"okta.rule["Kiro IDE policy/Kiro IDE rule"]"#, "update")]
    {
        assert!(writes.iter().any(|(a, c)| a == expected.0 && c == expected.1), "{expected:?} in {writes:?}");
    }
}

#[test]
fn an_app_not_found_or_ambiguous_is_an_error_that_lists_the_candidates() {
    let org = Org::start(&[]);
    let first = console_app(&org, "Kiro", &["authorization_code"], &redirect_uris());
    let second = console_app(&org, "Kiro", &["authorization_code"], &redirect_uris());
    console_app(&org, "Other app", &["authorization_code"], &redirect_uris());
    let mut test = test();
    let url = org.url();
    test.again(["import", "--idp", "okta", "--org-url", &url, "--app-label", "Kiro IDE"])
        .code(1)
        .stderr_has("no app \"Kiro IDE\"")
        .stderr_has(&format!("Kiro ({first})"))
        .stderr_has("Other app (")
        .stderr_has("--app-label");
    // An Entra appId (a GUID) given to Okta: the --idp it belongs to.
    test.again(["import", "--idp", "okta", "--org-url", &url, "--app-id", "5f1c0e2a-7a51-4f3c-9d0e-6b2a8e4c1d90"])
        .code(1)
        .stderr_has("--idp entra");
    test.again(["import", "--idp", "okta", "--org-url", &url, "--app-id", "0oanothere00000000001"])
        .code(1)
        .stderr_has("Other app (");
    test.again(["import", "--idp", "okta", "--org-url", &url, "--app-label", "Kiro"])
        .code(1)
        .stderr_has("2 Okta apps are labelled \"Kiro\"")
        .stderr_has(&first)
        .stderr_has(&second)
        .stderr_has("--app-id");
    // By id, a label another app shares cannot be adopted safely (the plan finds apps by label).
    test.again(["import", "--idp", "okta", "--org-url", &url, "--app-id", &first]).code(1).stderr_has("unique");
    // Without the token: what to set.
    Test::new()
        .again(["import", "--idp", "okta", "--org-url", &url, "--app-label", "Other app"])
        .code(1)
        .stderr_has("OKTA_API_TOKEN")
        .stderr_has("hint:");
}

#[test]
fn out_is_never_overwritten_without_force_and_the_token_never_appears() {
    let org = Org::start(&[]);
    let app_id = console_app(&org, "Kiro", &["authorization_code", "refresh_token"], &redirect_uris());
    console_server(&org, &app_id, &["codewhisperer:completions", "codewhisperer:conversations"]);
    let mut test = test();
    let url = org.url();
    let args = ["import", "--idp", "okta", "--org-url", &url, "--app-id", &app_id, "--out", "plan.yaml"];
    let first = test.again(args);
    first.success();
    let written = std::fs::read_to_string(test.file_path("plan.yaml")).unwrap();
    std::fs::write(test.file_path("plan.yaml"), "keep me").unwrap();
    test.again(args).code(1).stderr_has("plan.yaml already exists").stderr_has("--force");
    assert_eq!(std::fs::read_to_string(test.file_path("plan.yaml")).unwrap(), "keep me");
    let mut forced = args.to_vec();
    forced.push("--force");
    let again = test.again(&forced);
    again.success();
    let printed = test.again(["import", "--idp", "okta", "--org-url", &url, "--app-id", &app_id, "-vv"]);
    printed.success();
    for (what, text) in [
        ("the file", written.as_str()),
        ("stdout", first.stdout.as_str()),
        ("stderr", first.stderr.as_str()),
        ("stdout", printed.stdout.as_str()),
        ("stderr", printed.stderr.as_str()),
    ] {
        assert!(!text.contains(TOKEN), "the API token is in {what}");
        assert!(!text.contains(SCIM_TOKEN), "the SCIM token is in {what}");
    }
    assert!(printed.stdout.contains("app_label: Kiro"), "{}", printed.stdout);
}

#[test]
fn a_domain_whose_record_route53_holds_is_imported_with_its_zone() {
    use crate::dns_route53::{block, create_zone, put_txt};
    let org = Org::start(&[]);
    let app_id = console_app(&org, "Kiro", &["authorization_code", "refresh_token"], &redirect_uris());
    console_server(&org, &app_id, &["codewhisperer:completions", "codewhisperer:conversations"]);
    let moto = crate::harness::Moto::start();
    let zone = block(create_zone(&moto, "example.com", false));
    block(put_txt(&moto, &zone, "kiro-app-1.example.com", &["\"kiro-verification=tok-1\""]));
    let server = crate::harness::dns::DnsServer::start();
    let resolver = server.resolver();
    let mut test = test().aws(&moto).env("KIRO_ONBOARD_DNS_PORT", &server.port());
    let url = org.url();
    let args = ["import", "--idp", "okta", "--org-url", &url, "--app-id", &app_id, "--domain", "example.com"];
    let mut args = args.to_vec();
    args.extend(["--resolver", &resolver, "--out", "plan.yaml"]);
    test.again(&args).success();
    let written = std::fs::read_to_string(test.file_path("plan.yaml")).unwrap();
    for expected in ["dns: route53", "token: kiro-verification=tok-1", zone.as_str(), resolver.as_str()] {
        assert!(written.contains(expected), "plan lacks {expected:?}:\n{written}");
    }
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    assert_eq!(writes(&plan.json()), Vec::<(String, String)>::new(), "plan after import:\n{}", plan.stdout);
}
