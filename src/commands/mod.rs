//! One function per subcommand: arguments and a printer in, an exit status or an error out.

pub mod apply;
pub mod audit;
pub mod console_done;
pub mod dns_verify;
pub mod import;
pub mod init;
pub mod kms_policy;
pub mod login;
pub mod plan;
pub mod reference;
pub mod retire;
pub mod schema;
pub mod scim_check;
pub mod show;
pub mod signin_check;
pub mod validate;

use std::sync::Arc;

use crate::cli::Limits;
use crate::clients::aws::Aws;
use crate::engine::{PlanReport, Session};
use crate::error::Error;
use crate::plan::LoadedPlan;
use crate::printer::Printer;
use crate::steps::{self, Context, Runner};

/// Everything a remote command needs: the steps for this plan, and the session they share.
pub struct Prepared {
    /// The AWS access the steps use, for commands that read beyond them (`signin check`).
    pub aws: Option<Arc<Aws>>,
    pub runner: Runner,
    pub session: Session,
    pub context: Context,
}

pub async fn prepare(plan: &LoadedPlan, limits: Limits, printer: &Printer) -> Result<Prepared, Error> {
    // Before anything is contacted or run: a plan may not run programs unless allowed from outside.
    crate::plan::load::refuse_commands(plan)?;
    if !(limits.max_tps.is_finite() && limits.max_tps > 0.0) {
        return Err(Error::Usage("--max-tps must be a positive number".into()));
    }
    let session = Session::new(printer.progress(), limits.concurrency);
    let aws = if steps::needs_aws(plan) {
        Some(Arc::new(
            Aws::load(&(&plan.plan.aws).into(), limits.max_tps, session.calls.clone(), steps::needs_region(plan))
                .await?,
        ))
    } else {
        None
    };
    Ok(Prepared {
        runner: Runner::new(steps::for_plan(plan, aws.clone(), session.calls.clone())?),
        aws,
        session,
        context: Context::default(),
    })
}

/// Loads a plan file. A plan saved by `plan --out`, given where a plan file belongs, is named as
/// one, with the commands that read it (rather than as a plan file missing `version`).
pub fn load_plan(path: &std::path::Path) -> Result<LoadedPlan, Error> {
    crate::plan::load(path).map_err(|error| {
        let file = path.display().to_string();
        let saved = crate::plan::load::read_plan_bytes(path, &file)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .is_some_and(|text| !matches!(crate::engine::saved::SavedPlan::recognise(&file, &text), Ok(None)));
        if !saved {
            return error;
        }
        Error::Precondition {
            message: format!("{file} is a plan saved by `kiro-onboard plan --out`, not a plan file"),
            hint: format!(
                "review it with `kiro-onboard show {file}` (--format markdown for a pull request comment), apply exactly it with `kiro-onboard apply {file}`, or give the YAML plan file it was made from"
            ),
        }
    })
}

/// Reads the live state for every step (shared by plan, apply and audit).
pub async fn check_all(
    prepared: &mut Prepared,
    printer: &Printer,
) -> Result<(PlanReport, Vec<crate::steps::CheckedStep>), Error> {
    printer.status("Reading the live state…");
    let result = prepared.runner.plan(&mut prepared.context, &prepared.session).await?;
    if let Some(idc) = &prepared.context.identity_center {
        printer.status(&format!(
            "identity_center: instance {} (identity store {}) in {}",
            idc.instance_arn, idc.identity_store_id, idc.region
        ));
    }
    Ok(result)
}
