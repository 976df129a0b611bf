//! The Kiro profile and its subscriptions, where AWS shows them: a Kiro (Amazon Q Developer)
//! profile on IAM Identity Center is an AWS managed application of the instance, with the
//! provider `arn:aws:sso::aws:applicationProvider/codewhisperer`, and the groups subscribed to it
//! are its application assignments (sso-admin ListApplications / ListApplicationAssignments,
//! botocore `sso-admin/2020-07-20`; the data model of the aws-samples Identity Center
//! application discovery sample). Reading them is best effort: without the permissions, or when
//! Kiro uses another identity provider, plan falls back to the steps recorded in the plan.

use std::collections::HashMap;

use aws_sdk_ssoadmin::types::{ListApplicationsFilter, PrincipalType};

use super::directory::SSO_ADMIN;
use crate::clients::aws::Aws;
use crate::steps::context::KiroProfileFacts;

pub const KIRO_APPLICATION_PROVIDER: &str = "arn:aws:sso::aws:applicationProvider/codewhisperer";

/// The Kiro profiles of the instance, with the names of their assigned groups (an id when the
/// group was not read); `Err` says why they could not be read.
pub async fn kiro_profiles(
    aws: &Aws,
    instance_arn: &str,
    group_names: &HashMap<String, String>,
) -> Result<Vec<KiroProfileFacts>, String> {
    let client = aws.sso_admin();
    let filter = ListApplicationsFilter::builder().application_provider(KIRO_APPLICATION_PROVIDER).build();
    let applications = aws
        .list_all(
            SSO_ADMIN,
            "ListApplications",
            |token| {
                client
                    .list_applications()
                    .instance_arn(instance_arn)
                    .filter(filter.clone())
                    .set_next_token(token)
                    .send()
            },
            |page| (page.applications.unwrap_or_default(), page.next_token),
        )
        .await
        .map_err(|e| e.to_string())?;
    let mut profiles = Vec::new();
    for application in
        applications.into_iter().filter(|a| a.application_provider_arn() == Some(KIRO_APPLICATION_PROVIDER))
    {
        let arn = application.application_arn().unwrap_or_default().to_owned();
        let assignments = aws
            .list_all(
                SSO_ADMIN,
                "ListApplicationAssignments",
                |token| client.list_application_assignments().application_arn(&arn).set_next_token(token).send(),
                |page| (page.application_assignments.unwrap_or_default(), page.next_token),
            )
            .await
            .map_err(|e| e.to_string())?;
        let mut groups: Vec<String> = assignments
            .iter()
            .filter(|a| *a.principal_type() == PrincipalType::Group)
            .map(|a| group_names.get(a.principal_id()).cloned().unwrap_or_else(|| a.principal_id().to_owned()))
            .collect();
        groups.sort();
        let of_type = |kind: PrincipalType| assignments.iter().filter(move |a| *a.principal_type() == kind);
        profiles.push(KiroProfileFacts {
            assigned_groups: of_type(PrincipalType::Group)
                .map(|a| {
                    let id = a.principal_id().to_owned();
                    (id.clone(), group_names.get(&id).cloned().unwrap_or(id))
                })
                .collect(),
            assigned_user_ids: of_type(PrincipalType::User).map(|a| a.principal_id().to_owned()).collect(),
            arn,
            name: application.name().unwrap_or_default().to_owned(),
            status: application.status().map(|s| s.as_str().to_owned()).unwrap_or_default(),
            groups,
        });
    }
    Ok(profiles)
}

/// How the directory user `user_name` is subscribed to the Kiro profiles (`group NAME` or
/// `direct assignment`, per profile); empty when it is not; `None` when there is no such user.
/// Kiro tells an unsubscribed user "Your organization administrator has not granted you access
/// to any Kiro profile" (docs/vendor-behaviour.md §1.8).
pub async fn user_subscription(
    aws: &Aws,
    identity_store_id: &str,
    profiles: &[KiroProfileFacts],
    user_name: &str,
) -> Result<Option<Vec<String>>, crate::error::Error> {
    let Some(user) = super::directory::user_named(aws, identity_store_id, user_name).await? else {
        return Ok(None);
    };
    let mut through = Vec::new();
    for profile in profiles {
        if profile.assigned_user_ids.contains(&user.id) {
            through.push(format!("{}: direct assignment", profile.name));
        }
        for (group_id, group_name) in &profile.assigned_groups {
            if super::directory::member_ids(aws, identity_store_id, group_id).await?.contains(&user.id) {
                through.push(format!("{}: group {group_name}", profile.name));
            }
        }
    }
    Ok(Some(through))
}
