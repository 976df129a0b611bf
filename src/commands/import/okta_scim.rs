//! `import --idp okta`, the SCIM side: the "AWS IAM Identity Center" catalog app that provisions
//! to Kiro (`amazon_aws_sso`, the app Kiro's Okta guide adds), its SCIM base URL when Okta shows
//! it, whether provisioning is on, and the groups it pushes. Read with the Okta step's reader
//! (`read::read_provisioning`), so the plan's `provisioning` section names what the step will find.

use super::notes::Notes;
use crate::clients::okta::Okta;
use crate::clients::okta_model::{App, Connection, Group, parse};
use crate::error::Error;
use crate::plan::model::OktaProvisioning;
use crate::plan::secret::{EnvSecret, SecretRef};
use crate::steps::okta::read::{self, list};

/// The variable the written plan reads the SCIM token from, as `init --idp okta` writes it.
pub const SCIM_TOKEN_ENV: &str = "KIRO_SCIM_TOKEN";
/// Written when Okta does not show the base URL: to be replaced from the Kiro console.
const ENDPOINT_UNKNOWN: &str = "https://scim.us-east-1.amazonaws.com/FILL-IN-FROM-THE-KIRO-CONSOLE/scim/v2";

/// The `provisioning` section, when exactly one catalog app can be the one. `assign_groups`
/// keeps only the groups assigned to that app too (the plan would assign the others to it).
pub async fn import(
    okta: &Okta,
    assign_groups: &mut Vec<String>,
    notes: &Notes<'_>,
) -> Result<Option<OktaProvisioning>, Error> {
    let filter = read::encode("name eq \"amazon_aws_sso\"");
    let apps: Vec<App> = list(okta, &format!("/api/v1/apps?filter={filter}&limit=200"), "list apps").await?;
    let mut found = Vec::new();
    for app in apps.into_iter().filter(|a| a.label.is_some()) {
        let base_url = base_url(okta, &app).await;
        found.push((app, base_url));
    }
    if found.len() > 1 {
        // Several: the ones Okta shows a base URL for, if that narrows it to one.
        let shown: Vec<_> = found.iter().filter(|(_, url)| url.is_some()).cloned().collect();
        if shown.len() == 1 {
            found = shown;
        }
    }
    let (app, base_url) = match found.len() {
        0 => return Ok(None),
        1 => found.remove(0),
        _ => {
            notes.hint(&format!(
                "several \"AWS IAM Identity Center\" apps could provision to Kiro ({}): add okta.provisioning by hand for the one that does",
                super::candidates(found.iter().map(|(a, _)| format!("{} ({})", a.label.as_deref().unwrap_or(""), a.id)).collect())
            ));
            return Ok(None);
        }
    };
    let label = app.label.clone().unwrap_or_default();
    let done = app.features.as_ref().is_some_and(|f| f.iter().any(|f| f == "PUSH_NEW_USERS"));
    let seen = read::read_provisioning(okta, &label, done).await?;
    let not_on_scim: Vec<String> =
        assign_groups.iter().filter(|g| !seen.app_groups.iter().any(|(_, n)| n == *g)).cloned().collect();
    if !not_on_scim.is_empty() {
        notes.hint(&format!(
            "assigned to the Kiro app but not to \"{label}\", so left out of okta.assign_groups (the plan would assign them to it): {}",
            super::candidates(not_on_scim.clone())
        ));
        assign_groups.retain(|g| !not_on_scim.contains(g));
    }
    let mut push_groups = Vec::new();
    for (_, source, _) in &seen.push_mappings {
        let group: Group = parse(
            okta.get(&format!("/api/v1/groups/{}", read::encode(source)))
                .await
                .map_err(|e| e.into_error("read a group"))?,
            "a group",
        )
        .map_err(|e| e.into_error("read a group"))?;
        // A group both assigned and pushed is one Okta does not support: plan reports it.
        if let Some(name) = group.profile.name.filter(|n| !assign_groups.contains(n)) {
            push_groups.push(name);
        }
    }
    push_groups.sort();
    if base_url.is_none() {
        notes.hint(&format!(
            "Okta does not show the SCIM base URL of \"{label}\": fill in okta.provisioning.scim_endpoint from the Kiro console"
        ));
    }
    Ok(Some(OktaProvisioning {
        app_label: label,
        scim_endpoint: base_url.unwrap_or_else(|| ENDPOINT_UNKNOWN.into()),
        scim_token: SecretRef::Env(EnvSecret { env: SCIM_TOKEN_ENV.into() }),
        done,
        push_groups,
    }))
}

/// The app's SCIM base URL, where Okta's connection API shows it (for most apps it answers
/// UNKNOWN and no URL).
async fn base_url(okta: &Okta, app: &App) -> Option<String> {
    let value = okta.get(&format!("/api/v1/apps/{}/connections/default", app.id)).await.ok()?;
    let connection: Connection = parse(value, "the provisioning connection").ok()?;
    connection.base_url.map(|u| u.trim_end_matches('/').to_owned()).filter(|u| !u.is_empty())
}
