//! Human rendering of plans, findings and apply results, in the spirit of `terraform plan`:
//! `+` create, `~` update, `-` delete, `!` manual, `?` verify. Readable without colour.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::change::{Action, Change, KNOWN_AFTER_APPLY};
use super::finding::{Finding, Severity};
use super::runner::{ApplyReport, PlanReport, Summary};
use super::step::Status;
use crate::output::{BOLD, CYAN, DIM, GREEN, RED, YELLOW, paint};

fn symbol(action: Action) -> String {
    match action {
        Action::Create => paint(GREEN, "+"),
        Action::Update => paint(YELLOW, "~"),
        Action::Delete => paint(RED, "-"),
        Action::Manual => paint(CYAN, "!"),
        Action::Verify => paint(CYAN, "?"),
    }
}

fn show(value: &Value) -> String {
    value.to_string()
}

pub fn change(out: &mut String, change: &Change) {
    let _ = writeln!(out, "  {} {}", symbol(change.action), paint(BOLD, change.address.as_str()));
    if let Some(reason) = &change.reason {
        let _ = writeln!(out, "      {}", paint(DIM, format!("# {reason}")));
    }
    let empty = Map::new();
    let before = change.before.as_ref().unwrap_or(&empty);
    let after = change.after.as_ref().unwrap_or(&empty);
    let mut keys: Vec<&String> = after.keys().collect();
    keys.extend(before.keys().filter(|k| !after.contains_key(*k)));
    keys.extend(change.after_unknown.iter().filter(|k| !after.contains_key(*k) && !before.contains_key(*k)));
    let width = keys.iter().map(|k| k.len()).max().unwrap_or(0);
    for key in keys {
        let line = match change.action {
            Action::Create | Action::Manual | Action::Verify => {
                let value = after.get(key).map(show).unwrap_or_else(|| KNOWN_AFTER_APPLY.into());
                format!("{} {key:width$} = {value}", symbol(Action::Create))
            }
            Action::Delete => {
                format!("{} {key:width$} = {}", symbol(Action::Delete), before.get(key).map(show).unwrap_or_default())
            }
            Action::Update => {
                let old = before.get(key).map(show).unwrap_or_else(|| "null".into());
                let new = after.get(key).map(show).unwrap_or_else(|| KNOWN_AFTER_APPLY.into());
                format!("{} {key:width$} = {old} -> {new}", symbol(Action::Update))
            }
        };
        let _ = writeln!(out, "      {line}");
    }
    out.push('\n');
}

pub fn findings(out: &mut String, findings: &[&Finding]) {
    if findings.is_empty() {
        return;
    }
    let _ = writeln!(out, "{}\n", paint(BOLD, "Findings:"));
    for finding in findings {
        let label = match finding.severity {
            Severity::Error => paint(RED.bold(), "error"),
            Severity::Warning => paint(YELLOW.bold(), "warning"),
            Severity::Info => paint(CYAN, "info"),
        };
        let _ = writeln!(out, "  {label}[{}]: {}", finding.code, finding.message);
        if let Some(address) = &finding.address {
            let _ = writeln!(out, "    at: {address}");
        }
        for evidence in &finding.evidence {
            let _ = writeln!(out, "    evidence: {evidence}");
        }
        let _ = writeln!(out, "    fix: {}\n", finding.fix);
    }
}

pub fn summary_line(summary: &Summary) -> String {
    let mut line = format!(
        "Plan: {} to create, {} to update, {} to delete, {} manual.",
        summary.create, summary.update, summary.delete, summary.manual
    );
    if summary.verify > 0 {
        let _ = write!(line, " {} to verify.", summary.verify);
    }
    line
}

pub fn plan(report: &PlanReport, verbose: bool) -> String {
    let mut out = String::new();
    if report.has_changes() {
        let _ = writeln!(out, "kiro-onboard will make these changes:\n");
        for c in report.changes() {
            change(&mut out, c);
        }
    } else {
        let _ = writeln!(out, "No changes: everything the plan names matches the live state.\n");
    }
    if verbose {
        for step in &report.steps {
            for address in &step.unchanged {
                let _ = writeln!(out, "  {} {address} {}", paint(DIM, "="), paint(DIM, "(no changes)"));
            }
        }
        if report.steps.iter().any(|s| !s.unchanged.is_empty()) {
            out.push('\n');
        }
    }
    findings(&mut out, &report.findings().collect::<Vec<_>>());
    out.push_str(&summary_line(&report.summary()));
    out
}

pub fn apply(report: &ApplyReport) -> String {
    let mut out = String::new();
    let (mut applied, mut already, mut failed, mut skipped, mut pending) = (0, 0, 0, 0, 0);
    for outcome in report.outcomes() {
        match &outcome.status {
            Status::Applied => applied += 1,
            Status::AlreadyDone => already += 1,
            Status::Failed(reason) => {
                failed += 1;
                let _ = writeln!(out, "  {} {}: {}", paint(RED.bold(), "failed"), outcome.address, reason);
            }
            Status::Pending(next) => {
                pending += 1;
                let _ = writeln!(out, "  {} {}: {}", paint(CYAN.bold(), "pending"), outcome.address, next);
            }
            Status::NotAttempted(reason) => {
                skipped += 1;
                let _ = writeln!(out, "  {} {}: {}", paint(YELLOW, "not done"), outcome.address, reason);
            }
        }
    }
    for remaining in report.remaining() {
        let _ =
            writeln!(out, "  {} {}: still differs after apply", paint(RED.bold(), "not converged"), remaining.address);
    }
    for step in &report.not_reached {
        let _ = writeln!(out, "  {} step {step} was not started", paint(YELLOW, "not done"));
    }
    if pending > 0 {
        let _ = writeln!(out, "  {pending} change(s) wait on something outside kiro-onboard: see `pending` above");
    }
    if !out.is_empty() {
        out.push('\n');
    }
    let findings_list: Vec<&Finding> = report.steps.iter().flat_map(|s| &s.findings).collect();
    findings(&mut out, &findings_list);
    let verdict = if report.interrupted {
        paint(YELLOW.bold(), "Apply interrupted")
    } else if report.succeeded() {
        paint(GREEN.bold(), "Apply complete")
    } else {
        paint(RED.bold(), "Apply failed")
    };
    let _ =
        write!(out, "{verdict}: {applied} applied, {already} already in place, {failed} failed, {skipped} not done.");
    if report.interrupted || !report.succeeded() {
        let _ = write!(out, "\nRun apply again to finish: it reads the live state first and does only what is left.");
    }
    out
}
