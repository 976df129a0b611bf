//! KMS, Route 53, Graph and Okta behind tests/servers/fault_proxy.py: throttling in each service's
//! own shape, server errors, connection resets, answers slower than the call timeout and answers
//! that come late but in time. Apply converges with nothing duplicated and nothing lost, and a
//! service that stays down is a clear error within bounded time, with nothing half-written.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::dns_route53::{GOOGLE, SPF, block, plan as dns_plan, txt_sets, zone_with_spf_and_google};
use crate::entra::{Tenant, entra_changes};
use crate::harness::dns::MotoDns;
use crate::harness::{FaultProxy, Moto, Test};
use crate::kms::{assert_kiro_statements_once, key_with_three_statements, plan_yaml as kms_plan, policy_of};
use crate::okta::{Org, okta_writes, plan_yaml as okta_plan};

/// The call timeout the tests give the tool, so that "slower than the timeout" costs seconds.
const CALL_TIMEOUT: &str = "2.5";

/// KMS's throttling answer (JSON 1.1): `ThrottlingException`, the message in a lowercase
/// `message` member, and no `RetryAfterSeconds`.
fn kms_throttle() -> Value {
    json!({"kind": "aws_throttle", "message_key": "message",
           "message": "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls."})
}

fn kms_target(operation: &str) -> Value {
    json!({"target": format!("TrentService.{operation}")})
}

/// The proxy's log entries for one KMS operation: (arrival time, fault injected, status sent).
fn kms_attempts(proxy: &FaultProxy, operation: &str) -> Vec<(f64, Option<String>, Option<u64>)> {
    let target = format!("TrentService.{operation}");
    proxy
        .log()
        .iter()
        .filter(|r| r["target"] == target.as_str())
        .map(|r| (r["time"].as_f64().unwrap(), r["fault"].as_str().map(str::to_owned), r["status"].as_u64()))
        .collect()
}

#[tokio::test]
async fn kms_throttling_as_kms_sends_it_is_retried_with_backoff_and_the_policy_converges() {
    let moto = Moto::start();
    let (key, original) = key_with_three_statements(&moto).await;
    let proxy = FaultProxy::start(&moto.endpoint);
    proxy.rule(json!({"match": kms_target("GetKeyPolicy"), "times": 2, "fault": kms_throttle()}));
    proxy.rule(json!({"match": kms_target("PutKeyPolicy"), "times": 2, "fault": kms_throttle()}));
    let mut test = Test::new().plan(&kms_plan(&format!("  key: {key}"))).aws_via(&moto, &proxy.url());

    test.again(["apply", "plan.yaml", "--yes"]).success().stdout_has("Apply complete: 2 applied");
    assert_kiro_statements_once(&policy_of(&moto, &key).await, &original);

    for operation in ["GetKeyPolicy", "PutKeyPolicy"] {
        let attempts = kms_attempts(&proxy, operation);
        let faults: Vec<_> = attempts.iter().map(|(_, fault, _)| fault.as_deref()).collect();
        assert_eq!(&faults[..3], [Some("aws_throttle"), Some("aws_throttle"), None], "{operation}: {attempts:?}");
        // KMS names no wait, so the tool backs off on its own rather than asking again at once.
        for pair in attempts[..3].windows(2) {
            assert!(
                pair[1].0 - pair[0].0 >= 0.1,
                "{operation} retried {:.3} s after a throttle",
                pair[1].0 - pair[0].0
            );
        }
    }
    let puts = kms_attempts(&proxy, "PutKeyPolicy");
    assert_eq!(puts.len(), 3, "one write that went through: {puts:?}");
    test.again(["plan", "plan.yaml", "--detailed-exitcode"]).code(0);
}

#[tokio::test]
async fn kms_server_errors_resets_and_slow_answers_converge_without_duplicate_statements() {
    let moto = Moto::start();
    let (key, original) = key_with_three_statements(&moto).await;
    let proxy = FaultProxy::start(&moto.endpoint);
    let kms_internal = json!({"kind": "aws_error", "status": 500, "type": "KMSInternalException", "message_key": "message", "message": "An internal error occurred."});
    // Reads: a reset before anything is answered, a plain 503 from the load balancer.
    proxy.rule(json!({"match": kms_target("DescribeKey"), "times": 1, "fault": {"kind": "reset"}}));
    proxy.rule(json!({"match": kms_target("GetKeyPolicy"), "times": 1, "fault": {"kind": "status", "status": 503}}));
    // The write, in order: a 500; written but the connection reset before the answer; written
    // but the answer slower than the call timeout; then an answer that is late but in time.
    proxy.rule(json!({"match": kms_target("PutKeyPolicy"), "times": 1, "fault": kms_internal}));
    proxy.rule(json!({"match": kms_target("PutKeyPolicy"), "times": 1, "fault": {"kind": "forward_then_reset"}}));
    proxy.rule(json!({"match": kms_target("PutKeyPolicy"), "times": 1, "fault": {"kind": "delay", "seconds": 4, "forward_first": true}}));
    proxy.rule(json!({"match": kms_target("PutKeyPolicy"), "times": 1, "fault": {"kind": "delay", "seconds": 0.5}}));
    let mut test = Test::new()
        .plan(&kms_plan(&format!("  key: {key}")))
        .aws_via(&moto, &proxy.url())
        .env("KIRO_ONBOARD_CALL_TIMEOUT", CALL_TIMEOUT);

    let started = Instant::now();
    test.again(["apply", "plan.yaml", "--yes"]).success().stdout_has("Apply complete: 2 applied");
    assert!(started.elapsed() < Duration::from_secs(45), "took {:?}", started.elapsed());
    let puts = kms_attempts(&proxy, "PutKeyPolicy");
    let faults: Vec<_> = puts.iter().map(|(_, fault, _)| fault.as_deref()).collect();
    assert_eq!(faults, [Some("aws_error"), Some("forward_then_reset"), Some("delay"), Some("delay")], "{puts:?}");
    assert_kiro_statements_once(&policy_of(&moto, &key).await, &original);
    test.again(["plan", "plan.yaml", "--detailed-exitcode"]).code(0);
}

#[tokio::test]
async fn kms_that_stays_down_is_a_clear_error_and_the_policy_is_untouched() {
    let moto = Moto::start();
    let (key, original) = key_with_three_statements(&moto).await;
    let proxy = FaultProxy::start(&moto.endpoint);
    proxy.rule(json!({"match": kms_target("PutKeyPolicy"), "fault": {"kind": "aws_error", "status": 500, "type": "KMSInternalException", "message_key": "message", "message": "An internal error occurred."}}));
    let mut test = Test::new().plan(&kms_plan(&format!("  key: {key}"))).aws_via(&moto, &proxy.url());

    let started = Instant::now();
    let output = test.again(["apply", "plan.yaml", "--yes"]);
    assert!(started.elapsed() < Duration::from_secs(45), "gave up after {:?}", started.elapsed());
    output
        .code(1)
        .stdout_has("kms PutKeyPolicy failed")
        .stdout_has("KMSInternalException: An internal error occurred.");
    let attempts = kms_attempts(&proxy, "PutKeyPolicy").len();
    assert!((2..=6).contains(&attempts), "a few retries, then give up: {attempts}");
    assert_eq!(policy_of(&moto, &key).await, original, "nothing half-written");
}

/// Route 53's REST-XML error answer with `code`.
fn route53_error(status: u16, code: &str) -> Value {
    json!({"kind": "aws_error", "protocol": "rest-xml", "status": status, "type": code})
}

/// A zone whose `kiro-app-1` TXT set holds two values of other owners, a DNS server serving what
/// moto holds, and a plan adding Kiro's token, reaching Route 53 through a fault proxy.
struct Route53Setup {
    moto: Moto,
    proxy: FaultProxy,
    zone: String,
    _dns: MotoDns,
    test: Test,
}

impl Route53Setup {
    fn start() -> Route53Setup {
        let moto = Moto::start();
        let zone = zone_with_spf_and_google(&moto);
        let dns = MotoDns::start(&moto);
        let proxy = FaultProxy::start(&moto.endpoint);
        let yaml =
            dns_plan("  - name: example.com\n    token: kiro-verification=tok-1\n    dns: route53\n", &dns.resolver());
        let test = Test::new()
            .plan(&yaml)
            .aws_via(&moto, &proxy.url())
            .env("KIRO_ONBOARD_DNS_PORT", &dns.port())
            .env("KIRO_ONBOARD_CALL_TIMEOUT", CALL_TIMEOUT);
        Route53Setup { moto, proxy, zone, _dns: dns, test }
    }

    fn record_sets_path(&self) -> String {
        format!("/2013-04-01/hostedzone/{}/rrset", self.zone)
    }

    fn record_sets(&self) -> Vec<(Option<i64>, Vec<String>)> {
        block(txt_sets(&self.moto, &self.zone, "kiro-app-1.example.com"))
    }
}

#[test]
fn route53_throttling_and_transport_faults_converge_to_one_record_set_with_every_value() {
    let mut setup = Route53Setup::start();
    let rrset = setup.record_sets_path();
    let proxy = &setup.proxy;
    proxy.rule(json!({"match": {"method": "GET", "path": rrset}, "times": 1, "fault": {"kind": "aws_throttle", "protocol": "rest-xml"}}));
    // The write, in order: Route 53 still busy with a prior change; written but the connection
    // reset before the answer; written but a 503; then an answer that is late but in time.
    proxy.rule(json!({"match": {"method": "POST", "path": rrset}, "times": 1, "fault": {"kind": "aws_throttle", "protocol": "rest-xml", "type": "PriorRequestNotComplete", "message": "The request was rejected because Route 53 was still processing a prior request."}}));
    proxy
        .rule(json!({"match": {"method": "POST", "path": rrset}, "times": 1, "fault": {"kind": "forward_then_reset"}}));
    proxy.rule(json!({"match": {"method": "POST", "path": rrset}, "times": 1, "fault": {"kind": "forward_then_status", "status": 503, "type": "ServiceUnavailable", "protocol": "rest-xml"}}));
    proxy.rule(
        json!({"match": {"method": "POST", "path": rrset}, "times": 1, "fault": {"kind": "delay", "seconds": 0.5}}),
    );

    let started = Instant::now();
    setup.test.again(["apply", "plan.yaml", "--yes"]).success().stdout_has("Apply complete: 1 applied");
    assert!(started.elapsed() < Duration::from_secs(45), "took {:?}", started.elapsed());
    let writes: Vec<Option<String>> = setup
        .proxy
        .log()
        .iter()
        .filter(|r| r["method"] == "POST" && r["path"] == rrset.as_str())
        .map(|r| r["fault"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(writes.len(), 4, "every fault retried, then one clean write: {writes:?}");
    // The write is one DELETE-exact + CREATE batch, so once the reset write landed,
    // Route 53 refuses the repeats; kiro-onboard reads again, finds exactly its own set and
    // reports it applied (docs/vendor-behaviour.md §4.5; its change id was lost with the answer, so there is no GetChange).
    let sets = setup.record_sets();
    assert_eq!(
        sets,
        [(Some(3600), vec![SPF.to_owned(), GOOGLE.to_owned(), "\"kiro-verification=tok-1\"".to_owned()])],
        "one record set, each value once, the other owners' values and TTL kept"
    );

    // Waiting for INSYNC after a clean write: an answer slower than the call timeout, then a reset.
    block(crate::dns_route53::put_txt(&setup.moto, &setup.zone, "kiro-app-1.example.com", &[SPF, GOOGLE]));
    setup.proxy.clear();
    setup.proxy.rule(json!({"match": {"method": "GET", "path_prefix": "/2013-04-01/change/"}, "times": 1, "fault": {"kind": "delay", "seconds": 4}}));
    setup.proxy.rule(json!({"match": {"method": "GET", "path_prefix": "/2013-04-01/change/"}, "times": 1, "fault": {"kind": "reset"}}));
    setup.test.again(["apply", "plan.yaml", "--yes"]).success().stdout_has("Apply complete: 1 applied");
    let change_polls: Vec<Option<String>> = setup
        .proxy
        .log()
        .iter()
        .filter(|r| r["path"].as_str().unwrap().starts_with("/2013-04-01/change/"))
        .map(|r| r["fault"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(&change_polls[..3], [Some("delay".to_owned()), Some("reset".to_owned()), None], "{change_polls:?}");

    let sets = setup.record_sets();
    assert_eq!(
        sets,
        [(Some(3600), vec![SPF.to_owned(), GOOGLE.to_owned(), "\"kiro-verification=tok-1\"".to_owned()])],
        "one record set, each value once, the other owners' values and TTL kept"
    );
    setup.test.again(["plan", "plan.yaml", "--detailed-exitcode"]).success().stdout_has("No changes");
}

#[test]
fn route53_that_stays_down_is_a_clear_error_and_the_record_set_is_untouched() {
    let mut setup = Route53Setup::start();
    let rrset = setup.record_sets_path();
    setup
        .proxy
        .rule(json!({"match": {"method": "POST", "path": rrset}, "fault": route53_error(503, "ServiceUnavailable")}));

    let started = Instant::now();
    let output = setup.test.again(["apply", "plan.yaml", "--yes"]);
    assert!(started.elapsed() < Duration::from_secs(45), "gave up after {:?}", started.elapsed());
    output.code(1).stdout_has("route53 ChangeResourceRecordSets failed").stdout_has("ServiceUnavailable");
    let attempts = setup.proxy.log().iter().filter(|r| r["method"] == "POST" && r["path"] == rrset.as_str()).count();
    assert!((2..=6).contains(&attempts), "a few retries, then give up: {attempts}");
    assert_eq!(setup.record_sets(), [(Some(3600), vec![SPF.to_owned(), GOOGLE.to_owned()])], "nothing half-written");
}

/// The Okta org as the tool's calls reach it, through a fault proxy.
struct OktaSetup {
    org: Org,
    proxy: FaultProxy,
    test: Test,
}

impl OktaSetup {
    fn start() -> OktaSetup {
        let org = Org::start(&[]);
        let proxy = FaultProxy::start(&org.url());
        let test = org.test(&okta_plan(&proxy.url(), "")).env("KIRO_ONBOARD_CALL_TIMEOUT", CALL_TIMEOUT);
        OktaSetup { org, proxy, test }
    }

    /// Every app labelled Kiro, and for the first one the groups assigned to it (by id).
    fn kiro_apps_and_assignments(&self) -> (usize, Vec<String>) {
        let (_, apps) = self.org.api("GET", "/api/v1/apps?q=Kiro&limit=200", None);
        let kiro: Vec<&Value> = apps.as_array().unwrap().iter().filter(|a| a["label"] == "Kiro").collect();
        let Some(app) = kiro.first() else { return (0, Vec::new()) };
        let (_, groups) = self.org.api("GET", &format!("/api/v1/apps/{}/groups", app["id"].as_str().unwrap()), None);
        let ids = groups.as_array().unwrap().iter().map(|g| g["id"].as_str().unwrap().to_owned()).collect();
        (kiro.len(), ids)
    }

    /// The names of the custom scopes on the default authorization server.
    fn kiro_scopes(&self) -> Vec<String> {
        let (_, scopes) = self.org.api("GET", "/api/v1/authorizationServers/default/scopes", None);
        let mut names: Vec<String> = scopes
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["name"].as_str().filter(|n| n.starts_with("codewhisperer:")).map(str::to_owned))
            .collect();
        names.sort();
        names
    }

    /// Exactly one app, assigned once, both scopes once, and a fresh plan has no Okta write left.
    #[track_caller]
    fn assert_converged(&mut self) {
        let (apps, assignments) = self.kiro_apps_and_assignments();
        assert_eq!(apps, 1, "exactly one Kiro app");
        assert_eq!(assignments.len(), 1, "Kiro Users assigned once: {assignments:?}");
        assert_eq!(self.kiro_scopes(), ["codewhisperer:completions", "codewhisperer:conversations"]);
        let plan = self.test.again(["plan", "plan.yaml", "--json"]);
        plan.success();
        assert_eq!(okta_writes(&plan.json()), Vec::<String>::new());
    }
}

#[test]
fn okta_resets_slow_answers_and_late_answers_on_reads_and_updates_are_retried_in_one_apply() {
    let mut setup = OktaSetup::start();
    let proxy = &setup.proxy;
    proxy.rule(json!({"match": {"method": "GET", "path": "/api/v1/apps"}, "times": 1, "fault": {"kind": "reset"}}));
    proxy.rule(json!({"match": {"method": "GET", "path_prefix": "/api/v1/authorizationServers"}, "times": 1, "fault": {"kind": "delay", "seconds": 4}}));
    proxy.rule(json!({"match": {"method": "POST", "path": "/api/v1/apps"}, "times": 1, "fault": {"kind": "delay", "seconds": 0.5}}));
    proxy.rule(
        json!({"match": {"method": "PUT", "path_prefix": "/api/v1/apps/"}, "times": 1, "fault": {"kind": "reset"}}),
    );

    let started = Instant::now();
    setup.test.again(["apply", "plan.yaml", "--yes"]).success();
    assert!(started.elapsed() < Duration::from_secs(45), "took {:?}", started.elapsed());
    let fired: Vec<String> = setup.proxy.log().iter().filter_map(|r| r["fault"].as_str().map(str::to_owned)).collect();
    assert_eq!(fired.len(), 4, "every fault was met: {fired:?}");
    setup.assert_converged();
}

#[test]
fn okta_creates_whose_answer_is_lost_are_not_retried_and_the_next_apply_converges_without_duplicates() {
    let mut setup = OktaSetup::start();
    // The app is created, but the connection drops before the answer: a retry could make a
    // second app, so the tool stops and says so; the next apply finds the app.
    setup.proxy.rule(json!({"match": {"method": "POST", "path": "/api/v1/apps"}, "times": 1, "fault": {"kind": "forward_then_reset"}}));
    let first = setup.test.again(["apply", "plan.yaml", "--yes"]);
    first.code(1).stdout_has("okta.application[\"Kiro\"]");
    assert_eq!(setup.kiro_apps_and_assignments().0, 1, "the create happened once, and was not repeated");

    // The access policy is created, but the answer comes after the call timeout.
    setup.proxy.rule(json!({"match": {"method": "POST", "path_prefix": "/api/v1/authorizationServers/default/policies"}, "times": 1, "fault": {"kind": "delay", "seconds": 4, "forward_first": true}}));
    let second = setup.test.again(["apply", "plan.yaml", "--yes"]);
    second.code(1).stdout_has("okta.policy[\"Kiro\"]");

    setup.test.again(["apply", "plan.yaml", "--yes"]).success();
    setup.assert_converged();
}

/// Graph behind the proxy: a lost answer to the create (instantiate) is looked up, not sent again;
/// reads and updates that are reset, slow past the timeout or late are repeated; a lost answer to
/// a group assignment stops that apply and the next one finishes without a second assignment.
#[test]
fn graph_lost_answers_resets_and_slow_calls_leave_one_app_and_one_assignment() {
    let tenant = Tenant::start();
    // The assignment whose answer is lost must reach Graph's store: without the emulator's
    // "Not a valid reference update" on a new service principal (entra_real.rs covers that).
    tenant.control("POST", "config", json!({"new_sp_assignment_transient_count": 0}));
    let proxy = FaultProxy::start(&tenant.graph.url());
    let mut test = tenant
        .test(&tenant.plan_yaml(""))
        .env("KIRO_ONBOARD_GRAPH_URL", &proxy.url())
        .env("KIRO_ONBOARD_CALL_TIMEOUT", CALL_TIMEOUT);
    proxy.rule(json!({"match": {"method": "POST", "path_prefix": "/v1.0/applicationTemplates/"}, "times": 1,
                      "fault": {"kind": "forward_then_reset"}}));
    proxy.rule(json!({"match": {"method": "GET", "path_prefix": "/v1.0/servicePrincipals"}, "times": 1,
                      "fault": {"kind": "reset"}}));
    proxy.rule(json!({"match": {"method": "GET", "path_prefix": "/v1.0/groups"}, "times": 1,
                      "fault": {"kind": "delay", "seconds": 5}}));
    proxy.rule(json!({"match": {"method": "PATCH", "path_prefix": "/v1.0/applications/"}, "times": 1,
                      "fault": {"kind": "delay", "seconds": 1, "forward_first": true}}));
    proxy.rule(
        json!({"match": {"method": "POST", "path_prefix": "/v1.0/servicePrincipals/", "body_contains": "principalId"},
                      "times": 1, "fault": {"kind": "forward_then_reset"}}),
    );
    let first = test.again(["apply", "plan.yaml", "--yes"]);
    first.code(1).stdout_has("entra.assignment[\"Kiro Developers\"]");
    let state = tenant.state();
    assert_eq!(state["applications"].as_array().unwrap().len(), 1, "the lost create was looked up, not repeated");
    assert_eq!(state["appRoleAssignments"].as_array().unwrap().len(), 1, "the lost assignment was not repeated");

    test.again(["apply", "plan.yaml", "--yes"]).success();
    let state = tenant.state();
    assert_eq!(state["applications"].as_array().unwrap().len(), 1);
    assert_eq!(state["appRoleAssignments"].as_array().unwrap().len(), 1, "{:#}", state["appRoleAssignments"]);
    let plan = test.again(["plan", "plan.yaml", "--json"]);
    assert!(entra_changes(&plan.json()).is_empty(), "{}", plan.stdout);
    let faults: Vec<Value> = proxy.log().into_iter().filter(|e| !e["fault"].is_null()).collect();
    assert_eq!(faults.len(), 5, "every fault was injected: {faults:#?}");
}
