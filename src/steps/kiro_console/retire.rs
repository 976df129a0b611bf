//! `retire` in the Kiro console: what only a person can end there, pre-filled from the plan, as
//! manual steps (templates/console.yaml, `retire_*`): each subscribed group's subscriptions
//! cancelled, each domain removed, then the profile deleted. kiro-onboard cannot see the console,
//! so these steps are shown by every retire and never count as something left to remove.

use std::collections::BTreeMap;

use super::manual_change;
use crate::engine::{Address, Change, Checked, Outcome, Session, Status, ToApply, TypedStep};
use crate::error::Error;
use crate::plan::domain;
use crate::plan::model::Plan;
use crate::steps::Context;

pub struct KiroConsoleRetireStep {
    plan: Plan,
}

impl KiroConsoleRetireStep {
    pub fn new(plan: Plan) -> Self {
        KiroConsoleRetireStep { plan }
    }

    fn changes(&self) -> Vec<Change> {
        let region = &self.plan.kiro.profile_region;
        let vars = |more: &[(&'static str, String)]| {
            let mut vars: BTreeMap<&'static str, String> = BTreeMap::from([("profile_region", region.clone())]);
            vars.extend(more.iter().cloned());
            vars
        };
        let mut out = Vec::new();
        let mut needs = Vec::new();
        for subscription in &self.plan.kiro.console.subscribe {
            let address = Address::new("kiro_console.retire_subscription", &subscription.group);
            let filled = vars(&[("group", subscription.group.clone())]);
            out.push(manual_change(address.clone(), "retire_subscription", &filled, Vec::new()));
            needs.push(address);
        }
        for plan_domain in &self.plan.domains {
            let name = domain::normalize(&plan_domain.name).unwrap_or_else(|_| plan_domain.name.to_lowercase());
            let address = Address::new("kiro_console.retire_domain", &name);
            let filled = vars(&[("domain", name.clone()), ("record", plan_domain.record.clone())]);
            out.push(manual_change(address.clone(), "retire_domain", &filled, Vec::new()));
            needs.push(address);
        }
        out.push(manual_change(
            Address::new("kiro_console.retire_profile", region),
            "retire_profile",
            &vars(&[]),
            needs,
        ));
        out
    }
}

impl TypedStep<Context> for KiroConsoleRetireStep {
    type Read = ();

    fn name(&self) -> &'static str {
        "kiro_console"
    }

    async fn check(&self, _ctx: &mut Context, _session: &Session) -> Result<Checked<()>, Error> {
        Ok(Checked {
            changes: self.changes(),
            findings: Vec::new(),
            unchanged: Vec::new(),
            fingerprint: String::new(),
            read: (),
        })
    }

    async fn execute(&self, _ctx: &mut Context, planned: ToApply<'_, ()>, _session: &Session) -> Vec<Outcome> {
        planned.all(Status::Pending("do this in the Kiro console".into()))
    }
}
