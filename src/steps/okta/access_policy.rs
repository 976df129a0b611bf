//! The access policy on the authorization server that lets the Kiro client get tokens: created,
//! extended with the Kiro client, or activated.

use serde_json::json;

use super::diff::{Op, Planned, Reconciled, Wanted, activation};
use crate::clients::okta_model::Policy;
use crate::engine::change::KNOWN_AFTER_APPLY;
use crate::engine::fields;
use crate::engine::{Address, Change, Finding, Severity};

pub fn policy_address(policy_name: &str) -> Address {
    Address::new("okta.policy", policy_name)
}

pub fn reconcile_access_policy(wanted: &Wanted) -> Reconciled {
    match &wanted.live.policy {
        None => create_policy(wanted),
        Some(policy) => reconcile_existing_policy(wanted, policy),
    }
}

/// The client id the policy must name, or `(known after apply)` before the app exists.
fn client_value(wanted: &Wanted) -> String {
    wanted.client_id.clone().unwrap_or_else(|| KNOWN_AFTER_APPLY.into())
}

fn create_policy(wanted: &Wanted) -> Reconciled {
    let mut out = Reconciled::default();
    let (policy_name, server_name) = (wanted.policy_name, &wanted.server_name);
    let policy_addr = policy_address(policy_name);
    if wanted.existed {
        out.findings.push(
            Finding::new(
                "okta.missing_policy",
                Severity::Error,
                format!("no access policy \"{policy_name}\" lets the Kiro app get tokens from \"{server_name}\""),
                "apply creates it",
            )
            .at(policy_addr.clone()),
        );
    }
    let body = json!({"type": "OAUTH_AUTHORIZATION_POLICY", "status": "ACTIVE", "name": policy_name, "description": "Kiro clients (managed by kiro-onboard)", "priority": 1, "conditions": {"clients": {"include": []}}});
    let mut change = Change::create(policy_addr, fields! {"name" => policy_name, "clients" => [client_value(wanted)]});
    if wanted.client_id.is_none() {
        change = change.unknown_after("clients");
    }
    out.planned.push(Planned { change, op: Op::CreatePolicy(body) });
    out
}

fn reconcile_existing_policy(wanted: &Wanted, policy: &Policy) -> Reconciled {
    let mut out = Reconciled::default();
    let policy_name = wanted.policy_name;
    let policy_addr = policy_address(policy_name);
    let clients = policy.clients();
    // A duplicate Kiro app this apply deletes must leave the policy too: Okta refuses a policy
    // that names a client id it no longer has ("Invalid client id(s)", E0000001).
    let duplicates: Vec<String> = wanted.live.duplicates.iter().filter_map(|app| app.client_id()).collect();
    let kept: Vec<String> = clients.iter().filter(|c| !duplicates.contains(c)).cloned().collect();
    let covered = kept.iter().any(|c| c == "ALL_CLIENTS" || Some(c) == wanted.client_id.as_ref());
    if !covered || kept.len() != clients.len() {
        if wanted.existed {
            out.findings.push(
                Finding::new(
                    "okta.policy_excludes_app",
                    Severity::Error,
                    format!("the access policy \"{policy_name}\" does not cover the Kiro app"),
                    "apply adds the app's client id",
                )
                .at(policy_addr.clone())
                .evidence(format!("clients {clients:?}")),
            );
        }
        let mut wanted_clients = kept.clone();
        if !covered {
            wanted_clients.push(client_value(wanted));
        }
        let mut change =
            Change::update(policy_addr, fields! {"clients" => clients}, fields! {"clients" => wanted_clients});
        if wanted.client_id.is_none() {
            change = change.unknown_after("clients");
        }
        // The body names the clients kept; execute adds the Kiro client once its id is known.
        let mut body = policy.clone();
        if let Some(include) = body.conditions.as_mut().and_then(|c| c.clients.as_mut()) {
            include.include = kept;
        }
        out.planned.push(Planned { change, op: Op::UpdatePolicy(Box::new(body)) });
    } else if policy.status.as_deref() == Some("INACTIVE") {
        let message = format!("the access policy \"{policy_name}\" is deactivated: Kiro cannot get tokens");
        out.add(activation(policy_addr, "okta.policy_inactive", message, format!("/policies/{}", policy.id)));
    } else {
        out.unchanged.push(policy_addr);
    }
    out
}
