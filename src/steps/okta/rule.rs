//! The access policy's rule that grants Kiro's scopes with the authorization code grant:
//! created, extended with what it lacks (never narrowed), or activated.

use serde_json::{Map, json};

use super::diff::{Op, Planned, Reconciled, Wanted, activation, rule_scopes};
use crate::clients::okta_model::{Include, Rule, RuleConditions};
use crate::engine::fields;
use crate::engine::{Address, Change, Finding, Severity};

pub fn reconcile_rule(wanted: &Wanted) -> Reconciled {
    match &wanted.live.rule {
        None => create_rule(wanted),
        Some(rule) => reconcile_existing_rule(wanted, rule),
    }
}

fn rule_address(wanted: &Wanted) -> Address {
    Address::new("okta.rule", &format!("{}/{}", wanted.policy_name, wanted.rule_name))
}

/// The rule as it is written: `existing` (or a new one) with the authorization code grant and
/// Kiro's scopes added.
fn rule_body(wanted: &Wanted, existing: Option<&Rule>) -> Rule {
    let mut body = existing.cloned().unwrap_or_else(|| new_rule(wanted.rule_name));
    let mut grants = body.grant_types();
    if !grants.iter().any(|g| g == "authorization_code") {
        grants.push("authorization_code".into());
    }
    let mut scopes = body.scopes();
    if !scopes.iter().any(|s| s == "*") {
        for s in rule_scopes(&wanted.kiro_scopes) {
            if !scopes.contains(&s) {
                scopes.push(s);
            }
        }
    }
    let conditions = body.conditions.get_or_insert_with(RuleConditions::default);
    conditions.grant_types = Some(Include { include: grants, rest: Map::new() });
    conditions.scopes = Some(Include { include: scopes, rest: Map::new() });
    body.rest.remove("_links");
    body
}

/// A rule for everyone in the org, with the token lifetimes of Okta's console defaults.
fn new_rule(rule_name: &str) -> Rule {
    let mut rest = Map::new();
    rest.insert("type".into(), json!("RESOURCE_ACCESS"));
    rest.insert("priority".into(), json!(1));
    rest.insert("actions".into(), json!({"token": {"accessTokenLifetimeMinutes": 60, "refreshTokenLifetimeMinutes": 0, "refreshTokenWindowMinutes": 10080}}));
    let mut conditions = Map::new();
    conditions.insert("people".into(), json!({"groups": {"include": ["EVERYONE"]}}));
    Rule {
        name: rule_name.to_owned(),
        conditions: Some(RuleConditions { rest: conditions, ..RuleConditions::default() }),
        rest,
        ..Rule::default()
    }
}

fn create_rule(wanted: &Wanted) -> Reconciled {
    let mut out = Reconciled::default();
    let (policy_name, rule_name) = (wanted.policy_name, wanted.rule_name);
    let rule_addr = rule_address(wanted);
    if wanted.existed && wanted.live.policy.is_some() {
        out.findings.push(
            Finding::new(
                "okta.missing_rule",
                Severity::Error,
                format!("the access policy \"{policy_name}\" has no rule \"{rule_name}\" granting Kiro's scopes"),
                "apply creates it",
            )
            .at(rule_addr.clone()),
        );
    }
    let change = Change::create(
        rule_addr,
        fields! {"name" => rule_name, "grant_types" => ["authorization_code"], "scopes" => rule_scopes(&wanted.kiro_scopes), "people" => "EVERYONE"},
    );
    out.planned.push(Planned { change, op: Op::CreateRule(Box::new(rule_body(wanted, None))) });
    out
}

fn reconcile_existing_rule(wanted: &Wanted, rule: &Rule) -> Reconciled {
    let mut out = Reconciled::default();
    let rule_name = wanted.rule_name;
    let rule_addr = rule_address(wanted);
    let fixed = rule_body(wanted, Some(rule));
    let (before_grants, after_grants) = (rule.grant_types(), fixed.grant_types());
    let (before_scopes, after_scopes) = (rule.scopes(), fixed.scopes());
    let grants_all = before_grants == after_grants && before_scopes == after_scopes;
    if grants_all && rule.status.as_deref() == Some("INACTIVE") {
        let message = format!("the rule \"{rule_name}\" is deactivated: Kiro cannot get its scopes");
        let policy_id = wanted.live.policy.as_ref().map(|p| p.id.as_str()).unwrap_or_default();
        let path = format!("/policies/{policy_id}/rules/{}", rule.id);
        out.add(activation(rule_addr, "okta.rule_inactive", message, path));
    } else if grants_all {
        out.unchanged.push(rule_addr);
    } else {
        let missing: Vec<&String> = after_scopes.iter().filter(|s| !before_scopes.contains(s)).collect();
        out.findings.push(
            Finding::new(
                "okta.rule_missing_scopes",
                Severity::Error,
                format!("the rule \"{rule_name}\" does not grant everything Kiro asks for"),
                "apply adds the missing scopes and grant",
            )
            .at(rule_addr.clone())
            .evidence(format!("missing scopes {missing:?}, grant types {before_grants:?}")),
        );
        let change = Change::update(
            rule_addr,
            fields! {"grant_types" => before_grants, "scopes" => before_scopes},
            fields! {"grant_types" => after_grants, "scopes" => after_scopes},
        );
        out.planned.push(Planned { change, op: Op::UpdateRule(Box::new(fixed)) });
    }
    out
}
