//! The flags of `import`, checked before anything is read: each `--idp` reads its own, a flag
//! another `--idp` reads is refused (never silently ignored), and a missing one is named with
//! what to type. `--domain`, `--resolver`, `--out` and `--force` apply to every `--idp`.

use crate::cli::{Idp, ImportArgs};
use crate::error::Error;

/// The IdP-specific flags, and which `--idp` reads each.
const OWNERS: &[(&str, &[&str])] = &[
    ("--group", &["identity-center"]),
    ("--kms-key", &["identity-center"]),
    ("--tenant", &["entra"]),
    ("--app-name", &["entra"]),
    ("--app-id", &["entra", "okta"]),
    ("--org-url", &["okta"]),
    ("--app-label", &["okta"]),
];

pub fn idp_name(idp: Idp) -> &'static str {
    match idp {
        Idp::IdentityCenter => "identity-center",
        Idp::Entra => "entra",
        Idp::Okta => "okta",
    }
}

/// An example of a whole command for this `--idp`, for hints.
fn example(idp: Idp) -> &'static str {
    match idp {
        Idp::IdentityCenter => "kiro-onboard import --idp identity-center --group NAME [--kms-key KEY]",
        Idp::Entra => {
            "kiro-onboard import --idp entra --tenant example.onmicrosoft.com --app-name NAME (or --app-id APPID)"
        }
        Idp::Okta => {
            "kiro-onboard import --idp okta --org-url https://example.okta.com --app-label LABEL (or --app-id ID)"
        }
    }
}

fn given(args: &ImportArgs, flag: &str) -> bool {
    match flag {
        "--group" => !args.groups.is_empty(),
        "--kms-key" => args.kms_key.is_some(),
        "--tenant" => args.tenant.is_some(),
        "--app-name" => args.app_name.is_some(),
        "--app-id" => args.app_id.is_some(),
        "--org-url" => args.org_url.is_some(),
        "--app-label" => args.app_label.is_some(),
        _ => false,
    }
}

fn refuse(idp: Idp, message: String, what_to_do: &str) -> Error {
    Error::Precondition { message, hint: format!("{what_to_do}, e.g. `{}`", example(idp)) }
}

pub fn check(args: &ImportArgs) -> Result<(), Error> {
    let idp = idp_name(args.idp);
    let foreign: Vec<(&str, &[&str])> =
        OWNERS.iter().filter(|(flag, owners)| given(args, flag) && !owners.contains(&idp)).copied().collect();
    if !foreign.is_empty() {
        let flags: Vec<&str> = foreign.iter().map(|(f, _)| *f).collect();
        let belong: Vec<String> = foreign
            .iter()
            .map(|(f, owners)| {
                format!("{f} is for {}", owners.iter().map(|o| format!("--idp {o}")).collect::<Vec<_>>().join(" or "))
            })
            .collect();
        return Err(Error::Precondition {
            message: format!("`import --idp {idp}` does not read {}", flags.join(", ")),
            hint: format!("{}: leave it out, or run import with the --idp it is for", belong.join("; ")),
        });
    }
    match args.idp {
        Idp::IdentityCenter if args.groups.is_empty() => Err(refuse(
            args.idp,
            "`import --idp identity-center` needs at least one --group NAME".into(),
            "name each Identity Center group Kiro subscribes with --group NAME (repeat for several)",
        )),
        Idp::Entra if args.tenant.is_none() => Err(refuse(
            args.idp,
            "`import --idp entra` needs --tenant".into(),
            "give the tenant id or a verified domain with --tenant, as for `kiro-onboard login entra`",
        )),
        Idp::Entra if args.app_id.is_none() && args.app_name.is_none() => Err(refuse(
            args.idp,
            "`import --idp entra` needs --app-name NAME or --app-id APPID".into(),
            "name Kiro's enterprise app with --app-name (its display name) or --app-id (App registrations → the app → Application (client) ID)",
        )),
        Idp::Entra => entra_app_id(args),
        Idp::Okta if args.org_url.is_none() => Err(refuse(
            args.idp,
            "`import --idp okta` needs --org-url".into(),
            "give your Okta org's URL with --org-url (the admin console's address without `-admin`)",
        )),
        Idp::Okta if args.app_id.is_none() && args.app_label.is_none() => Err(refuse(
            args.idp,
            "`import --idp okta` needs --app-label LABEL or --app-id ID".into(),
            "name the Kiro OIDC app with --app-label (its exact label, Applications → Applications) or --app-id (the id in its console address)",
        )),
        Idp::Okta => okta_org_url(args),
        _ => Ok(()),
    }
}

/// An Entra appId is a GUID; what else is given (an Okta app id, `0oa…`) cannot name an Entra app.
fn entra_app_id(args: &ImportArgs) -> Result<(), Error> {
    match &args.app_id {
        Some(id) if !crate::steps::entra::looks_like_guid(id) => Err(Error::Precondition {
            message: format!(
                "--app-id {id} is not an Entra appId (a GUID such as 5f1c0e2a-7a51-4f3c-9d0e-6b2a8e4c1d90)"
            ),
            hint: format!(
                "copy the Application (client) ID from App registrations → the app, or pass --app-name NAME; an Okta app's id goes with `kiro-onboard import --idp okta --org-url URL --app-id {id}`"
            ),
        }),
        _ => Ok(()),
    }
}

/// The org URL the Okta API token would be sent to: refused here, in terms of the flag, as the
/// plan's `okta.org_url` would be.
fn okta_org_url(args: &ImportArgs) -> Result<(), Error> {
    use crate::shared::endpoint::{Vendor, credential_url};
    let url = args.org_url.as_deref().unwrap_or_default();
    credential_url(url, Vendor::Okta).map(|_| ()).map_err(|refused| Error::Precondition {
        message: format!("--org-url: {}", refused.about(url, Vendor::Okta)),
        hint: refused.hint(Vendor::Okta),
    })
}
