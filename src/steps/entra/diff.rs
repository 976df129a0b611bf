//! What the tenant lacks compared with the plan and Kiro's requirements: changes (what apply
//! does) and findings (each row of Kiro's troubleshooting table, and what the plan does not own).

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::read::{PlanGroup, Tenant};
use super::schema;
use super::{CUSTOM_TEMPLATE_ID, application_address, assignment_address, duplicate_address, provisioning_address};
use crate::clients::graph_model::{Application, ServicePrincipal, SynchronizationJob};
use crate::engine::change::KNOWN_AFTER_APPLY;
use crate::engine::fields;
use crate::engine::{Change, Checked, Finding, Severity};
use crate::plan::model::{Entra, EntraProvisioning};
use crate::requirements::EntraRequirements;

/// How the app registration must change.
#[derive(Debug, Clone, Default)]
pub struct AppTarget {
    pub before: Map<String, Value>,
    pub after: Map<String, Value>,
    pub identifier_uris: Vec<String>,
    pub redirect_uris: Vec<String>,
    /// Scopes that are not Kiro's and still enabled: disabled in a first PATCH, removed in a second.
    pub to_disable: Vec<String>,
}

impl AppTarget {
    pub fn needs_patch(&self) -> bool {
        !self.after.is_empty()
    }
}

/// Compares an existing app with Kiro's requirements.
pub fn app_target(app: &Application, req: &EntraRequirements, scopes: &[String]) -> AppTarget {
    let mut t = AppTarget::default();
    let wanted_uri = req.identifier_uri.replace("{app_id}", &app.app_id);
    let uris = app.identifier_uris.clone();
    t.identifier_uris = uris.clone();
    if !uris.contains(&wanted_uri) {
        t.identifier_uris.push(wanted_uri);
        t.before.insert("identifier_uris".into(), json!(uris));
        t.after.insert("identifier_uris".into(), json!(t.identifier_uris));
    }
    let version = app.access_token_version();
    if version != Some(u64::from(req.access_token_version)) {
        t.before.insert("access_token_version".into(), json!(version));
        t.after.insert("access_token_version".into(), json!(req.access_token_version));
    }
    let enabled = app.enabled_scopes();
    let kiro_ok = scopes.iter().all(|s| enabled.contains(s));
    let others: Vec<String> =
        app.scopes().iter().map(|s| s.value.clone()).filter(|v| !scopes.iter().any(|k| k == v)).collect();
    t.to_disable = enabled.iter().filter(|v| !scopes.iter().any(|k| k == *v)).cloned().collect();
    if !kiro_ok || !others.is_empty() {
        t.before.insert("scopes".into(), json!(enabled));
        t.after.insert("scopes".into(), json!(scopes));
    }
    let redirects = app.redirect_uris();
    let mut wanted: Vec<String> = req.redirect_uris.clone();
    // Redirect URIs beyond Kiro's are kept (and reported): the tool owns only Kiro's.
    wanted.extend(redirects.iter().filter(|r| !req.redirect_uris.contains(r)).cloned());
    t.redirect_uris = wanted.clone();
    if req.redirect_uris.iter().any(|r| !redirects.contains(r)) {
        t.before.insert("redirect_uris".into(), json!(redirects));
        t.after.insert("redirect_uris".into(), json!(wanted));
    }
    t
}

/// Whether apply would change a setting of this existing app, its service principal or its
/// provisioning job (what `entra.app.fix_settings` governs): `import` writes `fix_settings: false`
/// when it would.
pub fn settings_need_fixing(tenant: &Tenant, req: &EntraRequirements, scopes: &[String]) -> bool {
    tenant.app.as_ref().is_some_and(|app| app_target(app, req, scopes).needs_patch())
        || tenant.sp.as_ref().is_some_and(|sp| !sp.requires_assignment())
        || tenant.job.is_some() && (credentials_missing(tenant) || mapping_wrong(tenant, req).is_some())
}

/// The job has no SCIM endpoint or no token saved (a job made without its Admin Credentials).
fn credentials_missing(tenant: &Tenant) -> bool {
    ["BaseAddress", "SecretToken"].iter().any(|key| !tenant.secrets.iter().any(|(k, _)| k == key))
}

/// The job's attribute mapping, when it is not as Kiro needs it.
fn mapping_wrong(tenant: &Tenant, req: &EntraRequirements) -> Option<schema::Mappings> {
    let m = schema::read(tenant.schema.as_ref()?, req);
    (!schema::is_as_kiro_needs(&m, req)).then_some(m)
}

/// Whether the job runs, as `entra.provisioning.start: true` wants it: scheduled and neither in
/// quarantine nor unconfigured (docs/vendor-behaviour.md §2.6.7). `import` writes `start` from it.
pub fn job_running(job: &SynchronizationJob) -> bool {
    job.schedule.state == "Active" && !matches!(job.status.code.as_str(), "Quarantine" | "NotConfigured")
}

/// What execute has to do, decided at check time.
pub struct Observed {
    pub tenant: Tenant,
    pub app: Option<AppTarget>,
    pub assign: Vec<PlanGroup>,
    /// (assignment id, principal name)
    pub unassign: Vec<(String, String)>,
    pub provisioning: Option<Provisioning>,
    /// The service principal lets anyone in the tenant sign in: set appRoleAssignmentRequired.
    pub require_assignment: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Provisioning {
    pub create_job: bool,
    pub write_credentials: bool,
    pub put_schema: bool,
    pub start: bool,
    /// Groups an earlier apply could not provision on demand yet (Entra had not replicated the
    /// assignment): provisioned on demand now.
    pub pending_on_demand: Vec<String>,
}

/// The hint of a finding about a setting of an existing app: apply fixes it, or, with
/// `entra.app.fix_settings: false`, the admin does (in the console, at `console`).
fn fix_hint(fix: bool, by_apply: String, console: &str) -> String {
    if fix { by_apply } else { unfixed_hint(console) }
}

/// The hint of a finding only `entra.app.fix_settings: false` shows (with it on, an update does).
fn unfixed_hint(console: &str) -> String {
    format!(
        "set entra.app.fix_settings: true (or remove it) to let apply fix this, or fix it in the console ({console})"
    )
}

fn app_findings(
    app: &Application,
    (req, scopes): (&EntraRequirements, &[String]),
    fix: bool,
    out: &mut Vec<Finding>,
    name: &str,
) {
    let address = application_address(name);
    let app_id = &app.app_id;
    let version = app.access_token_version();
    if version != Some(u64::from(req.access_token_version)) {
        out.push(
            Finding::new(
                "entra.access_token_version",
                Severity::Error,
                format!("the app issues v{} access tokens; Kiro needs v{}: after login, API calls fail with authorization errors", version.unwrap_or(1), req.access_token_version),
                fix_hint(
                    fix,
                    format!("apply sets api.requestedAccessTokenVersion to {} (App registrations → {name} → Manifest)", req.access_token_version),
                    &format!("App registrations → {name} → Manifest: api.requestedAccessTokenVersion = {}", req.access_token_version),
                ),
            )
            .at(address.clone())
            .evidence(format!("application {app_id}: api.requestedAccessTokenVersion = {}", json!(version))),
        );
    }
    let enabled = app.enabled_scopes();
    let missing: Vec<&String> = scopes.iter().filter(|s| !enabled.contains(s)).collect();
    if !missing.is_empty() {
        out.push(
            Finding::new(
                "entra.scopes_missing",
                Severity::Error,
                format!(
                    "the app does not expose {}: the login screen shows an error",
                    missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" and ")
                ),
                fix_hint(
                    fix,
                    format!("apply adds the scopes {} under Expose an API", scopes.join(" and ")),
                    &format!("App registrations → {name} → Expose an API: add {}", scopes.join(" and ")),
                ),
            )
            .at(address.clone())
            .evidence(format!(
                "enabled scopes: {}",
                if enabled.is_empty() { "(none)".into() } else { enabled.join(", ") }
            )),
        );
    }
    let redirects = app.redirect_uris();
    let missing: Vec<&String> = req.redirect_uris.iter().filter(|r| !redirects.contains(r)).collect();
    if !missing.is_empty() {
        out.push(
            Finding::new(
                "entra.redirect_uris_missing",
                Severity::Error,
                format!(
                    "the app lacks the redirect URI(s) {}: login attempts show an error screen",
                    missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                ),
                fix_hint(
                    fix,
                    "apply adds Kiro's redirect URIs under Authentication → Mobile and desktop applications".to_owned(),
                    &format!("App registrations → {name} → Authentication → Mobile and desktop applications"),
                ),
            )
            .at(address.clone())
            .evidence(format!("publicClient.redirectUris: {redirects:?}")),
        );
    }
    let extra: Vec<&String> = redirects.iter().filter(|r| !req.redirect_uris.contains(r)).collect();
    if !extra.is_empty() {
        out.push(
            Finding::new(
                "entra.redirect_uris_extra",
                Severity::Warning,
                format!("the app accepts redirect URIs Kiro does not use: {}", extra.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")),
                "remove them under Authentication → Mobile and desktop applications unless something else signs in through this app".to_owned(),
            )
            .at(address.clone()),
        );
    }
    if !fix {
        // With fix_settings, the update shows these; without it, only a finding does.
        unfixed_findings(app, (req, scopes), &address, out, name);
    }
}

/// What apply would also change on an app and no other finding names: the `api://{appId}`
/// identifier Kiro's scopes hang under, and scopes that are not Kiro's but still enabled.
fn unfixed_findings(
    app: &Application,
    (req, scopes): (&EntraRequirements, &[String]),
    address: &crate::engine::Address,
    out: &mut Vec<Finding>,
    name: &str,
) {
    let wanted_uri = req.identifier_uri.replace("{app_id}", &app.app_id);
    if !app.identifier_uris.contains(&wanted_uri) {
        out.push(
            Finding::new(
                "entra.identifier_uri_missing",
                Severity::Error,
                format!("the app's Application ID URIs lack {wanted_uri}: Kiro's scopes are requested under it"),
                unfixed_hint(&format!("App registrations → {name} → Expose an API → Application ID URI")),
            )
            .at(address.clone())
            .evidence(format!("identifierUris: {:?}", app.identifier_uris)),
        );
    }
    let extra: Vec<String> = app.enabled_scopes().into_iter().filter(|v| !scopes.contains(v)).collect();
    if !extra.is_empty() {
        out.push(
            Finding::new(
                "entra.scopes_extra",
                Severity::Warning,
                format!("the app exposes scopes Kiro does not use: {}", extra.join(", ")),
                unfixed_hint(&format!("App registrations → {name} → Expose an API: disable, then delete them")),
            )
            .at(address.clone()),
        );
    }
}

/// Kiro's guide blocks a person by removing their assignment ("this blocks all future login
/// attempts"), which holds only when the service principal requires an assignment. The Custom
/// template's service principal has `appRoleAssignmentRequired: true` (the v1.0
/// instantiate response in microsoft-graph-docs-contrib `concepts/application-proxy-configure-api.md`);
/// someone may have turned it off (Enterprise applications → Properties → Assignment required?).
fn assignment_not_required(sp: &ServicePrincipal, name: &str, fix: bool) -> Finding {
    Finding::new(
        "entra.assignment_not_required",
        Severity::Error,
        "the app does not require an assignment: anyone in the tenant can get a token for Kiro, and removing a user's assignment does not block them",
        fix_hint(
            fix,
            format!("apply sets appRoleAssignmentRequired on the service principal (Enterprise applications → {name} → Properties → Assignment required? = Yes)"),
            &format!("Enterprise applications → {name} → Properties → Assignment required? = Yes"),
        ),
    )
    .at(application_address(name))
    .evidence(format!(
        "service principal {}: appRoleAssignmentRequired = {}",
        sp.id, sp.app_role_assignment_required
    ))
}

/// What is wrong in the job's attribute mapping for Kiro's SCIM endpoint (docs/vendor-behaviour.md
/// §1.2; the template's defaults, §2.6.4), each with why it matters.
fn mapping_problems(m: &schema::Mappings, req: &EntraRequirements) -> Vec<String> {
    let mut problems = Vec::new();
    let source = m.external_id_source.as_deref();
    if source != Some(req.external_id_source.as_str()) {
        problems.push(format!(
            "externalId is {}, not from {}: after login, users have no subscription (API calls fail)",
            source.map_or("not mapped".to_owned(), |s| format!("mapped from {s}")),
            req.external_id_source
        ));
    }
    if !m.unsupported.is_empty() {
        problems.push(format!(
            "attributes Kiro's SCIM endpoint does not support are mapped ({}): provisioning fails",
            m.unsupported.join(", ")
        ));
    }
    let required: Vec<&String> = m.missing_required.iter().filter(|r| *r != "externalId" || source.is_some()).collect();
    if !required.is_empty() {
        let names: Vec<&str> = required.iter().map(|s| s.as_str()).collect();
        problems.push(format!("{} not mapped: Kiro requires userName, externalId and active", names.join(", ")));
    }
    for (enabled, what) in [(m.users_enabled, "Users"), (m.groups_enabled, "Groups")] {
        if !enabled {
            problems.push(format!("Provision {what} is off: Entra sends Kiro no {}", what.to_lowercase()));
        }
    }
    problems
}

fn mapping_finding(m: &schema::Mappings, req: &EntraRequirements, fix: bool, name: &str) -> Finding {
    let redo = "; if users were already provisioned with the wrong externalId, delete their Kiro subscriptions and provision again";
    let mut finding = Finding::new(
        "entra.scim_mapping",
        Severity::Error,
        format!("the provisioning attribute mapping is not as Kiro needs it: {}", mapping_problems(m, req).join("; ")),
        fix_hint(
            fix,
            format!("apply maps externalId from {} and removes the unsupported attributes{redo}", req.external_id_source),
            &format!(
                "Enterprise applications → {name} → Provisioning → Mappings: externalId from {}, the unsupported attributes deleted, Provision Users and Provision Groups on{redo}",
                req.external_id_source
            ),
        ),
    )
    .at(provisioning_address(name))
    .evidence(format!("externalId ← {}", m.external_id_source.as_deref().unwrap_or("(not mapped)")));
    for u in &m.unsupported {
        finding = finding.evidence(format!("unsupported attribute mapped: {u}"));
    }
    finding
}

/// A job without its Admin Credentials, which `fix_settings: false` leaves as it is (with it,
/// the update that saves them says so).
fn credentials_finding(tenant: &Tenant, name: &str) -> Finding {
    let saved: Vec<&str> = tenant.secrets.iter().map(|(k, _)| k.as_str()).collect();
    Finding::new(
        "entra.scim_credentials_missing",
        Severity::Error,
        "the provisioning job has no SCIM endpoint or token saved: Entra cannot reach Kiro's SCIM endpoint, so users and groups are not provisioned",
        unfixed_hint(&format!("Enterprise applications → {name} → Provisioning → Admin Credentials: Tenant URL and Secret Token from the Kiro console, Test Connection, Save")),
    )
    .at(provisioning_address(name))
    .evidence(format!("saved keys: {}", if saved.is_empty() { "(none)".into() } else { saved.join(", ") }))
}

fn provisioning_findings(
    tenant: &Tenant,
    (req, prov, fix): (&EntraRequirements, &EntraProvisioning, bool),
    name: &str,
    out: &mut Vec<Finding>,
) {
    let address = provisioning_address(name);
    if let Some(m) = mapping_wrong(tenant, req) {
        out.push(mapping_finding(&m, req, fix, name));
    }
    let Some(job) = &tenant.job else { return };
    if !fix && credentials_missing(tenant) {
        out.push(credentials_finding(tenant, name));
    }
    let status = &job.status;
    let code = status.code.as_str();
    let console = format!("Enterprise applications → {name} → Provisioning → Start provisioning");
    if code == "Quarantine" {
        let q = status.quarantine.clone().unwrap_or_default();
        let last_error = status.last_execution.as_ref().and_then(|l| l.error.as_ref()).and_then(|e| e.message.clone());
        let error = q.error.and_then(|e| e.message).or(last_error).unwrap_or_else(|| "(no error given)".into());
        let then = if prov.start {
            "then apply, which saves the plan's SCIM credentials again and restarts the job".to_owned()
        } else {
            format!(
                "then restart the job in the console ({console}), or set `entra.provisioning.start: true` to let apply save the plan's SCIM credentials again and restart it"
            )
        };
        out.push(
            Finding::new(
                "entra.provisioning_quarantine",
                Severity::Error,
                format!("the provisioning job is in quarantine ({}): users and groups are not reaching Kiro", q.reason.as_deref().unwrap_or("unknown reason")),
                format!("fix the cause (most often a revoked or expired SCIM token: generate a new one in the Kiro console and point `entra.provisioning.scim_token` at it), {then}"),
            )
            .at(address.clone())
            .evidence(format!("last error: {error}")),
        );
    } else if status.last_execution.is_none() || matches!(code, "NotRun" | "NotConfigured") {
        let fix = if prov.start {
            format!(
                "apply starts the job and provisions `entra.provisioning.provision_on_demand` groups at once (Provisioning → Provision on demand); Entra's own cycle runs {}",
                req.provisioning_push
            )
        } else {
            format!(
                "`entra.provisioning.start: false` leaves it stopped: set `entra.provisioning.start: true` to let apply start the job and provision the `provision_on_demand` groups, or start it in the console ({console}); Entra's own cycle then runs {}",
                req.provisioning_push
            )
        };
        out.push(
            Finding::new(
                "entra.provisioning_never_run",
                Severity::Warning,
                "provisioning has never run: users and groups do not appear in the Kiro console",
                fix,
            )
            .at(address)
            .evidence(format!("job status: {code}")),
        );
    }
}

type Reconciled = crate::steps::reconciled::Reconciled<Change>;

/// Every object of the step, one kind after the other: the app registration with its service
/// principal, the group assignments, the provisioning job.
pub fn diff(plan: &Entra, req: &EntraRequirements, scopes: &[String], tenant: Tenant) -> Checked<Observed> {
    let mut observed = Observed {
        tenant: Tenant::default(),
        app: None,
        assign: Vec::new(),
        unassign: Vec::new(),
        provisioning: None,
        require_assignment: false,
    };
    let mut out = match &tenant.app {
        None => create_application(plan, req, scopes, &tenant.not_from_template),
        Some(app) => reconcile_application(plan, req, scopes, app, &tenant, &mut observed),
    };
    out.add(reconcile_duplicates(&tenant));
    out.add(reconcile_group_assignments(plan, &tenant, &mut observed.assign));
    out.add(reconcile_other_assignments(plan, &tenant, &mut observed.unassign));
    if let Some(prov) = &plan.provisioning {
        let (reconciled, work) = reconcile_provisioning(plan, prov, req, &tenant);
        out.add(reconciled);
        observed.provisioning = Some(work);
    }
    let fingerprint = fingerprint(&tenant);
    observed.tenant = tenant;
    Checked { changes: out.planned, findings: out.findings, unchanged: out.unchanged, fingerprint, read: observed }
}

/// A digest of what the changes were computed from.
fn fingerprint(tenant: &Tenant) -> String {
    let digest = Sha256::digest(
        json!({
            "app": tenant.app, "duplicates": tenant.duplicates.iter().map(|a| &a.id).collect::<Vec<_>>(), "assignments": tenant.assignments.iter().map(|a| &a.id).collect::<Vec<_>>(),
            "job": tenant.job.as_ref().map(|j| (&j.id, &j.schedule.state)), "schema": tenant.schema,
            "secrets": tenant.secrets,
        })
        .to_string()
        .as_bytes(),
    );
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// The app registration from the Custom (non-gallery) template, as Kiro needs it; apps of that
/// name made otherwise are a finding (kiro-onboard does not find them, so the admin learns that
/// a second app of the name is coming, beside theirs).
fn create_application(plan: &Entra, req: &EntraRequirements, scopes: &[String], others: &[Application]) -> Reconciled {
    let name = &plan.app.display_name;
    let mut after = fields! {
        "display_name" => name,
        "template" => format!("Custom (non-gallery) {CUSTOM_TEMPLATE_ID}"),
        "application_id" => KNOWN_AFTER_APPLY,
        "identifier_uris" => [req.identifier_uri.replace("{app_id}", KNOWN_AFTER_APPLY)],
        "access_token_version" => req.access_token_version,
        "scopes" => scopes,
        "redirect_uris" => req.redirect_uris,
        "assignment_required" => true,
    };
    after.insert("application_id".into(), json!(KNOWN_AFTER_APPLY));
    let change = Change::create(application_address(name), after)
        .unknown_after("application_id")
        .unknown_after("identifier_uris");
    let findings = others.iter().map(|other| not_from_template(other, name)).collect();
    Reconciled { planned: vec![change], findings, ..Reconciled::default() }
}

fn not_from_template(other: &Application, name: &str) -> Finding {
    Finding::new(
        "entra.app_not_from_template",
        Severity::Warning,
        format!(
            "an app named `{name}` exists (application {}) but was not made from the Custom (non-gallery) enterprise app template, which is how kiro-onboard finds Kiro's app: kiro-onboard does not use, change or delete it, and apply creates Kiro's app from the template beside it, with the same name",
            other.app_id
        ),
        "to use an app you made, create it in Enterprise applications → New application → Create your own application (non-gallery) (or let apply create it); to keep the two apart, rename the other app (App registrations → the app → Branding & properties → Name) or give `entra.app.display_name` another name",
    )
    .at(application_address(name))
    .evidence(format!("object {} created {}", other.id, other.created()))
}

/// An existing app registration (identifier URI, token version, scopes, redirect URIs) and its
/// service principal (assignment required): one change for both.
fn reconcile_application(
    plan: &Entra,
    req: &EntraRequirements,
    scopes: &[String],
    app: &Application,
    tenant: &Tenant,
    observed: &mut Observed,
) -> Reconciled {
    let name = &plan.app.display_name;
    let fix = plan.app.fix_settings;
    let mut out = Reconciled::default();
    app_findings(app, (req, scopes), fix, &mut out.findings, name);
    let target = app_target(app, req, scopes);
    let (mut before, mut after) = (target.before.clone(), target.after.clone());
    if let Some(sp) = &tenant.sp
        && !sp.requires_assignment()
    {
        out.findings.push(assignment_not_required(sp, name, fix));
        before.insert("assignment_required".into(), sp.app_role_assignment_required.clone());
        after.insert("assignment_required".into(), json!(true));
        observed.require_assignment = fix;
    }
    if after.is_empty() || !fix {
        out.unchanged.push(application_address(name));
    } else {
        out.planned.push(Change::update(application_address(name), before, after));
        if target.needs_patch() {
            observed.app = Some(target);
        }
    }
    out
}

/// The apps of the plan's name that are not Kiro's one (`election`): deleted.
fn reconcile_duplicates(tenant: &Tenant) -> Reconciled {
    let mut out = Reconciled::default();
    let kept = tenant.app.as_ref().map(|a| a.app_id.as_str()).unwrap_or_default();
    for dup in &tenant.duplicates {
        let address = duplicate_address(&dup.app_id);
        let why = if super::election::marked(dup) {
            "kiro-onboard created it (it carries its marker tag)"
        } else {
            "nothing was configured on it"
        };
        out.findings.push(
            Finding::new(
                "entra.duplicate_app",
                Severity::Warning,
                format!(
                    "a second app of this name exists (application {}); an interrupted or concurrent apply created it",
                    dup.app_id
                ),
                format!("apply deletes it and keeps application {kept}: {why}"),
            )
            .at(address.clone())
            .evidence(format!("object {} created {}", dup.id, dup.created())),
        );
        out.planned.push(
            Change::delete(
                address,
                fields! {"application_id" => dup.app_id, "object_id" => dup.id, "created" => dup.created()},
            )
            .because(format!("a duplicate of application {kept}; {why}")),
        );
    }
    out
}

/// Each group the plan names, assigned to the app (`assign`: those apply assigns).
fn reconcile_group_assignments(plan: &Entra, tenant: &Tenant, assign: &mut Vec<PlanGroup>) -> Reconciled {
    let mut out = Reconciled::default();
    for group in &tenant.groups {
        let assigned = tenant.assignments.iter().any(|a| a.principal_id == group.id);
        if assigned {
            out.unchanged.push(assignment_address(&group.key));
        } else {
            let mut after = fields! {"group" => group.display_name, "group_id" => group.id, "app_role" => "User"};
            if tenant.app.is_none() {
                after.insert("application".into(), json!(plan.app.display_name));
            }
            out.planned.push(Change::create(assignment_address(&group.key), after));
            assign.push(group.clone());
        }
    }
    out
}

/// Assignments the plan does not name: users assigned directly are reported; other principals
/// are reported, and removed with `prune_assignments` (`unassign`: (assignment id, principal)).
fn reconcile_other_assignments(plan: &Entra, tenant: &Tenant, unassign: &mut Vec<(String, String)>) -> Reconciled {
    let name = &plan.app.display_name;
    let mut out = Reconciled::default();
    for assignment in &tenant.assignments {
        let principal = assignment.principal_display_name.as_deref().unwrap_or_default();
        let principal_id = assignment.principal_id.as_str();
        if tenant.groups.iter().any(|g| g.id == principal_id) {
            continue;
        }
        if assignment.principal_type.as_deref() == Some("User") {
            out.findings.push(
                Finding::new(
                    "entra.user_assigned_directly",
                    Severity::Warning,
                    format!("user {principal} is assigned to the app directly rather than through a group"),
                    "assign users through a group the plan names (Kiro subscribes groups); remove the direct assignment under Enterprise applications → Users and groups",
                )
                .at(application_address(name))
                .evidence(format!("assignment {} (principal {principal_id})", assignment.id)),
            );
            continue;
        }
        out.findings.push(
            Finding::new(
                "entra.unmanaged_assignment",
                Severity::Warning,
                format!("{principal} is assigned to the app, but the plan does not name it"),
                if plan.prune_assignments {
                    "apply removes it (`prune_assignments: true`)".to_owned()
                } else {
                    "add it to `entra.assign_groups`, or set `entra.prune_assignments: true` to remove it".to_owned()
                },
            )
            .at(assignment_address(principal))
            .evidence(format!("principal {principal_id}")),
        );
        if plan.prune_assignments {
            out.planned.push(
                Change::delete(
                    assignment_address(principal),
                    fields! {"group" => principal, "group_id" => principal_id},
                )
                .because("prune_assignments: true"),
            );
            unassign.push((assignment.id.clone(), principal.to_owned()));
        }
    }
    out
}

/// The attribute mapping Kiro needs, as the plan shows it.
fn wanted_schema(req: &EntraRequirements) -> Value {
    json!({
        "externalId": req.external_id_source,
        "removed_attributes": req.unsupported_scim_attributes,
        "user_mapping_enabled": true,
        "group_mapping_enabled": true,
    })
}

/// The SCIM provisioning job: created, or its credentials, mapping and schedule set; and the
/// groups an earlier apply could not provision on demand yet.
fn reconcile_provisioning(
    plan: &Entra,
    prov: &EntraProvisioning,
    req: &EntraRequirements,
    tenant: &Tenant,
) -> (Reconciled, Provisioning) {
    let name = &plan.app.display_name;
    let mut out = Reconciled::default();
    provisioning_findings(tenant, (req, prov, plan.app.fix_settings), name, &mut out.findings);
    let address = provisioning_address(name);
    let Some(job) = &tenant.job else {
        let work = Provisioning {
            create_job: true,
            write_credentials: true,
            put_schema: true,
            start: prov.start,
            pending_on_demand: Vec::new(),
        };
        let mut after = fields! {
            "template" => super::SCIM_JOB_TEMPLATE,
            "scim_endpoint" => prov.scim_endpoint,
            "scim_token" => "(sensitive)",
            "mappings" => wanted_schema(req),
            "started" => prov.start,
        };
        if !prov.provision_on_demand.is_empty() {
            after.insert("provision_on_demand".into(), json!(prov.provision_on_demand));
        }
        out.planned.push(Change::create(address, after));
        return (out, work);
    };
    let (before, mut after, mut work) = job_differences((prov, plan.app.fix_settings), req, tenant, job);
    let pending = super::journal::pending_on_demand(&plan.tenant, name);
    let pending: Vec<String> = prov.provision_on_demand.iter().filter(|g| pending.contains(g)).cloned().collect();
    if !work.start && !pending.is_empty() {
        work.pending_on_demand = pending.clone();
    }
    if after.is_empty() && !work.pending_on_demand.is_empty() {
        // Nothing to write, one thing to finish: provision on demand the groups an earlier
        // apply could not (Entra had not replicated their assignment yet). A verify, not a
        // write: apply tries it, and it is pending until it holds.
        out.planned.push(Change {
            address,
            action: crate::engine::Action::Verify,
            before: None,
            after: Some(fields! {"provision_on_demand" => pending}),
            after_unknown: Vec::new(),
            reason: Some("an earlier apply found the assignment not yet replicated to provisioning".into()),
            manual: None,
        });
    } else if after.is_empty() {
        out.unchanged.push(address);
    } else {
        if !work.pending_on_demand.is_empty() {
            after.insert("provision_on_demand".into(), json!(work.pending_on_demand));
        }
        if work.start && !prov.provision_on_demand.is_empty() {
            after.insert("provision_on_demand".into(), json!(prov.provision_on_demand));
        }
        out.planned.push(Change::update(address, before, after));
    }
    (out, work)
}

/// How an existing job differs from the plan: the fields before and after, and what to write.
/// With `fix_settings: false`, missing credentials and a wrong mapping are findings only.
fn job_differences(
    (prov, fix): (&EntraProvisioning, bool),
    req: &EntraRequirements,
    tenant: &Tenant,
    job: &SynchronizationJob,
) -> (Map<String, Value>, Map<String, Value>, Provisioning) {
    let mut work = Provisioning::default();
    let mut before = Map::new();
    let mut after = Map::new();
    // None: not saved; Some(None): saved, but Graph masks the value (unknown, so no difference
    // can be seen in it).
    let saved = |key: &str| tenant.secrets.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    match saved("BaseAddress") {
        Some(Some(endpoint)) if endpoint == prov.scim_endpoint => {}
        Some(None) => {}
        _ if !fix && credentials_missing(tenant) => {}
        endpoint => {
            before.insert("scim_endpoint".into(), json!(endpoint.flatten()));
            after.insert("scim_endpoint".into(), json!(prov.scim_endpoint));
            work.write_credentials = true;
        }
    }
    if saved("SecretToken").is_none() && fix {
        before.insert("scim_token".into(), Value::Null);
        after.insert("scim_token".into(), json!("(sensitive)"));
        work.write_credentials = true;
    }
    if let Some(m) = mapping_wrong(tenant, req).filter(|_| fix) {
        before.insert(
            "mappings".into(),
            json!({
                "externalId": m.external_id_source,
                "unsupported_attributes": m.unsupported,
                "user_mapping_enabled": m.users_enabled,
                "group_mapping_enabled": m.groups_enabled,
            }),
        );
        after.insert("mappings".into(), wanted_schema(req));
        work.put_schema = true;
    }
    let (code, state) = (job.status.code.as_str(), job.schedule.state.as_str());
    if prov.start && !job_running(job) {
        before.insert("started".into(), json!(format!("{state} ({code})")));
        after.insert("started".into(), json!(true));
        work.start = true;
        if code == "Quarantine" && !credentials_missing(tenant) {
            // Most often a revoked token: the plan's credentials are saved again (and checked
            // by Graph's test connection) before the restart, so it does not go back to quarantine.
            before.insert("scim_token".into(), json!("(sensitive)"));
            after.insert("scim_token".into(), json!("(sensitive, saved again)"));
            work.write_credentials = true;
        }
    }
    (before, after, work)
}
