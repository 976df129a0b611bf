//! What PutKeyPolicy would refuse in the policy as it is now, found before anything is written.
//!
//! AWS knowledge center, "kms-policy-error-invalid-principals"
//! (https://repost.aws/knowledge-center/kms-policy-error-invalid-principals): when an IAM role or
//! user named in a key policy is deleted, the policy shows its unique id (`AROA…` for a role,
//! `AIDA…` for a user) instead of its ARN, and PutKeyPolicy then fails with
//! MalformedPolicyDocumentException ("Policy contains a statement with one or more invalid
//! principals") for the whole document, ours included. IAM JSON policy reference, "Sid": Sids
//! must be unique within a policy; KMS refuses a document with a duplicate Sid.

use std::collections::BTreeMap;

use serde_json::Value;

use super::statements::{sid, statements_of};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
    pub fix: String,
}

/// Every reason the current policy would be refused, in statement order.
pub fn refusals(policy: &Value) -> Vec<Refusal> {
    let statements = statements_of(policy);
    let mut out = Vec::new();
    for (index, statement) in statements.iter().enumerate() {
        let label =
            sid(statement).map(|s| format!("statement \"{s}\"")).unwrap_or_else(|| format!("statement #{}", index + 1));
        for id in unique_id_principals(statement) {
            let kind = if id.starts_with("AROA") { "role" } else { "user" };
            out.push(Refusal {
                code: "kms.orphaned_principal",
                message: format!(
                    "{label} names the principal {id}, the unique id KMS shows for a deleted IAM {kind}; PutKeyPolicy refuses the whole policy while it is there"
                ),
                fix: format!(
                    "in the KMS console (key policy → Edit), remove {id} from {label} or replace it with the ARN of an existing {kind}, then run kiro-onboard again"
                ),
            });
        }
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for statement in &statements {
        if let Some(s) = sid(statement).filter(|s| !s.is_empty()) {
            *counts.entry(s).or_default() += 1;
        }
    }
    for (s, count) in counts.into_iter().filter(|(_, n)| *n > 1) {
        out.push(Refusal {
            code: "kms.duplicate_sid",
            message: format!("{count} statements of the key policy share the Sid \"{s}\"; PutKeyPolicy refuses a policy whose Sids are not unique"),
            fix: format!("in the KMS console (key policy → Edit), rename or merge the statements with Sid \"{s}\", then run kiro-onboard again"),
        });
    }
    out
}

/// `AROA…` / `AIDA…` values in a statement's `Principal.AWS` (a string or a list).
fn unique_id_principals(statement: &Value) -> Vec<String> {
    let values = match statement.get("Principal").and_then(|p| p.get("AWS")) {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    values.into_iter().filter(|v| is_unique_id(v)).collect()
}

/// IAM unique ids: a four-letter prefix and 17 upper-case letters or digits (IAM user guide,
/// "IAM identifiers", unique id prefixes AROA = role, AIDA = user).
fn is_unique_id(value: &str) -> bool {
    (value.starts_with("AROA") || value.starts_with("AIDA"))
        && value.len() >= 16
        && value.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::refusals;

    #[test]
    fn orphaned_principals_and_duplicate_sids_are_found() {
        let policy = json!({"Statement": [
            {"Sid": "A", "Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:root", "AROAEXAMPLE1234567890"]}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "B", "Effect": "Allow", "Principal": {"AWS": "AIDAEXAMPLE1234567890"}, "Action": "kms:Decrypt", "Resource": "*"},
            {"Sid": "B", "Effect": "Allow", "Principal": {"Service": "q.amazonaws.com"}, "Action": "kms:Decrypt", "Resource": "*"}
        ]});
        let found = refusals(&policy);
        let codes: Vec<&str> = found.iter().map(|r| r.code).collect();
        assert_eq!(codes, ["kms.orphaned_principal", "kms.orphaned_principal", "kms.duplicate_sid"]);
        assert!(found[0].message.contains("AROAEXAMPLE1234567890") && found[0].message.contains("role"));
        assert!(found[1].message.contains("user"));
        assert!(
            refusals(&json!({"Statement": [{"Sid": "X", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}}]}))
                .is_empty()
        );
    }
}
