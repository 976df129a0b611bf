//! `signin check` against the Graph emulator's authorize and token endpoints: the test plays the
//! browser (the emulator's approve control call signs the user in and returns the redirect), on
//! the loopback listener and with `--no-browser` (the redirect URL pasted on stdin). Each row of
//! Kiro's troubleshooting table is broken out of band and named; the token, the code never leak.
//!
//! Two rows have no out-of-band break here, because none is honest on the real service:
//! - Entra `tenant`: the token's `tid` is the immutable ID of the tenant signed in to, and
//!   `iss` follows from it (learn.microsoft.com/entra/identity-platform/access-token-claims-reference);
//!   no setting changes it after setup. The unit tests of `token_checks` (signin_check.rs) prove
//!   the row with such claims.
//! - Okta `audience`: the Kiro profile is given no audience (the console step pastes the Issuer URL
//!   and Client ID), and which `aud` Kiro accepts is undocumented, so an edited `audiences` cannot
//!   be judged against what the profile holds. `token_checks`' unit tests prove the comparison.
//!
//! Entra's `audience` breaks before any token: an edited Application ID URI makes the resource
//! Kiro's clients ask for unknown (AADSTS500011).

use std::io::Write;
use std::time::Duration;

use serde_json::{Value, json};

use crate::entra::{Tenant, converge};
use crate::harness::server::http;
use crate::harness::test::{Output, Test, Watched, files_under};
use crate::okta::{Org, plan_yaml as okta_plan_yaml};

/// How the redirect gets back to kiro-onboard.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Return {
    /// The browser follows it to the loopback listener.
    Loopback,
    /// The admin pastes it on standard input (`--no-browser`).
    Pasted,
}

/// Runs `args`, waits for the authorize URL on stderr, has `approve` play the signed-in user
/// (it returns the redirect URL, or None when the browser stays on an error page), and returns
/// the redirect to kiro-onboard as `how` says.
pub(crate) fn run_signin(test: &Test, args: &[&str], how: Return, approve: impl Fn(&str) -> Option<String>) -> Output {
    let mut command = test.command_with(args);
    command.env("DISPLAY", "").env("WAYLAND_DISPLAY", "").env("KIRO_ONBOARD_SIGNIN_WAIT", "20");
    let mut run = Watched::spawn(command, |line| {
        (line.starts_with("http") && line.contains("/authorize?")).then(|| line.to_owned())
    });
    let mut stdin = run.stdin();
    if let Ok(url) = run.prompt.recv_timeout(Duration::from_secs(60))
        && let Some(redirect) = approve(&url)
    {
        match how {
            Return::Pasted => {
                let mut input = stdin.take().unwrap();
                writeln!(input, "{redirect}").unwrap();
            }
            Return::Loopback => {
                let (status, _) = http("GET", &redirect.replace("http://localhost:", "http://127.0.0.1:"), None);
                assert_eq!(status, 200, "the loopback listener answers the browser");
            }
        }
    }
    drop(stdin);
    run.finish()
}

fn entra_approve<'a>(tenant: &'a Tenant, user: &'a str) -> impl Fn(&str) -> Option<String> + 'a {
    move |url| {
        let (status, body) = tenant.control("POST", "authorize/approve", json!({"url": url, "user": user}));
        assert_eq!(status, 200, "{body}");
        body["redirect"].as_str().map(str::to_owned)
    }
}

pub(crate) fn checks(output: &Output) -> Vec<(String, bool, String)> {
    let json = output.json();
    assert_eq!(json["command"], "signin check", "{json:#}");
    assert_eq!(json["format_version"], "1", "{json:#}");
    json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (c["id"].as_str().unwrap().to_owned(), c["ok"].as_bool().unwrap(), c["row"].as_str().unwrap().to_owned())
        })
        .collect()
}

/// The check `id` failed naming `row`, and the run exited 2.
#[track_caller]
pub(crate) fn fails_on(output: &Output, id: &str, row: &str) {
    assert_eq!(output.code, 2, "{}\n{}", output.stdout, output.stderr);
    let failed: Vec<_> = checks(output).into_iter().filter(|c| !c.1).collect();
    assert!(failed.iter().any(|c| c.0 == id && c.2.contains(row)), "{failed:?}");
}

const ALICE: &str = "alice@example.onmicrosoft.com";
const ARGS: &[&str] = &["signin", "check", "plan.yaml", "--user", ALICE, "--json"];

#[test]
fn entra_signin_check_passes_on_the_configured_app_and_no_secret_leaks() {
    let tenant = Tenant::start();
    let test = converge(&tenant);
    let output = run_signin(
        &test,
        &["-vvv", "signin", "check", "plan.yaml", "--user", ALICE, "--json"],
        Return::Loopback,
        entra_approve(&tenant, ALICE),
    );
    assert_eq!(output.code, 0, "{}\n{}", output.stdout, output.stderr);
    let ids: Vec<_> = checks(&output).into_iter().map(|c| (c.0, c.1)).collect();
    let all = ["redirect", "assigned", "token_version", "scopes", "audience", "tenant"];
    assert_eq!(ids, all.iter().map(|id| (id.to_string(), true)).collect::<Vec<_>>());
    // The canary: the code and the access token the emulator issued reach no output and no file.
    let (_, issued) = http("GET", &format!("{}/_control/authorize/issued", tenant.graph.url()), None);
    let issued: Vec<String> = issued.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    assert_eq!(issued.len(), 2, "a code and a token: {issued:?}");
    for secret in &issued {
        assert!(!output.stdout.contains(secret.as_str()) && !output.stderr.contains(secret.as_str()), "leaked");
        for entry in files_under(&test.file_path("")) {
            let bytes = std::fs::read(&entry).unwrap_or_default();
            assert!(!String::from_utf8_lossy(&bytes).contains(secret.as_str()), "{} holds a secret", entry.display());
        }
    }
    // The human form names each row too.
    let human = run_signin(&test, &["signin", "check", "plan.yaml"], Return::Loopback, entra_approve(&tenant, ALICE));
    assert_eq!(human.code, 0, "{}", human.stderr);
    assert!(human.stdout.contains("Did not set access token version to 2 in manifest"), "{}", human.stdout);
}

#[test]
fn entra_signin_check_works_over_ssh_with_the_pasted_redirect_url() {
    let tenant = Tenant::start();
    let test = converge(&tenant);
    let mut args = ARGS.to_vec();
    args.push("--no-browser");
    let output = run_signin(&test, &args, Return::Pasted, entra_approve(&tenant, ALICE));
    assert_eq!(output.code, 0, "{}\n{}", output.stdout, output.stderr);
    assert!(output.stderr.contains("paste"), "{}", output.stderr);
    // SSH_CONNECTION alone means paste too: no port forwarding needed.
    let ssh = tenant.test(&tenant.plan_yaml("")).env("SSH_CONNECTION", "10.0.0.2 50000 10.0.0.1 22");
    let output = run_signin(&ssh, ARGS, Return::Pasted, entra_approve(&tenant, ALICE));
    assert_eq!(output.code, 0, "{}\n{}", output.stdout, output.stderr);
}

fn patch_app(tenant: &Tenant, body: Value) {
    let id = tenant.app()["id"].as_str().unwrap().to_owned();
    let (status, answer) = tenant.graph("PATCH", &format!("/applications/{id}"), Some(body));
    assert_eq!(status, 204, "{answer}");
}

#[test]
fn entra_signin_check_names_each_broken_row() {
    let tenant = Tenant::start();
    let test = converge(&tenant);

    // A user in no assigned group: Entra's own refusal, AADSTS50105.
    let carol = "carol@example.onmicrosoft.com";
    let output = run_signin(
        &test,
        &["signin", "check", "plan.yaml", "--user", carol, "--json"],
        Return::Loopback,
        entra_approve(&tenant, carol),
    );
    fails_on(&output, "assigned", "AADSTS50105");
    assert!(
        output.stdout.contains("AADSTS50105: Your administrator has configured the application"),
        "{}",
        output.stdout
    );

    // Access token version 1 (the manifest's null): a v1 token.
    patch_app(&tenant, json!({"api": {"requestedAccessTokenVersion": null}}));
    let output = run_signin(&test, ARGS, Return::Loopback, entra_approve(&tenant, ALICE));
    fails_on(&output, "token_version", "Did not set access token version to 2 in manifest");
    patch_app(&tenant, json!({"api": {"requestedAccessTokenVersion": 2}}));

    // A Kiro scope disabled in Expose an API: AADSTS650053 on the redirect.
    let mut scopes = tenant.app()["api"]["oauth2PermissionScopes"].clone();
    for scope in scopes.as_array_mut().unwrap() {
        if scope["value"] == "codewhisperer:conversations" {
            scope["isEnabled"] = json!(false);
        }
    }
    patch_app(&tenant, json!({"api": {"oauth2PermissionScopes": scopes}}));
    let output = run_signin(&test, ARGS, Return::Loopback, entra_approve(&tenant, ALICE));
    fails_on(&output, "scopes", "Did not set scopes in Expose an API");
    assert!(output.stdout.contains("AADSTS650053"), "{}", output.stdout);
    for scope in scopes.as_array_mut().unwrap() {
        scope["isEnabled"] = json!(true);
    }
    patch_app(&tenant, json!({"api": {"oauth2PermissionScopes": scopes}}));

    // The Application ID URI edited in Expose an API (api://{tenantId}/{appId} is one Entra always
    // allows): Kiro's clients ask for their scopes under api://{appId}, which no longer names the
    // app, so Entra refuses the resource (AADSTS500011) and no token carries the app as `aud`.
    let app_id = tenant.app()["appId"].as_str().unwrap().to_owned();
    let tenant_id = tenant.state()["tenant"]["id"].as_str().unwrap().to_owned();
    patch_app(&tenant, json!({"identifierUris": [format!("api://{tenant_id}/{app_id}")]}));
    let output = run_signin(&test, ARGS, Return::Loopback, entra_approve(&tenant, ALICE));
    fails_on(&output, "audience", "Application ID URI");
    assert!(
        output.stdout.contains(&format!("AADSTS500011: The resource principal named api://{app_id} was not found")),
        "{}",
        output.stdout
    );
    patch_app(&tenant, json!({"identifierUris": [format!("api://{app_id}")]}));

    // The localhost redirect URI removed: Entra's page refuses it (AADSTS50011) before sign-in.
    patch_app(&tenant, json!({"publicClient": {"redirectUris": ["kiro://kiro.oauth/callback"]}}));
    let output = run_signin(&test, ARGS, Return::Loopback, |_| panic!("no sign-in page to approve"));
    fails_on(&output, "redirect", "Did not set redirect URIs");
    assert!(output.stdout.contains("AADSTS50011"), "{}", output.stdout);
}

fn okta_approve<'a>(org: &'a Org, user: &'a str) -> impl Fn(&str) -> Option<String> + 'a {
    move |url| {
        let (status, body) = org.control("POST", "authorize/approve", Some(&json!({"url": url, "user": user})));
        assert_eq!(status, 200, "{body}");
        body["redirect"].as_str().map(str::to_owned)
    }
}

const JDOE: &str = "jdoe@example.com";
const OKTA_ARGS: &[&str] = &["signin", "check", "plan.yaml", "--user", JDOE, "--json"];

fn okta_converged(org: &Org) -> Test {
    let mut test = org.test(&okta_plan_yaml(&org.url(), ""));
    test.again(["apply", "plan.yaml", "--yes"]).success();
    test
}

#[test]
fn okta_signin_check_passes_pasted_or_on_a_registered_port_and_no_secret_leaks() {
    let org = Org::start(&[]);
    let test = okta_converged(&org);
    let output = run_signin(&test, OKTA_ARGS, Return::Loopback, okta_approve(&org, JDOE));
    assert_eq!(output.code, 0, "{}\n{}", output.stdout, output.stderr);
    let ids: Vec<_> = checks(&output).into_iter().map(|c| (c.0, c.1)).collect();
    let all = ["redirect", "assigned", "scopes", "audience", "tenant"];
    assert_eq!(ids, all.iter().map(|id| (id.to_string(), true)).collect::<Vec<_>>());
    // The redirect used one of Kiro's registered ports (Okta compares it exactly).
    let port = output.stdout.split("http://localhost:").nth(1).unwrap().split('/').next().unwrap().to_owned();
    assert!(
        ["3128", "4649", "6588", "8008", "9091", "49153", "50153", "51153", "52153", "53153"].contains(&port.as_str())
    );
    let mut args = OKTA_ARGS.to_vec();
    args.push("--no-browser");
    let pasted = run_signin(&test, &args, Return::Pasted, okta_approve(&org, JDOE));
    assert_eq!(pasted.code, 0, "{}\n{}", pasted.stdout, pasted.stderr);
    let (_, issued) = org.control("GET", "authorize/issued", None);
    let issued: Vec<String> = issued.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    assert_eq!(issued.len(), 4, "two codes and two tokens: {issued:?}");
    for secret in &issued {
        for out in [&output, &pasted] {
            assert!(!out.stdout.contains(secret.as_str()) && !out.stderr.contains(secret.as_str()), "leaked");
        }
        for entry in files_under(&test.file_path("")) {
            let bytes = std::fs::read(&entry).unwrap_or_default();
            assert!(!String::from_utf8_lossy(&bytes).contains(secret.as_str()), "{} holds a secret", entry.display());
        }
    }
}

#[test]
fn okta_signin_check_names_each_broken_row() {
    let org = Org::start(&[]);
    let test = okta_converged(&org);

    // A user in no assigned group.
    let rroe = "rroe@example.com";
    let output = run_signin(
        &test,
        &["signin", "check", "plan.yaml", "--user", rroe, "--json"],
        Return::Loopback,
        okta_approve(&org, rroe),
    );
    fails_on(&output, "assigned", "Add users and groups");
    assert!(output.stdout.contains("User is not assigned to the client application"), "{}", output.stdout);

    // No access policy lets the app in (Kiro's and the default one deleted).
    let (_, policies) = org.api("GET", "/api/v1/authorizationServers/default/policies", None);
    for policy in policies.as_array().unwrap() {
        let id = policy["id"].as_str().unwrap();
        assert_eq!(org.api("DELETE", &format!("/api/v1/authorizationServers/default/policies/{id}"), None).0, 204);
    }
    let output = run_signin(&test, OKTA_ARGS, Return::Loopback, okta_approve(&org, JDOE));
    fails_on(&output, "access_policy", "Add access policies");

    // A Kiro scope deleted from the authorization server.
    crate::okta::delete_conversations_scope(&org);
    let output = run_signin(&test, OKTA_ARGS, Return::Loopback, okta_approve(&org, JDOE));
    fails_on(&output, "scopes", "Create Kiro specific scopes");

    // The localhost redirect URIs removed: Okta's page refuses the redirect before sign-in.
    let (_, apps) = org.api("GET", "/api/v1/apps?q=Kiro&limit=200", None);
    let mut app = apps.as_array().unwrap().iter().find(|a| a["label"] == "Kiro").cloned().unwrap();
    let id = app["id"].as_str().unwrap().to_owned();
    app["settings"]["oauthClient"]["redirect_uris"] = json!(["kiro://kiro.oauth/callback"]);
    let (status, body) = org.api("PUT", &format!("/api/v1/apps/{id}"), Some(&app));
    assert_eq!(status, 200, "{body}");
    let output = run_signin(&test, OKTA_ARGS, Return::Loopback, |_| panic!("no sign-in page to approve"));
    fails_on(&output, "redirect", "Sign-in redirect URIs");
    assert!(
        output.stdout.contains("The 'redirect_uri' parameter must be a Login redirect URI in the client app settings."),
        "{}",
        output.stdout
    );
}

#[test]
fn okta_signin_check_names_the_issuer_the_kiro_profile_was_given() {
    let org = Org::start(&[]);
    let test = okta_converged(&org);
    // The org gets a custom URL domain, and an admin switches the authorization server's issuer to
    // it (Security → API → Authorization Servers → Settings → Issuer: Custom URL).
    let (status, body) = org.control("POST", "config", Some(&json!({"custom_domain": "https://login.example.com"})));
    assert_eq!(status, 200, "{body}");
    let (_, mut server) = org.api("GET", "/api/v1/authorizationServers/default", None);
    server["issuerMode"] = json!("CUSTOM_URL");
    let (status, body) = org.api("PUT", "/api/v1/authorizationServers/default", Some(&server));
    assert_eq!(status, 200, "{body}");
    // A live read now shows the new issuer: the check must compare with the one the profile holds.
    assert_eq!(body["issuer"], "https://login.example.com/oauth2/default", "{body}");
    let output = run_signin(&test, OKTA_ARGS, Return::Loopback, okta_approve(&org, JDOE));
    fails_on(&output, "tenant", "Issuer URL in the Kiro profile");
    assert!(output.stdout.contains("iss is https://login.example.com/oauth2/default"), "{}", output.stdout);
    assert!(output.stdout.contains(&format!("{}/oauth2/default", org.url())), "{}", output.stdout);

    // Dynamic: a request sent to the org domain gets the org domain's issuer, so sign-in works again.
    server["issuerMode"] = json!("DYNAMIC");
    let (status, body) = org.api("PUT", "/api/v1/authorizationServers/default", Some(&server));
    assert_eq!(status, 200, "{body}");
    let output = run_signin(&test, OKTA_ARGS, Return::Loopback, okta_approve(&org, JDOE));
    assert_eq!(output.code, 0, "{}\n{}", output.stdout, output.stderr);
}
