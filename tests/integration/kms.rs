//! The kms step against moto and `kms policy` against the guide's own statements.

use serde_json::{Value, json};

use crate::harness::server::http;
use crate::harness::test::change_list;
use crate::harness::{Moto, Test, repo_root};

pub(crate) const IDC_SID: &str = "Allow Kiro to use key via IDC";
pub(crate) const STORE_SID: &str = "Allow Kiro to use key via IdentityStore";

pub(crate) fn plan_yaml(kms: &str) -> String {
    format!("version: 1\nkiro: {{ profile_region: us-east-1 }}\naws: {{ region: us-east-1 }}\nkms:\n{kms}\n")
}

/// A key whose policy already has three statements of other owners.
pub(crate) async fn key_with_three_statements(moto: &Moto) -> (String, Value) {
    let policy = json!({
        "Version": "2012-10-17",
        "Id": "key-consolepolicy-3",
        "Statement": [
            {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "Allow access for Key Administrators", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/KeyAdmin"}, "Action": ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:Put*"], "Resource": "*"},
            {"Sid": "Allow Identity Center to use the key", "Effect": "Allow", "Principal": {"Service": "sso.amazonaws.com"}, "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": "*", "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}}
        ]
    });
    let kms = aws_sdk_kms::Client::new(&moto.sdk().await);
    let key = kms.create_key().policy(policy.to_string()).send().await.unwrap().key_metadata.unwrap();
    (key.arn.unwrap(), policy)
}

pub(crate) async fn policy_of(moto: &Moto, key: &str) -> Value {
    let kms = aws_sdk_kms::Client::new(&moto.sdk().await);
    serde_json::from_str(&kms.get_key_policy().key_id(key).policy_name("default").send().await.unwrap().policy.unwrap())
        .unwrap()
}

pub(crate) async fn put_policy(moto: &Moto, key: &str, policy: &Value) {
    let kms = aws_sdk_kms::Client::new(&moto.sdk().await);
    kms.put_key_policy().key_id(key).policy_name("default").policy(policy.to_string()).send().await.unwrap();
}

fn statement<'a>(policy: &'a Value, sid: &str) -> Option<&'a Value> {
    policy["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == sid)
}

#[tokio::test]
async fn two_statements_are_merged_and_the_other_three_kept() {
    let moto = Moto::start();
    let (key, original) = key_with_three_statements(&moto).await;
    let mut test = Test::new().plan(&plan_yaml(&format!("  key: {key}"))).aws(&moto);

    let plan = test.again(["plan", "plan.yaml", "--json"]);
    plan.success();
    assert_eq!(
        change_list(&plan.json()),
        vec![
            (format!("kms.statement[\"{IDC_SID}\"]"), "create".into()),
            (format!("kms.statement[\"{STORE_SID}\"]"), "create".into())
        ]
    );
    test.again(["plan", "plan.yaml"])
        .success()
        .stdout_has(&format!("+ kms.statement[\"{IDC_SID}\"]"))
        .stdout_has("\"kms:ViaService\":\"sso.us-east-1.amazonaws.com\"");

    test.again(["apply", "plan.yaml", "--yes"]).success();
    let (instance, store) = moto.instance().await;
    let policy = policy_of(&moto, &key).await;
    let statements = policy["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 5);
    assert_eq!(
        &statements[..3],
        original["Statement"].as_array().unwrap().as_slice(),
        "the other statements are kept as they were"
    );
    assert_eq!(policy["Id"], original["Id"]);
    let idc = statement(&policy, IDC_SID).unwrap();
    assert_eq!(idc["Condition"]["StringEquals"]["kms:EncryptionContext:aws:sso:instance-arn"], instance);
    let via_store = statement(&policy, STORE_SID).unwrap();
    assert_eq!(
        via_store["Condition"]["StringEquals"]["kms:EncryptionContext:aws:identitystore:identitystore-arn"],
        format!("arn:aws:identitystore::123456789012:identitystore/{store}")
    );

    test.again(["plan", "plan.yaml", "--detailed-exitcode"]).code(0);
    test.again(["audit", "plan.yaml"]).code(0);
}

#[tokio::test]
async fn a_changed_condition_is_one_update_and_an_equal_reordering_is_none() {
    let moto = Moto::start();
    let (key, _) = key_with_three_statements(&moto).await;
    let mut test = Test::new().plan(&plan_yaml(&format!("  key: {key}"))).aws(&moto);
    test.again(["apply", "plan.yaml", "--yes"]).success();

    // Same meaning, other bytes: arrays for scalars, other key order, other action case.
    let mut policy = policy_of(&moto, &key).await;
    for s in policy["Statement"].as_array_mut().unwrap() {
        if s["Sid"] == STORE_SID {
            let condition = s["Condition"].clone();
            *s = json!({"Condition": condition, "Resource": ["*"], "Action": ["KMS:Decrypt"], "Principal": {"Service": ["q.amazonaws.com"]}, "Effect": "Allow", "Sid": STORE_SID});
        }
    }
    put_policy(&moto, &key, &policy).await;
    test.again(["plan", "plan.yaml", "--detailed-exitcode"]).code(0);

    for s in policy["Statement"].as_array_mut().unwrap() {
        if s["Sid"] == IDC_SID {
            s["Condition"]["StringEquals"]["kms:ViaService"] = json!("sso.eu-west-1.amazonaws.com");
        }
    }
    put_policy(&moto, &key, &policy).await;
    let plan = test.again(["plan", "plan.yaml", "--json", "--detailed-exitcode"]);
    plan.code(2);
    let json = plan.json();
    assert_eq!(change_list(&json), vec![(format!("kms.statement[\"{IDC_SID}\"]"), "update".into())]);
    let change = &json["changes"][0];
    assert_eq!(change["before"]["Condition"]["StringEquals"]["kms:ViaService"], "sso.eu-west-1.amazonaws.com");
    assert_eq!(change["after"]["Condition"]["StringEquals"]["kms:ViaService"], "sso.us-east-1.amazonaws.com");
    assert!(change["before"].get("Action").is_none(), "only the fields that differ: {change:#}");

    test.again(["apply", "plan.yaml", "--yes"]).success();
    let after = policy_of(&moto, &key).await;
    assert_eq!(after["Statement"].as_array().unwrap().len(), 5);
    test.again(["plan", "plan.yaml", "--detailed-exitcode"]).code(0);
}

#[tokio::test]
async fn an_alias_names_the_key() {
    let moto = Moto::start();
    let (key, _) = key_with_three_statements(&moto).await;
    let kms = aws_sdk_kms::Client::new(&moto.sdk().await);
    kms.create_alias().alias_name("alias/identity-center").target_key_id(&key).send().await.unwrap();
    let mut test = Test::new().plan(&plan_yaml("  key: alias/identity-center")).aws(&moto);
    test.again(["apply", "plan.yaml", "--yes"]).success();
    assert!(statement(&policy_of(&moto, &key).await, IDC_SID).is_some());
    test.again(["plan", "plan.yaml", "--detailed-exitcode"]).code(0);
}

#[tokio::test]
async fn a_policy_that_would_exceed_32_kib_is_refused_before_any_write() {
    let moto = Moto::start();
    let partner = |i: u64| json!({"Sid": format!("Partner access {i:03}"), "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{:012}:role/partner-role-with-a-long-name", 100_000_000_000u64 + i)}, "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": "*"});
    let policy_of_size =
        |count: u64| json!({"Version": "2012-10-17", "Statement": (0..count).map(partner).collect::<Vec<_>>()});
    // Just under the limit, so that Kiro's two statements (about 700 bytes compact) tip it over.
    let count = (1..).find(|n| policy_of_size(n + 1).to_string().len() > 32 * 1024 - 400).unwrap();
    let policy = policy_of_size(count);
    assert!(policy.to_string().len() < 32 * 1024);
    let kms = aws_sdk_kms::Client::new(&moto.sdk().await);
    let key = kms.create_key().policy(policy.to_string()).send().await.unwrap().key_metadata.unwrap().arn.unwrap();
    let test = Test::new().plan(&plan_yaml(&format!("  key: {key}"))).aws(&moto);
    test.args(["apply", "plan.yaml", "--yes"])
        .run()
        .code(1)
        .stderr_has("KMS allows at most 32768")
        .stderr_has("manage: snippet");
    assert_eq!(policy_of(&moto, &key).await, policy, "nothing was written");
}

#[tokio::test]
async fn the_key_identity_center_reports_is_used_when_the_plan_names_none() {
    let moto = Moto::start();
    let mut test = Test::new().plan(&plan_yaml("  condition: exact")).aws(&moto);
    let output = test.again(["plan", "plan.yaml", "--json"]);
    output.success();
    assert_eq!(output.json()["changes"], json!([]));
    assert_eq!(output.json()["findings"][0]["code"], "kms.aws_owned_key");

    let (key, _) = key_with_three_statements(&moto).await;
    let control = json!({"region": "us-east-1", "account_id": "123456789012", "KeyType": "CUSTOMER_MANAGED_KEY", "KmsKeyArn": key});
    let (status, body) = http("POST", &format!("{}/_control/sso-encryption", moto.endpoint), Some(&control));
    assert_eq!(status, 200, "{body}");
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    assert_eq!(plan.json()["summary"]["create"], 2, "{}", plan.stdout);
}

#[tokio::test]
async fn keys_that_cannot_carry_the_statements_are_refused_clearly() {
    let moto = Moto::start();
    let (key, _) = key_with_three_statements(&moto).await;
    let kms = aws_sdk_kms::Client::new(&moto.sdk().await);
    // moto's DisableKey only accepts a bare key id (AWS takes either).
    kms.disable_key().key_id(key.rsplit('/').next().unwrap()).send().await.unwrap();
    Test::new()
        .plan(&plan_yaml(&format!("  key: {key}")))
        .aws(&moto)
        .args(["plan", "plan.yaml"])
        .run()
        .code(1)
        .stderr_has("is Disabled, not enabled")
        .stderr_has("hint:");

    let elsewhere = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-1"))
        .endpoint_url(&moto.endpoint)
        .credentials_provider(aws_sdk_kms::config::Credentials::new("testing", "testing", None, None, "tests"))
        .load()
        .await;
    let other =
        aws_sdk_kms::Client::new(&elsewhere).create_key().send().await.unwrap().key_metadata.unwrap().arn.unwrap();
    Test::new()
        .plan(&plan_yaml(&format!("  key: {other}")))
        .aws(&moto)
        .args(["plan", "plan.yaml"])
        .run()
        .code(1)
        .stderr_has("is in eu-west-1, but the Identity Center instance is in us-east-1");

    Test::new()
        .plan(&plan_yaml("  key: alias/does-not-exist"))
        .aws(&moto)
        .args(["plan", "plan.yaml"])
        .run()
        .code(1)
        .stderr_has("NotFoundException")
        .stderr_has("hint: no key `alias/does-not-exist`");
}

#[tokio::test]
async fn snippet_mode_only_shows_the_statements() {
    let moto = Moto::start();
    let (key, original) = key_with_three_statements(&moto).await;
    let mut test = Test::new().plan(&plan_yaml(&format!("  key: {key}\n  manage: snippet"))).aws(&moto);
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    assert_eq!(
        change_list(&plan.json()),
        vec![
            (format!("kms.statement[\"{IDC_SID}\"]"), "manual".into()),
            (format!("kms.statement[\"{STORE_SID}\"]"), "manual".into())
        ]
    );
    let apply = test.again(["apply", "plan.yaml", "--yes", "--json"]);
    apply.success();
    assert_eq!(apply.json()["summary"]["pending"], 2);
    assert_eq!(policy_of(&moto, &key).await, original, "snippet mode never writes");
}

#[tokio::test]
async fn audit_finds_a_grant_to_kiro_that_is_too_broad() {
    let moto = Moto::start();
    let (key, mut policy) = key_with_three_statements(&moto).await;
    policy["Statement"].as_array_mut().unwrap().push(json!({"Sid": "Kiro everything", "Effect": "Allow", "Principal": {"Service": "q.amazonaws.com"}, "Action": "kms:*", "Resource": "*"}));
    put_policy(&moto, &key, &policy).await;
    let output =
        Test::new().plan(&plan_yaml(&format!("  key: {key}"))).aws(&moto).args(["audit", "plan.yaml", "--json"]).run();
    output.code(2);
    let codes: Vec<String> =
        output.json()["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap().to_owned()).collect();
    assert!(codes.contains(&"kms.kiro_grant_too_broad".to_owned()), "{codes:?}");
    assert!(codes.contains(&"kms.kiro_grant_without_via_service".to_owned()), "{codes:?}");
    assert!(codes.contains(&"drift".to_owned()), "our statements are missing: {codes:?}");
}

fn golden(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(repo_root().join("tests/golden").join(name)).unwrap()).unwrap()
}

#[test]
fn kms_policy_matches_the_guide_exactly_in_both_forms() {
    let base = [
        "kms",
        "policy",
        "--instance-arn",
        "arn:aws:sso:::instance/ssoins-1234567890abcdef",
        "--identity-store-arn",
        "arn:aws:identitystore::111122223333:identitystore/d-1234567890",
        "--region",
        "us-east-1",
    ];
    let exact = Test::new().args(base).run();
    exact.success();
    assert_eq!(exact.json(), golden("kms-exact.json"));
    let wildcard = Test::new().args(base.iter().copied().chain(["--wildcard", "--json"])).run();
    wildcard.success();
    assert_eq!(wildcard.json(), golden("kms-wildcard.json"));
    assert!(wildcard.stderr.is_empty(), "--json prints nothing else: {}", wildcard.stderr);

    let by_ids = Test::new()
        .args([
            "kms",
            "policy",
            "--instance-id",
            "ssoins-1234567890abcdef",
            "--identity-store-id",
            "d-1234567890",
            "--account",
            "111122223333",
            "--region",
            "us-east-1",
            "--json",
        ])
        .run();
    assert_eq!(by_ids.json(), golden("kms-exact.json"));

    let full = Test::new().args(base.iter().copied().chain(["--full", "--json"])).run();
    let document = full.json();
    assert_eq!(document["Version"], "2012-10-17");
    let statements = document["Statement"].as_array().unwrap();
    assert_eq!(
        statements[0]["Principal"]["AWS"], "arn:aws:iam::111122223333:root",
        "a new key keeps the account's administration"
    );
    assert_eq!(&statements[1..], golden("kms-exact.json").as_array().unwrap().as_slice());

    Test::new()
        .args(["kms", "policy", "--instance-arn", "arn:aws:sso:::instance/ssoins-1"])
        .run()
        .code(1)
        .stderr_has("--identity-store-arn");
    Test::new()
        .args(["kms", "policy", "--instance-arn", "ssoins-1", "--identity-store-arn", "d-1", "--region", "us-east-1"])
        .run()
        .code(1)
        .stderr_has("not an IAM Identity Center instance ARN");
}

#[tokio::test]
async fn kms_policy_reads_the_instance_from_aws_when_not_given() {
    let moto = Moto::start();
    let (instance, store) = moto.instance().await;
    let output = Test::new().aws(&moto).args(["kms", "policy", "--json"]).run();
    output.success();
    let statements = output.json();
    assert_eq!(statements[0]["Condition"]["StringEquals"]["kms:EncryptionContext:aws:sso:instance-arn"], instance);
    assert_eq!(
        statements[1]["Condition"]["StringEquals"]["kms:EncryptionContext:aws:identitystore:identitystore-arn"],
        format!("arn:aws:identitystore::123456789012:identitystore/{store}")
    );
}

#[tokio::test]
async fn the_identity_center_kms_playbook_converges() {
    let moto = Moto::start();
    let (key, original) = key_with_three_statements(&moto).await;
    let kms = aws_sdk_kms::Client::new(&moto.sdk().await);
    kms.create_alias().alias_name("alias/identity-center").target_key_id(&key).send().await.unwrap();
    let playbook = std::fs::read_to_string(repo_root().join("playbooks/identity-center-kms.yaml")).unwrap();
    let mut test = Test::new().plan(&playbook).aws(&moto);
    test.again(["apply", "plan.yaml", "--yes"]).success();
    let json = test.again(["plan", "plan.yaml", "--json"]).json();
    let writes: Vec<_> = json["changes"].as_array().unwrap().iter().filter(|c| c["action"] != "manual").collect();
    assert!(writes.is_empty(), "only the console steps are left: {json:#}");
    let policy = policy_of(&moto, &key).await;
    assert_eq!(policy["Statement"].as_array().unwrap().len(), original["Statement"].as_array().unwrap().len() + 2);
}

/// Kiro's two statements are there exactly once each, after the three foreign ones, unchanged.
#[track_caller]
pub(crate) fn assert_kiro_statements_once(policy: &Value, original: &Value) {
    let statements = policy["Statement"].as_array().unwrap();
    let sids: Vec<&str> = statements.iter().map(|s| s["Sid"].as_str().unwrap_or_default()).collect();
    assert_eq!(sids.len(), 5, "three foreign statements and Kiro's two, no duplicates: {sids:?}");
    assert_eq!(sids.iter().filter(|s| **s == IDC_SID).count(), 1, "{sids:?}");
    assert_eq!(sids.iter().filter(|s| **s == STORE_SID).count(), 1, "{sids:?}");
    assert_eq!(&statements[..3], original["Statement"].as_array().unwrap().as_slice(), "foreign statements intact");
}

/// An ARN's partition and the Region's partition must agree (AWS General Reference, "Amazon
/// Resource Names": "Each AWS account is scoped to one partition"; GovCloud ARNs begin with
/// `arn:aws-us-gov`): statements that mix them could never match, so none are printed.
#[test]
fn kms_policy_refuses_mixed_partitions() {
    let commercial = "arn:aws:sso:::instance/ssoins-1234567890abcdef";
    let commercial_store = "arn:aws:identitystore::111122223333:identitystore/d-1234567890";
    let gov = "arn:aws-us-gov:sso:::instance/ssoins-1234567890abcdef";
    let gov_store = "arn:aws-us-gov:identitystore::111122223333:identitystore/d-1234567890";
    let run = |instance: &str, store: &str, region: &str| {
        Test::new()
            .args(["kms", "policy", "--instance-arn", instance, "--identity-store-arn", store, "--region", region])
            .run()
    };
    let refused = run(commercial, commercial_store, "us-gov-west-1");
    refused.code(1).stderr_has("partition `aws-us-gov`").stderr_has("partition `aws`").stderr_has("hint:");
    assert!(refused.stdout.trim().is_empty(), "no statement is printed: {}", refused.stdout);
    run(gov, gov_store, "us-east-1").code(1).stderr_has("can never match").stderr_has("hint:");
    run(commercial, gov_store, "us-east-1").code(1).stderr_has("identity store").stderr_has("hint:");
    run(gov, gov_store, "us-gov-west-1").success().stdout_has("sso.us-gov-west-1.amazonaws.com");
    run(commercial, commercial_store, "cn-north-1").code(1).stderr_has("partition `aws-cn`");
}
