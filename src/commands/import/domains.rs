//! `import --domain NAME`: the domain entry, with `dns: route53`, its zone and the token when a
//! public Route 53 zone holds the record (read with the dns step's Route 53 reader).

use crate::clients::aws::Aws;
use crate::error::Error;
use crate::plan::domain;
use crate::plan::model::{DEFAULT_RECORD, DnsProvider, Domain};
use crate::steps::dns::route53::{self, ZoneLookup};
use crate::steps::dns::txt;

pub async fn import(aws: &Aws, names: &[String]) -> Result<Vec<Domain>, Error> {
    let mut domains = Vec::new();
    for name in names {
        let normal = domain::normalize(name).map_err(|e| Error::Usage(format!("--domain {name}: {e}")))?;
        let fqdn = domain::fqdn(DEFAULT_RECORD, &normal);
        let mut entry = Domain {
            name: name.clone(),
            record: DEFAULT_RECORD.to_owned(),
            token: None,
            dns: DnsProvider::Manual,
            hosted_zone_id: None,
        };
        match route53::find_zone(aws, &fqdn, None).await? {
            ZoneLookup::Found(zone) => {
                let live = route53::read_record(aws, &zone.id, &fqdn).await?;
                let values: Vec<String> =
                    live.txt.map(|set| set.values.iter().map(|v| txt::decode(v)).collect()).unwrap_or_default();
                // One value is the token; several cannot be told apart, so the admin names it.
                if let [token] = values.as_slice() {
                    entry.token = Some(token.clone());
                }
                entry.dns = DnsProvider::Route53;
                entry.hosted_zone_id = Some(zone.id);
            }
            ZoneLookup::Ambiguous(zones) => {
                return Err(Error::Precondition {
                    message: format!("several public Route 53 zones could hold {fqdn}"),
                    hint: format!(
                        "these zones match: {}; keep one, or write the domain's `hosted_zone_id` by hand",
                        super::candidates(zones.into_iter().map(|z| format!("{} ({})", z.id, z.name)).collect())
                    ),
                });
            }
            _ => {}
        }
        domains.push(entry);
    }
    Ok(domains)
}
