use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use crate::cli::Limits;
use crate::engine::{json, render, saved::SavedPlan};
use crate::error::Error;
use crate::plan::{self, load};

pub struct Options {
    pub yes: bool,
    pub json: bool,
    pub limits: Limits,
    pub verbose: bool,
    pub quiet: bool,
}

/// Exit status of an apply that was interrupted with Ctrl-C (128 + SIGINT).
pub const INTERRUPTED: i32 = 130;

pub async fn run(path: &Path, options: Options) -> Result<i32, Error> {
    let file = path.display().to_string();
    let bytes = load::read_plan_bytes(path, &file)?;
    let text = load::decode(&file, bytes)?;
    let saved = SavedPlan::recognise(&file, &text)?;
    let loaded = match &saved {
        Some(saved) => load::parse(&saved.plan_file, saved.plan_source.clone())?,
        None => plan::load::parse(&file, text)?,
    };

    let mut prepared = super::prepare(&loaded, options.limits, options.quiet).await?;
    let (report, checks) = super::check_all(&mut prepared, options.quiet).await?;
    if let Some(saved) = &saved
        && let Some(reason) = saved.staleness(&report)
    {
        return Err(Error::StalePlan { file, reason });
    }

    if !options.json {
        crate::output::data(&render::plan(&report, options.verbose));
    }
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
                std::process::exit(INTERRUPTED);
            }
        }
    });
    let result = prepared.runner.apply(&mut prepared.context, &prepared.session, &report, checks).await;
    watcher.abort();
    let outcome = result?;

    if options.json {
        super::print_json(&json::apply(&loaded.file, &report, &outcome, prepared.session.calls.snapshot()));
    } else if report.has_changes() || !outcome.succeeded() {
        crate::output::data(&render::apply(&outcome));
    }
    Ok(if outcome.succeeded() {
        0
    } else if outcome.interrupted {
        INTERRUPTED
    } else {
        1
    })
}

fn confirm() -> Result<(), Error> {
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(Error::NeedsConfirmation);
    }
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "Apply these changes? Only 'yes' is accepted: ");
    let _ = err.flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).map_err(|_| Error::Declined)?;
    if answer.trim() == "yes" { Ok(()) } else { Err(Error::Declined) }
}
