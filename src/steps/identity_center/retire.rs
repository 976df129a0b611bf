//! `retire` of the directory: the memberships the plan lists, in the plan's groups, planned for
//! removal. Members the plan does not list are kept (they are not the plan's); the plan's users
//! and groups are deleted only with `--include-identities`.

use super::diff::{Diff, Op, Planned, group_address, membership_address, user_address};
use super::directory::Directory;
use super::execute::{write, write_error};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::clients::aws::Aws;
use crate::engine::{Change, Status, fields};
use crate::plan::model::IdentityCenter;

/// A user or group of the plan to delete, by its id in the identity store.
#[derive(Debug, Clone)]
pub enum Identity {
    User(String),
    Group(String),
}

pub fn diff(plan: &IdentityCenter, dir: &Directory, include_identities: bool) -> Diff {
    let mut out = Diff { planned: Vec::new(), findings: Vec::new(), unchanged: Vec::new() };
    for group in &plan.groups {
        let Some(live_group) = dir.groups.get(&group.name.to_lowercase()) else { continue };
        let memberships = dir.memberships.get(&live_group.id).map(Vec::as_slice).unwrap_or_default();
        for member in &group.members {
            let Some(user) = dir.users.get(&member.to_lowercase()) else { continue };
            // Every membership of the user in the group (a duplicate too): none is left behind.
            for membership in memberships.iter().filter(|m| m.user_id == user.id) {
                out.planned.push(Planned {
                    change: Change::delete(
                        membership_address(&group.name, member),
                        fields! {"group" => group.name, "user" => member},
                    ),
                    op: Op::RemoveMember { membership_id: membership.membership_id.clone() },
                });
            }
        }
        if include_identities {
            out.planned.push(Planned {
                change: Change::delete(group_address(&group.name), fields! {"name" => live_group.name})
                    .because("--include-identities"),
                op: Op::Retire(Identity::Group(live_group.id.clone())),
            });
        }
    }
    for user in plan.users.iter().filter(|_| include_identities) {
        let Some(live) = dir.users.get(&user.user_name.to_lowercase()) else { continue };
        out.planned.push(Planned {
            change: Change::delete(
                user_address(&user.user_name),
                fields! {"user_name" => live.user_name, "email" => live.email},
            )
            .because("--include-identities"),
            op: Op::Retire(Identity::User(live.id.clone())),
        });
    }
    out
}

/// Deletes a user or group; one already gone is already done.
pub async fn delete(aws: &Aws, store: &str, identity: Identity) -> Result<Status, String> {
    let client = aws.identity_store();
    match &identity {
        Identity::User(id) => settled(
            "DeleteUser",
            write(aws, "DeleteUser", || client.delete_user().identity_store_id(store).user_id(id).send()).await,
        ),
        Identity::Group(id) => settled(
            "DeleteGroup",
            write(aws, "DeleteGroup", || client.delete_group().identity_store_id(store).group_id(id).send()).await,
        ),
    }
}

/// A delete's result as a status: not found means someone else deleted it first.
fn settled<T, E>(operation: &'static str, result: crate::clients::aws::AwsResult<T, E>) -> Result<Status, String>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(Status::Applied),
        Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(Status::AlreadyDone),
        Err(e) => Err(write_error(operation, &e)),
    }
}
