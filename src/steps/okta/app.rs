//! The Kiro app itself: created when missing; otherwise each setting Kiro's public native client
//! needs (redirect URIs, grants, no secret with PKCE, active) checked, and one PUT of the whole
//! app that fixes them all.

use serde_json::{Map, Value, json};

use super::diff::{Op, Planned, Reconciled, Wanted, app_address, app_body};
use crate::clients::okta_model::App;
use crate::engine::change::KNOWN_AFTER_APPLY;
use crate::engine::fields;
use crate::engine::{Address, Change, Finding, Severity};

/// The fields an existing app is wrong in, and the app as it is PUT back with them fixed.
struct AppFix {
    before: Map<String, Value>,
    after: Map<String, Value>,
    fixed: App,
}

impl AppFix {
    fn set(&mut self, field: &str, was: Value, becomes: Value) {
        self.before.insert(field.into(), was);
        self.after.insert(field.into(), becomes);
    }
}

pub fn reconcile_app(wanted: &Wanted) -> Reconciled {
    let mut out = reconcile_duplicates(wanted);
    let app_addr = app_address(&wanted.plan.app_label);
    let Some(app) = &wanted.live.app else {
        let change = Change::create(
            app_addr,
            fields! {
                "label" => wanted.plan.app_label,
                "application_type" => "native",
                "grant_types" => ["authorization_code", "refresh_token"],
                "redirect_uris" => wanted.req.okta.redirect_uris,
                "token_endpoint_auth_method" => "none",
                "pkce_required" => true,
                "client_id" => KNOWN_AFTER_APPLY,
            },
        )
        .unknown_after("client_id");
        out.planned.push(Planned { change, op: Op::CreateApp(app_body(wanted.plan, wanted.req)) });
        return out;
    };
    let settings = app.oauth_settings();
    if app.sign_on_mode.as_deref() != Some("OPENID_CONNECT") || settings.application_type.as_deref() != Some("native") {
        out.findings.push(
            Finding::new(
                "okta.app_not_native_oidc",
                Severity::Error,
                format!("the app \"{}\" is not an OIDC native application", wanted.plan.app_label),
                "Kiro signs in as a public native client: rename this app and let kiro-onboard create the Kiro app, or set okta.app_label",
            )
            .at(app_addr)
            .evidence(format!("signOnMode {}, application_type {}", json!(app.sign_on_mode), json!(settings.application_type))),
        );
        return out;
    }
    let mut fix = AppFix { before: Map::new(), after: Map::new(), fixed: app.clone() };
    reconcile_redirect_uris(wanted, app, &app_addr, &mut fix, &mut out.findings);
    reconcile_grants(wanted, app, &app_addr, &mut fix, &mut out.findings);
    reconcile_client_authentication(wanted, app, &app_addr, &mut fix, &mut out.findings);
    reconcile_activation(wanted, app, &app_addr, &mut fix, &mut out.findings);
    if fix.after.is_empty() {
        out.unchanged.push(app_addr);
    } else {
        let AppFix { before, after, mut fixed } = fix;
        fixed.rest.remove("_links");
        fixed.rest.remove("_embedded");
        out.planned
            .push(Planned { change: Change::update(app_addr, before, after), op: Op::UpdateApp(Box::new(fixed)) });
    }
    out
}

/// Apps of the Kiro app's label that an interrupted or concurrent apply created
/// (`app_election`): deleted.
fn reconcile_duplicates(wanted: &Wanted) -> Reconciled {
    let mut out = Reconciled::default();
    let kept = wanted.live.app.as_ref().map(|a| a.id.as_str()).unwrap_or_default();
    for dup in &wanted.live.duplicates {
        let address = Address::new("okta.duplicate_application", &dup.id);
        out.findings.push(
            Finding::new(
                "okta.duplicate_app",
                Severity::Warning,
                format!(
                    "a second app labelled \"{}\" exists ({}); an interrupted or concurrent apply created it",
                    wanted.plan.app_label, dup.id
                ),
                format!("apply deactivates and deletes it and keeps {kept}, the older one"),
            )
            .at(address.clone()),
        );
        let change = Change::delete(address, fields! {"label" => wanted.plan.app_label, "app_id" => dup.id})
            .because(format!("a duplicate of {kept} that kiro-onboard created"));
        out.planned.push(Planned { change, op: Op::DeleteApp(dup.id.clone()) });
    }
    out
}

/// Kiro's redirect URIs, all of them; others are reported, and removed only with
/// `okta.prune.redirect_uris`.
fn reconcile_redirect_uris(wanted: &Wanted, app: &App, at: &Address, fix: &mut AppFix, findings: &mut Vec<Finding>) {
    let (plan, kiro_uris) = (wanted.plan, &wanted.req.okta.redirect_uris);
    let uris = app.oauth_settings().redirect_uris.unwrap_or_default();
    let missing: Vec<&String> = kiro_uris.iter().filter(|u| !uris.contains(u)).collect();
    let extra: Vec<&String> = uris.iter().filter(|u| !kiro_uris.contains(u)).collect();
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
        .at(at.clone());
        for uri in &extra {
            finding = finding.evidence(uri.to_string());
        }
        findings.push(finding);
    }
    let pruning = plan.prune.redirect_uris && !extra.is_empty();
    if missing.is_empty() && !pruning {
        return;
    }
    let mut kept: Vec<String> =
        if plan.prune.redirect_uris { Vec::new() } else { extra.iter().map(|s| s.to_string()).collect() };
    kept.splice(0..0, kiro_uris.iter().cloned());
    fix.set("redirect_uris", json!(uris), json!(kept));
    fix.fixed.oauth_settings_mut().redirect_uris = Some(kept);
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
        .at(at.clone());
        for uri in &missing {
            finding = finding.evidence(uri.to_string());
        }
        findings.push(finding);
    }
}

/// The authorization code and refresh token grants (without the latter users sign in hourly).
fn reconcile_grants(wanted: &Wanted, app: &App, at: &Address, fix: &mut AppFix, findings: &mut Vec<Finding>) {
    let grants = app.oauth_settings().grant_types.unwrap_or_default();
    if grants.iter().any(|g| g == "refresh_token") && grants.iter().any(|g| g == "authorization_code") {
        return;
    }
    findings.push(
        Finding::new(
            "okta.refresh_token_off",
            Severity::Error,
            format!("the app \"{}\" does not allow the authorization code and refresh token grants: Kiro users would have to sign in again every hour", wanted.plan.app_label),
            "apply turns them on",
        )
        .at(at.clone())
        .evidence(format!("grant_types {grants:?}")),
    );
    let mut with_kiros = grants.clone();
    for g in ["authorization_code", "refresh_token"] {
        if !with_kiros.iter().any(|w| w == g) {
            with_kiros.push(g.into());
        }
    }
    fix.set("grant_types", json!(grants), json!(with_kiros));
    let settings = fix.fixed.oauth_settings_mut();
    settings.grant_types = Some(with_kiros);
    settings.response_types = Some(vec!["code".into()]);
}

/// A public client: no secret (`none`) and PKCE required.
fn reconcile_client_authentication(
    wanted: &Wanted,
    app: &App,
    at: &Address,
    fix: &mut AppFix,
    findings: &mut Vec<Finding>,
) {
    let creds = app.oauth_credentials();
    let method = creds.token_endpoint_auth_method.as_deref().unwrap_or("client_secret_basic");
    let pkce = creds.pkce_required.unwrap_or(false);
    if method != "none" {
        findings.push(
            Finding::new(
                "okta.client_secret",
                Severity::Error,
                format!(
                    "the app \"{}\" authenticates with {method}: Kiro's client has no secret",
                    wanted.plan.app_label
                ),
                "apply sets it to a public client (none) with PKCE",
            )
            .at(at.clone()),
        );
        fix.set("token_endpoint_auth_method", json!(method), json!("none"));
    }
    if !pkce {
        findings.push(
            Finding::new(
                "okta.pkce_off",
                Severity::Error,
                format!("the app \"{}\" does not require PKCE", wanted.plan.app_label),
                "apply turns PKCE on (Kiro's client always sends it)",
            )
            .at(at.clone()),
        );
        fix.set("pkce_required", json!(false), json!(true));
    }
    if method != "none" || !pkce {
        // PUT reverts the auth method unless credentials.oauthClient is sent in full.
        let mut oauth = creds.clone();
        oauth.token_endpoint_auth_method = Some("none".into());
        oauth.pkce_required = Some(true);
        oauth.rest.remove("client_secret");
        fix.fixed.credentials.get_or_insert_with(Default::default).oauth_client = Some(oauth);
    }
}

/// A deactivated app lets nobody sign in.
fn reconcile_activation(wanted: &Wanted, app: &App, at: &Address, fix: &mut AppFix, findings: &mut Vec<Finding>) {
    if app.status.as_deref() != Some("INACTIVE") {
        return;
    }
    findings.push(
        Finding::new(
            "okta.app_inactive",
            Severity::Error,
            format!("the app \"{}\" is deactivated: nobody can sign in to Kiro", wanted.plan.app_label),
            "apply activates it",
        )
        .at(at.clone()),
    );
    fix.set("status", json!("INACTIVE"), json!("ACTIVE"));
}
