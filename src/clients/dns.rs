//! DNS lookups the way Kiro's verification sees a TXT record: find the zone's authoritative
//! servers through public resolvers, then ask each authoritative server directly (no recursion,
//! no cache), and ask the public resolvers too (what a lookup sees now, caches included).
//!
//! One resolver per server, asked concurrently: hickory's own server pool does not fail over on
//! SERVFAIL and lets one dead server eat the whole deadline, and the admin needs to know what
//! each server says anyway.
//!
//! Everything is overridable so that tests and demos never leave the machine:
//! - the public resolvers: plan `resolvers` / `dns verify --resolver`, as `IP` or `IP:PORT`;
//! - the port of the authoritative servers: `KIRO_ONBOARD_DNS_PORT` (default 53). Their names come
//!   from the zone's NS records and their addresses from the resolvers, so a test resolver that
//!   answers `ns1.example.com A 127.0.0.1` plus this port keeps every query on loopback;
//! - the time one query may take: `KIRO_ONBOARD_DNS_TIMEOUT` in seconds (default 2; a server that
//!   never answers costs twice that, one retry included).

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::config::{
    ConnectionConfig, LookupIpStrategy, NameServerConfig, ResolveHosts, ResolverConfig, ServerOrderingStrategy,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError, NoRecords};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{Resolver, TokioResolver};
use serde::Serialize;
use tokio::task::JoinSet;

use crate::error::Error;
use crate::shared::resolver::parse_server;

/// The public resolvers asked when the plan or command line names none.
pub const DEFAULT_RESOLVERS: &[&str] = &["1.1.1.1", "8.8.8.8"];
/// Environment variable: the port on which the authoritative servers are asked (tests, demos).
pub const PORT_ENV: &str = "KIRO_ONBOARD_DNS_PORT";
/// Environment variable: seconds one DNS query may take.
pub const TIMEOUT_ENV: &str = "KIRO_ONBOARD_DNS_TIMEOUT";

/// Where and how to ask.
#[derive(Debug, Clone)]
pub struct DnsSettings {
    pub resolvers: Vec<SocketAddr>,
    pub authoritative_port: u16,
    pub timeout: Duration,
}

impl DnsSettings {
    /// Settings from the given resolvers (the defaults when empty) and the environment.
    pub fn new(resolvers: &[String]) -> Result<Self, Error> {
        let resolvers = if resolvers.is_empty() {
            DEFAULT_RESOLVERS.iter().map(|r| parse_server(r)).collect::<Result<Vec<_>, _>>()
        } else {
            resolvers.iter().map(|r| parse_server(r).map_err(|e| format!("`{r}`: {e}"))).collect()
        }
        .map_err(|e| Error::Usage(format!("bad resolver address {e}")))?;
        let authoritative_port = match std::env::var(PORT_ENV) {
            Ok(value) => match value.trim().parse::<u16>() {
                Ok(port) if port > 0 => port,
                _ => {
                    return Err(Error::Usage(format!("{PORT_ENV}={value:?} is not a port number (1-65535)")));
                }
            },
            Err(_) => 53,
        };
        let timeout = std::env::var(TIMEOUT_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(Duration::from_secs_f64)
            .unwrap_or(Duration::from_secs(2));
        Ok(DnsSettings { resolvers, authoritative_port, timeout })
    }

    /// The `--resolver` arguments that reproduce these settings on the command line, empty for the
    /// defaults.
    pub fn resolver_args(&self) -> Vec<String> {
        let defaults: Vec<SocketAddr> = DEFAULT_RESOLVERS.iter().filter_map(|r| parse_server(r).ok()).collect();
        if self.resolvers == defaults {
            return Vec::new();
        }
        self.resolvers.iter().map(show_server).collect()
    }
}

/// `1.1.1.1:53` as `1.1.1.1`, other ports as `IP:PORT`.
pub fn show_server(address: &SocketAddr) -> String {
    if address.port() == 53 { address.ip().to_string() } else { address.to_string() }
}

/// A resolver that asks exactly one server, remembers nothing, and reads no system files.
fn resolver_for(server: SocketAddr, recursion: bool, timeout: Duration) -> Result<TokioResolver, String> {
    let mut udp = ConnectionConfig::udp();
    udp.port = server.port();
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = server.port();
    let name_server = NameServerConfig::new(server.ip(), true, vec![udp, tcp]);
    let mut builder = Resolver::builder_with_config(
        ResolverConfig::from_name_servers(vec![name_server]),
        TokioRuntimeProvider::default(),
    );
    let options = builder.options_mut();
    options.cache_size = 0;
    options.timeout = timeout;
    options.attempts = 1;
    options.use_hosts_file = ResolveHosts::Never;
    options.try_tcp_on_error = true;
    options.server_ordering_strategy = ServerOrderingStrategy::UserProvidedOrder;
    options.num_concurrent_reqs = 1;
    options.recursion_desired = recursion;
    options.ip_strategy = LookupIpStrategy::Ipv4thenIpv6;
    builder.build().map_err(|e| e.to_string())
}

/// What one server said about one TXT name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The TXT values (each RR's strings joined, as TXT verification reads them) and their TTL.
    Found {
        values: Vec<String>,
        ttl: u32,
    },
    NxDomain {
        negative_ttl: Option<u32>,
    },
    NoData {
        negative_ttl: Option<u32>,
    },
    Rcode(ResponseCode),
    Timeout,
    Unreachable(String),
}

fn classify(error: &NetError) -> Answer {
    match error {
        NetError::Dns(DnsError::NoRecordsFound(NoRecords { response_code, negative_ttl, .. })) => {
            match *response_code {
                ResponseCode::NXDomain => Answer::NxDomain { negative_ttl: *negative_ttl },
                ResponseCode::NoError => Answer::NoData { negative_ttl: *negative_ttl },
                other => Answer::Rcode(other),
            }
        }
        NetError::Dns(DnsError::ResponseCode(code)) => Answer::Rcode(*code),
        NetError::Timeout => Answer::Timeout,
        other => Answer::Unreachable(other.to_string()),
    }
}

/// Asks `server` for the TXT records at `name` (a name from `domain::normalize`).
pub async fn query_txt(server: SocketAddr, name: &str, recursion: bool, timeout: Duration) -> Answer {
    let resolver = match resolver_for(server, recursion, timeout) {
        Ok(r) => r,
        Err(e) => return Answer::Unreachable(e),
    };
    match resolver.txt_lookup(format!("{name}.")).await {
        Ok(lookup) => {
            let mut ttl = u32::MAX;
            let values: Vec<String> = lookup
                .answers()
                .iter()
                .filter_map(|record| match &record.data {
                    RData::TXT(txt) => {
                        ttl = ttl.min(record.ttl);
                        // One RR holds several <character-string>s of at most 255 bytes: joined
                        // with no separator, as verification (and Route 53's split values) mean.
                        Some(txt.txt_data.iter().map(|chunk| String::from_utf8_lossy(chunk)).collect())
                    }
                    _ => None,
                })
                .collect();
            if values.is_empty() { Answer::NoData { negative_ttl: None } } else { Answer::Found { values, ttl } }
        }
        Err(e) => classify(&e),
    }
}

/// What one server says, judged against the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The token is one of the TXT values.
    Found,
    /// The name has TXT values, but not the token.
    TokenAbsent,
    /// The name does not exist.
    Nxdomain,
    /// The name exists but has no TXT record.
    NoData,
    Servfail,
    Refused,
    /// Another DNS error code.
    Rcode,
    Timeout,
    /// The server could not be reached, or its address could not be found.
    Unreachable,
}

/// One server's answer, as the admin reads it.
#[derive(Debug, Clone, Serialize)]
pub struct ServerReport {
    /// The NS host name for an authoritative server, the address for a resolver.
    pub server: String,
    /// Where it was asked (absent when its address could not be found).
    pub address: Option<String>,
    pub outcome: Outcome,
    /// The TXT values found (when there are any).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// How long caches may keep this answer, in seconds: the record's TTL, or for "no such name"
    /// and "no TXT data" the zone's negative TTL.
    pub ttl: Option<u32>,
    /// Details of an error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl ServerReport {
    fn new(server: String, address: Option<SocketAddr>, answer: Answer, token: &str) -> Self {
        let mut report = ServerReport {
            server,
            address: address.map(|a| a.to_string()),
            outcome: Outcome::Unreachable,
            values: Vec::new(),
            ttl: None,
            detail: None,
        };
        match answer {
            Answer::Found { values, ttl } => {
                report.outcome = if values.iter().any(|v| v == token) { Outcome::Found } else { Outcome::TokenAbsent };
                report.values = values;
                report.ttl = Some(ttl);
            }
            Answer::NxDomain { negative_ttl } => {
                report.outcome = Outcome::Nxdomain;
                report.ttl = negative_ttl;
            }
            Answer::NoData { negative_ttl } => {
                report.outcome = Outcome::NoData;
                report.ttl = negative_ttl;
            }
            Answer::Rcode(ResponseCode::ServFail) => report.outcome = Outcome::Servfail,
            Answer::Rcode(ResponseCode::Refused) => report.outcome = Outcome::Refused,
            Answer::Rcode(code) => {
                report.outcome = Outcome::Rcode;
                report.detail = Some(code.to_string());
            }
            Answer::Timeout => report.outcome = Outcome::Timeout,
            Answer::Unreachable(detail) => {
                report.outcome = Outcome::Unreachable;
                report.detail = Some(detail);
            }
        }
        report
    }

    pub fn serves_token(&self) -> bool {
        self.outcome == Outcome::Found
    }

    /// Whether the server gave a DNS answer at all (as opposed to failing or staying silent).
    pub fn answered(&self) -> bool {
        matches!(self.outcome, Outcome::Found | Outcome::TokenAbsent | Outcome::Nxdomain | Outcome::NoData)
    }

    /// A short label for the outcome, as shown in a column.
    pub fn label(&self) -> &'static str {
        match self.outcome {
            Outcome::Found => "ok",
            Outcome::TokenAbsent => "absent",
            Outcome::Nxdomain => "nxdomain",
            Outcome::NoData => "no data",
            Outcome::Servfail => "servfail",
            Outcome::Refused => "refused",
            Outcome::Rcode => "error",
            Outcome::Timeout => "timeout",
            Outcome::Unreachable => "unreachable",
        }
    }

    /// `ns1.example.com (192.0.2.1:53)`, or the address alone for a resolver.
    pub fn who(&self) -> String {
        match &self.address {
            Some(address) if *address != self.server => format!("{} ({address})", self.server),
            _ => self.server.clone(),
        }
    }

    /// What the answer means, in a sentence.
    pub fn describe(&self, timeout: Duration) -> String {
        let refresh = |ttl: Option<u32>| match ttl {
            Some(ttl) => format!("; caches may keep this answer for up to {ttl}s"),
            None => String::new(),
        };
        match self.outcome {
            Outcome::Found => {
                format!("serves the token{}", self.ttl.map(|t| format!(" (TTL {t}s)")).unwrap_or_default())
            }
            Outcome::TokenAbsent => format!(
                "the record exists without the token; it holds {}{}",
                self.values.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(", "),
                refresh(self.ttl)
            ),
            Outcome::Nxdomain => format!("no such name (NXDOMAIN){}", refresh(self.ttl)),
            Outcome::NoData => format!("the name exists but has no TXT record (no data){}", refresh(self.ttl)),
            Outcome::Servfail => "the server failed to answer (SERVFAIL)".into(),
            Outcome::Refused => "the server refused the query (REFUSED): it does not serve this zone".into(),
            Outcome::Rcode => {
                format!("the server answered with an error ({})", self.detail.as_deref().unwrap_or("unknown"))
            }
            Outcome::Timeout => format!("no answer within {} s", (timeout.as_secs_f64() * 10.0).round() / 10.0),
            Outcome::Unreachable => {
                format!("could not be asked: {}", self.detail.as_deref().unwrap_or("unknown error"))
            }
        }
    }
}

/// Everything one verification found.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// The TXT record's name, e.g. kiro-app-1.example.com.
    pub name: String,
    /// The zone whose authoritative servers were asked, once found.
    pub zone: Option<String>,
    /// Why the authoritative servers could not be found, when they could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discovery_problem: Option<String>,
    pub authoritative: Vec<ServerReport>,
    pub resolvers: Vec<ServerReport>,
    /// Every authoritative server serves the token.
    pub verified: bool,
    /// Some resolver answered at all: when false, nothing can be said (network, firewall).
    pub resolvers_reachable: bool,
}

impl Verification {
    /// One line: what holds and what does not.
    pub fn summary(&self) -> String {
        if self.verified {
            return format!(
                "every authoritative server of {} serves the token ({} of {})",
                self.zone.as_deref().unwrap_or("the zone"),
                self.authoritative.len(),
                self.authoritative.len()
            );
        }
        if let Some(problem) = &self.discovery_problem {
            return problem.clone();
        }
        let serving = self.authoritative.iter().filter(|r| r.serves_token()).count();
        format!(
            "{serving} of {} authoritative servers of {} serve the token",
            self.authoritative.len(),
            self.zone.as_deref().unwrap_or("the zone")
        )
    }
}

/// Asks each server concurrently; results in the order of `servers`.
async fn ask_each<F, Fut, T>(servers: &[SocketAddr], ask: F) -> Vec<T>
where
    F: Fn(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let mut set = JoinSet::new();
    for (i, server) in servers.iter().enumerate() {
        let future = ask(*server);
        set.spawn(async move { (i, future.await) });
    }
    let mut results: Vec<Option<T>> = (0..servers.len()).map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        if let Ok((i, value)) = joined {
            results[i] = Some(value);
        }
    }
    results.into_iter().flatten().collect()
}

/// The answer of the first resolver (in the admin's order) that gave a DNS answer, else every
/// resolver's failure.
async fn first_answer<F, Fut, T>(settings: &DnsSettings, ask: F) -> Result<Result<T, NetError>, Vec<String>>
where
    F: Fn(TokioResolver) -> Fut,
    Fut: std::future::Future<Output = Result<T, NetError>> + Send + 'static,
    T: Send + 'static,
{
    let timeout = settings.timeout;
    let results = ask_each(&settings.resolvers, |server| {
        let resolver = resolver_for(server, true, timeout);
        let future = resolver.map(&ask);
        async move {
            match future {
                Ok(future) => (server, future.await),
                Err(e) => (server, Err(NetError::Msg(e))),
            }
        }
    })
    .await;
    let mut failures = Vec::new();
    let mut first = None;
    for (server, result) in results {
        let definitive = match &result {
            Ok(_) => true,
            Err(e) => matches!(classify(e), Answer::NxDomain { .. } | Answer::NoData { .. }),
        };
        if definitive {
            if first.is_none() {
                first = Some(result);
            }
        } else if let Err(e) = &result {
            failures.push(format!("{}: {}", show_server(&server), short_error(e)));
        }
    }
    first.ok_or(failures)
}

fn short_error(error: &NetError) -> String {
    match classify(error) {
        Answer::Timeout => "timeout".into(),
        Answer::Rcode(code) => code.to_string(),
        Answer::Unreachable(e) => e,
        other => format!("{other:?}"),
    }
}

/// A zone and the hosts that serve it.
struct Zone {
    apex: String,
    name_servers: Vec<String>,
}

/// Finds the zone that holds `name` by asking for NS records from `name` upwards, stopping before
/// a registry's public suffix (`com`, `co.uk`).
async fn find_zone(settings: &DnsSettings, name: &str) -> Result<Zone, String> {
    let candidates = crate::shared::domain::zone_candidates(name);
    let mut last_negative = String::new();
    for candidate in &candidates {
        let query = format!("{candidate}.");
        match first_answer(settings, move |r| {
            let query = query.clone();
            async move { r.ns_lookup(query).await }
        })
        .await
        {
            Err(failures) => {
                return Err(format!(
                    "no resolver answered when asked for the name servers of {candidate} ({})",
                    failures.join(", ")
                ));
            }
            Ok(Ok(lookup)) => {
                let mut name_servers: Vec<String> = lookup
                    .answers()
                    .iter()
                    .filter_map(|record| match &record.data {
                        RData::NS(ns) => Some(ns.0.to_ascii().trim_end_matches('.').to_ascii_lowercase()),
                        _ => None,
                    })
                    .collect();
                name_servers.sort();
                name_servers.dedup();
                if !name_servers.is_empty() {
                    return Ok(Zone { apex: candidate.clone(), name_servers });
                }
            }
            Ok(Err(e)) => {
                last_negative = match classify(&e) {
                    Answer::NxDomain { .. } => format!("{candidate} does not exist (NXDOMAIN)"),
                    _ => format!("{candidate} has no NS records"),
                };
            }
        }
    }
    let top = candidates.last().map(String::as_str).unwrap_or(name);
    Err(format!(
        "public DNS does not delegate {top}: {last_negative}; nobody can look the record up until the domain is registered and delegated to its name servers"
    ))
}

/// The address of each name server, found through the resolvers.
async fn addresses(settings: &DnsSettings, hosts: &[String]) -> Vec<(String, Option<SocketAddr>)> {
    let mut out = Vec::new();
    for host in hosts {
        let query = format!("{host}.");
        let found = first_answer(settings, move |r| {
            let query = query.clone();
            async move { r.lookup_ip(query).await }
        })
        .await;
        let address = match found {
            Ok(Ok(ips)) => ips.iter().next().map(|ip| SocketAddr::new(ip, settings.authoritative_port)),
            _ => None,
        };
        out.push((host.clone(), address));
    }
    out
}

/// Verifies that the TXT record `name` holds `token`: every authoritative server is asked
/// directly, and every resolver is asked as a client would.
pub async fn verify(settings: &DnsSettings, name: &str, token: &str) -> Verification {
    let timeout = settings.timeout;
    let resolver_answers = ask_each(&settings.resolvers, |server| {
        let name = name.to_owned();
        async move { (server, query_txt(server, &name, true, timeout).await) }
    });
    let authoritative = async {
        match find_zone(settings, name).await {
            Ok(zone) => {
                let hosts = addresses(settings, &zone.name_servers).await;
                let asked: Vec<SocketAddr> = hosts.iter().filter_map(|(_, a)| *a).collect();
                let answers = ask_each(&asked, |server| {
                    let name = name.to_owned();
                    async move { query_txt(server, &name, false, timeout).await }
                })
                .await;
                let mut answers = answers.into_iter();
                let reports = hosts
                    .into_iter()
                    .map(|(host, address)| match address {
                        Some(address) => {
                            ServerReport::new(host, Some(address), answers.next().unwrap_or(Answer::Timeout), token)
                        }
                        None => ServerReport::new(
                            host,
                            None,
                            Answer::Unreachable("its address could not be found through the resolvers".into()),
                            token,
                        ),
                    })
                    .collect();
                (Some(zone.apex), None, reports)
            }
            Err(problem) => (None, Some(problem), Vec::new()),
        }
    };
    let (resolver_answers, (zone, discovery_problem, authoritative)) = tokio::join!(resolver_answers, authoritative);
    let resolvers: Vec<ServerReport> = resolver_answers
        .into_iter()
        .map(|(server, answer)| ServerReport::new(server.to_string(), Some(server), answer, token))
        .collect();
    let resolvers_reachable = resolvers.iter().any(ServerReport::answered)
        || authoritative.iter().any(ServerReport::answered)
        || zone.is_some();
    let verified = !authoritative.is_empty() && authoritative.iter().all(ServerReport::serves_token);
    Verification {
        name: name.to_owned(),
        zone,
        discovery_problem,
        authoritative,
        resolvers,
        verified,
        resolvers_reachable,
    }
}
