//! Reads what the Identity Center directory holds of the objects a plan names. Reads are list
//! calls (100 per page), not one call per planned object: a plan of 2,000 users costs about 45
//! calls, not 4,000. Only when a small plan meets a large directory does looking its few users up
//! one by one cost less than listing them all, and then users are looked up (see `read_users`).

use std::collections::{HashMap, HashSet};

use aws_sdk_identitystore::types::{Group as SdkGroup, User as SdkUser};
use aws_sdk_ssoadmin::types::{InstanceStatus, PrincipalType};

use super::execute::unique;
use crate::clients::aws::{Aws, remote_error};
use crate::error::Error;
use crate::plan::model::IdentityCenter;

pub const IDENTITY_STORE: &str = "identitystore";
pub const SSO_ADMIN: &str = "sso-admin";
const PAGE: i32 = 100;

#[derive(Debug, Clone)]
pub struct Instance {
    pub arn: String,
    pub identity_store_id: String,
    pub identity_store_arn: Option<String>,
    pub owner_account: Option<String>,
    pub region: String,
    /// `aws`, `aws-us-gov`, … from the instance ARN.
    pub partition: String,
    /// For an instance replicated to several Regions (ListInstances `PrimaryRegion`, botocore
    /// `sso-admin/2020-07-20`): the Region where users, groups and memberships can be written.
    pub primary_region: Option<String>,
    /// Every Region of a multi-Region instance (ListInstances `Regions[].RegionName`).
    pub regions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LiveUser {
    pub id: String,
    pub user_name: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub email: Option<String>,
    /// The user carries `ExternalIds`: an external identity provider provisioned it (SCIM).
    pub provisioned: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LiveGroup {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// The group carries `ExternalIds` (SCIM-provisioned).
    pub provisioned: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LiveMembership {
    pub membership_id: String,
    pub user_id: String,
}

/// An AWS account a group can reach through a permission set.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountAccess {
    pub account_id: String,
    pub permission_set_arn: String,
}

#[derive(Debug)]
pub struct Directory {
    pub instance: Instance,
    /// Users by lower-cased user name (Identity Center compares names case-insensitively).
    pub users: HashMap<String, LiveUser>,
    pub user_names_by_id: HashMap<String, String>,
    /// Groups by lower-cased display name.
    pub groups: HashMap<String, LiveGroup>,
    /// Memberships of the groups the plan names, by group id.
    pub memberships: HashMap<String, Vec<LiveMembership>>,
    /// Account access of the groups the plan names, by group id: `Err` when it could not be read.
    pub account_access: HashMap<String, Result<Vec<AccountAccess>, String>>,
    /// Users and groups read that an external identity provider provisioned (they carry
    /// `ExternalIds`): evidence that the IdP, not this directory, owns users and groups.
    pub provisioned: Vec<String>,
    /// Who holds each email the plan names (lower-cased email → user name), as far as read.
    pub email_owners: HashMap<String, String>,
}

pub async fn read(aws: &Aws, plan: &IdentityCenter) -> Result<Directory, Error> {
    let instance = find_instance(aws, plan.instance_arn.as_deref()).await?;
    let store = instance.identity_store_id.clone();
    let groups = list_groups(aws, &store).await?;

    let mut memberships = HashMap::new();
    let mut account_access = HashMap::new();
    for planned in &plan.groups {
        if let Some(group) = groups.get(&planned.name.to_lowercase()) {
            memberships.insert(group.id.clone(), list_memberships(aws, &store, &group.id).await?);
            account_access.insert(group.id.clone(), list_account_access(aws, &instance.arn, &group.id).await);
        }
    }
    let planned_names: Vec<String> = plan.users.iter().map(|u| u.user_name.clone()).collect();
    let member_ids: HashSet<String> = memberships.values().flatten().map(|m| m.user_id.clone()).collect();
    let (users, complete) = read_users(aws, &store, &planned_names, &member_ids).await?;
    let user_names_by_id = users.values().map(|u| (u.id.clone(), u.user_name.clone())).collect();
    let mut provisioned: Vec<String> =
        groups.values().filter(|g| g.provisioned).map(|g| format!("group {}", g.name)).collect();
    provisioned.extend(users.values().filter(|u| u.provisioned).map(|u| format!("user {}", u.user_name)));
    provisioned.sort();
    let email_owners = email_owners(aws, &store, plan, &users, complete).await?;
    Ok(Directory { instance, users, user_names_by_id, groups, memberships, account_access, provisioned, email_owners })
}

pub async fn find_instance(aws: &Aws, wanted: Option<&str>) -> Result<Instance, Error> {
    let client = aws.sso_admin();
    let region = aws.region();
    let instances = aws
        .list_all(
            SSO_ADMIN,
            "ListInstances",
            |token| client.list_instances().max_results(PAGE).set_next_token(token).send(),
            |page| (page.instances.unwrap_or_default(), page.next_token),
        )
        .await?;
    let describe = |i: &aws_sdk_ssoadmin::types::InstanceMetadata| {
        format!(
            "{} ({})",
            i.instance_arn().unwrap_or("?"),
            i.status().map(|s| s.as_str().to_owned()).unwrap_or_else(|| "status unknown".into())
        )
    };
    let chosen = match wanted {
        Some(arn) => instances.iter().find(|i| i.instance_arn() == Some(arn)).ok_or_else(|| Error::Precondition {
            message: format!("IAM Identity Center instance {arn} was not found in {region}"),
            hint: if instances.is_empty() {
                format!("{region} has no Identity Center instance; set `aws.region` to the Region where Identity Center is enabled")
            } else {
                format!("instances in {region}: {}", instances.iter().map(describe).collect::<Vec<_>>().join(", "))
            },
        })?,
        None => {
            let active: Vec<_> = instances.iter().filter(|i| i.status() == Some(&InstanceStatus::Active)).collect();
            match active.as_slice() {
                [one] => *one,
                [] => {
                    return Err(Error::Precondition {
                        message: format!("there is no active IAM Identity Center instance in {region}"),
                        hint: if instances.is_empty() {
                            "enable IAM Identity Center (console → IAM Identity Center → Enable), or set `aws.region` to the Region where it is enabled".into()
                        } else {
                            format!("found only: {}; wait until it is ACTIVE", instances.iter().map(describe).collect::<Vec<_>>().join(", "))
                        },
                    });
                }
                several => {
                    return Err(Error::Precondition {
                        message: format!("{region} has {} active IAM Identity Center instances and the plan does not say which to use", several.len()),
                        hint: format!("set `identity_center.instance_arn` to one of: {}", several.iter().filter_map(|i| i.instance_arn()).collect::<Vec<_>>().join(", ")),
                    });
                }
            }
        }
    };
    if chosen.status() != Some(&InstanceStatus::Active) {
        return Err(Error::Precondition {
            message: format!("IAM Identity Center instance {} is not active", describe(chosen)),
            hint: "wait until the instance is ACTIVE, then run again".into(),
        });
    }
    let arn = chosen.instance_arn().unwrap_or_default().to_owned();
    let identity_store_id = chosen.identity_store_id().unwrap_or_default().to_owned();
    let owner_account = chosen.owner_account_id().map(str::to_owned);
    let partition = arn.split(':').nth(1).unwrap_or("aws").to_owned();
    let identity_store_arn = chosen.identity_store_arn().filter(|a| !a.is_empty()).map(str::to_owned).or_else(|| {
        owner_account
            .as_ref()
            .map(|account| format!("arn:{partition}:identitystore::{account}:identitystore/{identity_store_id}"))
    });
    let primary_region = chosen.primary_region().filter(|r| !r.is_empty()).map(str::to_owned);
    let regions = chosen.regions().iter().filter_map(|r| r.region_name().map(str::to_owned)).collect();
    Ok(Instance {
        arn,
        identity_store_id,
        identity_store_arn,
        owner_account,
        region,
        partition,
        primary_region,
        regions,
    })
}

/// The planned users and the planned groups' members, by lower-cased user name.
///
/// Listing costs a call per 100 users of the directory; looking users up costs two calls per
/// planned user (GetUserId, DescribeUser) and one per member not seen yet (DescribeUser). Which is
/// cheaper depends on the directory's size, which nothing tells in advance. So: list page after
/// page while the pages read are fewer than what looking up the rest would cost, then look up the
/// rest (the ski-rental rule: never much more than twice the cheaper way). A large plan is always
/// read by listing; a plan of 5 users in a directory of 100,000 costs about 20 calls, not 1,000.
/// Also says whether the whole directory was listed (then every user, and every email, is known).
async fn read_users(
    aws: &Aws,
    store: &str,
    planned_names: &[String],
    member_ids: &HashSet<String>,
) -> Result<(HashMap<String, LiveUser>, bool), Error> {
    let client = aws.identity_store();
    let mut users: HashMap<String, LiveUser> = HashMap::new();
    // Planned users not found yet (lower-cased name → the plan's spelling), and members not seen.
    let mut unfound: HashMap<String, &str> = planned_names.iter().map(|n| (n.to_lowercase(), n.as_str())).collect();
    let mut unseen: HashSet<&str> = member_ids.iter().map(String::as_str).collect();
    let mut token: Option<String> = None;
    let mut pages = 0usize;
    loop {
        let lookups = 2 * unfound.len() + unseen.len();
        if lookups == 0 || (pages > 0 && pages >= lookups) {
            break;
        }
        let page = aws
            .call(IDENTITY_STORE, "ListUsers", || {
                client.list_users().identity_store_id(store).max_results(PAGE).set_next_token(token.clone()).send()
            })
            .await
            .map_err(|e| remote_error(IDENTITY_STORE, "ListUsers", &e))?;
        pages += 1;
        for user in page.users {
            let user = live_user(user);
            let key = user.user_name.to_lowercase();
            unfound.remove(&key);
            unseen.remove(user.id.as_str());
            users.insert(key, user);
        }
        token = page.next_token;
        if token.is_none() {
            // The whole directory was read: whatever was not found does not exist.
            return Ok((users, true));
        }
    }
    for name in unfound.into_values() {
        if let Some(user) = user_by(aws, store, "userName", name).await? {
            unseen.remove(user.id.as_str());
            users.insert(user.user_name.to_lowercase(), user);
        }
    }
    for id in unseen {
        if let Some(user) = describe_user(aws, store, id).await? {
            users.insert(user.user_name.to_lowercase(), user);
        }
    }
    Ok((users, false))
}

/// Who holds the emails the plan gives its users. Emails, like user names, are unique in the
/// directory (IAM Identity Center user guide, "Manage identities in IAM Identity Center": "user
/// names and email addresses must be unique"), so CreateUser or UpdateUser with an email another
/// user has fails half way through an apply; `plan` finds it first. When the directory was not
/// listed whole, each planned email not seen yet is looked up (GetUserId on `emails.value`).
async fn email_owners(
    aws: &Aws,
    store: &str,
    plan: &IdentityCenter,
    users: &HashMap<String, LiveUser>,
    complete: bool,
) -> Result<HashMap<String, String>, Error> {
    let mut owners: HashMap<String, String> =
        users.values().filter_map(|u| Some((u.email.as_ref()?.to_lowercase(), u.user_name.clone()))).collect();
    if complete {
        return Ok(owners);
    }
    for planned in &plan.users {
        let email = planned.email.to_lowercase();
        let own = users.get(&planned.user_name.to_lowercase()).and_then(|u| u.email.as_deref()).map(str::to_lowercase);
        if owners.contains_key(&email) || own.as_deref() == Some(email.as_str()) {
            continue;
        }
        if let Some(user) = user_by(aws, store, "emails.value", &planned.email).await? {
            owners.insert(email, user.user_name);
        }
    }
    Ok(owners)
}

/// The user with this user name, if any.
pub async fn user_named(aws: &Aws, store: &str, user_name: &str) -> Result<Option<LiveUser>, Error> {
    user_by(aws, store, "userName", user_name).await
}

/// The ids of the users who are members of the group.
pub async fn member_ids(aws: &Aws, store: &str, group_id: &str) -> Result<Vec<String>, Error> {
    Ok(list_memberships(aws, store, group_id).await?.into_iter().map(|m| m.user_id).collect())
}

/// The user whose unique attribute (`userName`, `emails.value`) has this value, if any.
async fn user_by(aws: &Aws, store: &str, attribute: &str, value: &str) -> Result<Option<LiveUser>, Error> {
    let client = aws.identity_store();
    let found = aws
        .call(IDENTITY_STORE, "GetUserId", || {
            client.get_user_id().identity_store_id(store).alternate_identifier(unique(attribute, value)).send()
        })
        .await;
    match found {
        Ok(out) => describe_user(aws, store, &out.user_id).await,
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => Ok(None),
        Err(e) => Err(remote_error(IDENTITY_STORE, "GetUserId", &e)),
    }
}

/// One user by id; `None` when it was deleted meanwhile.
async fn describe_user(aws: &Aws, store: &str, id: &str) -> Result<Option<LiveUser>, Error> {
    let client = aws.identity_store();
    match aws
        .call(IDENTITY_STORE, "DescribeUser", || client.describe_user().identity_store_id(store).user_id(id).send())
        .await
    {
        Ok(out) => Ok(Some(LiveUser {
            email: primary_email(out.emails()),
            given_name: out.name.as_ref().and_then(|n| n.given_name()).map(str::to_owned),
            family_name: out.name.as_ref().and_then(|n| n.family_name()).map(str::to_owned),
            provisioned: !out.external_ids().is_empty(),
            id: out.user_id,
            user_name: out.user_name.unwrap_or_default(),
            display_name: out.display_name,
        })),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => Ok(None),
        Err(e) => Err(remote_error(IDENTITY_STORE, "DescribeUser", &e)),
    }
}

pub fn live_user(user: SdkUser) -> LiveUser {
    let email = primary_email(user.emails());
    LiveUser {
        id: user.user_id().to_owned(),
        user_name: user.user_name().unwrap_or_default().to_owned(),
        given_name: user.name().and_then(|n| n.given_name()).map(str::to_owned),
        family_name: user.name().and_then(|n| n.family_name()).map(str::to_owned),
        display_name: user.display_name().map(str::to_owned),
        provisioned: !user.external_ids().is_empty(),
        email,
    }
}

/// The primary email, else the first.
fn primary_email(emails: &[aws_sdk_identitystore::types::Email]) -> Option<String> {
    emails.iter().find(|e| e.primary()).or_else(|| emails.first()).and_then(|e| e.value().map(str::to_owned))
}

async fn list_groups(aws: &Aws, store: &str) -> Result<HashMap<String, LiveGroup>, Error> {
    let client = aws.identity_store();
    let groups = aws
        .list_all(
            IDENTITY_STORE,
            "ListGroups",
            |token| client.list_groups().identity_store_id(store).max_results(PAGE).set_next_token(token).send(),
            |page| (page.groups, page.next_token),
        )
        .await?;
    Ok(groups.into_iter().map(live_group).map(|g| (g.name.to_lowercase(), g)).collect())
}

fn live_group(group: SdkGroup) -> LiveGroup {
    LiveGroup {
        id: group.group_id().to_owned(),
        name: group.display_name().unwrap_or_default().to_owned(),
        description: group.description().map(str::to_owned),
        provisioned: !group.external_ids().is_empty(),
    }
}

async fn list_memberships(aws: &Aws, store: &str, group_id: &str) -> Result<Vec<LiveMembership>, Error> {
    let client = aws.identity_store();
    let memberships = aws
        .list_all(
            IDENTITY_STORE,
            "ListGroupMemberships",
            |token| {
                client
                    .list_group_memberships()
                    .identity_store_id(store)
                    .group_id(group_id)
                    .max_results(PAGE)
                    .set_next_token(token)
                    .send()
            },
            |page| (page.group_memberships, page.next_token),
        )
        .await?;
    Ok(memberships
        .into_iter()
        .filter_map(|m| match m.member_id() {
            Some(aws_sdk_identitystore::types::MemberId::UserId(user_id)) => {
                Some(LiveMembership { membership_id: m.membership_id().to_owned(), user_id: user_id.clone() })
            }
            _ => None,
        })
        .collect())
}

/// The group's AWS account assignments. A failure here is not fatal: it only feeds a finding.
async fn list_account_access(aws: &Aws, instance_arn: &str, group_id: &str) -> Result<Vec<AccountAccess>, String> {
    let client = aws.sso_admin();
    let assignments = aws
        .list_all(
            SSO_ADMIN,
            "ListAccountAssignmentsForPrincipal",
            |token| {
                client
                    .list_account_assignments_for_principal()
                    .instance_arn(instance_arn)
                    .principal_id(group_id)
                    .principal_type(PrincipalType::Group)
                    .max_results(PAGE)
                    .set_next_token(token)
                    .send()
            },
            |page| (page.account_assignments.unwrap_or_default(), page.next_token),
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(assignments
        .iter()
        .map(|a| AccountAccess {
            account_id: a.account_id().unwrap_or_default().to_owned(),
            permission_set_arn: a.permission_set_arn().unwrap_or_default().to_owned(),
        })
        .collect())
}
