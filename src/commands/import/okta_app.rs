//! `import --idp okta`, the app: the Kiro OIDC app by `--app-id` or exact `--app-label`, with
//! clear errors that list the candidates, and a refusal where adopting it would not be safe.

use crate::cli::ImportArgs;
use crate::clients::okta::Okta;
use crate::clients::okta_model::{App, parse};
use crate::error::Error;
use crate::steps::okta::read::{self, list};

pub fn describe(app: &App) -> String {
    format!("{} ({})", app.label.as_deref().unwrap_or("(no label)"), app.id)
}

/// The org's OIDC apps, for an error that lists what could have been meant.
async fn oidc_candidates(okta: &Okta) -> Result<String, Error> {
    let apps: Vec<App> = list(okta, "/api/v1/apps?limit=200&includeNonDeleted=true", "list apps").await?;
    Ok(super::candidates(
        apps.iter().filter(|a| a.sign_on_mode.as_deref() == Some("OPENID_CONNECT")).map(describe).collect(),
    ))
}

/// The app by `--app-id`, or the one app labelled exactly `--app-label`.
pub async fn find_kiro_app(okta: &Okta, args: &ImportArgs) -> Result<App, Error> {
    let app = match (&args.app_id, &args.app_label) {
        (Some(id), _) => match okta.get(&format!("/api/v1/apps/{}", read::encode(id))).await {
            Ok(value) => Some(parse::<App>(value, "the app").map_err(|e| e.into_error("read the app"))?),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e.into_error("read the app")),
        },
        (None, Some(label)) => {
            let mut found = read::list_labelled(okta, label).await?;
            if found.len() > 1 {
                return Err(Error::Precondition {
                    message: format!("{} Okta apps are labelled \"{label}\"", found.len()),
                    hint: format!(
                        "name the Kiro app with --app-id: {}",
                        super::candidates(found.iter().map(describe).collect())
                    ),
                });
            }
            found.pop()
        }
        (None, None) => unreachable!("`flags::check` asks for --app-id or --app-label"),
    };
    let wanted = args.app_id.clone().or(args.app_label.clone()).unwrap_or_default();
    match app {
        Some(app) if app.sign_on_mode.as_deref() == Some("OPENID_CONNECT") => Ok(app),
        Some(app) => Err(Error::Precondition {
            message: format!(
                "the Okta app {} is not an OIDC app: Kiro signs in with an OIDC native app",
                describe(&app)
            ),
            hint: format!(
                "OIDC apps in this org: {}; pass the Kiro app with --app-id ID or its exact --app-label LABEL",
                oidc_candidates(okta).await?
            ),
        }),
        None => Err(Error::Precondition {
            message: format!("Okta has no app \"{wanted}\""),
            hint: if args.app_id.as_deref().is_some_and(crate::steps::entra::looks_like_guid) {
                format!(
                    "{wanted} looks like an Entra appId: import it with --idp entra --tenant TENANT --app-id {wanted}"
                )
            } else {
                format!(
                    "OIDC apps in this org: {}; pass the Kiro app with --app-id ID or its exact --app-label LABEL",
                    oidc_candidates(okta).await?
                )
            },
        }),
    }
}

/// The plan finds the Kiro app by its label, and apply deletes younger apps of that label that
/// kiro-onboard made (`app_election`): a label shared with another app cannot be adopted safely.
pub async fn refuse_shared_label(okta: &Okta, app: &App, label: &str) -> Result<(), Error> {
    let same = read::list_labelled(okta, label).await?;
    if same.iter().all(|a| a.id == app.id) {
        return Ok(());
    }
    Err(Error::Precondition {
        message: format!(
            "{} Okta apps are labelled \"{label}\": the plan finds the Kiro app by its label, so it cannot name {} alone",
            same.len(),
            app.id
        ),
        hint: format!(
            "rename the other apps (or this one) in Okta so that its label is unique, then import again: {}",
            super::candidates(same.iter().map(describe).collect())
        ),
    })
}
