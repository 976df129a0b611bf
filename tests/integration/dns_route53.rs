//! The `dns` step against moto's Route 53, with a DNS server that serves what moto holds (standing
//! in for Route 53's name servers), so that what apply writes really resolves: plan → apply →
//! nothing to do; other values kept; a second domain in the same zone; pending propagation; a
//! private zone; and the manual path.

use std::future::Future;

use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, HostedZoneConfig, ResourceRecord, ResourceRecordSet, RrType, Vpc, VpcRegion,
};

use crate::harness::dns::{DnsServer, MotoDns, TOKEN};
use crate::harness::test::change_list;
use crate::harness::{Moto, Test};

pub(crate) const SPF: &str = "\"v=spf1 include:_spf.google.com ~all\"";
pub(crate) const GOOGLE: &str = "\"google-site-verification=rXOxyZounnZasA8Z7oaD3c14JdjS9aKSWvsR1EbUSIQ\"";

pub(crate) fn block<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime").block_on(future)
}

async fn client(moto: &Moto) -> aws_sdk_route53::Client {
    aws_sdk_route53::Client::new(&moto.sdk().await)
}

pub(crate) async fn create_zone(moto: &Moto, name: &str, private: bool) -> String {
    let mut request =
        client(moto).await.create_hosted_zone().name(name).caller_reference(format!("test-{name}-{private}"));
    if private {
        request = request
            .hosted_zone_config(HostedZoneConfig::builder().private_zone(true).build())
            .vpc(Vpc::builder().vpc_id("vpc-0123456789abcdef0").vpc_region(VpcRegion::UsEast1).build());
    }
    let out = request.send().await.expect("create hosted zone");
    out.hosted_zone().expect("a zone").id().trim_start_matches("/hostedzone/").to_owned()
}

/// Sets the TXT record set at `name`, as another admin (or Google Workspace's setup) would.
pub(crate) async fn put_txt(moto: &Moto, zone: &str, name: &str, values: &[&str]) {
    let set = ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::Txt)
        .ttl(3600)
        .set_resource_records(Some(
            values.iter().map(|v| ResourceRecord::builder().value(*v).build().unwrap()).collect(),
        ))
        .build()
        .unwrap();
    client(moto)
        .await
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(
            ChangeBatch::builder()
                .changes(Change::builder().action(ChangeAction::Upsert).resource_record_set(set).build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("upsert TXT");
}

/// Every TXT record set at `name` (moto would keep duplicates a CREATE made): TTL and raw values.
pub(crate) async fn txt_sets(moto: &Moto, zone: &str, name: &str) -> Vec<(Option<i64>, Vec<String>)> {
    let out =
        client(moto).await.list_resource_record_sets().hosted_zone_id(zone).send().await.expect("list record sets");
    out.resource_record_sets()
        .iter()
        .filter(|s| s.name().trim_end_matches('.') == name && *s.r#type() == RrType::Txt)
        .map(|s| (s.ttl(), s.resource_records().iter().map(|r| r.value().to_owned()).collect()))
        .collect()
}

/// A public zone example.com whose `kiro-app-1` TXT set already holds an SPF and a Google value.
pub(crate) fn zone_with_spf_and_google(moto: &Moto) -> String {
    block(async {
        let zone = create_zone(moto, "example.com", false).await;
        put_txt(moto, &zone, "kiro-app-1.example.com", &[SPF, GOOGLE]).await;
        zone
    })
}

pub(crate) fn plan(domains: &str, resolver: &str) -> String {
    format!("version: 1\nkiro: {{ profile_region: us-east-1 }}\ndomains:\n{domains}resolvers: [\"{resolver}\"]\n")
}

#[test]
fn other_values_are_kept_and_then_plan_has_nothing_to_do() {
    let moto = Moto::start();
    let zone = zone_with_spf_and_google(&moto);
    let dns = MotoDns::start(&moto);
    let yaml = plan("  - name: example.com\n    token: kiro-verification=tok-1\n    dns: route53\n", &dns.resolver());
    let mut test = Test::new().plan(&yaml).aws(&moto).env("KIRO_ONBOARD_DNS_PORT", &dns.port());

    let planned = test.again(["plan", "plan.yaml", "--json"]);
    planned.success();
    let json = planned.json();
    assert_eq!(change_list(&json), [("dns.txt[\"kiro-app-1.example.com\"]".to_owned(), "update".to_owned())]);
    let change = &json["changes"][0];
    let spf = "v=spf1 include:_spf.google.com ~all";
    let google = "google-site-verification=rXOxyZounnZasA8Z7oaD3c14JdjS9aKSWvsR1EbUSIQ";
    assert_eq!(change["before"]["values"], serde_json::json!([spf, google]));
    assert_eq!(change["after"]["values"], serde_json::json!([spf, google, "kiro-verification=tok-1"]));
    assert!(
        change["reason"].as_str().unwrap().contains(&format!("({zone}) and keeps its 2 other value(s) and TTL 3600s")),
        "{change:#}"
    );

    test.again(["plan", "plan.yaml"])
        .success()
        .stdout_has("  ~ dns.txt[\"kiro-app-1.example.com\"]")
        .stdout_has("Plan: 0 to create, 1 to update, 0 to delete, 0 manual.");

    test.again(["apply", "plan.yaml", "--yes"])
        .success()
        .stdout_has("Apply complete: 1 applied, 0 already in place, 0 failed, 0 not done.");

    let sets = block(txt_sets(&moto, &zone, "kiro-app-1.example.com"));
    assert_eq!(sets.len(), 1, "one record set, not a duplicate: {sets:?}");
    assert_eq!(
        sets[0],
        (Some(3600), vec![SPF.to_owned(), GOOGLE.to_owned(), "\"kiro-verification=tok-1\"".to_owned()])
    );

    test.again(["plan", "plan.yaml", "--detailed-exitcode"]).success().stdout_has("No changes");
    test.again(["audit", "plan.yaml"]).success().stdout_has("Audit passed");
    test.again(["apply", "plan.yaml", "--yes"]).success();
    assert_eq!(block(txt_sets(&moto, &zone, "kiro-app-1.example.com")), sets);

    // What Route 53 now serves, checked the way Kiro does.
    test.again(["dns", "verify", "example.com", "--token", "kiro-verification=tok-1", "--resolver", &dns.resolver()])
        .success()
        .stdout_has("Verified: every authoritative server of example.com serves the token");
}

#[test]
fn a_second_domain_in_the_same_zone_does_not_disturb_the_first() {
    let moto = Moto::start();
    let zone = block(create_zone(&moto, "example.com", false));
    let dns = MotoDns::start(&moto);
    let first = "  - name: example.com\n    token: kiro-verification=first\n    dns: route53\n";
    let mut test = Test::new().plan(&plan(first, &dns.resolver())).aws(&moto).env("KIRO_ONBOARD_DNS_PORT", &dns.port());
    test.again(["apply", "plan.yaml", "--yes"]).success().stdout_has("  + dns.txt[\"kiro-app-1.example.com\"]");
    let before = block(txt_sets(&moto, &zone, "kiro-app-1.example.com"));
    assert_eq!(before, [(Some(300), vec!["\"kiro-verification=first\"".to_owned()])]);

    // A subdomain without a zone of its own lands in example.com's zone; its token is longer than
    // one TXT string can hold, so Route 53 gets it in two quoted strings.
    let long_token = format!("kiro-verification={}", "x".repeat(300));
    let both = format!("{first}  - name: Sub.Example.COM.\n    token: \"{long_token}\"\n    dns: route53\n");
    std::fs::write(test.file_path("plan.yaml"), plan(&both, &dns.resolver())).unwrap();
    let planned = test.again(["plan", "plan.yaml", "--json"]);
    planned.success();
    assert_eq!(
        change_list(&planned.json()),
        [("dns.txt[\"kiro-app-1.sub.example.com\"]".to_owned(), "create".to_owned())]
    );
    test.again(["apply", "plan.yaml", "--yes"]).success().stdout_has("Apply complete: 1 applied");

    assert_eq!(block(txt_sets(&moto, &zone, "kiro-app-1.example.com")), before);
    let second = block(txt_sets(&moto, &zone, "kiro-app-1.sub.example.com"));
    let expected = format!("\"kiro-verification={}\" \"{}\"", "x".repeat(255 - 18), "x".repeat(300 - (255 - 18)));
    assert_eq!(second, [(Some(300), vec![expected])]);
    test.again(["plan", "plan.yaml", "--detailed-exitcode"]).success().stdout_has("No changes");
}

#[test]
fn a_record_that_does_not_resolve_yet_is_pending_not_a_failed_apply() {
    let moto = Moto::start();
    let zone = block(create_zone(&moto, "example.com", false));
    // Public DNS here is the fixture server, which knows nothing of what apply writes to moto:
    // the record is in Route 53 but not served, as while a change propagates.
    let server = DnsServer::start();
    let yaml =
        plan("  - name: example.com\n    token: kiro-verification=tok-2\n    dns: route53\n", &server.resolver());
    let mut test = Test::new().plan(&yaml).aws(&moto).env("KIRO_ONBOARD_DNS_PORT", &server.port());
    let command = format!(
        "kiro-onboard dns verify example.com --token kiro-verification=tok-2 --resolver {} --wait 10m",
        server.resolver()
    );
    test.again(["apply", "plan.yaml", "--yes"])
        .success()
        .stdout_has(&format!("pending dns.txt[\"kiro-app-1.example.com\"]: the token is in Route 53 ({zone}), but 0 of 1 authoritative servers of example.com serve the token; propagation takes time: run `{command}`"))
        .stdout_has("Apply complete: 0 applied, 0 already in place, 0 failed, 0 not done. 1 manual or pending");
    assert_eq!(
        block(txt_sets(&moto, &zone, "kiro-app-1.example.com")),
        [(Some(300), vec!["\"kiro-verification=tok-2\"".to_owned()])]
    );

    let planned = test.again(["plan", "plan.yaml", "--detailed-exitcode"]);
    planned
        .code(2)
        .stdout_has("  ? dns.txt[\"kiro-app-1.example.com\"]")
        .stdout_has(&format!(
            "# Route 53 ({zone}) holds the token; not every authoritative server of example.com serves it yet"
        ))
        .stdout_has("warning[dns.not_served]: kiro-app-1.example.com is not verifiable yet")
        .stdout_has("evidence: authoritative absent ns1.example.com")
        .stdout_has("Plan: 0 to create, 0 to update, 0 to delete, 0 manual. 1 to verify.");
    test.again(["audit", "plan.yaml"]).code(2);

    let applied = test.again(["apply", "plan.yaml", "--yes", "--json"]);
    applied.success();
    let json = applied.json();
    assert_eq!(json["results"][0]["status"], "pending");
    assert_eq!(json["results"][0]["action"], "verify");
    assert_eq!(json["summary"]["pending"], 1);
    assert_eq!(json["succeeded"], true);
}

#[test]
fn a_private_zone_cannot_serve_a_public_lookup_and_is_not_written() {
    let moto = Moto::start();
    let zone = block(create_zone(&moto, "example.com", true));
    let server = DnsServer::start();
    let yaml =
        plan("  - name: example.com\n    token: kiro-verification=tok-3\n    dns: route53\n", &server.resolver());
    let mut test = Test::new().plan(&yaml).aws(&moto).env("KIRO_ONBOARD_DNS_PORT", &server.port());
    test.again(["plan", "plan.yaml"])
        .success()
        .stdout_has("error[dns.private_zone]: Route 53 has only a private hosted zone for kiro-app-1.example.com, and a private zone cannot serve a public lookup")
        .stdout_has(&format!("evidence: private zones: {zone} (example.com)"))
        .stdout_has("  ! dns.txt[\"kiro-app-1.example.com\"]");
    test.again(["apply", "plan.yaml", "--yes"]).success();
    assert!(block(txt_sets(&moto, &zone, "kiro-app-1.example.com")).is_empty());
}

#[test]
fn a_manual_domain_prints_the_record_for_any_provider_then_verifies_it() {
    let server = DnsServer::start();
    let yaml = plan("  - name: example.com\n    token: kiro-verification=tok-4\n", &server.resolver());
    let mut test = Test::new().plan(&yaml).env("KIRO_ONBOARD_DNS_PORT", &server.port());
    test.again(["plan", "plan.yaml", "--detailed-exitcode"])
        .code(2)
        .stdout_has("  ! dns.txt[\"kiro-app-1.example.com\"]")
        .stdout_has("Create the TXT record kiro-app-1.example.com")
        .stdout_has("where: the DNS provider that serves example.com")
        .stdout_has("Name      : kiro-app-1.example.com")
        .stdout_has("Type      : TXT")
        .stdout_has("Value     : kiro-verification=tok-4")
        .stdout_has("Zone file : kiro-app-1.example.com. 300 IN TXT \"kiro-verification=tok-4\"")
        .stdout_has(&format!(
            "check: kiro-onboard asks every authoritative server of example.com for the record, as Kiro's public lookup will: `kiro-onboard dns verify example.com --token kiro-verification=tok-4 --resolver {} --wait 10m`",
            server.resolver()
        ));
    test.again(["apply", "plan.yaml", "--yes"])
        .success()
        .stdout_has("pending dns.txt[\"kiro-app-1.example.com\"]: create the TXT record kiro-app-1.example.com");

    // The fixture's record holds the fixture token: once a record resolves, nothing is left to do.
    let served = plan(&format!("  - name: example.com\n    token: \"{TOKEN}\"\n"), &server.resolver());
    Test::new()
        .plan(&served)
        .env("KIRO_ONBOARD_DNS_PORT", &server.port())
        .args(["plan", "plan.yaml", "--detailed-exitcode"])
        .run()
        .success()
        .stdout_has("No changes");
}

#[test]
fn two_public_zones_of_one_name_need_hosted_zone_id_and_only_that_zone_is_written() {
    let moto = Moto::start();
    let (old, new) = block(async {
        let old = create_zone(&moto, "example.com", false).await;
        // A second zone of the same name, as a half-finished DNS migration leaves behind.
        let new = client(&moto)
            .await
            .create_hosted_zone()
            .name("example.com")
            .caller_reference("test-example.com-second")
            .send()
            .await
            .expect("create the second zone")
            .hosted_zone()
            .unwrap()
            .id()
            .trim_start_matches("/hostedzone/")
            .to_owned();
        (old, new)
    });
    let dns = MotoDns::start(&moto);
    let domain = "  - name: example.com\n    token: kiro-verification=tok-5\n    dns: route53\n";
    let mut test =
        Test::new().plan(&plan(domain, &dns.resolver())).aws(&moto).env("KIRO_ONBOARD_DNS_PORT", &dns.port());
    let planned = test.again(["plan", "plan.yaml", "--json"]);
    planned.success();
    let json = planned.json();
    assert!(json["changes"].as_array().unwrap().is_empty(), "{json:#}");
    assert_eq!(json["findings"][0]["code"], "dns.ambiguous_zone");
    let evidence = json["findings"][0]["evidence"][0].as_str().unwrap();
    assert!(evidence.contains(&old) && evidence.contains(&new), "{evidence}");

    let pinned = format!("{domain}    hosted_zone_id: {new}\n");
    std::fs::write(test.file_path("plan.yaml"), plan(&pinned, &dns.resolver())).unwrap();
    test.again(["apply", "plan.yaml", "--yes"]).success();
    assert!(block(txt_sets(&moto, &old, "kiro-app-1.example.com")).is_empty());
    assert_eq!(
        block(txt_sets(&moto, &new, "kiro-app-1.example.com")),
        [(Some(300), vec!["\"kiro-verification=tok-5\"".to_owned()])]
    );
}

/// Kiro gives the token only once the domain is added in its console: a domain without one is
/// that console step, with nothing read or written in DNS until the token is in the plan.
#[test]
fn a_domain_without_its_token_yet_is_the_console_step_that_gives_it() {
    let moto = Moto::start();
    let zone = block(create_zone(&moto, "example.com", false));
    let dns = MotoDns::start(&moto);
    let mut test = Test::new()
        .plan(&plan("  - { name: Example.com, dns: route53 }\n", &dns.resolver()))
        .aws(&moto)
        .env("KIRO_ONBOARD_DNS_PORT", &dns.port());
    test.again(["validate", "plan.yaml"]).success();
    let planned = test.again(["plan", "plan.yaml", "--json"]);
    planned.success();
    let json = planned.json();
    assert_eq!(change_list(&json), [("kiro_console.domain[\"example.com\"]".to_owned(), "manual".to_owned())]);
    let step =
        json["changes"].as_array().unwrap().iter().find(|c| c["address"] == "kiro_console.domain[\"example.com\"]");
    let step = step.unwrap();
    assert_eq!(step["manual"]["where"], "Kiro console (us-east-1) → Settings → Domains → Add domain");
    assert_eq!(step["manual"]["record"], "domains[0].token: \"<the token Kiro shows>\"");
    assert_eq!(step["after"]["TXT record"], "kiro-app-1.example.com");
    assert!(json["remote_calls"].get("route53").is_none(), "nothing read in DNS yet: {}", json["remote_calls"]);
    test.again(["apply", "plan.yaml", "--yes"]).success();
    assert!(block(txt_sets(&moto, &zone, "kiro-app-1.example.com")).is_empty(), "nothing written without a token");

    // The admin added the domain in the Kiro console and pasted the token.
    std::fs::write(
        test.file_path("plan.yaml"),
        plan("  - { name: Example.com, dns: route53, token: \"kiro-verification=t1\" }\n", &dns.resolver()),
    )
    .unwrap();
    let planned = test.again(["plan", "plan.yaml", "--json"]);
    let changes = change_list(&planned.json());
    assert!(changes.contains(&("dns.txt[\"kiro-app-1.example.com\"]".to_owned(), "create".to_owned())), "{changes:?}");
    assert!(!changes.iter().any(|(a, _)| a.starts_with("kiro_console.domain")), "{changes:?}");
}

#[test]
fn no_aws_credentials_is_one_clear_sentence_and_a_hint() {
    let output = Test::new()
        .plan(&plan("  - { name: example.com, dns: route53, token: t1 }\n", "127.0.0.1:9"))
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args(["plan", "plan.yaml"])
        .run();
    output.code(1).stderr_has("error: route53 ListHostedZonesByName failed: no AWS credentials could be loaded");
    output.stderr_has("hint: no usable AWS credentials");
    assert!(output.stderr.lines().count() <= 4, "no SDK dump or warnings:\n{}", output.stderr);
}
