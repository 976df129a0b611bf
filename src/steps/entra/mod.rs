//! The `entra` step: Kiro's non-gallery enterprise app in Microsoft Entra ID, created from the
//! Custom template and configured as Kiro's Entra guide says (docs/vendor-behaviour.md §1.1): `api://{appId}`, Kiro's two
//! scopes (the template's own `user_impersonation` scope disabled, then removed), the public-client
//! redirect URIs, access-token version 2; the plan's groups assigned; SCIM provisioning set up
//! (job, credentials checked and saved, schema edited with a full PUT, started, groups provisioned
//! on demand). Every row of the guide's troubleshooting table is a finding.
//!
//! `read` reads the tenant, `diff` turns what it read into changes and findings, `execute` acts.

mod diff;
pub(crate) mod election;
mod execute;
mod journal;
mod on_demand;
pub(crate) mod read;
pub mod retire;
pub mod schema;

pub(crate) use diff::{job_running, settings_need_fixing};
pub(crate) use read::looks_like_guid;

use std::sync::Arc;

use crate::clients::calls::CallCounter;
use crate::engine::{Address, Checked, Outcome, Session, ToApply, TypedStep};
use crate::error::Error;
use crate::plan::model::Entra;
use crate::requirements::Requirements;
use crate::steps::Context;

/// The Custom (non-gallery) application template (docs/vendor-behaviour.md §2.2.1).
pub const CUSTOM_TEMPLATE_ID: &str = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621";
/// The synchronization job template for non-gallery SCIM apps (docs/vendor-behaviour.md §2.6.1).
pub const SCIM_JOB_TEMPLATE: &str = "scim";

pub fn application_address(name: &str) -> Address {
    Address::new("entra.application", name)
}
/// A second app of the plan's name that an interrupted or concurrent apply created.
pub fn duplicate_address(app_id: &str) -> Address {
    Address::new("entra.duplicate_application", app_id)
}
pub fn assignment_address(group: &str) -> Address {
    Address::new("entra.assignment", group)
}
pub fn provisioning_address(name: &str) -> Address {
    Address::new("entra.provisioning", name)
}

pub struct EntraStep {
    plan: Entra,
    requirements: &'static Requirements,
    calls: Arc<CallCounter>,
}

impl EntraStep {
    pub fn new(plan: Entra, requirements: &'static Requirements, calls: Arc<CallCounter>) -> Self {
        EntraStep { plan, requirements, calls }
    }

    async fn check_now(&self, ctx: &mut Context) -> Result<Checked<diff::Observed>, Error> {
        let (graph, token_tenant) =
            crate::clients::entra_auth::graph_for(&(&self.plan).into(), self.calls.clone()).await?;
        let tenant = read::read(&graph, &self.plan, token_tenant).await?;
        ctx.entra = Some(crate::steps::context::EntraFacts {
            tenant_id: tenant.tenant_id.clone(),
            client_id: tenant.app.as_ref().map(|a| a.app_id.clone()).filter(|id| !id.is_empty()),
        });
        Ok(diff::diff(&self.plan, &self.requirements.entra, &self.requirements.scopes, tenant))
    }
}

impl TypedStep<Context> for EntraStep {
    type Read = diff::Observed;

    fn name(&self) -> &'static str {
        "entra"
    }

    async fn check(&self, ctx: &mut Context, _session: &Session) -> Result<Checked<diff::Observed>, Error> {
        self.check_now(ctx).await
    }

    async fn execute(
        &self,
        ctx: &mut Context,
        planned: ToApply<'_, diff::Observed>,
        session: &Session,
    ) -> Vec<Outcome> {
        let graph = match crate::clients::entra_auth::graph_for(&(&self.plan).into(), self.calls.clone()).await {
            Ok((graph, _)) => graph,
            Err(e) => return planned.all(crate::engine::Status::Failed(e.to_string())),
        };
        let exec = execute::Executor {
            graph: &graph,
            plan: &self.plan,
            req: &self.requirements.entra,
            scopes: &self.requirements.scopes,
            session,
        };
        exec.run(ctx, planned).await
    }
}
