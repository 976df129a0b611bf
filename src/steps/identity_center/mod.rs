//! The `identity_center` step: users, groups and memberships in the IAM Identity Center
//! directory. It owns exactly the objects the plan names, and of a group's members only those
//! the plan lists (others are reported, and removed only with `prune_members: true`).

pub mod applications;
mod diff;
pub mod directory;
mod kms_access;
mod offboarding;
mod ownership;
pub mod portal;

pub use applications::user_subscription;
pub use offboarding::DELETION_CANCELS_SEAT;

pub use directory::find_instance;
mod execute;
mod retire;

use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::clients::aws::Aws;
use crate::engine::{Checked, Outcome, Session, Status, ToApply, TypedStep};
use crate::error::Error;
use crate::plan::model::IdentityCenter;
use crate::requirements::Requirements;
use crate::steps::Context;
use crate::steps::context::IdentityCenterFacts;

pub struct IdentityCenterStep {
    aws: Arc<Aws>,
    plan: IdentityCenter,
    requirements: &'static Requirements,
    /// Plan the removal of the plan's memberships rather than the plan itself (`retire`).
    retire: bool,
    /// With `retire`: the plan's users and groups are deleted too (`--include-identities`).
    include_identities: bool,
}

/// The directory as `check` read it and the changes it planned, for `execute`.
pub struct Observed {
    directory: directory::Directory,
    planned: Vec<diff::Planned>,
}

impl IdentityCenterStep {
    pub fn new(aws: Arc<Aws>, plan: IdentityCenter, requirements: &'static Requirements) -> Self {
        IdentityCenterStep { aws, plan, requirements, retire: false, include_identities: false }
    }

    /// The step of `retire`: the memberships the plan lists are removed; users and groups kept
    /// unless `include_identities`.
    pub fn retiring(mut self, include_identities: bool) -> Self {
        self.retire = true;
        self.include_identities = include_identities;
        self
    }

    async fn check_now(&self, ctx: &mut Context) -> Result<Checked<Observed>, Error> {
        let directory = match directory::read(&self.aws, &self.plan).await {
            Ok(directory) => directory,
            Err(error) => {
                return Err(kms_access::name_the_key(&self.aws, self.plan.instance_arn.as_deref(), error).await);
            }
        };
        let diff = if self.retire {
            retire::diff(&self.plan, &directory, self.include_identities)
        } else {
            diff::diff(&self.plan, &directory, self.requirements)
        };
        ownership::refuse_writes(self.plan.identity_source, &directory, &diff.planned)?;
        let users_to_create = diff
            .planned
            .iter()
            .filter_map(|p| match &p.op {
                diff::Op::CreateUser(user) => Some(user.user_name.clone()),
                _ => None,
            })
            .collect();
        let group_names = directory.groups.values().map(|g| (g.id.clone(), g.name.clone())).collect();
        let kiro = applications::kiro_profiles(&self.aws, &directory.instance.arn, &group_names).await;
        let kiro_sign_ins_alone = kiro.as_ref().map(|k| k.lone_sign_ins.clone()).unwrap_or_default();
        let kiro_profiles = kiro.map(|k| k.profiles);
        ctx.identity_center = Some(IdentityCenterFacts {
            instance_arn: directory.instance.arn.clone(),
            identity_store_id: directory.instance.identity_store_id.clone(),
            identity_store_arn: directory.instance.identity_store_arn.clone(),
            owner_account: directory.instance.owner_account.clone(),
            region: directory.instance.region.clone(),
            portal_url: portal::portal_url(&directory.instance.partition, &directory.instance.identity_store_id),
            users_to_create,
            kiro_profiles,
            kiro_sign_ins_alone,
        });
        ctx.member_removals.pending = diff.planned.iter().filter_map(|p| removal(&p.change)).collect();
        Ok(Checked {
            changes: diff.planned.iter().map(|p| p.change.clone()).collect(),
            findings: diff.findings,
            unchanged: diff.unchanged,
            fingerprint: fingerprint(&self.plan, &directory),
            read: Observed { directory, planned: diff.planned },
        })
    }
}

impl TypedStep<Context> for IdentityCenterStep {
    type Read = Observed;

    fn name(&self) -> &'static str {
        "identity_center"
    }

    async fn check(&self, ctx: &mut Context, _session: &Session) -> Result<Checked<Observed>, Error> {
        self.check_now(ctx).await
    }

    async fn execute(&self, ctx: &mut Context, planned: ToApply<'_, Observed>, session: &Session) -> Vec<Outcome> {
        let observed = planned.read;
        let outcomes = execute::execute(self.aws.clone(), &observed.directory, &observed.planned, session).await;
        // The Kiro console needs a follow-up for every member this apply removed.
        for planned in &observed.planned {
            let done = outcomes.iter().any(|o| o.address == planned.change.address && o.status == Status::Applied);
            if let (true, Some(removed)) = (done, removal(&planned.change)) {
                ctx.member_removals.applied.push(removed);
            }
        }
        outcomes
    }
}

/// (group, user) when `change` removes a member from a group.
fn removal(change: &crate::engine::Change) -> Option<(String, String)> {
    if change.action != crate::engine::Action::Delete
        || !change.address.as_str().starts_with("identity_center.membership[")
    {
        return None;
    }
    let before = change.before.as_ref()?;
    Some((before.get("group")?.as_str()?.to_owned(), before.get("user")?.as_str()?.to_owned()))
}

/// A digest of exactly the live objects the plan names (not the rest of the directory), so that
/// unrelated activity in a large directory does not make a saved plan stale.
fn fingerprint(plan: &IdentityCenter, dir: &directory::Directory) -> String {
    let mut hasher = Sha256::new();
    let mut feed = |s: &str| {
        hasher.update(s.as_bytes());
        hasher.update([0]);
    };
    feed(&dir.instance.arn);
    feed(&dir.instance.identity_store_id);
    let mut users: Vec<_> = plan.users.iter().map(|u| u.user_name.to_lowercase()).collect();
    users.sort();
    for name in users {
        feed(&name);
        feed(&format!("{:?}", dir.users.get(&name)));
    }
    let mut groups: Vec<_> = plan.groups.iter().map(|g| g.name.to_lowercase()).collect();
    groups.sort();
    for name in groups {
        feed(&name);
        let live = dir.groups.get(&name);
        feed(&format!("{live:?}"));
        if let Some(group) = live {
            let mut members: Vec<_> = dir
                .memberships
                .get(&group.id)
                .map(|m| m.iter().map(|m| m.user_id.clone()).collect())
                .unwrap_or_default();
            members.sort();
            feed(&members.join(","));
        }
    }
    hasher.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect()
}
