//! What a real AWS account does that stock moto does not check (docs/vendor-behaviour.md §4):
//! first sign-in of API-created users and the portal URL, a directory another source owns, unique
//! emails, ConflictException reasons, key policies PutKeyPolicy would refuse, and a Route 53 writer
//! that races us. moto is patched additively for the last (tests/servers/moto_server.py).

use serde_json::{Value, json};

use crate::harness::test::change_list;
use crate::harness::{FaultProxy, Moto, Test};

const HEAD: &str =
    "version: 1\nkiro: { profile_region: us-east-1, console: { profile_created: true } }\naws: { region: us-east-1 }\n";

fn users_plan(extra: &str) -> String {
    format!(
        "{HEAD}identity_center:\n{extra}  users:\n    - {{ user_name: jdoe, given_name: Jane, family_name: Doe, email: jdoe@example.com }}\n  groups:\n    - {{ name: kiro_dev_group, members: [jdoe] }}\n"
    )
}

fn change<'a>(json: &'a Value, address: &str) -> Option<&'a Value> {
    json["changes"].as_array().unwrap().iter().find(|c| c["address"] == address)
}

async fn user_names(moto: &Moto) -> Vec<String> {
    let (_, store) = moto.instance().await;
    let out = aws_sdk_identitystore::Client::new(&moto.sdk().await)
        .list_users()
        .identity_store_id(&store)
        .send()
        .await
        .unwrap();
    let mut names: Vec<String> = out.users().iter().filter_map(|u| u.user_name().map(str::to_owned)).collect();
    names.sort();
    names
}

// --- 1. first sign-in and the AWS access portal URL ----------------------------------------

#[tokio::test]
async fn a_plan_that_creates_users_shows_the_first_sign_in_step_and_the_portal_url() {
    let moto = Moto::start();
    let (_, store) = moto.instance().await;
    let portal = format!("https://{store}.awsapps.com/start");
    let address = format!("identity_center.first_sign_in[\"{store}\"]");
    let mut test = Test::new().plan(&users_plan("")).aws(&moto);

    let planned = test.again(["plan", "plan.yaml", "--json", "--checklist", "steps.md"]);
    planned.success();
    let json = planned.json();
    let step = change(&json, &address).unwrap_or_else(|| panic!("no first sign-in step: {json:#}"));
    assert_eq!(step["action"], "manual");
    assert_eq!(step["after"]["AWS access portal URL (start URL)"], portal);
    assert_eq!(step["after"]["Identity Center Region"], "us-east-1");
    assert_eq!(step["after"]["Users"], "jdoe");
    let manual = &step["manual"];
    assert!(
        manual["where"].as_str().unwrap().contains("Settings → Authentication → Standard authentication"),
        "{step:#}"
    );
    assert!(manual["instructions"].to_string().contains("Send email OTP"), "{step:#}");
    assert!(manual["instructions"].to_string().contains("one-time password"), "{step:#}");
    let checklist = std::fs::read_to_string(test.file_path("steps.md")).unwrap();
    assert!(checklist.contains(&portal) && checklist.contains("Send email OTP"), "{checklist}");

    test.again(["plan", "plan.yaml"])
        .success()
        .stdout_has(&format!("! {address}"))
        .stdout_has(&portal)
        .stdout_has("when done: set `identity_center.first_sign_in: email_otp` in the plan");
    // Nothing anywhere promises an email the user will not get.
    let human = test.again(["apply", "plan.yaml", "--yes"]);
    human.success().stdout_has(&portal);
    assert!(!human.stdout.contains("email with sign-in instructions within 24 hours"), "{}", human.stdout);

    // Recorded as done: the step goes; a plan that creates nobody never shows it.
    std::fs::write(test.file_path("plan.yaml"), users_plan("  first_sign_in: email_otp\n")).unwrap();
    test.again(["plan", "plan.yaml", "--detailed-exitcode"]).code(0);
    let mut later = Test::new().plan(&users_plan("  first_sign_in: email_otp\n").replace("jdoe", "rroe")).aws(&moto);
    let json = later.again(["plan", "plan.yaml", "--json"]).json();
    assert!(change(&json, &address).is_none(), "email OTP is on: {json:#}");
}

/// The users exist after `apply --yes`, but none of them can sign in until first sign-in is set
/// up: plan, the checklist and audit keep the step until the plan records it (issue: the step
/// used to go with the last user apply created, and plan said nothing was left to do).
#[tokio::test]
async fn after_apply_created_the_users_the_first_sign_in_step_stays_until_it_is_recorded() {
    let moto = Moto::start();
    let (_, store) = moto.instance().await;
    let address = format!("identity_center.first_sign_in[\"{store}\"]");
    let mut test = Test::new().plan(&users_plan("")).aws(&moto);
    test.again(["apply", "plan.yaml", "--yes"]).success().stdout_has(&format!("pending {address}"));
    assert_eq!(user_names(&moto).await, ["jdoe"]);

    test.again(["plan", "plan.yaml", "--detailed-exitcode", "--checklist", "steps.md"])
        .code(2)
        .stdout_has(&format!("! {address}"))
        .stdout_has("when done: set `identity_center.first_sign_in: email_otp` in the plan");
    let checklist = std::fs::read_to_string(test.file_path("steps.md")).unwrap();
    assert!(checklist.contains("Send email OTP") && checklist.contains(&address), "{checklist}");
    let json = test.again(["plan", "plan.yaml", "--json", "--detailed-exitcode"]).code(2).json();
    let step = change(&json, &address).unwrap_or_else(|| panic!("the users exist, the step stays: {json:#}"));
    assert_eq!(step["action"], "manual");
    assert_eq!(step["after"]["Users"], "jdoe");
    assert_eq!(step["manual"]["record"], "identity_center.first_sign_in: email_otp");
    let audit = test.again(["audit", "plan.yaml", "--json"]);
    audit.code(2);
    let findings = audit.json()["findings"].as_array().unwrap().clone();
    assert!(
        findings.iter().any(|f| f["code"] == "manual_step_pending" && f["address"] == address.as_str()),
        "{findings:#?}"
    );

    // Recorded with the address the plan printed, offline: then nothing is left.
    test.again(["console", "done", &address, "plan.yaml"])
        .success()
        .stdout_has("+  first_sign_in: email_otp")
        .stderr_has("Recorded `identity_center.first_sign_in: email_otp` in plan.yaml");
    test.again(["plan", "plan.yaml", "--detailed-exitcode"]).code(0);
    test.again(["audit", "plan.yaml"]).success().stdout_has("Audit passed");
}

/// A one-time password can only be generated for a user who exists, and nothing records one per
/// user: the step is shown by the plan and by the apply that creates the users (after creating
/// them), and not by later runs.
#[tokio::test]
async fn with_one_time_passwords_the_step_names_each_new_user_in_the_plan_and_the_apply_that_creates_them() {
    let moto = Moto::start();
    let (_, store) = moto.instance().await;
    let address = format!("identity_center.first_sign_in[\"{store}\"]");
    let mut test = Test::new().plan(&users_plan("  first_sign_in: one_time_password\n")).aws(&moto);
    let json = test.again(["plan", "plan.yaml", "--json"]).json();
    let step = change(&json, &address).unwrap_or_else(|| panic!("{json:#}"));
    assert!(step["manual"]["where"].as_str().unwrap().contains("Reset password → Generate a one-time password"));
    assert_eq!(step["after"]["New users"], "jdoe");

    let result_of =
        |json: &Value| json["results"].as_array().unwrap().iter().find(|r| r["address"] == address.as_str()).cloned();
    let json = test.again(["apply", "plan.yaml", "--yes", "--json"]).json();
    assert_eq!(user_names(&moto).await, ["jdoe"]);
    let listed = result_of(&json).unwrap_or_else(|| panic!("the apply that created jdoe lists the step: {json:#}"));
    assert_eq!(listed["status"], "pending", "{listed:#}");
    assert!(listed["error"].as_str().unwrap().contains("IAM Identity Center console"), "{listed:#}");
    let json = test.again(["apply", "plan.yaml", "--yes", "--json"]).json();
    assert!(result_of(&json).is_none(), "jdoe existed before this apply: {json:#}");
    test.again(["plan", "plan.yaml", "--detailed-exitcode"]).code(0);
    test.again(["console", "done", &address, "plan.yaml"]).code(1).stderr_has("is not recorded in the plan");
}

// --- 2. a directory another identity source owns -------------------------------------------

#[tokio::test]
async fn a_directory_with_scim_users_refuses_user_creation_with_one_error() {
    let moto = Moto::start();
    let (_, store) = moto.instance().await;
    moto.scim_user(&store, "alice@example.com");
    let mut test = Test::new().plan(&users_plan("")).aws(&moto);

    for command in ["plan", "apply"] {
        let refused = if command == "plan" {
            test.again(["plan", "plan.yaml"])
        } else {
            test.again(["apply", "plan.yaml", "--yes"])
        };
        refused
            .code(1)
            .stderr_has("will not create or change users, groups or memberships")
            .stderr_has("user alice@example.com carries ExternalIds")
            .stderr_has("manage these users, groups and memberships in your identity provider");
        assert_eq!(refused.stderr.matches("will not create or change").count(), 1, "one error: {}", refused.stderr);
    }
    assert_eq!(user_names(&moto).await, ["alice@example.com"], "nothing was written");

    // Naming an existing group (for the subscription) is fine.
    aws_sdk_identitystore::Client::new(&moto.sdk().await)
        .create_group()
        .identity_store_id(&store)
        .display_name("kiro_dev_group")
        .send()
        .await
        .unwrap();
    let reference = format!("{HEAD}identity_center:\n  groups:\n    - {{ name: kiro_dev_group }}\n");
    let mut test = Test::new().plan(&reference).aws(&moto);
    test.again(["plan", "plan.yaml", "--detailed-exitcode"]).code(0);
}

#[tokio::test]
async fn a_plan_that_says_the_source_is_an_external_idp_writes_nothing() {
    let moto = Moto::start();
    let mut test = Test::new().plan(&users_plan("  identity_source: external_idp\n")).aws(&moto);
    test.again(["plan", "plan.yaml"]).code(1).stderr_has("`identity_source: external_idp`");
}

#[tokio::test]
async fn unknown_operation_on_a_write_means_active_directory() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(&moto.endpoint);
    proxy.rule(json!({"match": {"target": "AWSIdentityStore.CreateGroup"}, "fault": {"kind": "aws_error", "type": "UnknownOperationException", "message": "Unknown operation"}}));
    let mut test = Test::new().plan(&users_plan("  first_sign_in: email_otp\n")).aws_via(&moto, &proxy.url());
    let out = test.again(["apply", "plan.yaml", "--yes"]);
    assert_ne!(out.code, 0);
    assert!(out.stdout.contains("Active Directory") || out.stderr.contains("Active Directory"), "{out:?}");
}

// --- 3. unique user names and emails; ConflictException reasons ---------------------------

#[tokio::test]
async fn an_email_another_user_has_is_found_at_plan_and_not_written() {
    let moto = Moto::start();
    crate::identity_center::create_user_out_of_band(&moto, "jane.other", "jdoe@example.com").await;
    let mut test = Test::new().plan(&users_plan("  first_sign_in: email_otp\n")).aws(&moto);

    let json = test.again(["plan", "plan.yaml", "--json"]).json();
    let finding = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "identity_center.email_taken")
        .unwrap_or_else(|| panic!("no email finding: {json:#}"));
    assert_eq!(finding["severity"], "error");
    let message = finding["message"].as_str().unwrap();
    assert!(
        message.contains("jdoe") && message.contains("jane.other") && message.contains("jdoe@example.com"),
        "{message}"
    );

    let applied = test.again(["apply", "plan.yaml", "--yes"]);
    assert_ne!(applied.code, 0, "{applied:?}");
    assert!(applied.stdout.contains("already user jane.other's"), "{}", applied.stdout);
    assert_eq!(user_names(&moto).await, ["jane.other"], "jdoe was not created with a clashing email");
}

#[test]
fn two_planned_users_with_one_email_are_refused_before_anything_is_read() {
    let yaml = format!(
        "{HEAD}identity_center:\n  users:\n    - {{ user_name: jdoe, given_name: J, family_name: D, email: team@example.com }}\n    - {{ user_name: rroe, given_name: R, family_name: R, email: Team@example.com }}\n"
    );
    let mut test = Test::new().plan(&yaml);
    test.again(["validate", "plan.yaml"]).code(1).stderr_has("users jdoe and rroe have the same email");
}

#[tokio::test]
async fn concurrent_modification_is_retried_and_only_uniqueness_means_already_there() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(&moto.endpoint);
    proxy.rule(json!({"match": {"target": "AWSIdentityStore.CreateUser"}, "times": 1,
        "fault": {"kind": "aws_error", "type": "ConflictException", "message": "Concurrent modification",
                  "extra": {"Reason": "CONCURRENT_MODIFICATION"}}}));
    let mut test = Test::new().plan(&users_plan("  first_sign_in: email_otp\n")).aws_via(&moto, &proxy.url());
    let json = test.again(["apply", "plan.yaml", "--yes", "--json"]).json();
    let jdoe = json["results"].as_array().unwrap().iter().find(|r| r["address"] == "identity_center.user[\"jdoe\"]");
    assert_eq!(jdoe.map(|r| r["status"].clone()), Some(json!("applied")), "{json:#}");
    assert_eq!(user_names(&moto).await, ["jdoe"]);
    let creates = proxy.log().iter().filter(|r| r["target"] == "AWSIdentityStore.CreateUser").count();
    assert_eq!(creates, 2, "sent again after CONCURRENT_MODIFICATION");
}

// --- 6. a key policy PutKeyPolicy would refuse ---------------------------------------------

#[tokio::test]
async fn a_policy_with_an_orphaned_principal_or_a_duplicate_sid_is_refused_before_writing() {
    let moto = Moto::start();
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "Old admin", "Effect": "Allow", "Principal": {"AWS": "AROAEXAMPLEDELETED0001"}, "Action": "kms:Describe*", "Resource": "*"},
            {"Sid": "Twice", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:Encrypt", "Resource": "*"},
            {"Sid": "Twice", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:Decrypt", "Resource": "*"}
        ]
    });
    let kms = aws_sdk_kms::Client::new(&moto.sdk().await);
    let key = kms.create_key().policy(policy.to_string()).send().await.unwrap().key_metadata.unwrap().arn.unwrap();
    let mut test = Test::new().plan(&crate::kms::plan_yaml(&format!("  key: {key}"))).aws(&moto);

    let json = test.again(["plan", "plan.yaml", "--json"]).json();
    let codes: Vec<&str> = json["findings"].as_array().unwrap().iter().filter_map(|f| f["code"].as_str()).collect();
    assert!(codes.contains(&"kms.orphaned_principal") && codes.contains(&"kms.duplicate_sid"), "{json:#}");
    let orphan = json["findings"].as_array().unwrap().iter().find(|f| f["code"] == "kms.orphaned_principal").unwrap();
    assert!(orphan["message"].as_str().unwrap().contains("AROAEXAMPLEDELETED0001"));
    assert!(orphan["fix"].as_str().unwrap().contains("remove AROAEXAMPLEDELETED0001"));

    let applied = test.again(["apply", "plan.yaml", "--yes"]);
    assert_ne!(applied.code, 0, "{applied:?}");
    assert!(applied.stdout.contains("not written: KMS would refuse the key policy"), "{}", applied.stdout);
    assert_eq!(crate::kms::policy_of(&moto, &key).await, policy, "the policy was not touched");
}

// --- 9. Route 53: a writer between our read and our write ----------------------------------

#[test]
fn a_concurrent_txt_writer_between_read_and_write_loses_nothing() {
    use crate::dns_route53::{GOOGLE, SPF, block, put_txt, txt_sets, zone_with_spf_and_google};
    use crate::harness::dns::MotoDns;

    let moto = Moto::start();
    let zone = zone_with_spf_and_google(&moto);
    let dns = MotoDns::start(&moto);
    let proxy = FaultProxy::start(&moto.endpoint);
    // Our write is held for a moment after it reaches the proxy; meanwhile another writer adds
    // its value with an UPSERT of its own.
    proxy.rule(json!({"match": {"method": "POST", "path_prefix": "/2013-04-01/hostedzone/"}, "times": 1,
        "fault": {"kind": "delay", "seconds": 1.5}}));
    let yaml = crate::dns_route53::plan(
        "  - name: example.com\n    token: kiro-verification=tok-race\n    dns: route53\n",
        &dns.resolver(),
    );
    let test = Test::new().plan(&yaml).aws_via(&moto, &proxy.url()).env("KIRO_ONBOARD_DNS_PORT", &dns.port()).args([
        "apply",
        "plan.yaml",
        "--yes",
    ]);
    let other = "\"other-writer=added-meanwhile\"";
    let (applied, ()) = std::thread::scope(|scope| {
        let run = scope.spawn(|| test.run());
        proxy.wait_in_flight("ChangeResourceRecordSets", |r| r["method"] == "POST");
        block(put_txt(&moto, &zone, "kiro-app-1.example.com", &[SPF, GOOGLE, other]));
        (run.join().unwrap(), ())
    });
    applied.success();
    let sets = block(txt_sets(&moto, &zone, "kiro-app-1.example.com"));
    assert_eq!(sets.len(), 1, "{sets:?}");
    let values = &sets[0].1;
    for value in [SPF, GOOGLE, other, "\"kiro-verification=tok-race\""] {
        assert!(values.iter().any(|v| v == value), "{value} lost: {values:?}");
    }
    let writes = proxy.log().iter().filter(|r| r["method"] == "POST").count();
    assert!(writes >= 2, "the refused batch was retried after reading again");
}

#[test]
fn an_alias_txt_record_is_refused_with_a_clear_finding() {
    use crate::dns_route53::{block, create_zone};
    use aws_sdk_route53::types::{AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecordSet, RrType};

    let moto = Moto::start();
    let zone = block(async {
        let zone = create_zone(&moto, "example.com", false).await;
        let set = ResourceRecordSet::builder()
            .name("kiro-app-1.example.com")
            .r#type(RrType::Txt)
            .alias_target(
                AliasTarget::builder()
                    .hosted_zone_id(&zone)
                    .dns_name("other.example.com")
                    .evaluate_target_health(false)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        aws_sdk_route53::Client::new(&moto.sdk().await)
            .change_resource_record_sets()
            .hosted_zone_id(&zone)
            .change_batch(
                ChangeBatch::builder()
                    .changes(Change::builder().action(ChangeAction::Create).resource_record_set(set).build().unwrap())
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        zone
    });
    let yaml = crate::dns_route53::plan(
        "  - name: example.com\n    token: kiro-verification=tok-1\n    dns: route53\n",
        "127.0.0.1:9",
    );
    let mut test = Test::new().plan(&yaml).aws(&moto);
    let json = test.again(["plan", "plan.yaml", "--json"]).json();
    let codes: Vec<&str> = json["findings"].as_array().unwrap().iter().filter_map(|f| f["code"].as_str()).collect();
    assert!(codes.contains(&"dns.alias_record"), "{zone}: {json:#}");
    assert!(change_list(&json).is_empty(), "nothing is written to an alias: {json:#}");
}

// --- 5, 7, 8. the key's account, Identity Center's encryption status and Regions ----------

fn set_encryption(moto: &Moto, control: Value) {
    let (status, body) =
        crate::harness::server::http("POST", &format!("{}/_control/sso-encryption", moto.endpoint), Some(&control));
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_key_in_another_account_is_shown_as_a_snippet_with_the_reason() {
    let moto = Moto::start();
    let key = "arn:aws:kms:us-east-1:999999999999:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let mut test = Test::new().plan(&crate::kms::plan_yaml(&format!("  key: {key}"))).aws(&moto);
    let planned = test.again(["plan", "plan.yaml", "--json"]);
    planned.success();
    let json = planned.json();
    let actions: Vec<(String, String)> = change_list(&json);
    assert_eq!(actions.len(), 2, "{json:#}");
    assert!(actions.iter().all(|(_, action)| action == "manual"), "{json:#}");
    let reason = json["changes"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("account 999999999999") && reason.contains("123456789012"), "{reason}");
    assert!(json["findings"].as_array().unwrap().iter().any(|f| f["code"] == "kms.key_in_another_account"));
    let applied = test.again(["apply", "plan.yaml", "--yes"]);
    applied.success();
    assert!(!applied.stdout.contains("PutKeyPolicy"), "{}", applied.stdout);
}

#[tokio::test]
async fn a_failed_encryption_update_and_a_multi_region_instance_are_reported() {
    let moto = Moto::start();
    let (key, _) = crate::kms::key_with_three_statements(&moto).await;
    set_encryption(
        &moto,
        json!({"KeyType": "CUSTOMER_MANAGED_KEY", "KmsKeyArn": key, "EncryptionStatus": "UPDATE_FAILED",
               "EncryptionStatusReason": "KMS key policy denies sso.amazonaws.com",
               "Regions": ["us-east-1", "eu-west-1"], "PrimaryRegion": "us-east-1"}),
    );
    let mut test = Test::new().plan(&crate::kms::plan_yaml("  condition: exact")).aws(&moto);
    let json = test.again(["plan", "plan.yaml", "--json"]).json();
    let findings = json["findings"].as_array().unwrap();
    let failed =
        findings.iter().find(|f| f["code"] == "kms.encryption_update_failed").unwrap_or_else(|| panic!("{json:#}"));
    assert!(failed["evidence"].to_string().contains("denies sso.amazonaws.com"));
    let multi = findings.iter().find(|f| f["code"] == "kms.multi_region").unwrap_or_else(|| panic!("{json:#}"));
    assert!(multi["message"].as_str().unwrap().contains("eu-west-1"));
    let idc = change(&json, &format!("kms.statement[\"{}\"]", crate::kms::IDC_SID)).unwrap();
    assert_eq!(
        idc["after"]["Condition"]["StringEquals"]["kms:ViaService"],
        json!(["sso.eu-west-1.amazonaws.com", "sso.us-east-1.amazonaws.com"]),
        "never pinned to one Region: {idc:#}"
    );
}

#[tokio::test]
async fn kms_access_denied_on_identity_store_names_the_key_and_what_is_needed() {
    let moto = Moto::start();
    let (key, _) = crate::kms::key_with_three_statements(&moto).await;
    set_encryption(&moto, json!({"KeyType": "CUSTOMER_MANAGED_KEY", "KmsKeyArn": key}));
    let proxy = FaultProxy::start(&moto.endpoint);
    proxy.rule(json!({"match": {"target": "AWSIdentityStore.ListGroups"},
        "fault": {"kind": "aws_error", "type": "AccessDeniedException", "message": "Access denied",
                  "extra": {"Reason": "KMS_ACCESS_DENIED"}}}));
    let mut test = Test::new().plan(&users_plan("")).aws_via(&moto, &proxy.url());
    test.again(["plan", "plan.yaml"])
        .code(1)
        .stderr_has(&key)
        .stderr_has("kms:Decrypt")
        .stderr_has("the Identity Store permissions themselves are fine");
}

// --- 4. the Kiro profile and its subscriptions, observed where Identity Center shows them ---

#[tokio::test]
async fn the_kiro_profile_and_its_subscriptions_are_observed_when_identity_center_shows_them() {
    let moto = Moto::start();
    let (_, store) = moto.instance().await;
    let client = aws_sdk_identitystore::Client::new(&moto.sdk().await);
    let mut group_ids = Vec::new();
    for name in ["kiro_dev_group", "interns"] {
        let out = client.create_group().identity_store_id(&store).display_name(name).send().await.unwrap();
        group_ids.push(out.group_id);
    }
    let yaml = "version: 1\nkiro:\n  profile_region: us-east-1\n  console:\n    profile_created: false\n    subscribe:\n      - { group: kiro_dev_group, done: false }\naws: { region: us-east-1 }\nidentity_center:\n  groups:\n    - { name: kiro_dev_group }\n";
    let mut test = Test::new().plan(yaml).aws(&moto);

    // Nothing shown yet (no profile): the recorded steps, as before.
    let json = test.again(["plan", "plan.yaml", "--json"]).json();
    assert!(change(&json, "kiro_console.profile[\"us-east-1\"]").is_some(), "{json:#}");
    assert!(change(&json, "kiro_console.subscription[\"kiro_dev_group\"]").is_some(), "{json:#}");

    // The Kiro console made the profile and subscribed both groups: plan sees it.
    let (status, body) = crate::harness::server::http(
        "POST",
        &format!("{}/_control/application", moto.endpoint),
        Some(&json!({"Name": "QDevProfile-us-east-1", "GroupIds": group_ids})),
    );
    assert_eq!(status, 200, "{body}");
    let json = test.again(["plan", "plan.yaml", "--json"]).json();
    assert!(change(&json, "kiro_console.profile[\"us-east-1\"]").is_none(), "observed done: {json:#}");
    assert!(change(&json, "kiro_console.subscription[\"kiro_dev_group\"]").is_none(), "observed done: {json:#}");
    let unplanned = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "kiro_console.unplanned_subscription")
        .unwrap_or_else(|| panic!("{json:#}"));
    assert!(unplanned["message"].as_str().unwrap().contains("interns"));

    // Not visible (no permission): back to the recorded steps, and the plan still works.
    let proxy = FaultProxy::start(&moto.endpoint);
    proxy.rule(json!({"match": {"target": "SWBExternalService.ListApplications"},
        "fault": {"kind": "aws_error", "type": "AccessDeniedException", "message": "not allowed"}}));
    let mut hidden = Test::new().plan(yaml).aws_via(&moto, &proxy.url());
    let planned = hidden.again(["plan", "plan.yaml", "--json"]);
    planned.success();
    assert!(change(&planned.json(), "kiro_console.profile[\"us-east-1\"]").is_some(), "{}", planned.stdout);
}

#[test]
fn more_than_one_page_of_weighted_txt_sets_at_the_name_ends_in_a_clear_refusal() {
    use crate::dns_route53::{block, create_zone};
    use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType};

    let moto = Moto::start();
    let zone = block(async {
        let zone = create_zone(&moto, "example.com", false).await;
        let changes = (0..25)
            .map(|i| {
                let set = ResourceRecordSet::builder()
                    .name("kiro-app-1.example.com")
                    .r#type(RrType::Txt)
                    .set_identifier(format!("w{i:02}"))
                    .weight(1)
                    .ttl(300)
                    .resource_records(ResourceRecord::builder().value(format!("\"v{i}\"")).build().unwrap())
                    .build()
                    .unwrap();
                Change::builder().action(ChangeAction::Create).resource_record_set(set).build().unwrap()
            })
            .collect();
        aws_sdk_route53::Client::new(&moto.sdk().await)
            .change_resource_record_sets()
            .hosted_zone_id(&zone)
            .change_batch(ChangeBatch::builder().set_changes(Some(changes)).build().unwrap())
            .send()
            .await
            .unwrap();
        zone
    });
    let yaml = crate::dns_route53::plan(
        "  - name: example.com\n    token: kiro-verification=tok-1\n    dns: route53\n",
        "127.0.0.1:9",
    );
    let test = Test::new().plan(&yaml).aws(&moto).args(["plan", "plan.yaml", "--json"]);
    // Run with a deadline: a listing that pages forever must fail this test, not hang it.
    let (done, finished) = std::sync::mpsc::channel();
    let mut child = test.command().stdout(std::process::Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut { stdout }, &mut text).ok();
        done.send(text).ok();
    });
    let output = finished.recv_timeout(std::time::Duration::from_secs(20));
    if output.is_err() {
        child.kill().ok();
    }
    child.wait().ok();
    let json: Value = serde_json::from_str(&output.expect("plan finished within 20 s")).unwrap();
    let codes: Vec<&str> = json["findings"].as_array().unwrap().iter().filter_map(|f| f["code"].as_str()).collect();
    assert!(codes.contains(&"dns.routing_policy"), "{zone}: {json:#}");
    assert!(change_list(&json).is_empty(), "nothing is written to weighted sets: {json:#}");
}
