//! The Kiro profile and its subscriptions, where AWS shows them: a Kiro (Amazon Q Developer)
//! profile on IAM Identity Center is an AWS managed application of the instance, with the
//! provider `arn:aws:sso::aws:applicationProvider/codewhisperer` (named `KiroProfile-<region>`
//! when Kiro's console made it), and the groups subscribed to it are its application assignments
//! (sso-admin ListApplications / ListApplicationAssignments, botocore `sso-admin/2020-07-20`; the
//! data model of the aws-samples Identity Center application discovery sample). Kiro's console
//! also makes `Kiro Sign-In - KiroProfile-<region>`, the OAuth application of "Your
//! organization" sign-in (docs/vendor-behaviour.md §1.8). Reading them is best effort: without
//! the permissions, or when Kiro uses another identity provider, plan falls back to the steps
//! recorded in the plan.

use std::collections::HashMap;

use aws_sdk_ssoadmin::types::PrincipalType;

use super::directory::SSO_ADMIN;
use crate::clients::aws::Aws;
use crate::steps::context::KiroProfileFacts;

pub const KIRO_APPLICATION_PROVIDER: &str = "arn:aws:sso::aws:applicationProvider/codewhisperer";

/// The name prefix of the OAuth application Kiro's console creates next to each profile for
/// "Your organization" sign-in: `Kiro Sign-In - KiroProfile-<region>`
/// (https://github.com/kirodotdev/Kiro/issues/8665; its provider is not documented, so it is
/// found by name).
pub const SIGN_IN_PREFIX: &str = "Kiro Sign-In - ";

/// The name prefix of the profiles Kiro's console creates (`KiroProfile-<region>`); those come
/// with a sign-in application. An Amazon Q Developer profile (`QDevProfile-…`) does not.
pub const KIRO_PROFILE_PREFIX: &str = "KiroProfile-";

/// What IAM Identity Center shows of Kiro: the profiles, with the names of their assigned
/// groups (an id when the group was not read) and their sign-in application, and the sign-in
/// applications whose profile application is not there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KiroApplications {
    pub profiles: Vec<KiroProfileFacts>,
    pub lone_sign_ins: Vec<String>,
}

/// Kiro's applications of the instance; `Err` says why they could not be read. Every
/// application is listed (no provider filter), since the sign-in application's provider is not
/// documented.
pub async fn kiro_profiles(
    aws: &Aws,
    instance_arn: &str,
    group_names: &HashMap<String, String>,
) -> Result<KiroApplications, String> {
    let client = aws.sso_admin();
    let applications = aws
        .list_all(
            SSO_ADMIN,
            "ListApplications",
            |token| client.list_applications().instance_arn(instance_arn).set_next_token(token).send(),
            |page| (page.applications.unwrap_or_default(), page.next_token),
        )
        .await
        .map_err(|e| e.to_string())?;
    let name_of = |a: &aws_sdk_ssoadmin::types::Application| a.name().unwrap_or_default().to_owned();
    let sign_ins: Vec<String> = applications.iter().map(name_of).filter(|n| n.starts_with(SIGN_IN_PREFIX)).collect();
    let mut profiles = Vec::new();
    for application in applications.iter().filter(|a| {
        let name = name_of(a);
        !name.starts_with(SIGN_IN_PREFIX)
            && (a.application_provider_arn() == Some(KIRO_APPLICATION_PROVIDER)
                || name.starts_with(KIRO_PROFILE_PREFIX))
    }) {
        let name = name_of(application);
        let wanted = format!("{SIGN_IN_PREFIX}{name}");
        let sign_in_application = sign_ins.iter().find(|s| **s == wanted).cloned();
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
        let of_type = |kind: PrincipalType| assignments.iter().filter(move |a| *a.principal_type() == kind);
        let assigned_groups: Vec<(String, String)> = of_type(PrincipalType::Group)
            .map(|a| {
                let id = a.principal_id().to_owned();
                (id.clone(), group_names.get(&id).cloned().unwrap_or(id))
            })
            .collect();
        let mut groups: Vec<String> = assigned_groups.iter().map(|(_, name)| name.clone()).collect();
        groups.sort();
        profiles.push(KiroProfileFacts {
            assigned_groups,
            assigned_user_ids: of_type(PrincipalType::User).map(|a| a.principal_id().to_owned()).collect(),
            arn,
            status: application.status().map(|s| s.as_str().to_owned()).unwrap_or_default(),
            sign_in_application,
            name,
            groups,
        });
    }
    let lone_sign_ins = sign_ins
        .into_iter()
        .filter(|s| !profiles.iter().any(|p| format!("{SIGN_IN_PREFIX}{}", p.name) == *s))
        .collect();
    Ok(KiroApplications { profiles, lone_sign_ins })
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
