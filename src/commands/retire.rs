//! `retire PLAN [--yes]`: the plan with every object it owns desired absent. The same steps,
//! each in its retire mode, run by the same runner as `apply`: a dry run shows what would be
//! removed (exit 2) or that nothing is left (exit 0); `--yes` removes it, and an interrupted
//! retire is finished by running it again.

use std::path::Path;

use crate::cli::Limits;
use crate::engine::{json, render, runner::Runner};
use crate::error::Error;
use crate::exit_status::ExitStatus;
use crate::printer::Printer;

/// Nothing to remove and no console step left unrecorded (`kiro.console.retired`).
const COMPLETE: &str = "Retirement complete: nothing is left in the systems kiro-onboard reaches, and every console step is recorded as done.\n";

pub struct Options {
    pub yes: bool,
    pub steps: crate::steps::RetireOptions,
    pub limits: Limits,
}

pub async fn run(path: &Path, options: Options, printer: &Printer) -> Result<ExitStatus, Error> {
    let loaded = super::load_plan(path)?;
    let mut prepared = super::prepare(&loaded, options.limits, printer).await?;
    prepared.runner = Runner::new(crate::steps::for_retire(
        &loaded,
        prepared.aws.clone(),
        prepared.session.calls.clone(),
        &options.steps,
    )?);
    let (report, checks) = super::check_all(&mut prepared, printer).await?;
    // Exit 2 means `--yes` has something to remove. Steps only a person can do (the Kiro
    // console's, a record at a DNS provider, an Okta push group) are shown, but never count.
    let removals = report.changes().any(|c| c.action.writes());

    if !options.yes {
        printer.result(
            || json::plan("retire", &loaded.file, &report, prepared.session.calls.snapshot()),
            || {
                printer.prose(&render::plan(&report, printer.verbose()));
                if report.changes().next().is_none() {
                    printer.prose(&format!("\n{COMPLETE}"));
                }
                if removals {
                    printer.hint(&format!("run `kiro-onboard retire {} --yes` to remove these", loaded.file));
                }
            },
        );
        return Ok(ExitStatus::attention_unless(!removals));
    }

    let session = prepared.session.clone();
    let watcher = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            session.interrupt();
            crate::output::warning("interrupted: finishing the calls in flight; run retire again to finish");
        }
    });
    let result = prepared.runner.apply(&mut prepared.context, &prepared.session, &report, checks).await;
    watcher.abort();
    let outcome = result?;
    printer.result(
        || {
            let mut document = json::apply(&loaded.file, &report, &outcome, prepared.session.calls.snapshot());
            document["command"] = "retire".into();
            document
        },
        || {
            if removals || !outcome.succeeded() {
                printer.prose(&render::retire(&outcome));
            } else if report.changes().next().is_none() {
                printer.prose(COMPLETE);
            } else {
                printer.prose("Nothing left to retire in the systems kiro-onboard reaches.\n\n");
                printer.prose(&render::plan(&report, printer.verbose()));
            }
        },
    );
    Ok(super::apply::exit_status(&outcome))
}
