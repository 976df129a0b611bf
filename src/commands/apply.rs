use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use crate::cli::Limits;
use crate::engine::{json, render, saved::SavedPlan};
use crate::error::Error;
use crate::exit_status::ExitStatus;
use crate::plan::{self, load};
use crate::printer::Printer;

pub struct Options {
    pub yes: bool,
    pub limits: Limits,
}

pub async fn run(path: &Path, options: Options, printer: &Printer) -> Result<ExitStatus, Error> {
    let file = path.display().to_string();
    let bytes = load::read_plan_bytes(path, &file)?;
    let text = load::decode(&file, bytes)?;
    let saved = SavedPlan::recognise(&file, &text)?;
    let loaded = match &saved {
        Some(saved) => load::parse(&saved.plan_file, saved.plan_source.clone())?,
        None => plan::load::parse(&file, text)?,
    };

    let mut prepared = super::prepare(&loaded, options.limits, printer).await?;
    let (report, checks) = super::check_all(&mut prepared, printer).await?;
    if let Some(saved) = &saved
        && let Some(reason) = saved.staleness(&report)
    {
        return Err(Error::StalePlan { file, reason });
    }

    printer.text_only(|| printer.prose(&render::plan(&report, printer.verbose())));
    if report.has_changes() && !options.yes && saved.is_none() {
        confirm()?;
    }

    // Manual steps are confirmed one by one only when a person is there to do them.
    prepared.session.interactive = !options.yes && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let session = prepared.session.clone();
    let watcher = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            session.interrupt();
            crate::output::warning(
                "interrupted: finishing the calls in flight, starting no new ones (Ctrl-C again to stop at once)",
            );
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(ExitStatus::Interrupted.code().into());
            }
        }
    });
    let result = prepared.runner.apply(&mut prepared.context, &prepared.session, &report, checks).await;
    watcher.abort();
    let outcome = result?;

    printer.result(
        || json::apply(&loaded.file, &report, &outcome, prepared.session.calls.snapshot()),
        || {
            if report.has_changes() || !outcome.succeeded() {
                printer.prose(&render::apply(&outcome));
            }
        },
    );
    Ok(exit_status(&outcome))
}

/// How a run that writes ends: done, interrupted by Ctrl-C, or failed (something not done).
pub fn exit_status(outcome: &crate::engine::runner::ApplyReport) -> ExitStatus {
    if outcome.succeeded() {
        ExitStatus::Success
    } else if outcome.interrupted {
        ExitStatus::Interrupted
    } else {
        ExitStatus::Failure
    }
}

fn confirm() -> Result<(), Error> {
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(Error::NeedsConfirmation);
    }
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "Apply these changes? Type yes to apply them: ");
    let _ = err.flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).map_err(|_| Error::Declined)?;
    if crate::output::is_yes(&answer) { Ok(()) } else { Err(Error::Declined) }
}
