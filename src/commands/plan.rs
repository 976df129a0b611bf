use std::path::{Path, PathBuf};

use crate::cli::Limits;
use crate::engine::{json, render, saved::SavedPlan};
use crate::error::Error;
use crate::plan;

pub struct Options {
    pub json: bool,
    pub detailed_exitcode: bool,
    pub out: Option<PathBuf>,
    pub checklist: Option<PathBuf>,
    pub limits: Limits,
    pub verbose: bool,
    pub quiet: bool,
}

pub async fn run(path: &Path, options: Options) -> Result<i32, Error> {
    let loaded = plan::load(path)?;
    let mut prepared = super::prepare(&loaded, options.limits, options.quiet).await?;
    let (report, _) = super::check_all(&mut prepared, options.quiet).await?;

    if let Some(out) = &options.out {
        let saved = SavedPlan::new(&loaded.file, &loaded.source, &report);
        let text = serde_json::to_string_pretty(&saved).unwrap_or_default();
        crate::files::write_atomically(out, (text + "\n").as_bytes(), 0o644)
            .map_err(|source| Error::Write { path: out.display().to_string(), source })?;
        crate::output::status(
            options.quiet,
            &format!("Saved the plan to {}; apply it with `kiro-onboard apply {}`", out.display(), out.display()),
        );
    }

    if let Some(path) = &options.checklist {
        crate::files::write_atomically(path, render::checklist(&report, &loaded.file).as_bytes(), 0o644)
            .map_err(|source| Error::Write { path: path.display().to_string(), source })?;
        let count = report.changes().filter(|c| c.manual.is_some()).count();
        crate::output::status(options.quiet, &format!("Wrote {count} manual step(s) to {}", path.display()));
    }

    if options.json {
        super::print_json(&json::plan("plan", &loaded.file, &report, prepared.session.calls.snapshot()));
    } else {
        crate::output::data(&render::plan(&report, options.verbose));
    }
    Ok(if options.detailed_exitcode && report.has_changes() { 2 } else { 0 })
}
