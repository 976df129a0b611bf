//! People who leave, for good: `identity_center.users[].absent` (memberships removed, the user
//! deleted with `delete_user`, refused for a user an external IdP owns) and the Kiro console's
//! unsubscribe step, which stays in plan, audit and the checklist until `console done` records it
//! in the plan (`kiro.console.unsubscribed`). Entra and Okta list leavers in
//! `kiro.console.unsubscribe`.

use serde_json::Value;

use crate::harness::test::change_list;
use crate::harness::{Moto, Test, repo_root};

const UNSUBSCRIBE: &str = "kiro_console.unsubscribe[\"rroe\"]";

/// jdoe and rroe in two seat groups, the Kiro side recorded as done; `rroe` is written as given
/// (the whole flow-mapping entry) so a test can mark them absent.
fn plan_yaml(rroe: &str, members: &str, console_extra: &str) -> String {
    format!(
        "version: 1\nkiro:\n  profile_region: us-east-1\n  console:\n    profile_created: true\n    subscribe:\n      - {{ group: kiro_dev_group, tier: pro, done: true }}\n{console_extra}aws: {{ region: us-east-1 }}\nidentity_center:\n  first_sign_in: email_otp\n  users:\n    - {{ user_name: jdoe, given_name: Jane, family_name: Doe, email: jdoe@example.com }}\n    - {rroe}\n  groups:\n    - {{ name: kiro_dev_group, members: [{members}] }}\n    - {{ name: kiro_admins, members: [{members}] }}\n"
    )
}

const RROE: &str = "{ user_name: rroe, given_name: Rick, family_name: Roe, email: rroe@example.com }";
const RROE_ABSENT: &str =
    "{ user_name: rroe, given_name: Rick, family_name: Roe, email: rroe@example.com, absent: true }";
const RROE_DELETED: &str =
    "{ user_name: rroe, given_name: Rick, family_name: Roe, email: rroe@example.com, absent: true, delete_user: true }";

async fn user_names(moto: &Moto) -> Vec<String> {
    let (_, store) = moto.instance().await;
    let client = aws_sdk_identitystore::Client::new(&moto.sdk().await);
    let users = client.list_users().identity_store_id(&store).send().await.unwrap();
    let mut names: Vec<String> = users.users().iter().filter_map(|u| u.user_name().map(str::to_owned)).collect();
    names.sort();
    names
}

async fn member_count(moto: &Moto) -> usize {
    let (_, store) = moto.instance().await;
    let client = aws_sdk_identitystore::Client::new(&moto.sdk().await);
    let groups = client.list_groups().identity_store_id(&store).send().await.unwrap();
    let mut count = 0;
    for group in groups.groups() {
        let members =
            client.list_group_memberships().identity_store_id(&store).group_id(group.group_id()).send().await.unwrap();
        count += members.group_memberships().len();
    }
    count
}

/// jdoe and rroe applied in both groups; then the plan with rroe written as `rroe` and out of
/// the groups, and what `plan --json` shows for it.
async fn rroe_leaves(moto: &Moto, rroe: &str) -> (Test, Value) {
    let mut test = Test::new().plan(&plan_yaml(RROE, "jdoe, rroe", "")).aws(moto);
    test.again(["apply", "plan.yaml", "--yes"]).success();
    assert_eq!(member_count(moto).await, 4);
    let mut left = Test::new().plan(&plan_yaml(rroe, "jdoe", "")).aws(moto);
    let json = left.again(["plan", "plan.yaml", "--json"]).json();
    (left, json)
}

fn leaves_both_groups() -> Vec<(String, String)> {
    ["kiro_admins", "kiro_dev_group"]
        .iter()
        .map(|g| (format!("identity_center.membership[\"{g}/rroe\"]"), "delete".to_owned()))
        .collect()
}

fn manual_step<'a>(json: &'a Value, address: &str) -> &'a Value {
    json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == address)
        .unwrap_or_else(|| panic!("{address} in {json:#}"))
}

/// The step is still there after an apply in CI (`--yes`), in plan, the checklist and audit, and
/// goes only when `console done` records it in the plan.
fn the_unsubscribe_step_lasts_until_recorded(test: &mut Test, address: &str, recorded: &str) {
    for _ in 0..2 {
        test.again(["plan", "plan.yaml", "--detailed-exitcode", "--checklist", "steps.md"]).code(2);
        let checklist = std::fs::read_to_string(test.file_path("steps.md")).unwrap();
        assert!(checklist.contains("Kiro seat") && checklist.contains("Unsubscribe"), "{checklist}");
        test.again(["audit", "plan.yaml"]).code(2).stdout_has(address);
    }
    let done = test.again(["console", "done", address, "plan.yaml"]);
    done.success().stderr_has(&format!("Recorded `{recorded}`"));
    test.again(["console", "done", address, "plan.yaml"]).success().stderr_has("recorded as done");
    test.again(["validate", "plan.yaml"]).success();
    test.again(["plan", "plan.yaml", "--detailed-exitcode", "--checklist", "steps.md"]).code(0);
    test.again(["audit", "plan.yaml"]).code(0);
}

#[tokio::test]
async fn an_absent_user_leaves_every_group_and_their_seat_step_lasts_until_recorded() {
    let moto = Moto::start();
    let (mut left, json) = rroe_leaves(&moto, RROE_ABSENT).await;
    assert_eq!(change_list(&json), [leaves_both_groups(), vec![(UNSUBSCRIBE.into(), "manual".into())]].concat());
    let step = manual_step(&json, UNSUBSCRIBE);
    assert_eq!(step["after"]["Seat"], "Kiro Pro via group kiro_dev_group in the us-east-1 profile", "{step:#}");
    let said = step["manual"]["instructions"].to_string();
    assert!(said.contains("the seat stays billed until you unsubscribe rroe"), "{said}");

    left.again(["apply", "plan.yaml", "--yes"]).success().stdout_has(&format!("pending {UNSUBSCRIBE}"));
    assert_eq!(member_count(&moto).await, 2, "rroe left both groups");
    assert_eq!(user_names(&moto).await, ["jdoe", "rroe"], "without delete_user the user stays");
    let plan = left.again(["plan", "plan.yaml", "--json"]);
    assert_eq!(change_list(&plan.json()), vec![(UNSUBSCRIBE.into(), "manual".into())]);

    the_unsubscribe_step_lasts_until_recorded(&mut left, UNSUBSCRIBE, "kiro.console.unsubscribed: [..., rroe]");
    let recorded = std::fs::read_to_string(left.file_path("plan.yaml")).unwrap();
    assert!(recorded.contains("    unsubscribed: [rroe]\n"), "{recorded}");
}

#[tokio::test]
async fn delete_user_deletes_the_identity_store_user_and_says_what_it_does_to_the_seat() {
    let moto = Moto::start();
    let (mut left, json) = rroe_leaves(&moto, RROE_DELETED).await;
    let deleted =
        vec![("identity_center.user[\"rroe\"]".into(), "delete".into()), (UNSUBSCRIBE.into(), "manual".into())];
    assert_eq!(change_list(&json), [leaves_both_groups(), deleted].concat());
    left.again(["plan", "plan.yaml"])
        .success()
        .stdout_has("Kiro cancels the subscription of a user deleted from IAM Identity Center");
    left.again(["apply", "plan.yaml", "--yes"]).success();
    assert_eq!(user_names(&moto).await, ["jdoe"]);
    assert_eq!(member_count(&moto).await, 2);

    // Gone: nothing more to delete, and the seat step stays until recorded.
    let plan = left.again(["plan", "plan.yaml", "--json"]);
    assert_eq!(change_list(&plan.json()), vec![(UNSUBSCRIBE.into(), "manual".into())]);
    the_unsubscribe_step_lasts_until_recorded(&mut left, UNSUBSCRIBE, "kiro.console.unsubscribed: [..., rroe]");
}

#[tokio::test]
async fn delete_user_is_refused_for_a_user_an_external_idp_provisions() {
    let moto = Moto::start();
    let (_, store) = moto.instance().await;
    moto.scim_user(&store, "rroe");
    let yaml = "version: 1\nkiro: { profile_region: us-east-1, console: { profile_created: true } }\naws: { region: us-east-1 }\nidentity_center:\n  first_sign_in: email_otp\n  users:\n    - { user_name: rroe, given_name: Rick, family_name: Roe, email: rroe@example.com, absent: true, delete_user: true }\n";
    let mut test = Test::new().plan(yaml).aws(&moto);
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    let json = plan.json();
    assert_eq!(change_list(&json), vec![(UNSUBSCRIBE.into(), "manual".into())], "no delete is planned");
    let finding = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "identity_center.user_externally_owned")
        .unwrap_or_else(|| panic!("{json:#}"));
    assert_eq!(finding["severity"], "error");
    assert_eq!(finding["address"], "identity_center.user[\"rroe\"]");
    assert!(finding["message"].as_str().unwrap().contains("carries ExternalIds"), "{finding}");
    assert!(finding["fix"].as_str().unwrap().contains("in your identity provider"), "{finding}");

    test.again(["apply", "plan.yaml", "--yes"]).success();
    assert_eq!(user_names(&moto).await, ["rroe"], "nothing was deleted");
}

#[test]
fn okta_leavers_listed_in_the_plan_keep_their_step_until_recorded() {
    let org = crate::okta::Org::start(&[]);
    let yaml = format!(
        "version: 1\nkiro:\n  profile_region: us-east-1\n  console:\n    profile_created: true\n    unsubscribe: [rroe@example.com]\nokta:\n  org_url: {}\n  credentials: {{ api_token: {{ env: OKTA_API_TOKEN }} }}\n  assign_groups: [Kiro Users]\n",
        org.url()
    );
    let mut test = org.test(&yaml);
    test.again(["apply", "plan.yaml", "--yes"])
        .success()
        .stdout_has("pending kiro_console.unsubscribe[\"rroe@example.com\"]");
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    let json = plan.json();
    let step = manual_step(&json, "kiro_console.unsubscribe[\"rroe@example.com\"]");
    assert!(step["manual"]["instructions"].to_string().contains("listed in kiro.console.unsubscribe"), "{step:#}");
    the_unsubscribe_step_lasts_until_recorded(
        &mut test,
        "kiro_console.unsubscribe[\"rroe@example.com\"]",
        "kiro.console.unsubscribed: [..., \"rroe@example.com\"]",
    );
}

/// Entra: the same step, recorded offline (console done reads no remote).
#[test]
fn entra_leavers_listed_in_the_plan_are_recorded_with_console_done() {
    let playbook = std::fs::read_to_string(repo_root().join("playbooks/entra.yaml")).unwrap();
    let console = playbook.lines().find(|l| l.trim_start().starts_with("console:")).unwrap().to_owned();
    let source = playbook.replacen(&console, &format!("{console}\n    unsubscribe: [ann@example.com]"), 1);
    let mut test = Test::new().plan(&source);
    test.again(["validate", "plan.yaml"]).success();
    let address = "kiro_console.unsubscribe[\"ann@example.com\"]";
    test.again(["console", "done", address, "plan.yaml"]).success().stderr_has("nothing else in it changed");
    let after = std::fs::read_to_string(test.file_path("plan.yaml")).unwrap();
    let moved = source.replacen("    unsubscribe: [ann@example.com]", "    unsubscribe: []", 1);
    assert_eq!(after.replacen("    unsubscribed: [\"ann@example.com\"]\n", "", 1), moved, "{after}");
    test.again(["validate", "plan.yaml"]).success();
    test.again(["console", "done", address, "plan.yaml"]).success().stderr_has("recorded as done");
}
