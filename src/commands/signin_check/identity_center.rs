//! `signin check` on IAM Identity Center: the device authorization flow Kiro CLI runs on a remote
//! machine (https://kiro.dev/docs/cli/authentication/, "Device flow"), at the AWS access portal URL the plan output shows, as the
//! test user; then the user's subscription, read where Identity Center shows it. Identity
//! Center's access token is opaque (no claims to read) and does not say who signed in, so the
//! user is named with `--user` and the subscription is read from the directory.

use secrecy::ExposeSecret;
use serde_json::json;

use super::{Check, Options, open_in_browser, report, signin_wait};
use crate::clients::aws::Aws;
use crate::clients::sso_oidc::{self, Outcome, Start};
use crate::error::Error;
use crate::exit_status::ExitStatus;
use crate::printer::Printer;
use crate::steps::context::IdentityCenterFacts;

/// The scopes Kiro CLI registers its device-flow client with (aws/amazon-q-developer-cli,
/// `crates/chat-cli/src/auth/consts.rs`: `codewhisperer:` + completions, analysis,
/// conversations).
const KIRO_CLI_SCOPES: &[&str] =
    &["codewhisperer:completions", "codewhisperer:analysis", "codewhisperer:conversations"];

/// The steps of the Identity Center onboarding (docs/vendor-behaviour.md §1.8: Kiro's
/// authentication page and a public walk-through), each a way sign-in fails.
const ROW_PORTAL: &str = "Step 7: the AWS access portal URL (Start URL) and Region users enter in Kiro";
const ROW_SIGNED_IN: &str =
    "First sign-in: the user has a password or one-time password (identity_center.first_sign_in), MFA set up";
const ROW_PROFILE: &str = "Step 5: Enable Kiro (the Kiro profile on this Identity Center instance)";
const ROW_SUBSCRIBED: &str = "Step 6: Assign users or groups to Kiro (else: \"Your organization administrator has not granted you access to any Kiro profile\")";

pub async fn sign_in(
    aws: &Aws,
    idc: &IdentityCenterFacts,
    planned_users: &[String],
    options: &Options,
    printer: &Printer,
) -> Result<ExitStatus, Error> {
    let Some(user) = options.user.as_deref() else {
        let known = if planned_users.is_empty() {
            String::new()
        } else {
            format!(" (the plan's: {})", planned_users.join(", "))
        };
        return Err(Error::Usage(format!(
            "signin check on IAM Identity Center needs --user USER_NAME{known}: Identity Center's token does not say who signed in, and the subscription is read for that user"
        )));
    };
    let profiles = idc.kiro_profiles.as_ref().map_err(|reason| Error::Precondition {
        message: format!("the Kiro profile's assignments could not be read: {reason}"),
        hint: "signin check reads them with sso:ListApplications and sso:ListApplicationAssignments (docs/security.md, the read-only policy)".into(),
    })?;
    // A disabled application signs nobody in (sso-admin ApplicationStatus: ENABLED | DISABLED).
    let enabled: Vec<_> = profiles.iter().filter(|p| p.status == "ENABLED").cloned().collect();
    let Some(subscriptions) =
        crate::steps::identity_center::user_subscription(aws, &idc.identity_store_id, &enabled, user).await?
    else {
        return Err(Error::Precondition {
            message: format!("no user {user} in the Identity Center directory {}", idc.identity_store_id),
            hint: "--user takes the user name (identity_center.users[].user_name in the plan), not the email".into(),
        });
    };

    let mut checks = Vec::new();
    checks.extend(interactive(aws, idc, user, options).await?);
    checks.push(Check {
        id: "profile",
        row: ROW_PROFILE,
        ok: !enabled.is_empty(),
        detail: {
            let listed = profiles.iter().map(|p| format!("{} ({})", p.name, p.status)).collect::<Vec<_>>().join(", ");
            match (profiles.is_empty(), enabled.is_empty()) {
                (true, _) => {
                    "IAM Identity Center shows no Kiro profile (no application of the codewhisperer provider, none named KiroProfile-…)".into()
                }
                (false, true) => format!("no Kiro profile is enabled: {listed}"),
                (false, false) => format!("Kiro profile {listed}{}", sign_in_note(&enabled)),
            }
        },
    });
    checks.push(Check {
        id: "subscribed",
        row: ROW_SUBSCRIBED,
        ok: !subscriptions.is_empty(),
        detail: subscribed_detail(user, &subscriptions),
    });
    Ok(report("identity_center", json!({"portal_url": idc.portal_url, "region": idc.region}), &checks, printer))
}

/// What the `subscribed` row read, and what it could not: IAM Identity Center shows the
/// assignments of the profile's application, not whether Kiro gave the user a seat; Kiro's
/// issues show assigned groups whose members got none
/// (https://github.com/kirodotdev/Kiro/issues/10645, /9877, /11443), so no verdict claims it.
fn subscribed_detail(user: &str, subscriptions: &[String]) -> String {
    if subscriptions.is_empty() {
        return format!(
            "{user} is in no group assigned to a Kiro profile's application, and not assigned directly (read: the applications' assignments in IAM Identity Center and the groups' members)"
        );
    }
    format!(
        "IAM Identity Center shows {user} assigned to the Kiro profile's application through {}; not verified: that Kiro gave {user} a seat (no AWS API shows Kiro's subscription state; the Kiro console does, Users & Groups → Users: Active or Pending)",
        subscriptions.join("; ")
    )
}

/// A profile made by Kiro's console without its sign-in application (docs/vendor-behaviour.md §1.8).
fn sign_in_note(enabled: &[crate::steps::context::KiroProfileFacts]) -> String {
    let missing: Vec<&str> = enabled
        .iter()
        .filter(|p| p.name.starts_with(crate::steps::identity_center::applications::KIRO_PROFILE_PREFIX))
        .filter(|p| p.sign_in_application.is_none())
        .map(|p| p.name.as_str())
        .collect();
    if missing.is_empty() {
        String::new()
    } else {
        format!("; IAM Identity Center shows no \"Kiro Sign-In - …\" application for {}", missing.join(", "))
    }
}

/// The device authorization flow, as the user goes through it: the portal check, then sign-in.
async fn interactive(aws: &Aws, idc: &IdentityCenterFacts, user: &str, options: &Options) -> Result<Vec<Check>, Error> {
    let registration = sso_oidc::register(aws, &idc.region, "kiro-onboard signin check", KIRO_CLI_SCOPES).await?;
    let authorization = match sso_oidc::start(aws, &idc.region, &registration, &idc.portal_url).await? {
        Start::Started(authorization) => authorization,
        Start::StartUrlRefused(message) => {
            return Ok(vec![Check {
                id: "portal",
                row: ROW_PORTAL,
                ok: false,
                detail: format!(
                    "IAM Identity Center in {} refused the start URL {}: {message}",
                    idc.region, idc.portal_url
                ),
            }]);
        }
    };
    let portal = Check {
        id: "portal",
        row: ROW_PORTAL,
        ok: true,
        detail: format!("{} in {} started a device sign-in", idc.portal_url, idc.region),
    };
    let url = authorization.verification_uri_complete.clone().unwrap_or_else(|| authorization.verification_uri.clone());
    crate::output::prompt(&format!(
        "Sign in as {user} on any device: open {} and enter the code {}, or open this URL, which fills the code in:\n{url}",
        authorization.verification_uri, authorization.user_code
    ));
    let over_ssh = std::env::var_os("SSH_CONNECTION").is_some_and(|v| !v.is_empty());
    if !options.no_browser && !over_ssh {
        open_in_browser(&url);
    }
    crate::output::prompt(&format!("Waiting for {user} to sign in at the AWS access portal and choose Allow…"));
    let signed_in = match sso_oidc::wait_for_token(aws, &idc.region, &registration, &authorization, signin_wait())
        .await?
    {
        Outcome::Token(token) => {
            // Held only to prove it was issued: never printed, logged, cached or written.
            let issued = !token.expose_secret().is_empty();
            drop(token);
            Check {
                id: "signed_in",
                row: ROW_SIGNED_IN,
                ok: issued,
                detail: format!(
                    "{user} signed in at the AWS access portal and allowed access; Identity Center issued a token"
                ),
            }
        }
        Outcome::Denied(message) => Check {
            id: "signed_in",
            row: ROW_SIGNED_IN,
            ok: false,
            detail: format!("the sign-in was denied at the portal: {message}"),
        },
        Outcome::NotCompleted(reason) => {
            return Err(Error::Precondition {
                message: format!("sign-in did not complete: {reason}"),
                hint: format!(
                    "if {user} could not sign in at the portal: a user created through the API has no password until first sign-in is set up (plan shows identity_center.first_sign_in: turn on \"Send email OTP for users created from API\" or generate a one-time password); KIRO_ONBOARD_SIGNIN_WAIT sets the wait in seconds"
                ),
            });
        }
    };
    Ok(vec![portal, signed_in])
}
