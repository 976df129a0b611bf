//! `retire` in the Kiro console: what only a person can end there, pre-filled from the plan, as
//! manual steps (templates/console.yaml, `retire_*`): each subscribed group's subscriptions
//! cancelled, each domain removed, then the profile deleted. kiro-onboard cannot see the console,
//! so these steps never count as something left to remove, and are shown until the admin records
//! them (`console done`, into `kiro.console.retired`).

use std::collections::BTreeMap;

use super::manual_change;
use crate::engine::{Address, Change, Checked, Finding, Outcome, Session, Severity, Status, ToApply, TypedStep};
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

    /// The steps not recorded as done yet.
    pub fn pending(plan: &Plan) -> Vec<Change> {
        KiroConsoleRetireStep::new(plan.clone()).changes().0
    }

    /// Every retire step of the plan, as if none were recorded.
    pub fn possible(plan: &Plan) -> Vec<Change> {
        let mut fresh = plan.clone();
        fresh.kiro.console.retired.clear();
        KiroConsoleRetireStep::new(fresh).changes().0
    }

    /// The steps still to do, and the addresses of those recorded as done.
    fn changes(&self) -> (Vec<Change>, Vec<Address>) {
        let console = &self.plan.kiro.console;
        let region = &self.plan.kiro.profile_region;
        let vars = |address: &Address, more: &[(&'static str, String)]| {
            let mut vars: BTreeMap<&'static str, String> = BTreeMap::from([
                ("profile_region", region.clone()),
                // As a YAML scalar: an address holds quotes and brackets.
                ("address", serde_json::Value::String(address.to_string()).to_string()),
            ]);
            vars.extend(more.iter().cloned());
            vars
        };
        let (mut out, mut done, mut needs) = (Vec::new(), Vec::new(), Vec::new());
        let mut add = |address: Address, template: &str, filled: BTreeMap<&'static str, String>| {
            if console.is_retired(address.as_str()) {
                done.push(address);
            } else {
                out.push(manual_change(address.clone(), template, &filled, Vec::new()));
                needs.push(address);
            }
        };
        for subscription in &console.subscribe {
            let address = Address::new("kiro_console.retire_subscription", &subscription.group);
            let filled = vars(&address, &[("group", subscription.group.clone())]);
            add(address, "retire_subscription", filled);
        }
        for plan_domain in &self.plan.domains {
            let name = domain::normalize(&plan_domain.name).unwrap_or_else(|_| plan_domain.name.to_lowercase());
            let address = Address::new("kiro_console.retire_domain", &name);
            let filled = vars(&address, &[("domain", name.clone()), ("record", plan_domain.record.clone())]);
            add(address, "retire_domain", filled);
        }
        let address = Address::new("kiro_console.retire_profile", region);
        if console.is_retired(address.as_str()) {
            done.push(address);
        } else {
            let filled = vars(&address, &[]);
            out.push(manual_change(address, "retire_profile", &filled, needs));
        }
        (out, done)
    }
}

impl TypedStep<Context> for KiroConsoleRetireStep {
    type Read = ();

    fn name(&self) -> &'static str {
        "kiro_console"
    }

    async fn check(&self, _ctx: &mut Context, _session: &Session) -> Result<Checked<()>, Error> {
        let (changes, done) = self.changes();
        let mut findings = Vec::new();
        if !done.is_empty() {
            let mut finding = Finding::new(
                "kiro_console.retire_recorded",
                Severity::Info,
                format!("{} Kiro console step(s) of retire are recorded as done (kiro.console.retired)", done.len()),
                "nothing to do; take an address out of kiro.console.retired to see its step again",
            );
            for address in &done {
                finding = finding.evidence(address.to_string());
            }
            findings.push(finding);
        }
        Ok(Checked { changes, findings, unchanged: done, fingerprint: String::new(), read: () })
    }

    async fn execute(&self, _ctx: &mut Context, planned: ToApply<'_, ()>, _session: &Session) -> Vec<Outcome> {
        planned.all(Status::Pending("do this in the Kiro console".into()))
    }
}
