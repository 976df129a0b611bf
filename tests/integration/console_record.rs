//! Console steps recorded in the plan file without editing YAML by hand: `console done` and the
//! offer an interactive apply makes. The edit is that one value: every other byte stays.

use crate::harness::{Moto, Test};

fn playbook(name: &str) -> String {
    std::fs::read_to_string(format!("{}/playbooks/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The one line that differs between two versions of a file (same number of lines).
fn the_changed_line(before: &str, after: &str) -> (String, String) {
    let (old, new): (Vec<&str>, Vec<&str>) = (before.split('\n').collect(), after.split('\n').collect());
    assert_eq!(old.len(), new.len(), "lines were added or removed:\n{after}");
    let changed: Vec<(&str, &str)> = old.iter().zip(&new).filter(|(a, b)| a != b).map(|(a, b)| (*a, *b)).collect();
    assert_eq!(changed.len(), 1, "exactly one line changes: {changed:#?}");
    (changed[0].0.to_owned(), changed[0].1.to_owned())
}

/// A console step's address, and the text its record changes on its line: before → after.
type Recorded<'a> = (&'a str, &'a str, &'a str);

#[test]
fn console_done_records_each_step_of_every_playbook_and_changes_nothing_else() {
    let cases: &[(&str, &[Recorded])] = &[
        (
            "identity-center.yaml",
            &[
                ("kiro_console.profile[\"us-east-1\"]", "profile_created: false", "profile_created: true "),
                ("kiro_console.subscription[\"kiro_dev_group\"]", "done: false }", "done: true }"),
            ],
        ),
        (
            "identity-center-kms.yaml",
            &[
                ("kiro_console.profile[\"us-east-1\"]", "profile_created: false", "profile_created: true "),
                ("kiro_console.subscription[\"kiro_dev_group\"]", "done: false }", "done: true }"),
            ],
        ),
        (
            "entra.yaml",
            &[
                ("kiro_console.profile[\"us-east-1\"]", "profile_created: false", "profile_created: true "),
                ("kiro_console.subscription[\"Kiro Developers\"]", "done: false }", "done: true }"),
            ],
        ),
        (
            "okta.yaml",
            &[
                ("kiro_console.profile[\"us-east-1\"]", "profile_created: false", "profile_created: true "),
                ("kiro_console.subscription[\"Kiro Users\"]", "done: false }", "done: true }"),
                ("okta.provisioning[\"Kiro SCIM\"]", "done: false ", "done: true  "),
            ],
        ),
    ];
    for (name, steps) in cases {
        let mut test = Test::new().plan(&playbook(name));
        for (address, old, new) in *steps {
            let before = std::fs::read_to_string(test.file_path("plan.yaml")).unwrap();
            let run = test.again(["console", "done", address, "plan.yaml"]);
            run.success().stdout_has("--- plan.yaml").stderr_has("nothing else in it changed");
            let after = std::fs::read_to_string(test.file_path("plan.yaml")).unwrap();
            let (old_line, new_line) = the_changed_line(&before, &after);
            assert_eq!(old_line.replacen(old, new, 1), new_line, "{name} {address}");
            assert!(run.stdout.contains(&format!("-{old_line}\n+{new_line}\n")), "{}", run.stdout);

            // Recorded once: the second time is a no-op, and the step is gone from the plan.
            test.again(["console", "done", address, "plan.yaml"]).success().stderr_has("recorded as done");
            assert_eq!(std::fs::read_to_string(test.file_path("plan.yaml")).unwrap(), after);
        }
        test.again(["validate", "plan.yaml"]).success();
    }
}

#[test]
fn a_domain_token_is_recorded_with_value_and_must_be_a_valid_plan() {
    let source =
        format!("{}\ndomains:\n  - {{ name: example.com, dns: manual }}   # our domain\n", playbook("entra.yaml"));
    let mut test = Test::new().plan(&source);
    let address = "kiro_console.domain[\"example.com\"]";
    test.again(["console", "done", address, "plan.yaml"])
        .code(1)
        .stderr_has("records the token Kiro shows")
        .stderr_has("--value");
    test.again(["console", "done", address, "plan.yaml", "--value", ""]).code(1);
    assert_eq!(std::fs::read_to_string(test.file_path("plan.yaml")).unwrap(), source, "nothing written on error");

    let run =
        test.again(["console", "done", address, "plan.yaml", "--value", "kiro-site-verification=abc123", "--json"]);
    run.success();
    let json = run.json();
    assert_eq!(json["command"], "console done");
    assert_eq!(json["changed"], true);
    assert_eq!(json["recorded"], "domains[0].token: \"kiro-site-verification=abc123\"");
    let after = std::fs::read_to_string(test.file_path("plan.yaml")).unwrap();
    let (_, new_line) = the_changed_line(&source, &after);
    assert_eq!(
        new_line,
        "  - { name: example.com, dns: manual, token: \"kiro-site-verification=abc123\" }   # our domain"
    );
    test.again(["validate", "plan.yaml"]).success();
}

#[test]
fn a_step_that_is_checked_not_recorded_and_an_unknown_address_are_clear_errors() {
    let mut test = Test::new().plan(&playbook("okta.yaml"));
    let source = std::fs::read_to_string(test.file_path("plan.yaml")).unwrap();
    test.again(["console", "done", "kiro_console.profile[\"eu-central-1\"]", "plan.yaml"])
        .code(1)
        .stderr_has("has no console step kiro_console.profile[\"eu-central-1\"]")
        .stderr_has("hint: its console steps are 'kiro_console.profile[\"us-east-1\"]'");
    // Shells eat the quotes: the address still matches.
    test.again(["console", "done", "kiro_console.profile[us-east-1]", "plan.yaml", "--value", "x"])
        .code(1)
        .stderr_has("takes no --value");
    assert_eq!(std::fs::read_to_string(test.file_path("plan.yaml")).unwrap(), source);
}

/// The first-sign-in step is keyed by the identity store, which `console done` (offline) cannot
/// read: it takes the address the plan printed and adds the one line to `identity_center`.
#[test]
fn console_done_records_first_sign_in_as_one_added_line_in_the_identity_center_section() {
    let source = playbook("identity-center.yaml");
    let mut test = Test::new().plan(&source);
    let address = "identity_center.first_sign_in[\"d-9067f1a2b3\"]";
    let run = test.again(["console", "done", address, "plan.yaml", "--json"]);
    run.success();
    let json = run.json();
    assert_eq!(json["address"], address);
    assert_eq!(json["recorded"], "identity_center.first_sign_in: email_otp");
    let after = std::fs::read_to_string(test.file_path("plan.yaml")).unwrap();
    let added = "      prune_members: false         # true: remove members this file does not list\n  first_sign_in: email_otp\n";
    assert_eq!(
        after,
        source.replacen(
            "      prune_members: false         # true: remove members this file does not list\n",
            added,
            1
        ),
        "one line added at the end of identity_center, nothing else changed"
    );
    assert!(json["diff"].as_str().unwrap().contains("\n+  first_sign_in: email_otp\n"), "{json:#}");
    test.again(["validate", "plan.yaml"]).success();

    // Shells eat the quotes; the second time nothing changes.
    test.again(["console", "done", "identity_center.first_sign_in[d-9067f1a2b3]", "plan.yaml"])
        .success()
        .stderr_has("identity_center.first_sign_in[\"d-9067f1a2b3\"] is recorded as done in plan.yaml already");
    assert_eq!(std::fs::read_to_string(test.file_path("plan.yaml")).unwrap(), after);

    // A plan that lists no users has no first-sign-in step.
    let mut no_users = Test::new().plan(&playbook("entra.yaml"));
    no_users.again(["console", "done", address, "plan.yaml"]).code(1).stderr_has("has no console step");
}

#[tokio::test]
async fn a_step_confirmed_at_the_prompt_is_recorded_in_the_plan_after_review() {
    let moto = Moto::start();
    let (_, store) = moto.instance().await;
    let source = playbook("identity-center.yaml");
    let test = Test::new().plan(&source).aws(&moto);
    // One confirmation style, typed `yes`: apply? yes · profile done? yes · record it? yes ·
    // first sign-in done? yes · record it? yes · subscription done? yes · record it? (Enter: no)
    let (code, screen) =
        crate::identity_center::on_a_terminal(&test, "apply plan.yaml", "yes\nyes\nyes\nyes\nyes\nyes\n\n");
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen.contains("needs IAM permissions: codewhisperer:ListProfiles, codewhisperer:CreateProfile"),
        "{screen}"
    );
    assert!(screen.contains("-    profile_created: false"), "the diff is shown first:\n{screen}");
    assert!(
        screen.contains("Record this in plan.yaml? Only the lines shown change. Type yes to record it: "),
        "{screen}"
    );
    assert!(
        screen.contains(
            "confirmed kiro_console.profile[\"us-east-1\"]: recorded `kiro.console.profile_created: true` in plan.yaml"
        ),
        "{screen}"
    );
    assert!(screen.contains("+  first_sign_in: email_otp"), "{screen}");
    assert!(
        screen.contains(&format!(
            "confirmed identity_center.first_sign_in[\"{store}\"]: recorded `identity_center.first_sign_in: email_otp` in plan.yaml"
        )),
        "{screen}"
    );
    assert!(
        screen.contains("confirmed kiro_console.subscription[\"kiro_dev_group\"]: record it: set `kiro.console.subscribe[0].done: true`"),
        "declined: not recorded\n{screen}"
    );
    let after = std::fs::read_to_string(test.file_path("plan.yaml")).unwrap();
    let expected = source.replacen("profile_created: false", "profile_created: true ", 1).replacen(
        "      prune_members: false         # true: remove members this file does not list\n",
        "      prune_members: false         # true: remove members this file does not list\n  first_sign_in: email_otp\n",
        1,
    );
    assert_eq!(after, expected);
}
