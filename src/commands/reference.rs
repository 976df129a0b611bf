//! `man` and `completions`: the command line's own manual page and shell completions, generated
//! from its clap definitions so they cannot drift from it.

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::Error;
use crate::exit_status::ExitStatus;
use crate::printer::Printer;

/// The manual page (roff).
pub fn man(printer: &Printer) -> Result<ExitStatus, Error> {
    let mut buffer = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut buffer)
        .map_err(|source| Error::Write { path: "standard output".into(), source })?;
    printer.data(&String::from_utf8_lossy(&buffer));
    Ok(ExitStatus::Success)
}

/// The completion script for `shell`.
pub fn completions(shell: clap_complete::Shell, printer: &Printer) -> Result<ExitStatus, Error> {
    let mut buffer = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "kiro-onboard", &mut buffer);
    printer.data(&String::from_utf8_lossy(&buffer));
    Ok(ExitStatus::Success)
}
