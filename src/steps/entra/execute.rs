//! Makes the changes `diff` decided on, in the order Graph needs: the app (created, then waited
//! for through the replication delay, then patched), the group assignments, then provisioning
//! (job, credentials checked against Kiro and saved, schema, start, on-demand). The SCIM token is
//! read only here, checked against Kiro's endpoint first, and sent to Graph only in the
//! validateCredentials and secrets calls.

use std::time::{Duration, Instant};

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::diff::{Observed, app_target};
use super::election;
use super::on_demand::{GroupResult, Pacer};
use super::read::{find_app, find_sp, list_apps, saved_secrets, scim_job};
use super::{
    CUSTOM_TEMPLATE_ID, SCIM_JOB_TEMPLATE, application_address, assignment_address, provisioning_address, schema,
};
use crate::clients::graph::Graph;
use crate::clients::graph_model::{
    AppRoleAssignment, Application, Collection, DirectoryObject, Instantiated, ServicePrincipal, SynchronizationJob,
    SynchronizationSchema, parse, parse_all,
};
use crate::engine::{Outcome, Session, Status, ToApply};
use crate::plan::model::Entra;
use crate::requirements::EntraRequirements;
use crate::steps::Context;

pub struct Executor<'a> {
    pub graph: &'a Graph,
    pub plan: &'a Entra,
    pub req: &'a EntraRequirements,
    pub scopes: &'a [String],
    pub session: &'a Session,
}

fn new_guid() -> String {
    use sha2::{Digest, Sha256};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed =
        format!("{:?}{}{}", std::time::SystemTime::now(), std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
    let mut b: [u8; 16] = Sha256::digest(seed.as_bytes())[..16].try_into().unwrap_or([0; 16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

type Step<T> = Result<T, String>;

impl Executor<'_> {
    pub async fn run(&self, ctx: &mut Context, checked: ToApply<'_, Observed>) -> Vec<Outcome> {
        let observed = checked.read;
        let name = &self.plan.app.display_name;
        let mut outcomes: Vec<Outcome> = Vec::new();
        let outcome_for = |address: &crate::engine::Address, status: Status, outcomes: &mut Vec<Outcome>| {
            if let Some(change) = checked.changes.iter().find(|c| &c.address == address) {
                outcomes.push(Outcome::new(change, status));
            }
        };

        // 1. The application and its service principal.
        let app_address = application_address(name);
        let app_and_sp = self.ensure_app(observed).await;
        let (app, sp) = match app_and_sp {
            Ok(pair) => pair,
            Err(message) => {
                outcome_for(&app_address, Status::Failed(message.clone()), &mut outcomes);
                for change in checked.changes.iter().filter(|c| c.address != app_address) {
                    outcomes
                        .push(Outcome::new(change, Status::NotAttempted(format!("the app is not ready: {message}"))));
                }
                return outcomes;
            }
        };
        if let Some(facts) = ctx.entra.as_mut() {
            facts.client_id = Some(app.app_id.clone()).filter(|id| !id.is_empty());
        }
        // `fix_settings: false` leaves an existing app as it is; an app this run made is set up.
        let fix = self.plan.app.fix_settings || observed.tenant.app.is_none();
        let mut configured = if fix { self.configure_app(&app).await } else { Ok(false) };
        if configured.is_ok() && fix {
            // Only assigned users may sign in (Kiro's guide blocks a person by removing the
            // assignment): the template sets it, someone may have turned it off.
            match self.require_assignment(&sp).await {
                Ok(changed) => configured = configured.map(|patched| patched || changed),
                Err(m) => configured = Err(m),
            }
        }
        let app_status = match &configured {
            Ok(true) => Status::Applied,
            Ok(false) => Status::AlreadyDone,
            Err(m) => Status::Failed(m.clone()),
        };
        outcome_for(&app_address, app_status, &mut outcomes);
        for (address, status) in self.delete_duplicates(observed).await {
            outcome_for(&address, status, &mut outcomes);
        }
        let sp_id = sp.id.clone();

        // 2. Group assignments.
        let role_id = user_role_id(&sp);
        for group in &observed.assign {
            let status = if self.session.is_interrupted() {
                Status::NotAttempted("interrupted".into())
            } else {
                match self.assign(&sp_id, &group.id, role_id.as_deref()).await {
                    Ok(true) => Status::Applied,
                    Ok(false) => Status::AlreadyDone,
                    Err(m) => Status::Failed(m),
                }
            };
            outcome_for(&assignment_address(&group.key), status, &mut outcomes);
        }
        for (assignment_id, principal) in &observed.unassign {
            let status = match self
                .graph
                .call(
                    Method::DELETE,
                    &format!("/servicePrincipals/{sp_id}/appRoleAssignedTo/{assignment_id}"),
                    &[],
                    None,
                )
                .await
            {
                Ok(_) => Status::Applied,
                Err(e) if e.is_not_found() => Status::AlreadyDone,
                Err(e) => Status::Failed(with_hint(e)),
            };
            outcome_for(&assignment_address(principal), status, &mut outcomes);
        }

        // 3. Provisioning.
        if let (Some(work), Some(prov)) = (&observed.provisioning, &self.plan.provisioning) {
            let address = provisioning_address(name);
            if checked.changes.iter().any(|c| c.address == address) {
                let status = if self.session.is_interrupted() {
                    Status::NotAttempted("interrupted".into())
                } else {
                    match self.provision(&sp_id, work, prov, observed).await {
                        Ok(None) => Status::Applied,
                        Ok(Some(pending)) => Status::Pending(pending),
                        Err(m) => Status::Failed(m),
                    }
                };
                outcome_for(&address, status, &mut outcomes);
            }
        }
        outcomes
    }

    /// The app and service principal: found, or created from the Custom template and waited for.
    async fn ensure_app(&self, observed: &Observed) -> Step<(Application, ServicePrincipal)> {
        let name = &self.plan.app.display_name;
        if let (Some(app), Some(sp)) = (&observed.tenant.app, &observed.tenant.sp) {
            // What the check read (a listing). A GET by id could hit a replica that has not
            // seen the last PATCH, and apply would then undo or miss it.
            return Ok((app.clone(), sp.clone()));
        }
        let existing = match &observed.tenant.app {
            Some(app) => Some(app.clone()),
            // Another apply (or an interrupted one) may have created it since the check.
            None => find_app(self.graph, name).await.map_err(|e| e.to_string())?.app,
        };
        let app = match existing {
            Some(app) => app,
            None => {
                let (object_id, created_here) = self.instantiate(name).await?;
                if created_here {
                    // Marked before anything else: wherever it is listed from now on, it is
                    // known as kiro-onboard's (election.rs).
                    let tags = json!({"tags": [super::election::MARKER_TAG]});
                    self.graph
                        .fresh(Method::PATCH, &format!("/applications/{object_id}"), Some(&tags))
                        .await
                        .map_err(with_hint)?;
                }
                self.settle(name, &object_id).await?
            }
        };
        let sp = self.wait_for_sp(&app.app_id).await?;
        Ok((app, sp))
    }

    /// Waits until listings show the app just created, then lets the election decide: when an
    /// earlier apply (killed, or run elsewhere at the same time) created one Graph did not list
    /// yet, that one is kept and this run's own is deleted. No record on this machine is needed.
    async fn settle(&self, name: &str, own: &str) -> Step<Application> {
        let started = Instant::now();
        let mut wait = Duration::from_millis(250);
        loop {
            let listed = list_apps(self.graph, name).await.map_err(|e| e.to_string())?;
            if listed.iter().any(|a| a.id == own) {
                let elected = match election::elect(listed, name) {
                    Ok(elected) => elected,
                    Err(e) => {
                        self.delete_app(own).await?;
                        return Err(format!("{e}; the app this run created was deleted again"));
                    }
                };
                let Some(app) = elected.app else { return Err(format!("no app named `{name}` is listed")) };
                if app.id != own && elected.duplicates.iter().any(|d| d.id == own) {
                    tracing::info!(
                        "another apply created `{name}` first (appId {}): deleting the one this run created",
                        app.app_id
                    );
                    self.delete_app(own).await?;
                }
                return Ok(app);
            }
            if started.elapsed() > self.graph.replication_wait {
                return Err(format!(
                    "the app `{name}` (object {own}) was created, but Graph did not list it within {} s; run apply again: it finds the app and removes any duplicate",
                    started.elapsed().as_secs()
                ));
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }

    /// The duplicates the check found (election.rs), deleted.
    async fn delete_duplicates(&self, observed: &Observed) -> Vec<(crate::engine::Address, Status)> {
        let mut out = Vec::new();
        for dup in &observed.tenant.duplicates {
            let status = match self.delete_app(&dup.id).await {
                Ok(true) => Status::Applied,
                Ok(false) => Status::AlreadyDone,
                Err(m) => Status::Failed(m),
            };
            out.push((super::duplicate_address(&dup.app_id), status));
        }
        out
    }

    /// Deletes an app registration (its service principal goes with it); gone already is done.
    async fn delete_app(&self, object_id: &str) -> Step<bool> {
        match self.graph.call(Method::DELETE, &format!("/applications/{object_id}"), &[], None).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(with_hint(e)),
        }
    }

    /// The service principal of a new app, through the replication delay.
    async fn wait_for_sp(&self, app_id: &str) -> Step<ServicePrincipal> {
        let started = Instant::now();
        let mut wait = Duration::from_millis(250);
        let sp = loop {
            match find_sp(self.graph, app_id).await.map_err(|e| e.to_string())? {
                Some(sp) => break sp,
                None if started.elapsed() < self.graph.replication_wait => {
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
                None => {
                    return Err(format!(
                        "the service principal of app {app_id} did not appear within {:?}",
                        self.graph.replication_wait
                    ));
                }
            }
        };
        let sp =
            self.graph.fresh(Method::GET, &format!("/servicePrincipals/{}", sp.id), None).await.map_err(with_hint)?;
        parse(sp, "get service principal").map_err(|e| e.to_string())
    }

    /// POST instantiate: the new app's object id, and whether this run created it. Its answer can
    /// be a 404 although the objects were created (https://github.com/hashicorp/terraform-provider-azuread/pull/1406),
    /// or lost on the way: then look the app up by name rather than POSTing again.
    async fn instantiate(&self, name: &str) -> Step<(String, bool)> {
        let body = json!({"displayName": name});
        match self
            .graph
            .call(Method::POST, &format!("/applicationTemplates/{CUSTOM_TEMPLATE_ID}/instantiate"), &[], Some(&body))
            .await
        {
            Ok(created) => {
                let created: Instantiated = parse(created, "instantiate").map_err(|e| e.to_string())?;
                Ok((created.application.id, true))
            }
            // Created or not, Graph did not say: look for it rather than create a second one.
            Err(e) if e.is_not_found() || e.answer_lost() => {
                tracing::info!("instantiate answered {}; looking the app up by name", e.status);
                let started = Instant::now();
                let mut wait = Duration::from_millis(500);
                loop {
                    if let Some(app) = find_app(self.graph, name).await.map_err(|e| e.to_string())?.app {
                        return Ok((app.id, false));
                    }
                    if started.elapsed() > self.graph.replication_wait {
                        return Err(format!("instantiating the app failed ({e}), and no app named `{name}` appeared"));
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            }
            Err(e) => Err(with_hint(e)),
        }
    }

    /// PATCHes the app until it matches Kiro's requirements. Returns whether anything changed.
    async fn configure_app(&self, app: &Application) -> Step<bool> {
        let target = app_target(app, self.req, self.scopes);
        if !target.needs_patch() {
            return Ok(false);
        }
        let path = format!("/applications/{}", app.id);
        let existing = app.scopes();
        // Scopes that are not Kiro's must be disabled in one PATCH before another removes them.
        if !target.to_disable.is_empty() {
            let disabled: Vec<_> = existing
                .iter()
                .map(|s| {
                    let mut s = s.clone();
                    if target.to_disable.contains(&s.value) {
                        s.is_enabled = Some(false);
                    }
                    s
                })
                .collect();
            self.graph
                .fresh(Method::PATCH, &path, Some(&json!({"api": {"oauth2PermissionScopes": disabled}})))
                .await
                .map_err(with_hint)?;
            self.wait_until_disabled(&path, &target.to_disable).await?;
        }
        let scopes: Vec<Value> = self
            .scopes
            .iter()
            .map(|value| match existing.iter().find(|s| &s.value == value) {
                Some(s) => {
                    let mut s = s.clone();
                    s.is_enabled = Some(true);
                    json!(s)
                }
                None => json!({
                    "id": new_guid(), "value": value, "type": "User", "isEnabled": true,
                    "adminConsentDisplayName": value, "adminConsentDescription": value,
                    "userConsentDisplayName": value, "userConsentDescription": value,
                }),
            })
            .collect();
        // Token version in the same PATCH as the identifier URI (docs/vendor-behaviour.md §2.4.2).
        let body = json!({
            "identifierUris": target.identifier_uris,
            "api": {"requestedAccessTokenVersion": self.req.access_token_version, "oauth2PermissionScopes": scopes},
            "publicClient": {"redirectUris": target.redirect_uris},
        });
        self.graph.fresh(Method::PATCH, &path, Some(&body)).await.map_err(with_hint)?;
        Ok(true)
    }

    /// Reads the app until the scopes just disabled read back disabled (writes are eventually
    /// consistent: a PATCH that removes them too soon meets a replica that still has them
    /// enabled), as hashicorp/terraform-provider-azuread `applicationDisableOauth2PermissionScopes`.
    async fn wait_until_disabled(&self, path: &str, scopes: &[String]) -> Step<()> {
        let started = Instant::now();
        let mut wait = Duration::from_millis(250);
        loop {
            let app = self.graph.fresh(Method::GET, path, None).await.map_err(with_hint)?;
            let app: Application = parse(app, "get application").map_err(|e| e.to_string())?;
            let still_enabled = app.scopes().iter().any(|s| s.is_enabled == Some(true) && scopes.contains(&s.value));
            if !still_enabled {
                return Ok(());
            }
            if started.elapsed() > self.graph.replication_wait {
                return Err(format!(
                    "the scopes {} still read back enabled {} s after they were disabled",
                    scopes.join(", "),
                    started.elapsed().as_secs()
                ));
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }

    /// Sets appRoleAssignmentRequired on the service principal when it is off. Returns whether it
    /// changed anything.
    async fn require_assignment(&self, sp: &ServicePrincipal) -> Step<bool> {
        if sp.requires_assignment() {
            return Ok(false);
        }
        let path = format!("/servicePrincipals/{}", sp.id);
        self.graph
            .fresh(Method::PATCH, &path, Some(&json!({"appRoleAssignmentRequired": true})))
            .await
            .map_err(with_hint)?;
        Ok(true)
    }

    async fn assign(&self, sp_id: &str, group_id: &str, role_id: Option<&str>) -> Step<bool> {
        let path = format!("/servicePrincipals/{sp_id}/appRoleAssignedTo");
        let existing = self.graph.list(&path, &[]).await.map_err(with_hint)?;
        let existing: Vec<AppRoleAssignment> =
            parse_all(existing, "list app role assignments").map_err(|e| e.to_string())?;
        if existing.iter().any(|a| a.principal_id == group_id) {
            return Ok(false);
        }
        let role = role_id.unwrap_or("00000000-0000-0000-0000-000000000000");
        let body = json!({"principalId": group_id, "resourceId": sp_id, "appRoleId": role});
        match self.graph.fresh(Method::POST, &path, Some(&body)).await {
            Ok(_) => Ok(true),
            // A retry whose first attempt landed (https://github.com/hashicorp/terraform-provider-azuread/pull/1896):
            // the assignment is there, which is what was asked.
            Err(e) if e.already_exists() => {
                tracing::info!(
                    "graph POST {path}: {} \"{}\": the assignment exists (an earlier attempt landed)",
                    e.status,
                    e.message
                );
                Ok(true)
            }
            Err(e) => Err(with_hint(e)),
        }
    }

    async fn provision(
        &self,
        sp_id: &str,
        work: &super::diff::Provisioning,
        prov: &crate::plan::model::EntraProvisioning,
        observed: &Observed,
    ) -> Step<Option<String>> {
        let sync = format!("/servicePrincipals/{sp_id}/synchronization");
        let job = self.ensure_job(&sync).await?;
        let job_id = job.id;
        let job_path = format!("{sync}/jobs/{job_id}");
        self.graph.fresh(Method::GET, &job_path, None).await.map_err(with_hint)?;

        if work.write_credentials || work.create_job || observed.tenant.job.is_none() {
            let token = prov.scim_token.resolve().await.map_err(|e| {
                format!("could not read the SCIM token ({e}); generate one in the Kiro console (Settings → Identity Management → Access Tokens) and store it where `entra.provisioning.scim_token` points")
            })?;
            self.save_credentials(&sync, &job_path, &prov.scim_endpoint, &token).await?;
            self.wait_for_secrets(sp_id, &prov.scim_endpoint).await?;
        }
        // Schema: GET, edit, full PUT (never PATCH), only when it differs and the plan showed
        // it (`fix_settings: false` leaves a hand-made mapping as it is).
        let current = self.graph.fresh(Method::GET, &format!("{job_path}/schema"), None).await.map_err(with_hint)?;
        let current: SynchronizationSchema = parse(current, "get provisioning schema").map_err(|e| e.to_string())?;
        let edited = schema::edit(&current, self.req);
        if work.put_schema && !schema::is_as_kiro_needs(&schema::read(&current, self.req), self.req) {
            self.graph
                .fresh(Method::PUT, &format!("{job_path}/schema"), Some(&json!(edited)))
                .await
                .map_err(with_hint)?;
        }
        let on_demand: &[String] = if work.start || work.create_job {
            if prov.start {
                // No body: sent with `Content-Length: 0` (Graph answers 411 otherwise).
                self.graph.fresh(Method::POST, &format!("{job_path}/start"), None).await.map_err(with_hint)?;
            }
            &prov.provision_on_demand
        } else {
            &work.pending_on_demand
        };
        let rule_id =
            edited.synchronization_rules.iter().flatten().next().and_then(|r| r.id.clone()).unwrap_or_default();
        // Recorded first: an apply killed on the way leaves them to the next one.
        super::journal::set_pending_on_demand(&self.plan.tenant, &self.plan.app.display_name, on_demand);
        let mut pacer = Pacer::default();
        let mut pending = Vec::new();
        let mut pending_text = Vec::new();
        for group in on_demand {
            match self.provision_group(&mut pacer, &job_path, &rule_id, group, observed).await? {
                GroupResult::Provisioned => {}
                GroupResult::Pending { left, waited } => {
                    pending_text
                        .push(format!("{group} ({left} member(s) not provisioned yet, waited {} s)", waited.as_secs()));
                    pending.push(group.clone());
                }
            }
        }
        super::journal::set_pending_on_demand(&self.plan.tenant, &self.plan.app.display_name, &pending);
        if pending.is_empty() {
            return Ok(None);
        }
        Ok(Some(format!(
            "provisioning is set up and started, but Entra has not yet replicated the assignment to provisioning for {}; Entra's own cycle provisions them ({}), or run `{}` again in a few minutes to provision them on demand now",
            pending_text.join(", "),
            self.req.provisioning_push,
            this_command()
        )))
    }

    /// The scim job: the one there is (an interrupted apply may have created it), or a new one.
    /// A new service principal answers 403/409 for a while; a POST whose answer was such an
    /// error may still have created the job, so the job list is read again before each retry.
    async fn ensure_job(&self, sync: &str) -> Step<SynchronizationJob> {
        let started = Instant::now();
        let mut wait = Duration::from_millis(500);
        loop {
            let jobs = self.graph.fresh(Method::GET, &format!("{sync}/jobs"), None).await.map_err(with_hint)?;
            let listed: Collection<SynchronizationJob> =
                parse(jobs, "list provisioning jobs").map_err(|e| e.to_string())?;
            if let Some(job) = scim_job(&listed.value) {
                return Ok(job.clone());
            }
            match self
                .graph
                .call(Method::POST, &format!("{sync}/jobs"), &[], Some(&json!({"templateId": SCIM_JOB_TEMPLATE})))
                .await
            {
                Ok(job) => return parse(job, "create the provisioning job").map_err(|e| e.to_string()),
                Err(e) if e.is_replication_lag() && started.elapsed() < self.graph.replication_wait => {
                    tracing::info!("creating the provisioning job: {} {}; looking again in {wait:?}", e.status, e.code);
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Err(with_hint(e)),
            }
        }
    }

    /// Waits until the credentials just saved are what Graph reads back (a PUT is not visible at
    /// once; TF-azuread polls GET secrets the same way): starting the job before that fails with
    /// "credentials missing". A masked value counts as seen.
    async fn wait_for_secrets(&self, sp_id: &str, endpoint: &str) -> Step<()> {
        let started = Instant::now();
        let mut wait = Duration::from_millis(250);
        loop {
            match saved_secrets(self.graph, sp_id).await {
                Ok(secrets) => {
                    let shown = |key: &str| secrets.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
                    let endpoint_seen = matches!(shown("BaseAddress"), Some(None))
                        || shown("BaseAddress").flatten().as_deref() == Some(endpoint);
                    if endpoint_seen && shown("SecretToken").is_some() {
                        return Ok(());
                    }
                }
                Err(e) if e.is_replication_lag() => {}
                Err(e) => return Err(with_hint(e)),
            }
            if started.elapsed() > self.graph.replication_wait {
                return Err(format!(
                    "the provisioning credentials were saved, but Graph did not show them within {} s; run apply again",
                    started.elapsed().as_secs()
                ));
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }

    /// Checks the token against Kiro's SCIM endpoint, then Test Connection, then saves it.
    async fn save_credentials(&self, sync: &str, job_path: &str, endpoint: &str, token: &SecretString) -> Step<()> {
        let check = crate::clients::scim::check(endpoint, token, Duration::from_secs(20)).await;
        if !check.authenticated() {
            return Err(format!(
                "Kiro's SCIM endpoint {endpoint} does not accept the SCIM token (fingerprint {}): {}; nothing was saved in Entra",
                crate::plan::secret::fingerprint(token),
                check.summary()
            ));
        }
        let credentials = json!([
            {"key": "BaseAddress", "value": endpoint},
            {"key": "SecretToken", "value": token.expose_secret()},
        ]);
        self.graph
            .fresh(
                Method::POST,
                &format!("{job_path}/validateCredentials"),
                Some(&json!({"useSavedCredentials": false, "credentials": credentials})),
            )
            .await
            .map_err(|e| format!("Entra's Test Connection failed: {}", redact(&with_hint(e), token)))?;
        let mut values = credentials.as_array().cloned().unwrap_or_default();
        values.push(json!({"key": "SyncAll", "value": "false"}));
        self.graph
            .fresh(Method::PUT, &format!("{sync}/secrets"), Some(&json!({"value": values})))
            .await
            .map_err(|e| redact(&with_hint(e), token))?;
        Ok(())
    }

    async fn provision_group(
        &self,
        pacer: &mut Pacer,
        job_path: &str,
        rule_id: &str,
        key: &str,
        observed: &Observed,
    ) -> Step<GroupResult> {
        let Some(group) = observed.tenant.groups.iter().find(|g| g.key == key || g.display_name == key) else {
            return Err(format!("`{key}` in provision_on_demand is not one of `entra.assign_groups`"));
        };
        let members = self.graph.list(&format!("/groups/{}/members", group.id), &[]).await.map_err(with_hint)?;
        let members: Vec<DirectoryObject> = parse_all(members, "list group members").map_err(|e| e.to_string())?;
        let users: Vec<String> = members
            .into_iter()
            .filter(|m| m.odata_type.as_deref().unwrap_or("#microsoft.graph.user").ends_with("user"))
            .filter(|m| !m.id.is_empty())
            .map(|m| m.id)
            .collect();
        super::on_demand::provision_group(self.graph, pacer, job_path, rule_id, &group.id, &group.display_name, &users)
            .await
    }
}

/// The command this run was started with, to run again later (shown in a pending outcome).
fn this_command() -> String {
    let args: Vec<String> = std::env::args().skip(1).map(|a| crate::steps::dns::shell_quote(&a)).collect();
    format!("kiro-onboard {}", args.join(" "))
}

/// The `User` app role of the Custom template's service principal (docs/vendor-behaviour.md §2.5).
fn user_role_id(sp: &ServicePrincipal) -> Option<String> {
    let roles: Vec<_> = sp
        .app_roles
        .iter()
        .filter(|r| r.is_enabled != Some(false) && r.allowed_member_types.iter().any(|m| m == "User"))
        .collect();
    roles
        .iter()
        .find(|r| r.display_name.as_deref() == Some("User"))
        .or_else(|| roles.first())
        .map(|r| r.id.clone())
        .filter(|id| !id.is_empty())
}

fn with_hint(e: crate::clients::graph::GraphError) -> String {
    match e.hint() {
        Some(hint) => format!("{e} (hint: {hint})"),
        None => e.to_string(),
    }
}

/// Never let a token echoed in an error message reach the output.
fn redact(text: &str, token: &SecretString) -> String {
    let secret = token.expose_secret();
    if secret.is_empty() { text.to_owned() } else { text.replace(secret, "(sensitive)") }
}
