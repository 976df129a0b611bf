//! Reads what the Okta step owns: the Kiro app (by exact label), the authorization server with its
//! scopes, the Kiro policy and rule, the app's group and user assignments, the groups the plan
//! names, the SCIM provisioning app's groups, and (once the plan says provisioning is done) what
//! Okta shows of provisioning and the app's Push Groups mappings. App users are sampled (the
//! first page), so plan and audit cost the same at 10,000 users as at 10.

use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::clients::okta::{Okta, OktaError};
use crate::clients::okta_model::{
    App, AppGroup, AppUser, AuthorizationServer, Connection, Group, Policy, PushMapping, Rule, Scope, parse, parse_all,
};
use crate::error::Error;
use crate::plan::model::Okta as OktaPlan;

/// The live state, as read.
#[derive(Debug, Clone, Default)]
pub struct Live {
    pub app: Option<App>,
    /// Other apps of the Kiro app's label that kiro-onboard created (`app_election`): to delete.
    pub duplicates: Vec<App>,
    pub server: AuthorizationServer,
    pub scopes: Vec<Scope>,
    pub policy: Option<Policy>,
    pub rule: Option<Rule>,
    /// Group id → group name, for the app's group assignments.
    pub app_groups: Vec<(String, String)>,
    /// Direct (`scope: USER`) assignments: user login or id, among the first page of the
    /// app's users (the read must not grow with the org: 10,000 users are one page, not 20).
    pub direct_users: Vec<String>,
    /// The app has more users than the page read for `direct_users`.
    pub users_sampled: Option<usize>,
    /// Plan group name → its id, for the groups that exist.
    pub groups: Vec<(String, Option<String>)>,
    pub provisioning: Option<ProvisioningSeen>,
}

impl Live {
    /// The Kiro app's OAuth client id (Okta makes it the app id unless one was given).
    pub fn client_id(&self) -> Option<String> {
        self.app.as_ref()?.client_id()
    }
}

/// What Okta's API shows of SCIM provisioning on the provisioning app.
#[derive(Debug, Clone, Default)]
pub struct ProvisioningSeen {
    pub app_id: Option<String>,
    pub features: Vec<String>,
    pub connection_status: String,
    /// syncState → number of app users, in the first page of the app's users.
    pub sync_states: Vec<(String, usize)>,
    /// How many app users `sync_states` counts, when the app has more than that.
    pub sampled: Option<usize>,
    /// Group id → name, for the provisioning app's group assignments.
    pub app_groups: Vec<(String, String)>,
    /// The Push Groups mappings: (mapping id, source group id, status).
    pub push_mappings: Vec<(String, String, String)>,
    /// The mappings could not be read (Push Groups off in the console, or no scope for it).
    pub push_unreadable: Option<String>,
    /// `okta.provisioning.push_groups` name → its id, for the groups that exist.
    pub push_groups: Vec<(String, Option<String>)>,
}

/// How long a group missing from `search` is looked for again before it counts as missing:
/// Okta's group search is eventually consistent (okta SDK, group_api.list_groups: "The
/// `search` parameter results are sourced from an eventually consistent datasource"), so a
/// group created moments ago may not be there yet. `KIRO_ONBOARD_OKTA_SEARCH_WAIT` in seconds
/// (default 20; tests make it short).
pub const SEARCH_WAIT_ENV: &str = "KIRO_ONBOARD_OKTA_SEARCH_WAIT";

fn search_wait() -> Duration {
    std::env::var(SEARCH_WAIT_ENV)
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(600.0)))
        .unwrap_or(Duration::from_secs(20))
}

/// The ids of the groups named exactly so (`search=profile.name eq "…"`), each looked for again
/// with a growing pause until found or `search_wait()` has passed.
pub async fn find_groups(okta: &Okta, names: &[String]) -> Result<Vec<(String, Option<String>)>, Error> {
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    for name in names {
        out.push((name.clone(), search_group(okta, name).await?));
    }
    let deadline = std::time::Instant::now() + search_wait();
    let mut pause = Duration::from_millis(250);
    while out.iter().any(|(_, id)| id.is_none()) && std::time::Instant::now() < deadline {
        tokio::time::sleep(pause.min(deadline.saturating_duration_since(std::time::Instant::now()))).await;
        pause = (pause * 2).min(Duration::from_secs(4));
        for (name, id) in out.iter_mut().filter(|(_, id)| id.is_none()) {
            *id = search_group(okta, name).await?;
        }
    }
    Ok(out)
}

async fn search_group(okta: &Okta, name: &str) -> Result<Option<String>, Error> {
    let search = encode(&format!("profile.name eq \"{}\"", name.replace('"', "\\\"")));
    let found: Vec<Group> = list(okta, &format!("/api/v1/groups?search={search}"), "search groups").await?;
    Ok(found.into_iter().find(|g| g.profile.name.as_deref() == Some(name)).map(|g| g.id))
}

fn op(e: OktaError, what: &str) -> Error {
    e.into_error(what)
}

/// Every page of `path`, each object as a `T`.
pub async fn list<T: DeserializeOwned>(okta: &Okta, path: &str, what: &str) -> Result<Vec<T>, Error> {
    let values = okta.list(path).await.map_err(|e| op(e, what))?;
    parse_all(values, what).map_err(|e| op(e, what))
}

pub fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The apps labelled exactly so, deactivated ones too (Okta's `q` is a prefix match on name or
/// label; a deactivated app with this label is Kiro's app switched off, not a reason for a second).
pub async fn list_labelled(okta: &Okta, label: &str) -> Result<Vec<App>, Error> {
    let apps: Vec<App> =
        list(okta, &format!("/api/v1/apps?q={}&limit=200&includeNonDeleted=true", encode(label)), "list apps").await?;
    Ok(apps.into_iter().filter(|a| a.label.as_deref() == Some(label)).collect())
}

/// The one app with exactly this label (more than one: an error).
pub async fn find_app(okta: &Okta, label: &str) -> Result<Option<App>, Error> {
    let mut exact = list_labelled(okta, label).await?;
    match exact.len() {
        0 => Ok(None),
        1 => Ok(exact.pop()),
        n => Err(Error::Precondition {
            message: format!(
                "{n} Okta apps are labelled \"{label}\" exactly; kiro-onboard cannot tell which is Kiro's"
            ),
            hint: "rename or deactivate the extra apps in Okta, or set okta.app_label to a unique label".into(),
        }),
    }
}

/// The API path of the authorization server with this id: where its scopes and policies are.
pub fn server_path(server_id: &str) -> String {
    format!("/api/v1/authorizationServers/{}", encode(server_id))
}

/// The authorization server by id, else by exact name. Stops with an explanation when the org has
/// no API Access Management (custom authorization servers are a paid add-on).
pub async fn find_server(okta: &Okta, wanted: &str) -> Result<AuthorizationServer, Error> {
    match okta.get(&format!("/api/v1/authorizationServers/{}", encode(wanted))).await {
        Ok(server) => {
            return parse(server, "the authorization server").map_err(|e| op(e, "read the authorization server"));
        }
        Err(e) if is_no_api_access_management(&e) => return Err(no_api_access_management(okta, &e)),
        Err(e) if e.is_not_found() => {}
        // A name where an id belongs can be refused as invalid rather than not found.
        Err(e) if e.status() == Some(400) => {}
        Err(e) => return Err(op(e, "read the authorization server")),
    }
    let servers =
        okta.list(&format!("/api/v1/authorizationServers?q={}&limit=200", encode(wanted))).await.map_err(|e| {
            if is_no_api_access_management(&e) {
                no_api_access_management(okta, &e)
            } else {
                op(e, "list authorization servers")
            }
        })?;
    let servers: Vec<AuthorizationServer> =
        parse_all(servers, "authorization servers").map_err(|e| op(e, "list authorization servers"))?;
    servers.into_iter().find(|s| s.name == wanted).ok_or_else(|| Error::Precondition {
        message: format!("Okta has no authorization server with id or name \"{wanted}\""),
        hint: "set okta.authorization_server to an existing custom authorization server (Security → API → Authorization Servers); `default` exists in every org with API Access Management".into(),
    })
}

fn is_no_api_access_management(e: &OktaError) -> bool {
    e.code() == Some("E0000015")
}

fn no_api_access_management(okta: &Okta, e: &OktaError) -> Error {
    Error::Precondition {
        message: format!(
            "the Okta org {} has no custom authorization servers (API Access Management is not enabled: {}). Kiro's scopes codewhisperer:completions and codewhisperer:conversations can only be defined on a custom authorization server, so Kiro cannot sign in with this org; nothing was changed",
            okta.org_url(),
            e.message()
        ),
        hint: "API Access Management is a paid Okta add-on: ask your Okta account team to enable it (Security → API → Authorization Servers appears once it is), then run plan again".into(),
    }
}

pub async fn read(okta: &Okta, plan: &OktaPlan, policy_name: &str, rule_name: &str) -> Result<Live, Error> {
    // The authorization server first: without it nothing else can work, and nothing is created.
    let server = find_server(okta, &plan.authorization_server).await?;
    let base = server_path(&server.id);
    let scopes: Vec<Scope> = list(okta, &format!("{base}/scopes?limit=200"), "list scopes").await?;
    let policies: Vec<Policy> = list(okta, &format!("{base}/policies"), "list policies").await?;
    let policy = policies.into_iter().find(|p| p.name == policy_name);
    let rule = match &policy {
        Some(policy) => {
            let rules: Vec<Rule> =
                list(okta, &format!("{base}/policies/{}/rules", policy.id), "list policy rules").await?;
            rules.into_iter().find(|r| r.name == rule_name)
        }
        None => None,
    };

    let elected = super::app_election::elect(list_labelled(okta, &plan.app_label).await?, &plan.app_label)?;
    let (app, duplicates) = (elected.app, elected.duplicates);
    let mut app_groups = Vec::new();
    let mut direct_users = Vec::new();
    let mut users_sampled = None;
    if let Some(id) = app.as_ref().map(|a| a.id.as_str()) {
        app_groups = app_group_names(okta, id).await?;
        let (users, more) =
            first_page::<AppUser>(okta, &format!("/api/v1/apps/{id}/users?limit=500&expand=user"), "list app users")
                .await?;
        users_sampled = more.then_some(users.len());
        direct_users = users.iter().filter(|u| u.scope.as_deref() == Some("USER")).map(AppUser::login).collect();
    }

    let groups = find_groups(okta, &plan.assign_groups).await?;

    let provisioning = match &plan.provisioning {
        Some(p) => {
            let mut seen = read_provisioning(okta, &p.app_label, p.done).await?;
            seen.push_groups = find_groups(okta, &p.push_groups).await?;
            Some(seen)
        }
        None => None,
    };
    Ok(Live {
        app,
        duplicates,
        server,
        scopes,
        policy,
        rule,
        app_groups,
        direct_users,
        users_sampled,
        groups,
        provisioning,
    })
}

/// A policy made in Okta's console for the Kiro app, when none has kiro-onboard's name: the
/// first (in priority order) that names the app's client id (one for `ALL_CLIENTS` is not taken
/// for Kiro's), with its first rule that has the authorization code grant, else its first rule.
/// Only `plan` and `apply` adopt it (what `import` wrote); retire removes only what has
/// kiro-onboard's names.
pub async fn adopt_console_policy(okta: &Okta, live: &mut Live) -> Result<(), Error> {
    let Some(client_id) = live.client_id().filter(|_| live.policy.is_none()) else { return Ok(()) };
    let base = server_path(&live.server.id);
    let policies: Vec<Policy> = list(okta, &format!("{base}/policies"), "list policies").await?;
    let Some(policy) = policies.into_iter().find(|p| p.clients().contains(&client_id)) else {
        return Ok(());
    };
    let rules: Vec<Rule> = list(okta, &format!("{base}/policies/{}/rules", policy.id), "list policy rules").await?;
    let code = |r: &&Rule| r.grant_types().iter().any(|g| g == "authorization_code");
    live.rule = rules.iter().find(code).or(rules.first()).cloned();
    live.policy = Some(policy);
    Ok(())
}

/// The first page of `path`, each object as a `T`, and whether there are more.
async fn first_page<T: DeserializeOwned>(okta: &Okta, path: &str, what: &str) -> Result<(Vec<T>, bool), Error> {
    let (values, more) = okta.first_page(path).await.map_err(|e| op(e, what))?;
    Ok((parse_all(values, what).map_err(|e| op(e, what))?, more))
}

/// The app's group assignments: group id → name.
pub async fn app_group_names(okta: &Okta, app_id: &str) -> Result<Vec<(String, String)>, Error> {
    let assignments: Vec<AppGroup> =
        list(okta, &format!("/api/v1/apps/{app_id}/groups?limit=200&expand=group"), "list app groups").await?;
    Ok(assignments.into_iter().map(|a| (a.id.clone(), a.name())).collect())
}

/// The provisioning app (when it exists) and its group assignments; once the console step is
/// recorded as done, also what Okta shows of provisioning: features, connection, a sample of
/// the app users' sync states, and the Push Groups mappings.
pub async fn read_provisioning(okta: &Okta, label: &str, done: bool) -> Result<ProvisioningSeen, Error> {
    let Some(app) = find_app(okta, label).await? else { return Ok(ProvisioningSeen::default()) };
    let id = app.id.clone();
    let app_groups = app_group_names(okta, &id).await?;
    if !done {
        return Ok(ProvisioningSeen { app_id: Some(id), app_groups, ..ProvisioningSeen::default() });
    }
    let features = app.features.clone().unwrap_or_default();
    let connection = okta
        .get(&format!("/api/v1/apps/{id}/connections/default"))
        .await
        .and_then(|c| parse::<Connection>(c, "the provisioning connection"));
    let connection_status = match connection {
        Ok(c) => c.status.unwrap_or_else(|| "UNKNOWN".into()),
        Err(e) => format!("unreadable ({})", e.message()),
    };
    // A sample, not everyone: the first page of the app's users (plan and audit must cost the
    // same at 10,000 users as at 10).
    let (users, more) =
        first_page::<AppUser>(okta, &format!("/api/v1/apps/{id}/users?limit=200"), "list provisioning app users")
            .await?;
    let sampled = more.then_some(users.len());
    let mut sync_states: Vec<(String, usize)> = Vec::new();
    for user in users {
        let state = user.sync_state.unwrap_or_else(|| "UNKNOWN".into());
        match sync_states.iter_mut().find(|(s, _)| *s == state) {
            Some((_, n)) => *n += 1,
            None => sync_states.push((state, 1)),
        }
    }
    let (push_mappings, push_unreadable) =
        match okta.list(&format!("/api/v1/apps/{id}/group-push/mappings?limit=1000")).await {
            Ok(rows) => (
                parse_all::<PushMapping>(rows, "group push mappings")
                    .map_err(|e| op(e, "list group push mappings"))?
                    .into_iter()
                    .map(|m| (m.id, m.source_group_id, m.status))
                    .collect(),
                None,
            ),
            Err(e) if matches!(e.status(), Some(400 | 403 | 404)) => (Vec::new(), Some(e.message())),
            Err(e) => return Err(op(e, "list group push mappings")),
        };
    Ok(ProvisioningSeen {
        app_id: Some(id),
        features,
        connection_status,
        sync_states,
        sampled,
        app_groups,
        push_mappings,
        push_unreadable,
        push_groups: Vec::new(),
    })
}
