//! `import`: a plan written from a console-made state, such that `plan` right after proposes no
//! create, update or delete (only findings and console steps); clear errors for names not found;
//! no overwrite without --force.

use aws_sdk_identitystore::types::{Email, MemberId, Name};

use crate::dns_route53::{block, create_zone, put_txt};
use crate::harness::dns::DnsServer;
use crate::harness::{Moto, Test};

/// What an admin clicked together in the IAM Identity Center console: two people in a group,
/// one with a display name of their own, and an unrelated group.
async fn console_made(moto: &Moto) {
    let (_, store) = moto.instance().await;
    let client = aws_sdk_identitystore::Client::new(&moto.sdk().await);
    let group = client
        .create_group()
        .identity_store_id(&store)
        .display_name("kiro-devs")
        .description("Kiro seats")
        .send()
        .await
        .unwrap()
        .group_id;
    client.create_group().identity_store_id(&store).display_name("kiro-admins").send().await.unwrap();
    for (user, given, family, display) in
        [("adoe", "Ann", "Doe", "Ann Doe"), ("broe", "Bob", "Roe", "Bob R. (contractor)")]
    {
        let id = client
            .create_user()
            .identity_store_id(&store)
            .user_name(user)
            .display_name(display)
            .name(Name::builder().given_name(given).family_name(family).build())
            .emails(Email::builder().value(format!("{user}@example.com")).primary(true).build())
            .send()
            .await
            .unwrap()
            .user_id;
        client
            .create_group_membership()
            .identity_store_id(&store)
            .group_id(&group)
            .member_id(MemberId::UserId(id))
            .send()
            .await
            .unwrap();
    }
}

/// The `(address, action)` pairs of a `plan --json` that write: none after an import.
pub(crate) fn writes(json: &serde_json::Value) -> Vec<(String, String)> {
    crate::harness::test::change_list(json)
        .into_iter()
        .filter(|(_, action)| matches!(action.as_str(), "create" | "update" | "delete"))
        .collect()
}

#[test]
fn identity_center_groups_members_key_and_domain_import_to_a_plan_that_changes_nothing() {
    let moto = Moto::start();
    block(console_made(&moto));
    let (key, _) = block(crate::kms::key_with_three_statements(&moto));
    let zone = block(create_zone(&moto, "example.com", false));
    block(put_txt(&moto, &zone, "kiro-app-1.example.com", &["\"kiro-verification=tok-1\""]));
    // The domain checks ask the fixture DNS server, never the internet.
    let server = DnsServer::start();
    let resolver = server.resolver();
    let mut test = Test::new().aws(&moto).env("KIRO_ONBOARD_DNS_PORT", &server.port());
    let args = ["import", "--idp", "identity-center", "--group", "kiro-devs", "--kms-key", &key];
    let mut with_out: Vec<&str> = args.to_vec();
    with_out.extend(["--domain", "example.com", "--resolver", &resolver, "--out", "plan.yaml"]);
    test.again(&with_out).success();
    let written = std::fs::read_to_string(test.file_path("plan.yaml")).unwrap();
    for expected in [
        "name: kiro-devs",
        "- adoe",
        "- broe",
        "display_name: \"Bob R. (contractor)\"",
        "manage: snippet",
        "dns: route53",
        "token: kiro-verification=tok-1",
        "# true once the group is subscribed",
        resolver.as_str(),
    ] {
        assert!(written.contains(expected), "plan lacks {expected:?}:\n{written}");
    }
    assert!(written.contains(&zone), "the zone is named:\n{written}");
    assert!(!written.contains("kiro-admins"), "only the named group is adopted:\n{written}");
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    let json = plan.json();
    assert_eq!(writes(&json), Vec::<(String, String)>::new(), "plan after import:\n{}", plan.stdout);
    assert!(
        crate::harness::test::change_list(&json).iter().any(|(_, action)| action == "manual"),
        "the console steps are still shown:\n{}",
        plan.stdout
    );

    // Without --out the plan goes to stdout; an existing --out is kept unless --force.
    let printed = test.again(args);
    printed.success();
    assert!(printed.stdout.contains("name: kiro-devs"), "{}", printed.stdout);
    test.again(["import", "--idp", "identity-center", "--group", "kiro-devs", "--out", "plan.yaml"])
        .code(1)
        .stderr_has("plan.yaml already exists")
        .stderr_has("--force");
    assert_eq!(std::fs::read_to_string(test.file_path("plan.yaml")).unwrap(), written);
    test.again(["import", "--idp", "identity-center", "--group", "kiro-devs", "--out", "plan.yaml", "--force"])
        .success();
}

#[test]
fn a_group_not_found_lists_the_groups_there_are() {
    let moto = Moto::start();
    block(console_made(&moto));
    let mut test = Test::new().aws(&moto);
    test.again(["import", "--idp", "identity-center", "--group", "kiro-dev"])
        .code(1)
        .stderr_has("no group named kiro-dev")
        .stderr_has("kiro-admins, kiro-devs")
        .stderr_has("--group");
}

/// What an admin types wrong, refused before anything is read, each with a `hint:` in terms of
/// the flags: a flag another `--idp` reads, a flag the chosen one needs, an Okta app id given to
/// Entra; and the sign-in import needs, without the plan-only alternative.
#[test]
fn flags_of_another_idp_are_refused_and_missing_ones_say_what_to_type() {
    let mut test = Test::new();
    let config = test.file_path("config");
    test = test.env("KIRO_ONBOARD_CONFIG_DIR", config.to_str().unwrap());
    let okta = ["import", "--idp", "okta", "--org-url", "https://example.okta.com", "--app-label", "Kiro"];
    let cases: &[(Vec<&str>, &[&str])] = &[
        ([&okta[..], &["--group", "Kiro Users"]].concat(), &["--group", "--idp identity-center"]),
        ([&okta[..], &["--tenant", "example.onmicrosoft.com"]].concat(), &["--tenant", "--idp entra"]),
        (
            vec!["import", "--idp", "entra", "--tenant", "example.onmicrosoft.com", "--app-label", "Kiro"],
            &["--app-label", "--idp okta"],
        ),
        (
            vec!["import", "--idp", "identity-center", "--group", "devs", "--app-id", "x", "--org-url", "https://e"],
            &["--app-id, --org-url", "--idp entra", "--idp okta"],
        ),
        (
            vec!["import", "--idp", "entra", "--app-name", "Kiro"],
            &["needs --tenant", "--tenant example.onmicrosoft.com"],
        ),
        (vec!["import", "--idp", "okta", "--app-label", "Kiro"], &["needs --org-url", "--org-url https://"]),
        (vec!["import", "--idp", "entra", "--tenant", "example.onmicrosoft.com"], &["--app-name", "--app-id"]),
        (vec!["import", "--idp", "okta", "--org-url", "https://example.okta.com"], &["--app-label", "--app-id"]),
        (vec!["import", "--idp", "identity-center"], &["needs at least one --group", "--group NAME"]),
        (
            vec!["import", "--idp", "entra", "--tenant", "example.onmicrosoft.com", "--app-id", "0oa1b2c3d4e5f6g7h8i9"],
            &["not an Entra appId", "--idp okta"],
        ),
        (
            vec!["import", "--idp", "entra", "--tenant", "example.onmicrosoft.com", "--app-name", "Kiro"],
            &["not signed in", "login entra --tenant example.onmicrosoft.com"],
        ),
        (
            vec!["import", "--idp", "okta", "--org-url", "example.okta.com", "--app-label", "Kiro"],
            &["--org-url: `example.okta.com` is not an https:// Okta org URL", "https://YOUR-ORG.okta.com"],
        ),
    ];
    for (args, expected) in cases {
        let out = test.again(args);
        out.code(1).stderr_has("hint:");
        for text in *expected {
            out.stderr_has(text);
        }
        assert!(!out.stderr.contains("client_credentials"), "import has no plan to set it in: {}", out.stderr);
    }
}

/// `import --json`: one document on stdout (the plan as YAML text and as data, what was adopted,
/// the writes plan would still propose, the findings, the hints) instead of the YAML; with
/// `--out` the file is written and the document names it.
#[test]
fn import_json_identity_center_is_one_document_of_the_plan_and_what_was_adopted() {
    let moto = Moto::start();
    block(console_made(&moto));
    let mut test = Test::new().aws(&moto);
    let printed = test.again(["import", "--idp", "identity-center", "--group", "kiro-devs", "--json"]);
    printed.success();
    let document = printed.json();
    assert_eq!(document["format_version"], "1", "{document:#}");
    assert_eq!(document["command"], "import", "{document:#}");
    assert_eq!(document["idp"], "identity-center", "{document:#}");
    assert_eq!(document["out"], serde_json::Value::Null, "{document:#}");
    let yaml = document["plan"].as_str().unwrap_or_default();
    assert!(yaml.contains("name: kiro-devs") && yaml.contains("# true once the group"), "{document:#}");
    assert_eq!(document["plan_data"]["identity_center"]["groups"][0]["name"], "kiro-devs", "{document:#}");
    let adopted = &document["adopted"];
    assert_eq!(adopted["groups"], serde_json::json!(["kiro-devs"]), "{document:#}");
    assert_eq!(adopted["users"], serde_json::json!(["adoe", "broe"]), "{document:#}");
    assert!(adopted["instance_arn"].as_str().unwrap_or_default().starts_with("arn:aws:sso:::instance/"));
    assert_eq!(adopted["domains"], serde_json::json!([]), "{document:#}");
    assert_eq!(document["fix_settings"], serde_json::Value::Null, "no such key for Identity Center");
    assert_eq!(document["remaining_writes"], serde_json::json!([]), "{document:#}");
    assert!(document["findings"].is_array() && document["hints"].is_array(), "{document:#}");
    assert!(!printed.stderr.contains("hint:"), "with --json the document holds the hints:\n{}", printed.stderr);

    let written =
        test.again(["import", "--idp", "identity-center", "--group", "kiro-devs", "--out", "p.yaml", "--json"]);
    written.success();
    let document = written.json();
    assert_eq!(document["out"], "p.yaml", "{document:#}");
    assert_eq!(document["plan"], serde_json::Value::Null, "the YAML is in the file: {document:#}");
    assert_eq!(document["plan_data"]["identity_center"]["groups"][0]["name"], "kiro-devs", "{document:#}");
    assert!(std::fs::read_to_string(test.file_path("p.yaml")).unwrap().contains("name: kiro-devs"));

    // An error is the error document of `import`.
    let failed = test.again(["import", "--idp", "identity-center", "--group", "kiro-dev", "--json"]);
    failed.code(1).stderr_has("error: Identity Center has no group named kiro-dev");
    let document = failed.json();
    assert_eq!(document["command"], "import", "{document:#}");
    assert!(document["error"]["message"].as_str().unwrap_or_default().contains("no group named kiro-dev"));
    assert!(document["error"]["hint"].as_str().unwrap_or_default().contains("kiro-admins, kiro-devs"));
}

/// Errors before anything is read, and arguments clap refuses, are the error document under `--json`.
#[test]
fn import_json_errors_are_one_json_document() {
    let mut test = Test::new();
    let config = test.file_path("config");
    test = test.env("KIRO_ONBOARD_CONFIG_DIR", config.to_str().unwrap());
    for (args, message) in [
        (&["import", "--idp", "identity-center", "--json"][..], "needs at least one --group"),
        (
            &["import", "--idp", "entra", "--tenant", "example.onmicrosoft.com", "--app-name", "Kiro", "--json"][..],
            "not signed in",
        ),
        (&["import", "--idp", "nowhere", "--json"][..], "nowhere"),
    ] {
        let out = test.again(args);
        out.code(1);
        let document = out.json();
        assert_eq!(document["format_version"], "1", "{document:#}");
        assert_eq!(document["command"], "import", "{document:#}");
        let said = document["error"]["message"].as_str().unwrap_or_default();
        assert!(said.contains(message), "{args:?}: {said:?}");
        assert!(out.stderr.contains(said), "the error is said on stderr too:\n{}", out.stderr);
    }
}
