//! The AWS policies of docs/security.md, proven under moto's IAM enforcement (moto docs, "IAM-like
//! Access Control"; turned on with the test control `POST /_control/enforce-iam` once the users and
//! the key exist). One moto, one IAM user per policy: the read-only policy runs `plan` and `audit`,
//! read-only plus apply runs `apply`, and a user lacking one action gets an error (or a finding)
//! that names it.
//!
//! What moto cannot prove, and so this test does not claim: moto evaluates every KMS request
//! against `Resource: "*"`, so the KMS statements' Resource is widened to `*` here; every Route 53
//! REST request fails moto's SigV4 check under enforcement, so the Route 53 statements are not
//! exercised; key policies are not enforced at all.

use serde_json::{Value, json};

use crate::harness::server::http;
use crate::harness::{Moto, Test, repo_root};

/// The JSON block that follows `heading` in docs/security.md.
fn documented_block(heading: &str) -> String {
    let doc = std::fs::read_to_string(repo_root().join("docs/security.md")).unwrap();
    let after = &doc[doc.find(heading).unwrap_or_else(|| panic!("docs/security.md has {heading:?}"))..];
    let start = after.find("```json\n").expect("a json block") + "```json\n".len();
    after[start..start + after[start..].find("```").expect("the block ends")].to_owned()
}

/// The read-only and the apply statements as documented, filled in for this moto, its Identity
/// Center instance and identity store, and the key.
fn documented_policies(key_id: &str, instance_id: &str, store: &str) -> (Vec<Value>, Vec<Value>) {
    let fill = |text: String| {
        text.replace("REGION", "us-east-1")
            .replace("ACCOUNT", "123456789012")
            .replace("KEY-ID", key_id)
            .replace("INSTANCE-ID", instance_id)
            .replace("IDENTITY-STORE-ID", store)
            .replace("ZONE-ID", "Z0000000000000000000")
    };
    let read: Value = serde_json::from_str(&fill(documented_block("### AWS: `plan` and `audit` (read-only)"))).unwrap();
    let apply: Value =
        serde_json::from_str(&format!("[{}]", fill(documented_block("### AWS: `apply` (adds)")))).unwrap();
    let widen = |mut statements: Vec<Value>| {
        for statement in &mut statements {
            // moto checks KMS requests against "*" only; the key ARN form is not provable here.
            if statement["Action"].to_string().contains("kms:") {
                statement["Resource"] = json!("*");
            }
        }
        statements
    };
    (widen(read["Statement"].as_array().unwrap().clone()), widen(apply.as_array().unwrap().clone()))
}

fn without(statements: &[Value], action: &str) -> Vec<Value> {
    let mut out = statements.to_vec();
    for statement in &mut out {
        if let Some(actions) = statement["Action"].as_array_mut() {
            actions.retain(|a| a != action);
        }
    }
    assert_ne!(out, statements, "{action} is documented");
    // A statement left with no action is not a valid policy statement: drop it.
    out.retain(|s| s["Action"].as_array().is_none_or(|a| !a.is_empty()));
    out
}

/// An IAM user holding exactly `statements`, with an access key.
fn iam_user(moto: &Moto, name: &str, statements: &[Value]) -> (String, String) {
    let policy = json!({"Version": "2012-10-17", "Statement": statements});
    let (status, body) = http(
        "POST",
        &format!("{}/_control/iam-user", moto.endpoint),
        Some(&json!({"UserName": name, "PolicyDocument": policy})),
    );
    assert_eq!(status, 200, "{body}");
    (body["AccessKeyId"].as_str().unwrap().to_owned(), body["SecretAccessKey"].as_str().unwrap().to_owned())
}

fn plan_for(tag: &str, key: Option<&str>) -> String {
    let kms = key.map(|k| format!("  key: {k}\n")).unwrap_or_else(|| "  condition: exact\n".into());
    format!(
        "version: 1\nkiro: {{ profile_region: us-east-1, console: {{ profile_created: true }} }}\naws: {{ region: us-east-1 }}\nidentity_center:\n  first_sign_in: email_otp\n  users:\n    - {{ user_name: u_{tag}, given_name: G, family_name: F, email: u_{tag}@example.com }}\n  groups:\n    - {{ name: g_{tag}, members: [u_{tag}] }}\nkms:\n{kms}"
    )
}

fn run_as(moto: &Moto, user: &(String, String), yaml: &str, args: &[&str]) -> crate::harness::test::Output {
    Test::new()
        .plan(yaml)
        .aws(moto)
        .env("AWS_ACCESS_KEY_ID", &user.0)
        .env("AWS_SECRET_ACCESS_KEY", &user.1)
        .args(args)
        .run()
}

#[tokio::test]
async fn the_documented_policies_are_exactly_sufficient_under_iam_enforcement() {
    let moto = Moto::start();
    let (key, _) = crate::kms::key_with_three_statements(&moto).await;
    let key_id = key.rsplit('/').next().unwrap().to_owned();
    let (status, body) = http(
        "POST",
        &format!("{}/_control/sso-encryption", moto.endpoint),
        Some(&json!({"KeyType": "CUSTOMER_MANAGED_KEY", "KmsKeyArn": key})),
    );
    assert_eq!(status, 200, "{body}");
    // A directory larger than three pages, so that a plan looks its user up (GetUserId,
    // DescribeUser) instead of listing every page: that path needs its permissions too.
    let (instance, store) = moto.instance().await;
    let instance_id = instance.rsplit('/').next().unwrap().to_owned();
    let identity_store = aws_sdk_identitystore::Client::new(&moto.sdk().await);
    for i in 0..320 {
        identity_store
            .create_user()
            .identity_store_id(&store)
            .user_name(format!("filler{i:03}"))
            .display_name("Filler")
            .emails(
                aws_sdk_identitystore::types::Email::builder()
                    .value(format!("filler{i:03}@example.com"))
                    .primary(true)
                    .build(),
            )
            .name(aws_sdk_identitystore::types::Name::builder().given_name("F").family_name("F").build())
            .send()
            .await
            .unwrap();
    }
    let (read, apply) = documented_policies(&key_id, &instance_id, &store);
    let both: Vec<Value> = read.iter().chain(apply.iter()).cloned().collect();
    // The documented statements are scoped to this identity store and instance, not `*`.
    for statement in read.iter().chain(apply.iter()) {
        let actions = statement["Action"].to_string();
        if actions.contains("identitystore:") || actions.contains("sso:ListApplicationAssignments") {
            assert_ne!(statement["Resource"], json!("*"), "scoped: {statement}");
        }
    }
    // The same read-only policy scoped to another identity store: the scoping is checked.
    let elsewhere: Vec<Value> =
        read.iter().map(|s| serde_json::from_str(&s.to_string().replace(&store, "d-0000000000")).unwrap()).collect();
    let outsider = iam_user(&moto, "outsider", &elsewhere);

    let reader = iam_user(&moto, "reader", &read);
    let writer = iam_user(&moto, "writer", &both);
    let writes_lacking: Vec<(&str, (String, String))> = [
        "kms:PutKeyPolicy",
        "identitystore:CreateUser",
        "identitystore:CreateGroup",
        "identitystore:CreateGroupMembership",
    ]
    .into_iter()
    .map(|action| (action, iam_user(&moto, &format!("w-{}", action.replace(':', "-")), &without(&both, action))))
    .collect();
    let reads_lacking: Vec<(&str, (String, String))> = [
        "sso:ListInstances",
        "sso:DescribeInstance",
        "sso:ListAccountAssignmentsForPrincipal",
        "identitystore:ListUsers",
        "identitystore:ListGroups",
        "identitystore:ListGroupMemberships",
        "identitystore:GetUserId",
        "identitystore:DescribeUser",
        "kms:DescribeKey",
        "kms:GetKeyPolicy",
    ]
    .into_iter()
    .map(|action| (action, iam_user(&moto, &format!("r-{}", action.replace(':', "-")), &without(&read, action))))
    .collect();
    let (status, body) = http("POST", &format!("{}/_control/enforce-iam", moto.endpoint), Some(&json!({})));
    assert_eq!(status, 200, "{body}");
    // From here on the test's own "testing" keys are refused too: only the IAM users work.

    // Each write action, removed: apply fails and names it. The key policy first, while Kiro's
    // statements are still missing (the later applies write them).
    for (action, user) in &writes_lacking {
        let tag = action.rsplit(':').next().unwrap().to_lowercase();
        let out = run_as(&moto, user, &plan_for(&tag, Some(&key)), &["apply", "plan.yaml", "--yes"]);
        assert_ne!(out.code, 0, "apply without {action} succeeded: {out:?}");
        assert!(out.stdout.contains(action) || out.stderr.contains(action), "the error names {action}: {out:?}");
    }

    // The apply policy is enough for apply; the read-only one for plan and audit.
    let main = plan_for("main", Some(&key));
    let applied = run_as(&moto, &writer, &main, &["apply", "plan.yaml", "--yes"]);
    assert_eq!(applied.code, 0, "{applied:?}");
    let planned = run_as(&moto, &reader, &main, &["plan", "plan.yaml", "--detailed-exitcode"]);
    assert_eq!(planned.code, 0, "read-only plan: {planned:?}");
    let refused = run_as(&moto, &outsider, &main, &["plan", "plan.yaml"]);
    assert_eq!(refused.code, 1, "a policy scoped to another identity store reads nothing: {refused:?}");
    assert!(refused.stderr.contains("identitystore:"), "the error names the action: {}", refused.stderr);
    let audited = run_as(&moto, &reader, &main, &["audit", "plan.yaml"]);
    assert_ne!(audited.code, 1, "read-only audit: {audited:?}");
    assert!(!audited.stderr.contains("403") && !audited.stdout.contains("403"), "{audited:?}");
    // And for signin check on Identity Center, once the Kiro console subscribed the group and
    // first sign-in is on: its SSO OIDC calls are unsigned, its reads are the plan's.
    for (control, body) in [
        ("application", json!({"Name": "QDevProfile-us-east-1", "GroupNames": ["g_main"]})),
        ("sign-in-settings", json!({"email_otp_for_api_users": true})),
    ] {
        let (status, answer) = http("POST", &format!("{}/_control/{control}", moto.endpoint), Some(&body));
        assert_eq!(status, 200, "{answer}");
    }
    let user = crate::harness::user::PlayingUser::on_a_device(moto.endpoint.clone(), "u_main");
    let signed_in = run_as(&moto, &reader, &main, &["signin", "check", "plan.yaml", "--user", "u_main"]);
    user.stop();
    assert_eq!(signed_in.code, 0, "read-only signin check: {signed_in:?}");

    // Each read action, removed: plan fails and names it (one only costs a finding).
    for (action, user) in &reads_lacking {
        let yaml = if *action == "sso:DescribeInstance" { plan_for("main", None) } else { main.clone() };
        let out = run_as(&moto, user, &yaml, &["plan", "plan.yaml", "--json"]);
        if *action == "sso:ListAccountAssignmentsForPrincipal" {
            assert_eq!(out.code, 0, "{out:?}");
            let json = out.json();
            let finding = json["findings"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["code"] == "identity_center.account_access_unknown");
            assert!(finding.is_some_and(|f| f["fix"].as_str().unwrap().contains(action)), "{json:#}");
            continue;
        }
        assert_eq!(out.code, 1, "plan without {action}: {out:?}");
        assert!(out.stderr.contains(action), "the error names {action}:\n{}", out.stderr);
    }
}
