//! AWS mistakes an admin makes in the first hour, each said in one sentence with a hint, in terms
//! of their own files: a missing profile, an SSO profile never signed in, expired credentials, no
//! Region, a Region that does not exist. The SDK's own account only with `-v`.

use serde_json::json;

use crate::harness::{FaultProxy, Moto, Test};

const IDENTITY_CENTER: &str = "identity_center:\n  groups:\n    - { name: kiro_dev_group }\n";

fn plan(aws: &str) -> String {
    format!("version: 1\nkiro: {{ profile_region: us-east-1 }}\n{aws}{IDENTITY_CENTER}")
}

const CONFIG: &str = "[profile admin]\nregion = us-east-1\n\n[profile sso]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Admin\nregion = us-east-1\n\n[sso-session corp]\nsso_start_url = https://d-1234567890.awsapps.com/start\nsso_region = us-east-1\n\n[profile noregion]\ncredential_process = printf '{\"Version\":1,\"AccessKeyId\":\"AKIAEXAMPLE\",\"SecretAccessKey\":\"s\"}'\n";

/// A test whose AWS setup is only CONFIG (in a temporary AWS_CONFIG_FILE) and an empty
/// credentials file, with HOME in the test directory (no SSO cache).
fn with_config(plan_yaml: &str) -> Test {
    let test = Test::new().plan(plan_yaml).file("aws-config", CONFIG);
    let home = test.file_path(".");
    test.env("HOME", home.to_str().unwrap()).env("KIRO_ONBOARD_CALL_TIMEOUT", "5")
}

#[track_caller]
fn plain(stderr: &str) {
    for internal in ["DispatchFailure", "dispatch failure", "ServiceError", "ConnectorError", "already taken"] {
        assert!(!stderr.contains(internal), "SDK internals without -v ({internal}):\n{stderr}");
    }
    let errors = stderr.lines().filter(|l| l.starts_with("error:")).count();
    assert_eq!(errors, 1, "one error line:\n{stderr}");
    assert!(stderr.lines().any(|l| l.starts_with("hint:")), "a hint:\n{stderr}");
}

#[test]
fn a_profile_missing_from_the_config_file_is_named_with_where_it_was_looked_for() {
    let test = with_config(&plan("aws: { region: us-east-1, profile: nosuch }\n"));
    let config = test.file_path("aws-config").display().to_string();
    let out = test.args(["plan", "plan.yaml"]).run();
    out.code(1)
        .stderr_has("the AWS profile `nosuch`")
        .stderr_has(&config)
        .stderr_has("AWS_CONFIG_FILE")
        .stderr_has("admin, noregion, sso");
    assert!(!out.stderr.contains("set `aws.profile`"), "aws.profile is set:\n{}", out.stderr);
    plain(&out.stderr);
}

#[test]
fn an_sso_profile_without_a_cached_sign_in_says_to_run_aws_sso_login() {
    let out = with_config(&plan("aws: { region: us-east-1, profile: sso }\n")).args(["plan", "plan.yaml"]).run();
    out.code(1).stderr_has("`sso`").stderr_has("run `aws sso login --profile sso`");
    plain(&out.stderr);
}

#[test]
fn expired_credentials_are_called_expired() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(&moto.endpoint);
    proxy.rule(json!({"fault": {"kind": "aws_error", "type": "ExpiredTokenException",
        "message": "The security token included in the request is expired"}}));
    let out = Test::new()
        .plan(&plan("aws: { region: us-east-1 }\n"))
        .aws_via(&moto, &proxy.url())
        .args(["plan", "plan.yaml"])
        .run();
    out.code(1).stderr_has("the AWS credentials in use have expired").stderr_has("aws sso login");
    plain(&out.stderr);
}

#[test]
fn no_region_anywhere_says_where_one_may_be_set() {
    let out = with_config(&plan("aws: { profile: noregion }\n")).args(["plan", "plan.yaml"]).run();
    out.code(1).stderr_has("no AWS Region").stderr_has("`noregion`").stderr_has("--region");
    plain(&out.stderr);
}

/// With no `AWS_ENDPOINT_URL`, the SDK asks DNS for `sso.us-esat-1.amazonaws.com`: AWS has no such
/// name, and without internet no name resolves, so this holds offline and online.
#[test]
fn a_region_that_does_not_exist_is_named_with_the_one_meant() {
    let test = with_config(&plan(""))
        .env("AWS_REGION", "us-esat-1")
        .env("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "example");
    let out = test.args(["plan", "plan.yaml"]).run();
    out.code(1).stderr_has("`us-esat-1` is not an AWS Region").stderr_has("did you mean `us-east-1`?");
    plain(&out.stderr);
    let verbose = with_config(&plan(""))
        .env("AWS_REGION", "us-esat-1")
        .env("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "example")
        .args(["-v", "plan", "plan.yaml"])
        .run();
    verbose.code(1).stderr_has("DispatchFailure");
}

#[test]
fn profile_and_region_on_the_command_line_win_over_the_plan() {
    let out = with_config(&plan("aws: { region: us-east-1, profile: nosuch }\n"))
        .args(["--profile", "ghost", "plan", "plan.yaml"])
        .run();
    out.code(1).stderr_has("the AWS profile `ghost`");
    let out = with_config(&plan("aws: { region: us-east-1 }\n"))
        .env("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "example")
        .args(["audit", "plan.yaml", "--region", "us-esat-1"])
        .run();
    out.code(1).stderr_has("`us-esat-1` is not an AWS Region");
}

#[test]
fn the_man_page_and_help_say_the_command_line_wins_over_the_plan() {
    let page = Test::new().args(["man"]).run();
    page.success()
        .stdout_has("\\-\\-profile")
        .stdout_has("strongest first: \\-\\-profile and \\-\\-region on the command line");
    Test::new().args(["plan", "--help"]).run().success().stdout_has("--region <REGION>");
}
