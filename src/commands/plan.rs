use std::path::{Path, PathBuf};

use crate::cli::Limits;
use crate::engine::{json, render, saved::SavedPlan};
use crate::error::Error;
use crate::exit_status::ExitStatus;
use crate::printer::Printer;

pub struct Options {
    pub detailed_exitcode: bool,
    pub out: Option<PathBuf>,
    pub checklist: Option<PathBuf>,
    pub limits: Limits,
}

pub async fn run(path: &Path, options: Options, printer: &Printer) -> Result<ExitStatus, Error> {
    let loaded = super::load_plan(path)?;
    let mut prepared = super::prepare(&loaded, options.limits, printer).await?;
    let (report, _) = super::check_all(&mut prepared, printer).await?;

    if let Some(out) = &options.out {
        let saved = SavedPlan::new(&loaded.file, &loaded.source, &report)
            .against(super::show::planned_against(&loaded, &prepared.context));
        let text = serde_json::to_string_pretty(&saved).unwrap_or_default();
        crate::files::write_atomically(out, (text + "\n").as_bytes(), 0o644)
            .map_err(|source| Error::Write { path: out.display().to_string(), source })?;
        printer.status(&format!(
            "Saved the plan to {}; review it with `kiro-onboard show {}`, apply it with `kiro-onboard apply {}`",
            out.display(),
            out.display(),
            out.display()
        ));
    }

    if let Some(path) = &options.checklist {
        crate::files::write_atomically(path, render::checklist(&report, &loaded.file).as_bytes(), 0o644)
            .map_err(|source| Error::Write { path: path.display().to_string(), source })?;
        let count = report.changes().filter(|c| c.manual.is_some()).count();
        printer.status(&format!("Wrote {count} manual step(s) to {}", path.display()));
    }

    printer.result(
        || json::plan("plan", &loaded.file, &report, prepared.session.calls.snapshot()),
        || printer.prose(&render::plan(&report, printer.verbose())),
    );
    Ok(ExitStatus::attention_unless(!(options.detailed_exitcode && report.has_changes())))
}
