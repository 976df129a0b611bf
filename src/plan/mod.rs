//! The plan file: its model, loading, checks and secret references.

pub mod diagnostic;
pub mod load;
pub mod model;
pub mod record;
pub mod schema;
mod structure;
pub mod tree;
pub mod validate;
mod validate_offboarding;

// Domain-name rules and secret references are the plan's vocabulary but not its own: the DNS
// client and `scim check` use them too, so they live in `shared` and keep their plan paths here.
pub use crate::shared::{domain, secret};

pub use diagnostic::Diagnostics;
pub use load::{LoadedPlan, load};
pub use model::Plan;
