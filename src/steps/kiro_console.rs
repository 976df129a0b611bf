//! The `kiro_console` step: what only a person can do in the Kiro console, as `manual` changes
//! with every value filled in, in the order they can be done. Texts are data
//! (templates/console.yaml). kiro-onboard cannot see these steps happen, so the plan records them
//! (`kiro.console`); in an interactive apply the admin confirms each one as it comes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::engine::change::KNOWN_AFTER_APPLY;
use crate::engine::{Address, Change, Checked, Console, ManualStep, Outcome, Session, Status, ToApply, TypedStep};
use crate::error::Error;
use crate::plan::Plan;
use crate::requirements::Requirements;
use crate::steps::Context;

const TEMPLATES: &str = include_str!("../../templates/console.yaml");

/// The kind of the first-sign-in step's address; its key is the identity store id.
pub const FIRST_SIGN_IN: &str = "identity_center.first_sign_in";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Templates {
    steps: BTreeMap<String, Template>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Template {
    title: String,
    console: Console,
    #[serde(rename = "where")]
    location: String,
    instructions: Vec<String>,
    values: Map<String, Value>,
    #[serde(default)]
    record: Option<String>,
    verify: String,
    #[serde(default)]
    wait: Option<Wait>,
    /// The IAM actions Kiro documents for doing this step in the console.
    #[serde(default)]
    permissions: Vec<String>,
}

/// What to wait for after a step: one text, or one per path (`identity_center`, `entra`,
/// `okta`), chosen by the `{path}` the step is made for, so that no path shows another's text.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Wait {
    One(String),
    PerPath(BTreeMap<String, String>),
}

impl Wait {
    fn text(&self, vars: &BTreeMap<&str, String>) -> Option<String> {
        match self {
            Wait::One(text) => Some(fill(text, vars)),
            Wait::PerPath(texts) => vars.get("path").and_then(|path| texts.get(path)).map(|text| fill(text, vars)),
        }
    }
}

fn templates() -> &'static Templates {
    static PARSED: OnceLock<Templates> = OnceLock::new();
    PARSED.get_or_init(|| serde_saphyr::from_str(TEMPLATES).expect("templates/console.yaml is valid (tested)"))
}

/// Fills `{name}` placeholders; a value not known yet reads "(known after apply)".
fn fill(text: &str, vars: &BTreeMap<&str, String>) -> String {
    let mut out = text.to_owned();
    for (name, value) in vars {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

fn manual_change(address: Address, id: &str, vars: &BTreeMap<&str, String>, needs: Vec<Address>) -> Change {
    let template = &templates().steps[id];
    let values = template
        .values
        .iter()
        .map(|(k, v)| (fill(k, vars), Value::String(fill(v.as_str().unwrap_or_default(), vars))))
        .collect();
    let step = ManualStep {
        title: fill(&template.title, vars),
        console: template.console,
        location: fill(&template.location, vars),
        instructions: template.instructions.iter().map(|line| fill(line, vars)).collect(),
        record: template.record.as_deref().map(|r| fill(r, vars)),
        verify: fill(&template.verify, vars),
        wait: template.wait.as_ref().and_then(|w| w.text(vars)),
        needs,
        permissions: template.permissions.clone(),
    };
    Change::manual(address, values, step)
}

pub struct KiroConsoleStep {
    plan: Plan,
    requirements: &'static Requirements,
    /// Where a step the admin confirms in an interactive apply can be recorded.
    plan_file: Option<PathBuf>,
    /// Users this command found still to create. Once apply has created them the next check no
    /// longer sees them as new, yet they are exactly the ones that need a one-time password now.
    created_this_run: Mutex<Vec<String>>,
}

impl KiroConsoleStep {
    pub fn new(plan: Plan, requirements: &'static Requirements) -> Self {
        KiroConsoleStep { plan, requirements, plan_file: None, created_this_run: Mutex::new(Vec::new()) }
    }

    /// Offer to record confirmed steps in this plan file (only when a person confirms them).
    pub fn recording_in(mut self, plan_file: impl Into<PathBuf>) -> Self {
        self.plan_file = Some(plan_file.into());
        self
    }

    /// The console steps the plan still shows, worked out offline (nothing is read remotely, so a
    /// SCIM token is not checked and values found by other steps read "(known after apply)").
    pub fn pending(plan: &Plan, requirements: &'static Requirements) -> Vec<Change> {
        KiroConsoleStep::new(plan.clone(), requirements).changes(&Context::default(), None)
    }

    /// Every console step the plan can have, as if none were recorded yet: tells a step that is
    /// recorded already from an address the plan has no step for.
    pub fn possible(plan: &Plan, requirements: &'static Requirements) -> Vec<Change> {
        let mut fresh = plan.clone();
        fresh.kiro.console.profile_created = false;
        fresh.kiro.console.subscribe.iter_mut().for_each(|s| s.done = false);
        let unsubscribed = std::mem::take(&mut fresh.kiro.console.unsubscribed);
        fresh.kiro.console.unsubscribe.extend(unsubscribed);
        if let Some(provisioning) = fresh.okta.as_mut().and_then(|o| o.provisioning.as_mut()) {
            provisioning.done = false;
        }
        fresh.domains.iter_mut().for_each(|d| d.token = None);
        if let Some(idc) = fresh.identity_center.as_mut()
            && idc.first_sign_in == Some(crate::plan::model::FirstSignIn::EmailOtp)
        {
            idc.first_sign_in = None;
        }
        KiroConsoleStep::new(fresh, requirements).changes(&Context::default(), Some("not checked offline"))
    }

    /// After the admin confirmed `change` at the prompt: offer to record it in the plan file, as
    /// a reviewed minimal edit. Returns what was recorded, if anything.
    fn offer_record(&self, change: &Change, record: &str) -> Option<String> {
        use crate::plan::record::{PlanFileEdit, RecordLine, RecordValue};
        let plan_file = self.plan_file.as_ref()?;
        let file = plan_file.display().to_string();
        let line = RecordLine::parse(record).ok()?;
        let value = match line.value.clone() {
            RecordValue::Known(value) => value,
            RecordValue::Placeholder(what) => {
                let answer =
                    crate::output::ask_line(&format!("Paste {what} to record it in {file} (Enter to skip): "))?;
                serde_json::Value::String(answer)
            }
        };
        let recorded = line.describe(&value);
        match PlanFileEdit::record(plan_file, &line, &value) {
            Ok(None) => Some(format!("already recorded in {file}")),
            Ok(Some(edit)) => {
                if !crate::output::ask_record(&edit.edit.diff(&file), &file) {
                    return None;
                }
                match edit.write() {
                    Ok(()) => Some(format!("recorded `{recorded}` in {file}")),
                    Err(e) => {
                        crate::output::warning(&format!("{}: {e}", change.address));
                        None
                    }
                }
            }
            Err(e) => {
                let hint = e.hint().map(|h| format!("\n{}", crate::output::hint_line(&h))).unwrap_or_default();
                crate::output::warning(&format!("{}: {e}{hint}", change.address));
                None
            }
        }
    }

    /// Whether the SCIM token the plan points at authenticates at Kiro's endpoint (safe to show:
    /// never the token). A token absent from this environment is neither: it was not checked.
    async fn scim_token_state(&self) -> Option<ScimTokenState> {
        let prov = self.plan.entra.as_ref()?.provisioning.as_ref()?;
        let token = match prov.scim_token.resolve().await {
            Ok(token) => token,
            Err(e) => {
                return Some(match e.absent_here() {
                    Some(missing) => ScimTokenState::Absent(missing),
                    None => ScimTokenState::Problem(format!("the token reference does not resolve: {e}")),
                });
            }
        };
        let check = crate::clients::scim::check(&prov.scim_endpoint, &token, std::time::Duration::from_secs(20)).await;
        if check.authenticated() {
            None
        } else {
            Some(ScimTokenState::Problem(format!(
                "token {}: {}",
                crate::plan::secret::fingerprint(&token),
                check.summary()
            )))
        }
    }

    /// The finding for a SCIM token this environment does not have: said as such, never as a
    /// reason to generate a new one (a profile holds only a few, and the saved one may be fine).
    fn scim_token_absent(&self, missing: &str) -> Option<crate::engine::Finding> {
        let entra = self.plan.entra.as_ref()?;
        Some(
            crate::engine::Finding::new(
                "kiro_console.scim_token_not_available",
                crate::engine::Severity::Info,
                format!(
                    "the SCIM token is not available here ({missing}): it was not checked against Kiro's SCIM endpoint"
                ),
                format!(
                    "nothing to generate: give this run `entra.provisioning.scim_token` ({}) to have it checked",
                    entra.provisioning.as_ref().map(|p| p.scim_token.describe()).unwrap_or_default()
                ),
            )
            .at(Address::new("kiro_console.scim_token", &entra.app.display_name)),
        )
    }

    fn changes(&self, ctx: &Context, scim_problem: Option<&str>) -> Vec<Change> {
        let kiro = &self.plan.kiro;
        let idc = ctx.identity_center.as_ref();
        let mut vars = BTreeMap::new();
        vars.insert("profile_region", kiro.profile_region.clone());
        vars.insert("instance_arn", idc.map(|i| i.instance_arn.clone()).unwrap_or_else(|| KNOWN_AFTER_APPLY.into()));
        vars.insert(
            "identity_center_region",
            idc.map(|i| i.region.clone()).unwrap_or_else(|| KNOWN_AFTER_APPLY.into()),
        );
        vars.insert("group_sync", self.requirements.identity_center_group_sync.clone());
        vars.insert("portal_url", idc.map(|i| i.portal_url.clone()).unwrap_or_else(|| KNOWN_AFTER_APPLY.into()));

        let entra = ctx.entra.as_ref();
        vars.insert(
            "entra_client_id",
            entra.and_then(|e| e.client_id.clone()).unwrap_or_else(|| KNOWN_AFTER_APPLY.into()),
        );
        vars.insert(
            "entra_tenant_id",
            entra.and_then(|e| e.tenant_id.clone()).unwrap_or_else(|| KNOWN_AFTER_APPLY.into()),
        );
        vars.insert("scim_token_limit", self.requirements.limits.scim_tokens.to_string());

        let mut changes = Vec::new();
        let profile = Address::new("kiro_console.profile", &kiro.profile_region);
        if let Some(plan_entra) = &self.plan.entra {
            if !kiro.console.profile_created {
                let needs = vec![Address::new("entra.application", &plan_entra.app.display_name)];
                changes.push(manual_change(profile.clone(), "profile_entra", &vars, needs));
            }
            if let (Some(prov), Some(problem)) = (&plan_entra.provisioning, scim_problem) {
                let mut vars = vars.clone();
                vars.insert("scim_endpoint", prov.scim_endpoint.clone());
                vars.insert("scim_token_ref", prov.scim_token.describe());
                vars.insert("scim_token_state", problem.to_owned());
                let mut needs = Vec::new();
                if !kiro.console.profile_created {
                    needs.push(profile.clone());
                }
                changes.push(manual_change(
                    Address::new("kiro_console.scim_token", &plan_entra.app.display_name),
                    "scim_token",
                    &vars,
                    needs,
                ));
            }
        } else if self.plan.identity_center.is_some()
            && !kiro.console.profile_created
            && observed_profile(&self.plan, ctx).is_none()
        {
            changes.push(manual_change(profile.clone(), "profile_identity_center", &vars, Vec::new()));
        }
        if let Some(change) = self.first_sign_in_change(ctx, &vars) {
            changes.push(change);
        }
        if let Some(okta) = &self.plan.okta {
            self.okta_changes(okta, ctx, &vars, &profile, &mut changes);
        }
        for (index, domain) in self.plan.domains.iter().enumerate().filter(|(_, d)| d.token.is_none()) {
            let name = crate::plan::domain::normalize(&domain.name).unwrap_or_else(|_| domain.name.to_lowercase());
            let mut vars = vars.clone();
            vars.insert("domain", name.clone());
            vars.insert("record", domain.record.clone());
            vars.insert("index", index.to_string());
            let needs = if kiro.console.profile_created { Vec::new() } else { vec![profile.clone()] };
            changes.push(manual_change(Address::new("kiro_console.domain", &name), "add_domain", &vars, needs));
        }
        for (index, subscription) in kiro.console.subscribe.iter().enumerate() {
            if subscription.done || observed_subscription(&self.plan, ctx, &subscription.group) {
                continue;
            }
            let mut vars = vars.clone();
            vars.insert("group", subscription.group.clone());
            vars.insert("tier", subscription.tier.label().to_owned());
            vars.insert("index", index.to_string());
            let (path, group_kind) = if self.plan.entra.is_some() {
                ("entra", "entra.assignment")
            } else if self.plan.identity_center.is_none() && self.plan.okta.is_some() {
                ("okta", "okta.assignment")
            } else {
                ("identity_center", "identity_center.group")
            };
            vars.insert("path", path.to_owned());
            let mut needs = vec![Address::new(group_kind, &subscription.group)];
            if !kiro.console.profile_created {
                needs.insert(0, profile.clone());
            }
            changes.push(manual_change(
                Address::new("kiro_console.subscription", &subscription.group),
                "subscribe_group",
                &vars,
                needs,
            ));
        }
        let departed = super::departed::pending(&self.plan);
        changes.extend(departed.iter().map(|person| departed_change(&self.plan, ctx, &vars, person)));
        for (group, user) in ctx.member_removals.all() {
            if !kiro.console.subscribe.iter().any(|s| s.group.eq_ignore_ascii_case(group))
                || departed.iter().any(|d| d.user.eq_ignore_ascii_case(user))
            {
                continue;
            }
            let mut vars = vars.clone();
            vars.insert("group", group.clone());
            vars.insert("user", user.clone());
            let needs = vec![Address::new("identity_center.membership", &format!("{group}/{user}"))];
            changes.push(manual_change(
                Address::new("kiro_console.unsubscribe", user),
                "unsubscribe_user",
                &vars,
                needs,
            ));
        }
        changes
    }
}

impl KiroConsoleStep {
    /// Users created with the Identity Store CreateUser API have no password and get no email
    /// unless "Send email OTP for users created from API" is on; otherwise the admin generates a
    /// one-time password for each (IAM Identity Center user guide, "Email one-time password to
    /// users created with API", https://docs.aws.amazon.com/singlesignon/latest/userguide/userswithoutpwd.html).
    /// Neither the setting nor a password can be read, so:
    /// - not recorded: shown while the plan lists users, also once they exist (they still cannot
    ///   sign in), until the plan records `first_sign_in`;
    /// - `email_otp`: the setting covers every user, now and later: never shown;
    /// - `one_time_password`: a password can only be made for a user who exists, and there is
    ///   no per-user record, so it is shown for the users this command creates: by the plan, and
    ///   by the apply that creates them (after creating them), not by later runs.
    ///
    /// Offline (`console done`) the identity store is not known: the address's key reads
    /// "(known after apply)" and the step lists the plan's users.
    fn first_sign_in_change(&self, ctx: &Context, vars: &BTreeMap<&'static str, String>) -> Option<Change> {
        use crate::plan::model::FirstSignIn;
        let plan_idc = self.plan.identity_center.as_ref()?;
        if plan_idc.users.is_empty() {
            return None;
        }
        let facts = ctx.identity_center.as_ref();
        let planned: Vec<String> = plan_idc.users.iter().filter(|u| !u.absent).map(|u| u.user_name.clone()).collect();
        let (template, users) = match plan_idc.first_sign_in {
            Some(FirstSignIn::EmailOtp) => return None,
            Some(FirstSignIn::OneTimePassword) => {
                let users = match facts {
                    Some(facts) => {
                        let mut seen = self.created_this_run.lock().unwrap_or_else(|e| e.into_inner());
                        for user in &facts.users_to_create {
                            if !seen.iter().any(|s| s.eq_ignore_ascii_case(user)) {
                                seen.push(user.clone());
                            }
                        }
                        seen.clone()
                    }
                    None => planned,
                };
                ("first_sign_in_one_time_password", users)
            }
            None => ("first_sign_in_identity_center", planned),
        };
        if users.is_empty() {
            return None;
        }
        let mut vars = vars.clone();
        let shown: Vec<&str> = users.iter().take(10).map(String::as_str).collect();
        let more = users.len() - shown.len();
        vars.insert("users", if more > 0 { format!("{} and {more} more", shown.join(", ")) } else { shown.join(", ") });
        vars.insert("user_count", users.len().to_string());
        let needs = facts
            .map(|f| f.users_to_create.iter().map(|u| Address::new("identity_center.user", u)).collect())
            .unwrap_or_default();
        let store = facts.map_or(KNOWN_AFTER_APPLY, |f| f.identity_store_id.as_str());
        Some(manual_change(Address::new(FIRST_SIGN_IN, store), template, &vars, needs))
    }

    /// The Okta path: the Kiro profile takes the issuer and client id; SCIM provisioning is set
    /// up in Okta's admin console because Okta's API cannot do it for this kind of app.
    fn okta_changes(
        &self,
        okta: &crate::plan::model::Okta,
        ctx: &Context,
        vars: &BTreeMap<&'static str, String>,
        profile: &Address,
        changes: &mut Vec<Change>,
    ) {
        let facts = ctx.okta.as_ref();
        let mut vars = vars.clone();
        vars.insert("okta_org_url", okta.org_url.trim_end_matches('/').to_owned());
        vars.insert("okta_authorization_server", okta.authorization_server.clone());
        vars.insert("okta_issuer", facts.and_then(|f| f.issuer.clone()).unwrap_or_else(|| KNOWN_AFTER_APPLY.into()));
        vars.insert(
            "okta_client_id",
            facts.and_then(|f| f.client_id.clone()).unwrap_or_else(|| KNOWN_AFTER_APPLY.into()),
        );
        vars.insert("okta_scopes", crate::steps::okta::diff::kiro_scopes(okta, self.requirements).join(" "));
        vars.insert("okta_app_label", okta.app_label.clone());
        vars.insert(
            "okta_groups",
            if okta.assign_groups.is_empty() {
                "(the groups that use Kiro)".into()
            } else {
                okta.assign_groups.join(", ")
            },
        );
        let app = Address::new("okta.application", &okta.app_label);
        if !self.plan.kiro.console.profile_created {
            let mut change = manual_change(profile.clone(), "profile_okta", &vars, vec![app.clone()]);
            if facts.and_then(|f| f.client_id.as_ref()).is_none() {
                change = change.unknown_after("Client ID");
            }
            changes.push(change);
        }
        if let Some(provisioning) = okta.provisioning.as_ref().filter(|p| !p.done) {
            vars.insert("okta_provisioning_app", provisioning.app_label.clone());
            vars.insert("scim_endpoint", provisioning.scim_endpoint.clone());
            vars.insert("scim_token_source", provisioning.scim_token.describe());
            vars.insert(
                "okta_push_groups",
                if provisioning.push_groups.is_empty() {
                    "(none: okta.provisioning.push_groups is not set)".into()
                } else {
                    provisioning.push_groups.join(", ")
                },
            );
            let mut needs = vec![app];
            if !self.plan.kiro.console.profile_created {
                needs.insert(0, profile.clone());
            }
            changes.push(manual_change(
                Address::new("okta.provisioning", &provisioning.app_label),
                "provisioning_okta",
                &vars,
                needs,
            ));
        }
    }
}

/// What kiro-onboard could learn of the SCIM token here.
enum ScimTokenState {
    /// Not in this environment (`SecretError::absent_here`): not checked.
    Absent(String),
    /// There, but Kiro's endpoint does not take it (or it cannot be read).
    Problem(String),
}

/// The lasting unsubscribe step of a person the plan says left (steps/departed.rs); it follows
/// the removal of their memberships when this check plans them.
fn departed_change(
    plan: &Plan,
    ctx: &Context,
    vars: &BTreeMap<&'static str, String>,
    person: &super::departed::Departed,
) -> Change {
    let mut vars = vars.clone();
    vars.insert("user", person.user.clone());
    vars.insert("reason", person.reason.clone());
    vars.insert("seat", super::departed::seat(plan));
    vars.insert(
        "deletion",
        if person.deleted {
            format!(
                "apply deletes {} from IAM Identity Center: {}. Check that Users & Groups shows the subscription Canceled, and unsubscribe it if not.",
                person.user,
                super::identity_center::DELETION_CANCELS_SEAT
            )
        } else {
            "kiro-onboard deletes no user for this step: only the Kiro seat is cancelled here.".into()
        },
    );
    let needs = ctx
        .member_removals
        .all()
        .filter(|(_, user)| user.eq_ignore_ascii_case(&person.user))
        .map(|(group, user)| Address::new("identity_center.membership", &format!("{group}/{user}")))
        .collect();
    manual_change(Address::new("kiro_console.unsubscribe", &person.user), "unsubscribe_departed", &vars, needs)
}

/// Shows a manual step at the terminal, naming its console, and waits for the admin's answer.
fn ask_manual(change: &Change, console: &str) -> bool {
    let mut text = String::new();
    crate::engine::render::change(&mut text, change);
    crate::output::ask_manual(&format!("A step for you in {console}:"), &text)
}

/// The Kiro profile Identity Center shows as its `codewhisperer` application, if it shows one
/// (steps/identity_center/applications.rs): then the profile step is observed done. With several
/// profiles (one per Region), the one of the plan's `kiro.profile_region`
/// (`KiroProfile-<region>`, as Kiro's console names it) when it is there.
fn observed_profile<'a>(plan: &Plan, ctx: &'a Context) -> Option<&'a crate::steps::context::KiroProfileFacts> {
    let profiles = ctx.identity_center.as_ref()?.kiro_profiles.as_ref().ok()?;
    let wanted = format!("{}{}", super::identity_center::applications::KIRO_PROFILE_PREFIX, plan.kiro.profile_region);
    profiles.iter().find(|p| p.name == wanted).or_else(|| profiles.first())
}

/// Whether Identity Center shows `group` assigned to the Kiro profile (subscribed).
fn observed_subscription(plan: &Plan, ctx: &Context, group: &str) -> bool {
    observed_profile(plan, ctx).is_some_and(|p| p.groups.iter().any(|g| g.eq_ignore_ascii_case(group)))
}

/// The console steps that Identity Center shows done.
fn observed_unchanged(plan: &Plan, ctx: &Context) -> Vec<Address> {
    let Some(_) = observed_profile(plan, ctx) else { return Vec::new() };
    let mut unchanged = vec![Address::new("kiro_console.profile", &plan.kiro.profile_region)];
    for subscription in plan.kiro.console.subscribe.iter().filter(|s| observed_subscription(plan, ctx, &s.group)) {
        unchanged.push(Address::new("kiro_console.subscription", &subscription.group));
    }
    unchanged
}

/// A group subscribed to the Kiro profile that the plan does not name.
fn observed_findings(plan: &Plan, ctx: &Context) -> Vec<crate::engine::Finding> {
    let mut findings =
        ctx.identity_center.as_ref().map(|i| super::kiro_profiles::findings(plan, i)).unwrap_or_default();
    let Some(profile) = observed_profile(plan, ctx) else { return findings };
    findings.extend(unplanned_subscriptions(plan, profile));
    findings
}

/// A group subscribed to the Kiro profile that the plan does not name.
fn unplanned_subscriptions(
    plan: &Plan,
    profile: &crate::steps::context::KiroProfileFacts,
) -> Vec<crate::engine::Finding> {
    profile
        .groups
        .iter()
        .filter(|g| !plan.kiro.console.subscribe.iter().any(|s| s.group.eq_ignore_ascii_case(g)))
        .map(|group| {
            crate::engine::Finding::new(
                "kiro_console.unplanned_subscription",
                crate::engine::Severity::Warning,
                format!("group {group} is subscribed to the Kiro profile {}, but the plan does not name it", profile.name),
                format!("add {{ group: {group} }} to kiro.console.subscribe, or unsubscribe the group in the Kiro console (Users & Groups → Groups)"),
            )
            .at(Address::new("kiro_console.subscription", group))
            .evidence(format!("application {} assigns group {group}", profile.arn))
        })
        .collect()
}

impl TypedStep<Context> for KiroConsoleStep {
    /// Nothing remote is read.
    type Read = ();

    fn name(&self) -> &'static str {
        "kiro_console"
    }

    async fn check(&self, ctx: &mut Context, _session: &Session) -> Result<Checked<()>, Error> {
        let scim_state = self.scim_token_state().await;
        let scim_problem = match &scim_state {
            Some(ScimTokenState::Problem(problem)) => Some(problem.as_str()),
            _ => None,
        };
        let changes = self.changes(ctx, scim_problem);
        let mut findings = observed_findings(&self.plan, ctx);
        if let Some(ScimTokenState::Absent(missing)) = &scim_state {
            findings.extend(self.scim_token_absent(missing));
        }
        // Nothing remote is read: the fingerprint covers what the plan says is done.
        let digest = Sha256::digest(serde_json::to_string(&changes).unwrap_or_default().as_bytes());
        Ok(Checked {
            changes,
            findings,
            unchanged: observed_unchanged(&self.plan, ctx),
            fingerprint: digest.iter().take(16).map(|b| format!("{b:02x}")).collect(),
            read: (),
        })
    }

    async fn execute(&self, _ctx: &mut Context, checked: ToApply<'_, ()>, session: &Session) -> Vec<Outcome> {
        let mut outcomes = Vec::new();
        for change in checked.changes {
            let step = change.manual.as_ref();
            let record = step.and_then(|s| s.record.clone());
            let console = step.map_or(Console::Kiro.name(), |s| s.console.name());
            let status = if session.is_interrupted() {
                Status::NotAttempted("interrupted".into())
            } else if session.interactive && ask_manual(change, console) {
                let recorded = record.as_deref().and_then(|line| self.offer_record(change, line));
                Status::Confirmed(match (&record, recorded) {
                    (_, Some(recorded)) => recorded,
                    (Some(line), None) => {
                        format!("record it: set `{line}` in the plan, or the next plan shows it again")
                    }
                    (None, None) => "done".into(),
                })
            } else {
                Status::Pending(match &record {
                    Some(line) => format!("do this in {console}, then set `{line}` in the plan"),
                    None => format!("do this in {console}"),
                })
            };
            outcomes.push(Outcome::new(change, status));
        }
        outcomes
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_console_templates_parse() {
        let templates = super::templates();
        for id in [
            "profile_identity_center",
            "profile_entra",
            "scim_token",
            "subscribe_group",
            "unsubscribe_user",
            "unsubscribe_departed",
            "profile_okta",
            "provisioning_okta",
            "first_sign_in_identity_center",
            "first_sign_in_one_time_password",
        ] {
            assert!(templates.steps.contains_key(id), "{id}");
        }
    }

    /// The console as Kiro's guides describe it today (docs/vendor-behaviour.md §1.4, §1.6, §1.11).
    #[test]
    fn the_console_reads_as_it_does_today() {
        let steps = &super::templates().steps;
        let text = |id: &str| {
            let t = &steps[id];
            let wait = match &t.wait {
                Some(super::Wait::One(text)) => text.clone(),
                Some(super::Wait::PerPath(texts)) => texts.values().cloned().collect::<Vec<_>>().join(" "),
                None => String::new(),
            };
            format!("{} {} {}", t.location, t.instructions.join(" "), wait)
        };
        for id in ["profile_identity_center", "profile_entra", "profile_okta"] {
            let said = text(id);
            assert!(said.contains("Onboard your team to Kiro"), "{id}: {said}");
            assert!(said.contains("Select your identity management source"), "{id}: {said}");
            assert!(!said.contains("Sign up for Kiro"), "{id}: {said}");
        }
        for id in ["profile_entra", "profile_okta"] {
            let said = text(id);
            assert!(said.contains("External Identity Provider") && said.contains("Welcome to Kiro!"), "{id}: {said}");
        }
        assert!(text("add_domain").contains("within 24 hours of adding"), "{}", text("add_domain"));
        assert_eq!(steps["unsubscribe_user"].permissions, ["q:DeleteAssignment"]);
        assert!(text("unsubscribe_user").contains("until the end of the month"), "{}", text("unsubscribe_user"));
        assert!(text("subscribe_group").contains("Change plan"), "{}", text("subscribe_group"));
        assert!(text("subscribe_group").contains("q:UpdateAssignment"), "{}", text("subscribe_group"));
    }

    #[test]
    fn the_subscription_wait_line_belongs_to_the_path_it_is_shown_on() {
        let wait = super::templates().steps["subscribe_group"].wait.as_ref().expect("a wait line");
        for path in ["identity_center", "entra", "okta"] {
            let vars = [("path", path.to_owned()), ("group_sync", "24 hours".to_owned())].into_iter().collect();
            let text = wait.text(&vars).unwrap_or_else(|| panic!("no wait line for {path}"));
            let foreign: &[&str] = match path {
                "identity_center" => &["Entra", "Okta"],
                "entra" => &["identity_center", "Identity Center", "Okta"],
                _ => &["identity_center", "Identity Center", "Entra"],
            };
            for other in foreign {
                assert!(!text.contains(other), "{path}'s wait line names {other}: {text}");
            }
        }
    }
}
