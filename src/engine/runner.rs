//! Runs the steps in dependency order: `plan` checks each one; `apply` executes what was approved
//! and checks again that nothing is left to do.

use std::time::{Duration, Instant};

use super::change::{Action, Address, Change};
use super::finding::Finding;
use super::session::Session;
use super::step::{CheckedStep, Outcome, Status, Step};
use crate::error::Error;

/// The steps in order, and `C`, what they pass forward to later steps.
pub struct Runner<C> {
    steps: Vec<Box<dyn Step<C>>>,
}

/// The result of checking every step.
pub struct PlanReport {
    pub steps: Vec<StepPlan>,
}

pub struct StepPlan {
    pub step: &'static str,
    pub changes: Vec<Change>,
    pub findings: Vec<Finding>,
    pub unchanged: Vec<Address>,
    pub fingerprint: String,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
    pub manual: usize,
    pub verify: usize,
}

impl PlanReport {
    pub fn changes(&self) -> impl Iterator<Item = &Change> {
        self.steps.iter().flat_map(|s| &s.changes)
    }

    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.steps.iter().flat_map(|s| &s.findings)
    }

    pub fn summary(&self) -> Summary {
        summarize(self.changes())
    }

    pub fn has_changes(&self) -> bool {
        self.changes().next().is_some()
    }

    pub fn step(&self, name: &str) -> Option<&StepPlan> {
        self.steps.iter().find(|s| s.step == name)
    }
}

pub fn summarize<'a>(changes: impl Iterator<Item = &'a Change>) -> Summary {
    let mut summary = Summary::default();
    for change in changes {
        match change.action {
            Action::Create => summary.create += 1,
            Action::Update => summary.update += 1,
            Action::Delete => summary.delete += 1,
            Action::Manual => summary.manual += 1,
            Action::Verify => summary.verify += 1,
        }
    }
    summary
}

/// What apply did, step by step.
pub struct ApplyReport {
    pub steps: Vec<StepApply>,
    /// Steps that were not reached (an earlier step failed, or Ctrl-C).
    pub not_reached: Vec<&'static str>,
    pub interrupted: bool,
}

pub struct StepApply {
    pub step: &'static str,
    pub outcomes: Vec<Outcome>,
    /// Changes a fresh check still shows after execution: apply did not converge on these.
    pub remaining: Vec<Change>,
    /// The manual steps still to do after execution, as a fresh check shows them: with every
    /// value this apply made known (a client id, an issuer).
    pub manual: Vec<Change>,
    pub findings: Vec<Finding>,
    pub elapsed: Duration,
    /// Remote calls made while executing (not while checking).
    pub execute_calls: u64,
}

impl ApplyReport {
    pub fn outcomes(&self) -> impl Iterator<Item = &Outcome> {
        self.steps.iter().flat_map(|s| &s.outcomes)
    }

    pub fn remaining(&self) -> impl Iterator<Item = &Change> {
        self.steps.iter().flat_map(|s| &s.remaining)
    }

    /// The manual steps still to do, in step order.
    pub fn manual(&self) -> impl Iterator<Item = &Change> {
        self.steps.iter().flat_map(|s| &s.manual)
    }

    pub fn succeeded(&self) -> bool {
        !self.interrupted
            && self.not_reached.is_empty()
            && self.outcomes().all(|o| o.status.is_settled())
            && self.remaining().next().is_none()
    }
}

impl<C> Runner<C> {
    pub fn new(steps: Vec<Box<dyn Step<C>>>) -> Self {
        Runner { steps }
    }

    /// Check every step, read-only. Keeps what each step observed so that an apply that follows
    /// immediately does not read everything twice.
    pub async fn plan(&self, ctx: &mut C, session: &Session) -> Result<(PlanReport, Vec<CheckedStep<C>>), Error> {
        let mut report = PlanReport { steps: Vec::new() };
        let mut observed = Vec::new();
        for step in &self.steps {
            let checked = step.check(ctx, session).await?;
            report.steps.push(StepPlan {
                step: step.name(),
                changes: checked.changes.clone(),
                findings: checked.findings.clone(),
                unchanged: checked.unchanged.clone(),
                fingerprint: checked.fingerprint.clone(),
            });
            observed.push(checked);
        }
        Ok((report, observed))
    }

    /// Execute the approved plan. `first_checks` are the checks `plan` just made; they are reused
    /// for each step until something has been written, after which a step is checked afresh
    /// because earlier steps may have produced values it needs.
    pub async fn apply(
        &self,
        ctx: &mut C,
        session: &Session,
        approved: &PlanReport,
        first_checks: Vec<CheckedStep<C>>,
    ) -> Result<ApplyReport, Error> {
        let mut report = ApplyReport { steps: Vec::new(), not_reached: Vec::new(), interrupted: false };
        let mut reusable = first_checks.into_iter();
        let mut wrote = false;
        for (index, step) in self.steps.iter().enumerate() {
            if session.is_interrupted() || !report.outcomes().all(|o| o.status.is_settled()) {
                report.interrupted |= session.is_interrupted();
                report.not_reached.extend(self.steps[index..].iter().map(|s| s.name()));
                break;
            }
            let planned = approved.step(step.name());
            let reused = reusable.next();
            let checked = match reused {
                Some(checked) if !wrote => checked,
                _ => step.check(ctx, session).await?,
            };
            if let Some(unapproved) = checked
                .changes
                .iter()
                .filter(|c| c.action.writes())
                .find(|c| !planned.is_some_and(|p| p.changes.iter().any(|a| c.is_covered_by(a))))
            {
                return Err(Error::StateChanged { step: step.name(), address: unapproved.address.to_string() });
            }
            let started = Instant::now();
            let calls_before = session.calls.total();
            let outcomes = if checked.changes.is_empty() { Vec::new() } else { checked.execute(ctx, session).await };
            let elapsed = started.elapsed();
            let execute_calls = session.calls.total() - calls_before;
            wrote |= outcomes.iter().any(|o| o.status == Status::Applied);
            let (remaining, manual, findings) = if session.is_interrupted() {
                (Vec::new(), Vec::new(), checked.findings)
            } else {
                let after = step.check(ctx, session).await?;
                let confirmed = |c: &Change| {
                    outcomes.iter().any(|o| o.address == c.address && matches!(o.status, Status::Confirmed(_)))
                };
                let (manual, writes): (Vec<Change>, Vec<Change>) = after
                    .changes
                    .into_iter()
                    .filter(|c| c.action.writes() || c.manual.is_some())
                    .partition(|c| c.manual.is_some());
                (writes, manual.into_iter().filter(|c| !confirmed(c)).collect(), after.findings)
            };
            report.interrupted |= session.is_interrupted();
            report.steps.push(StepApply {
                step: step.name(),
                outcomes,
                remaining,
                manual,
                findings,
                elapsed,
                execute_calls,
            });
        }
        Ok(report)
    }
}
