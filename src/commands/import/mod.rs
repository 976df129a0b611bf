//! `import`: a plan written from what already exists (made by hand in a console), such that
//! `plan` right after proposes no create, update or delete. It reads with the same readers the
//! steps use, builds the typed plan (`plan::model`), writes it as commented YAML, and checks the
//! result by running the plan's own check against it before handing it over.

mod domains;
mod entra;
mod flags;
mod identity_center;
mod okta;
mod okta_app;
mod okta_scim;
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
    let (plan, comments) = match args.idp {
        Idp::IdentityCenter => {
            let aws = load_aws(args, true).await?;
            let mut plan = identity_center::import(&aws, args, printer).await?;
            plan.domains = domains::import(&aws, &args.domains).await?;
            plan.resolvers = args.resolvers.clone();
            if let Some(key) = &args.kms_key {
                plan.kms = Some(identity_center::kms_section(key, &plan, printer).await?);
            }
            (plan, identity_center::COMMENTS)
        }
        Idp::Entra => entra::import(args, printer).await?,
        Idp::Okta => (okta::import(args, printer).await?, okta::COMMENTS),
    };
    let text = render(&plan, comments)?;
    let remaining = writes_proposed(&text, printer).await?;
    if !remaining.is_empty() {
        printer.hint(&format!("plan would still change: {}; review these in the written plan", remaining.join(", ")));
    }
    match &args.out {
        Some(out) => {
            crate::files::write_atomically(out, text.as_bytes(), 0o644)
                .map_err(|source| Error::Write { path: out.display().to_string(), source })?;
            printer.status(&format!("Wrote {}", out.display()));
            printer.status(&format!("Next: run `kiro-onboard plan {}`", out.display()));
        }
        None => printer.data(text.trim_end()),
    }
    Ok(ExitStatus::Success)
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

/// The writes `plan` would still propose for this text (addresses), by running its check.
async fn writes_proposed(text: &str, printer: &Printer) -> Result<Vec<String>, Error> {
    let loaded = crate::plan::load::parse("imported plan", text.to_owned())?;
    let quiet = Printer::new("import", false, true, printer.verbose() as u8);
    let limits = Limits { max_tps: DEFAULT_MAX_TPS, concurrency: 8 };
    let mut prepared = super::prepare(&loaded, limits, &quiet).await?;
    let (report, _) = super::check_all(&mut prepared, &quiet).await?;
    Ok(report
        .changes()
        .filter(|c| matches!(c.action, Action::Create | Action::Update | Action::Delete))
        .map(|c| c.address.to_string())
        .collect())
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
