//! Who owns the directory. When IAM Identity Center gets its users and groups from an external
//! identity provider (SCIM) or from Active Directory, that source owns them: a user created
//! through the Identity Store API later collides with the one SCIM provisions (409 on userName or
//! email: awslabs/ssosync issues #104, #111), edits are overwritten by the next sync, and an
//! AD-sourced directory answers writes with `UnknownOperationException`
//! (hashicorp/terraform-provider-aws #31624). IAM Identity Center user guide, "Manage your
//! identity source": with an external IdP or AD, users and groups are managed in that source.
//!
//! So with such a source kiro-onboard writes nothing to the directory, and says so once, while a
//! plan may still name existing groups and users (for the Kiro subscription, KMS and audit).

use super::diff::{Op, Planned};
use super::directory::Directory;
use crate::error::Error;
use crate::plan::model::IdentitySource;

/// Why the directory belongs to another source, if it does: the plan says so, or the users and
/// groups read carry `ExternalIds`.
pub fn external_owner(declared: Option<IdentitySource>, dir: &Directory) -> Option<String> {
    match declared {
        Some(IdentitySource::ExternalIdp) => Some(
            "the plan says the identity source is an external identity provider (`identity_source: external_idp`)"
                .into(),
        ),
        Some(IdentitySource::ActiveDirectory) => {
            Some("the plan says the identity source is Active Directory (`identity_source: active_directory`)".into())
        }
        _ if !dir.provisioned.is_empty() => Some(format!(
            "{} carr{} ExternalIds, so an external identity provider provisions this directory with SCIM{}",
            preview(&dir.provisioned),
            if dir.provisioned.len() == 1 { "ies" } else { "y" },
            if declared == Some(IdentitySource::IdentityCenter) {
                " (the plan says `identity_source: identity_center`, which the directory contradicts)"
            } else {
                ""
            }
        )),
        _ => None,
    }
}

/// One error for every write the plan would make to a directory another source owns.
pub fn refuse_writes(declared: Option<IdentitySource>, dir: &Directory, planned: &[Planned]) -> Result<(), Error> {
    let writes: Vec<String> = planned
        .iter()
        .filter(|p| {
            matches!(
                p.op,
                Op::CreateUser(_)
                    | Op::UpdateUser { .. }
                    | Op::CreateGroup(_)
                    | Op::UpdateGroup { .. }
                    | Op::AddMember { .. }
                    | Op::RemoveMember { .. }
                    | Op::DeleteUser { .. }
            )
        })
        .map(|p| format!("{} {}", format!("{:?}", p.change.action).to_lowercase(), p.change.address))
        .collect();
    let Some(reason) = external_owner(declared, dir) else { return Ok(()) };
    if writes.is_empty() {
        return Ok(());
    }
    Err(Error::Precondition {
        message: format!(
            "kiro-onboard will not create or change users, groups or memberships in identity store {}: {reason}; the plan would {}",
            dir.instance.identity_store_id,
            preview(&writes)
        ),
        hint: "manage these users, groups and memberships in your identity provider (it provisions them to IAM Identity Center); the plan may still name existing groups and users, e.g. for `kiro.console.subscribe` and `kms`".into(),
    })
}

/// The message for a write that Identity Store refused with `UnknownOperationException`: the
/// directory is Active Directory's.
pub fn unknown_operation(operation: &str) -> String {
    format!(
        "identitystore {operation} failed: UnknownOperationException: this IAM Identity Center instance takes its users and groups from Active Directory, which does not accept writes through the Identity Store API (hint: manage users and groups in Active Directory, and set `identity_center.identity_source: active_directory` in the plan)"
    )
}

fn preview(items: &[String]) -> String {
    let shown: Vec<&str> = items.iter().take(5).map(String::as_str).collect();
    let more = items.len().saturating_sub(shown.len());
    if more > 0 { format!("{} and {more} more", shown.join(", ")) } else { shown.join(", ") }
}
