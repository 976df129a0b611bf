//! `retire` of the Entra app: the app registration the plan names (its service principal goes
//! with it), deleted only when it is this plan's — it carries kiro-onboard's marker tag
//! (election.rs), or its appId was confirmed with `--confirm-app-id`. Any other app of that name
//! is someone else's: a finding, never a delete.

use std::sync::Arc;

use reqwest::Method;

use super::election::marked;
use super::{application_address, duplicate_address, read};
use crate::clients::calls::CallCounter;
use crate::clients::graph_model::Application;
use crate::engine::{
    Address, Change, Checked, Finding, Outcome, Session, Severity, Status, ToApply, TypedStep, fields,
};
use crate::error::Error;
use crate::plan::model::Entra;
use crate::steps::Context;

pub struct EntraRetireStep {
    plan: Entra,
    calls: Arc<CallCounter>,
    confirmed_app_id: Option<String>,
}

impl EntraRetireStep {
    pub fn new(plan: Entra, calls: Arc<CallCounter>, confirmed_app_id: Option<String>) -> Self {
        EntraRetireStep { plan, calls, confirmed_app_id }
    }

    fn ours(&self, app: &Application) -> bool {
        marked(app) || self.confirmed_app_id.as_deref() == Some(app.app_id.as_str())
    }
}

impl TypedStep<Context> for EntraRetireStep {
    /// The object id of each app registration to delete, by its change's address.
    type Read = Vec<(Address, String)>;

    fn name(&self) -> &'static str {
        "entra"
    }

    async fn check(&self, _ctx: &mut Context, _session: &Session) -> Result<Checked<Self::Read>, Error> {
        let (graph, token_tenant) =
            crate::clients::entra_auth::graph_for(&(&self.plan).into(), self.calls.clone()).await?;
        let tenant = read::read(&graph, &self.plan, token_tenant).await?;
        let name = &self.plan.app.display_name;
        let mut out = Checked {
            changes: Vec::new(),
            findings: Vec::new(),
            unchanged: Vec::new(),
            fingerprint: String::new(),
            read: Vec::new(),
        };
        let apps = tenant.app.iter().map(|a| (application_address(name), a));
        let apps = apps.chain(tenant.duplicates.iter().map(|a| (duplicate_address(&a.app_id), a)));
        for (address, app) in apps {
            out.fingerprint.push_str(&app.id);
            if !self.ours(app) {
                out.findings.push(Finding::new(
                    "entra.app_not_this_plans",
                    Severity::Warning,
                    format!("the app `{name}` (appId {}) does not carry kiro-onboard's `{}` tag: it is kept", app.app_id, super::election::MARKER_TAG),
                    format!("if it is Kiro's app, run retire again with `--confirm-app-id {}`, or delete it in the Microsoft Entra admin center", app.app_id),
                ).at(address));
                continue;
            }
            let service_principal =
                tenant.sp.as_ref().filter(|_| address == application_address(name)).map(|sp| sp.id.clone());
            out.changes.push(
                Change::delete(
                    address.clone(),
                    fields! {"display_name" => name, "app_id" => app.app_id, "service_principal" => service_principal},
                )
                .because("the app registration is deleted, and its service principal with it"),
            );
            out.read.push((address, app.id.clone()));
        }
        Ok(out)
    }

    async fn execute(&self, _ctx: &mut Context, planned: ToApply<'_, Self::Read>, _session: &Session) -> Vec<Outcome> {
        let graph = match crate::clients::entra_auth::graph_for(&(&self.plan).into(), self.calls.clone()).await {
            Ok((graph, _)) => graph,
            Err(e) => return planned.all(Status::Failed(e.to_string())),
        };
        let mut outcomes = Vec::new();
        for change in planned.changes {
            let Some((_, object_id)) = planned.read.iter().find(|(a, _)| *a == change.address) else { continue };
            let status = match graph.call(Method::DELETE, &format!("/applications/{object_id}"), &[], None).await {
                Ok(_) => Status::Applied,
                Err(e) if e.is_not_found() => Status::AlreadyDone,
                Err(e) => Status::Failed(e.to_string()),
            };
            outcomes.push(Outcome::new(change, status));
        }
        outcomes
    }
}
