//! How a run ends, as the process exit status (docs/automation.md, "Exit codes"): scripts branch
//! on these numbers, so they never change.

/// The outcome of one command, decided by the command and turned into a number only by `main`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Everything asked for holds (0).
    Success,
    /// Nothing failed, and something needs attention: changes (`plan --detailed-exitcode`),
    /// findings (`audit`), a check that does not hold (`scim check`, `dns verify`, `signin check`) (2).
    Attention,
    /// An error, or a command that could not finish (1). Usage errors too (not clap's 2).
    Failure,
    /// Stopped by Ctrl-C: 128 + SIGINT, as shells report it (130).
    Interrupted,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Attention => 2,
            ExitStatus::Interrupted => 130,
        }
    }

    /// `Success` when `holds`, else `Attention`.
    pub fn attention_unless(holds: bool) -> Self {
        if holds { ExitStatus::Success } else { ExitStatus::Attention }
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        std::process::ExitCode::from(status.code())
    }
}

#[cfg(test)]
mod tests {
    use super::ExitStatus;

    #[test]
    fn the_documented_exit_codes() {
        let codes: Vec<u8> = [ExitStatus::Success, ExitStatus::Failure, ExitStatus::Attention, ExitStatus::Interrupted]
            .into_iter()
            .map(ExitStatus::code)
            .collect();
        assert_eq!(codes, [0, 1, 2, 130]);
        assert_eq!(ExitStatus::attention_unless(true), ExitStatus::Success);
        assert_eq!(ExitStatus::attention_unless(false), ExitStatus::Attention);
    }
}
