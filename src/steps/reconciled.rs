//! What reconciling one kind of remote object yields. Each step's diff is one reconcile function
//! per kind of object it owns, composed in the order apply makes the changes.

use crate::engine::{Address, Finding};

/// The changes to make (each as the step plans it: `P`), the findings, and the objects that
/// already match.
pub struct Reconciled<P> {
    pub planned: Vec<P>,
    pub findings: Vec<Finding>,
    pub unchanged: Vec<Address>,
}

impl<P> Default for Reconciled<P> {
    fn default() -> Self {
        Reconciled { planned: Vec::new(), findings: Vec::new(), unchanged: Vec::new() }
    }
}

impl<P> Reconciled<P> {
    /// `other` after what is here, keeping the order of each list.
    pub fn add(&mut self, other: Reconciled<P>) {
        self.planned.extend(other.planned);
        self.findings.extend(other.findings);
        self.unchanged.extend(other.unchanged);
    }
}
