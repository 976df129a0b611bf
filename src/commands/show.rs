//! `show SAVED`: a saved plan (`plan --out`) rendered for a reviewer, offline: what it was planned
//! against, the counts, one row per change (secrets masked), the findings and the manual steps
//! with their values. `--format markdown` is for a pull request comment or a change ticket.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use crate::engine::saved::SavedPlan;
use crate::engine::{Change, Finding, json as documents, render, review, runner::summarize};
use crate::error::Error;
use crate::exit_status::ExitStatus;
use crate::plan::LoadedPlan;
use crate::printer::Printer;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Markdown,
    Json,
}

pub fn run(path: &Path, format: Format, printer: &Printer) -> Result<ExitStatus, Error> {
    let saved = read(path)?;
    let file = path.display().to_string();
    let changes: Vec<Change> = saved.changes().map(review::masked).collect();
    match format {
        Format::Json => printer.result(|| document(&file, &saved, &changes), || {}),
        Format::Markdown => printer.data(&review::markdown(&saved, &changes)),
        Format::Text => printer.data(&text(&saved, &changes)),
    }
    Ok(ExitStatus::Success)
}

/// The saved plan in `path`; anything else is an error that says what the file is instead.
fn read(path: &Path) -> Result<SavedPlan, Error> {
    let file = path.display().to_string();
    let bytes = crate::plan::load::read_plan_bytes(path, &file)?;
    let text = crate::plan::load::decode(&file, bytes)?;
    match SavedPlan::recognise(&file, &text)? {
        Some(saved) => Ok(saved),
        None => Err(Error::SavedPlanUnreadable {
            file: file.clone(),
            reason: match serde_json::from_str::<Value>(&text) {
                Err(e) => format!("it is not JSON ({e})"),
                Ok(_) => "it is JSON but not a saved plan (its `kind` is not `kiro-onboard-saved-plan`)".into(),
            },
        }),
    }
}

/// What a plan is made against, for `plan --out`: the plan's own targets and the facts the
/// steps learned (the AWS account, the Entra tenant id).
pub fn planned_against(loaded: &LoadedPlan, context: &crate::steps::Context) -> BTreeMap<String, String> {
    let plan = &loaded.plan;
    let mut facts = BTreeMap::new();
    facts.insert("kiro_profile_region".to_owned(), plan.kiro.profile_region.clone());
    if let Some(idc) = &context.identity_center {
        facts.insert("aws_region".to_owned(), idc.region.clone());
        if let Some(account) = &idc.owner_account {
            facts.insert("aws_account".to_owned(), account.clone());
        }
    } else if let Some(region) = &plan.aws.region {
        facts.insert("aws_region".to_owned(), region.clone());
    }
    if let Some(profile) = &plan.aws.profile {
        facts.insert("aws_profile".to_owned(), profile.clone());
    }
    if let Some(entra) = &plan.entra {
        facts.insert("entra_tenant".to_owned(), entra.tenant.clone());
        if let Some(id) = context.entra.as_ref().and_then(|e| e.tenant_id.clone()) {
            facts.insert("entra_tenant_id".to_owned(), id);
        }
    }
    if let Some(okta) = &plan.okta {
        facts.insert("okta_org".to_owned(), okta.org_url.clone());
    }
    facts
}

fn document(file: &str, saved: &SavedPlan, changes: &[Change]) -> Value {
    let manual: Vec<&Change> = changes.iter().filter(|c| c.manual.is_some()).collect();
    json!({
        "format_version": documents::FORMAT_VERSION,
        "command": "show",
        "saved_plan": file,
        "plan_file": saved.plan_file,
        "created_unix": saved.created_unix,
        "created": review::utc(saved.created_unix),
        "tool_version": saved.tool_version,
        "planned_against": saved.planned_against,
        "summary": summarize(changes.iter()),
        "changes": changes,
        "findings": saved.findings,
        "manual_steps": manual,
    })
}

fn text(saved: &SavedPlan, changes: &[Change]) -> String {
    let mut out = format!(
        "Saved plan of {}, made {} by kiro-onboard {}.\n",
        saved.plan_file,
        review::utc(saved.created_unix),
        saved.tool_version
    );
    for (key, value) in &saved.planned_against {
        out.push_str(&format!("  {}: {value}\n", review::label(key)));
    }
    out.push('\n');
    if changes.is_empty() {
        out.push_str("No changes: everything the plan names matched the live state.\n\n");
    }
    for change in changes {
        render::change(&mut out, change);
    }
    let findings: Vec<&Finding> = saved.findings.iter().collect();
    render::findings(&mut out, &findings);
    out.push_str(&render::summary_line(&summarize(changes.iter())));
    out
}
