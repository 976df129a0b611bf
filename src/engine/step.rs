//! The step contract. A step owns one kind of remote object and nothing else: it reads the live
//! state and says what would change (`check`, read-only and complete), and makes exactly those
//! changes (`execute`). The runner, not the step, re-checks before and checks again after.
//!
//! A step implements [`TypedStep`], whose read state is a type of its own; [`Adapter`] turns any
//! of them into the [`Step`] the runner holds, binding each check's read state to the step that
//! made it, so that it can only ever be handed back to that step.
//!
//! `C` is what steps pass forward to later steps (the steps define it; the engine only hands it
//! from one step to the next, and knows nothing of what it holds).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::change::{Action, Address, Change};
use super::finding::Finding;
use super::session::Session;
use crate::error::Error;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a step saw and what it would do about it, with `read`, the step's own record of what it
/// read (for the runner: that record bound to its step, ready to execute: a [`CheckedStep`]).
pub struct Checked<R> {
    pub changes: Vec<Change>,
    pub findings: Vec<Finding>,
    /// Objects the plan names that already match (shown with `-v`).
    pub unchanged: Vec<Address>,
    /// A digest of the live state the changes were computed from: a saved plan whose fingerprint
    /// differs from a fresh one was made against another state and is refused.
    pub fingerprint: String,
    pub read: R,
}

/// A check as the runner holds it: its read state bound to the step that made it.
pub type CheckedStep<C> = Checked<Box<dyn Pending<C>>>;

impl<C> CheckedStep<C> {
    /// Make the changes: the step that made this check executes them with what it read.
    pub fn execute<'a>(&'a self, ctx: &'a mut C, session: &'a Session) -> BoxFuture<'a, Vec<Outcome>> {
        self.read.execute(ctx, &self.changes, session)
    }
}

/// The changes apply makes, and what the step read when it planned them.
pub struct ToApply<'a, R> {
    pub changes: &'a [Change],
    pub read: &'a R,
}

impl<R> ToApply<'_, R> {
    /// The same status for every change (a step that failed before it could start, a
    /// snippet-only step).
    pub fn all(&self, status: Status) -> Vec<Outcome> {
        self.changes.iter().map(|c| Outcome::new(c, status.clone())).collect()
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

/// A step as the runner holds it: any [`TypedStep`] through [`Adapter`].
pub trait Step<C>: Send + Sync {
    /// The step's name, which is also the first part of its addresses (`identity_center`).
    fn name(&self) -> &'static str;

    /// Read the live state and compute every change and finding. Must not write anything.
    fn check<'a>(&'a self, ctx: &'a mut C, session: &'a Session) -> BoxFuture<'a, Result<CheckedStep<C>, Error>>;
}

/// A step with its own type of read state, which `check` produces and `execute` gets back.
pub trait TypedStep<C>: Send + Sync + 'static {
    /// What `check` read that `execute` needs.
    type Read: Send + Sync + 'static;

    /// The step's name, which is also the first part of its addresses (`identity_center`).
    fn name(&self) -> &'static str;

    /// Read the live state and compute every change and finding. Must not write anything.
    fn check(&self, ctx: &mut C, session: &Session) -> impl Future<Output = Result<Checked<Self::Read>, Error>> + Send;

    /// Make the changes in `planned` (and nothing else). Reports an outcome for every change;
    /// a failure of one change does not hide the others.
    fn execute(
        &self,
        ctx: &mut C,
        planned: ToApply<'_, Self::Read>,
        session: &Session,
    ) -> impl Future<Output = Vec<Outcome>> + Send;
}

/// A check's read state bound to the step that made it.
pub trait Pending<C>: Send + Sync {
    fn execute<'a>(
        &'a self,
        ctx: &'a mut C,
        changes: &'a [Change],
        session: &'a Session,
    ) -> BoxFuture<'a, Vec<Outcome>>;
}

/// The one [`Step`] for every [`TypedStep`].
pub struct Adapter<S>(Arc<S>);

impl<S> Adapter<S> {
    pub fn boxed<C: Send + 'static>(step: S) -> Box<dyn Step<C>>
    where
        S: TypedStep<C>,
    {
        Box::new(Adapter(Arc::new(step)))
    }
}

struct Bound<S, R> {
    step: Arc<S>,
    read: R,
}

impl<C: Send, S: TypedStep<C, Read = R>, R: Send + Sync> Pending<C> for Bound<S, R> {
    fn execute<'a>(
        &'a self,
        ctx: &'a mut C,
        changes: &'a [Change],
        session: &'a Session,
    ) -> BoxFuture<'a, Vec<Outcome>> {
        Box::pin(self.step.execute(ctx, ToApply { changes, read: &self.read }, session))
    }
}

impl<C: Send + 'static, S: TypedStep<C>> Step<C> for Adapter<S> {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn check<'a>(&'a self, ctx: &'a mut C, session: &'a Session) -> BoxFuture<'a, Result<CheckedStep<C>, Error>> {
        Box::pin(async move {
            let Checked { changes, findings, unchanged, fingerprint, read } = self.0.check(ctx, session).await?;
            let read: Box<dyn Pending<C>> = Box::new(Bound { step: self.0.clone(), read });
            Ok(Checked { changes, findings, unchanged, fingerprint, read })
        })
    }
}
