//! `retire` of the key policy: Kiro's statements, found by their Sids, planned for removal;
//! every other statement is kept (it is not the plan's).

use serde_json::Value;

use super::statement_address;
use super::statements::{sid, statements_of};
use crate::engine::{Action, Change};
use crate::plan::model::KmsManage;
use crate::steps::reconciled::Reconciled;

/// A delete for each of Kiro's statements the policy holds, with the statement as it is.
pub fn removals(policy: &Value, kiro: &[Value], manage: KmsManage, key_arn: &str) -> Reconciled<(Change, Value)> {
    let mut out = Reconciled::default();
    for live in statements_of(policy) {
        let Some(live_sid) = sid(&live) else { continue };
        if !kiro.iter().any(|k| sid(k) == Some(live_sid)) {
            continue;
        }
        let mut change = Change::delete(statement_address(live_sid), live.as_object().cloned().unwrap_or_default());
        if manage == KmsManage::Snippet {
            change = Change { action: Action::Manual, ..change }
                .because(format!("manage: snippet — remove this statement from the key policy of {key_arn} yourself"));
        }
        out.planned.push((change, live));
    }
    out
}
