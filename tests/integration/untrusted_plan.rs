//! A plan from a stranger (a pull request CI runs `plan` on) may not run programs, send a
//! credential anywhere but to its vendor, or flood and drive the terminal that shows its problems.
//! Each test is one reproduction from the security review, run against loopback only.

use std::net::TcpListener;

use crate::harness::Test;

/// A plan whose SCIM token is read by a program that leaves a mark when it runs.
fn plan_with_a_command(idp_section: &str) -> String {
    format!("version: 1\nkiro: {{ profile_region: us-east-1 }}\n{idp_section}")
}

const ENTRA_WITH_COMMAND: &str = "entra:\n  tenant: example.onmicrosoft.com\n  client_credentials:\n    client_id: 11111111-2222-3333-4444-555555555555\n    client_secret: { env: ENTRA_CLIENT_SECRET }\n  provisioning:\n    scim_endpoint: https://scim.us-east-1.amazonaws.com/abc/scim/v2\n    scim_token: { command: [touch, command-ran] }\n";

#[test]
fn plan_audit_apply_and_signin_run_no_command_named_in_the_plan_unless_allowed_from_outside() {
    let mut test = Test::new()
        .plan(&plan_with_a_command(ENTRA_WITH_COMMAND))
        .without_env("KIRO_ONBOARD_ALLOW_COMMANDS")
        .env("ENTRA_CLIENT_SECRET", "not-a-real-secret");
    for args in [
        vec!["plan", "plan.yaml"],
        vec!["audit", "plan.yaml", "--json"],
        vec!["apply", "plan.yaml", "--yes"],
        vec!["signin", "check", "plan.yaml", "--no-browser"],
    ] {
        let output = test.again(&args);
        output
            .code(1)
            .stderr_has("plan.yaml:10:19: error: `entra.provisioning.scim_token` runs the program `touch` to read a secret; it was not run")
            .stderr_has("KIRO_ONBOARD_ALLOW_COMMANDS=1")
            .stderr_has("--allow-commands")
            .stderr_has("nothing was contacted");
        assert!(!test.file_path("command-ran").exists(), "{args:?} ran the plan's command");
    }
    // `validate` runs nothing and contacts nothing: a command reference is a valid plan.
    test.again(["validate", "plan.yaml"]).success();
    assert!(!test.file_path("command-ran").exists());
    // "0" or any other value is not "allowed".
    test.again_with(["plan", "plan.yaml"], &[("KIRO_ONBOARD_ALLOW_COMMANDS", "0")])
        .code(1)
        .stderr_has("it was not run");
}

#[test]
fn an_admin_allows_commands_from_outside_the_plan_with_the_flag_or_the_variable() {
    let okta = "version: 1\nkiro: { profile_region: us-east-1 }\nokta:\n  org_url: https://example.okta.com\n  credentials: { api_token: { command: [touch, command-ran] } }\n  assign_groups: [Kiro Users]\n";
    let dead_org = format!("http://127.0.0.1:{}", crate::harness::free_port());
    let mut test = Test::new()
        .plan(okta)
        .without_env("KIRO_ONBOARD_ALLOW_COMMANDS")
        .env("KIRO_ONBOARD_OKTA_ORG_URL", &dead_org)
        .env("KIRO_ONBOARD_CALL_TIMEOUT", "2");
    test.again(["plan", "plan.yaml"]).code(1).stderr_has("`okta.credentials.api_token` runs the program `touch`");
    assert!(!test.file_path("command-ran").exists());
    // Allowed: the token is read by the command when the first Okta call needs it.
    test.again(["plan", "plan.yaml", "--allow-commands"]).code(1);
    assert!(test.file_path("command-ran").exists(), "--allow-commands did not let the command run");
    std::fs::remove_file(test.file_path("command-ran")).unwrap();
    test.again_with(["plan", "plan.yaml"], &[("KIRO_ONBOARD_ALLOW_COMMANDS", "1")]).code(1);
    assert!(test.file_path("command-ran").exists(), "KIRO_ONBOARD_ALLOW_COMMANDS=1 did not let the command run");
}

/// A loopback "token endpoint" that answers every request with a 307 to `location`.
fn redirecting_endpoint(location: String) -> u16 {
    use std::io::{Read, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buffer = [0u8; 8192];
            let _ = stream.read(&mut buffer);
            let answer = format!(
                "HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    port
}

#[test]
fn a_token_endpoints_redirect_does_not_carry_the_client_secret_elsewhere() {
    let (attacker, attacker_port) = recording_listener();
    let login = redirecting_endpoint(format!("http://127.0.0.1:{attacker_port}/steal"));
    let yaml = plan_with_a_command(ENTRA_WITH_COMMAND)
        .replace("{ command: [touch, command-ran] }", "{ env: KIRO_SCIM_TOKEN }");
    Test::new()
        .plan(&yaml)
        .env("ENTRA_CLIENT_SECRET", "client-secret-for-nobody")
        .env("KIRO_SCIM_TOKEN", "scim-token-for-nobody")
        .env("KIRO_ONBOARD_LOGIN_URL", &format!("http://127.0.0.1:{login}"))
        .env("KIRO_ONBOARD_GRAPH_URL", &format!("http://127.0.0.1:{login}"))
        .args(["plan", "plan.yaml"])
        .run()
        .code(1);
    assert!(attacker.accept().is_err(), "the token request followed the redirect");
}

/// A listener on loopback that records whether anything connected: the "attacker" host.
fn recording_listener() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

#[test]
fn lookalike_loopback_and_foreign_destinations_are_refused_before_anything_is_contacted() {
    let (listener, port) = recording_listener();
    for (org_url, scim) in [
        (
            format!("http://localhost:{port}@okta.attacker.example"),
            "http://localhost.attacker.example/scim/v2".to_owned(),
        ),
        ("https://okta.com.attacker.example".to_owned(), format!("http://127.0.0.1@localhost:{port}/scim/v2")),
        ("http://acme.okta.com".to_owned(), "https://scim.attacker.example/scim/v2".to_owned()),
    ] {
        let yaml = format!(
            "version: 1\nkiro: {{ profile_region: us-east-1 }}\nokta:\n  org_url: {org_url}\n  credentials: {{ api_token: {{ env: OKTA_API_TOKEN }} }}\n  assign_groups: [Kiro Users]\n  provisioning:\n    scim_endpoint: {scim}\n    scim_token: {{ env: KIRO_SCIM_TOKEN }}\n"
        );
        let output = Test::new().plan(&yaml).args(["validate", "plan.yaml"]).run();
        output
            .code(1)
            .stderr_has(&format!("plan.yaml:4:12: error: `{org_url}` is not an https:// Okta org URL"))
            .stderr_has(&format!("plan.yaml:8:20: error: `{scim}` is not an https:// URL of Kiro's SCIM service"));
    }
    // Entra's SCIM endpoint goes to Graph with the token: plain http to another host is refused.
    let entra = plan_with_a_command(ENTRA_WITH_COMMAND)
        .replace("https://scim.us-east-1.amazonaws.com/abc/scim/v2", "http://scim.attacker.example/scim/v2");
    Test::new()
        .plan(&entra)
        .args(["validate", "plan.yaml"])
        .run()
        .code(1)
        .stderr_has("plain http goes only to this machine");

    // `scim check` with a lookalike: refused, the token never leaves.
    for endpoint in [
        format!("http://localhost.attacker.example:{port}/scim/v2"),
        format!("http://127.0.0.1@localhost:{port}/scim/v2"),
    ] {
        Test::new()
            .env("KIRO_SCIM_TOKEN", "token-for-the-attacker")
            .args(["scim", "check", &endpoint, "--token-env", "KIRO_SCIM_TOKEN"])
            .run()
            .code(1)
            .stderr_has("is not an https:// URL of Kiro's SCIM service");
    }
    assert!(listener.accept().is_err(), "something connected to the attacker's port");

    // A custom domain the admin trusts from outside the plan is accepted.
    let custom = "version: 1\nkiro: { profile_region: us-east-1 }\nokta:\n  org_url: https://login.example.com\n  credentials: { api_token: { env: OKTA_API_TOKEN } }\n  assign_groups: [Kiro Users]\n";
    Test::new()
        .plan(custom)
        .args(["validate", "plan.yaml"])
        .run()
        .code(1)
        .stderr_has("is not an https:// Okta org URL: it is not an Okta org URL")
        .stderr_has("list its host in KIRO_ONBOARD_TRUSTED_HOSTS");
    Test::new()
        .plan(custom)
        .env("KIRO_ONBOARD_TRUSTED_HOSTS", "login.example.com")
        .args(["validate", "plan.yaml"])
        .run()
        .success();
}

#[test]
fn test_only_overrides_name_only_this_machine_and_say_so() {
    for variable in ["KIRO_ONBOARD_GRAPH_URL", "KIRO_ONBOARD_LOGIN_URL", "KIRO_ONBOARD_OKTA_ORG_URL"] {
        for value in
            ["https://attacker.example", "http://localhost.attacker.example", "http://127.0.0.1@attacker.example"]
        {
            Test::new()
                .env(variable, value)
                .args(["login", "entra", "--tenant", "example.onmicrosoft.com"])
                .run()
                .code(1)
                .stderr_has(&format!("{variable}={value} is refused"))
                .stderr_has(&format!("hint: unset {variable}"));
        }
    }
    let port = crate::harness::free_port();
    let output = Test::new()
        .env("KIRO_ONBOARD_LOGIN_URL", &format!("http://127.0.0.1:{port}"))
        .env("KIRO_ONBOARD_CALL_TIMEOUT", "1")
        .args(["login", "entra", "--tenant", "example.onmicrosoft.com"])
        .run();
    output.stderr_has(&format!(
        "note: KIRO_ONBOARD_LOGIN_URL is set: talking to the local test server http://127.0.0.1:{port}/"
    ));
}

#[test]
fn problems_on_a_line_with_a_secret_never_show_it_and_huge_or_hostile_lines_are_cut_and_escaped() {
    let canary = "canary-same-line-secret-5f4e3d";
    let yaml = format!(
        "version: 1\nkiro: {{ profile_region: us-east-1 }}\nentra: {{ tenant: example.onmicrosoft.com, provisioning: {{ scim_endpoint: https://scim.us-east-1.amazonaws.com/a/scim/v2, scim_token: {canary}, bogus: 1 }} }}\n"
    );
    let output = Test::new().plan(&yaml).args(["validate", "plan.yaml"]).run();
    output.code(1).stderr_has("(value not shown)");
    assert!(!output.stderr.contains(canary), "{}", output.stderr);

    // A 4 MiB one-line plan with terminal escapes: a few lines of output, escapes shown escaped.
    let yaml = format!("version: 1\nkiro: {{ profile_region: \"\\e]0;owned\\a{}\" }}\n", "x".repeat(4 * 1024 * 1024));
    let output = Test::new().plan(&yaml).args(["validate", "plan.yaml"]).run();
    output.code(1);
    assert!(output.stderr.len() < 8 * 1024, "{} bytes of stderr", output.stderr.len());
    assert!(!output.stderr.contains('\u{1b}') && !output.stderr.contains('\u{7}'), "{:?}", output.stderr);
}
