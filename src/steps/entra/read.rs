//! Reads what the step owns from the tenant, without writing anything.

use super::{CUSTOM_TEMPLATE_ID, SCIM_JOB_TEMPLATE};
use crate::clients::graph::{Graph, GraphError, odata_quote};
use crate::clients::graph_model::{
    AppRoleAssignment, Application, Collection, DirectoryObject, SecretKeyValue, ServicePrincipal, SynchronizationJob,
    SynchronizationSchema, parse, parse_all,
};
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
    pub app: Option<Application>,
    /// Other apps of that name an interrupted or concurrent apply created (`election`).
    pub duplicates: Vec<Application>,
    /// When no app of the Custom template has the plan's name: the apps of that name made
    /// otherwise (App registrations → New registration). Never used, changed or deleted.
    pub not_from_template: Vec<Application>,
    pub sp: Option<ServicePrincipal>,
    pub groups: Vec<PlanGroup>,
    pub assignments: Vec<AppRoleAssignment>,
    pub job: Option<SynchronizationJob>,
    pub schema: Option<SynchronizationSchema>,
    /// Saved provisioning secrets as Graph shows them: `None` for a value Graph masks (unknown),
    /// and no entry at all when Graph says none are saved (404).
    pub secrets: Vec<(String, Option<String>)>,
}

/// Kiro's provisioning job among a service principal's jobs: the one made from the `scim`
/// template (docs/vendor-behaviour.md §2.6.1), by `templateId`, or by its id (`scim.…`) when a job has no
/// `templateId`. One rule for `read` and `execute`.
pub fn scim_job(jobs: &[SynchronizationJob]) -> Option<&SynchronizationJob> {
    jobs.iter().find(|j| match &j.template_id {
        Some(template) => template == SCIM_JOB_TEMPLATE,
        None => j.id.starts_with(&format!("{SCIM_JOB_TEMPLATE}.")),
    })
}

/// A value Graph does not show: `GET …/synchronization/secrets` masks credentials (and may mask
/// every value) as `*`; such a value is unknown, never a difference.
fn shown_secret(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty() && v.chars().any(|c| c != '*'))
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
    let secrets: Collection<SecretKeyValue> = serde_json::from_value(secrets).map_err(|e| GraphError {
        status: 0,
        code: String::new(),
        message: format!("Graph answered in a shape kiro-onboard cannot read: {e}"),
        request_id: None,
        method: "GET".into(),
        path: path.clone(),
    })?;
    Ok(secrets.value.into_iter().map(|kv| (kv.key, shown_secret(kv.value))).collect())
}

fn err(operation: &str) -> impl FnOnce(GraphError) -> Error + '_ {
    move |e| e.into_error(operation)
}

pub fn looks_like_guid(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() == 5
        && [8, 4, 4, 4, 12].iter().zip(&parts).all(|(n, p)| p.len() == *n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The apps of the Custom template with this display name (docs/vendor-behaviour.md §2.3), and
/// which of them is Kiro's (`election`).
pub async fn find_app(graph: &Graph, name: &str) -> Result<super::election::Elected, Error> {
    super::election::elect(list_apps(graph, name).await?, name)
}

/// Every app of the Custom template with this display name, as the listing shows them now.
pub async fn list_apps(graph: &Graph, name: &str) -> Result<Vec<Application>, Error> {
    let filter = format!("applicationTemplateId eq '{CUSTOM_TEMPLATE_ID}' and displayName eq {}", odata_quote(name));
    list_applications(graph, Some(&filter)).await
}

/// The app registrations an OData `$filter` selects (`None`: every one), all pages.
pub async fn list_applications(graph: &Graph, filter: Option<&str>) -> Result<Vec<Application>, Error> {
    let query: Vec<(&str, &str)> = filter.map(|f| ("$filter", f)).into_iter().collect();
    let apps = graph.list("/applications", &query).await.map_err(err("list applications"))?;
    parse_all(apps, "list applications")
}

/// Whether the Custom (non-gallery) template made this app: a plain registration (App
/// registrations → New registration) has `applicationTemplateId` null, docs/vendor-behaviour.md §2.3.
fn from_custom_template(app: &Application) -> bool {
    app.rest
        .get("applicationTemplateId")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|id| id.eq_ignore_ascii_case(CUSTOM_TEMPLATE_ID))
}

pub async fn find_sp(graph: &Graph, app_id: &str) -> Result<Option<ServicePrincipal>, Error> {
    let filter = format!("appId eq {}", odata_quote(app_id));
    let sps =
        graph.list("/servicePrincipals", &[("$filter", &filter)]).await.map_err(err("list service principals"))?;
    sps.into_iter().next().map(|sp| parse(sp, "list service principals")).transpose()
}

pub async fn find_group(graph: &Graph, key: &str) -> Result<PlanGroup, Error> {
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
    let found: Vec<DirectoryObject> = parse_all(found, "list groups")?;
    match found.as_slice() {
        [group] => Ok(PlanGroup {
            key: key.to_owned(),
            id: group.id.clone(),
            display_name: group.display_name.clone().unwrap_or_else(|| key.to_owned()),
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
            Ok(orgs) => parse_all::<DirectoryObject>(orgs, "list organization")
                .ok()
                .and_then(|orgs| orgs.into_iter().next())
                .map(|o| o.id)
                .filter(|id| !id.is_empty()),
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
    // One listing of the name: the Custom template's apps take part in the election, the others
    // are only reported (when no app of the template has the name).
    let name = &plan.app.display_name;
    let named = list_applications(graph, Some(&format!("displayName eq {}", odata_quote(name)))).await?;
    let (from_template, others): (Vec<Application>, Vec<Application>) =
        named.into_iter().partition(from_custom_template);
    let elected = super::election::elect(from_template, name)?;
    (tenant.app, tenant.duplicates) = (elected.app, elected.duplicates);
    let Some(app_id) = tenant.app.as_ref().map(|a| a.app_id.clone()).filter(|id| !id.is_empty()) else {
        tenant.not_from_template = others;
        return Ok(tenant);
    };
    tenant.sp = find_sp(graph, &app_id).await?;
    let Some(sp_id) = tenant.sp.as_ref().map(|s| s.id.clone()).filter(|id| !id.is_empty()) else {
        return Ok(tenant);
    };
    let assignments = graph
        .list(&format!("/servicePrincipals/{sp_id}/appRoleAssignedTo"), &[])
        .await
        .map_err(err("list app role assignments"))?;
    tenant.assignments = parse_all(assignments, "list app role assignments")?;
    if plan.provisioning.is_none() {
        return Ok(tenant);
    }
    // Sync calls on a service principal created moments ago answer 403/409 for a while.
    let jobs = graph
        .list_fresh(&format!("/servicePrincipals/{sp_id}/synchronization/jobs"))
        .await
        .map_err(err("list provisioning jobs"))?;
    let jobs: Vec<SynchronizationJob> = parse_all(jobs, "list provisioning jobs")?;
    tenant.job = scim_job(&jobs).cloned();
    if let Some(job_id) = tenant.job.as_ref().map(|j| j.id.clone()).filter(|id| !id.is_empty()) {
        let schema = graph
            .fresh(
                reqwest::Method::GET,
                &format!("/servicePrincipals/{sp_id}/synchronization/jobs/{job_id}/schema"),
                None,
            )
            .await
            .map_err(err("get provisioning schema"))?;
        tenant.schema = Some(parse(schema, "get provisioning schema")?);
        tenant.secrets = saved_secrets(graph, &sp_id).await.map_err(err("get provisioning credentials"))?;
    }
    Ok(tenant)
}
