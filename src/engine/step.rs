//! The step contract. A step owns one kind of remote object and nothing else: it reads the live
//! state and says what would change (`check`, read-only and complete), and makes exactly those
//! changes (`execute`). The runner, not the step, re-checks before and checks again after.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;

use super::change::{Action, Address, Change};
use super::context::Context;
use super::finding::Finding;
use super::session::Session;
use crate::error::Error;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a step saw and what it would do about it.
pub struct Checked {
    pub changes: Vec<Change>,
    pub findings: Vec<Finding>,
    /// Objects the plan names that already match (shown with `-v`).
    pub unchanged: Vec<Address>,
    /// A digest of the live state the changes were computed from: a saved plan whose fingerprint
    /// differs from a fresh one was made against another state and is refused.
    pub fingerprint: String,
    /// The step's own record of what it read, handed back to `execute`.
    pub observed: Box<dyn Any + Send + Sync>,
}

impl Checked {
    /// The same status for every change (a step that failed before it could start, a
    /// snippet-only step).
    pub fn all(&self, status: Status) -> Vec<Outcome> {
        self.changes.iter().map(|c| Outcome::new(c, status.clone())).collect()
    }

    /// The step's own record from `check`. If the runner handed it another step's, every change
    /// fails as an internal error: never a silent "nothing was done".
    pub fn observed<T: 'static>(&self) -> Result<&T, Vec<Outcome>> {
        self.observed
            .downcast_ref::<T>()
            .ok_or_else(|| self.all(Status::Failed("internal error: the check result belongs to another step".into())))
    }
}

/// What happened to one change during apply.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub address: Address,
    pub action: Action,
    pub status: Status,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    Applied,
    /// The object already was as planned when apply reached it (e.g. a re-run after an interruption).
    AlreadyDone,
    Failed(String),
    NotAttempted(String),
    /// Done as far as the tool can go; waiting on something outside it (DNS propagation, a
    /// person's step in a console). Not a failure: the message says what to run or do next.
    Pending(String),
    /// A manual step the admin confirmed at the prompt; the message says how to record it.
    Confirmed(String),
}

impl Status {
    /// Whether this outcome leaves nothing for the tool itself to do.
    pub fn is_settled(&self) -> bool {
        matches!(self, Status::Applied | Status::AlreadyDone | Status::Pending(_) | Status::Confirmed(_))
    }
}

impl Outcome {
    pub fn new(change: &Change, status: Status) -> Self {
        Outcome { address: change.address.clone(), action: change.action, status }
    }
}

pub trait Step: Send + Sync {
    /// The step's name, which is also the first part of its addresses (`identity_center`).
    fn name(&self) -> &'static str;

    /// Read the live state and compute every change and finding. Must not write anything.
    fn check<'a>(&'a self, ctx: &'a mut Context, session: &'a Session) -> BoxFuture<'a, Result<Checked, Error>>;

    /// Make the changes in `checked` (and nothing else). Reports an outcome for every change;
    /// a failure of one change does not hide the others.
    fn execute<'a>(
        &'a self,
        ctx: &'a mut Context,
        checked: &'a Checked,
        session: &'a Session,
    ) -> BoxFuture<'a, Vec<Outcome>>;
}
