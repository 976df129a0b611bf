//! Apply interrupted at chosen points of the KMS, DNS (Route 53), Okta and Entra steps. The point is
//! deterministic: a fault proxy holds one specific call, and the test waits until that call is in
//! flight before it signals. SIGKILL, then a second apply finishes the job with nothing duplicated;
//! SIGINT stops after the calls in flight, exits 130 and says what was done and what was not.

use std::process::{Child, Output, Stdio};

use serde_json::{Value, json};

use crate::dns_route53::{
    GOOGLE, SPF, block, create_zone, plan as dns_plan, put_txt, txt_sets, zone_with_spf_and_google,
};
use crate::entra::{Tenant, entra_changes};
use crate::harness::dns::MotoDns;
use crate::harness::{FaultProxy, Moto, Test};
use crate::kms::{IDC_SID, assert_kiro_statements_once, key_with_three_statements, policy_of, put_policy};
use crate::okta::{Org, okta_writes, plan_yaml as okta_plan};

/// A proxy rule that holds the matching call's answer for `seconds`, after the call has reached
/// the server (the write happens; the tool is still waiting when the signal comes).
fn hold_answer(matcher: Value, seconds: f64) -> Value {
    json!({"match": matcher, "times": 1, "fault": {"kind": "delay", "seconds": seconds, "forward_first": true}})
}

/// `apply plan.yaml --yes`, with its output captured, to be signalled while it runs.
fn spawn_apply(test: &Test) -> Child {
    test.command_with(["apply", "plan.yaml", "--yes"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("apply starts")
}

fn kill(mut child: Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

fn ctrl_c(child: Child) -> (Output, String, String) {
    std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(130), "--- stdout\n{stdout}\n--- stderr\n{stderr}");
    assert!(stderr.contains("interrupted: finishing the calls in flight"), "{stderr}");
    assert!(stdout.contains("Apply interrupted") && stdout.contains("Run apply again to finish"), "{stdout}");
    (output, stdout, stderr)
}

fn is_target(entry: &Value, target: &str) -> bool {
    entry["target"] == target
}

fn kms_idc_plan(key: &str, users: &[&str], extra: &str) -> String {
    let mut yaml = String::from(
        "version: 1\nkiro: { profile_region: us-east-1, console: { profile_created: true } }\naws: { region: us-east-1 }\nidentity_center:\n  users:\n",
    );
    for user in users {
        yaml.push_str(&format!(
            "    - {{ user_name: {user}, given_name: G{user}, family_name: F{user}, email: {user}@example.com }}\n"
        ));
    }
    yaml.push_str(&format!("  groups:\n    - name: kiro_dev_group\n      members: [{}]\n", users.join(", ")));
    yaml.push_str(&format!("kms:\n  key: {key}\n{extra}"));
    yaml
}

async fn user_count(moto: &Moto) -> usize {
    let (_, store) = moto.instance().await;
    let client = aws_sdk_identitystore::Client::new(&moto.sdk().await);
    client.list_users().identity_store_id(&store).send().await.unwrap().users().len()
}

#[tokio::test]
async fn kms_apply_killed_at_each_point_converges_without_duplicate_statements() {
    let moto = Moto::start();
    let (key, original) = key_with_three_statements(&moto).await;
    let proxy = FaultProxy::start(&moto.endpoint);
    let mut test = Test::new().plan(&kms_idc_plan(&key, &["jdoe", "rroe"], "")).aws_via(&moto, &proxy.url());

    // Each point: which call is in flight when SIGKILL comes.
    let points: [(&str, Value); 3] = [
        // Identity Center's first write landed, its answer not yet back: kms not started.
        ("CreateUser", hold_answer(json!({"target": "AWSIdentityStore.CreateUser"}), 30.0)),
        // Reading the key policy, before any KMS write.
        (
            "GetKeyPolicy",
            json!({"match": {"target": "TrentService.GetKeyPolicy"}, "times": 1, "fault": {"kind": "delay", "seconds": 30}}),
        ),
        // The merged policy written, the answer not yet back.
        ("PutKeyPolicy", hold_answer(json!({"target": "TrentService.PutKeyPolicy"}), 30.0)),
    ];
    for (operation, rule) in points {
        put_policy(&moto, &key, &original).await;
        proxy.rule(rule);
        let child = spawn_apply(&test);
        let target = if operation == "CreateUser" {
            "AWSIdentityStore.CreateUser".to_owned()
        } else {
            format!("TrentService.{operation}")
        };
        proxy.wait_in_flight(operation, |r| is_target(r, &target));
        kill(child);
        proxy.clear();

        test.again(["apply", "plan.yaml", "--yes"]).success();
        assert_kiro_statements_once(&policy_of(&moto, &key).await, &original);
        assert_eq!(user_count(&moto).await, 2, "killed at {operation}: no duplicate users");
        let writes: Vec<_> = test.again(["plan", "plan.yaml", "--json"]).json()["changes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["action"] != "manual")
            .cloned()
            .collect();
        assert!(writes.is_empty(), "killed at {operation}, nothing left after the second apply: {writes:?}");
    }
}

#[test]
fn kms_ctrl_c_during_the_policy_write_finishes_it_and_names_the_step_not_started() {
    let moto = Moto::start();
    let (key, original, zone) = block(async {
        let (key, original) = key_with_three_statements(&moto).await;
        (key, original, create_zone(&moto, "example.com", false).await)
    });
    let dns = MotoDns::start(&moto);
    let proxy = FaultProxy::start(&moto.endpoint);
    let domains = format!(
        "domains:\n  - name: example.com\n    token: kiro-verification=tok-1\n    dns: route53\nresolvers: [\"{}\"]\n",
        dns.resolver()
    );
    let mut test = Test::new()
        .plan(&kms_idc_plan(&key, &["jdoe"], &domains))
        .aws_via(&moto, &proxy.url())
        .env("KIRO_ONBOARD_DNS_PORT", &dns.port());
    proxy.rule(hold_answer(json!({"target": "TrentService.PutKeyPolicy"}), 2.0));

    let child = spawn_apply(&test);
    proxy.wait_in_flight("PutKeyPolicy", |r| is_target(r, "TrentService.PutKeyPolicy"));
    let (_, stdout, _) = ctrl_c(child);
    // The write in flight was finished and is reported; the DNS step never started.
    assert!(stdout.contains(&format!("kms.statement[\"{IDC_SID}\"]")), "{stdout}");
    assert!(stdout.contains("not done step dns was not started"), "{stdout}");
    assert_kiro_statements_once(&block(policy_of(&moto, &key)), &original);
    assert!(block(txt_sets(&moto, &zone, "kiro-app-1.example.com")).is_empty(), "nothing after the interrupt");

    proxy.clear();
    test.again(["apply", "plan.yaml", "--yes"]).success();
    assert_kiro_statements_once(&block(policy_of(&moto, &key)), &original);
    assert_eq!(
        block(txt_sets(&moto, &zone, "kiro-app-1.example.com")),
        [(Some(300), vec!["\"kiro-verification=tok-1\"".to_owned()])]
    );
}

#[test]
fn route53_apply_killed_or_interrupted_during_the_write_converges_to_one_record_set() {
    let moto = Moto::start();
    let zone = zone_with_spf_and_google(&moto);
    let dns = MotoDns::start(&moto);
    let proxy = FaultProxy::start(&moto.endpoint);
    let yaml =
        dns_plan("  - name: example.com\n    token: kiro-verification=tok-1\n    dns: route53\n", &dns.resolver());
    let mut test = Test::new().plan(&yaml).aws_via(&moto, &proxy.url()).env("KIRO_ONBOARD_DNS_PORT", &dns.port());
    let rrset = format!("/2013-04-01/hostedzone/{zone}/rrset");
    let is_write = |r: &Value| r["method"] == "POST" && r["path"] == rrset.as_str();
    let is_poll = |r: &Value| r["path"].as_str().unwrap().starts_with("/2013-04-01/change/");
    let converged = [(Some(3600), vec![SPF.to_owned(), GOOGLE.to_owned(), "\"kiro-verification=tok-1\"".to_owned()])];
    let original = [(Some(3600), vec![SPF.to_owned(), GOOGLE.to_owned()])];

    // SIGKILL with the write landed but unanswered, then while waiting for INSYNC.
    for (what, matcher, is_held) in [
        ("ChangeResourceRecordSets", json!({"method": "POST", "path": rrset}), &is_write as &dyn Fn(&Value) -> bool),
        ("GetChange", json!({"method": "GET", "path_prefix": "/2013-04-01/change/"}), &is_poll),
    ] {
        block(put_txt(&moto, &zone, "kiro-app-1.example.com", &[SPF, GOOGLE]));
        proxy.rule(hold_answer(matcher, 30.0));
        let child = spawn_apply(&test);
        proxy.wait_in_flight(what, is_held);
        kill(child);
        proxy.clear();
        test.again(["apply", "plan.yaml", "--yes"]).success();
        assert_eq!(block(txt_sets(&moto, &zone, "kiro-app-1.example.com")), converged, "killed at {what}");
    }

    // Ctrl-C with the write in flight: the write is finished and reported, then apply stops.
    block(put_txt(&moto, &zone, "kiro-app-1.example.com", &[SPF, GOOGLE]));
    assert_eq!(block(txt_sets(&moto, &zone, "kiro-app-1.example.com")), original);
    proxy.rule(hold_answer(json!({"method": "POST", "path": rrset}), 2.0));
    let child = spawn_apply(&test);
    proxy.wait_in_flight("ChangeResourceRecordSets", is_write);
    let (_, stdout, _) = ctrl_c(child);
    assert!(stdout.contains("dns.txt[\"kiro-app-1.example.com\"]"), "{stdout}");
    proxy.clear();
    test.again(["apply", "plan.yaml", "--yes"]).success();
    assert_eq!(block(txt_sets(&moto, &zone, "kiro-app-1.example.com")), converged);
    test.again(["plan", "plan.yaml", "--detailed-exitcode"]).success();
}

/// One Kiro app, Kiro Users assigned once, and no Okta write left to make.
#[track_caller]
fn assert_okta_converged(org: &Org, test: &mut Test) {
    let (_, apps) = org.api("GET", "/api/v1/apps?q=Kiro&limit=200", None);
    let kiro: Vec<&Value> = apps.as_array().unwrap().iter().filter(|a| a["label"] == "Kiro").collect();
    assert_eq!(kiro.len(), 1, "exactly one Kiro app");
    let (_, groups) = org.api("GET", &format!("/api/v1/apps/{}/groups", kiro[0]["id"].as_str().unwrap()), None);
    assert_eq!(groups.as_array().unwrap().len(), 1, "Kiro Users assigned once: {groups}");
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    plan.success();
    assert_eq!(okta_writes(&plan.json()), Vec::<String>::new());
}

#[test]
fn okta_apply_killed_or_interrupted_part_way_converges_without_a_second_app() {
    // SIGKILL with the app created but unanswered, then with the group assignment unanswered.
    for (what, matcher) in [
        ("the app create", json!({"method": "POST", "path": "/api/v1/apps"})),
        ("the group assignment", json!({"method": "PUT", "path_prefix": "/api/v1/apps/"})),
    ] {
        let org = Org::start(&[]);
        let proxy = FaultProxy::start(&org.url());
        let mut test = org.test(&okta_plan(&proxy.url(), ""));
        proxy.rule(hold_answer(matcher.clone(), 30.0));
        let child = spawn_apply(&test);
        proxy.wait_in_flight(what, |r| {
            r["method"] == matcher["method"]
                && r["path"]
                    .as_str()
                    .unwrap()
                    .starts_with(matcher["path"].as_str().or(matcher["path_prefix"].as_str()).unwrap())
        });
        kill(child);
        proxy.clear();
        test.again(["apply", "plan.yaml", "--yes"]).success();
        assert_okta_converged(&org, &mut test);
    }

    // Ctrl-C while the app is being created: the create finishes, the rest is listed as not done.
    let org = Org::start(&[]);
    let proxy = FaultProxy::start(&org.url());
    let mut test = org.test(&okta_plan(&proxy.url(), ""));
    proxy.rule(hold_answer(json!({"method": "POST", "path": "/api/v1/apps"}), 2.0));
    let child = spawn_apply(&test);
    proxy.wait_in_flight("the app create", |r| r["method"] == "POST" && r["path"] == "/api/v1/apps");
    let (_, stdout, _) = ctrl_c(child);
    assert!(stdout.contains("okta.application[\"Kiro\"]"), "{stdout}");
    assert!(stdout.contains("not done okta.assignment[\"Kiro Users\"]: interrupted"), "{stdout}");
    proxy.clear();
    test.again(["apply", "plan.yaml", "--yes"]).success();
    assert_okta_converged(&org, &mut test);
}

/// Every re-run of an interrupted Entra apply ends with one app, one assignment and one
/// provisioning job, and the next plan is clean.
fn entra_converged(tenant: &Tenant, test: &mut Test) {
    let state = tenant.state();
    assert_eq!(state["applications"].as_array().unwrap().len(), 1, "one app");
    assert_eq!(state["appRoleAssignments"].as_array().unwrap().len(), 1, "one assignment");
    assert_eq!(state["synchronization"]["jobs"].as_array().unwrap().len(), 1, "one provisioning job");
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    assert!(entra_changes(&plan.json()).is_empty(), "{}", plan.stdout);
}

/// Entra: SIGKILL while `method` `path_end` (a body with `body`) is written but unanswered, then a
/// second apply.
fn entra_killed_while_held(what: &str, method: &str, path_end: &str, body: &str) {
    let tenant = Tenant::start();
    let proxy = FaultProxy::start(&tenant.graph.url());
    let mut test = tenant.test(&tenant.plan_yaml("")).env("KIRO_ONBOARD_GRAPH_URL", &proxy.url());
    proxy.rule(hold_answer(
        json!({"method": method, "path_prefix": "/v1.0/servicePrincipals/", "body_contains": body}),
        30.0,
    ));
    let child = spawn_apply(&test);
    proxy.wait_in_flight(what, |r| r["method"] == method && r["path"].as_str().unwrap().ends_with(path_end));
    kill(child);
    proxy.clear();
    test.again(["apply", "plan.yaml", "--yes"]).success();
    entra_converged(&tenant, &mut test);
}

/// Entra: SIGKILL with the group assignment written but unanswered; Ctrl-C while the app is being
/// created. (SIGKILL with the provisioning secrets: the next test, so that the two run at once.)
#[test]
fn entra_apply_killed_or_interrupted_part_way_converges_without_duplicates() {
    entra_killed_while_held("the group assignment", "POST", "/appRoleAssignedTo", "principalId");

    let tenant = Tenant::start();
    let proxy = FaultProxy::start(&tenant.graph.url());
    let mut test = tenant.test(&tenant.plan_yaml("")).env("KIRO_ONBOARD_GRAPH_URL", &proxy.url());
    proxy.rule(hold_answer(json!({"method": "POST", "path_prefix": "/v1.0/applicationTemplates/"}), 2.0));
    let child = spawn_apply(&test);
    proxy.wait_in_flight("the app create", |r| {
        r["method"] == "POST" && r["path"].as_str().unwrap().starts_with("/v1.0/applicationTemplates/")
    });
    let (_, stdout, _) = ctrl_c(child);
    assert!(stdout.contains("entra.application[\"Kiro-Entra\"]"), "{stdout}");
    assert!(stdout.contains("not done"), "{stdout}");
    proxy.clear();
    test.again(["apply", "plan.yaml", "--yes"]).success();
    entra_converged(&tenant, &mut test);
}

/// Entra: SIGKILL with the provisioning secrets written but unanswered.
#[test]
fn entra_apply_killed_while_saving_the_provisioning_secrets_converges_without_duplicates() {
    entra_killed_while_held("the provisioning secrets", "PUT", "/synchronization/secrets", "BaseAddress");
}
