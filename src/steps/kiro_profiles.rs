//! Findings about the Kiro profiles IAM Identity Center shows (docs/vendor-behaviour.md §1.8,
//! §1.11): each profile Kiro's console creates comes as two applications, `KiroProfile-<region>`
//! and `Kiro Sign-In - KiroProfile-<region>` (https://github.com/kirodotdev/Kiro/issues/8665),
//! and sign-in fails when Kiro's application is not on the instance
//! (https://github.com/kirodotdev/Kiro/issues/10332); a user subscribed in two profiles is billed
//! twice (https://kiro.dev/docs/cli/enterprise/billing).

use std::collections::{BTreeMap, BTreeSet};

use crate::engine::{Address, Finding, Severity};
use crate::plan::Plan;
use crate::steps::context::{IdentityCenterFacts, KiroProfileFacts};
use crate::steps::identity_center::applications::{KIRO_PROFILE_PREFIX, SIGN_IN_PREFIX};

/// Every finding about Kiro's applications and subscriptions that Identity Center shows.
pub fn findings(plan: &Plan, idc: &IdentityCenterFacts) -> Vec<Finding> {
    let profiles = idc.kiro_profiles.as_ref().map(Vec::as_slice).unwrap_or_default();
    let mut out = missing_applications(profiles, &idc.kiro_sign_ins_alone);
    out.extend(billed_twice(plan, profiles));
    out
}

fn missing_applications(profiles: &[KiroProfileFacts], lone_sign_ins: &[String]) -> Vec<Finding> {
    let mut out = Vec::new();
    for profile in
        profiles.iter().filter(|p| p.name.starts_with(KIRO_PROFILE_PREFIX) && p.sign_in_application.is_none())
    {
        out.push(
            Finding::new(
                "kiro_console.sign_in_application_missing",
                Severity::Warning,
                format!(
                    "IAM Identity Center shows the Kiro profile application {} but not its sign-in application \"{SIGN_IN_PREFIX}{}\", which Kiro's \"Your organization\" sign-in uses",
                    profile.name, profile.name
                ),
                "in IAM Identity Center → Applications → AWS managed, check for the application; if it was deleted, delete and re-create the Kiro profile in the Kiro console (Kiro creates both), or ask AWS Support",
            )
            .at(Address::new("kiro_console.profile", &profile.name))
            .evidence(format!("sso-admin ListApplications lists {} and no \"{SIGN_IN_PREFIX}{}\"", profile.arn, profile.name)),
        );
    }
    for sign_in in lone_sign_ins {
        let profile = sign_in.strip_prefix(SIGN_IN_PREFIX).unwrap_or(sign_in);
        out.push(
            Finding::new(
                "kiro_console.profile_application_missing",
                Severity::Warning,
                format!(
                    "IAM Identity Center shows Kiro's sign-in application \"{sign_in}\" but not the profile application {profile}, whose assignments are the subscriptions"
                ),
                "open the Kiro console in the profile's Region: if the profile is gone, delete the leftover sign-in application in IAM Identity Center → Applications; if it is there, ask AWS Support",
            )
            .at(Address::new("kiro_console.profile", profile)),
        );
    }
    out
}

/// Groups (and the plan's members of them) subscribed in more than one profile. Within one
/// profile a user pays the highest tier once; across profiles, once per profile.
fn billed_twice(plan: &Plan, profiles: &[KiroProfileFacts]) -> Vec<Finding> {
    let mut by_group: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for profile in profiles {
        for (_, group) in &profile.assigned_groups {
            by_group.entry(group.as_str()).or_default().insert(profile.name.as_str());
        }
    }
    let members = |group: &str| -> Vec<String> {
        plan.identity_center
            .iter()
            .flat_map(|i| i.groups.iter())
            .filter(|g| g.name.eq_ignore_ascii_case(group))
            .flat_map(|g| g.members.iter().cloned())
            .collect()
    };
    by_group
        .into_iter()
        .filter(|(_, in_profiles)| in_profiles.len() > 1)
        .map(|(group, in_profiles)| {
            let names: Vec<&str> = in_profiles.into_iter().collect();
            let who = match members(group) {
                m if m.is_empty() => "each of its members".to_owned(),
                m => format!("each of its members ({})", m.join(", ")),
            };
            Finding::new(
                "kiro_console.billed_twice",
                Severity::Warning,
                format!(
                    "group {group} is subscribed in {} Kiro profiles ({}): {who} is billed twice, once per profile",
                    names.len(),
                    names.join(", ")
                ),
                format!(
                    "keep {group} in one profile: in the Kiro console of the other profile's Region, Users & Groups → Groups → {group} → Deactivate plan → Unsubscribe"
                ),
            )
            .at(Address::new("kiro_console.subscription", group))
            .evidence("Kiro, Enterprise billing: a user subscribed under different Kiro profiles is charged twice")
        })
        .collect()
}
