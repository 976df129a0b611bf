//! The command contract: schema, completions, exit codes, confirmation.

use crate::harness::Test;

#[test]
fn schema_is_json_schema_of_the_plan() {
    let output = Test::new().args(["schema"]).run();
    output.success();
    let schema = output.json();
    assert_eq!(schema["title"], "kiro-onboard plan");
    assert_eq!(schema["additionalProperties"], false);
    assert!(schema["properties"]["identity_center"].is_object());
    assert!(schema["required"].as_array().unwrap().iter().any(|k| k == "version"));
}

#[test]
fn a_man_page_is_generated() {
    Test::new().args(["man"]).run().success().stdout_has(".TH kiro-onboard").stdout_has("validate");
}

#[test]
fn completions_are_generated() {
    Test::new().args(["completions", "bash"]).run().success().stdout_has("kiro-onboard").stdout_has("validate");
}

#[test]
fn usage_errors_exit_nonzero_without_touching_anything() {
    // 2 means "there are changes"; an error must never look like that.
    Test::new().args(["plan"]).run().code(1).stderr_has("Usage");
    Test::new().args(["frobnicate"]).run().code(1);
    Test::new().args(["--help"]).run().success().stdout_has("validate");
}

#[test]
fn broken_pipe_is_not_an_error() {
    use std::io::Read;
    use std::process::Stdio;
    let test = Test::new().args(["schema"]);
    let mut child = test.command().stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    child.wait().unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn init_writes_a_starter_plan_that_validates_and_never_overwrites() {
    let mut test = Test::new();
    test.again(["init", "--idp", "identity-center"]).success().stderr_has("Wrote plan.yaml and plan.schema.json");
    let plan = std::fs::read_to_string(test.file_path("plan.yaml")).unwrap();
    assert!(plan.starts_with("# yaml-language-server: $schema=plan.schema.json"));
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(test.file_path("plan.schema.json")).unwrap()).unwrap();
    assert_eq!(schema["title"], "kiro-onboard plan");
    test.again(["validate", "plan.yaml"]).success();
    test.again(["init", "--idp", "identity-center"])
        .code(1)
        .stderr_has("plan.yaml already exists")
        .stderr_has("--force");
    test.again(["init", "--idp", "identity-center", "--force"]).success();
}

#[test]
fn init_lists_every_kiro_profile_region_from_the_one_regions_table() {
    let requirements =
        std::fs::read_to_string(crate::harness::repo_root().join("templates/requirements.yaml")).unwrap();
    let line = requirements.lines().rfind(|l| l.trim_start().starts_with("profile_regions:")).unwrap();
    let regions: Vec<&str> = line.split_once('[').unwrap().1.trim_end_matches(']').split(',').map(str::trim).collect();
    assert!(regions.len() >= 4, "{regions:?}");
    for idp in ["identity-center", "entra", "okta"] {
        let mut test = Test::new();
        test.again(["init", "--idp", idp]).success();
        let plan = std::fs::read_to_string(test.file_path("plan.yaml")).unwrap();
        let comment = plan.lines().find(|l| l.contains("profile_region:")).unwrap();
        for region in &regions {
            assert!(comment.contains(region), "{idp}: {comment} lacks {region}");
        }
        test.again(["validate", "plan.yaml"]).success();
    }
}

/// A file committed in the repository that the binary generates must match what it generates now.
/// `KIRO_ONBOARD_BLESS=1` rewrites it (review the diff).
fn assert_generated(file: &str, args: &[&str]) -> String {
    let path = crate::harness::repo_root().join(file);
    let output = Test::new().args(args).run();
    output.success();
    if std::env::var_os("KIRO_ONBOARD_BLESS").is_some() {
        std::fs::write(&path, &output.stdout).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == output.stdout,
        "{file} is out of date: run `kiro-onboard {} > {file}` (or KIRO_ONBOARD_BLESS=1)",
        args.join(" ")
    );
    committed
}

#[test]
fn the_committed_schema_is_up_to_date() {
    assert_generated("schema/plan.schema.json", &["schema"]);
}

#[test]
fn the_plan_reference_in_docs_is_generated_from_the_schema() {
    let reference = assert_generated("docs/plan-reference.md", &["schema", "--markdown"]);
    for key in ["`identity_center.users[].email`", "`kms.manage`", "`kiro.console.subscribe[].done`"] {
        assert!(reference.contains(key), "{key} is documented");
    }
}

#[test]
fn logout_explains_which_identity_providers_keep_a_cached_login() {
    let test = Test::new();
    let config = test.file_path("config");
    let config = config.to_str().unwrap();
    let out = Test::new().env("KIRO_ONBOARD_CONFIG_DIR", config).args(["logout", "okta"]).run();
    out.success().stderr_has("kiro-onboard keeps no Okta login").stderr_has("okta.credentials");
    let out = Test::new().env("KIRO_ONBOARD_CONFIG_DIR", config).args(["logout", "identity-center"]).run();
    out.success().stderr_has("kiro-onboard keeps no AWS login").stderr_has("aws sso logout");
    let out = Test::new().env("KIRO_ONBOARD_CONFIG_DIR", config).args(["logout", "entra"]).run();
    out.success().stderr_has("No cached Entra ID sessions to delete");
    let out = Test::new().env("KIRO_ONBOARD_CONFIG_DIR", config).args(["logout"]).run();
    out.success().stderr_has("No cached Entra ID sessions to delete").stderr_has("Okta").stderr_has("AWS");
}

/// Prose wraps at the terminal's width (COLUMNS here): no line of a plan, its manual steps, its
/// status lines or an error is wider, except a single word that cannot break (a URL, an ARN).
#[tokio::test]
async fn output_wraps_at_the_terminal_width() {
    let moto = crate::harness::Moto::start();
    let plan = std::fs::read_to_string(crate::harness::repo_root().join("playbooks/identity-center.yaml")).unwrap();
    let mut test = Test::new().plan(&plan).aws(&moto).env("COLUMNS", "80");
    let unwrapped = Test::new().plan(&plan).aws(&moto).args(["plan", "plan.yaml"]).run();
    assert!(unwrapped.stdout.lines().any(|l| l.chars().count() > 80), "a pipe keeps lines whole");
    for args in [vec!["plan", "plan.yaml"], vec!["apply", "plan.yaml", "--yes"], vec!["plan", "missing.yaml"]] {
        let out = test.again(&args);
        for line in out.stdout.lines().chain(out.stderr.lines()) {
            let breakable = line.trim().contains(' ');
            assert!(line.chars().count() <= 80 || !breakable, "{args:?}: a line over 80 columns:\n{line}");
        }
    }
}
