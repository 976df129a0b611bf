//! `import --idp okta`: the Kiro OIDC app (by id or exact label: `okta_app`), the authorization
//! server whose access policy names it, Kiro's scopes there, the groups assigned to the app, and
//! the SCIM app with its push groups (`okta_scim`), read with the Okta step's own client and
//! readers. When the setup breaks a requirement of Kiro's, the plan says `fix_settings: false`,
//! so that `plan` reports it rather than proposing to change what exists.

use std::sync::Arc;

use serde_json::{Value, json};

use super::notes::Notes;
use crate::cli::ImportArgs;
use crate::clients::calls::CallCounter;
use crate::clients::okta::Okta;
use crate::clients::okta_model::{App, AuthorizationServer, Policy, Scope, parse_all};
use crate::error::Error;
use crate::plan::model::{Console, Kiro, Okta as OktaSection, OktaCredentials, OktaPrune, Plan, Subscription, Tier};
use crate::plan::secret::{EnvSecret, SecretRef};
use crate::steps::okta::read::{self, list, server_path};

/// The variable the written plan reads the API token from, as `init --idp okta` writes it.
pub const TOKEN_ENV: &str = "OKTA_API_TOKEN";

pub const COMMENTS: &[(&str, &str)] = &[
    ("kiro.profile_region", "fill in: the Region of the Kiro profile (Okta does not know it)"),
    ("kiro.console.profile_created", "true once the Kiro profile uses this app's issuer URL and client id"),
    ("kiro.console.subscribe.done", "true once the group is subscribed in the Kiro console"),
    ("kiro.console.subscribe.tier", "pro | pro_plus | power: the plan the group has in the Kiro console"),
    ("okta.credentials", "fill in: where kiro-onboard reads an Okta API token (a reference, never the token)"),
    ("okta.app_label", "the Kiro OIDC app, found by this exact label"),
    ("okta.authorization_server", "the custom authorization server whose access policy names the app"),
    ("okta.kiro_scopes", "the Kiro scopes this authorization server carries"),
    ("okta.assign_groups", "the groups assigned to the app"),
    (
        "okta.fix_settings",
        "false: the setup breaks Kiro's requirements (plan lists each); true or removed lets apply fix it",
    ),
    ("okta.provisioning.app_label", "the app that provisions users to Kiro (SCIM)"),
    (
        "okta.provisioning.scim_endpoint",
        "Kiro's SCIM endpoint: check it against the Kiro console (Settings → Identity Management)",
    ),
    ("okta.provisioning.scim_token", "fill in: where to read the SCIM token generated in the Kiro console"),
    ("okta.provisioning.done", "true: Okta shows provisioning on in this app"),
    ("okta.provisioning.push_groups", "the groups this app pushes to Kiro"),
    ("domains.token", "the verification token, as Route 53 holds it"),
    ("domains.hosted_zone_id", "the public hosted zone that holds the record"),
];

/// Kiro's setting addresses that `fix_settings: false` leaves as they are.
const SETTINGS: &[&str] = &["okta.application[", "okta.scope[", "okta.policy[", "okta.rule["];

/// The plan, and the app adopted (`import --json` names it).
pub async fn import(args: &ImportArgs, notes: &Notes<'_>) -> Result<(Plan, Value), Error> {
    let mut section = section(args).await?;
    let okta = crate::steps::okta_client(&section, &Arc::new(CallCounter::default()))?;
    let app = super::okta_app::find_kiro_app(&okta, args).await?;
    let label = app.label.clone().unwrap_or_default();
    super::okta_app::refuse_shared_label(&okta, &app, &label).await?;
    let client_id = app.client_id().unwrap_or_else(|| app.id.clone());
    let (server, scopes) = find_server(&okta, &client_id).await?;
    section.app_label = label;
    section.authorization_server = server.name.clone();
    let kiro = &crate::requirements::latest().scopes;
    let present: Vec<String> = kiro.iter().filter(|k| scopes.iter().any(|s| &s.name == *k)).cloned().collect();
    section.kiro_scopes = (!present.is_empty() && present.len() < kiro.len()).then_some(present);
    let app_groups = read::app_group_names(&okta, &app.id).await?;
    section.assign_groups = app_groups.into_iter().map(|(_, name)| name).collect();
    section.assign_groups.sort();
    direct_users_hint(&okta, &app, notes).await?;
    section.provisioning = super::okta_scim::import(&okta, &mut section.assign_groups, notes).await?;
    let subscribe = section
        .provisioning
        .as_ref()
        .map(|p| p.push_groups.clone())
        .filter(|g| !g.is_empty())
        .unwrap_or_else(|| section.assign_groups.clone());
    let mut plan = plan(section, subscribe);
    if !args.domains.is_empty() {
        plan.domains = super::domains::import(&super::load_aws(args, false).await?, &args.domains).await?;
        plan.resolvers = args.resolvers.clone();
    }
    let writes = super::writes_proposed(&super::render(&plan, COMMENTS)?, notes).await?;
    let broken: Vec<&String> = writes.iter().filter(|w| SETTINGS.iter().any(|s| w.starts_with(s))).collect();
    if let Some(okta) = plan.okta.as_mut().filter(|_| !broken.is_empty()) {
        notes.hint(&format!(
            "the setup breaks Kiro's requirements ({}): the plan says okta.fix_settings: false, so plan reports it and apply leaves it as it is",
            broken.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        ));
        okta.fix_settings = false;
    }
    let adopted = json!({"id": app.id, "label": app.label, "client_id": client_id});
    Ok((plan, adopted))
}

/// The plan's `okta` section before anything is read: the org and the token's reference, which
/// must be set here (import reads Okta before any plan exists).
async fn section(args: &ImportArgs) -> Result<OktaSection, Error> {
    // `flags::check` made sure of --org-url.
    let org_url = args.org_url.clone().unwrap_or_default();
    let api_token = SecretRef::Env(EnvSecret { env: TOKEN_ENV.into() });
    if let Err(e) = api_token.resolve().await {
        return Err(Error::Precondition {
            message: format!("import reads Okta with an API token from {TOKEN_ENV}: {e}"),
            hint: format!(
                "export {TOKEN_ENV} (Okta: Security → API → Tokens), e.g. `read -rs {TOKEN_ENV} && export {TOKEN_ENV}`; the written plan reads it from there too"
            ),
        });
    }
    Ok(OktaSection {
        org_url: crate::shared::endpoint::normal_origin(&org_url),
        credentials: OktaCredentials::ApiToken { api_token },
        app_label: String::new(),
        authorization_server: String::new(),
        assign_groups: Vec::new(),
        kiro_scopes: None,
        prune: OktaPrune::default(),
        provisioning: None,
        fix_settings: true,
    })
}

fn plan(section: OktaSection, subscribe: Vec<String>) -> Plan {
    let profile_region =
        crate::requirements::latest().profile_regions.first().cloned().unwrap_or_else(|| "us-east-1".into());
    Plan {
        version: 1,
        kiro: Kiro {
            profile_region,
            requirements: None,
            console: Console {
                profile_created: false,
                subscribe: subscribe
                    .into_iter()
                    .map(|group| Subscription { group, tier: Tier::Pro, done: false })
                    .collect(),
                ..Console::default()
            },
        },
        aws: Default::default(),
        identity_center: None,
        kms: None,
        domains: Vec::new(),
        resolvers: Vec::new(),
        okta: Some(section),
        entra: None,
    }
}

/// The authorization server with the access policy that names the app; else one that carries
/// Kiro's scopes; else `default`. With its scopes.
async fn find_server(okta: &Okta, client_id: &str) -> Result<(AuthorizationServer, Vec<Scope>), Error> {
    let servers = okta.list("/api/v1/authorizationServers?limit=200").await;
    let servers: Vec<AuthorizationServer> = match servers {
        Ok(values) => {
            parse_all(values, "authorization servers").map_err(|e| e.into_error("list authorization servers"))?
        }
        // No API Access Management, or no permission: the step's reader explains it.
        Err(_) => vec![read::find_server(okta, "default").await?],
    };
    let kiro = &crate::requirements::latest().scopes;
    let mut carrying = None;
    for server in &servers {
        let base = server_path(&server.id);
        let policies: Vec<Policy> = list(okta, &format!("{base}/policies"), "list policies").await?;
        let scopes: Vec<Scope> = list(okta, &format!("{base}/scopes?limit=200"), "list scopes").await?;
        if policies.iter().any(|p| p.clients().iter().any(|c| c == client_id)) {
            return Ok((server.clone(), scopes));
        }
        if carrying.is_none() && kiro.iter().all(|k| scopes.iter().any(|s| &s.name == k)) {
            carrying = Some((server.clone(), scopes));
        }
    }
    if let Some(found) = carrying {
        return Ok(found);
    }
    let server = read::find_server(okta, "default").await?;
    let scopes = list(okta, &format!("{}/scopes?limit=200", server_path(&server.id)), "list scopes").await?;
    Ok((server, scopes))
}

/// Users assigned to the app directly: not written (Kiro subscribes groups), said.
async fn direct_users_hint(okta: &Okta, app: &App, notes: &Notes<'_>) -> Result<(), Error> {
    let (users, _) = okta
        .first_page(&format!("/api/v1/apps/{}/users?limit=500&expand=user", app.id))
        .await
        .map_err(|e| e.into_error("list app users"))?;
    let users: Vec<crate::clients::okta_model::AppUser> =
        parse_all(users, "app users").map_err(|e| e.into_error("list app users"))?;
    let direct: Vec<String> = users.iter().filter(|u| u.scope.as_deref() == Some("USER")).map(|u| u.login()).collect();
    if !direct.is_empty() {
        notes.hint(&format!(
            "{} user(s) are assigned to {} directly, not through a group: {}; the plan lists groups only (assign them through a group in Okta)",
            direct.len(),
            super::okta_app::describe(app),
            super::candidates(direct)
        ));
    }
    Ok(())
}
