//! The `--json` documents: one JSON value per command, with a `format_version`. Minor versions
//! only add fields; a new major version may change them.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use super::change::Change;
use super::finding::Finding;
use super::runner::{ApplyReport, PlanReport, summarize};
use super::step::Status;

pub const FORMAT_VERSION: &str = "1";

pub fn plan(command: &str, plan_file: &str, report: &PlanReport, calls: BTreeMap<String, u64>) -> Value {
    let changes: Vec<&Change> = report.changes().collect();
    let findings: Vec<&Finding> = report.findings().collect();
    json!({
        "format_version": FORMAT_VERSION,
        "command": command,
        "plan_file": plan_file,
        "changes": changes,
        "findings": findings,
        "summary": summary_with_findings(report.summary(), &findings),
        "remote_calls": calls,
    })
}

fn summary_with_findings(summary: impl Serialize, findings: &[&Finding]) -> Value {
    let mut value = serde_json::to_value(summary).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.insert("findings".into(), findings.len().into());
    }
    value
}

pub fn apply(plan_file: &str, planned: &PlanReport, report: &ApplyReport, calls: BTreeMap<String, u64>) -> Value {
    let execute_calls: u64 = report.steps.iter().map(|s| s.execute_calls).sum();
    let mut counts: BTreeMap<&str, usize> =
        ["applied", "already_done", "failed", "not_attempted", "pending", "confirmed"]
            .into_iter()
            .map(|k| (k, 0))
            .collect();
    let results: Vec<Value> = report
        .outcomes()
        .map(|o| {
            let (status, error) = match &o.status {
                Status::Applied => ("applied", None),
                Status::AlreadyDone => ("already_done", None),
                Status::Failed(e) => ("failed", Some(e.clone())),
                Status::NotAttempted(e) => ("not_attempted", Some(e.clone())),
                Status::Pending(next) => ("pending", Some(next.clone())),
                Status::Confirmed(note) => ("confirmed", Some(note.clone())),
            };
            *counts.entry(status).or_default() += 1;
            let mut value = json!({"address": o.address, "action": o.action, "status": status});
            if let Some(error) = error {
                value["error"] = error.into();
            }
            value
        })
        .collect();
    let remaining: Vec<&Change> = report.remaining().collect();
    let findings: Vec<&Finding> = report.steps.iter().flat_map(|s| &s.findings).collect();
    let execute_seconds: f64 = report.steps.iter().map(|s| s.elapsed.as_secs_f64()).sum();
    json!({
        "format_version": FORMAT_VERSION,
        "command": "apply",
        "plan_file": plan_file,
        "changes": planned.changes().collect::<Vec<_>>(),
        "results": results,
        "remaining": remaining,
        "manual_steps": report.manual().collect::<Vec<_>>(),
        "findings": findings,
        "summary": {
            "planned": summarize(planned.changes()),
            "applied": counts["applied"],
            "already_done": counts["already_done"],
            "failed": counts["failed"],
            "not_attempted": counts["not_attempted"],
            "pending": counts["pending"],
            "confirmed": counts["confirmed"],
            "remaining": remaining.len(),
            "findings": findings.len(),
        },
        "succeeded": report.succeeded(),
        "interrupted": report.interrupted,
        "not_reached": report.not_reached,
        "remote_calls": calls,
        "execution": {
            "seconds": execute_seconds,
            "remote_calls": execute_calls,
            "steps": report.steps.iter().map(|s| json!({"step": s.step, "seconds": s.elapsed.as_secs_f64(), "remote_calls": s.execute_calls})).collect::<Vec<_>>(),
        },
    })
}

pub fn error(command: &str, message: &str, hint: Option<&str>, diagnostics: Option<Value>) -> Value {
    let mut value = json!({
        "format_version": FORMAT_VERSION,
        "command": command,
        "error": {"message": message, "hint": hint},
    });
    if let Some(diagnostics) = diagnostics {
        value["diagnostics"] = diagnostics;
    }
    value
}
