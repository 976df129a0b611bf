//! `import`: a plan written from what already exists (made by hand in a console), such that
//! `plan` right after proposes no create, update or delete. It reads with the same readers the
//! steps use, builds the typed plan (`plan::model`), writes it as commented YAML, and checks the
//! result by running the plan's own check against it before handing it over.

mod domains;
mod entra;
mod flags;
mod identity_center;
mod notes;
mod okta;
mod okta_app;
mod okta_scim;
mod report;
mod yaml;

use std::sync::Arc;

use crate::cli::{Idp, ImportArgs, Limits};
use crate::clients::aws::{Aws, DEFAULT_MAX_TPS};
use crate::clients::calls::CallCounter;
use crate::clients::settings::AwsSettings;
use crate::engine::Action;
use crate::error::Error;
use crate::exit_status::ExitStatus;
use crate::plan::model::Plan;
use crate::printer::Printer;
use notes::Notes;
use report::Trial;
use serde_json::Value;

pub async fn run(args: &ImportArgs, printer: &Printer) -> Result<ExitStatus, Error> {
    flags::check(args)?;
    if let Some(out) = &args.out
        && out.exists()
        && !args.force
    {
        return Err(Error::Precondition {
            message: format!("{} already exists", out.display()),
            hint: "pass --force to overwrite it, or choose another --out".into(),
        });
    }
    let notes = Notes::new(printer);
    let (plan, comments, app) = read(args, &notes).await?;
    let text = render(&plan, comments)?;
    let trial = trial(&text, notes.verbose()).await?;
    if !trial.writes.is_empty() {
        notes.hint(&format!("plan would still change: {}; review these in the written plan", trial.writes.join(", ")));
    }
    if let Some(out) = &args.out {
        crate::files::write_atomically(out, text.as_bytes(), 0o644)
            .map_err(|source| Error::Write { path: out.display().to_string(), source })?;
        printer.status(&format!("Wrote {}", out.display()));
        printer.status(&format!("Next: run `kiro-onboard plan {}`", out.display()));
    }
    let imported = report::Imported {
        idp: flags::idp_name(args.idp),
        out: args.out.as_ref().map(|o| o.display().to_string()),
        yaml: text.trim_end(),
        plan: &plan,
        app,
        trial: &trial,
        hints: notes.hints(),
    };
    printer.result(
        || report::document(&imported),
        || {
            if args.out.is_none() {
                printer.data(imported.yaml)
            }
        },
    );
    Ok(ExitStatus::Success)
}

/// The plan from what `--idp` holds, its comments, and the app adopted (null for Identity Center).
async fn read(args: &ImportArgs, notes: &Notes<'_>) -> Result<(Plan, yaml::Comments<'static>, Value), Error> {
    match args.idp {
        Idp::IdentityCenter => {
            let aws = load_aws(args, true).await?;
            let mut plan = identity_center::import(&aws, args, notes).await?;
            plan.domains = domains::import(&aws, &args.domains).await?;
            plan.resolvers = args.resolvers.clone();
            if let Some(key) = &args.kms_key {
                plan.kms = Some(identity_center::kms_section(key, &plan, notes).await?);
            }
            Ok((plan, identity_center::COMMENTS, Value::Null))
        }
        Idp::Entra => entra::import(args, notes).await,
        Idp::Okta => {
            let (plan, app) = okta::import(args, notes).await?;
            Ok((plan, okta::COMMENTS, app))
        }
    }
}

async fn load_aws(args: &ImportArgs, require_region: bool) -> Result<Aws, Error> {
    let settings = AwsSettings { region: None, profile: args.profile.clone() };
    Aws::load(&settings, DEFAULT_MAX_TPS, Arc::new(CallCounter::default()), require_region).await
}

const HEADER: &str = "# yaml-language-server: $schema=plan.schema.json\n#\n# Written by `kiro-onboard import` from what exists. `kiro-onboard plan` on this file proposes no\n# create, update or delete: only findings, and the Kiro console steps kiro-onboard cannot see\n# (record each under kiro.console once done).\n";

/// The plan as YAML, proven to load back as a valid plan.
fn render(plan: &Plan, comments: yaml::Comments) -> Result<String, Error> {
    let value = serde_json::to_value(plan).map_err(|e| Error::Usage(format!("the imported plan: {e}")))?;
    let text = yaml::render(HEADER, &value, comments);
    crate::plan::load::parse("imported plan", text.clone())?;
    Ok(text)
}

/// What `plan` would still do with this text, by running its check: the writes it proposes
/// (addresses) and its findings.
async fn trial(text: &str, verbose: bool) -> Result<Trial, Error> {
    let loaded = crate::plan::load::parse("imported plan", text.to_owned())?;
    let quiet = Printer::new("import", false, true, verbose as u8);
    let limits = Limits { max_tps: DEFAULT_MAX_TPS, concurrency: 8 };
    let mut prepared = super::prepare(&loaded, limits, &quiet).await?;
    let (report, _) = super::check_all(&mut prepared, &quiet).await?;
    Ok(Trial {
        writes: report
            .changes()
            .filter(|c| matches!(c.action, Action::Create | Action::Update | Action::Delete))
            .map(|c| c.address.to_string())
            .collect(),
        findings: report.findings().cloned().collect(),
    })
}

/// The writes `plan` would still propose for this text (addresses).
async fn writes_proposed(text: &str, notes: &Notes<'_>) -> Result<Vec<String>, Error> {
    Ok(trial(text, notes.verbose()).await?.writes)
}

/// Candidates in an error: sorted, at most 20 named.
pub fn candidates(mut names: Vec<String>) -> String {
    names.sort();
    names.dedup();
    let more = names.len().saturating_sub(20);
    names.truncate(20);
    let mut text = if names.is_empty() { "none".to_owned() } else { names.join(", ") };
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
}
