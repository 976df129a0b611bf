//! The `identity_center` step: users, groups and memberships in the IAM Identity Center
//! directory. It owns exactly the objects the plan names, and of a group's members only those
//! the plan lists (others are reported, and removed only with `prune_members: true`).

mod diff;
mod directory;

pub use directory::find_instance;
mod execute;

use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::clients::aws::Aws;
use crate::engine::context::IdentityCenterFacts;
use crate::engine::{BoxFuture, Checked, Context, Outcome, Session, Status, Step};
use crate::error::Error;
use crate::plan::model::IdentityCenter;
use crate::requirements::Requirements;

pub struct IdentityCenterStep {
    aws: Arc<Aws>,
    plan: IdentityCenter,
    requirements: &'static Requirements,
}

struct Observed {
    directory: directory::Directory,
    planned: Vec<diff::Planned>,
}

impl IdentityCenterStep {
    pub fn new(aws: Arc<Aws>, plan: IdentityCenter, requirements: &'static Requirements) -> Self {
        IdentityCenterStep { aws, plan, requirements }
    }

    async fn check_now(&self, ctx: &mut Context) -> Result<Checked, Error> {
        let directory = directory::read(&self.aws, &self.plan).await?;
        ctx.identity_center = Some(IdentityCenterFacts {
            instance_arn: directory.instance.arn.clone(),
            identity_store_id: directory.instance.identity_store_id.clone(),
            identity_store_arn: directory.instance.identity_store_arn.clone(),
            owner_account: directory.instance.owner_account.clone(),
            region: directory.instance.region.clone(),
        });
        let diff = diff::diff(&self.plan, &directory, self.requirements);
        Ok(Checked {
            changes: diff.planned.iter().map(|p| p.change.clone()).collect(),
            findings: diff.findings,
            unchanged: diff.unchanged,
            fingerprint: fingerprint(&self.plan, &directory),
            observed: Box::new(Observed { directory, planned: diff.planned }),
        })
    }
}

impl Step for IdentityCenterStep {
    fn name(&self) -> &'static str {
        "identity_center"
    }

    fn check<'a>(&'a self, ctx: &'a mut Context, _session: &'a Session) -> BoxFuture<'a, Result<Checked, Error>> {
        Box::pin(self.check_now(ctx))
    }

    fn execute<'a>(
        &'a self,
        _ctx: &'a mut Context,
        checked: &'a Checked,
        session: &'a Session,
    ) -> BoxFuture<'a, Vec<Outcome>> {
        Box::pin(async move {
            match checked.observed.downcast_ref::<Observed>() {
                Some(observed) => {
                    execute::execute(self.aws.clone(), &observed.directory, &observed.planned, session).await
                }
                None => checked
                    .changes
                    .iter()
                    .map(|c| {
                        Outcome::new(
                            c,
                            Status::Failed("internal error: the check result belongs to another step".into()),
                        )
                    })
                    .collect(),
            }
        })
    }
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
