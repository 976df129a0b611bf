//! The SCIM hand-off check against a real SCIM 2.0 server (scim2-server): a good token, a bad
//! token, a wrong path, a dead server and one that never answers are told apart, and the token
//! itself never appears anywhere.

use crate::harness::server::LocalServer;
use crate::harness::{Test, free_port};

const CANARY: &str = "scim-canary-7f3e9b1c0d2a4e6f8a9b";

fn scim_server() -> LocalServer {
    LocalServer::scim(CANARY)
}

fn check(endpoint: &str, token: &str, extra: &[&str]) -> crate::harness::test::Output {
    let mut args = vec!["-vvv", "scim", "check", endpoint, "--token-env", "KIRO_SCIM_TOKEN"];
    args.extend_from_slice(extra);
    let output = Test::new().env("KIRO_SCIM_TOKEN", token).args(args).run();
    assert!(
        !output.stdout.contains(token) && !output.stderr.contains(token),
        "the token leaked:\n{}\n{}",
        output.stdout,
        output.stderr
    );
    output
}

#[test]
fn a_good_token_is_accepted_and_shown_only_by_fingerprint() {
    let server = scim_server();
    let output = check(&server.url(), CANARY, &[]);
    output.success().stdout_has("the token is accepted");
    let json = check(&server.url(), CANARY, &["--json"]).json();
    assert_eq!(json["result"], "authenticated");
    assert_eq!(json["token_fingerprint"].as_str().unwrap().len(), 8);
    assert!(output.stdout.contains(json["token_fingerprint"].as_str().unwrap()));
}

#[test]
fn the_scim_check_names_the_tool_in_its_user_agent() {
    let server = scim_server();
    check(&server.url(), CANARY, &[]).success();
    let (status, log) = crate::harness::server::http("GET", &format!("{}/_control/log", server.url()), None);
    assert_eq!(status, 200, "{log}");
    let log = log.as_array().cloned().unwrap_or_default();
    assert!(!log.is_empty(), "no SCIM request was logged");
    let user_agent = concat!("kiro-onboard/", env!("CARGO_PKG_VERSION"));
    assert!(log.iter().all(|e| e["user_agent"] == user_agent), "{log:?}");
}

#[test]
fn a_rejected_token_explains_the_two_token_limit_and_rotation() {
    let server = scim_server();
    let wrong = "scim-canary-wrong-0000000000000000";
    let output = check(&server.url(), wrong, &[]);
    output
        .code(2)
        .stdout_has("the token was rejected (HTTP 401")
        .stderr_has("at most 2 tokens")
        .stderr_has("generate the new one, hand it to your identity provider and check it, then revoke the old one");
    assert_eq!(check(&server.url(), wrong, &["--json"]).json()["result"], "token_rejected");
}

#[test]
fn a_wrong_path_is_not_mistaken_for_a_bad_token() {
    let server = scim_server();
    let output = check(&format!("{}/wrong/scim/v2", server.url()), CANARY, &["--json"]);
    output.code(2);
    assert_eq!(output.json()["result"], "wrong_endpoint", "{}", output.stdout);
    check(&format!("{}/wrong/scim/v2", server.url()), CANARY, &[]).stderr_has("Settings → Identity Management");
}

#[test]
fn a_dead_server_and_a_silent_one_are_network_errors() {
    let dead = format!("http://127.0.0.1:{}", free_port());
    let output = check(&dead, CANARY, &["--json"]);
    output.code(1);
    assert_eq!(output.json()["result"], "unreachable");

    // Accepts connections, never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let started = std::time::Instant::now();
    let output = check(&url, CANARY, &["--timeout", "1", "--json"]);
    output.code(1);
    assert_eq!(output.json()["result"], "timeout");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn tls_failures_are_named_and_clear_text_urls_refused() {
    let server = scim_server();
    let https = server.url().replace("http://", "https://");
    let output = check(&https, CANARY, &["--json"]);
    output.code(1);
    assert_eq!(output.json()["result"], "tls", "{}", output.stdout);
    check("http://scim.example.com/scim/v2", CANARY, &[]).code(1).stderr_has("not an https:// URL");
}
