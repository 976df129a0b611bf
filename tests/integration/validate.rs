//! `validate`: the corpus of bad plans under tests/plans/invalid pins every message, and good
//! plans (including every playbook) validate.

use std::path::Path;

use crate::harness::{Test, repo_root};

/// Each `tests/plans/invalid/NAME.yaml` must fail with exactly `NAME.stderr`.
/// `KIRO_ONBOARD_BLESS=1` rewrites the expected files (review the diff before committing).
#[test]
fn invalid_plan_corpus() {
    let dir = repo_root().join("tests/plans/invalid");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 20, "the corpus should hold at least 20 bad plans, found {}", cases.len());
    let bless = std::env::var_os("KIRO_ONBOARD_BLESS").is_some();
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let mut command = Test::new().command();
        let output = command.current_dir(&dir).args(["validate", &name]).output().expect("run validate");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let expected_path = case.with_extension("stderr");
        if output.status.code() != Some(1) {
            failures.push(format!("{name}: exit code {:?}, expected 1\n{stderr}", output.status.code()));
            continue;
        }
        if !output.stdout.is_empty() {
            failures.push(format!("{name}: validate printed to stdout on failure"));
        }
        if bless {
            std::fs::write(&expected_path, &stderr).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| panic!("{} is missing (run with KIRO_ONBOARD_BLESS=1)", expected_path.display()));
        if stderr != expected {
            failures.push(format!("{name}: stderr differs\n--- expected\n{expected}\n--- actual\n{stderr}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_playbook_validates() {
    let dir = repo_root().join("playbooks");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap().filter_map(Result::ok) {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "yaml") {
            Test::new().args(["validate", path.to_str().unwrap()]).run().success().stderr_has("is valid");
            count += 1;
        }
    }
    assert!(count >= 1);
}

#[test]
fn validate_json_reports_every_problem_with_line_and_column() {
    let output = Test::new()
        .plan("version: 1\nkiro: { profile_region: us-east-1 }\nidentity_center:\n  users:\n    - { user_name: a, given_name: A, family_name: B, email: nope }\n  groups:\n    - { name: g, members: [a, zed] }\n")
        .args(["validate", "plan.yaml", "--json"])
        .run();
    output.code(1);
    let json = output.json();
    assert_eq!(json["format_version"], "1");
    let diagnostics = json["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), 2, "{json:#}");
    assert_eq!(diagnostics[0]["line"], 5);
    assert_eq!(diagnostics[0]["path"], "identity_center.users[0].email");
    assert_eq!(diagnostics[1]["line"], 7);
    assert!(diagnostics[1]["hint"].as_str().unwrap().contains("identity_center.users"));
}

#[test]
fn unreadable_files_are_explained() {
    Test::new()
        .args(["validate", "missing.yaml"])
        .run()
        .code(1)
        .stderr_has("could not read missing.yaml")
        .stderr_has("hint:");
    let test = Test::new().file("binary.yaml", "");
    std::fs::write(test.file_path("binary.yaml"), [b'v', 0xff, 0xfe, b'\n']).unwrap();
    test.args(["validate", "binary.yaml"]).run().code(1).stderr_has("not UTF-8");
    Test::new()
        .file("empty.yaml", "# nothing yet\n")
        .args(["validate", "empty.yaml"])
        .run()
        .code(1)
        .stderr_has("the plan file is empty")
        .stderr_has("kiro-onboard init");
    // A path that never ends is refused by size, not read until memory runs out.
    let started = std::time::Instant::now();
    Test::new().args(["validate", "/dev/zero"]).run().code(1).stderr_has("plans larger than 32 MiB are refused");
    Test::new().args(["apply", "/dev/zero", "--yes"]).run().code(1).stderr_has("plans larger than 32 MiB are refused");
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

#[test]
fn ten_thousand_users_validate_quickly() {
    let test = Test::new().plan(&plan_of_users(10_000)).args(["validate", "plan.yaml"]);
    let started = std::time::Instant::now();
    test.run().success().stderr_has("Identity Center with 10000 users");
    let elapsed = started.elapsed();
    // Release builds take a fraction of this (docs/performance.md); the bound only catches a
    // quadratic slip in a debug build on a loaded 2-core machine.
    assert!(elapsed < std::time::Duration::from_secs(10), "validate took {elapsed:?}");
    let _ = Path::new("");
}

/// A plan of `count` users, all in one group, without a YAML alias (the shape docs/performance.md
/// measures).
fn plan_of_users(count: usize) -> String {
    let mut yaml = String::with_capacity(count * 130);
    yaml.push_str("version: 1\nkiro: { profile_region: us-east-1 }\nidentity_center:\n  users:\n");
    for i in 0..count {
        yaml.push_str(&format!(
            "    - {{ user_name: user{i}, given_name: Given{i}, family_name: Family{i}, email: user{i}@example.com }}\n"
        ));
    }
    yaml.push_str("  groups:\n    - name: kiro_dev_group\n      members:\n");
    for i in 0..count {
        yaml.push_str(&format!("        - user{i}\n"));
    }
    yaml
}

/// 200,000 users and not one alias is a large honest plan, not an alias bomb (the release-build
/// timing is in docs/performance.md).
#[test]
fn two_hundred_thousand_users_without_an_alias_validate() {
    Test::new()
        .plan(&plan_of_users(200_000))
        .args(["validate", "plan.yaml"])
        .run()
        .success()
        .stderr_has("Identity Center with 200000 users");
}

#[test]
fn an_alias_bomb_is_still_refused_as_one() {
    let mut yaml = String::from(
        "version: 1\nkiro: { profile_region: us-east-1 }\nx0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for level in 1..8 {
        yaml.push_str(&format!("x{level}: &x{level} [{}]\n", vec![format!("*x{}", level - 1); 10].join(", ")));
    }
    Test::new().plan(&yaml).args(["validate", "plan.yaml"]).run().code(1).stderr_has("this looks like an alias bomb");
}

#[test]
fn domains_accept_any_case_a_trailing_dot_and_idns() {
    Test::new()
        .plan(concat!(
            "version: 1\nkiro: { profile_region: us-east-1 }\ndomains:\n",
            "  - { name: Example.COM., token: kiro-verification=a }\n",
            "  - { name: bücher.de, token: kiro-verification=b, dns: route53, hosted_zone_id: Z0123456789ABCDEFGHIJ }\n",
            "  - { name: sub.example.co.uk, record: _kiro, token: \"kiro-verification=c\" }\n",
            "resolvers: [\"1.1.1.1\", \"127.0.0.1:5353\", \"[::1]:53\"]\n",
        ))
        .args(["validate", "plan.yaml"])
        .run()
        .success()
        .stderr_has("is valid: 3 domains to verify;");
    let schema = Test::new().args(["schema"]).run().json();
    assert_eq!(schema["$defs"]["DnsProvider"]["enum"], serde_json::json!(["route53", "manual"]));
    assert!(schema["properties"]["resolvers"].is_object());
}

/// `plan`, `apply` and `audit` load plans through the same loader as `validate`: a plan with
/// problems of every kind is refused with all of them in one run, before anything is contacted.
#[test]
fn every_command_refuses_a_plan_with_all_its_problems_in_one_run() {
    let yaml =
        std::fs::read_to_string(repo_root().join("tests/plans/invalid/45-every-kind-of-problem-at-once.yaml")).unwrap();
    for command in [&["plan", "plan.yaml"][..], &["apply", "plan.yaml", "--yes"], &["audit", "plan.yaml"]] {
        Test::new()
            .plan(&yaml)
            .args(command)
            .run()
            .code(1)
            .stderr_has("Kiro does not support profiles in `eu-west-1`")
            .stderr_has("the key `profile_region` appears twice")
            .stderr_has("unknown key `emial`")
            .stderr_has("users rroe and rroe2 have the same email RRoe@example.com")
            .stderr_has("member `bob` of group `kiro_dev_group` is not a user in this plan")
            .stderr_has("`identity_center.groups[0].prune_members` must be true or false")
            .stderr_has("duplicate group `Kiro_Dev_Group`")
            .stderr_has("has 7 problems; nothing was contacted");
    }
    let json = Test::new().plan(&yaml).args(["validate", "plan.yaml", "--json"]).run().json();
    let lines: Vec<u64> = json["diagnostics"].as_array().unwrap().iter().map(|d| d["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [3, 4, 7, 9, 12, 13, 14], "{json:#}");
}

/// A secret pasted as the second of two repeated keys is reported without being shown, and the
/// rest of the plan is still checked.
#[test]
fn a_repeated_secret_key_is_reported_without_its_value() {
    let canary = "canary-repeated-scim-token-5d1e";
    let output = Test::new()
        .plan(&format!(
            "version: 1\nkiro: {{ profile_region: eu-west-1 }}\nentra:\n  tenant: example.onmicrosoft.com\n  provisioning:\n    scim_endpoint: https://scim.example.com/scim/v2\n    scim_token: {{ env: KIRO_SCIM_TOKEN }}\n    scim_token: {canary}\n"
        ))
        .args(["validate", "plan.yaml"])
        .run();
    output
        .code(1)
        .stderr_has("the key `scim_token` appears twice")
        .stderr_has("Kiro does not support profiles in `eu-west-1`");
    assert!(!output.stderr.contains(canary), "{}", output.stderr);
    let json = Test::new()
        .plan(&format!("version: 1\nkiro: {{ profile_region: us-east-1 }}\nentra:\n  tenant: t\n  provisioning:\n    scim_endpoint: https://s\n    scim_token: {{ env: A }}\n    scim_token: {canary}\n"))
        .args(["validate", "plan.yaml", "--json"])
        .run();
    json.code(1);
    assert!(!json.stdout.contains(canary) && !json.stderr.contains(canary), "{}{}", json.stdout, json.stderr);
}

#[test]
fn the_validate_summary_counts_what_each_path_has() {
    let head = "version: 1\nkiro:\n  profile_region: us-east-1\n  console: { subscribe: [{ group: G, tier: pro }] }\n";
    for (body, expected) in [
        (
            "identity_center:\n  users:\n    - { user_name: jdoe, given_name: J, family_name: D, email: j@example.com }\n  groups:\n    - { name: G, members: [jdoe] }\n",
            "is valid: Identity Center with 1 user and 1 group; 1 group to subscribe in Kiro;",
        ),
        (
            "entra:\n  tenant: example.onmicrosoft.com\n  app: { display_name: Kiro-Entra }\n  assign_groups: [G, H]\n",
            "is valid: Entra ID app Kiro-Entra with 2 assigned groups, no provisioning yet; 1 group to subscribe in Kiro;",
        ),
        (
            "okta:\n  org_url: https://example.okta.com\n  credentials: { api_token: { env: OKTA_API_TOKEN } }\n  app_label: Kiro\n  assign_groups: [G]\n",
            "is valid: Okta app Kiro with 1 assigned group, no provisioning yet; 1 group to subscribe in Kiro;",
        ),
    ] {
        let out = Test::new().plan(&format!("{head}{body}")).args(["validate", "plan.yaml"]).run();
        out.success().stderr_has(expected);
        assert!(!out.stderr.contains("(s)"), "{}", out.stderr);
    }
}
