//! Kiro console steps as plan items: ordered, filled in, recorded in the plan, confirmed on a
//! terminal, and the follow-up when a subscribed group loses a member.

use serde_json::Value;

use crate::harness::test::change_list;
use crate::harness::{Moto, Test};

fn plan_yaml(profile_created: bool, subscribed: bool, members: &[&str], prune: bool) -> String {
    let mut yaml = format!(
        "version: 1\nkiro:\n  profile_region: us-east-1\n  console:\n    profile_created: {profile_created}\n    subscribe:\n      - {{ group: kiro_dev_group, tier: pro_plus, done: {subscribed} }}\naws: {{ region: us-east-1 }}\nidentity_center:\n  first_sign_in: email_otp\n  users:\n"
    );
    for user in members {
        yaml.push_str(&format!(
            "    - {{ user_name: {user}, given_name: G, family_name: F, email: {user}@example.com }}\n"
        ));
    }
    yaml.push_str(&format!(
        "  groups:\n    - {{ name: kiro_dev_group, members: [{}], prune_members: {prune} }}\n",
        members.join(", ")
    ));
    yaml
}

fn manual_steps(json: &Value) -> Vec<&Value> {
    json["changes"].as_array().unwrap().iter().filter(|c| c["action"] == "manual").collect()
}

#[tokio::test]
async fn the_identity_center_path_pins_its_console_steps_in_order_with_their_values() {
    let moto = Moto::start();
    let (instance, _) = moto.instance().await;
    let mut test = Test::new().plan(&plan_yaml(false, false, &["jdoe"], false)).aws(&moto);
    let plan = test.again(["plan", "plan.yaml", "--json", "--checklist", "checklist.md"]);
    plan.success();
    let json = plan.json();
    let steps = manual_steps(&json);
    assert_eq!(steps.len(), 2, "{json:#}");

    let profile = steps[0];
    assert_eq!(profile["address"], "kiro_console.profile[\"us-east-1\"]");
    assert_eq!(profile["manual"]["title"], "Create the Kiro profile");
    assert_eq!(
        profile["manual"]["where"],
        "AWS console → Kiro (Region us-east-1) → Onboard your team to Kiro → Select your identity management source: IAM Identity Center"
    );
    assert_eq!(profile["after"]["Profile Region"], "us-east-1");
    assert_eq!(profile["after"]["IAM Identity Center instance"], instance);
    assert_eq!(profile["manual"]["record"], "kiro.console.profile_created: true");
    // The IAM actions Kiro documents for the step (kiro.dev "IAM permissions").
    assert_eq!(
        profile["manual"]["permissions"],
        serde_json::json!(["codewhisperer:ListProfiles", "codewhisperer:CreateProfile"])
    );

    let subscription = steps[1];
    assert_eq!(subscription["address"], "kiro_console.subscription[\"kiro_dev_group\"]");
    assert_eq!(subscription["manual"]["title"], "Subscribe group kiro_dev_group to Kiro Pro+");
    assert_eq!(subscription["after"]["Plan"], "Pro+");
    assert_eq!(
        subscription["manual"]["needs"],
        serde_json::json!(["kiro_console.profile[\"us-east-1\"]", "identity_center.group[\"kiro_dev_group\"]"])
    );
    assert_eq!(subscription["manual"]["record"], "kiro.console.subscribe[0].done: true");
    assert_eq!(subscription["manual"]["permissions"], serde_json::json!(["q:CreateAssignment"]));
    assert!(subscription["manual"]["wait"].as_str().unwrap().contains("up to 24 hours"));
    assert_eq!(json["summary"]["manual"], 2);

    let checklist = std::fs::read_to_string(test.file_path("checklist.md")).unwrap();
    let profile_at = checklist.find("- [ ] **Create the Kiro profile**").expect("profile step in the checklist");
    let subscribe_at =
        checklist.find("- [ ] **Subscribe group kiro_dev_group to Kiro Pro+**").expect("subscription in the checklist");
    assert!(profile_at < subscribe_at, "ordered by what they need:\n{checklist}");
    assert!(checklist.contains(&format!("IAM Identity Center instance: `{instance}`")), "{checklist}");
    assert!(checklist.contains("\"Onboard your team to Kiro\""), "the console as it reads today: {checklist}");
    assert!(!checklist.contains("Sign up for Kiro"), "{checklist}");
    assert!(checklist.contains("When done, set `kiro.console.profile_created: true` in plan.yaml"), "{checklist}");
    assert!(
        checklist.contains("Needs IAM permissions: `codewhisperer:ListProfiles`, `codewhisperer:CreateProfile`"),
        "{checklist}"
    );
    assert!(
        checklist.contains("or run `kiro-onboard console done 'kiro_console.profile[\"us-east-1\"]' plan.yaml`"),
        "{checklist}"
    );

    test.again(["plan", "plan.yaml"])
        .success()
        .stdout_has("! kiro_console.profile[\"us-east-1\"]")
        .stdout_has("when done: set `kiro.console.profile_created: true` in the plan")
        .stdout_has("Plan: 3 to create, 0 to update, 0 to delete, 2 manual.");

    // Without a terminal, apply does everything it can and lists what is left to do by hand.
    let apply = test.again(["apply", "plan.yaml", "--yes", "--json"]);
    apply.success();
    let summary = &apply.json()["summary"];
    assert_eq!((summary["applied"].as_u64(), summary["pending"].as_u64()), (Some(3), Some(2)), "{summary}");
    test.again(["apply", "plan.yaml", "--yes"]).success().stdout_has("pending kiro_console.subscription[\"kiro_dev_group\"]: do this in the Kiro console, then set `kiro.console.subscribe[0].done: true` in the plan");
    test.again(["plan", "plan.yaml", "--detailed-exitcode"])
        .code(2)
        .stdout_has("0 to create, 0 to update, 0 to delete, 2 manual.");

    // Recorded as done, nothing is left.
    let mut recorded = Test::new().plan(&plan_yaml(true, true, &["jdoe"], false)).aws(&moto);
    recorded.again(["plan", "plan.yaml", "--detailed-exitcode", "--checklist", "checklist.md"]).code(0);
    assert!(std::fs::read_to_string(recorded.file_path("checklist.md")).unwrap().contains("Nothing to do by hand"));
}

#[tokio::test]
async fn removing_a_member_of_a_subscribed_group_shows_the_console_follow_up() {
    let moto = Moto::start();
    let mut test = Test::new().plan(&plan_yaml(true, true, &["jdoe", "rroe"], true)).aws(&moto);
    test.again(["apply", "plan.yaml", "--yes"]).success();

    let mut smaller = Test::new().plan(&plan_yaml(true, true, &["jdoe"], true)).aws(&moto);
    let plan = smaller.again(["plan", "plan.yaml", "--json"]);
    let json = plan.json();
    assert_eq!(
        change_list(&json),
        vec![
            ("identity_center.membership[\"kiro_dev_group/rroe\"]".into(), "delete".into()),
            ("kiro_console.unsubscribe[\"rroe\"]".into(), "manual".into())
        ]
    );
    let follow_up = manual_steps(&json)[0];
    let instructions = follow_up["manual"]["instructions"].as_array().unwrap();
    assert!(instructions[0].as_str().unwrap().contains("does not remove their Kiro subscription"), "{follow_up:#}");
    assert!(instructions[1].as_str().unwrap().contains("until their next token refresh"), "{follow_up:#}");

    let apply = smaller.again(["apply", "plan.yaml", "--yes"]);
    apply.success().stdout_has("pending kiro_console.unsubscribe[\"rroe\"]");
}

#[tokio::test]
async fn on_a_terminal_each_manual_step_waits_for_the_admin() {
    let moto = Moto::start();
    let test = Test::new().plan(&plan_yaml(false, false, &["jdoe"], false)).aws(&moto);
    // The plan confirmation, then one answer per manual step: yes (done), then later.
    let (code, screen) = crate::identity_center::on_a_terminal(&test, "apply plan.yaml", "yes\nyes\n\n");
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("A step for you in the Kiro console:"), "{screen}");
    assert!(screen.contains("Type yes when it is done, or press Enter to leave it for later: "), "{screen}");
    assert!(
        screen.contains(
            "confirmed kiro_console.profile[\"us-east-1\"]: record it: set `kiro.console.profile_created: true`"
        ),
        "{screen}"
    );
    assert!(screen.contains("pending kiro_console.subscription[\"kiro_dev_group\"]"), "{screen}");
}

#[tokio::test]
async fn audit_does_not_pass_while_a_console_step_is_not_recorded() {
    let moto = Moto::start();
    let mut test = Test::new().plan(&plan_yaml(true, false, &["jdoe"], false)).aws(&moto);
    test.again(["apply", "plan.yaml", "--yes"]).success();
    let audit = test.again(["audit", "plan.yaml", "--json"]);
    audit.code(2);
    let json = audit.json();
    let findings: Vec<&Value> = json["findings"].as_array().unwrap().iter().collect();
    assert_eq!(findings.len(), 1, "{json:#}");
    assert_eq!(findings[0]["code"], "manual_step_pending");
    assert_eq!(findings[0]["address"], "kiro_console.subscription[\"kiro_dev_group\"]");
    assert!(findings[0]["fix"].as_str().unwrap().contains("set `kiro.console.subscribe[0].done: true` in the plan"));
    test.again(["audit", "plan.yaml"]).code(2).stdout_has("not done yet (Subscribe group kiro_dev_group to Kiro Pro+)");

    std::fs::write(test.file_path("plan.yaml"), plan_yaml(true, true, &["jdoe"], false)).unwrap();
    test.again(["audit", "plan.yaml"]).success().stdout_has("Audit passed");
}

/// Each console step names one console, the same in the prompt, the pending note and `--json`:
/// first sign-in is done in the IAM Identity Center console, not the Kiro console.
#[tokio::test]
async fn every_message_about_a_console_step_names_the_same_console() {
    let moto = Moto::start();
    let yaml = plan_yaml(false, false, &["jdoe"], false).replace("  first_sign_in: email_otp\n", "");
    let mut test = Test::new().plan(&yaml).aws(&moto);
    let json = test.again(["plan", "plan.yaml", "--json"]).json();
    let consoles: Vec<(&str, &str)> = manual_steps(&json)
        .iter()
        .map(|c| (c["address"].as_str().unwrap().split('[').next().unwrap(), c["manual"]["console"].as_str().unwrap()))
        .collect();
    assert_eq!(
        consoles,
        [
            ("kiro_console.profile", "kiro"),
            ("identity_center.first_sign_in", "iam_identity_center"),
            ("kiro_console.subscription", "kiro"),
        ],
        "{json:#}"
    );
    // Every step left for later: the prompt and the pending note say the same console.
    let (code, screen) = crate::identity_center::on_a_terminal(&test, "apply plan.yaml", "yes\n\n\n\n");
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("A step for you in the IAM Identity Center console:"), "{screen}");
    assert!(screen.contains("A step for you in the Kiro console:"), "{screen}");
    assert!(
        screen.contains(
            "do this in the IAM Identity Center console, then set `identity_center.first_sign_in: email_otp`"
        ),
        "{screen}"
    );
}
