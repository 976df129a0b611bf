//! `scim check`: does this endpoint accept this token? Shows the token only by fingerprint.

use std::time::Duration;

use serde_json::json;

use crate::cli::ScimCheckArgs;
use crate::clients::scim;
use crate::engine::json::FORMAT_VERSION;
use crate::error::Error;
use crate::exit_status::ExitStatus;
use crate::plan::secret::{EnvSecret, FileSecret, SecretRef, StdinSecret, fingerprint};
use crate::printer::Printer;

pub async fn run(args: &ScimCheckArgs, printer: &Printer) -> Result<ExitStatus, Error> {
    let printer = printer.without_notes_in_json();
    let reference = if let Some(name) = &args.token_env {
        SecretRef::Env(EnvSecret { env: name.clone() })
    } else if let Some(path) = &args.token_file {
        SecretRef::File(FileSecret { file: path.clone() })
    } else {
        SecretRef::Stdin(StdinSecret { stdin: true })
    };
    check_url(&args.endpoint)?;
    let token = reference.resolve().await.map_err(|e| Error::Usage(format!("could not read the SCIM token: {e}")))?;
    let print = fingerprint(&token);
    printer.status(&format!("Checking token {print} against {}…", args.endpoint));
    let result = scim::check(&args.endpoint, &token, Duration::from_secs(args.timeout.max(1))).await;
    let document = || {
        let mut value = json!({
            "format_version": FORMAT_VERSION,
            "command": "scim check",
            "endpoint": args.endpoint,
            "token_fingerprint": print,
            "authenticated": result.authenticated(),
            "summary": result.summary(),
            "hint": result.hint(),
        });
        if let (Some(object), Ok(serde_json::Value::Object(fields))) =
            (value.as_object_mut(), serde_json::to_value(&result))
        {
            object.extend(fields);
        }
        value
    };
    printer.result(document, || {
        printer.prose(&format!("SCIM endpoint {}: token {print}: {}", args.endpoint, result.summary()));
        if let Some(hint) = &result.hint() {
            printer.hint(hint);
        }
    });
    Ok(if result.authenticated() {
        ExitStatus::Success
    } else if result.answered() {
        ExitStatus::Attention
    } else {
        ExitStatus::Failure
    })
}

/// Kiro's endpoint is HTTPS on Kiro's own host (or a host trusted in KIRO_ONBOARD_TRUSTED_HOSTS);
/// plain HTTP only to this machine's test servers (`shared::endpoint`).
fn check_url(endpoint: &str) -> Result<(), Error> {
    use crate::shared::endpoint::{Vendor, credential_url};
    credential_url(endpoint, Vendor::Scim).map(|_| ()).map_err(|refused| Error::Precondition {
        message: refused.about(endpoint, Vendor::Scim),
        hint: refused.hint(Vendor::Scim),
    })
}
