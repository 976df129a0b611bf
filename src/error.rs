//! The one error type. Every variant says what went wrong in the admin's terms; `hint` says what
//! to do next. Every error ends the run with `ExitStatus::Failure` (1); the printer reports it.

use crate::plan::Diagnostics;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("could not read {path}: {source}")]
    PlanRead { path: String, source: std::io::Error },

    /// Rendered on its own: every problem with its line, column and hint.
    #[error("{} has {} problem(s)", .0.file, .0.items.len())]
    PlanInvalid(Diagnostics),

    #[error("{file} is not a saved plan this kiro-onboard can read: {reason}")]
    SavedPlanUnreadable { file: String, reason: String },

    #[error("the saved plan {file} is stale: {reason}")]
    StalePlan { file: String, reason: String },

    #[error(
        "the live state of `{step}` changed during apply: {address} was not in the approved plan; nothing more was changed"
    )]
    StateChanged { step: &'static str, address: String },

    /// A call to a remote system failed after retries.
    #[error("{service} {operation} failed: {message}")]
    Remote { service: String, operation: String, message: String, hint: Option<String>, reason: Option<RemoteReason> },

    /// The remote systems are not in a shape the plan can work with.
    #[error("{message}")]
    Precondition { message: String, hint: String },

    #[error("apply needs confirmation, and there is no terminal to ask on")]
    NeedsConfirmation,

    #[error("apply cancelled; nothing was changed")]
    Declined,

    #[error("could not write {path}: {source}")]
    Write { path: String, source: std::io::Error },

    #[error("{0}")]
    Usage(String),

    #[error("could not start the async runtime: {0}")]
    Runtime(std::io::Error),
}

impl Error {
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::PlanRead { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                Some("check the path, or write a starter plan with `kiro-onboard init --idp identity-center`".into())
            }
            Error::SavedPlanUnreadable { .. } => Some(
                "give the file `kiro-onboard plan PLAN --out FILE` wrote, unedited, or make it again with that command"
                    .into(),
            ),
            Error::StalePlan { .. } => {
                Some("run `kiro-onboard plan PLAN --out FILE` again, review it, and apply the new file".into())
            }
            Error::StateChanged { .. } => {
                Some("someone else is changing the same objects; run `kiro-onboard plan` again and review it".into())
            }
            Error::Remote { hint, .. } => hint.clone(),
            Error::Precondition { hint, .. } => Some(hint.clone()),
            Error::NeedsConfirmation => Some("review the plan, then run apply again with --yes".into()),
            _ => None,
        }
    }
}

/// Why a remote system refused a call, where a caller acts on the reason (not only shows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteReason {
    /// Identity Store refused with `AccessDeniedException` reason `KMS_ACCESS_DENIED`: the caller
    /// may not use the customer managed key Identity Center encrypts with.
    KmsAccessDenied,
}
