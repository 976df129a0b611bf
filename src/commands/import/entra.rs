//! `import --idp entra`: the enterprise app (by appId or display name), the groups assigned to
//! it, its SCIM provisioning job, read with the Entra step's own readers and the admin session of
//! `login entra`. An app that breaks Kiro's requirements is written with `fix_settings: false`, so
//! that `plan` reports what is broken instead of proposing to change it.

use std::sync::Arc;

use serde_json::{Value, json};

use super::notes::Notes;
use crate::cli::ImportArgs;
use crate::clients::calls::CallCounter;
use crate::clients::graph::{Graph, odata_quote};
use crate::clients::graph_model::Application;
use crate::clients::settings::EntraSettings;
use crate::error::Error;
use crate::plan::model::{Aws, Console, Entra, EntraApp, EntraProvisioning, Kiro, Plan, Subscription, Tier};
use crate::plan::secret::{EnvSecret, SecretRef};
use crate::steps::entra::read::{self, Tenant};

pub const COMMENTS: &[(&str, &str)] = &[
    ("kiro.profile_region", "the Kiro profile's Region: check it is the one you chose in the Kiro console"),
    ("kiro.console.profile_created", "true once the Kiro profile exists and is connected to this app"),
    ("kiro.console.subscribe.done", "true once the group is subscribed in the Kiro console"),
    ("kiro.console.subscribe.tier", "pro | pro_plus | power: the plan the group has in the Kiro console"),
    ("entra.tenant", "the tenant, as given to --tenant"),
    (
        "entra.app.fix_settings",
        "false: the app or its provisioning breaks Kiro's requirements (plan lists each); remove this line to let apply fix them",
    ),
    ("entra.assign_groups", "the groups assigned to the app (users assigned directly are not written)"),
    ("entra.provisioning.scim_endpoint", "as Entra has it saved; fill in if it reads FILL-IN"),
    (
        "entra.provisioning.scim_token",
        "fill in: where to read the SCIM token generated in the Kiro console (never the token itself)",
    ),
    ("entra.provisioning.start", "whether the provisioning job runs now (Provisioning Status: On)"),
    ("domains.token", "the verification token, as Route 53 holds it"),
    ("domains.hosted_zone_id", "the public hosted zone that holds the record"),
];

/// What `scim_endpoint` says when Graph does not show the saved one.
const ENDPOINT_TO_FILL_IN: &str = "https://scim.us-east-1.amazonaws.com/FILL-IN/scim/v2";

/// The plan, its comments, and the app adopted (`import --json` names it).
pub async fn import(
    args: &ImportArgs,
    notes: &Notes<'_>,
) -> Result<(Plan, super::yaml::Comments<'static>, Value), Error> {
    // `flags::check` made sure of --tenant and of --app-id or --app-name.
    let tenant_name = args.tenant.clone().unwrap_or_default();
    let settings = EntraSettings { tenant: tenant_name.clone(), client_credentials: None };
    let (graph, token_tenant) = crate::clients::entra_auth::graph_for(&settings, Arc::new(CallCounter::default()))
        .await
        .map_err(|e| signed_in_only(e, &tenant_name))?;
    let app = find_app(&graph, args).await?;
    let name = display_name(&app);
    only_app_of_its_name(&graph, &app, &name).await?;
    // The step's own reader, on a plan that names the app and provisioning (so it reads the job).
    let probe = Entra {
        tenant: tenant_name.clone(),
        app: EntraApp { display_name: name.clone(), fix_settings: true },
        assign_groups: Vec::new(),
        prune_assignments: false,
        provisioning: Some(provisioning(ENDPOINT_TO_FILL_IN.into(), true)),
        client_credentials: None,
    };
    let live = read::read(&graph, &probe, token_tenant).await?;
    let requirements = crate::requirements::latest();
    let fix_settings = !crate::steps::entra::settings_need_fixing(&live, &requirements.entra, &requirements.scopes);
    if !fix_settings {
        notes.hint(&format!(
            "the app `{name}` or its provisioning job breaks Kiro's requirements: written with `fix_settings: false`, so plan lists each as a finding; remove that line to let apply fix them"
        ));
    }
    let groups = assigned_groups(&graph, &live, notes).await?;
    let mut plan = Plan {
        version: 1,
        kiro: Kiro {
            profile_region: crate::requirements::latest().profile_regions.first().cloned().unwrap_or_default(),
            requirements: None,
            console: Console {
                profile_created: false,
                subscribe: groups
                    .iter()
                    .map(|g| Subscription { group: g.clone(), tier: Tier::Pro, done: false })
                    .collect(),
                ..Console::default()
            },
        },
        aws: Aws { region: None, profile: args.profile.clone() },
        identity_center: None,
        kms: None,
        domains: Vec::new(),
        resolvers: args.resolvers.clone(),
        okta: None,
        entra: Some(Entra {
            tenant: tenant_name,
            app: EntraApp { display_name: name, fix_settings },
            assign_groups: groups,
            prune_assignments: false,
            provisioning: provisioning_of(&live, notes),
            client_credentials: None,
        }),
    };
    if !args.domains.is_empty() {
        let aws = super::load_aws(args, false).await?;
        plan.domains = super::domains::import(&aws, &args.domains).await?;
    }
    Ok((plan, COMMENTS, json!({"app_id": app.app_id, "display_name": display_name(&app)})))
}

/// Import has no plan to put `client_credentials` in: it reads with the `login entra` session only.
fn signed_in_only(error: Error, tenant: &str) -> Error {
    match error {
        Error::Precondition { message, .. } if message.starts_with("not signed in") => Error::Precondition {
            message,
            hint: format!(
                "run `kiro-onboard login entra --tenant {tenant}` (import reads Entra as you), then import again"
            ),
        },
        other => other,
    }
}

fn provisioning(scim_endpoint: String, start: bool) -> EntraProvisioning {
    EntraProvisioning {
        scim_endpoint,
        scim_token: SecretRef::Env(EnvSecret { env: "KIRO_SCIM_TOKEN".into() }),
        start,
        provision_on_demand: Vec::new(),
    }
}

fn display_name(app: &Application) -> String {
    app.rest.get("displayName").and_then(|v| v.as_str()).unwrap_or_default().to_owned()
}

fn named(app: &Application) -> String {
    format!("{} ({})", display_name(app), app.app_id)
}

/// The app `--app-id` or `--app-name` names: exactly one, else an error listing the candidates.
async fn find_app(graph: &Graph, args: &ImportArgs) -> Result<Application, Error> {
    let (what, filter) = match (&args.app_id, &args.app_name) {
        (Some(id), _) => (format!("with appId {id}"), format!("appId eq {}", odata_quote(id))),
        (None, Some(name)) => (format!("named `{name}`"), format!("displayName eq {}", odata_quote(name))),
        (None, None) => unreachable!("checked by the caller"),
    };
    let mut found = read::list_applications(graph, Some(&filter)).await?;
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => {
            let all = read::list_applications(graph, None).await?;
            Err(Error::Precondition {
                message: format!("the Entra tenant has no app registration {what}"),
                hint: format!(
                    "apps in the tenant: {}; pass one with --app-id or --app-name",
                    super::candidates(all.iter().map(named).collect())
                ),
            })
        }
        _ => Err(Error::Precondition {
            message: format!("{} app registrations are {what}", found.len()),
            hint: format!(
                "they are: {}; pass the one to adopt with --app-id APPID",
                super::candidates(found.iter().map(named).collect())
            ),
        }),
    }
}

/// `plan` finds Kiro's app by its display name among the apps of the Custom (non-gallery)
/// template, and deletes or stops at others of that name (`steps::entra::election`): adopted only
/// when that finds this app and no other.
async fn only_app_of_its_name(graph: &Graph, app: &Application, name: &str) -> Result<(), Error> {
    let same_name = read::list_apps(graph, name).await?;
    if !same_name.iter().any(|a| a.app_id == app.app_id) {
        return Err(Error::Precondition {
            message: format!(
                "the app `{name}` ({}) was not made from the Custom (non-gallery) enterprise app template, which is how kiro-onboard finds Kiro's app",
                app.app_id
            ),
            hint: "create Kiro's app in Enterprise applications → New application → Create your own application (non-gallery), or let `kiro-onboard apply` create it".into(),
        });
    }
    let others: Vec<String> = same_name.iter().filter(|a| a.app_id != app.app_id).map(named).collect();
    if !others.is_empty() {
        return Err(Error::Precondition {
            message: format!(
                "other enterprise apps are also named `{name}`: {}; a plan finds Kiro's app by its name, and apply would delete such an app (or stop)",
                super::candidates(others)
            ),
            hint: "rename the other apps (or this one) in the Entra admin center (App registrations → the app → Branding & properties → Name) so that the name is unique, then import again".into(),
        });
    }
    Ok(())
}

/// The groups assigned to the app, by display name (by object id when the name is not unique);
/// other principals are reported, not written.
async fn assigned_groups(graph: &Graph, live: &Tenant, notes: &Notes<'_>) -> Result<Vec<String>, Error> {
    let mut groups = Vec::new();
    for assignment in &live.assignments {
        let name = assignment.principal_display_name.clone().unwrap_or_default();
        if assignment.principal_type.as_deref() != Some("Group") {
            notes.hint(&format!(
                "{name} ({}) is assigned to the app directly, not through a group: not written to the plan; plan reports it",
                assignment.principal_id
            ));
            continue;
        }
        let unique =
            !name.is_empty() && read::find_group(graph, &name).await.is_ok_and(|g| g.id == assignment.principal_id);
        groups.push(if unique { name } else { assignment.principal_id.clone() });
    }
    groups.sort();
    groups.dedup();
    Ok(groups)
}

/// The provisioning section as the job is: the saved endpoint (never the token: a reference to
/// fill in), started when the job runs (as `plan` judges it). A job without saved credentials
/// gets `fix_settings: false` (plan reports it), so `plan` proposes no write for it.
fn provisioning_of(live: &Tenant, notes: &Notes<'_>) -> Option<EntraProvisioning> {
    let job = live.job.as_ref()?;
    let saved = |key: &str| live.secrets.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let endpoint = saved("BaseAddress").flatten().unwrap_or_else(|| {
        notes.hint("Graph does not show the saved SCIM endpoint: fill in `entra.provisioning.scim_endpoint`");
        ENDPOINT_TO_FILL_IN.to_owned()
    });
    Some(provisioning(endpoint, crate::steps::entra::job_running(job)))
}
