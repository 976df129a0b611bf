//! `signin check` on IAM Identity Center: the device authorization flow Kiro CLI runs on a remote
//! machine, against the SSO OIDC the test moto adds (tests/servers/sso_oidc.py). The test plays
//! the user at the verification page (`/_control/device/approve`); each row is broken out of band
//! and named; the client secret, the device code and the tokens never leak.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::server::http;
use crate::harness::test::{Output, Watched, files_under};
use crate::harness::{Moto, Test};
use crate::signin::{checks, fails_on};

const PLAN: &str = "version: 1
kiro: { profile_region: us-east-1, console: { profile_created: true } }
aws: { region: us-east-1 }
identity_center:
  first_sign_in: email_otp
  users:
    - { user_name: jdoe, given_name: Jane, family_name: Doe, email: jdoe@example.com }
    - { user_name: rroe, given_name: Rick, family_name: Roe, email: rroe@example.com }
  groups:
    - { name: kiro_dev_group, members: [jdoe] }
    - { name: interns, members: [rroe] }
";

/// What the user does at the verification page.
#[derive(Clone, Copy, PartialEq, Debug)]
enum User {
    Allows,
    Denies,
    /// Cannot get past the portal's sign-in page.
    CannotSignIn,
}

async fn group_id(moto: &Moto, name: &str) -> String {
    let (_, store) = moto.instance().await;
    let client = aws_sdk_identitystore::Client::new(&moto.sdk().await);
    let attribute = aws_sdk_identitystore::types::UniqueAttribute::builder()
        .attribute_path("displayName")
        .attribute_value(aws_smithy_types::Document::String(name.into()))
        .build()
        .unwrap();
    let out = client
        .get_group_id()
        .identity_store_id(store)
        .alternate_identifier(aws_sdk_identitystore::types::AlternateIdentifier::UniqueAttribute(attribute))
        .send()
        .await
        .unwrap();
    out.group_id
}

fn control(moto: &Moto, path: &str, body: Value) -> Value {
    let (status, answer) = http("POST", &format!("{}/_control/{path}", moto.endpoint), Some(&body));
    assert_eq!(status, 200, "{path}: {answer}");
    answer
}

/// A Kiro profile (the application the Kiro console creates) with these assignments.
fn kiro_profile(moto: &Moto, assignments: Value) {
    let mut body = json!({"Name": "QDevProfile-us-east-1"});
    body.as_object_mut().unwrap().extend(assignments.as_object().unwrap().clone());
    control(moto, "application", body);
}

/// The plan applied; optionally the profile subscribed to kiro_dev_group and first sign-in on.
async fn applied(moto: &Moto, subscribe: bool, first_sign_in: bool) -> Test {
    let mut test = Test::new().plan(PLAN).aws(moto);
    test.again(["apply", "plan.yaml", "--yes"]).success();
    if subscribe {
        kiro_profile(moto, json!({"GroupIds": [group_id(moto, "kiro_dev_group").await]}));
    }
    if first_sign_in {
        control(moto, "sign-in-settings", json!({"email_otp_for_api_users": true}));
    }
    test
}

/// Runs `args`, waits for the verification URL on stderr, and has `user` act on it as `what`.
fn run_signin(moto: &Moto, test: &Test, args: &[&str], user: &str, what: User, env: &[(&str, &str)]) -> Output {
    let mut command = test.command_with(args);
    command.env("DISPLAY", "").env("WAYLAND_DISPLAY", "").env("KIRO_ONBOARD_SIGNIN_WAIT", "6");
    command.envs(env.iter().copied());
    let run = Watched::spawn(command, |line| {
        let (_, code) = line.split_once("user_code=").filter(|_| line.starts_with("http"))?;
        Some(code.trim().to_owned())
    });
    if let Ok(code) = run.prompt.recv_timeout(Duration::from_secs(60)) {
        let body = json!({"user_code": code, "user_name": user, "deny": what == User::Denies});
        let (status, answer) = http("POST", &format!("{}/_control/device/approve", moto.endpoint), Some(&body));
        let expected = if what == User::CannotSignIn { 409 } else { 200 };
        assert_eq!(status, expected, "{what:?}: {answer}");
    }
    run.finish()
}

const ARGS: &[&str] = &["signin", "check", "plan.yaml", "--user", "jdoe", "--json"];

#[tokio::test]
async fn identity_center_signin_check_runs_the_device_flow_at_the_portal_and_no_secret_leaks() {
    let moto = Moto::start();
    let test = applied(&moto, true, true).await;
    let (_, store) = moto.instance().await;

    let output = run_signin(
        &moto,
        &test,
        &["-vvv", "signin", "check", "plan.yaml", "--user", "jdoe", "--json"],
        "jdoe",
        User::Allows,
        &[],
    );
    assert_eq!(output.code, 0, "{}\n{}", output.stdout, output.stderr);
    let ids: Vec<_> = checks(&output).into_iter().map(|c| (c.0, c.1)).collect();
    let all = ["portal", "signed_in", "profile", "subscribed"];
    assert_eq!(ids, all.iter().map(|id| (id.to_string(), true)).collect::<Vec<_>>());
    let json = output.json();
    assert_eq!(json["idp"], "identity_center", "{json:#}");
    assert_eq!(json["portal_url"], format!("https://{store}.awsapps.com/start"), "{json:#}");
    assert!(output.stdout.contains("group kiro_dev_group"), "{}", output.stdout);
    // The subscribed row says exactly what it read, and what no AWS API shows (Kiro's own seat:
    // groups assigned and members without a seat, Kiro issues #10645, #9877, #11443).
    let subscribed = json["checks"].as_array().unwrap().iter().find(|c| c["id"] == "subscribed").unwrap();
    let detail = subscribed["detail"].as_str().unwrap();
    assert!(
        detail.contains("IAM Identity Center shows jdoe assigned to the Kiro profile's application through QDevProfile-us-east-1: group kiro_dev_group"),
        "{detail}"
    );
    assert!(detail.contains("not verified: that Kiro gave jdoe a seat"), "{detail}");
    assert!(detail.contains("no AWS API shows Kiro's subscription state"), "{detail}");
    // The user was told where to go and which code to enter, on any device.
    assert!(
        output.stderr.contains("https://device.sso.us-east-1.amazonaws.com/ and enter the code"),
        "{}",
        output.stderr
    );

    // Over SSH (and with --no-browser) the device flow needs nothing else: no port, no paste.
    let ssh = [("SSH_CONNECTION", "10.0.0.2 50000 10.0.0.1 22")];
    let mut args = ARGS.to_vec();
    args.push("--no-browser");
    let over_ssh = run_signin(&moto, &test, &args, "jdoe", User::Allows, &ssh);
    assert_eq!(over_ssh.code, 0, "{}\n{}", over_ssh.stdout, over_ssh.stderr);

    // The human form names each row.
    let human =
        run_signin(&moto, &test, &["signin", "check", "plan.yaml", "--user", "jdoe"], "jdoe", User::Allows, &[]);
    assert_eq!(human.code, 0, "{}", human.stderr);
    assert!(human.stdout.contains("Step 6: Assign users or groups to Kiro"), "{}", human.stdout);
    assert!(human.stdout.contains("Sign-in works"), "{}", human.stdout);

    // Client secrets, device codes, access and refresh tokens: none printed, logged or written.
    let (status, issued) = http("GET", &format!("{}/_control/device/issued", moto.endpoint), None);
    assert_eq!(status, 200);
    let issued: Vec<String> = issued.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    assert_eq!(issued.len(), 12, "per run a client secret, a device code and two tokens: {issued:?}");
    for secret in &issued {
        for out in [&output, &over_ssh, &human] {
            assert!(!out.stdout.contains(secret.as_str()) && !out.stderr.contains(secret.as_str()), "leaked");
        }
        for entry in files_under(&test.file_path("")) {
            let bytes = std::fs::read(&entry).unwrap_or_default();
            assert!(!String::from_utf8_lossy(&bytes).contains(secret.as_str()), "{} holds a secret", entry.display());
        }
    }
}

#[tokio::test]
async fn identity_center_signin_check_names_each_broken_row() {
    let moto = Moto::start();

    // No Kiro profile on the instance (Kiro not enabled): the profile row, and no subscription.
    let test = applied(&moto, false, true).await;
    let output = run_signin(&moto, &test, ARGS, "jdoe", User::Allows, &[]);
    fails_on(&output, "profile", "Step 5: Enable Kiro");
    fails_on(&output, "subscribed", "Step 6: Assign users or groups to Kiro");

    // A profile subscribed to kiro_dev_group, but disabled: nobody signs in through it.
    let dev_group = group_id(&moto, "kiro_dev_group").await;
    kiro_profile(&moto, json!({"GroupIds": [dev_group], "Status": "DISABLED"}));
    let output = run_signin(&moto, &test, ARGS, "jdoe", User::Allows, &[]);
    fails_on(&output, "profile", "Step 5: Enable Kiro");
    assert!(output.stdout.contains("QDevProfile-us-east-1 (DISABLED)"), "{}", output.stdout);

    // An enabled profile subscribed to kiro_dev_group; rroe is only in interns.
    kiro_profile(&moto, json!({"GroupIds": [dev_group]}));
    let output = run_signin(
        &moto,
        &test,
        &["signin", "check", "plan.yaml", "--user", "rroe", "--json"],
        "rroe",
        User::Allows,
        &[],
    );
    fails_on(&output, "subscribed", "has not granted you access to any Kiro profile");
    assert!(output.stdout.contains("rroe is in no group assigned to a Kiro profile"), "{}", output.stdout);
    let ok: Vec<_> = checks(&output).into_iter().filter(|c| c.1).map(|c| c.0).collect();
    assert_eq!(ok, ["portal", "signed_in", "profile"], "only the subscription fails");

    // The user chooses Deny at the portal.
    let output = run_signin(&moto, &test, ARGS, "jdoe", User::Denies, &[]);
    fails_on(&output, "signed_in", "First sign-in");
    assert!(output.stdout.contains("denied"), "{}", output.stdout);

    // A user kiro-onboard cannot find: an error naming the flag, before anyone signs in.
    let mut unknown = test.command_with(["signin", "check", "plan.yaml", "--user", "jdoe@example.com"]);
    let out = unknown.stdin(Stdio::null()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no user jdoe@example.com in the Identity Center directory"), "{stderr}");
    assert!(stderr.contains("--user takes the user name"), "{stderr}");

    // --user is required: the token does not say who signed in.
    let mut nobody = test.command_with(["signin", "check", "plan.yaml"]);
    let out = nobody.stdin(Stdio::null()).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs --user USER_NAME (the plan's: jdoe, rroe)"));
}

#[tokio::test]
async fn identity_center_users_without_first_sign_in_cannot_sign_in_and_the_hint_says_why() {
    let moto = Moto::start();
    // Users created through the API, "Send email OTP" never turned on: nobody can sign in.
    let test = applied(&moto, true, false).await;
    let output = run_signin(&moto, &test, ARGS, "jdoe", User::CannotSignIn, &[("KIRO_ONBOARD_SIGNIN_WAIT", "3")]);
    assert_eq!(output.code, 1, "{}\n{}", output.stdout, output.stderr);
    assert!(
        output.stderr.contains("sign-in did not complete: the user did not sign in within 3s"),
        "{}",
        output.stderr
    );
    assert!(output.stderr.contains("identity_center.first_sign_in"), "{}", output.stderr);
    assert!(output.stderr.contains("Send email OTP for users created from API"), "{}", output.stderr);

    // The admin generates a one-time password for jdoe: jdoe signs in.
    control(&moto, "sign-in-settings", json!({"one_time_password": "jdoe"}));
    let output = run_signin(&moto, &test, ARGS, "jdoe", User::Allows, &[]);
    assert_eq!(output.code, 0, "{}\n{}", output.stdout, output.stderr);
}

#[tokio::test]
async fn identity_center_signin_check_polls_slower_when_told_to_slow_down() {
    let moto = Moto::start();
    applied(&moto, true, true).await;
    let proxy = crate::harness::FaultProxy::start(&moto.endpoint);
    // RFC 8628 §3.5: `slow_down` adds 5 seconds to the interval, for this and every later poll.
    proxy.rule(json!({"match": {"path": "/token"}, "times": 1,
        "fault": {"kind": "aws_error", "type": "SlowDownException", "message": "Client is polling too fast"}}));
    let test = Test::new().plan(PLAN).aws_via(&moto, &proxy.url());
    let started = std::time::Instant::now();
    let output = run_signin(&moto, &test, ARGS, "jdoe", User::Allows, &[("KIRO_ONBOARD_SIGNIN_WAIT", "20")]);
    assert_eq!(output.code, 0, "{}\n{}", output.stdout, output.stderr);
    let polls: Vec<_> = proxy.log().into_iter().filter(|r| r["path"] == "/token").collect();
    assert_eq!(polls.len(), 2, "one slowed down, the next one after the longer wait: {polls:?}");
    assert!(started.elapsed() >= Duration::from_secs(6), "waited 1 + 5 seconds: {:?}", started.elapsed());
}
