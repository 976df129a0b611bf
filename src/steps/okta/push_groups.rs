//! The SCIM app's side. The plan's assigned groups (`okta.assign_groups`) are assigned to the
//! provisioning app, which creates their users in Kiro; the push groups
//! (`okta.provisioning.push_groups`), separate groups, are pushed once the console step is done,
//! which gives Kiro its groups. Okta doesn't support using the same group for app assignment and
//! Group Push (help.okta.com, "App assignments and Group Push"): users removed from such a group
//! stay in Kiro's group (help.okta.com, "Troubleshooting Group Push"). So an assigned group is
//! never pushed, a live push of one is reported, and pushed groups the plan does not name are
//! reported, never removed.

use serde_json::json;

use super::diff::{Op, Planned, Reconciled, Wanted};
use super::read::ProvisioningSeen;
use crate::engine::fields;
use crate::engine::{Address, Change, Finding, Severity};
use crate::plan::model::OktaProvisioning;
use crate::plan::validate::OKTA_ASSIGN_AND_PUSH;

/// Okta help, "Troubleshooting Group Push": "Removed users still appear in target app groups".
const OKTA_PUSH_TROUBLESHOOTING: &str =
    "https://help.okta.com/en/prod/Content/Topics/users-groups-profiles/usgp-group-push-troubleshoot.htm";

/// The provisioning app as the plan names it and as Okta shows it.
struct Provisioning<'a> {
    plan: &'a OktaProvisioning,
    seen: &'a ProvisioningSeen,
    app_id: &'a String,
}

pub fn reconcile_push_groups(wanted: &Wanted) -> Reconciled {
    let mut out = Reconciled::default();
    let (Some(plan), Some(seen)) = (&wanted.plan.provisioning, &wanted.live.provisioning) else { return out };
    // What the plan's push groups mean is said from the first plan on, app or no app.
    out.findings.extend(push_groups_unset_finding(plan));
    for (name, _) in seen.push_groups.iter().filter(|(_, id)| id.is_none()) {
        out.findings.push(push_group_missing(plan, name));
    }
    let Some(app_id) = &seen.app_id else { return out };
    let provisioning = Provisioning { plan, seen, app_id };
    for (name, id) in &wanted.live.groups {
        let Some(group_id) = id else { continue };
        out.add(reconcile_provisioning_assignment(&provisioning, name, group_id));
    }
    if plan.done && seen.push_unreadable.is_none() {
        for (name, id) in &seen.push_groups {
            if let Some(group_id) = id {
                out.add(reconcile_push_mapping(&provisioning, name, group_id));
            }
        }
    }
    if let Some(reason) = &seen.push_unreadable
        && plan.done
    {
        out.findings.push(
            Finding::new(
                "okta.group_push_unreadable",
                Severity::Error,
                format!("Okta does not show the Push Groups mappings of \"{}\": {reason}", plan.app_label),
                "in Okta: the app → Provisioning → Integration → enable Push Groups; with a service app, grant okta.apps.manage and okta.groups.manage",
            )
            .at(Address::new("okta.provisioning", &plan.app_label)),
        );
    }
    out.findings.extend(assigned_and_pushed_finding(&provisioning));
    out.findings.extend(unplanned_pushes_finding(&provisioning));
    out
}

/// A plan without push groups pushes none: Kiro gets the assigned users, but no group to
/// subscribe. Said at plan time, so the owner decides rather than finds out.
fn push_groups_unset_finding(plan: &OktaProvisioning) -> Option<Finding> {
    if !plan.push_groups.is_empty() {
        return None;
    }
    Some(
        Finding::new(
            "okta.push_groups_unset",
            Severity::Info,
            format!("okta.provisioning.push_groups is not set: \"{}\" pushes no group, so Kiro gets the assigned users but none of their groups", plan.app_label),
            format!("to give Kiro groups, list groups of their own under okta.provisioning.push_groups (not the ones in okta.assign_groups: Okta doesn't support using the same group for app assignment and Group Push, {OKTA_ASSIGN_AND_PUSH})"),
        )
        .at(Address::new("okta.provisioning", &plan.app_label)),
    )
}

fn push_group_missing(plan: &OktaProvisioning, name: &str) -> Finding {
    Finding::new(
        "okta.push_group_missing",
        Severity::Error,
        format!("Okta has no group named \"{name}\" (okta.provisioning.push_groups)"),
        "create the push group in Okta with the members Kiro should see in it (they must be assigned through okta.assign_groups too), or fix the name; kiro-onboard pushes groups, it does not create them",
    )
    .at(Address::new("okta.group_push", &format!("{}/{name}", plan.app_label)))
}

/// Live pushes whose source group is also assigned to the provisioning app: the combination
/// Okta does not support, whose symptom is users removed from the group staying in Kiro's group.
fn assigned_and_pushed_finding(provisioning: &Provisioning) -> Option<Finding> {
    let (label, seen) = (&provisioning.plan.app_label, provisioning.seen);
    let both: Vec<&String> = seen
        .push_mappings
        .iter()
        .filter_map(|(_, source, _)| seen.app_groups.iter().find(|(g, _)| g == source).map(|(_, n)| n))
        .collect();
    if both.is_empty() {
        return None;
    }
    let mut finding = Finding::new(
        "okta.group_assigned_and_pushed",
        Severity::Warning,
        format!("\"{label}\" pushes {} group(s) that are also assigned to it: users removed from them stay in Kiro's groups", both.len()),
        format!("in Okta: the app → Push Groups → the group → Unlink pushed group, then push a separate group (okta.provisioning.push_groups); Okta doesn't support one group for both ({OKTA_ASSIGN_AND_PUSH}, {OKTA_PUSH_TROUBLESHOOTING})"),
    )
    .at(Address::new("okta.provisioning", label));
    for group in both {
        finding = finding.evidence(group.clone());
    }
    Some(finding)
}

/// One plan group assigned to the provisioning app.
fn reconcile_provisioning_assignment(provisioning: &Provisioning, name: &str, group_id: &String) -> Reconciled {
    let mut out = Reconciled::default();
    let label = &provisioning.plan.app_label;
    let address = Address::new("okta.provisioning_assignment", &format!("{label}/{name}"));
    if provisioning.seen.app_groups.iter().any(|(g, _)| g == group_id) {
        out.unchanged.push(address);
    } else {
        out.planned.push(Planned {
            change: Change::create(address, fields! {"app" => label, "group" => name}),
            op: Op::AssignProvisioningGroup { app_id: provisioning.app_id.clone(), group_id: group_id.clone() },
        });
    }
    out
}

/// One plan group pushed to Kiro: created when missing, reported when its push is inactive.
fn reconcile_push_mapping(provisioning: &Provisioning, name: &str, group_id: &String) -> Reconciled {
    let mut out = Reconciled::default();
    let label = &provisioning.plan.app_label;
    let address = Address::new("okta.group_push", &format!("{label}/{name}"));
    match provisioning.seen.push_mappings.iter().find(|(_, source, _)| source == group_id) {
        Some((_, _, status)) if status == "INACTIVE" => out.findings.push(
            Finding::new(
                "okta.group_push_inactive",
                Severity::Warning,
                format!("the group \"{name}\" is linked for Push Groups in \"{label}\" but the push is INACTIVE: Kiro does not get its members"),
                "in Okta: the app → Push Groups → the group → Activate push",
            )
            .at(address),
        ),
        Some(_) => out.unchanged.push(address),
        None => out.planned.push(Planned {
            change: Change::create(address, fields! {"app" => label, "source_group" => name, "target_group_name" => name, "status" => "ACTIVE"}),
            op: Op::CreatePushMapping {
                app_id: provisioning.app_id.clone(),
                body: json!({"sourceGroupId": group_id, "targetGroupName": name, "status": "ACTIVE"}),
            },
        }),
    }
    out
}

/// Groups the provisioning app pushes that the plan does not name.
fn unplanned_pushes_finding(provisioning: &Provisioning) -> Option<Finding> {
    let (label, seen) = (&provisioning.plan.app_label, provisioning.seen);
    let planned_ids: Vec<&String> = seen.push_groups.iter().filter_map(|(_, id)| id.as_ref()).collect();
    let assigned = |source: &String| seen.app_groups.iter().any(|(g, _)| g == source);
    let extra: Vec<String> = seen
        .push_mappings
        .iter()
        // Assigned ones are reported by `assigned_and_pushed_finding`.
        .filter(|(_, source, _)| !planned_ids.contains(&source) && !assigned(source))
        .map(|(_, source, _)| {
            seen.app_groups.iter().find(|(g, _)| g == source).map(|(_, n)| n.clone()).unwrap_or_else(|| source.clone())
        })
        .collect();
    if extra.is_empty() {
        return None;
    }
    let mut finding = Finding::new(
        "okta.group_push_unplanned",
        Severity::Warning,
        format!("\"{label}\" pushes {} group(s) to Kiro that okta.provisioning.push_groups does not name", extra.len()),
        "add them to okta.provisioning.push_groups, or unlink them in Okta (the app → Push Groups → the group → Unlink pushed group)",
    )
    .at(Address::new("okta.provisioning", label));
    for group in extra {
        finding = finding.evidence(group);
    }
    Some(finding)
}
