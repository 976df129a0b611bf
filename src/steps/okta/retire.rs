//! `retire` in Okta: the access policy and rule the plan names, Kiro's scopes on the
//! authorization server (only those no other policy's rule grants), and the Kiro app — only when
//! kiro-onboard created it (`profile.created_by`, app_election.rs). Everything else is kept.

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
}

/// One delete: the API path, and whether the object must be deactivated first (an app).
#[derive(Debug, Clone)]
pub struct Removal {
    address: Address,
    path: String,
    deactivate_first: bool,
}

impl OktaRetireStep {
    pub fn new(okta: Arc<Okta>, plan: OktaPlan, requirements: &'static Requirements) -> Self {
        OktaRetireStep { okta, plan, requirements }
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

/// The SCIM app's assignments of the plan's groups (deleted), and the Push Groups mappings of the
/// plan's push groups: Okta's API deletes a mapping only once it is deactivated, which
/// kiro-onboard does not do yet, so each mapping is a step in the Okta admin console while it is
/// there.
fn scim_removals(plan: &OktaPlan, live: &read::Live) -> Vec<(Change, Option<Removal>)> {
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
            deactivate_first: false,
        };
        out.push((Change::delete(address, fields! {"app" => label, "group" => name}), Some(removal)));
    }
    for (name, id) in &seen.push_groups {
        let Some(group_id) = id else { continue };
        if !seen.push_mappings.iter().any(|(_, source, _)| source == group_id) {
            continue;
        }
        let address = Address::new("okta.group_push", &format!("{label}/{name}"));
        let step = crate::engine::ManualStep {
            title: format!("Stop pushing {name} to Kiro"),
            console: crate::engine::Console::OktaAdmin,
            location: format!("Okta admin console → Applications → {label} → Push Groups"),
            instructions: vec![format!("In Push Groups, stop pushing {name}: deactivate its push, then unlink it.")],
            record: None,
            verify: "the next retire reads the app's Push Groups mappings".into(),
            wait: None,
            needs: Vec::new(),
            permissions: Vec::new(),
        };
        out.push((Change::manual(address, fields! {"app" => label, "group" => name}, step), None));
    }
    out
}

impl TypedStep<Context> for OktaRetireStep {
    type Read = Vec<Removal>;

    fn name(&self) -> &'static str {
        "okta"
    }

    async fn check(&self, _ctx: &mut Context, _session: &Session) -> Result<Checked<Self::Read>, Error> {
        let label = &self.plan.app_label;
        let (policy_name, rule_name) = (label.clone(), format!("{label} access"));
        let live = read::read(&self.okta, &self.plan, &policy_name, &rule_name).await?;
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
            out.read.push(Removal { address, path, deactivate_first });
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
        for (change, removal) in scim_removals(&self.plan, &live) {
            out.changes.push(change);
            out.read.extend(removal);
        }
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
            if change.manual.is_some() {
                outcomes.push(Outcome::new(change, Status::Pending("do this in the Okta admin console".into())));
                continue;
            }
            let Some(removal) = planned.read.iter().find(|r| r.address == change.address) else { continue };
            if removal.deactivate_first
                && let Err(e) =
                    self.okta.post(&format!("{}/lifecycle/deactivate", removal.path), &serde_json::json!({})).await
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
