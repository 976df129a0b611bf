//! Compares what Okta holds with what Kiro needs: the changes to make, the op that makes each, and
//! the findings (things that are wrong even if the tool can fix them, or that it must not touch).

use serde_json::{Map, Value, json};

use super::read::Live;
use crate::engine::change::KNOWN_AFTER_APPLY;
use crate::engine::{Address, Change, Finding, Severity};
use crate::fields;
use crate::plan::model::Okta as OktaPlan;
use crate::requirements::Requirements;
use crate::steps::set_path;

/// What executing one change does.
#[derive(Debug, Clone)]
pub enum Op {
    CreateApp(Value),
    /// PUT the whole app back with these settings fixed.
    UpdateApp(Value),
    CreateScope(Value),
    CreatePolicy(Value),
    /// PUT the policy with the Kiro client added.
    UpdatePolicy(Value),
    CreateRule(Value),
    UpdateRule(Value),
    AssignGroup(String),
    UnassignGroup(String),
    /// `POST {authorization server}{path}/lifecycle/activate`.
    Activate(String),
    /// Assign a group to the SCIM provisioning app: `PUT /api/v1/apps/{app}/groups/{group}`.
    AssignProvisioningGroup {
        app_id: String,
        group_id: String,
    },
    /// Push a group to Kiro: `POST /api/v1/apps/{app}/group-push/mappings` with this body.
    CreatePushMapping {
        app_id: String,
        body: Value,
    },
}

pub struct Planned {
    pub change: Change,
    pub op: Op,
}

pub fn app_address(label: &str) -> Address {
    Address::new("okta.application", label)
}

/// Kiro's scopes this plan creates and grants: `okta.kiro_scopes` (Kiro's own, in Kiro's order),
/// or all of them.
pub fn kiro_scopes(plan: &OktaPlan, req: &Requirements) -> Vec<String> {
    match &plan.kiro_scopes {
        Some(chosen) => req.scopes.iter().filter(|s| chosen.contains(s)).cloned().collect(),
        None => req.scopes.clone(),
    }
}

/// The scopes Kiro's client asks for on the rule: OIDC, refresh tokens, and Kiro's own.
pub fn rule_scopes(kiro_scopes: &[String]) -> Vec<String> {
    let mut scopes: Vec<String> =
        ["openid", "profile", "email", "offline_access"].iter().map(|s| (*s).to_owned()).collect();
    scopes.extend(kiro_scopes.iter().cloned());
    scopes
}

fn strings(value: &Value) -> Vec<String> {
    value.as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

pub fn app_body(plan: &OktaPlan, req: &Requirements) -> Value {
    json!({
        "name": "oidc_client",
        "label": plan.app_label,
        "signOnMode": "OPENID_CONNECT",
        "credentials": {"oauthClient": {"token_endpoint_auth_method": "none", "pkce_required": true, "autoKeyRotation": true}},
        "settings": {"oauthClient": {
            "application_type": "native",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "redirect_uris": req.okta.redirect_uris,
            "consent_method": "TRUSTED",
            "wildcard_redirect": "DISABLED"
        }}
    })
}

pub struct Diff {
    pub planned: Vec<Planned>,
    pub findings: Vec<Finding>,
    pub unchanged: Vec<Address>,
}

pub fn diff(plan: &OktaPlan, req: &Requirements, live: &Live, policy_name: &str, rule_name: &str) -> Diff {
    let mut planned = Vec::new();
    let mut findings = Vec::new();
    let mut unchanged = Vec::new();
    let app_addr = app_address(&plan.app_label);
    let client_id = live
        .app
        .as_ref()
        .and_then(|a| a["credentials"]["oauthClient"]["client_id"].as_str().or(a["id"].as_str()))
        .map(str::to_owned);
    let existed = live.app.is_some();

    // The app.
    match &live.app {
        None => {
            let change = Change::create(
                app_addr.clone(),
                fields! {
                    "label" => plan.app_label,
                    "application_type" => "native",
                    "grant_types" => ["authorization_code", "refresh_token"],
                    "redirect_uris" => req.okta.redirect_uris,
                    "token_endpoint_auth_method" => "none",
                    "pkce_required" => true,
                    "client_id" => KNOWN_AFTER_APPLY,
                },
            )
            .unknown_after("client_id");
            planned.push(Planned { change, op: Op::CreateApp(app_body(plan, req)) });
        }
        Some(app) => {
            let settings = &app["settings"]["oauthClient"];
            let creds = &app["credentials"]["oauthClient"];
            let mut before = Map::new();
            let mut after = Map::new();
            let mut fixed = app.clone();
            if app["signOnMode"].as_str() != Some("OPENID_CONNECT")
                || settings["application_type"].as_str() != Some("native")
            {
                findings.push(
                    Finding::new(
                        "okta.app_not_native_oidc",
                        Severity::Error,
                        format!("the app \"{}\" is not an OIDC native application", plan.app_label),
                        "Kiro signs in as a public native client: rename this app and let kiro-onboard create the Kiro app, or set okta.app_label",
                    )
                    .at(app_addr.clone())
                    .evidence(format!("signOnMode {}, application_type {}", app["signOnMode"], settings["application_type"])),
                );
            } else {
                let uris = strings(&settings["redirect_uris"]);
                let missing: Vec<&String> = req.okta.redirect_uris.iter().filter(|u| !uris.contains(u)).collect();
                let extra: Vec<&String> = uris.iter().filter(|u| !req.okta.redirect_uris.contains(u)).collect();
                if !extra.is_empty() {
                    let mut finding = Finding::new(
                        "okta.extra_redirect_uris",
                        Severity::Warning,
                        format!("the app \"{}\" accepts {} redirect URI(s) beyond Kiro's", plan.app_label, extra.len()),
                        if plan.prune.redirect_uris {
                            "apply removes them (okta.prune.redirect_uris is on)"
                        } else {
                            "remove them in Okta, or set okta.prune.redirect_uris: true and apply"
                        },
                    )
                    .at(app_addr.clone());
                    for uri in &extra {
                        finding = finding.evidence(uri.to_string());
                    }
                    findings.push(finding);
                }
                if !missing.is_empty() || (plan.prune.redirect_uris && !extra.is_empty()) {
                    let mut wanted: Vec<String> = if plan.prune.redirect_uris {
                        Vec::new()
                    } else {
                        extra.iter().map(|s| s.to_string()).collect()
                    };
                    wanted.splice(0..0, req.okta.redirect_uris.iter().cloned());
                    before.insert("redirect_uris".into(), json!(uris));
                    after.insert("redirect_uris".into(), json!(wanted));
                    set_path(&mut fixed, &["settings", "oauthClient", "redirect_uris"], json!(wanted));
                    if !missing.is_empty() {
                        let mut finding = Finding::new(
                            "okta.missing_redirect_uris",
                            Severity::Error,
                            format!(
                                "the app \"{}\" lacks {} of Kiro's redirect URIs: sign-in from those callbacks fails",
                                plan.app_label,
                                missing.len()
                            ),
                            "apply adds them",
                        )
                        .at(app_addr.clone());
                        for uri in &missing {
                            finding = finding.evidence(uri.to_string());
                        }
                        findings.push(finding);
                    }
                }
                let grants = strings(&settings["grant_types"]);
                if !grants.iter().any(|g| g == "refresh_token") || !grants.iter().any(|g| g == "authorization_code") {
                    findings.push(
                        Finding::new(
                            "okta.refresh_token_off",
                            Severity::Error,
                            format!("the app \"{}\" does not allow the authorization code and refresh token grants: Kiro users would have to sign in again every hour", plan.app_label),
                            "apply turns them on",
                        )
                        .at(app_addr.clone())
                        .evidence(format!("grant_types {grants:?}")),
                    );
                    let mut wanted = grants.clone();
                    for g in ["authorization_code", "refresh_token"] {
                        if !wanted.iter().any(|w| w == g) {
                            wanted.push(g.into());
                        }
                    }
                    before.insert("grant_types".into(), json!(grants));
                    after.insert("grant_types".into(), json!(wanted));
                    set_path(&mut fixed, &["settings", "oauthClient", "grant_types"], json!(wanted));
                    set_path(&mut fixed, &["settings", "oauthClient", "response_types"], json!(["code"]));
                }
                let method = creds["token_endpoint_auth_method"].as_str().unwrap_or("client_secret_basic");
                let pkce = creds["pkce_required"].as_bool().unwrap_or(false);
                if method != "none" {
                    findings.push(
                        Finding::new(
                            "okta.client_secret",
                            Severity::Error,
                            format!(
                                "the app \"{}\" authenticates with {method}: Kiro's client has no secret",
                                plan.app_label
                            ),
                            "apply sets it to a public client (none) with PKCE",
                        )
                        .at(app_addr.clone()),
                    );
                    before.insert("token_endpoint_auth_method".into(), json!(method));
                    after.insert("token_endpoint_auth_method".into(), json!("none"));
                }
                if !pkce {
                    findings.push(
                        Finding::new(
                            "okta.pkce_off",
                            Severity::Error,
                            format!("the app \"{}\" does not require PKCE", plan.app_label),
                            "apply turns PKCE on (Kiro's client always sends it)",
                        )
                        .at(app_addr.clone()),
                    );
                    before.insert("pkce_required".into(), json!(false));
                    after.insert("pkce_required".into(), json!(true));
                }
                if method != "none" || !pkce {
                    // PUT reverts the auth method unless credentials.oauthClient is sent in full.
                    let mut oauth = creds.clone();
                    set_path(&mut oauth, &["token_endpoint_auth_method"], json!("none"));
                    set_path(&mut oauth, &["pkce_required"], json!(true));
                    if let Some(o) = oauth.as_object_mut() {
                        o.remove("client_secret");
                    }
                    set_path(&mut fixed, &["credentials", "oauthClient"], oauth);
                }
                if app["status"].as_str() == Some("INACTIVE") {
                    findings.push(
                        Finding::new(
                            "okta.app_inactive",
                            Severity::Error,
                            format!("the app \"{}\" is deactivated: nobody can sign in to Kiro", plan.app_label),
                            "apply activates it",
                        )
                        .at(app_addr.clone()),
                    );
                    before.insert("status".into(), json!("INACTIVE"));
                    after.insert("status".into(), json!("ACTIVE"));
                }
                if after.is_empty() {
                    unchanged.push(app_addr.clone());
                } else {
                    if let Some(o) = fixed.as_object_mut() {
                        o.remove("_links");
                        o.remove("_embedded");
                    }
                    planned.push(Planned {
                        change: Change::update(app_addr.clone(), before, after),
                        op: Op::UpdateApp(fixed),
                    });
                }
            }
        }
    }

    // Scopes on the authorization server.
    let server_name = live.server["name"].as_str().unwrap_or_default().to_owned();
    let kiro_scopes = kiro_scopes(plan, req);
    for scope in &kiro_scopes {
        let address = Address::new("okta.scope", scope);
        if live.scopes.iter().any(|s| s["name"].as_str() == Some(scope)) {
            unchanged.push(address);
            continue;
        }
        if existed {
            findings.push(
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
        planned.push(Planned { change, op: Op::CreateScope(body) });
    }

    // The access policy that covers the Kiro client, and its rule.
    let policy_addr = Address::new("okta.policy", policy_name);
    let client_value = client_id.clone().unwrap_or_else(|| KNOWN_AFTER_APPLY.into());
    match &live.policy {
        None => {
            if existed {
                findings.push(
                    Finding::new(
                        "okta.missing_policy",
                        Severity::Error,
                        format!(
                            "no access policy \"{policy_name}\" lets the Kiro app get tokens from \"{server_name}\""
                        ),
                        "apply creates it",
                    )
                    .at(policy_addr.clone()),
                );
            }
            let body = json!({"type": "OAUTH_AUTHORIZATION_POLICY", "status": "ACTIVE", "name": policy_name, "description": "Kiro clients (managed by kiro-onboard)", "priority": 1, "conditions": {"clients": {"include": []}}});
            let mut change =
                Change::create(policy_addr.clone(), fields! {"name" => policy_name, "clients" => [client_value]});
            if client_id.is_none() {
                change = change.unknown_after("clients");
            }
            planned.push(Planned { change, op: Op::CreatePolicy(body) });
        }
        Some(policy) => {
            let clients = strings(&policy["conditions"]["clients"]["include"]);
            let covered = clients.iter().any(|c| c == "ALL_CLIENTS" || Some(c) == client_id.as_ref());
            if !covered {
                if existed {
                    findings.push(
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
                let mut wanted = clients.clone();
                wanted.push(client_value.clone());
                let mut change =
                    Change::update(policy_addr.clone(), fields! {"clients" => clients}, fields! {"clients" => wanted});
                if client_id.is_none() {
                    change = change.unknown_after("clients");
                }
                planned.push(Planned { change, op: Op::UpdatePolicy(policy.clone()) });
            } else if policy["status"].as_str() == Some("INACTIVE") {
                findings.push(
                    Finding::new(
                        "okta.policy_inactive",
                        Severity::Error,
                        format!("the access policy \"{policy_name}\" is deactivated: Kiro cannot get tokens"),
                        "apply activates it",
                    )
                    .at(policy_addr.clone()),
                );
                let change = Change::update(
                    policy_addr.clone(),
                    fields! {"status" => "INACTIVE"},
                    fields! {"status" => "ACTIVE"},
                );
                let path = format!("/policies/{}", policy["id"].as_str().unwrap_or_default());
                planned.push(Planned { change, op: Op::Activate(path) });
            } else {
                unchanged.push(policy_addr.clone());
            }
        }
    }
    let rule_addr = Address::new("okta.rule", &format!("{policy_name}/{rule_name}"));
    let wanted_scopes = rule_scopes(&kiro_scopes);
    let rule_body = |existing: Option<&Value>| {
        let mut body = existing.cloned().unwrap_or_else(|| {
            json!({"type": "RESOURCE_ACCESS", "name": rule_name, "priority": 1,
                   "conditions": {"people": {"groups": {"include": ["EVERYONE"]}}},
                   "actions": {"token": {"accessTokenLifetimeMinutes": 60, "refreshTokenLifetimeMinutes": 0, "refreshTokenWindowMinutes": 10080}}})
        });
        let mut grants = strings(&body["conditions"]["grantTypes"]["include"]);
        if !grants.iter().any(|g| g == "authorization_code") {
            grants.push("authorization_code".into());
        }
        let mut scopes = strings(&body["conditions"]["scopes"]["include"]);
        if !scopes.iter().any(|s| s == "*") {
            for s in &wanted_scopes {
                if !scopes.contains(s) {
                    scopes.push(s.clone());
                }
            }
        }
        set_path(&mut body, &["conditions", "grantTypes"], json!({"include": grants}));
        set_path(&mut body, &["conditions", "scopes"], json!({"include": scopes}));
        if let Some(o) = body.as_object_mut() {
            o.remove("_links");
        }
        body
    };
    match &live.rule {
        None => {
            if existed && live.policy.is_some() {
                findings.push(
                    Finding::new(
                        "okta.missing_rule",
                        Severity::Error,
                        format!(
                            "the access policy \"{policy_name}\" has no rule \"{rule_name}\" granting Kiro's scopes"
                        ),
                        "apply creates it",
                    )
                    .at(rule_addr.clone()),
                );
            }
            let change = Change::create(
                rule_addr,
                fields! {"name" => rule_name, "grant_types" => ["authorization_code"], "scopes" => wanted_scopes, "people" => "EVERYONE"},
            );
            planned.push(Planned { change, op: Op::CreateRule(rule_body(None)) });
        }
        Some(rule) => {
            let fixed = rule_body(Some(rule));
            let (before_grants, after_grants) = (
                strings(&rule["conditions"]["grantTypes"]["include"]),
                strings(&fixed["conditions"]["grantTypes"]["include"]),
            );
            let (before_scopes, after_scopes) =
                (strings(&rule["conditions"]["scopes"]["include"]), strings(&fixed["conditions"]["scopes"]["include"]));
            if before_grants == after_grants
                && before_scopes == after_scopes
                && rule["status"].as_str() == Some("INACTIVE")
            {
                findings.push(
                    Finding::new(
                        "okta.rule_inactive",
                        Severity::Error,
                        format!("the rule \"{rule_name}\" is deactivated: Kiro cannot get its scopes"),
                        "apply activates it",
                    )
                    .at(rule_addr.clone()),
                );
                let change =
                    Change::update(rule_addr, fields! {"status" => "INACTIVE"}, fields! {"status" => "ACTIVE"});
                let path = format!(
                    "/policies/{}/rules/{}",
                    live.policy.as_ref().and_then(|p| p["id"].as_str()).unwrap_or_default(),
                    rule["id"].as_str().unwrap_or_default()
                );
                planned.push(Planned { change, op: Op::Activate(path) });
            } else if before_grants == after_grants && before_scopes == after_scopes {
                unchanged.push(rule_addr);
            } else {
                let missing: Vec<&String> = after_scopes.iter().filter(|s| !before_scopes.contains(s)).collect();
                findings.push(
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
                planned.push(Planned { change, op: Op::UpdateRule(fixed) });
            }
        }
    }

    // Group assignments.
    for (name, id) in &live.groups {
        let address = Address::new("okta.assignment", name);
        match id {
            None => findings.push(
                Finding::new("okta.group_missing", Severity::Error, format!("Okta has no group named \"{name}\""), "create the group in Okta (or fix okta.assign_groups); kiro-onboard assigns groups, it does not create them")
                    .at(address),
            ),
            Some(id) if live.app_groups.iter().any(|(g, _)| g == id) => unchanged.push(address),
            Some(id) => {
                let change = Change::create(address, fields! {"group" => name, "application" => plan.app_label});
                planned.push(Planned { change, op: Op::AssignGroup(id.clone()) });
            }
        }
    }
    for (gid, name) in &live.app_groups {
        if plan.assign_groups.iter().any(|g| g == name) {
            continue;
        }
        let address = Address::new("okta.assignment", name);
        if plan.prune.groups {
            let change = Change::delete(address, fields! {"group" => name, "application" => plan.app_label})
                .because("okta.prune.groups: true");
            planned.push(Planned { change, op: Op::UnassignGroup(gid.clone()) });
        } else {
            findings.push(
                Finding::new(
                    "okta.unmanaged_group_assignment",
                    Severity::Info,
                    format!(
                        "group \"{name}\" is assigned to \"{}\" but not listed in okta.assign_groups",
                        plan.app_label
                    ),
                    "add it to okta.assign_groups, or set okta.prune.groups: true to unassign it",
                )
                .at(address),
            );
        }
    }
    if !live.direct_users.is_empty() {
        let count = match live.users_sampled {
            Some(read) => format!("at least {} (in the first {read} of the app's users)", live.direct_users.len()),
            None => live.direct_users.len().to_string(),
        };
        let mut finding = Finding::new(
            "okta.direct_user_assignment",
            Severity::Warning,
            format!("{count} user(s) are assigned to \"{}\" directly instead of through a group", plan.app_label),
            "assign groups (okta.assign_groups) and remove the direct assignments in Okta: Kiro subscribes groups, and direct assignments escape group reviews",
        )
        .at(app_addr.clone());
        for user in &live.direct_users {
            finding = finding.evidence(user.clone());
        }
        findings.push(finding);
    }

    if server_inactive(live) {
        findings.push(
            Finding::new(
                "okta.authorization_server_inactive",
                Severity::Error,
                format!("the authorization server \"{server_name}\" is INACTIVE: Okta issues no tokens from it, so no one can sign in to Kiro"),
                format!("activate it in Okta (Security → API → Authorization Servers → {server_name} → Active), or with POST /api/v1/authorizationServers/{}/lifecycle/activate; kiro-onboard does not switch on a server other apps may share", live.server["id"].as_str().unwrap_or("<id>")),
            )
            .at(Address::new("okta.authorization_server", &server_name))
            .evidence(format!("status {}", live.server["status"])),
        );
    }

    provisioning_groups(plan, live, &mut planned, &mut findings, &mut unchanged);
    Diff { planned, findings, unchanged }
}

fn server_inactive(live: &Live) -> bool {
    live.server["status"].as_str() == Some("INACTIVE")
}

/// The SCIM app's side (Kiro's guide: assign the groups to the provisioning app, then push
/// them): each plan group assigned to the provisioning app and, once the console step is done,
/// pushed; pushed groups the plan does not name are reported, never removed.
fn provisioning_groups(
    plan: &OktaPlan,
    live: &Live,
    planned: &mut Vec<Planned>,
    findings: &mut Vec<Finding>,
    unchanged: &mut Vec<Address>,
) {
    let (Some(provisioning), Some(seen)) = (&plan.provisioning, &live.provisioning) else { return };
    let Some(app_id) = &seen.app_id else { return };
    let label = &provisioning.app_label;
    for (name, id) in &live.groups {
        let Some(group_id) = id else { continue };
        let address = Address::new("okta.provisioning_assignment", &format!("{label}/{name}"));
        if seen.app_groups.iter().any(|(g, _)| g == group_id) {
            unchanged.push(address);
        } else {
            planned.push(Planned {
                change: Change::create(address, fields! {"app" => label, "group" => name}),
                op: Op::AssignProvisioningGroup { app_id: app_id.clone(), group_id: group_id.clone() },
            });
        }
        if !provisioning.done || seen.push_unreadable.is_some() {
            continue;
        }
        let address = Address::new("okta.group_push", &format!("{label}/{name}"));
        match seen.push_mappings.iter().find(|(_, source, _)| source == group_id) {
            Some((_, _, status)) if status == "INACTIVE" => findings.push(
                Finding::new(
                    "okta.group_push_inactive",
                    Severity::Warning,
                    format!("the group \"{name}\" is linked for Push Groups in \"{label}\" but the push is INACTIVE: Kiro does not get its members"),
                    "in Okta: the app → Push Groups → the group → Activate push",
                )
                .at(address),
            ),
            Some(_) => unchanged.push(address),
            None => planned.push(Planned {
                change: Change::create(address, fields! {"app" => label, "source_group" => name, "target_group_name" => name, "status" => "ACTIVE"}),
                op: Op::CreatePushMapping {
                    app_id: app_id.clone(),
                    body: json!({"sourceGroupId": group_id, "targetGroupName": name, "status": "ACTIVE"}),
                },
            }),
        }
    }
    if let Some(reason) = &seen.push_unreadable
        && provisioning.done
    {
        findings.push(
            Finding::new(
                "okta.group_push_unreadable",
                Severity::Error,
                format!("Okta does not show the Push Groups mappings of \"{label}\": {reason}"),
                "in Okta: the app → Provisioning → Integration → enable Push Groups; with a service app, grant okta.apps.manage and okta.groups.manage",
            )
            .at(Address::new("okta.provisioning", label)),
        );
    }
    let planned_ids: Vec<&String> = live.groups.iter().filter_map(|(_, id)| id.as_ref()).collect();
    let extra: Vec<String> = seen
        .push_mappings
        .iter()
        .filter(|(_, source, _)| !planned_ids.contains(&source))
        .map(|(_, source, _)| {
            seen.app_groups.iter().find(|(g, _)| g == source).map(|(_, n)| n.clone()).unwrap_or_else(|| source.clone())
        })
        .collect();
    if !extra.is_empty() {
        let mut finding = Finding::new(
            "okta.group_push_unplanned",
            Severity::Warning,
            format!("\"{label}\" pushes {} group(s) to Kiro that okta.assign_groups does not name", extra.len()),
            "add them to okta.assign_groups, or unlink them in Okta (the app → Push Groups → the group → Unlink pushed group)",
        )
        .at(Address::new("okta.provisioning", label));
        for group in extra {
            finding = finding.evidence(group);
        }
        findings.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::model::{OktaCredentials, OktaPrune};
    use crate::plan::secret::{EnvSecret, SecretRef};

    fn plan() -> OktaPlan {
        OktaPlan {
            org_url: "https://example.okta.com".into(),
            credentials: OktaCredentials::ApiToken { api_token: SecretRef::Env(EnvSecret { env: "T".into() }) },
            app_label: "Kiro".into(),
            authorization_server: "default".into(),
            assign_groups: vec!["Kiro Users".into()],
            kiro_scopes: None,
            prune: OktaPrune::default(),
            provisioning: None,
        }
    }

    fn live() -> Live {
        Live { server: json!({"id": "default", "name": "default"}), ..Live::default() }
    }

    #[test]
    fn hostile_okta_objects_never_panic_the_diff() {
        let seeds: Vec<Vec<u8>> = [
            json!({"app": {"id": "0oa1", "label": "Kiro", "status": "ACTIVE", "settings": {"oauthClient": {"redirect_uris": ["kiro://kiro.oauth/callback"], "grant_types": ["authorization_code"], "response_types": ["code"]}}, "credentials": {"oauthClient": {"client_id": "0oa1", "token_endpoint_auth_method": "client_secret_basic", "pkce_required": false}}},
                   "policy": {"id": "p1", "name": "Kiro", "conditions": {"clients": {"include": ["0oa1"]}}},
                   "rule": {"id": "r1", "name": "Kiro", "conditions": {"grantTypes": {"include": ["implicit"]}, "scopes": {"include": ["openid"]}}},
                   "scopes": [{"name": "codewhisperer:completions"}]}),
        ]
        .iter()
        .map(|v| v.to_string().into_bytes())
        .collect();
        let req = crate::requirements::latest();
        crate::fuzz::run("okta diff", &seeds, crate::fuzz::JSON_PIECES, 2_000, |input| {
            let answer: Value = serde_json::from_slice(input).unwrap_or_default();
            let live = Live {
                app: answer.get("app").cloned(),
                policy: answer.get("policy").cloned(),
                rule: answer.get("rule").cloned(),
                scopes: answer["scopes"].as_array().cloned().unwrap_or_default(),
                ..live()
            };
            let _ = diff(&plan(), req, &live, "Kiro", "Kiro");
        });
    }

    #[test]
    fn an_empty_org_gets_a_public_native_app_with_kiros_redirect_uris_and_no_secret() {
        let req = crate::requirements::latest();
        let diff = diff(&plan(), req, &live(), "Kiro", "Kiro access");
        let Op::CreateApp(body) = &diff.planned[0].op else { panic!("the app comes first") };
        assert_eq!(body["credentials"]["oauthClient"]["token_endpoint_auth_method"], "none");
        assert_eq!(body["credentials"]["oauthClient"]["pkce_required"], true);
        assert_eq!(body["settings"]["oauthClient"]["redirect_uris"], json!(req.okta.redirect_uris));
        assert!(diff.findings.is_empty(), "an empty org is not broken, only new");
        assert!(diff.planned[0].change.after_unknown.contains(&"client_id".to_owned()));
    }

    #[test]
    fn a_confidential_app_without_pkce_is_fixed_without_dropping_its_client_id() {
        let req = crate::requirements::latest();
        let mut live = live();
        live.app = Some(json!({
            "id": "0oa1", "label": "Kiro", "status": "ACTIVE", "signOnMode": "OPENID_CONNECT",
            "credentials": {"oauthClient": {"client_id": "0oa1", "token_endpoint_auth_method": "client_secret_basic", "client_secret": "s", "pkce_required": false}},
            "settings": {"oauthClient": {"application_type": "native", "grant_types": ["authorization_code", "refresh_token"], "redirect_uris": req.okta.redirect_uris}},
        }));
        let diff = diff(&plan(), req, &live, "Kiro", "Kiro access");
        let codes: Vec<&str> = diff.findings.iter().map(|f| f.code.as_str()).collect();
        assert!(codes.contains(&"okta.client_secret") && codes.contains(&"okta.pkce_off"), "{codes:?}");
        let Op::UpdateApp(body) = &diff.planned[0].op else { panic!("an update") };
        let creds = &body["credentials"]["oauthClient"];
        assert_eq!(creds["client_id"], "0oa1");
        assert_eq!(creds["token_endpoint_auth_method"], "none");
        assert!(creds.get("client_secret").is_none());
        assert!(codes.contains(&"okta.missing_scope"), "scopes missing on an existing app are findings: {codes:?}");
    }
}
