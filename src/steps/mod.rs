//! Step runners, one per kind of remote object, in the order apply runs them.

pub mod context;
pub mod departed;
pub mod dns;
pub mod entra;
pub mod identity_center;
pub mod kiro_console;
pub mod kiro_profiles;
pub mod kms;
pub mod okta;
pub mod reconciled;
pub mod settings;

use std::sync::Arc;

use crate::clients::aws::Aws;
use crate::clients::calls::CallCounter;
use crate::clients::dns::DnsSettings;
use crate::engine::{Adapter, Step};

pub use self::context::Context;

/// The runner of this tool's steps, and a check as it holds it.
pub type Runner = crate::engine::Runner<Context>;
pub type CheckedStep = crate::engine::CheckedStep<Context>;
use crate::error::Error;
use crate::plan::LoadedPlan;
use crate::requirements;

/// What the steps are built for: converging on the plan, or retiring what it owns.
#[derive(Clone, Copy)]
pub enum Mode<'a> {
    Apply,
    Retire(&'a RetireOptions),
}

/// What `retire` is told from the command line.
pub struct RetireOptions {
    /// Delete the plan's Identity Center users and groups too.
    pub include_identities: bool,
    /// The appId of an Entra app without kiro-onboard's tag that is nonetheless this plan's.
    pub confirm_app_id: Option<String>,
}

/// The steps a plan needs, in dependency order.
pub fn for_plan(
    plan: &LoadedPlan,
    aws: Option<Arc<Aws>>,
    calls: Arc<CallCounter>,
) -> Result<Vec<Box<dyn Step<Context>>>, Error> {
    build(plan, aws, calls, Mode::Apply)
}

/// The steps of `retire`: each in its retire mode, which plans the removal of exactly what the
/// plan owns, then the Kiro console steps to finish.
pub fn for_retire(
    plan: &LoadedPlan,
    aws: Option<Arc<Aws>>,
    calls: Arc<CallCounter>,
    options: &RetireOptions,
) -> Result<Vec<Box<dyn Step<Context>>>, Error> {
    build(plan, aws, calls, Mode::Retire(options))
}

/// The same steps in the same order for both modes; each step knows its retire mode.
fn build(
    plan: &LoadedPlan,
    aws: Option<Arc<Aws>>,
    calls: Arc<CallCounter>,
    mode: Mode,
) -> Result<Vec<Box<dyn Step<Context>>>, Error> {
    let retire = match mode {
        Mode::Apply => None,
        Mode::Retire(options) => Some(options),
    };
    let requirements = requirements::chosen(plan.plan.kiro.requirements.as_deref());
    let mut steps: Vec<Box<dyn Step<Context>>> = Vec::new();
    if let Some(aws) = aws.clone()
        && (plan.plan.identity_center.is_some() || plan.plan.kms.is_some())
    {
        // The KMS statements name the instance and identity store, which the Identity Center
        // step reads; with no `identity_center` section it reads them and manages nothing.
        let idc = plan.plan.identity_center.clone().unwrap_or_default();
        let step = identity_center::IdentityCenterStep::new(aws.clone(), idc, requirements);
        steps.push(Adapter::boxed(match retire {
            Some(options) => step.retiring(options.include_identities),
            None => step,
        }));
        if let Some(kms) = &plan.plan.kms {
            let step = kms::KmsStep::new(aws, kms.clone());
            steps.push(Adapter::boxed(if retire.is_some() { step.retiring() } else { step }));
        }
    }
    if let Some(entra) = &plan.plan.entra {
        steps.push(match retire {
            Some(options) => Adapter::boxed(entra::retire::EntraRetireStep::new(
                entra.clone(),
                calls.clone(),
                options.confirm_app_id.clone(),
            )),
            None => Adapter::boxed(entra::EntraStep::new(entra.clone(), requirements, calls.clone())),
        });
    }
    if let Some(okta) = &plan.plan.okta {
        let client = okta_client(okta, &calls)?;
        steps.push(match retire {
            Some(options) => Adapter::boxed(
                okta::retire::OktaRetireStep::new(client, okta.clone(), requirements)
                    .including_identities(options.include_identities),
            ),
            None => Adapter::boxed(okta::OktaStep::new(client, okta.clone(), requirements)),
        });
    }
    if retire.is_none()
        && (plan.plan.identity_center.is_some()
            || plan.plan.entra.is_some()
            || plan.plan.okta.is_some()
            || !plan.plan.kiro.console.subscribe.is_empty()
            || plan.plan.domains.iter().any(|d| d.token.is_none()))
    {
        steps.push(Adapter::boxed(
            kiro_console::KiroConsoleStep::new(plan.plan.clone(), requirements).recording_in(&plan.file),
        ));
    }
    if plan.plan.domains.iter().any(|d| d.token.is_some()) {
        let step = dns::DnsStep::new(aws, &plan.plan.domains, DnsSettings::new(&plan.plan.resolvers)?);
        steps.push(Adapter::boxed(if retire.is_some() { step.retiring() } else { step }));
    }
    if retire.is_some() {
        // Last: what only the Kiro console can end, once kiro-onboard has removed what it owns.
        steps.push(Adapter::boxed(kiro_console::retire::KiroConsoleRetireStep::new(plan.plan.clone())));
    }
    Ok(steps)
}

/// The Okta client of a plan. KIRO_ONBOARD_OKTA_ORG_URL points it at a local emulator (loopback
/// only).
pub fn okta_client(
    okta: &crate::plan::model::Okta,
    calls: &Arc<CallCounter>,
) -> Result<Arc<crate::clients::okta::Okta>, Error> {
    let org_url = crate::clients::http::base_url("KIRO_ONBOARD_OKTA_ORG_URL", &okta.org_url);
    Ok(Arc::new(crate::clients::okta::Okta::new(&org_url, &(&okta.credentials).into(), calls.clone())?))
}

/// Whether the plan needs AWS at all.
pub fn needs_aws(plan: &LoadedPlan) -> bool {
    plan.plan.identity_center.is_some() || plan.plan.kms.is_some() || uses_route53(plan)
}

/// Whether the plan needs an AWS Region of its own (Route 53 is global and does not).
pub fn needs_region(plan: &LoadedPlan) -> bool {
    plan.plan.identity_center.is_some() || plan.plan.kms.is_some()
}

fn uses_route53(plan: &LoadedPlan) -> bool {
    // A domain without its token yet has nothing to write.
    plan.plan.domains.iter().any(|d| d.dns == crate::plan::model::DnsProvider::Route53 && d.token.is_some())
}

/// `value[path…] = new` for a value read from a remote system: what is on the way and is not an
/// object becomes one, where `value[key] = …` would panic on an answer of an unexpected shape.
pub fn set_path(value: &mut serde_json::Value, path: &[&str], new: serde_json::Value) {
    let Some((last, parents)) = path.split_last() else {
        *value = new;
        return;
    };
    let mut at = value;
    for key in parents {
        if !at.is_object() {
            *at = serde_json::Value::Object(serde_json::Map::new());
        }
        at =
            at.as_object_mut().map(|o| o.entry(*key).or_insert(serde_json::Value::Null)).expect("made an object above");
    }
    if !at.is_object() {
        *at = serde_json::Value::Object(serde_json::Map::new());
    }
    if let Some(object) = at.as_object_mut() {
        object.insert((*last).to_owned(), new);
    }
}
