//! The check-then-apply engine. It knows steps, changes and findings, and nothing of AWS or of
//! how results are printed.

pub mod change;
pub mod finding;
pub mod runner;
pub mod saved;
pub mod session;
pub mod step;

pub(crate) use change::fields;
pub use change::{Action, Address, Change, Console, ManualStep};
pub use finding::{Finding, Severity};
pub use runner::{PlanReport, Runner};
pub use session::Session;
pub use step::{Adapter, Checked, CheckedStep, Outcome, Status, Step, ToApply, TypedStep};
pub mod json;
pub mod render;
pub mod review;
