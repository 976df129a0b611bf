//! `retire` of the TXT records: the token value of each record set removed, every other value
//! kept, and the set deleted only when the token was its only value. A record a person manages
//! (`dns: manual`, no Route 53 zone) is a manual step while any authoritative server serves it.

use super::route53::{self, HostedZone, ZoneLookup};
use super::{NEW_RECORD_TTL, Op, Planned, Read, Target, txt};
use crate::clients::aws::Aws;
use crate::clients::dns::{self as dns_client, DnsSettings};
use crate::engine::{Change, Console, ManualStep, Status, fields};
use crate::error::Error;
use crate::plan::model::DnsProvider;

/// Reads one domain and plans the removal of its token, if it is still there.
pub async fn read(aws: Option<&Aws>, settings: &DnsSettings, target: Target) -> Result<Read, Error> {
    let mut out = Read { target: target.clone(), zone: None, live: None, planned: None, findings: Vec::new() };
    let zone = match (target.provider, aws) {
        (DnsProvider::Route53, Some(aws)) => {
            match route53::find_zone(aws, &target.fqdn, target.hosted_zone_id.as_deref()).await? {
                ZoneLookup::Found(zone) => Some(zone),
                _ => None,
            }
        }
        _ => None,
    };
    let (Some(zone), Some(aws)) = (zone, aws) else {
        let verification = dns_client::verify(settings, &target.fqdn, &target.token).await;
        if verification.authoritative.iter().any(|r| r.serves_token()) {
            out.planned = Some(Planned { change: manual_removal(&target), op: Op::Verify, target });
        }
        return Ok(out);
    };
    let live = route53::read_record(aws, &zone.id, &target.fqdn).await?;
    out.zone = Some(zone.clone());
    out.live = Some(live.clone());
    let Some(set) = &live.txt else { return Ok(out) };
    let values: Vec<String> = set.values.iter().map(|v| txt::decode(v)).collect();
    if !values.contains(&target.token) {
        return Ok(out);
    }
    let kept: Vec<String> = values.iter().filter(|v| **v != target.token).cloned().collect();
    let zone_label = format!("{} ({})", zone.name, zone.id);
    let change = if kept.is_empty() {
        Change::delete(
            target.address(),
            fields! {"zone" => zone_label, "name" => target.fqdn, "type" => "TXT", "values" => values},
        )
        .because("the token is the record set's only value: the set is deleted")
    } else {
        Change::update(target.address(), fields! {"values" => values}, fields! {"values" => kept})
            .because(format!("removes the token from the TXT record set in {zone_label} and keeps its other value(s)"))
    };
    out.planned = Some(Planned { change, op: Op::Remove { zone }, target });
    Ok(out)
}

fn manual_removal(target: &Target) -> Change {
    Change::manual(
        target.address(),
        fields! {"Name" => target.fqdn, "Type" => "TXT", "Value" => target.token},
        ManualStep {
            title: format!("Remove the token from the TXT record {}", target.fqdn),
            console: Console::DnsProvider,
            location: format!("the DNS provider that serves {}", target.domain),
            instructions: vec![
                format!("Remove the TXT value below from {}; keep every other value at that name.", target.fqdn),
                "Delete the record only if the token was its only value.".into(),
            ],
            record: None,
            verify: format!("the next `kiro-onboard retire` asks every authoritative server of {}", target.domain),
            wait: None,
            needs: Vec::new(),
            permissions: Vec::new(),
        },
    )
}

/// Removes the token from the set as it is now (read again), retrying when another writer
/// changed it meanwhile.
pub async fn remove(aws: &Aws, zone: &HostedZone, target: &Target) -> Status {
    let comment = format!("kiro-onboard retire: Kiro domain verification for {}", target.domain);
    for _ in 0..super::WRITE_ATTEMPTS {
        let live = match route53::read_record(aws, &zone.id, &target.fqdn).await {
            Ok(live) => live,
            Err(e) => return Status::Failed(e.to_string()),
        };
        let Some(set) = &live.txt else { return Status::AlreadyDone };
        let kept: Vec<String> = set.values.iter().filter(|v| txt::decode(v) != target.token).cloned().collect();
        if kept.len() == set.values.len() {
            return Status::AlreadyDone;
        }
        let ttl = if kept.is_empty() { NEW_RECORD_TTL } else { set.ttl };
        match route53::replace_txt(aws, &zone.id, &target.fqdn, Some(set), ttl, &kept, &comment).await {
            Ok(route53::Replaced::Done(_)) => return Status::Applied,
            Ok(route53::Replaced::SetChanged(_)) => continue,
            Err(e) => return Status::Failed(e.to_string()),
        }
    }
    Status::Failed(format!("the TXT set at {} kept changing while kiro-onboard removed the token", target.fqdn))
}
