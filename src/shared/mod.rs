//! What several parts need and none of them owns: domain-name rules, resolver addresses, AWS Region
//! names, secret references and the call counter. It uses nothing of `plan`, `engine`, `clients`, `steps` or
//! `commands`, so every part may use it without an arrow pointing the wrong way
//! (docs/architecture.md).

pub mod calls;
pub mod domain;
pub mod endpoint;
pub mod regions;
pub mod resolver;
pub mod secret;
pub mod words;
pub mod wrap;
