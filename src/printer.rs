//! The printer each command is handed: the global `--quiet` and `--verbose`, and the
//! subcommand's `--json`, decided once. It is the one place that chooses text or a JSON document
//! for a command's result and for its error, so `--json` always yields one JSON document on
//! stdout. The writing itself (streams, colour) is `output`'s.

use serde_json::Value;

use crate::engine::json;
use crate::error::Error;
use crate::exit_status::ExitStatus;
use crate::output::{self, Progress};

#[derive(Debug, Clone, Copy)]
pub struct Printer {
    /// The subcommand as the JSON documents name it (`"dns verify"`).
    command: &'static str,
    json: bool,
    quiet: bool,
    verbose: u8,
}

impl Printer {
    pub fn new(command: &'static str, json: bool, quiet: bool, verbose: u8) -> Self {
        Printer { command, json, quiet, verbose }
    }

    /// Whether `--json` was given (`kms policy` prints its policy compact then).
    pub fn json(&self) -> bool {
        self.json
    }

    /// `-v`: show unchanged objects and retries too.
    pub fn verbose(&self) -> bool {
        self.verbose > 0
    }

    /// For commands whose `--json` promises only the document: no status lines or hints on
    /// stderr either (`kms policy --json` is "only the JSON", `scim check`, `signin check`).
    pub fn without_notes_in_json(self) -> Self {
        Printer { quiet: self.quiet || self.json, ..self }
    }

    /// A status line on stderr, unless `--quiet`.
    pub fn status(&self, text: &str) {
        output::status(self.quiet, text);
    }

    /// What to do next, on stderr, unless `--quiet`; with `--json` the document says it.
    pub fn hint(&self, text: &str) {
        output::status(self.quiet || self.json, &output::hint_line(text));
    }

    /// Data on stdout, shown even with `--quiet`.
    pub fn data(&self, text: &str) {
        output::data(text);
    }

    /// Data that is prose for people (a plan, a verdict): wrapped at the terminal's width. Data
    /// other tools read (a policy, a script, a page) goes through `data`, whole.
    pub fn prose(&self, text: &str) {
        output::data(&output::wrapped(true, text));
    }

    pub fn progress(&self) -> Progress {
        Progress::new(self.quiet)
    }

    /// The command's result: its JSON document with `--json`, else what `text` prints.
    pub fn result(&self, document: impl FnOnce() -> Value, text: impl FnOnce()) {
        if self.json {
            self.document(&document());
        } else {
            text();
        }
    }

    /// What only the text form shows before the result (with `--json` the document holds it).
    pub fn text_only(&self, text: impl FnOnce()) {
        if !self.json {
            text();
        }
    }

    /// A JSON document on stdout, pretty-printed.
    fn document(&self, value: &Value) {
        output::data(&serde_json::to_string_pretty(value).unwrap_or_default());
    }

    /// Runs `command` with this printer and reports how it ended: an error is said on stderr
    /// (with its hint), and with `--json` also as the error document on stdout.
    pub fn run(&self, command: impl FnOnce(&Printer) -> Result<ExitStatus, Error>) -> ExitStatus {
        match command(self) {
            Ok(status) => status,
            Err(error) => {
                self.report(&error);
                ExitStatus::Failure
            }
        }
    }

    fn report(&self, error: &Error) {
        if self.json {
            let diagnostics = match error {
                Error::PlanInvalid(d) => serde_json::to_value(&d.items).ok(),
                _ => None,
            };
            self.document(&json::error(self.command, &error.to_string(), error.hint().as_deref(), diagnostics));
        }
        match error {
            Error::PlanInvalid(diagnostics) => eprintln!("{}", diagnostics.render()),
            _ => output::error(&error.to_string(), error.hint().as_deref()),
        }
    }
}

/// The error document for arguments clap refused, when they asked for `--json` (clap has
/// printed the error itself on stderr).
pub fn usage_error_document(command: &str, error: &clap::Error) {
    let rendered = error.render().to_string();
    let message = rendered.lines().next().unwrap_or_default().trim_start_matches("error: ");
    let hint = format!("see `kiro-onboard {command} --help`");
    output::data(&serde_json::to_string_pretty(&json::error(command, message, Some(&hint), None)).unwrap_or_default());
}
