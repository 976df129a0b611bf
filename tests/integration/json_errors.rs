//! `--json` holds for errors too: every subcommand that takes it prints one JSON document on
//! stdout when it fails (`{"format_version", "command", "error": {"message", "hint"}}`, as
//! docs/automation.md describes), still says the error on stderr, and exits 1.

use crate::harness::Test;

/// Runs `args` offline in a fresh directory and checks the error document of `command`.
#[track_caller]
fn fails_with_one_json_document(command: &str, args: &[&str], message: &str) -> serde_json::Value {
    let run = Test::new().env("KIRO_SCIM_TOKEN", "not-a-real-token").args(args).run();
    run.code(1);
    let document = run.json();
    assert_eq!(document["format_version"], "1", "{document:#}");
    assert_eq!(document["command"], command, "{document:#}");
    let said = document["error"]["message"].as_str().unwrap_or_default();
    assert!(said.contains(message), "{command}: the error is {said:?}, expected it to say {message:?}");
    run.stderr_has(&format!("error: {said}"));
    document
}

#[test]
fn console_done_errors_are_json_with_json() {
    let document = fails_with_one_json_document(
        "console done",
        &["console", "done", "x", "missing.yaml", "--json"],
        "could not read",
    );
    assert!(document["error"]["hint"].as_str().is_some_and(|h| h.contains("kiro-onboard init")), "{document:#}");
}

#[test]
fn scim_check_errors_are_json_with_json() {
    fails_with_one_json_document(
        "scim check",
        &["scim", "check", "http://scim.example.com/scim/v2", "--token-env", "KIRO_SCIM_TOKEN", "--json"],
        "is not an https:// URL",
    );
}

#[test]
fn kms_policy_errors_are_json_with_json() {
    fails_with_one_json_document(
        "kms policy",
        &["kms", "policy", "--instance-arn", "arn:aws:sso:::instance/ssoins-1", "--identity-store-arn", "x", "--json"],
        "the Region is needed",
    );
}

#[test]
fn every_other_json_command_reports_its_errors_as_json() {
    for (command, args, message) in [
        ("validate", &["validate", "missing.yaml", "--json"][..], "could not read missing.yaml"),
        ("plan", &["plan", "missing.yaml", "--json"][..], "could not read missing.yaml"),
        ("apply", &["apply", "missing.yaml", "--json"][..], "could not read missing.yaml"),
        ("audit", &["audit", "missing.yaml", "--json"][..], "could not read missing.yaml"),
        ("signin check", &["signin", "check", "missing.yaml", "--json"][..], "could not read missing.yaml"),
        ("dns verify", &["dns", "verify", "example.com", "--token", " ", "--json"][..], "--token is empty"),
        ("retire", &["retire", "missing.yaml", "--json"][..], "could not read missing.yaml"),
        ("import", &["import", "--idp", "okta", "--group", "x", "--json"][..], "does not read --group"),
    ] {
        fails_with_one_json_document(command, args, message);
    }
}

/// Without `--json` an error is text on stderr only: stdout stays empty.
#[test]
fn without_json_an_error_prints_nothing_on_stdout() {
    let run = Test::new().args(["kms", "policy", "--instance-arn", "a", "--identity-store-arn", "b"]).run();
    run.code(1).stderr_has("error: the Region is needed");
    assert_eq!(run.stdout, "", "{}", run.stdout);
}

/// Arguments clap refuses are an error of the subcommand too: with `--json`, its document.
#[test]
fn refused_arguments_are_json_with_json() {
    for (command, args) in [
        ("plan", &["plan", "plan.yaml", "--json", "--bogus"][..]),
        ("scim check", &["scim", "check", "https://scim.example.com/scim/v2", "--json"][..]),
    ] {
        let run = Test::new().args(args).run();
        run.code(1);
        let document = run.json();
        assert_eq!(document["format_version"], "1", "{document:#}");
        assert_eq!(document["command"], command, "{document:#}");
        let message = document["error"]["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty() && run.stderr.contains(message), "{document:#}\n{}", run.stderr);
    }
}
