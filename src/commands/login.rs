//! `login entra` (device code flow, cached session) and `logout`.

use crate::clients::calls::CallCounter;
use crate::clients::entra_auth;
use crate::error::Error;
use crate::exit_status::ExitStatus;
use crate::printer::Printer;

pub async fn login_entra(tenant: &str, client_id: Option<&str>, printer: &Printer) -> Result<ExitStatus, Error> {
    let calls = CallCounter::default();
    let client_id = client_id.unwrap_or(entra_auth::DEFAULT_CLIENT_ID);
    let tenant_id = entra_auth::login_device_code(tenant, client_id, &calls).await?;
    printer.status(&format!(
            "Signed in to Microsoft Entra tenant {tenant}{}; the session is cached in {} (readable only by you). `kiro-onboard logout` deletes it.",
            tenant_id.map(|t| format!(" (Directory (tenant) ID {t})")).unwrap_or_default(),
            entra_auth::cache_path().display()
        ));
    Ok(ExitStatus::Success)
}

pub fn logout(idp: Option<crate::cli::LogoutIdp>, printer: &Printer) -> Result<ExitStatus, Error> {
    use crate::cli::LogoutIdp;
    if matches!(idp, None | Some(LogoutIdp::Entra)) {
        let message = if entra_auth::logout()? {
            format!("Deleted the cached Entra ID sessions ({})", entra_auth::cache_path().display())
        } else {
            "No cached Entra ID sessions to delete".to_owned()
        };
        printer.status(&message);
    }
    if matches!(idp, None | Some(LogoutIdp::Okta)) {
        printer.status(
            "Okta: kiro-onboard keeps no Okta login; it reads the API token or service app key that `okta.credentials` names on each run (revoke a token in Okta: Security → API → Tokens)",
        );
    }
    if matches!(idp, None | Some(LogoutIdp::IdentityCenter)) {
        printer.status(
            "IAM Identity Center: kiro-onboard keeps no AWS login; it uses your AWS credentials as the AWS CLI does (`aws sso logout` signs out of SSO profiles)",
        );
    }
    Ok(ExitStatus::Success)
}
