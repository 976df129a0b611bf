//! A change: one thing `apply` would do to one remote object, with a stable address and the
//! fields it changes before and after.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A stable name for a remote object, such as `identity_center.user["jdoe"]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Address(String);

impl Address {
    /// `kind` is `step.type`, e.g. `identity_center.user`; `key` is the object's name in the plan.
    pub fn new(kind: &str, key: &str) -> Self {
        let escaped = key.replace('\\', "\\\\").replace('"', "\\\"");
        Address(format!("{kind}[\"{escaped}\"]"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Delete,
    /// A step only a person can do (e.g. in the Kiro console), with filled-in instructions.
    Manual,
    /// A condition to check, such as a DNS record resolving.
    Verify,
}

impl Action {
    /// Whether `apply` changes a remote system for this action.
    pub fn writes(self) -> bool {
        matches!(self, Action::Create | Action::Update | Action::Delete)
    }
}

/// Shown in place of a value that is only known once apply has run.
pub const KNOWN_AFTER_APPLY: &str = "(known after apply)";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub address: Address,
    pub action: Action,
    /// The fields as they are now (absent for a create). For an update, only the fields that change.
    pub before: Option<Map<String, Value>>,
    /// The fields as they will be (absent for a delete). For an update, only the fields that change.
    pub after: Option<Map<String, Value>>,
    /// Fields of `after` whose value is only known once apply has run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after_unknown: Vec<String>,
    /// Why this change is proposed, when the action alone does not say (e.g. `prune_members: true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For a `manual` change: what a person does, where, and how the plan records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual: Option<ManualStep>,
}

/// The console a manual step is done in. Decided once, where the step is made; every message
/// about the step (the prompt, the pending note) names this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Console {
    /// The Kiro console, and its sign-up pages in the AWS console.
    Kiro,
    IamIdentityCenter,
    /// The Microsoft Entra admin center (entra.microsoft.com).
    EntraAdminCenter,
    OktaAdmin,
    /// Whatever console the DNS provider that serves the domain has.
    DnsProvider,
}

impl Console {
    /// As a sentence names it: "do this in the Kiro console".
    pub fn name(self) -> &'static str {
        match self {
            Console::Kiro => "the Kiro console",
            Console::IamIdentityCenter => "the IAM Identity Center console",
            Console::EntraAdminCenter => "the Microsoft Entra admin center",
            Console::OktaAdmin => "the Okta admin console",
            Console::DnsProvider => "your DNS provider's console",
        }
    }
}

/// A step only a person can do. The values to paste are the change's `after`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManualStep {
    pub title: String,
    pub console: Console,
    /// Where in that console.
    #[serde(rename = "where")]
    pub location: String,
    pub instructions: Vec<String>,
    /// The plan line that records the step as done, when kiro-onboard cannot observe it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// What kiro-onboard checks afterwards (or that it cannot).
    pub verify: String,
    /// How long the vendor says the effect can take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<String>,
    /// Changes that must be done first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<Address>,
    /// The IAM actions the vendor documents for doing this step (an admin without one of them
    /// learns it here, not from a console error).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<String>,
}

impl Change {
    pub fn create(address: Address, after: Map<String, Value>) -> Self {
        Change {
            address,
            action: Action::Create,
            before: None,
            after: Some(after),
            after_unknown: Vec::new(),
            reason: None,
            manual: None,
        }
    }

    pub fn update(address: Address, before: Map<String, Value>, after: Map<String, Value>) -> Self {
        Change {
            address,
            action: Action::Update,
            before: Some(before),
            after: Some(after),
            after_unknown: Vec::new(),
            reason: None,
            manual: None,
        }
    }

    pub fn delete(address: Address, before: Map<String, Value>) -> Self {
        Change {
            address,
            action: Action::Delete,
            before: Some(before),
            after: None,
            after_unknown: Vec::new(),
            reason: None,
            manual: None,
        }
    }

    pub fn manual(address: Address, values: Map<String, Value>, step: ManualStep) -> Self {
        Change {
            address,
            action: Action::Manual,
            before: None,
            after: Some(values),
            after_unknown: Vec::new(),
            reason: None,
            manual: Some(step),
        }
    }

    /// The fields a change shows, in order: `after`'s, then those only in `before`, then those
    /// only known after apply.
    pub fn field_names(&self) -> Vec<&String> {
        let after = self.after.as_ref();
        let before = self.before.as_ref();
        let in_after = |k: &String| after.is_some_and(|a| a.contains_key(k));
        let in_before = |k: &String| before.is_some_and(|b| b.contains_key(k));
        let mut keys: Vec<&String> = after.map(|a| a.keys().collect()).unwrap_or_default();
        keys.extend(before.into_iter().flat_map(|b| b.keys()).filter(|k| !in_after(k)));
        keys.extend(self.after_unknown.iter().filter(|k| !in_after(k) && !in_before(k)));
        keys
    }

    pub fn unknown_after(mut self, field: &str) -> Self {
        self.after_unknown.push(field.to_owned());
        self
    }

    pub fn because(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Whether `self`, computed now, is the change that `approved` promised: same object, same
    /// action, and the same values wherever the approved plan knew them.
    pub fn is_covered_by(&self, approved: &Change) -> bool {
        if self.address != approved.address || self.action != approved.action || self.before != approved.before {
            return false;
        }
        match (&self.after, &approved.after) {
            (None, None) => true,
            (Some(now), Some(then)) => {
                now.iter()
                    .all(|(k, v)| then.get(k).map(|t| t == v).unwrap_or_else(|| approved.after_unknown.contains(k)))
                    && then.keys().all(|k| now.contains_key(k))
            }
            _ => false,
        }
    }
}

/// Builds the field map of a change in the order fields are written.
macro_rules! fields {
    ($($key:expr => $value:expr),* $(,)?) => {{
        #[allow(unused_mut)]
        let mut map = serde_json::Map::new();
        $( map.insert($key.to_string(), serde_json::json!($value)); )*
        map
    }};
}
pub(crate) use fields;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_quote_their_key() {
        assert_eq!(Address::new("identity_center.user", "jdoe").as_str(), r#"identity_center.user["jdoe"]"#);
        assert_eq!(Address::new("kms.statement", r#"a "b""#).as_str(), r#"kms.statement["a \"b\""]"#);
    }

    #[test]
    fn a_known_value_covers_an_unknown_one() {
        let approved = Change::create(Address::new("x.y", "a"), fields! {"name" => "a"}).unknown_after("id");
        let now = Change::create(Address::new("x.y", "a"), fields! {"name" => "a", "id" => "123"});
        assert!(now.is_covered_by(&approved));
        let different = Change::create(Address::new("x.y", "a"), fields! {"name" => "b"});
        assert!(!different.is_covered_by(&approved));
    }
}
