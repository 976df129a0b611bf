//! `import --idp identity-center`: the named groups, their members as users, the instance and
//! its Region, read with the step's own directory reader; with `--kms-key`, the `kms` section in
//! the form the key policy already holds.

use super::notes::Notes;
use crate::cli::ImportArgs;
use crate::clients::aws::Aws;
use crate::error::Error;
use crate::plan::model::{
    Aws as AwsSection, Console, Group, IdentityCenter, IdentitySource, Kiro, Kms, KmsCondition, KmsManage, Plan,
    Subscription, Tier, User,
};
use crate::steps::identity_center::directory::{self, Directory, LiveUser};

pub const COMMENTS: &[(&str, &str)] = &[
    ("kiro.profile_region", "the Kiro profile's Region: check it is the one you chose in the Kiro console"),
    ("kiro.console.profile_created", "true once the Kiro profile exists and is connected to Identity Center"),
    ("kiro.console.subscribe.done", "true once the group is subscribed in the Kiro console"),
    ("kiro.console.subscribe.tier", "pro | pro_plus | power: the plan the group has in the Kiro console"),
    ("aws.region", "the Region of the IAM Identity Center instance"),
    ("identity_center.identity_source", "SCIM-provisioned users and groups found: the external IdP owns them"),
    ("identity_center.groups.prune_members", "true: also remove members this file does not list"),
    ("kms.manage", "snippet: the key policy lacks Kiro's statements; merge lets apply add them"),
    ("domains.token", "the verification token, as Route 53 holds it"),
    ("domains.hosted_zone_id", "the public hosted zone that holds the record"),
];

pub async fn import(aws: &Aws, args: &ImportArgs, notes: &Notes<'_>) -> Result<Plan, Error> {
    let wanted = IdentityCenter {
        groups: args
            .groups
            .iter()
            .map(|name| Group { name: name.clone(), description: None, members: Vec::new(), prune_members: false })
            .collect(),
        ..IdentityCenter::default()
    };
    let dir = directory::read(aws, &wanted).await?;
    let mut groups = Vec::new();
    let mut users: Vec<User> = Vec::new();
    for name in &args.groups {
        let Some(live) = dir.groups.get(&name.to_lowercase()) else {
            return Err(Error::Precondition {
                message: format!("Identity Center has no group named {name}"),
                hint: format!(
                    "groups in {}: {}; pass one with --group NAME, spelled as the Identity Center console shows it",
                    dir.instance.arn,
                    super::candidates(dir.groups.values().map(|g| g.name.clone()).collect())
                ),
            });
        };
        let mut members = Vec::new();
        for membership in dir.memberships.get(&live.id).into_iter().flatten() {
            let Some(user) = member(&dir, &membership.user_id) else { continue };
            members.push(user.user_name.clone());
            if !users.iter().any(|u| u.user_name.eq_ignore_ascii_case(&user.user_name)) {
                users.push(plan_user(user, notes));
            }
        }
        members.sort();
        groups.push(Group {
            name: live.name.clone(),
            description: live.description.clone(),
            members,
            prune_members: false,
        });
    }
    users.sort_by(|a, b| a.user_name.cmp(&b.user_name));
    let region = dir.instance.region.clone();
    let identity_source = (!dir.provisioned.is_empty()).then_some(IdentitySource::ExternalIdp);
    Ok(Plan {
        version: 1,
        kiro: Kiro {
            profile_region: profile_region(&region),
            requirements: None,
            console: Console {
                profile_created: false,
                subscribe: groups
                    .iter()
                    .map(|g| Subscription { group: g.name.clone(), tier: Tier::Pro, done: false })
                    .collect(),
                ..Console::default()
            },
        },
        aws: AwsSection { region: Some(region), profile: args.profile.clone() },
        identity_center: Some(IdentityCenter {
            instance_arn: Some(dir.instance.arn.clone()),
            users,
            groups,
            identity_source,
            first_sign_in: None,
        }),
        kms: None,
        domains: Vec::new(),
        resolvers: Vec::new(),
        okta: None,
        entra: None,
    })
}

fn member<'a>(dir: &'a Directory, user_id: &str) -> Option<&'a LiveUser> {
    dir.user_names_by_id.get(user_id).and_then(|name| dir.users.get(&name.to_lowercase()))
}

/// The user as the plan lists it: the live values, so the diff finds nothing to change. The
/// display name only when it is not the default the plan would derive.
fn plan_user(user: &LiveUser, notes: &Notes<'_>) -> User {
    let field = |value: &Option<String>, what: &str| {
        value.clone().filter(|v| !v.is_empty()).unwrap_or_else(|| {
            notes.hint(&format!("user {} has no {what} in Identity Center; fill it in", user.user_name));
            user.user_name.clone()
        })
    };
    let given_name = field(&user.given_name, "first name");
    let family_name = field(&user.family_name, "last name");
    let email = field(&user.email, "email");
    let default = format!("{given_name} {family_name}");
    let display_name = user.display_name.clone().filter(|d| *d != default);
    User {
        user_name: user.user_name.clone(),
        given_name,
        family_name,
        email,
        display_name,
        absent: false,
        delete_user: false,
    }
}

/// The instance's Region when Kiro has a profile Region there, else the first Kiro Region.
fn profile_region(region: &str) -> String {
    let regions = &crate::requirements::latest().profile_regions;
    if regions.iter().any(|r| r == region) {
        return region.to_owned();
    }
    regions.first().cloned().unwrap_or_else(|| "us-east-1".into())
}

/// The `kms` section in the first form with which `plan` changes nothing in the key policy:
/// Kiro's statements as the policy holds them (exact, then wildcard), else `manage: snippet`.
pub async fn kms_section(key: &str, plan: &Plan, notes: &Notes<'_>) -> Result<Kms, Error> {
    for condition in [KmsCondition::Exact, KmsCondition::Wildcard] {
        let kms = Kms { key: Some(key.to_owned()), condition, manage: KmsManage::Merge };
        let mut candidate = plan.clone();
        candidate.kms = Some(kms.clone());
        let text = super::render(&candidate, COMMENTS)?;
        let writes = super::writes_proposed(&text, notes).await?;
        if !writes.iter().any(|a| a.starts_with("kms.")) {
            return Ok(kms);
        }
    }
    Ok(Kms { key: Some(key.to_owned()), condition: KmsCondition::Exact, manage: KmsManage::Snippet })
}
