//! The SCIM app's side (Kiro's guide: assign the groups to the provisioning app, then push
//! them): each plan group assigned to the provisioning app and, once the console step is done,
//! pushed; pushed groups the plan does not name are reported, never removed.

use serde_json::json;

use super::diff::{Op, Planned, Reconciled, Wanted};
use super::read::ProvisioningSeen;
use crate::engine::fields;
use crate::engine::{Address, Change, Finding, Severity};
use crate::plan::model::OktaProvisioning;

/// The provisioning app as the plan names it and as Okta shows it.
struct Provisioning<'a> {
    plan: &'a OktaProvisioning,
    seen: &'a ProvisioningSeen,
    app_id: &'a String,
}

pub fn reconcile_push_groups(wanted: &Wanted) -> Reconciled {
    let mut out = Reconciled::default();
    let (Some(plan), Some(seen)) = (&wanted.plan.provisioning, &wanted.live.provisioning) else { return out };
    let Some(app_id) = &seen.app_id else { return out };
    let provisioning = Provisioning { plan, seen, app_id };
    for (name, id) in &wanted.live.groups {
        let Some(group_id) = id else { continue };
        out.add(reconcile_provisioning_assignment(&provisioning, name, group_id));
        if plan.done && seen.push_unreadable.is_none() {
            out.add(reconcile_push_mapping(&provisioning, name, group_id));
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
    out.findings.extend(unplanned_pushes_finding(wanted, &provisioning));
    out
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
fn unplanned_pushes_finding(wanted: &Wanted, provisioning: &Provisioning) -> Option<Finding> {
    let (label, seen) = (&provisioning.plan.app_label, provisioning.seen);
    let planned_ids: Vec<&String> = wanted.live.groups.iter().filter_map(|(_, id)| id.as_ref()).collect();
    let extra: Vec<String> = seen
        .push_mappings
        .iter()
        .filter(|(_, source, _)| !planned_ids.contains(&source))
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
        format!("\"{label}\" pushes {} group(s) to Kiro that okta.assign_groups does not name", extra.len()),
        "add them to okta.assign_groups, or unlink them in Okta (the app → Push Groups → the group → Unlink pushed group)",
    )
    .at(Address::new("okta.provisioning", label));
    for group in extra {
        finding = finding.evidence(group);
    }
    Some(finding)
}
