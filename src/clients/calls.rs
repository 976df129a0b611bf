//! The clients' name for the call counter, which lives in `shared` because the engine's session
//! holds it too.

pub use crate::shared::calls::CallCounter;
