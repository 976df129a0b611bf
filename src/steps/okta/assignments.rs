//! The Kiro app's assignments: the plan's groups assigned; other groups reported (unassigned only
//! with `okta.prune.groups`); users assigned directly reported.

use super::diff::{Op, Planned, Reconciled, Wanted, app_address};
use crate::engine::fields;
use crate::engine::{Address, Change, Finding, Severity};

pub fn reconcile_assignments(wanted: &Wanted) -> Reconciled {
    let mut out = reconcile_planned_groups(wanted);
    out.add(reconcile_other_groups(wanted));
    out.findings.extend(direct_users_finding(wanted));
    out
}

fn reconcile_planned_groups(wanted: &Wanted) -> Reconciled {
    let mut out = Reconciled::default();
    for (name, id) in &wanted.live.groups {
        let address = Address::new("okta.assignment", name);
        match id {
            None => out.findings.push(
                Finding::new("okta.group_missing", Severity::Error, format!("Okta has no group named \"{name}\""), "create the group in Okta (or fix okta.assign_groups); kiro-onboard assigns groups, it does not create them")
                    .at(address),
            ),
            Some(id) if wanted.live.app_groups.iter().any(|(g, _)| g == id) => out.unchanged.push(address),
            Some(id) => {
                let change = Change::create(address, fields! {"group" => name, "application" => wanted.plan.app_label});
                out.planned.push(Planned { change, op: Op::AssignGroup(id.clone()) });
            }
        }
    }
    out
}

fn reconcile_other_groups(wanted: &Wanted) -> Reconciled {
    let mut out = Reconciled::default();
    let plan = wanted.plan;
    for (gid, name) in &wanted.live.app_groups {
        if plan.assign_groups.iter().any(|g| g == name) {
            continue;
        }
        let address = Address::new("okta.assignment", name);
        if plan.prune.groups {
            let change = Change::delete(address, fields! {"group" => name, "application" => plan.app_label})
                .because("okta.prune.groups: true");
            out.planned.push(Planned { change, op: Op::UnassignGroup(gid.clone()) });
        } else {
            out.findings.push(
                Finding::new(
                    "okta.unmanaged_group_assignment",
                    Severity::Info,
                    format!(
                        "group \"{name}\" is assigned to \"{}\" but not listed in okta.assign_groups",
                        plan.app_label
                    ),
                    "add it to okta.assign_groups, or set okta.prune.groups: true to unassign it",
                )
                .at(address),
            );
        }
    }
    out
}

fn direct_users_finding(wanted: &Wanted) -> Option<Finding> {
    let live = wanted.live;
    if live.direct_users.is_empty() {
        return None;
    }
    let count = match live.users_sampled {
        Some(read) => format!("at least {} (in the first {read} of the app's users)", live.direct_users.len()),
        None => live.direct_users.len().to_string(),
    };
    let mut finding = Finding::new(
        "okta.direct_user_assignment",
        Severity::Warning,
        format!("{count} user(s) are assigned to \"{}\" directly instead of through a group", wanted.plan.app_label),
        "assign groups (okta.assign_groups) and remove the direct assignments in Okta: Kiro subscribes groups, and direct assignments escape group reviews",
    )
    .at(app_address(&wanted.plan.app_label));
    for user in &live.direct_users {
        finding = finding.evidence(user.clone());
    }
    Some(finding)
}
