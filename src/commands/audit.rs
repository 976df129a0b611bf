//! `audit`: read-only. Every pending change is drift and every console step not yet recorded is
//! pending, each reported as a finding next to the security findings; exits 2 when anything does
//! not hold.

use std::path::Path;

use crate::cli::Limits;
use crate::engine::{Finding, Severity, json, render};
use crate::error::Error;
use crate::exit_status::ExitStatus;
use crate::printer::Printer;

pub async fn run(path: &Path, limits: Limits, printer: &Printer) -> Result<ExitStatus, Error> {
    let loaded = super::load_plan(path)?;
    let mut prepared = super::prepare(&loaded, limits, printer).await?;
    let (mut report, _) = super::check_all(&mut prepared, printer).await?;
    for step in &mut report.steps {
        let drift: Vec<Finding> = step
            .changes
            .iter()
            .filter(|c| c.action.writes())
            .map(|c| {
                Finding::new(
                    "drift",
                    Severity::Warning,
                    format!("{} has drifted from the plan: apply would {}", c.address, action_verb(c.action)),
                    "run `kiro-onboard plan` to review the change, then `kiro-onboard apply`",
                )
                .at(c.address.clone())
            })
            .collect();
        // A console step the plan does not record as done is part of the plan that does not hold
        // yet: audit says so rather than passing.
        let pending: Vec<Finding> = step
            .changes
            .iter()
            .filter(|c| c.action == crate::engine::Action::Manual)
            .map(|c| {
                let title = c.manual.as_ref().map_or("a manual step", |m| m.title.as_str());
                let fix = match c.manual.as_ref().and_then(|m| m.record.as_deref()) {
                    Some(record) => {
                        format!("do the step (`kiro-onboard plan` shows how), then set `{record}` in the plan")
                    }
                    None => "do the step (`kiro-onboard plan` shows how), then run audit again".to_owned(),
                };
                Finding::new(
                    "manual_step_pending",
                    Severity::Warning,
                    format!("{}: not done yet ({title})", c.address),
                    fix,
                )
                .at(c.address.clone())
            })
            .collect();
        step.findings.extend(drift);
        step.findings.extend(pending);
    }
    let findings: Vec<&Finding> = report.findings().collect();
    let problems = findings.iter().filter(|f| f.is_problem()).count();
    printer.result(
        || {
            let mut value = json::plan("audit", &loaded.file, &report, prepared.session.calls.snapshot());
            value["passed"] = (problems == 0).into();
            value
        },
        || printer.prose(&verdict(&findings, problems)),
    );
    Ok(ExitStatus::attention_unless(problems == 0))
}

/// The findings, then whether the audit passed.
fn verdict(findings: &[&Finding], problems: usize) -> String {
    let mut out = String::new();
    render::findings(&mut out, findings);
    let notes = findings.len() - problems;
    if problems == 0 && notes == 0 {
        out.push_str("Audit passed: everything the plan names holds, and no findings.");
    } else if problems == 0 {
        out.push_str(&format!(
            "Audit passed: everything the plan names holds ({notes} informational finding(s) above)."
        ));
    } else {
        out.push_str(&format!("Audit: {problems} finding(s) need attention."));
    }
    out
}

fn action_verb(action: crate::engine::Action) -> &'static str {
    match action {
        crate::engine::Action::Create => "create it",
        crate::engine::Action::Update => "update it",
        crate::engine::Action::Delete => "delete it",
        crate::engine::Action::Manual => "ask for a manual step",
        crate::engine::Action::Verify => "verify it",
    }
}
