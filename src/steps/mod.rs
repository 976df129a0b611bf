//! Step runners, one per kind of remote object, in the order apply runs them.

pub mod entra;
pub mod identity_center;
pub mod kiro_console;
pub mod kms;

use std::sync::Arc;

use crate::clients::aws::Aws;
use crate::clients::calls::CallCounter;
use crate::engine::Step;
use crate::plan::LoadedPlan;
use crate::requirements;

/// The steps a plan needs, in dependency order.
pub fn for_plan(plan: &LoadedPlan, aws: Option<Arc<Aws>>, calls: Arc<CallCounter>) -> Vec<Box<dyn Step>> {
    let requirements = requirements::for_plan(&plan.plan);
    let mut steps: Vec<Box<dyn Step>> = Vec::new();
    if let Some(aws) = aws {
        // The KMS statements name the instance and identity store, which the Identity Center
        // step reads; with no `identity_center` section it reads them and manages nothing.
        let idc = plan.plan.identity_center.clone().unwrap_or_default();
        steps.push(Box::new(identity_center::IdentityCenterStep::new(aws.clone(), idc, requirements)));
        if let Some(kms) = &plan.plan.kms {
            steps.push(Box::new(kms::KmsStep::new(aws, kms.clone())));
        }
    }
    if let Some(entra) = &plan.plan.entra {
        steps.push(Box::new(entra::EntraStep::new(entra.clone(), requirements, calls)));
    }
    if plan.plan.identity_center.is_some() || plan.plan.entra.is_some() || !plan.plan.kiro.console.subscribe.is_empty()
    {
        steps.push(Box::new(kiro_console::KiroConsoleStep::new(plan.plan.clone(), requirements)));
    }
    steps
}

/// Whether the plan needs AWS at all.
pub fn needs_aws(plan: &LoadedPlan) -> bool {
    plan.plan.identity_center.is_some() || plan.plan.kms.is_some()
}
