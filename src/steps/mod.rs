//! Step runners, one per kind of remote object, in the order apply runs them.

pub mod identity_center;

use std::sync::Arc;

use crate::clients::aws::Aws;
use crate::engine::Step;
use crate::plan::LoadedPlan;
use crate::requirements;

/// The steps a plan needs, in dependency order.
pub fn for_plan(plan: &LoadedPlan, aws: Option<Arc<Aws>>) -> Vec<Box<dyn Step>> {
    let requirements = requirements::for_plan(&plan.plan);
    let mut steps: Vec<Box<dyn Step>> = Vec::new();
    if let (Some(idc), Some(aws)) = (&plan.plan.identity_center, aws) {
        steps.push(Box::new(identity_center::IdentityCenterStep::new(
            aws,
            idc.clone(),
            requirements,
        )));
    }
    steps
}

/// Whether the plan needs AWS at all.
pub fn needs_aws(plan: &LoadedPlan) -> bool {
    plan.plan.identity_center.is_some()
}
