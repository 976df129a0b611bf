//! Reads what the Identity Center directory holds of the objects a plan names. Every read is a
//! list call (100 per page), never one call per planned object: a plan of 2,000 users costs
//! about 45 calls, not 4,000.

use std::collections::HashMap;

use aws_sdk_identitystore::types::{Group as SdkGroup, User as SdkUser};
use aws_sdk_ssoadmin::types::{InstanceStatus, PrincipalType};

use crate::clients::aws::Aws;
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
}

#[derive(Debug, Clone, PartialEq)]
pub struct LiveUser {
    pub id: String,
    pub user_name: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LiveGroup {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
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
}

pub async fn read(aws: &Aws, plan: &IdentityCenter) -> Result<Directory, Error> {
    let instance = find_instance(aws, plan.instance_arn.as_deref()).await?;
    let store = instance.identity_store_id.clone();
    let users = list_users(aws, &store).await?;
    let groups = list_groups(aws, &store).await?;

    let mut memberships = HashMap::new();
    let mut account_access = HashMap::new();
    for planned in &plan.groups {
        if let Some(group) = groups.get(&planned.name.to_lowercase()) {
            memberships.insert(group.id.clone(), list_memberships(aws, &store, &group.id).await?);
            account_access.insert(group.id.clone(), list_account_access(aws, &instance.arn, &group.id).await);
        }
    }
    let user_names_by_id = users.values().map(|u| (u.id.clone(), u.user_name.clone())).collect();
    Ok(Directory { instance, users, user_names_by_id, groups, memberships, account_access })
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
    Ok(Instance { arn, identity_store_id, identity_store_arn, owner_account, region })
}

async fn list_users(aws: &Aws, store: &str) -> Result<HashMap<String, LiveUser>, Error> {
    let client = aws.identity_store();
    let users = aws
        .list_all(
            IDENTITY_STORE,
            "ListUsers",
            |token| client.list_users().identity_store_id(store).max_results(PAGE).set_next_token(token).send(),
            |page| (page.users, page.next_token),
        )
        .await?;
    Ok(users.into_iter().map(live_user).map(|u| (u.user_name.to_lowercase(), u)).collect())
}

pub fn live_user(user: SdkUser) -> LiveUser {
    let email = user
        .emails()
        .iter()
        .find(|e| e.primary())
        .or_else(|| user.emails().first())
        .and_then(|e| e.value().map(str::to_owned));
    LiveUser {
        id: user.user_id().to_owned(),
        user_name: user.user_name().unwrap_or_default().to_owned(),
        given_name: user.name().and_then(|n| n.given_name()).map(str::to_owned),
        family_name: user.name().and_then(|n| n.family_name()).map(str::to_owned),
        display_name: user.display_name().map(str::to_owned),
        email,
    }
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
