//! The Identity Center path against moto: plan → apply → nothing to do, drift, findings,
//! pruning, interrupted applies and stale saved plans.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_identitystore::types::{AttributeOperation, Email, MemberId, Name};
use aws_smithy_types::Document;

use crate::harness::test::change_list;
use crate::harness::{FaultProxy, Moto, Test};

pub(crate) fn plan_yaml(users: &[&str], prune: bool) -> String {
    let mut yaml = String::from(
        "version: 1\nkiro: { profile_region: us-east-1, console: { profile_created: true } }\naws: { region: us-east-1 }\nidentity_center:\n  first_sign_in: email_otp\n  users:\n",
    );
    for user in users {
        yaml.push_str(&format!(
            "    - {{ user_name: {user}, given_name: G{user}, family_name: F{user}, email: {user}@example.com }}\n"
        ));
    }
    yaml.push_str(&format!("  groups:\n    - name: kiro_dev_group\n      description: Kiro seats\n      prune_members: {prune}\n      members: [{}]\n", users.join(", ")));
    yaml
}

/// What the directory holds: user name → email, group name → sorted member user names.
pub(crate) struct Snapshot {
    pub(crate) users: BTreeMap<String, Option<String>>,
    user_count: usize,
    pub(crate) groups: BTreeMap<String, Vec<String>>,
    group_count: usize,
}

pub(crate) async fn snapshot(moto: &Moto) -> Snapshot {
    let (_, store) = moto.instance().await;
    let client = aws_sdk_identitystore::Client::new(&moto.sdk().await);
    let users: Vec<_> = client
        .list_users()
        .identity_store_id(&store)
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let groups: Vec<_> = client
        .list_groups()
        .identity_store_id(&store)
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let names: BTreeMap<String, String> =
        users.iter().map(|u| (u.user_id().to_owned(), u.user_name().unwrap_or_default().to_owned())).collect();
    let mut group_members = BTreeMap::new();
    for group in &groups {
        let memberships: Vec<_> = client
            .list_group_memberships()
            .identity_store_id(&store)
            .group_id(group.group_id())
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let mut members: Vec<String> = memberships
            .iter()
            .filter_map(|m| match m.member_id() {
                Some(MemberId::UserId(id)) => Some(names.get(id).cloned().unwrap_or_else(|| id.clone())),
                _ => None,
            })
            .collect();
        members.sort();
        group_members.insert(group.display_name().unwrap_or_default().to_owned(), members);
    }
    Snapshot {
        user_count: users.len(),
        users: users
            .iter()
            .map(|u| {
                (
                    u.user_name().unwrap_or_default().to_owned(),
                    u.emails().first().and_then(|e| e.value().map(str::to_owned)),
                )
            })
            .collect(),
        group_count: groups.len(),
        groups: group_members,
    }
}

async fn user_id(moto: &Moto, user_name: &str) -> String {
    let (_, store) = moto.instance().await;
    let client = aws_sdk_identitystore::Client::new(&moto.sdk().await);
    let users: Vec<_> = client
        .list_users()
        .identity_store_id(&store)
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    users.iter().find(|u| u.user_name() == Some(user_name)).map(|u| u.user_id().to_owned()).expect("user exists")
}

/// Creates a user the way another admin would in the console, and returns its id.
pub async fn create_user_out_of_band(moto: &Moto, user_name: &str, email: &str) -> String {
    let (_, store) = moto.instance().await;
    let client = aws_sdk_identitystore::Client::new(&moto.sdk().await);
    client
        .create_user()
        .identity_store_id(&store)
        .user_name(user_name)
        .display_name(user_name)
        .name(Name::builder().given_name("Out").family_name("OfBand").build())
        .emails(Email::builder().value(email).primary(true).build())
        .send()
        .await
        .unwrap()
        .user_id
}

/// Adds a new user to the directory and to `group`, out of band.
pub(crate) async fn add_member_out_of_band(moto: &Moto, user_name: &str, group: &str) {
    let user_id = create_user_out_of_band(moto, user_name, &format!("{user_name}@example.com")).await;
    let (_, store) = moto.instance().await;
    let client = aws_sdk_identitystore::Client::new(&moto.sdk().await);
    let groups = client.list_groups().identity_store_id(&store).send().await.unwrap();
    let group_id =
        groups.groups().iter().find(|g| g.display_name() == Some(group)).expect("group exists").group_id().to_owned();
    client
        .create_group_membership()
        .identity_store_id(&store)
        .group_id(group_id)
        .member_id(MemberId::UserId(user_id))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn empty_directory_plan_apply_then_nothing_to_do() {
    let moto = Moto::start();
    let mut test = Test::new().plan(&plan_yaml(&["jdoe", "rroe"], false)).aws(&moto);

    let plan = test.again(["plan", "plan.yaml", "--json"]);
    plan.success();
    let json = plan.json();
    assert_eq!(
        change_list(&json),
        vec![
            ("identity_center.group[\"kiro_dev_group\"]".into(), "create".into()),
            ("identity_center.membership[\"kiro_dev_group/jdoe\"]".into(), "create".into()),
            ("identity_center.membership[\"kiro_dev_group/rroe\"]".into(), "create".into()),
            ("identity_center.user[\"jdoe\"]".into(), "create".into()),
            ("identity_center.user[\"rroe\"]".into(), "create".into()),
        ]
    );
    assert_eq!(json["summary"]["create"], 5);
    let jdoe =
        json["changes"].as_array().unwrap().iter().find(|c| c["address"] == "identity_center.user[\"jdoe\"]").unwrap();
    assert_eq!(jdoe["after"]["email"], "jdoe@example.com");
    assert_eq!(jdoe["after"]["display_name"], "Gjdoe Fjdoe");
    assert_eq!(jdoe["after_unknown"], serde_json::json!(["user_id"]));
    assert!(json["remote_calls"]["identitystore"].as_u64().unwrap() >= 2, "{}", json["remote_calls"]);
    assert!(json["remote_calls"]["sso-admin"].as_u64().unwrap() >= 1);

    let human = test.again(["plan", "plan.yaml"]);
    human
        .success()
        .stdout_has("+ identity_center.user[\"jdoe\"]")
        .stdout_has("user_id")
        .stdout_has("(known after apply)")
        .stdout_has("Plan: 5 to create, 0 to update, 0 to delete, 0 manual.");
    test.again(["plan", "plan.yaml", "--detailed-exitcode"]).code(2);

    test.again(["apply", "plan.yaml", "--yes"]).success().stdout_has("Apply complete: 5 applied");

    let after = snapshot(&moto).await;
    assert_eq!(after.users.get("jdoe"), Some(&Some("jdoe@example.com".into())));
    assert_eq!(after.groups.get("kiro_dev_group"), Some(&vec!["jdoe".to_owned(), "rroe".to_owned()]));

    test.again(["plan", "plan.yaml", "--detailed-exitcode"])
        .code(0)
        .stdout_has("No changes")
        .stdout_has("Plan: 0 to create, 0 to update, 0 to delete, 0 manual.");
    let second = test.again(["apply", "plan.yaml", "--yes", "--json"]);
    second.success();
    assert_eq!(second.json()["results"], serde_json::json!([]));
    assert_eq!(snapshot(&moto).await.user_count, 2, "a second apply creates nothing");
}

#[tokio::test]
async fn email_changed_out_of_band_shows_exactly_that_update() {
    let moto = Moto::start();
    let mut test = Test::new().plan(&plan_yaml(&["jdoe", "rroe"], false)).aws(&moto);
    test.again(["apply", "plan.yaml", "--yes"]).success();

    let (_, store) = moto.instance().await;
    let client = aws_sdk_identitystore::Client::new(&moto.sdk().await);
    let id = user_id(&moto, "jdoe").await;
    let email = Document::Array(vec![Document::Object(
        [
            ("value".to_owned(), Document::String("jane@elsewhere.example".into())),
            ("type".to_owned(), Document::String("work".into())),
            ("primary".to_owned(), Document::Bool(true)),
        ]
        .into_iter()
        .collect(),
    )]);
    client
        .update_user()
        .identity_store_id(&store)
        .user_id(&id)
        .operations(AttributeOperation::builder().attribute_path("emails").attribute_value(email).build().unwrap())
        .send()
        .await
        .unwrap();

    let plan = test.again(["plan", "plan.yaml", "--json", "--detailed-exitcode"]);
    plan.code(2);
    let json = plan.json();
    let changes = json["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{json:#}");
    assert_eq!(changes[0]["address"], "identity_center.user[\"jdoe\"]");
    assert_eq!(changes[0]["action"], "update");
    assert_eq!(changes[0]["before"], serde_json::json!({"email": "jane@elsewhere.example"}));
    assert_eq!(changes[0]["after"], serde_json::json!({"email": "jdoe@example.com"}));
    test.again(["plan", "plan.yaml"]).stdout_has("~ email = \"jane@elsewhere.example\" -> \"jdoe@example.com\"");

    test.again(["apply", "plan.yaml", "--yes"]).success().stdout_has("1 applied");
    assert_eq!(snapshot(&moto).await.users.get("jdoe"), Some(&Some("jdoe@example.com".into())));
    test.again(["plan", "plan.yaml", "--detailed-exitcode"]).code(0);
}

#[tokio::test]
async fn an_extra_member_is_a_finding_and_removed_only_with_prune() {
    let moto = Moto::start();
    let mut test = Test::new().plan(&plan_yaml(&["jdoe"], false)).aws(&moto);
    test.again(["apply", "plan.yaml", "--yes"]).success();
    add_member_out_of_band(&moto, "mallory", "kiro_dev_group").await;

    let plan = test.again(["plan", "plan.yaml", "--json", "--detailed-exitcode"]);
    plan.code(0);
    let json = plan.json();
    assert_eq!(json["changes"], serde_json::json!([]));
    let finding = &json["findings"][0];
    assert_eq!(finding["code"], "identity_center.unmanaged_member");
    assert_eq!(finding["address"], "identity_center.membership[\"kiro_dev_group/mallory\"]");
    assert!(finding["fix"].as_str().unwrap().contains("prune_members: true"));

    test.again(["audit", "plan.yaml"])
        .code(2)
        .stdout_has("mallory is a member of kiro_dev_group but not listed in the plan");
    test.again(["apply", "plan.yaml", "--yes"]).success();
    assert_eq!(
        snapshot(&moto).await.groups["kiro_dev_group"],
        vec!["jdoe", "mallory"],
        "without prune_members nothing is removed"
    );

    let mut pruning = Test::new().plan(&plan_yaml(&["jdoe"], true)).aws(&moto);
    let plan = pruning.again(["plan", "plan.yaml", "--json"]);
    assert_eq!(
        change_list(&plan.json()),
        vec![("identity_center.membership[\"kiro_dev_group/mallory\"]".into(), "delete".into())]
    );
    pruning.again(["apply", "plan.yaml", "--yes"]).success();
    let after = snapshot(&moto).await;
    assert_eq!(after.groups["kiro_dev_group"], vec!["jdoe"]);
    assert!(after.users.contains_key("mallory"), "pruning a membership never deletes the user");
    pruning.again(["audit", "plan.yaml"]).code(0).stdout_has("Audit passed");
}

#[tokio::test]
async fn an_apply_killed_part_way_converges_without_duplicates() {
    let moto = Moto::start();
    let users: Vec<String> = (0..40).map(|i| format!("user{i:02}")).collect();
    let names: Vec<&str> = users.iter().map(String::as_str).collect();
    let mut test =
        Test::new().plan(&plan_yaml(&names, false)).aws(&moto).args(["apply", "plan.yaml", "--yes", "--max-tps", "10"]);

    // 81 writes at 10 per second take 8 s; kill after 3 s, in the middle of the users.
    let mut child =
        test.command().stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    child.kill().unwrap();
    child.wait().unwrap();
    let partial = snapshot(&moto).await;
    assert!(
        partial.user_count > 0 && partial.user_count < 40,
        "the kill should land part way, found {} users",
        partial.user_count
    );

    test.again(["apply", "plan.yaml", "--yes", "--max-tps", "50"]).success();
    let after = snapshot(&moto).await;
    assert_eq!(after.user_count, 40, "no duplicate users");
    assert_eq!(after.group_count, 1, "no duplicate groups");
    assert_eq!(after.groups["kiro_dev_group"], users, "every member exactly once");
    test.again(["plan", "plan.yaml", "--detailed-exitcode"]).code(0);
}

#[tokio::test]
async fn a_stale_saved_plan_is_refused() {
    let moto = Moto::start();
    let mut test = Test::new().plan(&plan_yaml(&["jdoe", "rroe"], false)).aws(&moto);
    test.again(["plan", "plan.yaml", "--out", "reviewed.json"]).success();
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(test.file_path("reviewed.json")).unwrap()).unwrap();
    assert_eq!(saved["kind"], "kiro-onboard-saved-plan");
    assert_eq!(saved["format_version"], "1");

    // Another admin creates jdoe (with another address) between review and apply.
    create_user_out_of_band(&moto, "jdoe", "jane@elsewhere.example").await;
    let refused = test.again(["apply", "reviewed.json"]);
    refused.code(1).stderr_has("stale").stderr_has("identity_center").stderr_has("hint: run `kiro-onboard plan");
    let after_refusal = snapshot(&moto).await;
    assert_eq!((after_refusal.group_count, after_refusal.user_count), (0, 1), "a refused plan changes nothing");

    test.again(["plan", "plan.yaml", "--out", "fresh.json"]).success();
    test.again(["apply", "fresh.json"]).success().stdout_has("Apply complete");
    test.again(["plan", "plan.yaml", "--detailed-exitcode"]).code(0);
}

#[tokio::test]
async fn apply_without_a_terminal_needs_yes_and_changes_nothing() {
    let moto = Moto::start();
    let mut test = Test::new().plan(&plan_yaml(&["jdoe"], false)).aws(&moto);
    test.again(["apply", "plan.yaml"]).code(1).stderr_has("needs confirmation").stderr_has("--yes");
    assert_eq!(snapshot(&moto).await.user_count, 0);
}

#[tokio::test]
async fn an_unknown_instance_is_a_clear_error() {
    let moto = Moto::start();
    let yaml = plan_yaml(&["jdoe"], false).replace(
        "identity_center:\n",
        "identity_center:\n  instance_arn: arn:aws:sso:::instance/ssoins-0000000000000000\n",
    );
    Test::new()
        .plan(&yaml)
        .aws(&moto)
        .args(["plan", "plan.yaml"])
        .run()
        .code(1)
        .stderr_has("ssoins-0000000000000000 was not found in us-east-1")
        .stderr_has("hint: instances in us-east-1:");
}

#[tokio::test]
async fn an_identity_center_region_kiro_does_not_accept_is_an_error_finding() {
    // The Region comes from the environment (AWS_REGION), so only the instance can tell: a plan
    // that names ap-southeast-3 is refused by `validate` already (tests/plans/invalid/47-*).
    let moto = Moto::start_in("ap-southeast-3");
    let yaml = plan_yaml(&["jdoe"], false).replace("aws: { region: us-east-1 }\n", "");
    let output = Test::new().plan(&yaml).aws(&moto).args(["plan", "plan.yaml", "--json"]).run();
    output.success();
    let json = output.json();
    let finding = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "identity_center.unsupported_region")
        .expect("region finding");
    assert_eq!(finding["severity"], "error");
    Test::new()
        .plan(&yaml)
        .aws(&moto)
        .args(["audit", "plan.yaml"])
        .run()
        .code(2)
        .stdout_has("does not accept an IAM Identity Center instance in ap-southeast-3");
}

#[tokio::test]
async fn a_seat_group_with_aws_account_access_is_a_finding() {
    let moto = Moto::start();
    let mut test = Test::new().plan(&plan_yaml(&["jdoe"], false)).aws(&moto);
    test.again(["apply", "plan.yaml", "--yes"]).success();
    let (instance, store) = moto.instance().await;
    let config = moto.sdk().await;
    let ids = aws_sdk_identitystore::Client::new(&config);
    let group_id = ids.list_groups().identity_store_id(&store).send().await.unwrap().groups()[0].group_id().to_owned();
    let sso = aws_sdk_ssoadmin::Client::new(&config);
    let permission_set = sso
        .create_permission_set()
        .instance_arn(&instance)
        .name("AdministratorAccess")
        .session_duration("PT1H")
        .send()
        .await
        .unwrap()
        .permission_set
        .unwrap()
        .permission_set_arn
        .unwrap();
    sso.create_account_assignment()
        .instance_arn(&instance)
        .target_id("111122223333")
        .target_type(aws_sdk_ssoadmin::types::TargetType::AwsAccount)
        .permission_set_arn(&permission_set)
        .principal_type(aws_sdk_ssoadmin::types::PrincipalType::Group)
        .principal_id(&group_id)
        .send()
        .await
        .unwrap();

    let output = test.again(["audit", "plan.yaml", "--json"]);
    output.code(2);
    let json = output.json();
    let finding = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "identity_center.group_has_account_access")
        .expect("account access finding");
    assert!(finding["evidence"][0].as_str().unwrap().contains("111122223333"), "{finding:#}");
    assert_eq!(json["passed"], false);
}

#[tokio::test]
async fn throttling_is_retried_after_the_wait_the_service_names() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(&moto.endpoint);
    // Two throttles naming a 2-second wait; an SDK-style retry would come back within 250 ms.
    proxy.rule(serde_json::json!({"match": {"target": "AWSIdentityStore.ListUsers"}, "times": 2, "fault": {"kind": "aws_throttle", "retry_after": 2}}));
    let mut test = Test::new().plan(&plan_yaml(&["jdoe"], false));
    for (k, v) in moto.env_via(&proxy.url()) {
        test = test.env(&k, &v);
    }
    let output = test.again(["plan", "plan.yaml", "--json"]);
    output.success();
    assert_eq!(output.json()["summary"]["create"], 3);
    let list_users: Vec<f64> = proxy
        .log()
        .iter()
        .filter(|r| r["target"] == "AWSIdentityStore.ListUsers")
        .map(|r| r["time"].as_f64().unwrap())
        .collect();
    assert_eq!(list_users.len(), 3, "two throttled attempts and one that went through");
    for pair in list_users.windows(2) {
        assert!(
            pair[1] - pair[0] >= 1.95,
            "the retry came {:.2} s after the throttle; RetryAfterSeconds says 2",
            pair[1] - pair[0]
        );
    }
    assert!(output.json()["remote_calls"]["identitystore"].as_u64().unwrap() >= 3, "retries are counted as calls");
}

#[tokio::test]
async fn a_service_that_stays_down_is_a_clear_error_not_a_hang() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(&moto.endpoint);
    proxy.rule(serde_json::json!({"match": {"target_prefix": "AWSIdentityStore."}, "fault": {"kind": "aws_error", "status": 503, "type": "ServiceUnavailableException", "message": "try later"}}));
    let mut test = Test::new().plan(&plan_yaml(&["jdoe"], false));
    for (k, v) in moto.env_via(&proxy.url()) {
        test = test.env(&k, &v);
    }
    let started = std::time::Instant::now();
    test.again(["plan", "plan.yaml"])
        .code(1)
        .stderr_has("identitystore ListGroups failed")
        .stderr_has("ServiceUnavailableException");
    assert!(started.elapsed() < Duration::from_secs(30), "gave up after {:?}", started.elapsed());
    let attempts = proxy.log().iter().filter(|r| r["target"] == "AWSIdentityStore.ListGroups").count();
    assert!((2..=6).contains(&attempts), "a few retries, then give up: {attempts}");
}

/// Runs `kiro-onboard ARGS` on a real terminal (util-linux `script`), typing `answer` at the prompt.
pub fn on_a_terminal(test: &Test, args: &str, answer: &str) -> (i32, String) {
    use std::io::Write;
    let binary = env!("CARGO_BIN_EXE_kiro-onboard");
    let command = test.command();
    let mut script = std::process::Command::new("script");
    script.args(["-qec", &format!("{binary} {args}"), "/dev/null"]).current_dir(test.file_path("."));
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => script.env(key, value),
            None => script.env_remove(key),
        };
    }
    let mut child =
        script.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().expect("script runs");
    child.stdin.take().unwrap().write_all(answer.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stdout).into_owned())
}

#[tokio::test]
async fn on_a_terminal_apply_asks_first_and_only_yes_goes_ahead() {
    let moto = Moto::start();
    let test = Test::new().plan(&plan_yaml(&["jdoe"], false)).aws(&moto);

    let (code, screen) = on_a_terminal(&test, "apply plan.yaml", "no\n");
    assert_eq!(code, 1, "{screen}");
    assert!(screen.contains("Apply these changes? Type yes to apply them: "), "{screen}");
    assert!(screen.contains("apply cancelled; nothing was changed"), "{screen}");
    assert_eq!(snapshot(&moto).await.user_count, 0);

    let (code, screen) = on_a_terminal(&test, "apply plan.yaml", "yes\n");
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("Apply complete: 3 applied"), "{screen}");
    assert_eq!(snapshot(&moto).await.user_count, 1);
}

#[tokio::test]
async fn ctrl_c_stops_after_the_calls_in_flight_and_says_what_was_not_done() {
    let moto = Moto::start();
    let users: Vec<String> = (0..30).map(|i| format!("user{i:02}")).collect();
    let names: Vec<&str> = users.iter().map(String::as_str).collect();
    let mut test = Test::new().plan(&plan_yaml(&names, false)).aws(&moto);
    test = test.args(["apply", "plan.yaml", "--yes", "--max-tps", "5", "--concurrency", "2"]);
    let child =
        test.command().stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let output = child.wait_with_output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.code(), Some(130), "--- stdout\n{stdout}\n--- stderr\n{stderr}");
    assert!(stderr.contains("interrupted: finishing the calls in flight"), "{stderr}");
    assert!(stdout.contains("Apply interrupted"), "{stdout}");
    assert!(stdout.contains("not done") && stdout.contains("interrupted before this call"), "{stdout}");
    assert!(stdout.contains("Run apply again to finish"), "{stdout}");
    let partial = snapshot(&moto).await.user_count;
    assert!(partial > 0 && partial < 30, "stopped part way: {partial} users");

    test.again(["apply", "plan.yaml", "--yes", "--max-tps", "50"]).success();
    let after = snapshot(&moto).await;
    assert_eq!((after.user_count, after.groups["kiro_dev_group"].len()), (30, 30));
}

#[tokio::test]
async fn the_identity_center_playbook_converges() {
    let moto = Moto::start();
    let playbook = std::fs::read_to_string(crate::harness::repo_root().join("playbooks/identity-center.yaml")).unwrap();
    let mut test = Test::new().plan(&playbook).aws(&moto);
    test.again(["apply", "plan.yaml", "--yes"]).success();
    let json = test.again(["plan", "plan.yaml", "--json"]).json();
    let writes: Vec<_> = json["changes"].as_array().unwrap().iter().filter(|c| c["action"] != "manual").collect();
    assert!(writes.is_empty(), "only the console steps are left: {json:#}");
    let recorded = playbook
        .replace("profile_created: false", "profile_created: true")
        .replace("done: false", "done: true")
        .replace("  # first_sign_in: email_otp", "  first_sign_in: email_otp");
    std::fs::write(test.file_path("plan.yaml"), recorded).unwrap();
    test.again(["plan", "plan.yaml", "--detailed-exitcode"]).success();
    test.again(["audit", "plan.yaml"]).success().stdout_has("Audit passed");
}

/// A plan of one user against a directory of 1,000: the user is looked up rather than the whole
/// directory listed, and everything the plan owns is still seen (an email to fix, an extra member
/// named by its user name).
#[tokio::test]
async fn a_small_plan_in_a_large_directory_looks_its_users_up_instead_of_listing_all() {
    let moto = Moto::start();
    let mut setup = String::from(
        "version: 1\nkiro: { profile_region: us-east-1, console: { profile_created: true } }\naws: { region: us-east-1 }\nidentity_center:\n  users:\n",
    );
    for i in 0..1000 {
        setup.push_str(&format!(
            "    - {{ user_name: u{i}, given_name: G, family_name: F, email: u{i}@example.com }}\n"
        ));
    }
    setup.push_str("  groups:\n    - { name: kiro_dev_group, members: [u700, u999] }\n");
    let mut test = Test::new().plan(&setup).aws(&moto);
    test.again(["apply", "plan.yaml", "--yes", "-q", "--max-tps", "2000", "--concurrency", "16"]).success();

    let small = "version: 1\nkiro: { profile_region: us-east-1, console: { profile_created: true } }\naws: { region: us-east-1 }\nidentity_center:\n  first_sign_in: email_otp\n  users:\n    - { user_name: u700, given_name: G, family_name: F, email: new700@example.com }\n  groups:\n    - { name: kiro_dev_group, members: [u700] }\n";
    std::fs::write(test.file_path("plan.yaml"), small).unwrap();
    let planned = test.again(["plan", "plan.yaml", "--json"]);
    planned.success();
    let json = planned.json();
    assert_eq!(change_list(&json), [("identity_center.user[\"u700\"]".to_owned(), "update".to_owned())]);
    let finding = json["findings"].as_array().unwrap().iter().find(|f| f["code"].as_str().unwrap().contains("member"));
    assert!(finding.is_some_and(|f| f["message"].as_str().unwrap().contains("u999")), "{json:#}");
    // ListInstances, ListGroups, ListGroupMemberships, a few ListUsers pages, then GetUserId and
    // DescribeUser for u700 and DescribeUser for u999: far fewer than the 10 pages of a listing.
    let identity_store = json["remote_calls"]["identitystore"].as_u64().unwrap();
    assert!(identity_store <= 10, "{}", json["remote_calls"]);
    test.again(["apply", "plan.yaml", "--yes"]).success();
    assert_eq!(snapshot(&moto).await.users.get("u700"), Some(&Some("new700@example.com".into())));
    test.again(["plan", "plan.yaml", "--detailed-exitcode"]).success();
}

/// Marks moto's instance in `region` as replicated to `regions` with `primary` as its primary
/// Region (tests/servers/moto_server.py, `POST /_control/sso-regions`).
fn multi_region(moto: &Moto, region: &str, regions: &[&str], primary: &str) {
    let body = serde_json::json!({"region": region, "Regions": regions, "PrimaryRegion": primary});
    let (status, answer) =
        crate::harness::server::http("POST", &format!("{}/_control/sso-regions", moto.endpoint), Some(&body));
    assert_eq!(status, 200, "{answer}");
}

/// A multi-Region instance: users, groups and memberships can be created, changed and deleted
/// only in its primary Region (IAM Identity Center user guide, "use cases across Regions";
/// docs/vendor-behaviour.md §4.3). From another Region, plan says so and apply writes nothing.
#[tokio::test]
async fn outside_the_primary_region_of_a_multi_region_instance_nothing_is_written() {
    let moto = Moto::start_in("us-west-2");
    let (_, store) = moto.instance().await;
    multi_region(&moto, "us-west-2", &["us-east-1", "us-west-2"], "us-east-1");
    let yaml = plan_yaml(&["jdoe"], false).replace("aws: { region: us-east-1 }", "aws: { region: us-west-2 }");
    let mut test = Test::new().plan(&yaml).aws(&moto);

    let json = test.again(["plan", "plan.yaml", "--json"]).json();
    let finding = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "identity_center.not_primary_region")
        .unwrap_or_else(|| panic!("{json:#}"));
    assert_eq!(finding["severity"], "error");
    assert!(finding["message"].as_str().unwrap().contains("primary Region is us-east-1"), "{finding:#}");
    assert!(finding["fix"].as_str().unwrap().contains("aws.region: us-east-1"), "{finding:#}");
    assert!(
        change_list(&json).iter().all(|(address, _)| !address.starts_with("identity_center.")),
        "no Identity Store write is planned: {json:#}"
    );
    test.again(["plan", "plan.yaml"]).success().stdout_has("primary Region is us-east-1");

    test.again(["apply", "plan.yaml", "--yes"]).stdout_has("primary Region is us-east-1");
    let ids = aws_sdk_identitystore::Client::new(&moto.sdk().await);
    assert!(ids.list_users().identity_store_id(&store).send().await.unwrap().users().is_empty(), "apply wrote nothing");

    // In the primary Region of the same kind of instance, everything is planned as usual.
    let primary = Moto::start();
    primary.instance().await;
    multi_region(&primary, "us-east-1", &["us-east-1", "us-west-2"], "us-east-1");
    let json =
        Test::new().plan(&plan_yaml(&["jdoe"], false)).aws(&primary).args(["plan", "plan.yaml", "--json"]).run().json();
    assert!(json["findings"].as_array().unwrap().iter().all(|f| f["code"] != "identity_center.not_primary_region"));
    assert!(change_list(&json).iter().any(|(address, _)| address == "identity_center.user[\"jdoe\"]"), "{json:#}");
}
