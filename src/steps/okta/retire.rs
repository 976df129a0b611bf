//! `retire` in Okta: the access policy and rule the plan names, Kiro's scopes on the
//! authorization server (only those no other policy's rule grants), the Kiro app — only when
//! kiro-onboard created it (`profile.created_by`, app_election.rs) —, the SCIM app's assignments
//! of the plan's groups, and the Push Groups mappings of the plan's push groups. Everything else
//! is kept.

use std::sync::Arc;

use serde_json::Value;

use super::app_election::marked;
use super::diff::kiro_scopes;
use super::read::{self, server_path};
use crate::clients::okta::Okta;
use crate::engine::{
    Address, Change, Checked, Finding, Outcome, Session, Severity, Status, ToApply, TypedStep, fields,
};
use crate::error::Error;
use crate::plan::model::Okta as OktaPlan;
use crate::requirements::Requirements;
use crate::steps::Context;

pub struct OktaRetireStep {
    okta: Arc<Okta>,
    plan: OktaPlan,
    requirements: &'static Requirements,
    /// `--include-identities`: a pushed group is deleted in Kiro's directory with its mapping.
    include_identities: bool,
}

/// One delete: the API path, and what Okta needs done to the object first.
#[derive(Debug, Clone)]
pub struct Removal {
    address: Address,
    path: String,
    first: First,
}

/// What comes before the delete.
#[derive(Debug, Clone)]
enum First {
    Nothing,
    /// An app: `POST {path}/lifecycle/deactivate` (Okta deletes only an inactive app).
    Deactivate,
    /// A group push mapping: `PATCH` it to `{"status": "INACTIVE"}` at this path (Okta deletes
    /// only an INACTIVE mapping; docs/vendor-behaviour.md §3.2.7).
    Inactivate(String),
}

impl OktaRetireStep {
    pub fn new(okta: Arc<Okta>, plan: OktaPlan, requirements: &'static Requirements) -> Self {
        OktaRetireStep { okta, plan, requirements, include_identities: false }
    }

    /// With `--include-identities`, the groups pushed to Kiro go with their mappings.
    pub fn including_identities(mut self, include: bool) -> Self {
        self.include_identities = include;
        self
    }

    /// Scope names a rule of another policy on the server names. A rule granting `*` (the default
    /// server's Default Policy Rule) names none: it does not rely on Kiro's scopes.
    async fn scopes_used_elsewhere(&self, server: &str, own_policy: Option<&str>) -> Result<Vec<String>, Error> {
        let failed = |e: crate::clients::okta::OktaError| e.into_error("list the authorization server's policies");
        let mut used = Vec::new();
        for policy in self.okta.list(&format!("{server}/policies")).await.map_err(failed)? {
            let id = policy["id"].as_str().unwrap_or_default();
            if Some(id) == own_policy {
                continue;
            }
            for rule in self.okta.list(&format!("{server}/policies/{id}/rules")).await.map_err(failed)? {
                let include = rule.pointer("/conditions/scopes/include").and_then(Value::as_array);
                used.extend(include.into_iter().flatten().filter_map(Value::as_str).map(str::to_owned));
            }
        }
        Ok(used)
    }
}

/// The SCIM app's assignments of the plan's groups.
fn scim_removals(plan: &OktaPlan, live: &read::Live) -> Vec<(Change, Removal)> {
    let (Some(provisioning), Some(seen)) = (&plan.provisioning, &live.provisioning) else { return Vec::new() };
    let Some(app_id) = &seen.app_id else { return Vec::new() };
    let label = &provisioning.app_label;
    let mut out = Vec::new();
    for (name, id) in &live.groups {
        let Some(group_id) = id.as_ref().filter(|id| seen.app_groups.iter().any(|(g, _)| g == *id)) else { continue };
        let address = Address::new("okta.provisioning_assignment", &format!("{label}/{name}"));
        let removal = Removal {
            address: address.clone(),
            path: format!("/api/v1/apps/{app_id}/groups/{group_id}"),
            first: First::Nothing,
        };
        out.push((Change::delete(address, fields! {"app" => label, "group" => name}), removal));
    }
    out
}

/// The Push Groups mappings of the plan's push groups (only those: a group pushed by hand is
/// not the plan's), each made INACTIVE then deleted. `deleteTargetGroup` is false unless
/// `--include-identities`: the pushed group in Kiro's directory (IAM Identity Center) is what
/// Kiro's subscriptions are attached to (docs/vendor-behaviour.md §1.8), so it stays until the
/// subscriptions are cancelled in the Kiro console; Okta then leaves it there
/// (docs/vendor-behaviour.md §3.2.7).
fn push_removals(
    plan: &OktaPlan,
    live: &read::Live,
    include_identities: bool,
) -> (Vec<(Change, Removal)>, Vec<Finding>) {
    let (mut out, mut findings) = (Vec::new(), Vec::new());
    let (Some(provisioning), Some(seen)) = (&plan.provisioning, &live.provisioning) else { return (out, findings) };
    let Some(app_id) = &seen.app_id else { return (out, findings) };
    let label = &provisioning.app_label;
    if let Some(reason) = seen.push_unreadable.as_ref().filter(|_| !provisioning.push_groups.is_empty()) {
        findings.push(
            Finding::new(
                "okta.group_push_unreadable",
                Severity::Warning,
                format!("Okta does not show the Push Groups mappings of \"{label}\": {reason}; retire cannot remove them"),
                "in Okta: the app → Push Groups → each group of okta.provisioning.push_groups → Deactivate push, then Unlink; with a service app, grant okta.apps.manage and okta.groups.manage",
            )
            .at(Address::new("okta.provisioning", label)),
        );
    }
    for (name, id) in &seen.push_groups {
        let Some(group_id) = id else { continue };
        let Some((mapping_id, _, status)) = seen.push_mappings.iter().find(|(_, source, _)| source == group_id) else {
            continue;
        };
        let address = Address::new("okta.group_push", &format!("{label}/{name}"));
        let path = format!("/api/v1/apps/{app_id}/group-push/mappings/{mapping_id}");
        let first = if status == "INACTIVE" { First::Nothing } else { First::Inactivate(path.clone()) };
        let target = if include_identities { "deleted" } else { "kept" };
        let change = Change::delete(
            address.clone(),
            fields! {"app" => label, "group" => name, "status" => status, "target_group" => target},
        );
        let change = if include_identities {
            change.because(
                "--include-identities: the pushed group is deleted in Kiro's directory too (deleteTargetGroup=true)",
            )
        } else {
            change
        };
        let removal = Removal { address, path: format!("{path}?deleteTargetGroup={include_identities}"), first };
        out.push((change, removal));
    }
    // Said on every retire, before and after the mappings go: the groups outlive them.
    if !include_identities && !provisioning.push_groups.is_empty() {
        let mut finding = Finding::new(
            "okta.pushed_group_kept",
            Severity::Info,
            format!("the groups \"{label}\" pushes to Kiro stay in Kiro's directory (IAM Identity Center) when retire deletes their push mappings: Kiro's subscriptions are attached to them"),
            "cancel their subscriptions in the Kiro console (kiro_console.retire_subscription), then delete the groups in IAM Identity Center, or run retire with --include-identities to delete them with their mappings",
        )
        .at(Address::new("okta.provisioning", label));
        for name in &provisioning.push_groups {
            finding = finding.evidence(name.clone());
        }
        findings.push(finding);
    }
    (out, findings)
}

impl TypedStep<Context> for OktaRetireStep {
    type Read = Vec<Removal>;

    fn name(&self) -> &'static str {
        "okta"
    }

    async fn check(&self, _ctx: &mut Context, _session: &Session) -> Result<Checked<Self::Read>, Error> {
        let label = &self.plan.app_label;
        let (policy_name, rule_name) = (label.clone(), format!("{label} access"));
        // The push mappings are read whether or not the plan records the console step as done: a
        // mapping of the plan's push groups made before the record is the plan's too.
        let mut plan = self.plan.clone();
        if let Some(provisioning) = plan.provisioning.as_mut() {
            provisioning.done = true;
        }
        let live = read::read(&self.okta, &plan, &policy_name, &rule_name).await?;
        let server = server_path(&live.server.id);
        let mut out = Checked {
            changes: Vec::new(),
            findings: Vec::new(),
            unchanged: Vec::new(),
            fingerprint: live.server.id.clone(),
            read: Vec::new(),
        };
        let mut remove = |address: Address, path: String, deactivate_first: bool, before| {
            out.changes.push(Change::delete(address.clone(), before));
            let first = if deactivate_first { First::Deactivate } else { First::Nothing };
            out.read.push(Removal { address, path, first });
        };
        let own_policy = live.policy.as_ref().map(|p| p.id.clone());
        if let (Some(policy), Some(rule)) = (&live.policy, &live.rule) {
            let address = Address::new("okta.rule", &format!("{policy_name}/{rule_name}"));
            remove(
                address,
                format!("{server}/policies/{}/rules/{}", policy.id, rule.id),
                false,
                fields! {"name" => rule.name},
            );
        }
        if let Some(policy) = &live.policy {
            remove(
                Address::new("okta.policy", &policy_name),
                format!("{server}/policies/{}", policy.id),
                false,
                fields! {"name" => policy.name},
            );
        }
        let used = self.scopes_used_elsewhere(&server, own_policy.as_deref()).await?;
        let wanted = kiro_scopes(&self.plan, self.requirements);
        let listed = self.okta.list(&format!("{server}/scopes")).await.map_err(|e| e.into_error("list scopes"))?;
        let mut kept = Vec::new();
        for scope in listed.iter().filter(|s| s["name"].as_str().is_some_and(|n| wanted.iter().any(|w| w == n))) {
            let name = scope["name"].as_str().unwrap_or_default();
            if used.iter().any(|u| u == name) {
                kept.push(name.to_owned());
                continue;
            }
            let id = scope["id"].as_str().unwrap_or_default();
            remove(Address::new("okta.scope", name), format!("{server}/scopes/{id}"), false, fields! {"name" => name});
        }
        let apps = live.app.iter().map(|a| (Address::new("okta.application", label), a));
        for (address, app) in
            apps.chain(live.duplicates.iter().map(|a| (Address::new("okta.duplicate_application", &a.id), a)))
        {
            if marked(app) {
                remove(address, format!("/api/v1/apps/{}", app.id), true, fields! {"label" => label, "id" => app.id});
            } else {
                out.findings.push(Finding::new(
                    "okta.app_not_this_plans",
                    Severity::Warning,
                    format!("the app \"{label}\" ({}) was not created by kiro-onboard: it is kept", app.id),
                    "if it is Kiro's app, deactivate and delete it in the Okta admin console (Applications → the app → Deactivate → Delete)",
                ).at(address));
            }
        }
        let (pushes, push_findings) = push_removals(&self.plan, &live, self.include_identities);
        for (change, removal) in scim_removals(&self.plan, &live).into_iter().chain(pushes) {
            out.changes.push(change);
            out.read.push(removal);
        }
        out.findings.extend(push_findings);
        if !kept.is_empty() {
            out.findings.push(Finding::new(
                "okta.scope_used_elsewhere",
                Severity::Info,
                format!("scope(s) {} are kept: another access policy's rule grants them", kept.join(", ")),
                "nothing to do; remove them from the other rule first if they should go",
            ));
        }
        Ok(out)
    }

    async fn execute(&self, _ctx: &mut Context, planned: ToApply<'_, Self::Read>, _session: &Session) -> Vec<Outcome> {
        let mut outcomes = Vec::new();
        for change in planned.changes {
            let Some(removal) = planned.read.iter().find(|r| r.address == change.address) else { continue };
            // A 404 before the delete means the object is gone: the delete then says so.
            let before = match &removal.first {
                First::Nothing => Ok(()),
                First::Deactivate => self
                    .okta
                    .post(&format!("{}/lifecycle/deactivate", removal.path), &serde_json::json!({}))
                    .await
                    .map(|_| ()),
                First::Inactivate(path) => {
                    self.okta.patch(path, &serde_json::json!({"status": "INACTIVE"})).await.map(|_| ())
                }
            };
            if let Err(e) = before
                && !e.is_not_found()
            {
                outcomes.push(Outcome::new(change, Status::Failed(e.message())));
                continue;
            }
            let status = match self.okta.delete(&removal.path).await {
                Ok(()) => Status::Applied,
                Err(e) if e.is_not_found() => Status::AlreadyDone,
                Err(e) => Status::Failed(e.message()),
            };
            outcomes.push(Outcome::new(change, status));
        }
        outcomes
    }
}
