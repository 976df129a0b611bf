//! A person who left: `identity_center.users[].absent: true`. Their memberships of the plan's
//! groups are removed (diff.rs, with the other memberships); with `delete_user: true` the
//! Identity Store user is deleted too, unless an external identity provider owns it: a user it
//! provisions over SCIM carries `ExternalIds` (Identity Store API reference, `User.ExternalIds`:
//! "the identifiers issued to this resource by an external identity provider"), and that provider
//! would provision it again, so it is deleted there. docs/vendor-behaviour.md §4.2.

use super::diff::{Diff, Op, Planned, user_address};
use super::directory::{Directory, LiveUser};
use crate::engine::fields;
use crate::engine::{Change, Finding, Severity};
use crate::plan::model::{IdentityCenter, User};

/// What deleting an IAM Identity Center user does to the Kiro seat (kiro.dev, "Managing Kiro
/// subscriptions", Automatic subscription removal; docs/vendor-behaviour.md §1.11).
pub const DELETION_CANCELS_SEAT: &str =
    "Kiro cancels the subscription of a user deleted from IAM Identity Center on its own";

pub fn diff_absent_user(plan: &IdentityCenter, user: &User, live: Option<&LiveUser>, dir: &Directory, out: &mut Diff) {
    let address = user_address(&user.user_name);
    let Some(live) = live else {
        // Gone already (or never created): nothing to remove, and never created again.
        out.unchanged.push(address);
        return;
    };
    if !user.delete_user {
        out.unchanged.push(address);
        return;
    }
    if let Some(reason) = external_owner(plan, live, dir) {
        out.findings.push(
            Finding::new(
                "identity_center.user_externally_owned",
                Severity::Error,
                format!("kiro-onboard will not delete user {}: {reason}", user.user_name),
                format!(
                    "delete or deprovision {} in your identity provider (it removes them here), and drop `delete_user: true` from the plan; their memberships and Kiro seat are handled as for any absent user",
                    user.user_name
                ),
            )
            .at(address)
            .evidence(format!("user {} in identity store {}", live.id, dir.instance.identity_store_id)),
        );
        return;
    }
    out.planned.push(Planned {
        change: Change::delete(address, fields! {"user_name" => live.user_name, "email" => live.email})
            .because(format!("`absent: true` and `delete_user: true` in the plan; {DELETION_CANCELS_SEAT}")),
        op: Op::DeleteUser { user_id: live.id.clone() },
    });
}

/// Why `live` belongs to another identity source, if it does.
fn external_owner(plan: &IdentityCenter, live: &LiveUser, dir: &Directory) -> Option<String> {
    if live.provisioned {
        return Some(
            "it carries ExternalIds, so an external identity provider provisions it over SCIM and would provision it again"
                .into(),
        );
    }
    super::ownership::external_owner(plan.identity_source, dir)
}
