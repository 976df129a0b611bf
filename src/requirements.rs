//! Kiro's published requirements, read from `templates/requirements.yaml` (compiled in), so that a
//! change in Kiro's documentation is a data change.

use std::sync::OnceLock;

use serde::Deserialize;

const SOURCE: &str = include_str!("../templates/requirements.yaml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    editions: Vec<Requirements>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirements {
    pub name: String,
    pub source: String,
    pub profile_regions: Vec<String>,
    pub identity_center_regions: Vec<String>,
    pub identity_center_group_sync: String,
    pub limits: Limits,
    pub scopes: Vec<String>,
    pub entra: EntraRequirements,
    pub okta: OktaRequirements,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub domains: usize,
    pub scim_tokens: usize,
}

/// What Kiro's Microsoft Entra ID guide asks of the app registration and provisioning.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntraRequirements {
    pub redirect_uris: Vec<String>,
    pub identifier_uri: String,
    pub access_token_version: u8,
    pub unsupported_scim_attributes: Vec<String>,
    pub required_scim_mappings: Vec<String>,
    pub external_id_source: String,
    pub provisioning_push: String,
    #[allow(dead_code, reason = "shown by the Kiro console steps, which do not use it yet")]
    pub kiro_provisioning_cycle: String,
}

/// What Kiro's Okta guide asks of the OIDC app.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OktaRequirements {
    pub redirect_uris: Vec<String>,
}

/// Kiro refusing an IAM Identity Center Region, in the words `validate` (offline) and `plan` (the
/// `identity_center.unsupported_region` finding) both say it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionRefusal {
    pub message: String,
    /// What to do, after the list of Regions (`accepted`) or a pointer to it (`hint`).
    pub remedy: &'static str,
    /// The Regions Kiro accepts, as one line of evidence.
    pub accepted: String,
}

impl RegionRefusal {
    /// The finding's hint, which shows the Regions as evidence beside it.
    pub fn hint(&self) -> String {
        format!("Kiro accepts Identity Center in the Regions listed in templates/requirements.yaml; {}", self.remedy)
    }
}

impl Requirements {
    /// `None` when Kiro accepts an Identity Center instance in `region`.
    pub fn identity_center_region_refusal(&self, region: &str) -> Option<RegionRefusal> {
        if self.identity_center_regions.iter().any(|r| r == region) {
            return None;
        }
        // In AWS GovCloud (US) Kiro documents no accepted Identity Center Region and no direct
        // Entra ID or Okta connection either (docs/vendor-behaviour.md §1.5): offer neither.
        let remedy = if region.starts_with("us-gov-") {
            "Kiro's published Regions name no AWS GovCloud (US) Identity Center Region, and a GovCloud profile with Entra ID or Okta is not documented either; kiro-onboard does not support AWS GovCloud (US) until Kiro documents it (docs/vendor-behaviour.md §1.5)"
        } else {
            "use an instance in one of them, or connect Entra ID or Okta to Kiro directly"
        };
        Some(RegionRefusal {
            message: format!("Kiro does not accept an IAM Identity Center instance in {region}"),
            remedy,
            accepted: format!("Kiro accepts: {}", self.identity_center_regions.join(", ")),
        })
    }
}

fn editions() -> &'static [Requirements] {
    static EDITIONS: OnceLock<Vec<Requirements>> = OnceLock::new();
    EDITIONS.get_or_init(|| {
        let file: File = serde_saphyr::from_str(SOURCE).expect("templates/requirements.yaml is valid (tested)");
        file.editions
    })
}

/// The newest edition, used when a plan does not choose one.
pub fn latest() -> &'static Requirements {
    editions().last().expect("templates/requirements.yaml has at least one edition (tested)")
}

pub fn edition(name: &str) -> Option<&'static Requirements> {
    editions().iter().find(|e| e.name == name)
}

/// The edition a plan chose (`kiro.requirements`), or the newest. Validation has already rejected
/// unknown editions.
pub fn chosen(name: Option<&str>) -> &'static Requirements {
    name.and_then(edition).unwrap_or_else(latest)
}

pub fn edition_names() -> Vec<&'static str> {
    editions().iter().map(|e| e.name.as_str()).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_shipped_requirements_parse_and_name_kiro_regions() {
        let latest = super::latest();
        assert!(latest.profile_regions.iter().any(|r| r == "us-east-1"));
        assert!(latest.identity_center_regions.iter().any(|r| r == "eu-west-1"));
        assert_eq!(latest.limits.domains, 10);
        assert_eq!(latest.scopes, ["codewhisperer:completions", "codewhisperer:conversations"]);
        assert_eq!(latest.entra.unsupported_scim_attributes.len(), 6);
        assert_eq!(latest.okta.redirect_uris.len(), 11);
        assert!(super::edition(&latest.name).is_some());
    }

    #[test]
    fn an_identity_center_region_kiro_does_not_list_is_refused_with_the_list() {
        let latest = super::latest();
        assert_eq!(latest.identity_center_region_refusal("eu-west-1"), None);
        let refusal = latest.identity_center_region_refusal("ap-southeast-3").expect("Jakarta is not listed");
        assert_eq!(refusal.message, "Kiro does not accept an IAM Identity Center instance in ap-southeast-3");
        assert!(refusal.accepted.starts_with("Kiro accepts: us-east-2, us-east-1,"), "{}", refusal.accepted);
        assert_eq!(
            refusal.hint(),
            "Kiro accepts Identity Center in the Regions listed in templates/requirements.yaml; use an instance in one of them, or connect Entra ID or Okta to Kiro directly"
        );
    }

    /// In AWS GovCloud (US) Kiro documents neither an accepted Identity Center Region nor Entra ID
    /// or Okta connected directly (docs/vendor-behaviour.md §1.5): the hint offers neither.
    #[test]
    fn a_govcloud_identity_center_region_is_refused_without_pointing_at_entra_or_okta() {
        let refusal = super::latest().identity_center_region_refusal("us-gov-west-1").expect("not listed");
        assert!(!refusal.remedy.contains("connect Entra ID or Okta to Kiro directly"), "{}", refusal.remedy);
        assert!(refusal.remedy.contains("AWS GovCloud (US)"), "{}", refusal.remedy);
        assert!(refusal.remedy.contains("docs/vendor-behaviour.md"), "{}", refusal.remedy);
    }
}
