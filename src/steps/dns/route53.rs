//! Route 53: finding the public hosted zone for a name, reading the TXT record set at it, and
//! adding one value to it. Every call goes through `Aws::call`.
//!
//! A write never overwrites what another writer added meanwhile: it sends one batch that DELETEs
//! the set exactly as read and CREATEs it with our value added. Route 53 applies a batch all or
//! nothing and refuses a DELETE whose values differ from the current ones, and a CREATE over an
//! existing set, with InvalidChangeBatch (Route 53 API reference, ChangeResourceRecordSets:
//! "DELETE: Deletes an existing resource record set that has the specified values"; "CREATE:
//! Creates a resource record set that has the specified values", an error if it exists; "Change
//! batches are considered transactional changes"). The caller then reads again and retries.
//! UPSERT, which replaces whatever is there, is never used.

use std::time::{Duration, Instant};

use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecord, ResourceRecordSet, RrType,
};

use crate::clients::aws::{Aws, remote_error};
use crate::error::Error;

const SERVICE: &str = "route53";

/// A hosted zone, as the tool needs it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostedZone {
    /// The id without the `/hostedzone/` prefix, e.g. Z0123456789ABCDEFGHIJ.
    pub id: String,
    /// The zone's name, lower case, without the trailing dot.
    pub name: String,
    pub private: bool,
}

/// Which zone serves a name, or why none can.
#[derive(Debug, Clone)]
pub enum ZoneLookup {
    Found(HostedZone),
    /// No public zone matches; these private ones do (public DNS cannot see them).
    OnlyPrivate(Vec<HostedZone>),
    /// Several public zones share the longest matching name.
    Ambiguous(Vec<HostedZone>),
    NotFound,
    /// The plan named a zone: it does not exist, or does not contain the name, or is private.
    Unusable {
        zone_id: String,
        reason: String,
    },
}

/// The record sets at one name that matter for a TXT record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct LiveRecord {
    /// The TXT set: its TTL and its values exactly as Route 53 holds them. `None` when absent.
    pub txt: Option<TxtSet>,
    /// A CNAME at the name, which rules out any other record there.
    pub cname: Option<String>,
    /// A TXT set with a routing policy (weighted, latency, …): not ours to merge into.
    pub routed: bool,
    /// The TXT set is an alias to another record: it has no values of its own to add to.
    pub alias: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TxtSet {
    pub ttl: i64,
    /// Values in presentation format (`"…" "…"`), as read.
    pub values: Vec<String>,
}

pub fn strip_zone_prefix(id: &str) -> &str {
    id.strip_prefix("/hostedzone/").unwrap_or(id)
}

fn plain_name(name: &str) -> String {
    // Route 53 writes `*` as `\052`; only letters, digits, hyphens and underscores matter here.
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn zone_of(zone: &aws_sdk_route53::types::HostedZone) -> HostedZone {
    HostedZone {
        id: strip_zone_prefix(zone.id()).to_owned(),
        name: plain_name(zone.name()),
        private: zone.config().is_some_and(|c| c.private_zone()),
    }
}

/// The public hosted zone for `fqdn`: the plan's `hosted_zone_id`, or the longest public zone
/// whose name is a suffix of `fqdn`, below the registry's public suffix.
pub async fn find_zone(aws: &Aws, fqdn: &str, zone_id: Option<&str>) -> Result<ZoneLookup, Error> {
    let client = aws.route53();
    if let Some(zone_id) = zone_id {
        let id = strip_zone_prefix(zone_id).to_owned();
        let result = aws.call(SERVICE, "GetHostedZone", || client.get_hosted_zone().id(&id).send()).await;
        let zone = match result {
            Ok(out) => match out.hosted_zone() {
                Some(zone) => zone_of(zone),
                None => {
                    return Ok(ZoneLookup::Unusable { zone_id: id, reason: "Route 53 returned no zone".into() });
                }
            },
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_hosted_zone()) => {
                return Ok(ZoneLookup::Unusable {
                    zone_id: id,
                    reason: "no such hosted zone in this AWS account".into(),
                });
            }
            Err(e) => return Err(remote_error(SERVICE, "GetHostedZone", &e)),
        };
        if !(fqdn == zone.name || fqdn.ends_with(&format!(".{}", zone.name))) {
            return Ok(ZoneLookup::Unusable {
                zone_id: id,
                reason: format!("it is the zone for {}, which does not contain {fqdn}", zone.name),
            });
        }
        if zone.private {
            return Ok(ZoneLookup::OnlyPrivate(vec![zone]));
        }
        return Ok(ZoneLookup::Found(zone));
    }

    let mut private = Vec::new();
    for candidate in crate::plan::domain::zone_candidates(fqdn) {
        let dns_name = format!("{candidate}.");
        let out = aws
            .call(SERVICE, "ListHostedZonesByName", || {
                client.list_hosted_zones_by_name().dns_name(&dns_name).max_items(100).send()
            })
            .await
            .map_err(|e| remote_error(SERVICE, "ListHostedZonesByName", &e))?;
        // The listing starts at the name, it does not filter by it.
        let matching: Vec<HostedZone> =
            out.hosted_zones().iter().map(zone_of).filter(|z| z.name == candidate).collect();
        let (public, privates): (Vec<_>, Vec<_>) = matching.into_iter().partition(|z| !z.private);
        private.extend(privates);
        match public.len() {
            0 => {}
            1 => {
                return Ok(ZoneLookup::Found(public.into_iter().next().expect("one zone")));
            }
            _ => return Ok(ZoneLookup::Ambiguous(public)),
        }
    }
    Ok(if private.is_empty() { ZoneLookup::NotFound } else { ZoneLookup::OnlyPrivate(private) })
}

/// The name servers Route 53 assigned to the zone (its delegation set).
pub async fn name_servers(aws: &Aws, zone_id: &str) -> Result<Vec<String>, Error> {
    let client = aws.route53();
    let out = aws
        .call(SERVICE, "GetHostedZone", || client.get_hosted_zone().id(zone_id).send())
        .await
        .map_err(|e| remote_error(SERVICE, "GetHostedZone", &e))?;
    let mut servers: Vec<String> =
        out.delegation_set().map(|d| d.name_servers().iter().map(|s| plain_name(s)).collect()).unwrap_or_default();
    servers.sort();
    Ok(servers)
}

/// The TXT (and any CNAME) record sets at `fqdn` in the zone.
pub async fn read_record(aws: &Aws, zone_id: &str, fqdn: &str) -> Result<LiveRecord, Error> {
    let client = aws.route53();
    let mut live = LiveRecord::default();
    // Route 53 API reference, ListResourceRecordSets: a truncated page names where the next
    // starts with NextRecordName, NextRecordType and, for sets with a SetIdentifier (weighted,
    // latency, …), NextRecordIdentifier; without the identifier the same page comes back.
    let mut start: Option<(String, Option<RrType>, Option<String>)> = Some((format!("{fqdn}."), None, None));
    while let Some((name, kind, identifier)) = start.take() {
        let out = aws
            .call(SERVICE, "ListResourceRecordSets", || {
                client
                    .list_resource_record_sets()
                    .hosted_zone_id(zone_id)
                    .start_record_name(&name)
                    .set_start_record_type(kind.clone())
                    .set_start_record_identifier(identifier.clone())
                    .max_items(20)
                    .send()
            })
            .await
            .map_err(|e| remote_error(SERVICE, "ListResourceRecordSets", &e))?;
        let mut past = false;
        for set in out.resource_record_sets() {
            if plain_name(set.name()) != fqdn {
                past = true;
                break;
            }
            match set.r#type() {
                RrType::Txt => {
                    if set.set_identifier().is_some() {
                        live.routed = true;
                    } else if set.alias_target().is_some() {
                        live.alias = true;
                    } else if live.txt.is_none() {
                        live.txt = Some(TxtSet {
                            ttl: set.ttl().unwrap_or(300),
                            values: set.resource_records().iter().map(|r| r.value().to_owned()).collect(),
                        });
                    }
                }
                RrType::Cname => {
                    live.cname =
                        set.resource_records().first().map(|r| r.value().to_owned()).or_else(|| Some("(alias)".into()));
                }
                _ => {}
            }
        }
        if !past
            && out.is_truncated()
            && let Some(next) = out.next_record_name()
        {
            let following =
                (next.to_owned(), out.next_record_type().cloned(), out.next_record_identifier().map(str::to_owned));
            // A page that names itself as the next one (a server that ignores
            // StartRecordIdentifier, such as moto) would be asked for forever: stop. By then a
            // name with that many identified sets is one kiro-onboard does not write to anyway.
            if following == (name.clone(), kind.clone(), identifier.clone()) {
                tracing::debug!(%fqdn, "ListResourceRecordSets named the same page as the next one; stopping");
                live.routed |= out.resource_record_sets().iter().any(|s| s.set_identifier().is_some());
                break;
            }
            start = Some(following);
        }
    }
    Ok(live)
}

/// Route 53 API reference, ChangeBatch `Comment`: at most 256 characters.
pub const MAX_COMMENT_CHARS: usize = 256;

/// What a write of the TXT set came to.
#[derive(Debug)]
pub enum Replaced {
    /// Route 53 took the batch: the change id.
    Done(String),
    /// Route 53 refused the batch because the set is no longer as read: read again.
    SetChanged(String),
}

/// Replaces the TXT set at `fqdn`, exactly as `old` was read (or absent), by one with `values`
/// (every value, ours included), in one batch.
pub async fn replace_txt(
    aws: &Aws,
    zone_id: &str,
    fqdn: &str,
    old: Option<&TxtSet>,
    ttl: i64,
    values: &[String],
    comment: &str,
) -> Result<Replaced, Error> {
    let build_error = |e: aws_sdk_route53::error::BuildError| Error::Remote {
        service: SERVICE.into(),
        operation: "ChangeResourceRecordSets".into(),
        message: format!("could not build the request: {e}"),
        hint: None,
        reason: None,
    };
    let set_of = |ttl: i64, values: &[String]| -> Result<ResourceRecordSet, Error> {
        let records = values
            .iter()
            .map(|v| ResourceRecord::builder().value(v).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(build_error)?;
        ResourceRecordSet::builder()
            .name(format!("{fqdn}."))
            .r#type(RrType::Txt)
            .ttl(ttl)
            .set_resource_records(Some(records))
            .build()
            .map_err(build_error)
    };
    let mut changes = Vec::new();
    if let Some(old) = old {
        changes.push(
            Change::builder()
                .action(ChangeAction::Delete)
                .resource_record_set(set_of(old.ttl, &old.values)?)
                .build()
                .map_err(build_error)?,
        );
    }
    // No values left (`retire` removed the only one): the set is deleted, not replaced.
    if !values.is_empty() {
        changes.push(
            Change::builder()
                .action(ChangeAction::Create)
                .resource_record_set(set_of(ttl, values)?)
                .build()
                .map_err(build_error)?,
        );
    }
    let batch = ChangeBatch::builder()
        .comment(within_comment_limit(comment))
        .set_changes(Some(changes))
        .build()
        .map_err(build_error)?;
    let client = aws.route53();
    let result = aws
        .call(SERVICE, "ChangeResourceRecordSets", || {
            client.change_resource_record_sets().hosted_zone_id(zone_id).change_batch(batch.clone()).send()
        })
        .await;
    match result {
        Ok(out) => Ok(Replaced::Done(out.change_info().map(|c| c.id().to_owned()).unwrap_or_default())),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_invalid_change_batch()) => {
            let message = aws_smithy_types::error::metadata::ProvideErrorMetadata::message(&e)
                .map(str::to_owned)
                .or_else(|| e.as_service_error().map(|s| s.to_string()))
                .unwrap_or_default();
            Ok(Replaced::SetChanged(message))
        }
        Err(e) => Err(remote_error(SERVICE, "ChangeResourceRecordSets", &e)),
    }
}

/// `comment` cut to Route 53's 256 characters (on a character boundary).
pub fn within_comment_limit(comment: &str) -> String {
    comment.chars().take(MAX_COMMENT_CHARS).collect()
}

/// Polls the change until Route 53 reports INSYNC (its name servers all have it), for at most
/// `limit`. `tick` hears the status and the time waited so far. Returns whether it is in sync.
pub async fn wait_in_sync(
    aws: &Aws,
    change_id: &str,
    limit: Duration,
    mut tick: impl FnMut(&str, Duration),
) -> Result<bool, Error> {
    let client = aws.route53();
    let started = Instant::now();
    let mut delay = Duration::from_secs(1);
    loop {
        let out = aws
            .call(SERVICE, "GetChange", || client.get_change().id(change_id).send())
            .await
            .map_err(|e| remote_error(SERVICE, "GetChange", &e))?;
        let status = out.change_info().map(|c| c.status().clone()).unwrap_or(ChangeStatus::Pending);
        if status == ChangeStatus::Insync {
            return Ok(true);
        }
        let waited = started.elapsed();
        tick(status.as_str(), waited);
        if waited + delay > limit {
            return Ok(false);
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}
