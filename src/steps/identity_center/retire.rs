//! `retire` of the directory: the memberships the plan lists, in the plan's groups, planned for
//! removal. Members the plan does not list are kept (they are not the plan's); users and groups
//! themselves are kept.

use super::diff::{Diff, Op, Planned, membership_address};
use super::directory::Directory;
use crate::engine::{Change, fields};
use crate::plan::model::IdentityCenter;

pub fn memberships(plan: &IdentityCenter, dir: &Directory) -> Diff {
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
    }
    out
}
