//! A finding: something wrong that is not a change the tool would make, with the evidence that
//! shows it and what to do about it.

use serde::{Deserialize, Serialize};

use super::change::Address;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Kiro will not work, or something is unsafe.
    Error,
    /// Works today, but drifts from what the plan or Kiro's guide expects.
    Warning,
    /// Worth knowing; nothing to fix.
    Info,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// A stable identifier such as `identity_center.unmanaged_member`, for docs and automation.
    pub code: String,
    pub severity: Severity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    pub fix: String,
}

impl Finding {
    pub fn new(code: &str, severity: Severity, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Finding {
            code: code.to_owned(),
            severity,
            address: None,
            message: message.into(),
            evidence: Vec::new(),
            fix: fix.into(),
        }
    }

    pub fn at(mut self, address: Address) -> Self {
        self.address = Some(address);
        self
    }

    pub fn evidence(mut self, line: impl Into<String>) -> Self {
        self.evidence.push(line.into());
        self
    }

    /// Whether this finding means something does not hold (audit exits 2 for these).
    pub fn is_problem(&self) -> bool {
        self.severity != Severity::Info
    }
}
