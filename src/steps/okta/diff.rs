//! Compares what Okta holds with what Kiro needs: the changes to make, the op that makes each, and
//! the findings (things that are wrong even if the tool can fix them, or that it must not touch),
//! composed from one reconcile function per kind of remote object (`app`, `scopes`,
//! `access_policy`, `rule`, `assignments`, `push_groups`).

use serde_json::{Value, json};

use super::access_policy::reconcile_access_policy;
use super::app::reconcile_app;
use super::assignments::reconcile_assignments;
use super::push_groups::reconcile_push_groups;
use super::read::Live;
use super::rule::reconcile_rule;
use super::scopes::reconcile_scopes;
use crate::clients::okta_model::{App, Policy, Rule};
use crate::engine::fields;
use crate::engine::{Address, Change, Finding, Severity};
use crate::plan::model::Okta as OktaPlan;
use crate::requirements::Requirements;

/// What executing one change does.
#[derive(Debug, Clone)]
pub enum Op {
    CreateApp(Value),
    /// PUT the whole app back with these settings fixed.
    UpdateApp(Box<App>),
    /// Deactivate and delete a duplicate of the Kiro app that kiro-onboard created.
    DeleteApp(String),
    CreateScope(Value),
    CreatePolicy(Value),
    /// PUT the policy with the Kiro client added.
    UpdatePolicy(Box<Policy>),
    CreateRule(Box<Rule>),
    UpdateRule(Box<Rule>),
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

pub type Reconciled = crate::steps::reconciled::Reconciled<Planned>;

/// What every reconcile function starts from: the plan, Kiro's requirements, what Okta holds.
pub struct Wanted<'a> {
    pub plan: &'a OktaPlan,
    pub req: &'a Requirements,
    pub live: &'a Live,
    /// Whether the Kiro app exists: on a first run what is missing is new, not broken.
    pub existed: bool,
    /// The Kiro app's client id, `None` until the app exists.
    pub client_id: Option<String>,
    pub server_name: String,
    pub kiro_scopes: Vec<String>,
    pub policy_name: &'a str,
    pub rule_name: &'a str,
}

/// Every object of the step, one kind after the other, in the order apply creates them.
pub fn diff(plan: &OktaPlan, req: &Requirements, live: &Live, policy_name: &str, rule_name: &str) -> Reconciled {
    // A policy or rule made in the console (found through the app: `read::kiro_policy`) is
    // addressed by its own name.
    let policy_name = live.policy.as_ref().map(|p| p.name.as_str()).unwrap_or(policy_name);
    let rule_name = live.rule.as_ref().map(|r| r.name.as_str()).unwrap_or(rule_name);
    let wanted = Wanted {
        plan,
        req,
        live,
        existed: live.app.is_some(),
        client_id: live.client_id(),
        server_name: live.server.name.clone(),
        kiro_scopes: kiro_scopes(plan, req),
        policy_name,
        rule_name,
    };
    let mut out = reconcile_app(&wanted);
    out.add(reconcile_scopes(&wanted));
    out.add(reconcile_access_policy(&wanted));
    out.add(reconcile_rule(&wanted));
    out.add(reconcile_assignments(&wanted));
    out.findings.extend(server_inactive_finding(&wanted));
    out.add(reconcile_push_groups(&wanted));
    if !plan.fix_settings && wanted.existed {
        super::fix_settings::hold(&mut out);
    }
    out
}

/// A deactivated object of the authorization server (at `path` under it): the finding, and the
/// change that activates it.
pub fn activation(address: Address, code: &str, message: String, path: String) -> Reconciled {
    let finding = Finding::new(code, Severity::Error, message, "apply activates it").at(address.clone());
    let change = Change::update(address, fields! {"status" => "INACTIVE"}, fields! {"status" => "ACTIVE"});
    Reconciled {
        planned: vec![Planned { change, op: Op::Activate(path) }],
        findings: vec![finding],
        unchanged: Vec::new(),
    }
}

/// The authorization server is not kiro-onboard's to switch on (other apps may share it), but an
/// inactive one issues no tokens.
fn server_inactive_finding(wanted: &Wanted) -> Option<Finding> {
    let (server, server_name) = (&wanted.live.server, &wanted.server_name);
    if server.status.as_deref() != Some("INACTIVE") {
        return None;
    }
    Some(
        Finding::new(
            "okta.authorization_server_inactive",
            Severity::Error,
            format!("the authorization server \"{server_name}\" is INACTIVE: Okta issues no tokens from it, so no one can sign in to Kiro"),
            format!("activate it in Okta (Security → API → Authorization Servers → {server_name} → Active), or with POST /api/v1/authorizationServers/{}/lifecycle/activate; kiro-onboard does not switch on a server other apps may share", if server.id.is_empty() { "<id>" } else { &server.id }),
        )
        .at(Address::new("okta.authorization_server", server_name))
        .evidence(format!("status {}", json!(server.status))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::okta_model::AuthorizationServer;
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
            fix_settings: true,
        }
    }

    fn live() -> Live {
        let server = AuthorizationServer { id: "default".into(), name: "default".into(), ..Default::default() };
        Live { server, ..Live::default() }
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
            // What the client would refuse to parse never reaches the diff; whatever it parses must
            // not panic it.
            let answer: Value = serde_json::from_slice(input).unwrap_or_default();
            fn part<T: serde::de::DeserializeOwned>(answer: &Value, key: &str) -> Option<T> {
                answer.get(key).cloned().and_then(|v| serde_json::from_value(v).ok())
            }
            let live = Live {
                app: part(&answer, "app"),
                policy: part(&answer, "policy"),
                rule: part(&answer, "rule"),
                scopes: part(&answer, "scopes").unwrap_or_default(),
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
        live.app = serde_json::from_value(json!({
            "id": "0oa1", "label": "Kiro", "status": "ACTIVE", "signOnMode": "OPENID_CONNECT",
            "credentials": {"oauthClient": {"client_id": "0oa1", "token_endpoint_auth_method": "client_secret_basic", "client_secret": "s", "pkce_required": false}},
            "settings": {"oauthClient": {"application_type": "native", "grant_types": ["authorization_code", "refresh_token"], "redirect_uris": req.okta.redirect_uris}},
        }))
        .ok();
        let diff = diff(&plan(), req, &live, "Kiro", "Kiro access");
        let codes: Vec<&str> = diff.findings.iter().map(|f| f.code.as_str()).collect();
        assert!(codes.contains(&"okta.client_secret") && codes.contains(&"okta.pkce_off"), "{codes:?}");
        let Op::UpdateApp(app) = &diff.planned[0].op else { panic!("an update") };
        let body = serde_json::to_value(app).unwrap();
        let creds = &body["credentials"]["oauthClient"];
        assert_eq!(creds["client_id"], "0oa1");
        assert_eq!(creds["token_endpoint_auth_method"], "none");
        assert!(creds.get("client_secret").is_none());
        assert!(codes.contains(&"okta.missing_scope"), "scopes missing on an existing app are findings: {codes:?}");
    }

    #[test]
    fn with_fix_settings_off_what_exists_is_reported_and_left_as_it_is() {
        let req = crate::requirements::latest();
        let mut live = live();
        live.app = serde_json::from_value(json!({
            "id": "0oa1", "label": "Kiro", "status": "INACTIVE", "signOnMode": "OPENID_CONNECT",
            "credentials": {"oauthClient": {"client_id": "0oa1", "token_endpoint_auth_method": "none", "pkce_required": true}},
            "settings": {"oauthClient": {"application_type": "native", "grant_types": ["authorization_code"], "redirect_uris": ["kiro://kiro.oauth/callback"]}},
        }))
        .ok();
        live.groups = vec![("Kiro Users".into(), Some("00g1".into()))];
        let plan = OktaPlan { fix_settings: false, ..plan() };
        let diff = diff(&plan, req, &live, "Kiro", "Kiro access");
        let kept: Vec<String> = diff.planned.iter().map(|p| p.change.address.to_string()).collect();
        assert_eq!(kept, [r#"okta.assignment["Kiro Users"]"#], "only the assignment is left to make");
        let codes: Vec<&str> = diff.findings.iter().map(|f| f.code.as_str()).collect();
        for code in ["okta.app_inactive", "okta.refresh_token_off", "okta.missing_scope", "okta.missing_policy"] {
            assert!(codes.contains(&code), "{code} in {codes:?}");
        }
        assert!(diff.findings.iter().all(|f| !f.fix.starts_with("apply ")), "none promises a fix");
        assert!(codes.contains(&"okta.setting_not_fixed"), "the rule the missing policy would hold: {codes:?}");
    }
}
