//! The plan file: its model, loading, checks and secret references.

pub mod diagnostic;
pub mod domain;
pub mod load;
pub mod model;
pub mod record;
pub mod schema;
pub mod secret;
mod structure;
pub mod tree;
pub mod validate;

pub use diagnostic::Diagnostics;
pub use load::{LoadedPlan, load};
pub use model::Plan;
