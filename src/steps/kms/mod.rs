//! The `kms` step: Kiro's two statements in the key policy of the customer managed key that IAM
//! Identity Center encrypts with. It owns exactly those two statements (by Sid); every other
//! statement is kept as it is. With `manage: snippet` it only shows them.

mod instance;
mod refusals;
mod retire;
pub mod statements;

use std::sync::Arc;

use aws_sdk_kms::types::{KeyManagerType, KeyState};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use self::statements::{
    Form, Target, canonical, for_regions, kiro_grant_problems, kiro_statements, merge, sid, statements_of,
};
use crate::clients::aws::{Aws, remote_error};
use crate::engine::{
    Action, Address, Change, Checked, Finding, Outcome, Session, Severity, Status, ToApply, TypedStep,
};
use crate::error::Error;
use crate::plan::model::{Kms, KmsCondition, KmsManage};
use crate::steps::Context;
use crate::steps::context::IdentityCenterFacts;
use crate::steps::reconciled::Reconciled;

const KMS: &str = "kms";
const SSO_ADMIN: &str = "sso-admin";
/// KMS has exactly one key policy, named "default" (moto refuses a request without the name).
const POLICY_NAME: &str = "default";

pub struct KmsStep {
    aws: Arc<Aws>,
    plan: Kms,
    /// Plan the removal of Kiro's statements rather than their addition (`retire`).
    retire: bool,
}

/// The key and its policy as `check` read them, for `execute`.
pub struct Observed {
    key_id: String,
    key_arn: String,
    policy: Value,
    /// The statements to write, by Sid (only those that are missing or differ).
    to_write: Vec<Value>,
    /// The key policy cannot be written from here (another account): only show the statements.
    snippet_only: bool,
    /// The Sids of Kiro's statements to remove (`retire`).
    to_remove: Vec<String>,
}

pub fn statement_address(sid: &str) -> Address {
    Address::new("kms.statement", sid)
}

impl KmsStep {
    pub fn new(aws: Arc<Aws>, plan: Kms) -> Self {
        KmsStep { aws, plan, retire: false }
    }

    /// The step of `retire`: Kiro's statements, by Sid, are removed; every other one is kept.
    pub fn retiring(mut self) -> Self {
        self.retire = true;
        self
    }

    fn form(&self) -> Form {
        match self.plan.condition {
            KmsCondition::Exact => Form::Exact,
            KmsCondition::Wildcard => Form::Wildcard,
        }
    }

    /// What Identity Center says about its encryption. Needed (and its failure an error) only
    /// when the plan does not name the key; otherwise a refusal only leaves out the findings.
    async fn describe_instance(&self, instance_arn: &str, needed: bool) -> Result<Option<instance::Encryption>, Error> {
        let client = self.aws.sso_admin();
        let described = self
            .aws
            .call(SSO_ADMIN, "DescribeInstance", || client.describe_instance().instance_arn(instance_arn).send())
            .await;
        match described {
            Ok(out) => Ok(Some(instance::from_output(&out))),
            Err(e) if !needed => {
                tracing::debug!(error = %remote_error(SSO_ADMIN, "DescribeInstance", &e), "no encryption details");
                Ok(None)
            }
            Err(e) => Err(match remote_error(SSO_ADMIN, "DescribeInstance", &e) {
                Error::Remote { service, operation, message, .. } => Error::Remote {
                    service,
                    operation,
                    message,
                    hint: Some("set `kms.key` in the plan to the key Identity Center encrypts with, or allow sso:DescribeInstance".into()),
reason: None,
},
                other => other,
            }),
        }
    }

    /// The key is in another account than the Identity Center instance: GetKeyPolicy and
    /// PutKeyPolicy are not cross-account (KMS API reference, "Cross-account use: No"), and the
    /// customer managed key must be in the organization's management account (IAM Identity
    /// Center user guide, "Considerations before using a customer managed KMS key"). So the
    /// statements are shown for an admin of the key's account to add.
    fn cross_account(
        &self,
        key_arn: &str,
        key_account: &str,
        here: &str,
        wanted: Vec<Value>,
    ) -> Checked<Option<Observed>> {
        let explanation = format!(
            "key {key_arn} belongs to account {key_account}, and kiro-onboard runs in account {here}: KMS does not let another account read or write a key policy, so add this statement in account {key_account} (KMS console → the key → Key policy → Edit)"
        );
        let changes = wanted
            .iter()
            .map(|statement| {
                let address = statement_address(sid(statement).unwrap_or_default());
                Change {
                    action: Action::Manual,
                    before: None,
                    after: statement.as_object().cloned(),
                    ..Change::create(address, Map::new())
                }
                .because(explanation.clone())
            })
            .collect();
        let finding = Finding::new(
            "kms.key_in_another_account",
            Severity::Warning,
            format!("key {key_arn} is in account {key_account}, not in {here}, where kiro-onboard runs"),
            format!(
                "add Kiro's statements to the key policy in account {key_account} yourself (`kiro-onboard kms policy` prints them), or run kiro-onboard with credentials of account {key_account}"
            ),
        );
        Checked {
            changes,
            findings: vec![finding],
            unchanged: Vec::new(),
            fingerprint: Sha256::digest(format!("{key_arn}\0cross-account").as_bytes())
                .iter()
                .take(16)
                .map(|b| format!("{b:02x}"))
                .collect(),
            read: Some(Observed {
                key_id: String::new(),
                key_arn: key_arn.to_owned(),
                policy: Value::Null,
                to_write: wanted,
                snippet_only: true,
                to_remove: Vec::new(),
            }),
        }
    }

    async fn check_now(&self, ctx: &mut Context) -> Result<Checked<Option<Observed>>, Error> {
        let (facts, target) = instance_target(ctx)?;
        let encryption = self.describe_instance(&facts.instance_arn, self.plan.key.is_none()).await?;
        let key = match (&self.plan.key, encryption.as_ref().and_then(|e| e.customer_key.clone())) {
            (Some(key), _) => key.clone(),
            (None, Some(key)) => key,
            (None, None) => return Ok(aws_owned_key()),
        };
        let encryption = encryption.unwrap_or_default();
        let mut instance_findings = instance::status_findings(&encryption, &key);
        instance_findings.extend(instance::multi_region_finding(&encryption, &key, &facts.region));
        let wanted_statements = for_regions(kiro_statements(&target, self.form()), &facts.region, &encryption.regions);
        // GetKeyPolicy and PutKeyPolicy are not cross-account (KMS API reference, "Cross-account
        // use: No"): what counts is the account the credentials are in, e.g. a delegated
        // administrator's, not only the instance's owner (the management account).
        let caller = self.aws.caller_account().await;
        if let (Some(key_account), Some(here)) = (
            key.strip_prefix("arn:").and_then(|rest| rest.split(':').nth(3)),
            caller.as_deref().or(facts.owner_account.as_deref()),
        ) && !key_account.is_empty()
            && key_account != here
        {
            let mut checked = self.cross_account(&key, key_account, here, wanted_statements);
            checked.findings.extend(instance_findings);
            return Ok(checked);
        }

        // KMS is regional: a key ARN from another Region is not even found from this one.
        if let Some(key_region) = key.strip_prefix("arn:").and_then(|rest| rest.split(':').nth(2))
            && key_region != facts.region
        {
            return Err(region_mismatch(&key, key_region, &facts.region));
        }
        let (key_id, key_arn) = self.describe_key(&key, &facts.region).await?;
        let (text, policy) = self.read_key_policy(&key_id, &key_arn).await?;
        let statements = if self.retire {
            retire::removals(&policy, &wanted_statements, self.plan.manage, &key_arn)
        } else {
            self.reconcile_statements(&policy, wanted_statements, &key_arn)?
        };
        let mut findings = grant_findings(&policy, &key_arn);
        findings.extend(instance_findings);
        // What PutKeyPolicy would refuse in the policy as it stands: apply will not write.
        findings.extend(
            refusals::refusals(&policy)
                .into_iter()
                .map(|r| Finding::new(r.code, Severity::Error, r.message, r.fix).evidence(format!("key {key_arn}"))),
        );
        let fingerprint = Sha256::digest(format!("{key_arn}\0{text}").as_bytes())
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect();
        let (changes, to_write): (Vec<Change>, Vec<Value>) = statements.planned.into_iter().unzip();
        let (to_write, to_remove) = if self.retire {
            (Vec::new(), to_write.iter().filter_map(|s| sid(s).map(str::to_owned)).collect())
        } else {
            (to_write, Vec::new())
        };
        Ok(Checked {
            changes,
            findings,
            unchanged: statements.unchanged,
            fingerprint,
            read: Some(Observed { key_id, key_arn, policy, to_write, snippet_only: false, to_remove }),
        })
    }

    /// The key's id and ARN, once it is known to be a customer managed key, enabled, in the
    /// instance's Region.
    async fn describe_key(&self, key: &str, region: &str) -> Result<(String, String), Error> {
        let client = self.aws.kms();
        let metadata = self
            .aws
            .call(KMS, "DescribeKey", || client.describe_key().key_id(key).send())
            .await
            .map_err(|e| {
                let mut error = remote_error(KMS, "DescribeKey", &e);
                if let Error::Remote { hint, .. } = &mut error
                    && e.as_service_error().is_some_and(|s| s.is_not_found_exception()) {
                        *hint = Some(format!("no key `{key}` in {region}: check `kms.key` (key id, key ARN or alias/NAME in the Identity Center Region)"));
                    }
                error
            })?
            .key_metadata
            .ok_or_else(|| Error::Precondition { message: format!("KMS described key `{key}` without its metadata"), hint: "run again; if it persists, check the key in the KMS console".into() })?;
        let key_arn = metadata.arn().unwrap_or_default().to_owned();
        if metadata.key_manager() != Some(&KeyManagerType::Customer) {
            return Err(Error::Precondition {
                message: format!("key {key_arn} is managed by AWS: its key policy cannot be changed"),
                hint: "Kiro's statements go on a customer managed key; if Identity Center uses an AWS owned key, remove the `kms` section".into(),
            });
        }
        if metadata.key_state() != Some(&KeyState::Enabled) {
            return Err(Error::Precondition {
                message: format!(
                    "key {key_arn} is {}, not enabled",
                    metadata.key_state().map(|s| s.as_str().to_owned()).unwrap_or_else(|| "in an unknown state".into())
                ),
                hint: "enable the key (or cancel its deletion) in the KMS console before giving Kiro access to it"
                    .into(),
            });
        }
        let key_region = key_arn.split(':').nth(3).unwrap_or_default();
        if key_region != region {
            return Err(Error::Precondition {
                message: format!("key {key_arn} is in {key_region}, but the Identity Center instance is in {region}"),
                hint: "use the key Identity Center encrypts with, in the instance's Region".into(),
            });
        }
        Ok((metadata.key_id().to_owned(), key_arn))
    }

    /// The key policy, as text (for the fingerprint) and parsed.
    async fn read_key_policy(&self, key_id: &str, key_arn: &str) -> Result<(String, Value), Error> {
        let client = self.aws.kms();
        let text = self
            .aws
            .call(KMS, "GetKeyPolicy", || client.get_key_policy().key_id(key_id).policy_name(POLICY_NAME).send())
            .await
            .map_err(|e| remote_error(KMS, "GetKeyPolicy", &e))?
            .policy
            .unwrap_or_default();
        let policy = statements::parse_policy(&text).map_err(|reason| Error::Precondition {
            message: format!("the key policy of {key_arn} {reason}"),
            hint: "fix the key policy in the KMS console first; kiro-onboard only edits policies it can read".into(),
        })?;
        Ok((text, policy))
    }

    /// Kiro's statements, one by one by Sid: each planned change with the statement it writes.
    fn reconcile_statements(
        &self,
        policy: &Value,
        wanted_statements: Vec<Value>,
        key_arn: &str,
    ) -> Result<Reconciled<(Change, Value)>, Error> {
        let existing = statements_of(policy);
        let mut out = Reconciled::default();
        for wanted in wanted_statements {
            let sid = sid(&wanted).unwrap_or_default().to_owned();
            let address = statement_address(&sid);
            let current = existing.iter().find(|s| statements::sid(s) == Some(sid.as_str()));
            let change = match current {
                Some(current) if canonical(current) == canonical(&wanted) => {
                    out.unchanged.push(address);
                    continue;
                }
                Some(current) => {
                    let (before, after) = differing_fields(current, &wanted);
                    Change::update(address, before, after)
                }
                None => Change::create(address, wanted.as_object().cloned().unwrap_or_default()),
            };
            let change = match self.plan.manage {
                KmsManage::Merge => change,
                KmsManage::Snippet => {
                    Change { action: Action::Manual, before: None, after: wanted.as_object().cloned(), ..change }
                        .because(format!(
                            "manage: snippet — add this statement to the key policy of {key_arn} yourself"
                        ))
                }
            };
            out.planned.push((change, wanted));
        }
        if self.plan.manage == KmsManage::Merge && !out.planned.is_empty() {
            // Refuse now, at plan time, rather than half way through an apply.
            let to_write: Vec<Value> = out.planned.iter().map(|(_, statement)| statement.clone()).collect();
            merge(policy, &to_write).map_err(|message| Error::Precondition {
                message: format!("{message} (key {key_arn})"),
                hint: "remove unused statements from the key policy, or use `manage: snippet` and add Kiro's statements yourself".into(),
            })?;
        }
        Ok(out)
    }

    async fn execute_now(&self, checked: ToApply<'_, Option<Observed>>) -> Vec<Outcome> {
        // With an AWS owned key nothing is planned, so there is nothing to execute either.
        let Some(observed) = checked.read else { return Vec::new() };
        if self.plan.manage == KmsManage::Snippet || observed.snippet_only {
            return checked.all(Status::Pending(format!(
                "add this statement to the key policy of {} (`kiro-onboard kms policy` prints it); the next plan checks it",
                observed.key_arn
            )));
        }
        let refused = refusals::refusals(&observed.policy);
        if !refused.is_empty() {
            // Refuse before writing: KMS would reject the whole document, so nothing is gained
            // by sending it, and the admin must fix the policy first.
            return checked.all(Status::Failed(format!(
                "not written: KMS would refuse the key policy of {} as it is: {} (hint: {})",
                observed.key_arn,
                refused.iter().map(|r| r.message.as_str()).collect::<Vec<_>>().join("; "),
                refused[0].fix
            )));
        }
        let document = if self.retire {
            statements::remove(&observed.policy, &observed.to_remove)
        } else {
            merge(&observed.policy, &observed.to_write)
        };
        let status = match document {
            Err(message) => Status::Failed(message),
            Ok(merged) => {
                let client = self.aws.kms();
                // Never BypassPolicyLockoutSafetyCheck: KMS must refuse a policy that would lock
                // the caller out of the key.
                match self
                    .aws
                    .call(KMS, "PutKeyPolicy", || {
                        client.put_key_policy().key_id(&observed.key_id).policy_name(POLICY_NAME).policy(&merged).send()
                    })
                    .await
                {
                    Ok(_) => Status::Applied,
                    Err(e) => {
                        let error = remote_error(KMS, "PutKeyPolicy", &e);
                        Status::Failed(match error.hint() {
                            Some(hint) => format!("{error} (hint: {hint})"),
                            None => error.to_string(),
                        })
                    }
                }
            }
        };
        checked.all(status)
    }
}

/// The Identity Center instance the statements name, as its step read it.
fn instance_target(ctx: &Context) -> Result<(IdentityCenterFacts, Target), Error> {
    let facts = ctx.identity_center.clone().ok_or_else(|| Error::Precondition {
        message: "the kms step needs the Identity Center instance, which was not read".into(),
        hint: "this is a bug in kiro-onboard; please report it".into(),
    })?;
    let Some(identity_store_arn) = facts.identity_store_arn.clone() else {
        return Err(Error::Precondition {
            message: "IAM Identity Center did not report its identity store ARN or owner account".into(),
            hint: "Kiro's statements name the identity store ARN; check that ListInstances returns OwnerAccountId for this instance".into(),
        });
    };
    let target = Target::new(&facts.instance_arn, &identity_store_arn, &facts.region)?;
    Ok((facts, target))
}

/// Identity Center encrypts with an AWS owned key: nothing for Kiro to add.
fn aws_owned_key() -> Checked<Option<Observed>> {
    let finding = Finding::new(
        "kms.aws_owned_key",
        Severity::Info,
        "IAM Identity Center encrypts with an AWS owned key: Kiro needs no key-policy statements",
        "nothing to do; remove the `kms` section, or set `kms.key` if Identity Center is about to switch to a customer managed key",
    );
    Checked {
        changes: Vec::new(),
        findings: vec![finding],
        unchanged: Vec::new(),
        fingerprint: "aws-owned-key".into(),
        read: None,
    }
}

/// Statements that give Kiro (or anyone through it) more than Kiro needs.
fn grant_findings(policy: &Value, key_arn: &str) -> Vec<Finding> {
    kiro_grant_problems(policy)
        .into_iter()
        .map(|(code, message)| {
            let severity = if code == "kms.kiro_grant_too_broad" { Severity::Error } else { Severity::Warning };
            Finding::new(&code, severity, message, "Kiro needs only kms:Decrypt, and only through Identity Center (kms:ViaService); narrow the statement to Kiro's own (kiro-onboard kms policy prints them)")
                .evidence(format!("key {key_arn}"))
        })
        .collect()
}

fn region_mismatch(key: &str, key_region: &str, instance_region: &str) -> Error {
    Error::Precondition {
        message: format!("key {key} is in {key_region}, but the Identity Center instance is in {instance_region}"),
        hint: "use the key Identity Center encrypts with, which is always in the instance's Region".into(),
    }
}

/// The top-level fields of two statements that differ in meaning.
fn differing_fields(current: &Value, wanted: &Value) -> (Map<String, Value>, Map<String, Value>) {
    let empty = Map::new();
    let current_map = current.as_object().unwrap_or(&empty);
    let wanted_map = wanted.as_object().unwrap_or(&empty);
    let mut before = Map::new();
    let mut after = Map::new();
    let keys = wanted_map.keys().chain(current_map.keys().filter(|k| !wanted_map.contains_key(*k)));
    for key in keys {
        let (now, then) = (current_map.get(key), wanted_map.get(key));
        if now.map(canonical) != then.map(canonical) {
            before.insert(key.clone(), now.cloned().unwrap_or(Value::Null));
            after.insert(key.clone(), then.cloned().unwrap_or(Value::Null));
        }
    }
    (before, after)
}

impl TypedStep<Context> for KmsStep {
    /// `None` when Identity Center uses an AWS owned key: then there is no key to read.
    type Read = Option<Observed>;

    fn name(&self) -> &'static str {
        "kms"
    }

    async fn check(&self, ctx: &mut Context, _session: &Session) -> Result<Checked<Option<Observed>>, Error> {
        self.check_now(ctx).await
    }

    async fn execute(
        &self,
        _ctx: &mut Context,
        planned: ToApply<'_, Option<Observed>>,
        _session: &Session,
    ) -> Vec<Outcome> {
        self.execute_now(planned).await
    }
}
