//! The `okta` step: Kiro's OIDC native app in Okta (found by exact label or created), Kiro's two
//! scopes on a custom authorization server with an access policy and rule that let the app get
//! them, and the groups assigned. Outputs the issuer URL and client id for the Kiro console step.
//! SCIM provisioning (base URL, token, To App) cannot be set through Okta's API for this kind of
//! app: it is a console step (kiro_console), which this step verifies afterwards as far as Okta
//! shows it. What the API can do it does: the plan's groups assigned to the SCIM app and, once
//! provisioning is on, their Push Groups mappings.

mod access_policy;
mod app;
mod app_election;
mod assignments;
pub mod diff;
pub mod execute;
mod fix_settings;
mod push_groups;
pub mod read;
pub mod retire;
mod rule;
mod scopes;

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use self::diff::Planned;
use crate::clients::okta::Okta;
use crate::clients::scim::ScimCheck;
use crate::engine::{Address, Checked, Finding, Outcome, Session, Severity, ToApply, TypedStep};
use crate::error::Error;
use crate::plan::model::Okta as OktaPlan;
use crate::requirements::Requirements;
use crate::steps::Context;
use crate::steps::context::OktaFacts;

pub struct OktaStep {
    okta: Arc<Okta>,
    plan: OktaPlan,
    requirements: &'static Requirements,
}

/// The objects `check` found and the changes it planned, for `execute`.
pub struct Observed {
    planned: Vec<Planned>,
    server_id: String,
    app_id: Option<String>,
    client_id: Option<String>,
    policy_id: Option<String>,
}

impl OktaStep {
    pub fn new(okta: Arc<Okta>, plan: OktaPlan, requirements: &'static Requirements) -> Self {
        OktaStep { okta, plan, requirements }
    }

    fn policy_name(&self) -> String {
        self.plan.app_label.clone()
    }

    fn rule_name(&self) -> String {
        format!("{} access", self.plan.app_label)
    }

    async fn check_now(&self, ctx: &mut Context) -> Result<Checked<Observed>, Error> {
        let mut live = read::read(&self.okta, &self.plan, &self.policy_name(), &self.rule_name()).await?;
        read::adopt_console_policy(&self.okta, &mut live).await?;
        let diff = diff::diff(&self.plan, self.requirements, &live, &self.policy_name(), &self.rule_name());
        let mut findings = diff.findings;
        if let (Some(provisioning), Some(seen)) = (&self.plan.provisioning, &live.provisioning)
            && provisioning.done
        {
            findings.extend(self.provisioning_findings(provisioning, seen).await);
        }
        let app_id = live.app.as_ref().map(|a| a.id.clone());
        let client_id = live.client_id();
        ctx.okta = Some(OktaFacts {
            org_url: self.okta.org_url().to_owned(),
            issuer: live.server.issuer.clone(),
            audience: live.server.audiences.first().cloned(),
            client_id: client_id.clone(),
            app_label: self.plan.app_label.clone(),
        });
        let changes: Vec<_> = diff.planned.iter().map(|p| p.change.clone()).collect();
        let digest = Sha256::digest(
            format!(
                "{}|{:?}|{}",
                serde_json::to_string(&changes).unwrap_or_default(),
                app_id,
                serde_json::json!(live.server.id)
            )
            .as_bytes(),
        );
        Ok(Checked {
            changes,
            findings,
            unchanged: diff.unchanged,
            fingerprint: digest.iter().take(16).map(|b| format!("{b:02x}")).collect(),
            read: Observed {
                planned: diff.planned,
                server_id: live.server.id.clone(),
                app_id,
                client_id,
                policy_id: live.policy.as_ref().map(|p| p.id.clone()),
            },
        })
    }

    /// After the console step: what Okta shows, what the SCIM token does, and plainly what
    /// cannot be verified. An `UNKNOWN` connection is never taken for success.
    async fn provisioning_findings(
        &self,
        plan: &crate::plan::model::OktaProvisioning,
        seen: &read::ProvisioningSeen,
    ) -> Vec<Finding> {
        let address = Address::new("okta.provisioning", &plan.app_label);
        let mut out = Vec::new();
        if seen.app_id.is_none() {
            out.push(
                Finding::new(
                    "okta.provisioning_app_missing",
                    Severity::Error,
                    format!("the plan says provisioning is done, but Okta has no app labelled \"{}\"", plan.app_label),
                    "add the \"AWS IAM Identity Center\" app from the Okta catalog with this label and set up provisioning (see `kiro-onboard plan` with okta.provisioning.done: false)",
                )
                .at(address),
            );
            return out;
        }
        let wanted = ["PUSH_NEW_USERS", "PUSH_PROFILE_UPDATES", "PUSH_USER_DEACTIVATION"];
        let missing: Vec<&str> = wanted.iter().filter(|f| !seen.features.iter().any(|s| s == *f)).copied().collect();
        if !missing.is_empty() {
            out.push(
                Finding::new(
                    "okta.provisioning_actions_off",
                    Severity::Error,
                    format!("provisioning to Kiro is not fully on in \"{}\": {} missing", plan.app_label, missing.join(", ")),
                    "in Okta: the app → Provisioning → To App → Edit → enable Create Users, Update User Attributes and Deactivate Users → Save",
                )
                .at(address.clone())
                .evidence(format!("features {:?}", seen.features)),
            );
        }
        for (state, count) in &seen.sync_states {
            if state == "ERROR" || state == "OUT_OF_SYNC" {
                out.push(
                    Finding::new(
                        "okta.provisioning_errors",
                        Severity::Warning,
                        match seen.sampled {
                            Some(read) => format!(
                                "{count} of the first {read} users of \"{}\" are {state} with Kiro (a sample: the app has more)",
                                plan.app_label
                            ),
                            None => format!("{count} user(s) of \"{}\" are {state} with Kiro", plan.app_label),
                        },
                        "open the app's Provisioning tab and Okta's Tasks (Dashboard → Tasks) for the error",
                    )
                    .at(address.clone()),
                );
            }
        }
        // The finding names what the check found: a rejected token and a wrong endpoint need
        // different fixes.
        let scim_problem = match plan.scim_token.resolve().await {
            Ok(token) => {
                let result = crate::clients::scim::check(&plan.scim_endpoint, &token, Duration::from_secs(15)).await;
                (!result.authenticated()).then(|| {
                    let code = if matches!(result, ScimCheck::TokenRejected { .. }) {
                        "okta.scim_token_rejected"
                    } else {
                        "okta.scim_endpoint_unusable"
                    };
                    (code, result.summary(), result.hint().unwrap_or_default())
                })
            }
            // Absent from this environment (a CI job without the secret): not checked, and
            // nothing to fix or rotate.
            Err(e) if e.absent_here().is_some() => Some((
                "okta.scim_token_not_available",
                format!(
                    "the SCIM token is not available here ({}): it was not checked",
                    e.absent_here().unwrap_or_default()
                ),
                format!(
                    "nothing to generate: give this run `okta.provisioning.scim_token` ({}) to have it checked",
                    plan.scim_token.describe()
                ),
            )),
            Err(e) => Some((
                "okta.scim_token_rejected",
                format!("the SCIM token could not be read: {e}"),
                "fix the secret reference `okta.provisioning.scim_token` in the plan".to_owned(),
            )),
        };
        if let Some((code, problem, hint)) = scim_problem {
            let severity = if code == "okta.scim_token_not_available" { Severity::Info } else { Severity::Error };
            out.push(
                Finding::new(code, severity, format!("Kiro's SCIM endpoint {}: {problem}", plan.scim_endpoint), hint)
                    .at(address.clone()),
            );
        }
        let synced: usize = seen.sync_states.iter().filter(|(s, _)| s == "SYNCHRONIZED").map(|(_, n)| n).sum();
        let mut unverified = Finding::new(
            "okta.provisioning_unverified",
            Severity::Info,
            format!(
                "Okta's API answers {} for the provisioning connection of \"{}\": kiro-onboard cannot see which base URL and token Okta uses, so it did NOT verify that Okta sends users to {}",
                seen.connection_status, plan.app_label, plan.scim_endpoint
            ),
            "in Okta: the app → Provisioning → Integration → Test API Credentials; then check that users appear in the Kiro console",
        )
        .at(address)
        .evidence(format!("connection status {}", seen.connection_status))
        .evidence(match seen.sampled {
            Some(read) => format!("{synced} of the first {read} app users synchronized, features {:?}", seen.features),
            None => format!("{synced} app user(s) synchronized, features {:?}", seen.features),
        });
        if seen.connection_status != "UNKNOWN" {
            unverified.message = format!(
                "Okta reports the provisioning connection of \"{}\" as {}; the base URL is not compared",
                plan.app_label, seen.connection_status
            );
        }
        out.push(unverified);
        out
    }
}

impl TypedStep<Context> for OktaStep {
    type Read = Observed;

    fn name(&self) -> &'static str {
        "okta"
    }

    async fn check(&self, ctx: &mut Context, _session: &Session) -> Result<Checked<Observed>, Error> {
        self.check_now(ctx).await
    }

    async fn execute(&self, ctx: &mut Context, planned: ToApply<'_, Observed>, session: &Session) -> Vec<Outcome> {
        let observed = planned.read;
        let target = execute::Target {
            server_id: &observed.server_id,
            app_id: observed.app_id.clone(),
            client_id: observed.client_id.clone(),
            policy_id: observed.policy_id.clone(),
        };
        let (outcomes, client_id) = execute::run(&self.okta, &observed.planned, target, session).await;
        if let Some(facts) = ctx.okta.as_mut() {
            facts.client_id = client_id;
        }
        outcomes
    }
}
