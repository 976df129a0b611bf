//! `okta.fix_settings: false`: a setup made in Okta's console is left as it is. Every change that
//! would fix a setting of what exists (the app's settings, Kiro's scopes, the access policy and
//! its rule) is held back and reported as a finding instead, so that `plan` on an imported setup
//! proposes no write while still saying what breaks Kiro's requirements.

use super::diff::{Op, Planned, Reconciled};
use crate::engine::{Finding, Severity};

pub const HINT: &str = "set okta.fix_settings: true (or remove it) to let apply fix this";

/// Whether executing `op` changes a setting of the Kiro app, a scope, the policy or the rule.
fn fixes_a_setting(op: &Op) -> bool {
    matches!(
        op,
        Op::UpdateApp(_)
            | Op::CreateScope(_)
            | Op::CreatePolicy(_)
            | Op::UpdatePolicy(_)
            | Op::CreateRule(_)
            | Op::UpdateRule(_)
            | Op::Activate(_)
    )
}

/// Drops the fixing changes from `out`; the findings that promised what apply would do now say
/// how to let it, and a change no finding explained gets one of its own.
pub fn hold(out: &mut Reconciled) {
    let (held, kept): (Vec<Planned>, Vec<Planned>) =
        std::mem::take(&mut out.planned).into_iter().partition(|p| fixes_a_setting(&p.op));
    out.planned = kept;
    for planned in held {
        let address = &planned.change.address;
        let mut explained = false;
        for finding in out.findings.iter_mut().filter(|f| f.address.as_ref() == Some(address)) {
            if finding.fix.starts_with("apply ") {
                finding.fix = HINT.into();
                explained = true;
            }
        }
        if !explained {
            let action = serde_json::to_value(planned.change.action).unwrap_or_default();
            out.findings.push(
                Finding::new(
                    "okta.setting_not_fixed",
                    Severity::Error,
                    format!(
                        "{address} does not meet Kiro's requirements (apply would {} it)",
                        action.as_str().unwrap_or("change")
                    ),
                    HINT,
                )
                .at(address.clone()),
            );
        }
    }
}
