//! The `dns` step: one TXT value per domain, the token Kiro's console shows, and whether the
//! world can see it. It owns exactly that one value in the record set at `<record>.<domain>`;
//! every other value (SPF, other services' verifications) is kept as it is.
//!
//! - `dns: route53`: finds the public hosted zone, reads the TXT set, and plans a `create` (no
//!   set yet) or an `update` (the set without our value). Apply reads again, merges, UPSERTs,
//!   waits for Route 53's INSYNC, then verifies.
//! - `dns: manual`: a `manual` change with the exact record for any DNS provider.
//! - Verification is the check Kiro makes: a public lookup. The plan shows a `verify` change for a
//!   record that is in place (in Route 53, or on some of the authoritative servers) while not
//!   every authoritative server serves it yet. Once they all do, the domain has nothing to do.
//!   Apply reports a record that does not resolve yet as pending, with the `dns verify --wait`
//!   command to run next: propagation takes time and is not a failed apply.

mod retire;
pub mod route53;
pub mod txt;

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::task::JoinSet;

use crate::clients::aws::Aws;
use crate::clients::dns::{self as dns_client, DnsSettings, Verification};
use crate::engine::fields;
use crate::engine::{
    Action, Address, Change, Checked, Console, Finding, ManualStep, Outcome, Session, Severity, Status, ToApply,
    TypedStep,
};
use crate::error::Error;
use crate::plan::domain;
use crate::plan::model::{DEFAULT_RECORD, DnsProvider, Domain};
use crate::steps::Context;
use route53::{HostedZone, LiveRecord, ZoneLookup};

/// TTL of a record set the tool creates. An existing set keeps its own.
pub const NEW_RECORD_TTL: i64 = 300;
/// Environment variable: how long apply waits for Route 53 to report INSYNC, in seconds.
pub const SYNC_TIMEOUT_ENV: &str = "KIRO_ONBOARD_ROUTE53_SYNC_TIMEOUT";
const DEFAULT_SYNC_TIMEOUT: Duration = Duration::from_secs(300);

/// One domain of the plan, in normal form.
#[derive(Debug, Clone)]
pub struct Target {
    /// The domain in lower case and punycode, e.g. example.com.
    pub domain: String,
    pub record: String,
    /// `record.domain`, the TXT record's name.
    pub fqdn: String,
    pub token: String,
    pub provider: DnsProvider,
    pub hosted_zone_id: Option<String>,
}

impl Target {
    /// The plan's domain, normalised, when it has its token (validation has accepted it). Without
    /// one there is nothing to write yet: the Kiro console step that gives it comes first.
    pub fn from_plan(plan: &Domain) -> Option<Self> {
        let token = plan.token.clone()?;
        let name = domain::normalize(&plan.name).unwrap_or_else(|_| plan.name.to_lowercase());
        let record = domain::normalize_record(&plan.record).unwrap_or_else(|_| plan.record.to_lowercase());
        Some(Target {
            fqdn: domain::fqdn(&record, &name),
            domain: name,
            record,
            token,
            provider: plan.dns,
            hosted_zone_id: plan.hosted_zone_id.clone(),
        })
    }

    pub fn address(&self) -> Address {
        Address::new("dns.txt", &self.fqdn)
    }
}

/// The `kiro-onboard dns verify … --wait 10m` command that checks `target` with `settings`.
pub fn verify_command(target: &Target, settings: &DnsSettings) -> String {
    let mut command = format!("kiro-onboard dns verify {} --token {}", target.domain, shell_quote(&target.token));
    if target.record != DEFAULT_RECORD {
        command.push_str(&format!(" --record {}", target.record));
    }
    for resolver in settings.resolver_args() {
        command.push_str(&format!(" --resolver {resolver}"));
    }
    command.push_str(" --wait 10m");
    command
}

pub(crate) fn shell_quote(text: &str) -> String {
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_.=:/+,@%".contains(c)) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

pub struct DnsStep {
    aws: Option<Arc<Aws>>,
    targets: Vec<Target>,
    settings: DnsSettings,
    /// Plan the removal of the token rather than its addition (`retire`).
    retire: bool,
}

/// What apply must do for one change.
#[derive(Debug, Clone)]
enum Op {
    /// Add the token to the TXT set in this zone.
    Write { zone: HostedZone },
    /// Check that every authoritative server serves the token.
    Verify,
    /// A person creates the record; apply checks whether it resolves yet.
    Manual { instructions: String },
    /// Remove the token from the TXT set in this zone (`retire`).
    Remove { zone: HostedZone },
}

#[derive(Debug, Clone)]
struct Planned {
    target: Target,
    change: Change,
    op: Op,
}

/// What the check read for one domain.
struct Read {
    target: Target,
    zone: Option<HostedZone>,
    live: Option<LiveRecord>,
    planned: Option<Planned>,
    findings: Vec<Finding>,
}

/// What `check` planned for each domain, for `execute`.
pub struct Observed {
    planned: Vec<Planned>,
}

impl DnsStep {
    pub fn new(aws: Option<Arc<Aws>>, domains: &[Domain], settings: DnsSettings) -> Self {
        DnsStep { aws, targets: domains.iter().filter_map(Target::from_plan).collect(), settings, retire: false }
    }

    /// The step of `retire`: the token removed from each TXT set, every other value kept.
    pub fn retiring(mut self) -> Self {
        self.retire = true;
        self
    }

    async fn check_now(&self) -> Result<Checked<Observed>, Error> {
        let mut tasks = JoinSet::new();
        for (i, target) in self.targets.iter().enumerate() {
            let (aws, settings, target, retire) =
                (self.aws.clone(), self.settings.clone(), target.clone(), self.retire);
            tasks.spawn(async move {
                let read = if retire {
                    retire::read(aws.as_deref(), &settings, target).await
                } else {
                    read(aws, &settings, target).await
                };
                (i, read)
            });
        }
        let mut reads: Vec<Option<Read>> = (0..self.targets.len()).map(|_| None).collect();
        while let Some(joined) = tasks.join_next().await {
            let (i, result) = joined.map_err(|e| Error::Precondition {
                message: format!("internal error while reading DNS: {e}"),
                hint: "run the command again; report a bug if it persists".into(),
            })?;
            reads[i] = Some(result?);
        }
        let reads: Vec<Read> = reads.into_iter().flatten().collect();
        let mut changes = Vec::new();
        let mut findings = Vec::new();
        let mut unchanged = Vec::new();
        let mut planned = Vec::new();
        for read in &reads {
            findings.extend(read.findings.iter().cloned());
            match &read.planned {
                Some(p) => {
                    changes.push(p.change.clone());
                    planned.push(p.clone());
                }
                None => unchanged.push(read.target.address()),
            }
        }
        Ok(Checked { changes, findings, unchanged, fingerprint: fingerprint(&reads), read: Observed { planned } })
    }
}

impl TypedStep<Context> for DnsStep {
    type Read = Observed;

    fn name(&self) -> &'static str {
        "dns"
    }

    async fn check(&self, _ctx: &mut Context, _session: &Session) -> Result<Checked<Observed>, Error> {
        self.check_now().await
    }

    async fn execute(&self, _ctx: &mut Context, planned: ToApply<'_, Observed>, session: &Session) -> Vec<Outcome> {
        let observed = planned.read;
        let mut tasks = JoinSet::new();
        let mut outcomes: Vec<Option<Outcome>> = vec![None; observed.planned.len()];
        for (i, planned) in observed.planned.iter().enumerate() {
            if session.is_interrupted() {
                outcomes[i] =
                    Some(Outcome::new(&planned.change, Status::NotAttempted("interrupted before this change".into())));
                continue;
            }
            let (aws, settings, planned, session) =
                (self.aws.clone(), self.settings.clone(), planned.clone(), session.clone());
            tasks.spawn(async move {
                let status = run(aws, &settings, &planned, &session).await;
                (i, Outcome::new(&planned.change, status))
            });
        }
        while let Some(joined) = tasks.join_next().await {
            if let Ok((i, outcome)) = joined {
                outcomes[i] = Some(outcome);
            }
        }
        outcomes
            .into_iter()
            .zip(&observed.planned)
            .map(|(outcome, planned)| {
                outcome.unwrap_or_else(|| {
                    Outcome::new(&planned.change, Status::Failed("internal error: the task did not finish".into()))
                })
            })
            .collect()
    }
}

/// Reads one domain and decides what, if anything, it needs.
async fn read(aws: Option<Arc<Aws>>, settings: &DnsSettings, target: Target) -> Result<Read, Error> {
    match (target.provider, aws) {
        (DnsProvider::Route53, Some(aws)) => read_route53(&aws, settings, target).await,
        (DnsProvider::Route53, None) => Err(Error::Precondition {
            message: format!("{} uses `dns: route53`, but no AWS configuration was loaded", target.domain),
            hint: "this is a bug in kiro-onboard; as a workaround use `dns: manual`".into(),
        }),
        (DnsProvider::Manual, _) => {
            let mut out = Read { target: target.clone(), zone: None, live: None, planned: None, findings: Vec::new() };
            let verification = dns_client::verify(settings, &target.fqdn, &target.token).await;
            out.planned = manual_or_verify(&target, settings, &verification, &mut out.findings);
            Ok(out)
        }
    }
}

/// The record set in the domain's public hosted zone: the token written when it is missing,
/// verified when it is there.
async fn read_route53(aws: &Aws, settings: &DnsSettings, target: Target) -> Result<Read, Error> {
    let mut out = Read { target: target.clone(), zone: None, live: None, planned: None, findings: Vec::new() };
    let lookup = route53::find_zone(aws, &target.fqdn, target.hosted_zone_id.as_deref()).await?;
    let zone = match lookup {
        ZoneLookup::Found(zone) => zone,
        other => {
            out.findings.extend(zone_finding(&target, &other));
            if matches!(other, ZoneLookup::NotFound | ZoneLookup::OnlyPrivate(_)) {
                // The record has to live wherever the domain's public DNS is.
                let verification = dns_client::verify(settings, &target.fqdn, &target.token).await;
                out.planned = manual_or_verify(&target, settings, &verification, &mut out.findings);
            }
            return Ok(out);
        }
    };
    let live = route53::read_record(aws, &zone.id, &target.fqdn).await?;
    out.zone = Some(zone.clone());
    out.live = Some(live.clone());
    if let Some(conflict) = record_set_conflict(&target, &zone, &live) {
        out.findings.push(conflict);
        return Ok(out);
    }
    let values: Vec<String> =
        live.txt.as_ref().map(|set| set.values.iter().map(|v| txt::decode(v)).collect()).unwrap_or_default();
    if values.contains(&target.token) {
        let verification = dns_client::verify(settings, &target.fqdn, &target.token).await;
        if !verification.verified {
            out.findings.push(not_served_finding(&target, &verification, settings));
            if let Some(finding) = delegation_finding(aws, &zone, &verification).await? {
                out.findings.push(finding);
            }
            out.planned = Some(Planned {
                change: verify_change(
                    &target,
                    format!(
                        "Route 53 ({}) holds the token; not every authoritative server of {} serves it yet",
                        zone.id, target.domain
                    ),
                ),
                op: Op::Verify,
                target,
            });
        }
        return Ok(out);
    }
    let change = write_change(&target, &zone, &live, values);
    out.planned = Some(Planned { change, op: Op::Write { zone }, target });
    Ok(out)
}

/// A record set at the name that no TXT value can be added to: a CNAME, an alias, a routing
/// policy.
fn record_set_conflict(target: &Target, zone: &HostedZone, live: &LiveRecord) -> Option<Finding> {
    let finding = if let Some(cname) = &live.cname {
        Finding::new(
            "dns.cname_conflict",
            Severity::Error,
            format!("{} is a CNAME (to {cname}), so it cannot also hold a TXT record", target.fqdn),
            format!(
                "choose another `record` prefix for {}, or remove the CNAME in hosted zone {}",
                target.domain, zone.id
            ),
        )
    } else if live.alias {
        Finding::new(
            "dns.alias_record",
            Severity::Error,
            format!(
                "the TXT record at {} is a Route 53 alias to another record, so it has no values of its own to add the token to",
                target.fqdn
            ),
            format!(
                "choose another `record` prefix for {}, or replace the alias TXT record in hosted zone {} with a simple one",
                target.domain, zone.id
            ),
        )
    } else if live.routed {
        Finding::new(
            "dns.routing_policy",
            Severity::Error,
            format!(
                "the TXT records at {} use a routing policy (weighted, latency, …), so no single record set can be extended",
                target.fqdn
            ),
            format!(
                "choose another `record` prefix for {}, or replace the routed TXT records in hosted zone {} with a simple one",
                target.domain, zone.id
            ),
        )
    } else {
        return None;
    };
    Some(finding.at(target.address()))
}

/// The token written into the record set: a new set, or the existing one with its other values
/// (`values`) kept.
fn write_change(target: &Target, zone: &HostedZone, live: &LiveRecord, values: Vec<String>) -> Change {
    let zone_label = format!("{} ({})", zone.name, zone.id);
    match &live.txt {
        None => Change::create(
            target.address(),
            fields! {
                "zone" => zone_label,
                "name" => target.fqdn,
                "type" => "TXT",
                "ttl" => NEW_RECORD_TTL,
                "values" => vec![target.token.clone()],
            },
        ),
        Some(set) => {
            let mut after = values.clone();
            after.push(target.token.clone());
            Change::update(target.address(), fields! {"values" => values}, fields! {"values" => after}).because(
                format!(
                    "adds the token to the TXT record set in {zone_label} and keeps its {} other value(s) and TTL {}s",
                    set.values.len(),
                    set.ttl
                ),
            )
        }
    }
}

/// For a record a person creates: nothing when every authoritative server serves it, `verify`
/// while some do, `manual` (with the record) while none does.
fn manual_or_verify(
    target: &Target,
    settings: &DnsSettings,
    verification: &Verification,
    findings: &mut Vec<Finding>,
) -> Option<Planned> {
    if verification.verified {
        return None;
    }
    if verification.authoritative.iter().any(|r| r.serves_token()) {
        findings.push(not_served_finding(target, verification, settings));
        return Some(Planned {
            change: verify_change(
                target,
                format!("some authoritative servers of {} serve the token, not all yet", target.domain),
            ),
            op: Op::Verify,
            target: target.clone(),
        });
    }
    let zone_file = txt::zone_file_line(&target.fqdn, NEW_RECORD_TTL, &target.token);
    let instructions = format!(
        "create the TXT record {} with the value {:?} at the DNS provider that serves {} (zone file: {zone_file})",
        target.fqdn, target.token, target.domain
    );
    let mut finding = not_served_finding(target, verification, settings);
    if verification.resolvers_reachable {
        finding.fix = format!(
            "create the record as the manual step {} says, then check with `{}`",
            target.address(),
            verify_command(target, settings)
        );
    }
    findings.push(finding);
    Some(Planned {
        change: Change::manual(
            target.address(),
            fields! {
                "Name" => target.fqdn,
                "Type" => "TXT",
                "Value" => target.token,
                "TTL" => NEW_RECORD_TTL.to_string(),
                "Zone file" => zone_file,
            },
            ManualStep {
                title: format!("Create the TXT record {}", target.fqdn),
                console: Console::DnsProvider,
                location: format!("the DNS provider that serves {}", target.domain),
                instructions: vec![
                    format!(
                        "Add a TXT record named {} with the value below (the Kiro console showed it when you added {}).",
                        target.fqdn, target.domain
                    ),
                    "If the name already has TXT values (SPF, other verifications), add this one next to them: do not replace them.".into(),
                    "Most DNS consoles add the quotes themselves; a zone file needs them as in the zone file line.".into(),
                ],
                record: None,
                verify: format!(
                    "kiro-onboard asks every authoritative server of {} for the record, as Kiro's public lookup will: `{}`",
                    target.domain,
                    verify_command(target, settings)
                ),
                wait: Some(
                    "DNS changes reach every server within minutes; resolvers that cached the old answer keep it for its TTL. Kiro shows the domain as Pending until then."
                        .into(),
                ),
                needs: Vec::new(),
                permissions: Vec::new(),
            },
        ),
        op: Op::Manual { instructions },
        target: target.clone(),
    })
}

fn verify_change(target: &Target, reason: String) -> Change {
    Change {
        address: target.address(),
        action: Action::Verify,
        before: None,
        after: Some(fields! {
            "name" => target.fqdn,
            "type" => "TXT",
            "value" => target.token,
        }),
        after_unknown: Vec::new(),
        reason: Some(reason),
        manual: None,
    }
}

fn evidence(verification: &Verification, settings: &DnsSettings) -> Vec<String> {
    let mut lines: Vec<String> = verification
        .authoritative
        .iter()
        .map(|r| format!("authoritative {} {}: {}", r.label(), r.who(), r.describe(settings.timeout)))
        .collect();
    if let Some(problem) = &verification.discovery_problem {
        lines.push(problem.clone());
    }
    lines.extend(
        verification
            .resolvers
            .iter()
            .map(|r| format!("resolver {} {}: {}", r.label(), r.who(), r.describe(settings.timeout))),
    );
    lines
}

fn not_served_finding(target: &Target, verification: &Verification, settings: &DnsSettings) -> Finding {
    let (message, fix) = if verification.resolvers_reachable {
        (
            format!("{} is not verifiable yet: {}", target.fqdn, verification.summary()),
            format!(
                "wait for the record to propagate (the TTLs in the evidence say how long caches may keep old answers), then check with `{}`",
                verify_command(target, settings)
            ),
        )
    } else {
        (
            format!("{} could not be checked: no DNS server answered", target.fqdn),
            "check that this machine can reach the resolvers over UDP and TCP port 53, or name reachable ones in plan `resolvers`".to_owned(),
        )
    };
    let mut finding = Finding::new("dns.not_served", Severity::Warning, message, fix).at(target.address());
    for line in evidence(verification, settings) {
        finding = finding.evidence(line);
    }
    finding
}

/// When public DNS does not send lookups to this hosted zone, says so: the most common reason a
/// record that is in Route 53 never verifies.
async fn delegation_finding(
    aws: &Aws,
    zone: &HostedZone,
    verification: &Verification,
) -> Result<Option<Finding>, Error> {
    let Some(public_zone) = &verification.zone else {
        return Ok(None);
    };
    let public: Vec<String> = {
        let mut names: Vec<String> = verification.authoritative.iter().map(|r| r.server.clone()).collect();
        names.sort();
        names.dedup();
        names
    };
    if *public_zone != zone.name {
        return Ok(Some(Finding::new(
            "dns.delegation_mismatch",
            Severity::Error,
            format!(
                "public DNS finds this name in the zone {public_zone}, not in the hosted zone {} ({})",
                zone.name, zone.id
            ),
            format!(
                "delegate {} to the hosted zone's name servers (NS records in {public_zone}), or set `hosted_zone_id` to the zone that serves it",
                zone.name
            ),
        )));
    }
    let assigned = route53::name_servers(aws, &zone.id).await?;
    if assigned.is_empty() || public.is_empty() || public == assigned {
        return Ok(None);
    }
    Ok(Some(
        Finding::new(
            "dns.delegation_mismatch",
            Severity::Error,
            format!("public DNS sends lookups for {} to other name servers than the hosted zone {}'s", zone.name, zone.id),
            format!("set the NS records of {} at your registrar to the hosted zone's name servers, or write the record in the zone that serves it (set `hosted_zone_id`)", zone.name),
        )
        .evidence(format!("public NS: {}", public.join(", ")))
        .evidence(format!("hosted zone NS: {}", assigned.join(", "))),
    ))
}

fn zone_finding(target: &Target, lookup: &ZoneLookup) -> Option<Finding> {
    let list =
        |zones: &[HostedZone]| zones.iter().map(|z| format!("{} ({})", z.id, z.name)).collect::<Vec<_>>().join(", ");
    let finding = match lookup {
        ZoneLookup::OnlyPrivate(zones) => Finding::new(
            "dns.private_zone",
            Severity::Error,
            format!(
                "Route 53 has only a private hosted zone for {}, and a private zone cannot serve a public lookup: Kiro would never see the record",
                target.fqdn
            ),
            format!(
                "create the record in the public DNS of {} (a public hosted zone, or `dns: manual` for another provider)",
                target.domain
            ),
        )
        .evidence(format!("private zones: {}", list(zones))),
        ZoneLookup::NotFound => Finding::new(
            "dns.no_hosted_zone",
            Severity::Error,
            format!("no public Route 53 hosted zone in this account contains {}", target.fqdn),
            format!(
                "create a public hosted zone for {} and delegate the domain to it, set `hosted_zone_id`, or use `dns: manual` if another provider serves the domain",
                target.domain
            ),
        ),
        ZoneLookup::Ambiguous(zones) => Finding::new(
            "dns.ambiguous_zone",
            Severity::Error,
            format!("several public hosted zones could hold {}", target.fqdn),
            "set `hosted_zone_id` to the zone your registrar delegates the domain to (its NS records match the zone's name servers)",
        )
        .evidence(format!("zones: {}", list(zones))),
        ZoneLookup::Unusable { zone_id, reason } => Finding::new(
            "dns.unusable_zone",
            Severity::Error,
            format!("hosted_zone_id {zone_id} cannot hold {}: {reason}", target.fqdn),
            "fix `hosted_zone_id` (`aws route53 list-hosted-zones-by-name` lists the zones), or leave it out to find the zone by name",
        ),
        ZoneLookup::Found(_) => return None,
    };
    Some(finding.at(target.address()))
}

/// Makes one change; never fails the whole apply for DNS propagation.
async fn run(aws: Option<Arc<Aws>>, settings: &DnsSettings, planned: &Planned, session: &Session) -> Status {
    let target = &planned.target;
    let command = verify_command(target, settings);
    match &planned.op {
        Op::Write { zone } => {
            let Some(aws) = aws else {
                return Status::Failed("no AWS configuration was loaded".into());
            };
            match write(&aws, zone, target, session).await {
                Ok(WriteResult::Landed) => {
                    let verification = dns_client::verify(settings, &target.fqdn, &target.token).await;
                    if verification.verified {
                        Status::Applied
                    } else {
                        Status::Pending(format!(
                            "written to Route 53 ({}); {}; propagation takes time: run `{command}`",
                            zone.id,
                            not_yet(&verification)
                        ))
                    }
                }
                Ok(WriteResult::InSync(already)) => {
                    let verification = dns_client::verify(settings, &target.fqdn, &target.token).await;
                    if verification.verified {
                        if already { Status::AlreadyDone } else { Status::Applied }
                    } else {
                        Status::Pending(format!(
                            "the token is in Route 53 ({}), but {}; propagation takes time: run `{command}`",
                            zone.id,
                            not_yet(&verification)
                        ))
                    }
                }
                Ok(WriteResult::NotInSync { change_id, waited }) => Status::Pending(format!(
                    "written to Route 53 ({}), which has not reported change {change_id} INSYNC after {}s; run `{command}`",
                    zone.id,
                    waited.as_secs()
                )),
                Err(message) => Status::Failed(message),
            }
        }
        Op::Remove { zone } => match aws {
            Some(aws) => retire::remove(&aws, zone, target).await,
            None => Status::Failed("no AWS configuration was loaded".into()),
        },
        Op::Verify if planned.change.manual.is_some() => {
            Status::Pending(format!("remove the TXT value at {} at your DNS provider", target.fqdn))
        }
        Op::Verify => {
            let verification = dns_client::verify(settings, &target.fqdn, &target.token).await;
            if verification.verified {
                Status::AlreadyDone
            } else {
                Status::Pending(format!("{}; propagation takes time: run `{command}`", not_yet(&verification)))
            }
        }
        Op::Manual { instructions } => {
            let verification = dns_client::verify(settings, &target.fqdn, &target.token).await;
            if verification.verified {
                Status::AlreadyDone
            } else {
                Status::Pending(format!("{instructions}; then run `{command}`"))
            }
        }
    }
}

fn not_yet(verification: &Verification) -> String {
    if verification.resolvers_reachable {
        verification.summary()
    } else {
        "no DNS server answered, so it could not be verified".into()
    }
}

enum WriteResult {
    /// Our batch landed although its answer was lost (its change id with it): Route 53 holds
    /// exactly the set it asked for.
    Landed,
    /// Route 53 serves the set; `true` when the token was already there.
    InSync(bool),
    NotInSync {
        change_id: String,
        waited: Duration,
    },
}

/// How many times a write is tried again after Route 53 refused it because the set changed
/// between our read and our write (another writer).
const WRITE_ATTEMPTS: usize = 5;

/// Reads the set, replaces exactly what was read by it plus the token (one DELETE + CREATE
/// batch), re-reading and retrying when another writer changed the set meanwhile, and waits for
/// INSYNC.
async fn write(aws: &Aws, zone: &HostedZone, target: &Target, session: &Session) -> Result<WriteResult, String> {
    let comment = format!("kiro-onboard: Kiro domain verification for {}", target.domain);
    let mut attempt = 1;
    // The set our last batch asked for: when an answer was lost (a reset, a 5xx after the write)
    // the repeated batch is refused because the first one landed, and the next read shows it.
    let mut last_sent: Option<(i64, Vec<String>)> = None;
    let change_id = loop {
        let live = route53::read_record(aws, &zone.id, &target.fqdn).await.map_err(|e| e.to_string())?;
        if let (Some((ttl, values)), Some(now)) = (&last_sent, &live.txt)
            && now.ttl == *ttl
            && now.values == *values
        {
            return Ok(WriteResult::Landed);
        }
        if let Some(cname) = &live.cname {
            return Err(format!("{} became a CNAME (to {cname}) since the plan was made", target.fqdn));
        }
        if live.alias {
            return Err(format!(
                "the TXT record at {} is now an alias; kiro-onboard does not change alias records",
                target.fqdn
            ));
        }
        if live.routed {
            return Err(format!("the TXT records at {} now use a routing policy", target.fqdn));
        }
        let (ttl, mut values) = match &live.txt {
            Some(set) => (set.ttl, set.values.clone()),
            None => (NEW_RECORD_TTL, Vec::new()),
        };
        if values.iter().any(|v| txt::decode(v) == target.token) {
            return Ok(WriteResult::InSync(true));
        }
        values.push(txt::encode(&target.token));
        last_sent = Some((ttl, values.clone()));
        let replaced = route53::replace_txt(aws, &zone.id, &target.fqdn, live.txt.as_ref(), ttl, &values, &comment)
            .await
            .map_err(|e| match e.hint() {
                Some(hint) => format!("{e} ({hint})"),
                None => e.to_string(),
            })?;
        match replaced {
            route53::Replaced::Done(change_id) => break change_id,
            route53::Replaced::SetChanged(reason) if attempt < WRITE_ATTEMPTS => {
                tracing::debug!(fqdn = %target.fqdn, attempt, %reason, "the TXT set changed since it was read; reading again");
                attempt += 1;
            }
            route53::Replaced::SetChanged(reason) => {
                return Err(format!(
                    "the TXT set at {} kept changing while kiro-onboard wrote it ({WRITE_ATTEMPTS} attempts; Route 53: {reason}); nothing was overwritten (hint: run apply again when the other writer is done)",
                    target.fqdn
                ));
            }
        }
    };
    let limit = std::env::var(SYNC_TIMEOUT_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(DEFAULT_SYNC_TIMEOUT);
    let waiting = session.progress.waiting(&format!("dns: {}", target.fqdn));
    let started = std::time::Instant::now();
    let in_sync = route53::wait_in_sync(aws, &change_id, limit, |status, waited| {
        waiting.update(&format!(
            "waiting for Route 53 to apply change {change_id} ({status}, {}s of at most {}s)",
            waited.as_secs(),
            limit.as_secs()
        ));
    })
    .await
    .map_err(|e| e.to_string())?;
    if in_sync {
        if started.elapsed() > Duration::from_secs(1) {
            waiting.finish("Route 53 reports the change INSYNC");
        }
        Ok(WriteResult::InSync(false))
    } else {
        waiting.finish("Route 53 has not applied the change yet");
        Ok(WriteResult::NotInSync { change_id, waited: started.elapsed() })
    }
}

/// A digest of what the plan's domains look like in Route 53 (not of DNS answers, which move on
/// their own while propagating).
fn fingerprint(reads: &[Read]) -> String {
    let mut hasher = Sha256::new();
    let mut feed = |s: &str| {
        hasher.update(s.as_bytes());
        hasher.update([0]);
    };
    for read in reads {
        feed(&read.target.fqdn);
        feed(&read.target.token);
        feed(&format!("{:?}", read.target.provider));
        feed(&format!("{:?}", read.zone.as_ref().map(|z| &z.id)));
        if let Some(live) = &read.live {
            let mut values = live.txt.as_ref().map(|s| s.values.clone()).unwrap_or_default();
            values.sort();
            feed(&format!(
                "{:?}|{}|{:?}|{}",
                live.txt.as_ref().map(|s| s.ttl),
                values.join("\u{1}"),
                live.cname,
                live.routed
            ));
        }
    }
    hasher.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_commands_quote_what_the_shell_would_split() {
        let target = Target {
            domain: "example.com".into(),
            record: "kiro-app-1".into(),
            fqdn: "kiro-app-1.example.com".into(),
            token: "kiro-verification=abc 123".into(),
            provider: DnsProvider::Manual,
            hosted_zone_id: None,
        };
        let settings = DnsSettings {
            resolvers: vec!["127.0.0.1:5353".parse().unwrap()],
            authoritative_port: 53,
            timeout: Duration::from_secs(2),
        };
        assert_eq!(
            verify_command(&target, &settings),
            "kiro-onboard dns verify example.com --token 'kiro-verification=abc 123' --resolver 127.0.0.1:5353 --wait 10m"
        );
        let other = Target { record: "_kiro".into(), token: "plain=token".into(), ..target };
        let defaults = DnsSettings::new(&[]).unwrap();
        assert_eq!(
            verify_command(&other, &defaults),
            "kiro-onboard dns verify example.com --token plain=token --record _kiro --wait 10m"
        );
    }
}
