//! Kiro's two IAM Identity Center applications (docs/vendor-behaviour.md §1.8): creating a profile
//! makes `KiroProfile-<region>` (subscriptions are its assignments) and `Kiro Sign-In -
//! KiroProfile-<region>` (the OAuth application "Your organization" sign-in uses,
//! https://github.com/kirodotdev/Kiro/issues/8665). Both are looked for; a missing one is a
//! finding. A group subscribed in two profiles is billed twice (§1.11).

use serde_json::{Value, json};

use crate::harness::server::http;
use crate::harness::{Moto, Test};

const PLAN: &str = "version: 1
kiro:
  profile_region: us-east-1
  console:
    profile_created: true
    subscribe:
      - { group: kiro_dev_group, done: true }
aws: { region: us-east-1 }
identity_center:
  first_sign_in: email_otp
  users:
    - { user_name: jdoe, given_name: Jane, family_name: Doe, email: jdoe@example.com }
  groups:
    - { name: kiro_dev_group, members: [jdoe] }
";

const OTHER_PROVIDER: &str = "arn:aws:sso::aws:applicationProvider/custom";

fn application(moto: &Moto, body: Value) {
    let (status, answer) = http("POST", &format!("{}/_control/application", moto.endpoint), Some(&body));
    assert_eq!(status, 200, "{answer}");
}

fn codes(json: &Value) -> Vec<String> {
    json["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap().to_owned()).collect()
}

fn finding<'a>(json: &'a Value, code: &str) -> &'a Value {
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("{code}: {json:#}"))
}

async fn applied(moto: &Moto) -> Test {
    let mut test = Test::new().plan(PLAN).aws(moto);
    test.again(["apply", "plan.yaml", "--yes"]).success();
    test
}

#[tokio::test]
async fn both_applications_are_found_and_a_missing_sign_in_application_is_a_finding() {
    let moto = Moto::start();
    let mut test = applied(&moto).await;
    application(&moto, json!({"Name": "KiroProfile-us-east-1", "GroupNames": ["kiro_dev_group"]}));

    let json = test.again(["plan", "plan.yaml", "--json"]).json();
    let missing = finding(&json, "kiro_console.sign_in_application_missing");
    assert!(missing["message"].as_str().unwrap().contains("Kiro Sign-In - KiroProfile-us-east-1"), "{missing:#}");
    assert!(missing["message"].as_str().unwrap().contains("KiroProfile-us-east-1"), "{missing:#}");

    // The sign-in application, whatever its provider, completes the pair: it is not a second
    // profile, and nothing is reported.
    application(
        &moto,
        json!({"Name": "Kiro Sign-In - KiroProfile-us-east-1", "ApplicationProviderArn": OTHER_PROVIDER}),
    );
    let json = test.again(["plan", "plan.yaml", "--json"]).json();
    assert!(codes(&json).iter().all(|c| !c.starts_with("kiro_console.")), "{json:#}");
}

#[tokio::test]
async fn a_sign_in_application_without_its_profile_application_is_a_finding() {
    let moto = Moto::start();
    let mut test = applied(&moto).await;
    application(&moto, json!({"Name": "Kiro Sign-In - KiroProfile-us-east-1"}));
    let json = test.again(["plan", "plan.yaml", "--json"]).json();
    let missing = finding(&json, "kiro_console.profile_application_missing");
    assert!(missing["message"].as_str().unwrap().contains("KiroProfile-us-east-1"), "{missing:#}");
    assert!(!codes(&json).contains(&"kiro_console.unplanned_subscription".to_owned()), "{json:#}");
}

#[tokio::test]
async fn a_group_subscribed_in_two_profiles_is_billed_twice() {
    let moto = Moto::start();
    let mut test = applied(&moto).await;
    // The other Region's profile first, and with one more group the plan does not name.
    for (region, more) in [("eu-central-1", vec!["g-elsewhere"]), ("us-east-1", vec![])] {
        application(
            &moto,
            json!({"Name": format!("KiroProfile-{region}"), "GroupNames": ["kiro_dev_group"], "GroupIds": more}),
        );
        application(
            &moto,
            json!({"Name": format!("Kiro Sign-In - KiroProfile-{region}"), "ApplicationProviderArn": OTHER_PROVIDER}),
        );
    }
    let json = test.again(["plan", "plan.yaml", "--json"]).json();
    let twice = finding(&json, "kiro_console.billed_twice");
    let message = twice["message"].as_str().unwrap();
    for part in ["kiro_dev_group", "KiroProfile-us-east-1", "KiroProfile-eu-central-1", "jdoe", "billed twice"] {
        assert!(message.contains(part), "{part}: {twice:#}");
    }
    assert!(twice["fix"].as_str().unwrap().contains("Unsubscribe"), "{twice:#}");
    // The plan's profile is the one of its Region: a group only the other profile subscribes is
    // not reported as subscribed here.
    assert!(codes(&json).iter().all(|c| c != "kiro_console.unplanned_subscription"), "{json:#}");
    test.again(["plan", "plan.yaml"]).success().stdout_has("kiro_console.billed_twice");
}
