//! A saved plan (`plan --out FILE`): the reviewed plan file's text, the changes that were shown,
//! and a fingerprint of the live state each step saw. `apply FILE` refuses it when the live state
//! has moved on. It never holds a secret: plans only reference secrets, changes redact them.

use serde::{Deserialize, Serialize};

use super::change::Change;
use super::finding::Finding;
use super::runner::PlanReport;
use crate::error::Error;

pub const KIND: &str = "kiro-onboard-saved-plan";
pub const FORMAT_VERSION: &str = "1";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format_version: String,
    pub kind: String,
    pub tool_version: String,
    /// Seconds since the Unix epoch when the plan was made.
    pub created_unix: u64,
    pub plan_file: String,
    pub plan_source: String,
    pub steps: Vec<SavedStep>,
    /// What the plan was made against, for a reviewer (`show`): `kiro_profile_region`,
    /// `aws_account`, `aws_region`, `entra_tenant`, `okta_org`… Added in 1.x; older files lack it.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub planned_against: std::collections::BTreeMap<String, String>,
    /// The findings the plan showed. Added in 1.x; older files lack them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedStep {
    pub step: String,
    pub fingerprint: String,
    pub changes: Vec<Change>,
}

impl SavedPlan {
    pub fn new(plan_file: &str, plan_source: &str, report: &PlanReport) -> Self {
        SavedPlan {
            format_version: FORMAT_VERSION.to_owned(),
            kind: KIND.to_owned(),
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            created_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            plan_file: plan_file.to_owned(),
            plan_source: plan_source.to_owned(),
            steps: report
                .steps
                .iter()
                .map(|s| SavedStep {
                    step: s.step.to_owned(),
                    fingerprint: s.fingerprint.clone(),
                    changes: s.changes.clone(),
                })
                .collect(),
            planned_against: Default::default(),
            findings: report.findings().cloned().collect(),
        }
    }

    /// With what the plan was made against (the commands know the plan and the live facts).
    pub fn against(mut self, facts: std::collections::BTreeMap<String, String>) -> Self {
        self.planned_against = facts;
        self
    }

    /// Every change, in the order the plan showed them.
    pub fn changes(&self) -> impl Iterator<Item = &Change> {
        self.steps.iter().flat_map(|s| &s.changes)
    }

    /// Reads `text` as a saved plan if it is one; `Ok(None)` means it is something else (a plan file).
    pub fn recognise(file: &str, text: &str) -> Result<Option<SavedPlan>, Error> {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
            return Ok(None);
        };
        if value.get("kind").and_then(|k| k.as_str()) != Some(KIND) {
            return Ok(None);
        }
        let version = value.get("format_version").and_then(|v| v.as_str()).unwrap_or("");
        if version != FORMAT_VERSION {
            return Err(Error::SavedPlanUnreadable {
                file: file.to_owned(),
                reason: format!("it has format_version {version:?}; this kiro-onboard reads {FORMAT_VERSION:?}"),
            });
        }
        serde_json::from_value(value)
            .map(Some)
            .map_err(|e| Error::SavedPlanUnreadable { file: file.to_owned(), reason: e.to_string() })
    }

    /// The first way in which the live state (`fresh`) differs from what this plan saw.
    pub fn staleness(&self, fresh: &PlanReport) -> Option<String> {
        for saved in &self.steps {
            let Some(now) = fresh.step(&saved.step) else {
                return Some(format!("step `{}` is no longer part of the plan", saved.step));
            };
            if now.fingerprint != saved.fingerprint || now.changes != saved.changes {
                let differing = now
                    .changes
                    .iter()
                    .find(|c| !saved.changes.contains(c))
                    .or_else(|| saved.changes.iter().find(|c| !now.changes.contains(c)))
                    .map(|c| format!(" (first difference: {})", c.address))
                    .unwrap_or_default();
                return Some(format!("the live state of `{}` changed since the plan was saved{differing}", saved.step));
            }
        }
        fresh
            .steps
            .iter()
            .find(|s| !self.steps.iter().any(|saved| saved.step == s.step))
            .map(|s| format!("step `{}` was not part of the saved plan", s.step))
    }
}
