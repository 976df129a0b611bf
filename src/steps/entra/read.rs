//! Reads what the step owns from the tenant, without writing anything.

use serde_json::Value;

use super::{CUSTOM_TEMPLATE_ID, SCIM_JOB_TEMPLATE};
use crate::clients::graph::{Graph, GraphError, odata_quote};
use crate::error::Error;
use crate::plan::model::Entra;

/// A group the plan names, as the tenant has it.
#[derive(Debug, Clone)]
pub struct PlanGroup {
    /// As written in the plan (name or object id): the address key.
    pub key: String,
    pub id: String,
    pub display_name: String,
}

#[derive(Debug, Default)]
pub struct Tenant {
    pub tenant_id: Option<String>,
    pub app: Option<Value>,
    pub sp: Option<Value>,
    pub groups: Vec<PlanGroup>,
    pub assignments: Vec<Value>,
    pub job: Option<Value>,
    pub schema: Option<Value>,
    /// Saved provisioning secrets as Graph shows them: `None` for a value Graph masks (unknown),
    /// and no entry at all when Graph says none are saved (404).
    pub secrets: Vec<(String, Option<String>)>,
}

/// Kiro's provisioning job among a service principal's jobs: the one made from the `scim`
/// template (reference §6.1), by `templateId`, or by its id (`scim.…`) when a job has no
/// `templateId`. One rule for `read` and `execute`.
pub fn scim_job(jobs: &[Value]) -> Option<&Value> {
    jobs.iter().find(|j| match j["templateId"].as_str() {
        Some(template) => template == SCIM_JOB_TEMPLATE,
        None => j["id"].as_str().is_some_and(|id| id.starts_with(&format!("{SCIM_JOB_TEMPLATE}."))),
    })
}

/// A value Graph does not show: `GET …/synchronization/secrets` masks credentials (and may mask
/// every value) as `*`; such a value is unknown, never a difference.
fn shown_secret(value: &Value) -> Option<String> {
    value.as_str().filter(|v| !v.is_empty() && v.chars().any(|c| c != '*')).map(str::to_owned)
}

/// The saved provisioning secrets. This GET has no docs page and no SDK method (only PUT is
/// published): a 404 means none are saved, as hashicorp/terraform-provider-azuread reads it.
pub async fn saved_secrets(graph: &Graph, sp_id: &str) -> Result<Vec<(String, Option<String>)>, GraphError> {
    // A new service principal answers 403/409 for a while; 404 is an answer here, not a delay.
    let path = format!("/servicePrincipals/{sp_id}/synchronization/secrets");
    let secrets =
        match graph.retrying(reqwest::Method::GET, &path, None, graph.replication_wait, |e| !e.is_not_found()).await {
            Ok(secrets) => secrets,
            Err(e) if e.is_not_found() => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
    Ok(secrets["value"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|kv| (kv["key"].as_str().unwrap_or_default().to_owned(), shown_secret(&kv["value"])))
        .collect())
}

fn err(operation: &str) -> impl FnOnce(GraphError) -> Error + '_ {
    move |e| e.into_error(operation)
}

pub fn looks_like_guid(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() == 5
        && [8, 4, 4, 4, 12].iter().zip(&parts).all(|(n, p)| p.len() == *n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The Kiro app by template and display name (reference §3). More than one is an error.
pub async fn find_app(graph: &Graph, name: &str) -> Result<Option<Value>, Error> {
    let filter = format!("applicationTemplateId eq '{CUSTOM_TEMPLATE_ID}' and displayName eq {}", odata_quote(name));
    let apps = graph.list("/applications", &[("$filter", &filter)]).await.map_err(err("list applications"))?;
    if apps.len() > 1 {
        let ids: Vec<&str> = apps.iter().filter_map(|a| a["appId"].as_str()).collect();
        return Err(Error::Precondition {
            message: format!("{} enterprise apps are named `{name}` ({})", apps.len(), ids.join(", ")),
            hint: "rename or delete the ones that are not Kiro's, or give `entra.app.display_name` a unique name"
                .into(),
        });
    }
    Ok(apps.into_iter().next())
}

/// The app an earlier apply on this machine created, when Graph does not list it yet: asked for by
/// id, waiting out the replication delay. `None` when it is gone (deleted since).
async fn app_created_here(graph: &Graph, plan: &Entra) -> Result<Option<Value>, Error> {
    let Some(created) = super::journal::recall(&plan.tenant, &plan.app.display_name) else {
        return Ok(None);
    };
    // Replication takes seconds to a few minutes; an app still missing after that was deleted, and
    // is forgotten so that the next plan does not wait for it again.
    let path = format!("/applications/{}", created.object_id);
    match graph.fresh_within(reqwest::Method::GET, &path, None, std::time::Duration::from_secs(60)).await {
        Ok(app) => {
            tracing::info!(
                "Graph does not list the app `{}` yet (replication); using the one an earlier apply created (appId {})",
                plan.app.display_name,
                created.app_id
            );
            Ok(Some(app))
        }
        Err(e) if e.is_not_found() => {
            super::journal::forget(&plan.tenant, &plan.app.display_name);
            Ok(None)
        }
        Err(e) => Err(e.into_error("get application")),
    }
}

pub async fn find_sp(graph: &Graph, app_id: &str) -> Result<Option<Value>, Error> {
    let filter = format!("appId eq {}", odata_quote(app_id));
    let sps =
        graph.list("/servicePrincipals", &[("$filter", &filter)]).await.map_err(err("list service principals"))?;
    Ok(sps.into_iter().next())
}

async fn find_group(graph: &Graph, key: &str) -> Result<PlanGroup, Error> {
    let found = if looks_like_guid(key) {
        match graph.get(&format!("/groups/{key}"), &[]).await {
            Ok(group) => vec![group],
            Err(e) if e.is_not_found() => Vec::new(),
            Err(e) => return Err(e.into_error("get group")),
        }
    } else {
        let filter = format!("displayName eq {}", odata_quote(key));
        graph.list("/groups", &[("$filter", &filter)]).await.map_err(err("list groups"))?
    };
    match found.as_slice() {
        [group] => Ok(PlanGroup {
            key: key.to_owned(),
            id: group["id"].as_str().unwrap_or_default().to_owned(),
            display_name: group["displayName"].as_str().unwrap_or(key).to_owned(),
        }),
        [] => Err(Error::Precondition {
            message: format!("no group `{key}` in the Entra tenant"),
            hint: "create the group in Entra (a security group), or fix the name in `entra.assign_groups`".into(),
        }),
        many => Err(Error::Precondition {
            message: format!("{} groups are named `{key}`", many.len()),
            hint: "name the group by its object id in `entra.assign_groups`".into(),
        }),
    }
}

pub async fn read(graph: &Graph, plan: &Entra, token_tenant: Option<String>) -> Result<Tenant, Error> {
    let mut tenant = Tenant { tenant_id: token_tenant, ..Tenant::default() };
    if tenant.tenant_id.is_none() {
        tenant.tenant_id = match graph.list("/organization", &[]).await {
            Ok(orgs) => orgs.first().and_then(|o| o["id"].as_str()).map(str::to_owned),
            // Only needed for the Kiro console step: not worth failing the whole plan over.
            Err(e) => {
                crate::output::warning(&format!(
                    "could not read the Directory (tenant) ID ({e}); the Kiro console step shows it once it can be read (needs Organization.Read.All or Directory.Read.All)"
                ));
                looks_like_guid(&plan.tenant).then(|| plan.tenant.clone())
            }
        };
    }
    for key in &plan.assign_groups {
        tenant.groups.push(find_group(graph, key).await?);
    }
    tenant.app = find_app(graph, &plan.app.display_name).await?;
    if tenant.app.is_none() {
        tenant.app = app_created_here(graph, plan).await?;
    }
    let Some(app_id) = tenant.app.as_ref().and_then(|a| a["appId"].as_str()).map(str::to_owned) else {
        return Ok(tenant);
    };
    tenant.sp = find_sp(graph, &app_id).await?;
    let Some(sp_id) = tenant.sp.as_ref().and_then(|s| s["id"].as_str()).map(str::to_owned) else {
        return Ok(tenant);
    };
    tenant.assignments = graph
        .list(&format!("/servicePrincipals/{sp_id}/appRoleAssignedTo"), &[])
        .await
        .map_err(err("list app role assignments"))?;
    if plan.provisioning.is_none() {
        return Ok(tenant);
    }
    // Sync calls on a service principal created moments ago answer 403/409 for a while.
    let jobs = graph
        .list_fresh(&format!("/servicePrincipals/{sp_id}/synchronization/jobs"))
        .await
        .map_err(err("list provisioning jobs"))?;
    tenant.job = scim_job(&jobs).cloned();
    if let Some(job_id) = tenant.job.as_ref().and_then(|j| j["id"].as_str()).map(str::to_owned) {
        tenant.schema = Some(
            graph
                .fresh(
                    reqwest::Method::GET,
                    &format!("/servicePrincipals/{sp_id}/synchronization/jobs/{job_id}/schema"),
                    None,
                )
                .await
                .map_err(err("get provisioning schema"))?,
        );
        tenant.secrets = saved_secrets(graph, &sp_id).await.map_err(err("get provisioning credentials"))?;
    }
    Ok(tenant)
}
