//! What IAM Identity Center says about its encryption (sso-admin DescribeInstance, botocore
//! `sso-admin/2020-07-20`: `EncryptionConfigurationDetails{KeyType, KmsKeyArn,
//! EncryptionStatus: UPDATING|ENABLED|UPDATE_FAILED, EncryptionStatusReason}`, and for a
//! multi-Region instance `PrimaryRegion` and `Regions[].RegionName`), and the findings it leads to.

use aws_sdk_ssoadmin::types::KmsKeyType;

use crate::engine::{Finding, Severity};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Encryption {
    /// The customer managed key, when Identity Center uses one.
    pub customer_key: Option<String>,
    pub status: Option<String>,
    pub reason: Option<String>,
    pub primary_region: Option<String>,
    /// Every Region the instance is replicated to, the primary included (empty: one Region).
    pub regions: Vec<String>,
}

pub fn from_output(out: &aws_sdk_ssoadmin::operation::describe_instance::DescribeInstanceOutput) -> Encryption {
    let details = out.encryption_configuration_details();
    let mut regions: Vec<String> = out.regions().iter().filter_map(|r| r.region_name().map(str::to_owned)).collect();
    regions.sort();
    regions.dedup();
    Encryption {
        customer_key: match details.and_then(|d| d.key_type()) {
            Some(KmsKeyType::CustomerManagedKey) => details.and_then(|d| d.kms_key_arn()).map(str::to_owned),
            _ => None,
        },
        status: details.and_then(|d| d.encryption_status()).map(|s| s.as_str().to_owned()),
        reason: details.and_then(|d| d.encryption_status_reason()).map(str::to_owned),
        primary_region: out.primary_region().map(str::to_owned),
        regions,
    }
}

/// `UPDATING`: Identity Center is switching keys, and the key it will use is not final;
/// `UPDATE_FAILED`: the switch failed (often a key policy that does not let Identity Center use
/// the key). IAM Identity Center user guide, "Configure customer managed KMS keys".
pub fn status_findings(encryption: &Encryption, key: &str) -> Vec<Finding> {
    let evidence = |f: Finding| match &encryption.reason {
        Some(reason) => f.evidence(format!("EncryptionStatusReason: {reason}")),
        None => f,
    };
    match encryption.status.as_deref() {
        Some("UPDATING") => vec![evidence(Finding::new(
            "kms.encryption_updating",
            Severity::Warning,
            format!(
                "IAM Identity Center is still changing its encryption (EncryptionStatus UPDATING); key {key} may not be the one it ends up using"
            ),
            "wait until IAM Identity Center → Settings → Management → Key for encryption shows the change complete, then run plan again",
        ))],
        Some("UPDATE_FAILED") => vec![evidence(Finding::new(
            "kms.encryption_update_failed",
            Severity::Error,
            format!(
                "IAM Identity Center failed to change its encryption key (EncryptionStatus UPDATE_FAILED); key {key}"
            ),
            "fix the cause AWS reports (usually the key policy lacks Identity Center's baseline statements), then retry the key change in IAM Identity Center → Settings → Management",
        ))],
        _ => Vec::new(),
    }
}

/// A multi-Region instance: Kiro decrypts through Identity Center in every Region, so the
/// statements allow every Region's endpoints, and each Region's replica of the key needs them:
/// KMS does not synchronise key policies between the Regions of a multi-Region key (KMS developer
/// guide, "Multi-Region keys": "key policies ... are not shared").
pub fn multi_region_finding(encryption: &Encryption, key: &str, here: &str) -> Option<Finding> {
    if encryption.regions.len() < 2 {
        return None;
    }
    let others: Vec<&str> = encryption.regions.iter().map(String::as_str).filter(|r| *r != here).collect();
    Some(
        Finding::new(
            "kms.multi_region",
            Severity::Info,
            format!(
                "IAM Identity Center runs in {} (primary {}): Kiro's statements on key {key} allow kms:ViaService in all of them, and the key's replica in each other Region ({}) needs the same statements",
                encryption.regions.join(", "),
                encryption.primary_region.as_deref().unwrap_or(here),
                others.join(", ")
            ),
            format!(
                "run kiro-onboard with `aws.region` set to each of {} too, or add the statements `kiro-onboard kms policy` prints to each replica's key policy",
                others.join(", ")
            ),
        )
        .evidence("KMS does not synchronise key policies between the Regions of a multi-Region key"),
    )
}
