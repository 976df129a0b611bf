//! Compares the plan with the directory: every difference becomes a change with the operation
//! that makes it, every problem that is not a change becomes a finding.

use std::collections::{HashMap, HashSet};

use super::directory::{Directory, LiveUser};
use crate::engine::fields;
use crate::engine::{Address, Change, Finding, Severity};
use crate::plan::model::{Group, IdentityCenter, User};
use crate::requirements::Requirements;

/// What apply must do for one change.
#[derive(Debug, Clone)]
pub enum Op {
    CreateUser(User),
    UpdateUser {
        user_id: String,
        user: User,
        fields: Vec<UserField>,
    },
    CreateGroup(Group),
    UpdateGroup {
        group_id: String,
        description: String,
    },
    AddMember {
        group: String,
        user: String,
    },
    RemoveMember {
        membership_id: String,
    },
    /// An `absent: true, delete_user: true` user.
    DeleteUser {
        user_id: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserField {
    GivenName,
    FamilyName,
    DisplayName,
    Email,
}

pub struct Planned {
    pub change: Change,
    pub op: Op,
}

pub struct Diff {
    pub planned: Vec<Planned>,
    pub findings: Vec<Finding>,
    pub unchanged: Vec<Address>,
}

pub fn user_address(name: &str) -> Address {
    Address::new("identity_center.user", name)
}

pub fn group_address(name: &str) -> Address {
    Address::new("identity_center.group", name)
}

pub fn membership_address(group: &str, user: &str) -> Address {
    Address::new("identity_center.membership", &format!("{group}/{user}"))
}

pub fn diff(plan: &IdentityCenter, dir: &Directory, requirements: &Requirements) -> Diff {
    let mut out = Diff { planned: Vec::new(), findings: Vec::new(), unchanged: Vec::new() };
    region_findings(dir, requirements, &mut out.findings);
    for group in &plan.groups {
        diff_group(group, dir, &mut out);
    }
    for user in &plan.users {
        let live = dir.users.get(&user.user_name.to_lowercase());
        if user.absent {
            super::offboarding::diff_absent_user(plan, user, live, dir, &mut out);
        } else {
            diff_user(user, live, &mut out);
        }
    }
    email_findings(plan, dir, &mut out.findings);
    for group in &plan.groups {
        diff_members(group, plan, dir, &mut out);
    }
    if let Some(finding) = replica_region_finding(dir, out.planned.len()) {
        // Every planned write would be refused here: none is planned, so apply writes nothing.
        out.findings.push(finding);
        out.planned.clear();
    }
    let joining: Vec<&str> = out
        .planned
        .iter()
        .filter_map(|p| match &p.op {
            Op::AddMember { user, .. } => Some(user.as_str()),
            _ => None,
        })
        .collect();
    if !joining.is_empty() {
        out.findings.push(
            Finding::new(
                "identity_center.group_sync_delay",
                Severity::Info,
                format!(
                    "{} new group member(s) may wait {} for their Kiro seat",
                    joining.len(),
                    requirements.identity_center_group_sync
                ),
                "nothing to fix: Kiro picks up new members of a subscribed group on its own schedule",
            )
            .evidence(format!(
                "joining: {}",
                joining.iter().take(5).copied().collect::<Vec<_>>().join(", ")
                    + if joining.len() > 5 { ", …" } else { "" }
            )),
        );
    }
    out
}

fn region_findings(dir: &Directory, requirements: &Requirements, findings: &mut Vec<Finding>) {
    let region = &dir.instance.region;
    // The same words `validate` uses for a plan that names the Region (requirements.rs).
    if let Some(refusal) = requirements.identity_center_region_refusal(region) {
        findings.push(
            Finding::new(
                "identity_center.unsupported_region",
                Severity::Error,
                refusal.message.clone(),
                refusal.hint(),
            )
            .evidence(format!("instance {} is in {region}", dir.instance.arn))
            .evidence(refusal.accepted),
        );
    }
}

/// A multi-Region instance read from a Region that is not its primary: users, groups and
/// memberships can be created, changed and deleted only in the primary Region (IAM Identity
/// Center user guide, "use cases across Regions", docs/vendor-behaviour.md §4.3).
fn replica_region_finding(dir: &Directory, planned: usize) -> Option<Finding> {
    let here = &dir.instance.region;
    let primary = dir.instance.primary_region.as_deref().filter(|p| *p != here)?;
    let regions =
        if dir.instance.regions.is_empty() { format!("{primary} and {here}") } else { dir.instance.regions.join(", ") };
    Some(
        Finding::new(
            "identity_center.not_primary_region",
            Severity::Error,
            format!(
                "IAM Identity Center instance {} runs in {regions}; its primary Region is {primary}, and users, groups and memberships can be created, changed and deleted only there, not in {here} (`aws.region`): {planned} change(s) to them are not planned",
                dir.instance.arn
            ),
            format!("set `aws.region: {primary}` in the plan and run plan again (the Kiro profile Region and the KMS key need no change)"),
        )
        .evidence(format!("ListInstances in {here}: PrimaryRegion {primary}")),
    )
}

fn diff_group(group: &Group, dir: &Directory, out: &mut Diff) {
    let address = group_address(&group.name);
    match dir.groups.get(&group.name.to_lowercase()) {
        None => {
            let mut after = fields! {"name" => group.name};
            if let Some(description) = &group.description {
                after.insert("description".into(), description.clone().into());
            }
            out.planned.push(Planned {
                change: Change::create(address, after).unknown_after("group_id"),
                op: Op::CreateGroup(group.clone()),
            });
        }
        Some(live) => {
            match &group.description {
                Some(wanted) if live.description.as_deref() != Some(wanted.as_str()) => {
                    out.planned.push(Planned {
                        change: Change::update(
                            address,
                            fields! {"description" => live.description},
                            fields! {"description" => wanted},
                        ),
                        op: Op::UpdateGroup { group_id: live.id.clone(), description: wanted.clone() },
                    });
                }
                _ => out.unchanged.push(address.clone()),
            }
            if let Some(Ok(access)) = dir.account_access.get(&live.id) {
                if !access.is_empty() {
                    let mut finding = Finding::new(
                        "identity_center.group_has_account_access",
                        Severity::Warning,
                        format!("group {} also grants access to {} AWS account assignment(s)", group.name, access.len()),
                        "a Kiro seat group should grant a Kiro subscription and nothing else; give AWS account access through a separate group (IAM Identity Center → AWS accounts → remove the assignments)",
                    )
                    .at(group_address(&group.name));
                    for a in access.iter().take(10) {
                        finding = finding
                            .evidence(format!("account {} via permission set {}", a.account_id, a.permission_set_arn));
                    }
                    out.findings.push(finding);
                }
            } else if let Some(Err(reason)) = dir.account_access.get(&live.id) {
                out.findings.push(
                    Finding::new(
                        "identity_center.account_access_unknown",
                        Severity::Info,
                        format!("could not check whether group {} grants AWS account access", group.name),
                        "allow sso:ListAccountAssignmentsForPrincipal to include this check",
                    )
                    .at(group_address(&group.name))
                    .evidence(reason.clone()),
                );
            }
        }
    }
}

fn diff_user(user: &User, live: Option<&LiveUser>, out: &mut Diff) {
    let address = user_address(&user.user_name);
    let Some(live) = live else {
        let after = fields! {
            "user_name" => user.user_name,
            "given_name" => user.given_name,
            "family_name" => user.family_name,
            "display_name" => user.effective_display_name(),
            "email" => user.email,
        };
        out.planned.push(Planned {
            change: Change::create(address, after).unknown_after("user_id"),
            op: Op::CreateUser(user.clone()),
        });
        return;
    };
    let mut before = serde_json::Map::new();
    let mut after = serde_json::Map::new();
    let mut changed = Vec::new();
    let mut compare = |field: UserField, key: &str, now: &Option<String>, wanted: &str| {
        if now.as_deref() != Some(wanted) {
            before.insert(key.into(), now.clone().into());
            after.insert(key.into(), wanted.into());
            changed.push(field);
        }
    };
    compare(UserField::GivenName, "given_name", &live.given_name, &user.given_name);
    compare(UserField::FamilyName, "family_name", &live.family_name, &user.family_name);
    if let Some(display_name) = &user.display_name {
        compare(UserField::DisplayName, "display_name", &live.display_name, display_name);
    }
    compare(UserField::Email, "email", &live.email, &user.email);
    if changed.is_empty() {
        out.unchanged.push(address);
    } else {
        out.planned.push(Planned {
            change: Change::update(address, before, after),
            op: Op::UpdateUser { user_id: live.id.clone(), user: user.clone(), fields: changed },
        });
    }
}

fn diff_members(group: &Group, plan: &IdentityCenter, dir: &Directory, out: &mut Diff) {
    let live_group = dir.groups.get(&group.name.to_lowercase());
    let memberships = live_group.and_then(|g| dir.memberships.get(&g.id)).map(Vec::as_slice).unwrap_or_default();
    let member_ids: HashSet<&str> = memberships.iter().map(|m| m.user_id.as_str()).collect();

    let mut planned_ids = HashSet::new();
    for member in &group.members {
        // Validation guarantees every member is a plan user; use the plan's spelling of the name.
        let user_name = plan
            .users
            .iter()
            .find(|u| u.user_name.eq_ignore_ascii_case(member))
            .map(|u| u.user_name.as_str())
            .unwrap_or(member);
        let address = membership_address(&group.name, user_name);
        let live_user = dir.users.get(&user_name.to_lowercase());
        if let Some(user) = live_user {
            planned_ids.insert(user.id.as_str());
            if member_ids.contains(user.id.as_str()) {
                out.unchanged.push(address);
                continue;
            }
        }
        out.planned.push(Planned {
            change: Change::create(address, fields! {"group" => group.name, "user" => user_name}),
            op: Op::AddMember { group: group.name.clone(), user: user_name.to_owned() },
        });
    }

    // Absent users by lower-cased name (their plan spelling): looked up, not scanned, per member.
    let absent: HashMap<String, &str> =
        plan.users.iter().filter(|u| u.absent).map(|u| (u.user_name.to_lowercase(), u.user_name.as_str())).collect();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for membership in memberships {
        let count = seen.entry(membership.user_id.as_str()).or_default();
        *count += 1;
        let name = dir.user_names_by_id.get(&membership.user_id).cloned().unwrap_or_else(|| membership.user_id.clone());
        if *count == 2 {
            out.findings.push(
                Finding::new(
                    "identity_center.duplicate_membership",
                    Severity::Warning,
                    format!("{name} is a member of {} more than once", group.name),
                    "remove the extra membership in IAM Identity Center; it changes nothing but confuses audits",
                )
                .at(membership_address(&group.name, &name)),
            );
        }
        if planned_ids.contains(membership.user_id.as_str()) || *count > 1 {
            continue;
        }
        let address = membership_address(&group.name, &name);
        if let Some(user) = absent.get(&name.to_lowercase()) {
            out.planned.push(Planned {
                change: Change::delete(address, fields! {"group" => group.name, "user" => user})
                    .because("the user is `absent: true` in the plan"),
                op: Op::RemoveMember { membership_id: membership.membership_id.clone() },
            });
        } else if group.prune_members {
            out.planned.push(Planned {
                change: Change::delete(address, fields! {"group" => group.name, "user" => name})
                    .because("not listed in the plan, and prune_members is true"),
                op: Op::RemoveMember { membership_id: membership.membership_id.clone() },
            });
        } else {
            out.findings.push(
                Finding::new(
                    "identity_center.unmanaged_member",
                    Severity::Warning,
                    format!("{name} is a member of {} but not listed in the plan", group.name),
                    format!("add {name} to the group's members in the plan, or set `prune_members: true` to remove members the plan does not list"),
                )
                .at(address)
                .evidence(format!("membership {} in identity store {}", membership.membership_id, dir.instance.identity_store_id)),
            );
        }
    }
}

/// A planned email that another user of the directory already has: Identity Center keeps emails
/// unique ("Manage identities in IAM Identity Center": user names and email addresses must be
/// unique), so creating or updating the planned user would fail half way through an apply.
fn email_findings(plan: &IdentityCenter, dir: &Directory, findings: &mut Vec<Finding>) {
    for user in plan.users.iter().filter(|u| !u.absent) {
        let Some(owner) = dir.email_owners.get(&user.email.to_lowercase()) else { continue };
        if owner.eq_ignore_ascii_case(&user.user_name) {
            continue;
        }
        findings.push(
            Finding::new(
                "identity_center.email_taken",
                Severity::Error,
                format!("{} would get the email {}, which user {owner} already has", user.user_name, user.email),
                format!("emails are unique in IAM Identity Center: give {} another email, or change or remove {owner}'s in the directory first", user.user_name),
            )
            .at(user_address(&user.user_name))
            .evidence(format!("user {owner} in identity store {} has {}", dir.instance.identity_store_id, user.email)),
        );
    }
}
