//! `dns verify` against real DNS servers on loopback: hickory-server in-process (every answer a
//! server can give, and a record that appears while `--wait` polls) and dnsmasq from apt.

use std::time::{Duration, Instant};

use crate::harness::Test;
use crate::harness::dns::{DnsServer, Dnsmasq, TOKEN, dnsmasq_binary};

/// `dns verify DOMAIN --token T --resolver <server> ARGS…`, with the authoritative servers asked on
/// the fixture server's port.
fn verify(server: &DnsServer, domain: &str, token: &str, args: &[&str]) -> Test {
    let mut all = vec![
        "dns".to_owned(),
        "verify".to_owned(),
        domain.to_owned(),
        "--token".to_owned(),
        token.to_owned(),
        "--resolver".to_owned(),
        server.resolver(),
    ];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    Test::new().env("KIRO_ONBOARD_DNS_PORT", &server.port()).env("KIRO_ONBOARD_DNS_TIMEOUT", "1").args(all)
}

#[test]
fn a_served_token_verifies_and_exits_0() {
    let server = DnsServer::start();
    let output = verify(&server, "example.com", TOKEN, &[]).run();
    output
        .success()
        .stdout_has("kiro-app-1.example.com TXT \"kiro-verification=abc123\"")
        .stdout_has("Authoritative servers of example.com (asked directly: no recursion, no cache):")
        .stdout_has(&format!("ok          ns1.example.com (127.0.0.1:{}): serves the token (TTL 60s)", server.port()))
        .stdout_has("Verified: every authoritative server of example.com serves the token (1 of 1)");
    assert!(output.stderr.is_empty(), "{}", output.stderr);
}

#[test]
fn split_strings_and_several_values_are_read_as_kiro_reads_them() {
    let server = DnsServer::start();
    verify(&server, "example.com", TOKEN, &["--record", "split"]).run().success().stdout_has("Verified");
    let output = verify(&server, "Example.COM.", TOKEN, &["--record", "multi", "--json"]).run();
    output.success();
    let json = output.json();
    assert_eq!(json["format_version"], "1");
    assert_eq!(json["command"], "dns verify");
    assert_eq!(json["name"], "multi.example.com");
    assert_eq!(json["verified"], true);
    let first = &json["authoritative"][0];
    assert_eq!(first["server"], "ns1.example.com");
    assert_eq!(first["outcome"], "found");
    assert_eq!(first["ttl"], 60);
    let mut values: Vec<&str> = first["values"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    values.sort();
    assert_eq!(
        values,
        ["google-site-verification=Xy3", "kiro-verification=abc123", "v=spf1 include:_spf.example.com ~all"]
    );
    assert_eq!(json["resolvers"][0]["outcome"], "found");
}

#[test]
fn a_record_without_the_token_shows_what_is_there_and_exits_2() {
    let server = DnsServer::start();
    verify(&server, "example.com", TOKEN, &["--record", "other"])
        .run()
        .code(2)
        .stdout_has("absent      ns1.example.com")
        .stdout_has(
            "the record exists without the token; it holds \"v=spf1 -all\"; caches may keep this answer for up to 120s",
        )
        .stdout_has("Not verified: 0 of 1 authoritative servers of example.com serve the token")
        .stderr_has("hint: DNS changes take time to reach every server; add --wait 10m");
}

#[test]
fn nxdomain_and_no_data_are_told_apart_with_the_negative_ttl() {
    let server = DnsServer::start();
    verify(&server, "example.com", TOKEN, &["--record", "nope"])
        .run()
        .code(2)
        .stdout_has("nxdomain    ns1.example.com")
        .stdout_has("no such name (NXDOMAIN); caches may keep this answer for up to 60s");
    let output = verify(&server, "example.com", TOKEN, &["--record", "host", "--json"]).run();
    output.code(2);
    let json = output.json();
    assert_eq!(json["authoritative"][0]["outcome"], "no_data");
    assert_eq!(json["authoritative"][0]["ttl"], 60);
    assert_eq!(json["resolvers"][0]["outcome"], "no_data");
    assert_eq!(json["verified"], false);
}

#[test]
fn a_failing_server_is_reported_by_name_next_to_the_good_one() {
    let server = DnsServer::start();
    let output = verify(&server, "example.net", TOKEN, &[]).run();
    output
        .code(2)
        .stdout_has(&format!(
            "servfail    ns2.example.net (127.0.0.2:{}): the server failed to answer (SERVFAIL)",
            server.port()
        ))
        .stdout_has("ok          ns1.example.com")
        .stdout_has("Not verified: 1 of 2 authoritative servers of example.net serve the token");
}

#[test]
fn a_dead_server_times_out_without_hiding_the_others() {
    let server = DnsServer::start();
    let started = Instant::now();
    let output = verify(&server, "example.org", TOKEN, &["--json"]).run();
    output.code(2);
    let json = output.json();
    let servers = json["authoritative"].as_array().unwrap();
    assert_eq!(servers.len(), 2, "{json:#}");
    let dead = servers.iter().find(|s| s["server"] == "ns3.example.org").unwrap();
    assert_eq!(dead["outcome"], "timeout", "{json:#}");
    let good = servers.iter().find(|s| s["server"] == "ns1.example.com").unwrap();
    assert_eq!(good["outcome"], "found");
    // One query timeout (1 s here) and its one retry, asked concurrently with the good server.
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
}

#[test]
fn wait_polls_until_the_record_appears() {
    let server = DnsServer::start();
    server.add_txt_later("later", TOKEN, Duration::from_millis(1500));
    let started = Instant::now();
    let output = verify(&server, "example.com", TOKEN, &["--record", "later", "--wait", "30s"]).run();
    output
        .success()
        .stdout_has("Verified")
        .stderr_has("dns verify later.example.com: 0 of 1 authoritative servers of example.com serve the token (check 1, waited 0s of 30s)")
        .stderr_has("dns verify later.example.com: verified after");
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
}

#[test]
fn wait_gives_up_when_time_runs_out() {
    let server = DnsServer::start();
    let started = Instant::now();
    let output = verify(&server, "example.com", TOKEN, &["--record", "never", "--wait", "3s", "--json"]).run();
    output.code(2);
    let json = output.json();
    assert_eq!(json["verified"], false);
    assert!(json["checks"].as_u64().unwrap() >= 2, "{json:#}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(output.stderr.contains("not verified after"), "{}", output.stderr);
}

#[test]
fn private_names_are_refused_before_any_query() {
    for name in ["corp.internal", "host.local"] {
        Test::new()
            .args(["dns", "verify", name, "--token", "t", "--resolver", "127.0.0.1:9"])
            .run()
            .code(1)
            .stderr_has("which public DNS never resolves")
            .stderr_has("hint: Kiro verifies with a public DNS lookup")
            .stderr_has("Verify a publicly resolvable domain or subdomain you control");
    }
}

#[test]
fn no_answer_from_any_resolver_is_an_error_not_a_verdict() {
    let server = DnsServer::start();
    // 127.0.0.3 on the fixture's port is the silent server.
    let silent = format!("127.0.0.3:{}", server.port());
    let output = Test::new()
        .env("KIRO_ONBOARD_DNS_TIMEOUT", "0.5")
        .args(["dns", "verify", "example.com", "--token", TOKEN, "--resolver", &silent])
        .run();
    output
        .code(1)
        .stderr_has("error: could not check kiro-app-1.example.com: no resolver answered")
        .stderr_has("hint: check that this machine can reach DNS servers over UDP and TCP port 53");
    Test::new()
        .args(["dns", "verify", "example.com", "--token", TOKEN, "--resolver", "dns.google"])
        .run()
        .code(1)
        .stderr_has("it is a host name; resolvers are given by IP address");
}

/// The end-to-end check against a stock DNS server: dnsmasq from Debian's `dnsmasq-base`
/// (scripts/setup-test-env installs it). Skipped when it is missing, unless REQUIRE_DNSMASQ=1.
#[test]
fn dnsmasq_end_to_end() {
    if dnsmasq_binary().is_none() {
        assert!(
            std::env::var_os("REQUIRE_DNSMASQ").is_none(),
            "dnsmasq is not installed: run scripts/setup-test-env as root"
        );
        eprintln!("skipped: dnsmasq is not installed (run scripts/setup-test-env as root)");
        return;
    }
    let args: Vec<String> = [
        "--local=/example.com/",
        // example.com NS ns1.example.com (type 2, the name in wire format), ns1 at 127.0.0.1.
        "--dns-rr=example.com,2,036e7331076578616d706c6503636f6d00",
        "--host-record=ns1.example.com,127.0.0.1",
        // No shell here: dnsmasq would keep quotes as part of the text.
        "--txt-record=kiro-app-1.example.com,kiro-verification=abc123",
        "--txt-record=multi.example.com,v=spf1 -all",
        "--txt-record=multi.example.com,kiro-verification=abc123",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let dnsmasq = Dnsmasq::start(&args).expect("dnsmasq starts");
    let resolver = format!("127.0.0.1:{}", dnsmasq.port);
    let run = |record: &str| {
        Test::new()
            .env("KIRO_ONBOARD_DNS_PORT", &dnsmasq.port.to_string())
            .args(["dns", "verify", "example.com", "--token", TOKEN, "--record", record, "--resolver", &resolver])
            .run()
    };
    run("kiro-app-1").success().stdout_has(&format!("ok          ns1.example.com (127.0.0.1:{})", dnsmasq.port));
    run("multi").success().stdout_has("Verified");
    run("nope").code(2).stdout_has("nxdomain");
}
