//! Kiro's scopes on the authorization server: each created when missing (never changed or
//! removed: other apps may use a scope of the same name).

use serde_json::json;

use super::diff::{Op, Planned, Reconciled, Wanted};
use crate::engine::fields;
use crate::engine::{Address, Change, Finding, Severity};

pub fn reconcile_scopes(wanted: &Wanted) -> Reconciled {
    let mut out = Reconciled::default();
    let server_name = &wanted.server_name;
    for scope in &wanted.kiro_scopes {
        let address = Address::new("okta.scope", scope);
        if wanted.live.scopes.iter().any(|s| &s.name == scope) {
            out.unchanged.push(address);
            continue;
        }
        if wanted.existed {
            out.findings.push(
                Finding::new(
                    "okta.missing_scope",
                    Severity::Error,
                    format!("the authorization server \"{server_name}\" has no scope {scope}: Kiro's sign-in fails with invalid_scope"),
                    "apply creates it",
                )
                .at(address.clone()),
            );
        }
        let body = json!({"name": scope, "description": format!("Kiro {scope}"), "consent": "IMPLICIT", "metadataPublish": "ALL_CLIENTS", "default": false});
        let change = Change::create(
            address,
            fields! {"name" => scope, "authorization_server" => server_name, "consent" => "IMPLICIT"},
        );
        out.planned.push(Planned { change, op: Op::CreateScope(body) });
    }
    out
}
