//! `show SAVED`: a saved plan rendered for review in text, Markdown and JSON, offline, with
//! secrets masked; long plans stay readable; a file that is not a saved plan is named as such.

use serde_json::Value;

use crate::entra::{CLIENT_SECRET, SCIM_TOKEN, Tenant};
use crate::harness::Test;

/// A saved plan of the Entra tenant (changes, manual steps with values), and its test directory.
fn saved_plan() -> (Tenant, Test) {
    let tenant = Tenant::start();
    let mut test = tenant.test(&tenant.plan_yaml(""));
    test.again(["plan", "plan.yaml", "--out", "reviewed.json"]).success();
    (tenant, test)
}

fn no_secret(text: &str) {
    assert!(!text.contains(SCIM_TOKEN) && !text.contains(CLIENT_SECRET), "a secret was shown");
}

#[test]
fn show_renders_a_saved_plan_as_text_markdown_and_json_without_secrets() {
    let (_tenant, mut test) = saved_plan();
    // Rendering is offline: the servers' addresses are taken away.
    let text = test.again_with(["show", "reviewed.json"], &[("KIRO_ONBOARD_GRAPH_URL", "http://127.0.0.1:9")]);
    text.success()
        .stdout_has("Saved plan of plan.yaml, made ")
        .stdout_has("Microsoft Entra tenant: example.onmicrosoft.com")
        .stdout_has("Kiro profile Region: us-east-1")
        .stdout_has("entra.application[\"Kiro-Entra\"]")
        .stdout_has("Plan: ");
    no_secret(&text.stdout);

    let markdown = test.again(["show", "reviewed.json", "--format", "markdown"]);
    markdown
        .success()
        .stdout_has("## kiro-onboard plan for `plan.yaml`")
        .stdout_has("| Microsoft Entra tenant | `example.onmicrosoft.com` |")
        .stdout_has("<details open><summary><code>entra.application</code>: 1 create</summary>")
        .stdout_has("| Address | Action | Before → after |")
        .stdout_has("### Manual steps")
        .stdout_has("- [ ] **");
    no_secret(&markdown.stdout);
    // The SCIM token's field is there, masked.
    assert!(markdown.stdout.contains("scim_token: (sensitive)"), "{}", markdown.stdout);

    let json = test.again(["show", "reviewed.json", "--format", "json"]);
    json.success();
    no_secret(&json.stdout);
    let document = json.json();
    assert_eq!(document["format_version"], "1");
    assert_eq!(document["command"], "show");
    assert_eq!(document["plan_file"], "plan.yaml");
    assert_eq!(document["planned_against"]["entra_tenant"], "example.onmicrosoft.com");
    let changes = document["changes"].as_array().unwrap();
    assert_eq!(
        document["summary"]["create"].as_u64().unwrap() as usize,
        changes.iter().filter(|c| c["action"] == "create").count()
    );
    assert!(document["manual_steps"].as_array().unwrap().iter().all(|c| c["manual"].is_object()));
}

#[test]
fn a_secret_put_into_a_saved_plan_by_hand_is_masked() {
    let (_tenant, test) = saved_plan();
    let path = test.file_path("reviewed.json");
    let mut saved: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    saved["steps"][0]["changes"][0]["after"]["client_secret"] = Value::String(CLIENT_SECRET.into());
    std::fs::write(&path, saved.to_string()).unwrap();
    for format in ["text", "markdown", "json"] {
        let output = test.command_with(["show", "reviewed.json", "--format", format]).output().unwrap();
        assert!(output.status.success());
        no_secret(&String::from_utf8_lossy(&output.stdout));
    }
}

#[test]
fn findings_saved_with_the_plan_are_shown_in_every_format() {
    let (_tenant, mut test) = saved_plan();
    let path = test.file_path("reviewed.json");
    let mut saved: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    saved["findings"] = serde_json::json!([{"code": "entra.assignment_not_required", "severity": "warning",
        "address": "entra.application[\"Kiro-Entra\"]", "message": "anyone in the tenant can get a token for Kiro",
        "fix": "set Assignment required to Yes"}]);
    std::fs::write(&path, saved.to_string()).unwrap();
    test.again(["show", "reviewed.json"]).success().stdout_has("warning[entra.assignment_not_required]");
    test.again(["show", "reviewed.json", "--format", "markdown"])
        .success()
        .stdout_has("### Findings")
        .stdout_has("**Warning** `entra.assignment_not_required` at `entra.application[\"Kiro-Entra\"]`");
    let json = test.again(["show", "reviewed.json", "--format", "json"]).json();
    assert_eq!(json["findings"][0]["code"], "entra.assignment_not_required");
}

#[test]
fn a_hundred_changes_stay_readable_in_markdown() {
    let (_tenant, mut test) = saved_plan();
    let path = test.file_path("reviewed.json");
    let mut saved: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let template = saved["steps"][0]["changes"][0].clone();
    let kinds = ["identity_center.user", "identity_center.group", "identity_center.membership"];
    let extra: Vec<Value> = (0..100)
        .map(|i| {
            let mut change = template.clone();
            change["address"] = Value::String(format!("{}[\"object-{i}\"]", kinds[i % 3]));
            change
        })
        .collect();
    saved["steps"][0]["changes"].as_array_mut().unwrap().extend(extra);
    std::fs::write(&path, saved.to_string()).unwrap();
    let markdown = test.again(["show", "reviewed.json", "--format", "markdown"]);
    markdown.success();
    let text = &markdown.stdout;
    // One collapsed group per kind, none open: the comment shows the counts and a few summaries.
    assert!(!text.contains("<details open>"), "{text}");
    let groups = text.matches("<details><summary>").count();
    assert!((4..=8).contains(&groups), "{groups} groups");
    assert!(text.contains("<code>identity_center.user</code>: 34 create"), "{text}");
    // What shows before any group is expanded: the lines outside <details>.
    let mut visible = 0;
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("<details") {
            inside = true;
            visible += 1;
        } else if line == "</details>" {
            inside = false;
        } else if !inside && !line.trim().is_empty() {
            visible += 1;
        }
    }
    assert!(visible < 60, "{visible} lines are visible before expanding anything:\n{text}");
}

#[test]
fn a_file_that_is_not_a_saved_plan_is_a_located_error() {
    let test = Test::new().file("broken.json", "{\n  \"kind\": \"kiro-onboard-saved-plan\",\n  oops\n}\n");
    let output = test.command_with(["show", "broken.json"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("broken.json") && stderr.contains("line 3 column 3"), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
    // A plan file given to `show` is not a saved plan either.
    let test = Test::new().plan("version: 1\nkiro: { profile_region: us-east-1 }\n");
    let output = test.command_with(["show", "plan.yaml"]).output().unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not JSON"));
}

#[test]
fn a_saved_plan_given_to_plan_says_to_use_show_or_apply() {
    let (_tenant, mut test) = saved_plan();
    let output = test.again(["plan", "reviewed.json"]);
    output
        .code(1)
        .stderr_has("reviewed.json is a plan saved by `kiro-onboard plan --out`, not a plan file")
        .stderr_has("hint: review it with `kiro-onboard show reviewed.json`");
    assert!(!output.stderr.contains("missing required key"), "{}", output.stderr);
}
