//! `signin check`: signs a real test user in to the Kiro app the plan configured, with the flow
//! Kiro's clients run (authorization code + PKCE on a loopback redirect), and gives one verdict
//! per row of Kiro's troubleshooting table. The app's ids come from the plan's own step reads.
//! The access token is inspected in memory only: never printed, logged, cached or written.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Value, json};

use crate::cli::Limits;
use crate::clients::oauth_pkce::{self, AuthorizeRequest, CALLBACK_PATH, Callback, Exchange, Loopback, Pkce};
use crate::engine::json::FORMAT_VERSION;
use crate::error::Error;
use crate::exit_status::ExitStatus;
use crate::printer::Printer;

mod identity_center;

pub struct Options {
    pub user: Option<String>,
    pub no_browser: bool,
    pub limits: Limits,
}

/// How long to wait for the browser's redirect (or the pasted URL): `KIRO_ONBOARD_SIGNIN_WAIT`
/// seconds, default 5 minutes.
fn signin_wait() -> Duration {
    std::env::var("KIRO_ONBOARD_SIGNIN_WAIT")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(300))
}

/// One verdict line: the troubleshooting row it rules out, and whether it held.
struct Check {
    id: &'static str,
    row: &'static str,
    ok: bool,
    detail: String,
}

/// The troubleshooting rows of one identity provider's guide, one per check.
struct Rows {
    redirect: &'static str,
    assigned: &'static str,
    access_policy: &'static str,
    scopes: &'static str,
    version: Option<&'static str>,
    audience: &'static str,
    tenant: &'static str,
}

/// Kiro's Entra guide (https://kiro.dev/docs/cli/enterprise/identity-provider/microsoft-entra/), its Troubleshooting table and steps.
const ENTRA_ROWS: Rows = Rows {
    redirect: "Did not set redirect URIs",
    assigned: "Assign users and groups (the user is not assigned: AADSTS50105)",
    access_policy: "Assign users and groups",
    scopes: "Did not set scopes in Expose an API",
    version: Some("Did not set access token version to 2 in manifest"),
    audience: "Expose an API: Application ID URI api://{appId} (aud is the Application (client) ID in the Kiro profile)",
    tenant: "Directory (tenant) ID in the Kiro profile",
};

/// Kiro's Okta guide (docs/vendor-behaviour.md §3.1.2-§3.1.3): its steps, each a way sign-in fails.
const OKTA_ROWS: Rows = Rows {
    redirect: "Step 1: Sign-in redirect URIs (the localhost ports)",
    assigned: "Step 1: Add users and groups (User is not assigned to the client application)",
    access_policy: "Step 2: Add access policies (Policy evaluation failed)",
    scopes: "Step 2: Create Kiro specific scopes and Scope authorization",
    version: None,
    audience: "Step 2: the authorization server's audience",
    tenant: "Step 3: Issuer URL in the Kiro profile",
};

/// The app to sign in to, as the plan's step reads found it.
struct Target {
    idp: &'static str,
    rows: &'static Rows,
    client_id: String,
    authorize_endpoint: String,
    token_endpoint: String,
    scopes: Vec<String>,
    /// Loopback ports the app registers (empty: any, as Entra ignores the port for localhost).
    ports: Vec<u16>,
    expected_aud: Vec<String>,
    /// The issuers the token's `iss` may be, `{tid}` standing for its `tid`.
    expected_issuer: Vec<String>,
    expected_tenant: Option<String>,
    /// The scopes the token's `scp` must hold.
    kiro_scopes: Vec<String>,
}

pub async fn run(path: &Path, options: Options, printer: &Printer) -> Result<ExitStatus, Error> {
    let printer = printer.without_notes_in_json();
    let loaded = super::load_plan(path)?;
    let mut prepared = super::prepare(&loaded, options.limits, &printer).await?;
    super::check_all(&mut prepared, &printer).await?;
    let requirements = crate::requirements::chosen(loaded.plan.kiro.requirements.as_deref());
    let target = if let Some(entra) = &loaded.plan.entra {
        entra_target(&prepared.context, &entra.tenant, &requirements.scopes)?
    } else if let Some(okta) = &loaded.plan.okta {
        okta_target(&prepared.context, okta, requirements)?
    } else if let (Some(planned), Some(idc), Some(aws)) =
        (&loaded.plan.identity_center, &prepared.context.identity_center, &prepared.aws)
    {
        let users: Vec<String> = planned.users.iter().map(|u| u.user_name.clone()).collect();
        return identity_center::sign_in(aws, idc, &users, &options, &printer).await;
    } else {
        return Err(Error::Usage(
            "signin check needs a plan with an `entra` (Microsoft Entra ID), `okta` or `identity_center` section"
                .into(),
        ));
    };
    let checks = sign_in(&target, &options).await?;
    Ok(report(target.idp, json!({"client_id": target.client_id}), &checks, &printer))
}

fn entra_target(context: &crate::steps::Context, plan_tenant: &str, scopes: &[String]) -> Result<Target, Error> {
    let facts = context.entra.clone().unwrap_or_default();
    let Some(client_id) = facts.client_id else {
        return Err(Error::Precondition {
            message: "the Kiro app does not exist in Entra yet".into(),
            hint: "run `kiro-onboard apply` first; signin check signs in to the app it configured".into(),
        });
    };
    // The Kiro profile holds the Directory (tenant) ID the console step showed: the plan's own
    // when it names the tenant by id, else the one read for that step. Without either (no
    // Organization.Read.All) sign in at the plan's domain and report the token's tid to paste.
    let expected_tenant = if crate::steps::entra::looks_like_guid(plan_tenant) {
        Some(plan_tenant.to_ascii_lowercase())
    } else {
        facts.tenant_id.map(|t| t.to_ascii_lowercase())
    };
    let tenant = expected_tenant.clone().unwrap_or_else(|| plan_tenant.to_owned());
    let base = crate::clients::entra_auth::login_base();
    Ok(Target {
        idp: "entra",
        rows: &ENTRA_ROWS,
        authorize_endpoint: format!("{base}/{tenant}/oauth2/v2.0/authorize"),
        token_endpoint: format!("{base}/{tenant}/oauth2/v2.0/token"),
        // Kiro's clients ask for the app's scopes under its App ID URI (Kiro's Entra guide, Step 2;
        // docs/vendor-behaviour.md §1.1).
        scopes: scopes.iter().map(|s| format!("api://{client_id}/{s}")).collect(),
        ports: Vec::new(),
        // learn.microsoft.com/entra/identity-platform/access-token-claims-reference: a v2.0
        // token's aud "is always the client ID of the API"; a v1.0 one's the resource URI asked
        // for, and its iss is sts.windows.net (the token_version check names that row).
        expected_aud: vec![client_id.clone(), format!("api://{client_id}")],
        expected_issuer: vec![
            "https://login.microsoftonline.com/{tid}/v2.0".into(),
            "https://sts.windows.net/{tid}/".into(),
        ],
        expected_tenant,
        kiro_scopes: scopes.to_vec(),
        client_id,
    })
}

fn okta_target(
    context: &crate::steps::Context,
    okta: &crate::plan::model::Okta,
    requirements: &crate::requirements::Requirements,
) -> Result<Target, Error> {
    let facts = context.okta.clone().unwrap_or_default();
    let (Some(client_id), Some(live_issuer)) = (facts.client_id, facts.issuer) else {
        return Err(Error::Precondition {
            message: "the Kiro app or its authorization server does not exist in Okta yet".into(),
            hint: "run `kiro-onboard apply` first; signin check signs in to the app it configured".into(),
        });
    };
    // Kiro's clients try these ports in order (docs/vendor-behaviour.md §1.9, §3.1.6); the app
    // registers each.
    let ports = requirements
        .okta
        .redirect_uris
        .iter()
        .filter_map(|u| u.strip_prefix("http://localhost:")?.strip_suffix(CALLBACK_PATH)?.parse().ok())
        .collect();
    let kiro_scopes = crate::steps::okta::diff::kiro_scopes(okta, requirements);
    // The Kiro profile holds the issuer under the org URL kiro-onboard uses (the plan's); Kiro's
    // clients sign in there (discovery on the profile's issuer). A live read follows the
    // server's issuerMode (developer.okta.com, AuthorizationServer.issuerMode: ORG_URL,
    // CUSTOM_URL, DYNAMIC), so only the server's id, which never changes, is taken from it.
    let server_id = live_issuer.rsplit('/').next().unwrap_or_default();
    let issuer = format!("{}/oauth2/{server_id}", facts.org_url.trim_end_matches('/'));
    Ok(Target {
        idp: "okta",
        rows: &OKTA_ROWS,
        authorize_endpoint: format!("{issuer}/v1/authorize"),
        token_endpoint: format!("{issuer}/v1/token"),
        // The scopes Kiro's client asks for: OIDC, offline_access, and Kiro's (the rule's own list).
        scopes: crate::steps::okta::diff::rule_scopes(&kiro_scopes),
        ports,
        // The profile is given no audience (the console step pastes Issuer URL and Client ID)
        // and which aud Kiro accepts is undocumented: this compares with the server's own.
        expected_aud: facts.audience.into_iter().collect(),
        expected_issuer: vec![issuer],
        expected_tenant: None,
        kiro_scopes,
        client_id,
    })
}

/// Whether a browser can be opened here: not over SSH, and a display (or macOS).
fn can_open_browser() -> Option<&'static str> {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    if set("SSH_CONNECTION") {
        return None;
    }
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if set("DISPLAY") || set("WAYLAND_DISPLAY") {
        "xdg-open"
    } else {
        return None;
    };
    let on_path = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(opener).is_file()));
    on_path.then_some(opener)
}

/// Opens `url` in the browser when one can be opened here; the URL is printed either way.
fn open_in_browser(url: &str) {
    if let Some(opener) = can_open_browser() {
        let _ = std::process::Command::new(opener)
            .arg(url)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
    }
}

async fn sign_in(target: &Target, options: &Options) -> Result<Vec<Check>, Error> {
    let failed = |e: String| Error::Remote {
        service: target.idp.into(),
        operation: "sign-in".into(),
        message: e,
        hint: Some("check the network and the plan's identity provider settings".into()),
        reason: None,
    };
    let mut checks = Vec::new();
    let pasted = options.no_browser || std::env::var_os("SSH_CONNECTION").is_some_and(|v| !v.is_empty());
    let loopback = bind_loopback(&target.ports)?;
    let redirect_uri = format!("http://localhost:{}{CALLBACK_PATH}", loopback.port);
    let pkce = Pkce::new().map_err(failed)?;
    let state = oauth_pkce::new_state().map_err(failed)?;
    let url = AuthorizeRequest {
        authorize_endpoint: &target.authorize_endpoint,
        client_id: &target.client_id,
        redirect_uri: &redirect_uri,
        scopes: &target.scopes,
        state: &state,
        challenge: &pkce.challenge,
        login_hint: options.user.as_deref(),
    }
    .url()
    .map_err(failed)?;
    let timeout = crate::clients::call_timeout(Duration::from_secs(30));

    // The redirect URI: the identity provider refuses an unregistered one on its own page.
    let page = oauth_pkce::authorize_page(&url, timeout).await.map_err(failed)?;
    if let Some(refusal) = redirect_refusal(target.rows, &page) {
        checks.push(refusal);
        return Ok(checks);
    }

    let who = options.user.as_deref().map(|u| format!(" as {u}")).unwrap_or_default();
    crate::output::prompt(&format!("Sign in{who} at this URL:\n{url}"));
    let callback = if pasted {
        drop(loopback);
        crate::output::prompt(&format!(
            "Then paste here the URL the browser was redirected to (it starts with {redirect_uri}):"
        ));
        read_pasted(&state, signin_wait()).await
    } else {
        open_in_browser(&url);
        crate::output::prompt(&format!("Waiting for the browser's redirect on {redirect_uri}…"));
        let wait = signin_wait();
        let state = state.clone();
        tokio::task::spawn_blocking(move || loopback.wait(&state, wait)).await.map_err(|e| failed(e.to_string()))?
    };
    let callback = callback.map_err(|reason| Error::Precondition {
        message: format!("sign-in did not complete: {reason}"),
        hint: "open the URL, sign in as the test user; if the page shows an error, it names what to fix; \
               KIRO_ONBOARD_SIGNIN_WAIT sets the wait in seconds"
            .into(),
    })?;
    checks.push(Check {
        id: "redirect",
        row: target.rows.redirect,
        ok: true,
        detail: format!("{redirect_uri} was accepted"),
    });
    let code = match callback {
        Callback::Code(code) => code,
        Callback::Refused { error, description } => {
            checks.push(refusal_check(target.rows, &error, &description)?);
            return Ok(checks);
        }
    };
    let token = match oauth_pkce::exchange_code(
        &target.token_endpoint,
        &target.client_id,
        &redirect_uri,
        &code,
        &pkce.verifier,
        timeout,
    )
    .await
    .map_err(failed)?
    {
        Exchange::Token(token) => token,
        Exchange::Refused { error, description } => {
            checks.push(refusal_check(target.rows, &error, &description)?);
            return Ok(checks);
        }
    };
    checks.push(Check {
        id: "assigned",
        row: target.rows.assigned,
        ok: true,
        detail: "the user signed in and got a token".into(),
    });
    checks.extend(token_checks(target, &token).map_err(failed)?);
    Ok(checks)
}

fn bind_loopback(ports: &[u16]) -> Result<Loopback, Error> {
    if ports.is_empty() {
        return Loopback::bind(0).map_err(|e| Error::Usage(format!("could not listen on 127.0.0.1: {e}")));
    }
    ports.iter().find_map(|port| Loopback::bind(*port).ok()).ok_or_else(|| Error::Precondition {
        message: format!("none of the app's loopback redirect ports is free on 127.0.0.1: {ports:?}"),
        hint: "stop what listens on one of them, or run with --no-browser".into(),
    })
}

/// Reads the pasted redirect URL from standard input, within `wait`.
async fn read_pasted(state: &str, wait: Duration) -> Result<Callback, String> {
    let line = tokio::time::timeout(
        wait,
        tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map(|_| line)
        }),
    )
    .await
    .map_err(|_| format!("no redirect URL was pasted within {}s", wait.as_secs()))?
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("could not read standard input: {e}"))?;
    if line.trim().is_empty() {
        return Err(if std::io::stdin().is_terminal() {
            "nothing was pasted".into()
        } else {
            "standard input ended before a redirect URL".into()
        });
    }
    oauth_pkce::parse_redirect(&line, state)
}

/// What the identity provider's own page refuses before anyone signs in, found by its text:
/// - Entra, "Sorry, but we're having trouble signing you in." over an AADSTS message
///   (learn.microsoft.com/entra/identity-platform/reference-error-codes): AADSTS50011 the redirect
///   URI (its text: learn.microsoft.com/troubleshoot/entra/entra-id/app-integration/
///   error-code-aadsts50011-redirect-uri-mismatch), AADSTS700016 no such app in the tenant,
///   AADSTS500011 no resource under the App ID URI asked for (reported on this page too:
///   Azure-Samples/azure-search-openai-demo#1969).
/// - Okta, "400 Bad Request" with "The 'redirect_uri' parameter must be a Login redirect URI in
///   the client app settings." (support.okta.com article of that title).
///
/// Entra's page is rendered by script, so the code is looked for anywhere in it.
fn redirect_refusal(rows: &'static Rows, page: &str) -> Option<Check> {
    const REFUSALS: [(&str, &str); 4] = [
        ("AADSTS50011", "redirect"),
        ("AADSTS700016", "redirect"),
        ("AADSTS500011", "audience"),
        ("The 'redirect_uri' parameter must be", "redirect"),
    ];
    REFUSALS.iter().find_map(|(text, id)| {
        let rest = &page[page.find(text)?..];
        let end = rest.find(['"', '<', '\n']).unwrap_or(rest.len());
        let row = if *id == "audience" { rows.audience } else { rows.redirect };
        Some(Check { id, row, ok: false, detail: rest[..end].trim().to_owned() })
    })
}

/// The check a refusal rules out, by the identity provider's own error code.
fn refusal_check(rows: &'static Rows, error: &str, description: &str) -> Result<Check, Error> {
    let first_line = description.lines().next().unwrap_or_default().to_owned();
    let row =
        if description.starts_with("AADSTS50105") || description.contains("not assigned to the client application") {
            ("assigned", rows.assigned)
        } else if description.starts_with("AADSTS650053") || error == "invalid_scope" {
            ("scopes", rows.scopes)
        } else if description.starts_with("AADSTS500011") {
            // The resource principal (the App ID URI Kiro's clients ask under) is not found.
            ("audience", rows.audience)
        } else if description.starts_with("Policy evaluation failed") {
            ("access_policy", rows.access_policy)
        } else if description.starts_with("AADSTS50011") {
            ("redirect", rows.redirect)
        } else {
            return Err(Error::Precondition {
                message: format!("the identity provider refused the sign-in: {error}: {first_line}"),
                hint: "the message names the cause; fix it and run signin check again".into(),
            });
        };
    Ok(Check { id: row.0, row: row.1, ok: false, detail: format!("{error}: {first_line}") })
}

fn token_checks(target: &Target, token: &SecretString) -> Result<Vec<Check>, String> {
    let claims = oauth_pkce::token_claims(token)?;
    let text = |name: &str| claims[name].as_str().unwrap_or_default().to_owned();
    let ver = text("ver");
    // Entra's scp is a space-separated string, Okta's an array.
    let scp: Vec<String> = match &claims["scp"] {
        Value::Array(items) => items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        other => other.as_str().unwrap_or_default().split_whitespace().map(str::to_owned).collect(),
    };
    let wanted: Vec<&str> = target.kiro_scopes.iter().map(String::as_str).collect();
    let missing: Vec<&str> = wanted.iter().copied().filter(|w| !scp.iter().any(|s| s == w)).collect();
    let aud = text("aud");
    let iss = text("iss");
    let tid = text("tid");
    let tenant_ok = target.expected_tenant.as_ref().is_none_or(|t| t.eq_ignore_ascii_case(&tid));
    let issuers: Vec<String> = target.expected_issuer.iter().map(|i| i.replace("{tid}", &tid)).collect();
    let issuer_ok = issuers.contains(&iss);
    let mut checks = Vec::new();
    if let Some(row) = target.rows.version {
        checks.push(Check {
            id: "token_version",
            row,
            ok: ver == "2.0",
            detail: format!("the access token's ver is {}", if ver.is_empty() { "missing" } else { &ver }),
        });
    }
    checks.extend([
        Check {
            id: "scopes",
            row: target.rows.scopes,
            ok: missing.is_empty(),
            detail: if missing.is_empty() {
                format!("scp holds {}", wanted.join(" and "))
            } else {
                format!("scp lacks {}", missing.join(" and "))
            },
        },
        Check {
            id: "audience",
            row: target.rows.audience,
            ok: target.expected_aud.contains(&aud),
            detail: format!("aud is {aud} (expected {})", target.expected_aud.join(" or ")),
        },
        Check {
            id: "tenant",
            row: target.rows.tenant,
            ok: tenant_ok && issuer_ok,
            detail: match (&target.expected_tenant, tid.is_empty()) {
                (_, true) if issuer_ok => format!("iss is {iss}"),
                (_, true) => format!("iss is {iss}, not the Kiro profile's Issuer URL {}", issuers.join(" or ")),
                (Some(t), false) if !tenant_ok => {
                    format!("iss is {iss}, tid {tid}, not the Kiro profile's Directory (tenant) ID {t}")
                }
                (Some(_), false) if !issuer_ok => format!("iss is {iss}, tid {tid}: not an Entra issuer for that tenant"),
                (Some(_), false) => format!("iss is {iss}, tid {tid}"),
                (None, false) => format!(
                    "iss is {iss}, tid {tid}: put this Directory (tenant) ID in the Kiro profile (it could not be read to compare: the credentials lack Organization.Read.All)"
                ),
            },
        },
    ]);
    Ok(checks)
}

/// The verdict: one line per check, or the JSON document (`fields` adds what identifies the app);
/// attention unless every check holds.
fn report(idp: &str, fields: Value, checks: &[Check], printer: &Printer) -> ExitStatus {
    let all_ok = checks.iter().all(|c| c.ok);
    printer.result(|| verdict_document(idp, fields, checks), || printer.prose(&verdict_text(checks)));
    ExitStatus::attention_unless(all_ok)
}

fn verdict_document(idp: &str, fields: Value, checks: &[Check]) -> Value {
    let items: Vec<Value> =
        checks.iter().map(|c| json!({"id": c.id, "row": c.row, "ok": c.ok, "detail": c.detail})).collect();
    let mut document = json!({"format_version": FORMAT_VERSION, "command": "signin check", "idp": idp});
    if let (Some(document), Value::Object(fields)) = (document.as_object_mut(), fields) {
        document.extend(fields);
        document.insert("ok".into(), json!(checks.iter().all(|c| c.ok)));
        document.insert("checks".into(), json!(items));
    }
    document
}

fn verdict_text(checks: &[Check]) -> String {
    let mut text = String::new();
    for check in checks {
        let mark = if check.ok { "ok  " } else { "FAIL" };
        text.push_str(&format!("{mark} {}: {} — row \"{}\"\n", check.id, check.detail, check.row));
    }
    if checks.iter().all(|c| c.ok) {
        text.push_str("Sign-in works: the test user can sign in to Kiro.\n");
    } else {
        text.push_str("Sign-in does not work yet: fix the row marked FAIL (see Kiro's troubleshooting table), then run signin check again.\n");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_names_its_row() {
        let check = |error: &str, description: &str| refusal_check(&ENTRA_ROWS, error, description).map(|c| c.id);
        assert_eq!(check("access_denied", "AADSTS50105: Your administrator has configured…").unwrap(), "assigned");
        assert_eq!(check("invalid_client", "AADSTS650053: The application asked for scope…").unwrap(), "scopes");
        assert_eq!(check("invalid_resource", "AADSTS500011: The resource principal…").unwrap(), "audience");
        let okta = |error: &str, description: &str| refusal_check(&OKTA_ROWS, error, description).map(|c| c.id);
        assert_eq!(okta("access_denied", "User is not assigned to the client application.").unwrap(), "assigned");
        assert_eq!(
            okta("access_denied", "Policy evaluation failed for this request, please…").unwrap(),
            "access_policy"
        );
        assert_eq!(okta("invalid_scope", "One or more scopes are not configured…").unwrap(), "scopes");
        assert!(
            check("server_error", "AADSTS90033: A transient error").is_err(),
            "an unknown refusal is an error, not a row"
        );
    }

    #[test]
    fn the_redirect_refusal_is_read_from_the_page() {
        let refusal = |rows, page| redirect_refusal(rows, page).map(|c| (c.id, c.detail));
        let page = "<div>Sorry, but we’re having trouble signing you in.</div><div>AADSTS50011: The redirect URI 'http://localhost:1/oauth/callback' specified in the request does not match</div>";
        let (id, detail) = refusal(&ENTRA_ROWS, page).unwrap();
        assert_eq!(id, "redirect");
        assert!(detail.starts_with("AADSTS50011: The redirect URI"), "{detail}");
        assert!(refusal(&ENTRA_ROWS, "Sign in to your account").is_none());
        let page = r#"{"strServiceExceptionMessage":"AADSTS500011: The resource principal named api://x was not found in the tenant named t."}"#;
        assert_eq!(refusal(&ENTRA_ROWS, page).unwrap().0, "audience");
        let okta = "<h1>400 Bad Request</h1><p>Your request resulted in an error.</p><p>The 'redirect_uri' parameter must be a Login redirect URI in the client app settings.</p>";
        let (id, detail) = refusal(&OKTA_ROWS, okta).unwrap();
        assert_eq!(
            (id, detail.as_str()),
            ("redirect", "The 'redirect_uri' parameter must be a Login redirect URI in the client app settings.")
        );
    }

    fn token(claims: Value) -> SecretString {
        use crate::clients::jwt::base64url;
        let jwt = format!("{}.{}.sig", base64url(br#"{"alg":"RS256"}"#), base64url(claims.to_string().as_bytes()));
        SecretString::from(jwt)
    }

    fn verdicts(target: &Target, claims: Value) -> Vec<(&'static str, bool)> {
        token_checks(target, &token(claims)).unwrap().into_iter().map(|c| (c.id, c.ok)).collect()
    }

    const TENANT: &str = "6f1c2a3b-0000-4000-8000-00000000c0de";
    const APP: &str = "0e3f8a1d-0000-4000-8000-0000000000a1";

    fn entra(expected_tenant: Option<&str>) -> Target {
        Target {
            idp: "entra",
            rows: &ENTRA_ROWS,
            client_id: APP.into(),
            authorize_endpoint: String::new(),
            token_endpoint: String::new(),
            scopes: Vec::new(),
            ports: Vec::new(),
            expected_aud: vec![APP.into(), format!("api://{APP}")],
            expected_issuer: vec![
                "https://login.microsoftonline.com/{tid}/v2.0".into(),
                "https://sts.windows.net/{tid}/".into(),
            ],
            expected_tenant: expected_tenant.map(str::to_owned),
            kiro_scopes: vec!["codewhisperer:completions".into()],
        }
    }

    fn entra_claims(tid: &str) -> Value {
        json!({"aud": APP, "iss": format!("https://login.microsoftonline.com/{tid}/v2.0"), "tid": tid,
               "ver": "2.0", "scp": "codewhisperer:completions"})
    }

    /// The Entra tenant row has no out-of-band break (a tenant's id never changes); these are the
    /// claims of a token from another tenant than the one the Kiro profile holds.
    #[test]
    fn an_entra_token_from_another_tenant_fails_the_tenant_row() {
        let all_ok = vec![("token_version", true), ("scopes", true), ("audience", true), ("tenant", true)];
        assert_eq!(verdicts(&entra(Some(TENANT)), entra_claims(TENANT)), all_ok);
        let other = "0b0b0b0b-0000-4000-8000-000000000000";
        let failed = |v: Vec<(&'static str, bool)>| v.into_iter().filter(|c| !c.1).map(|c| c.0).collect::<Vec<_>>();
        assert_eq!(failed(verdicts(&entra(Some(TENANT)), entra_claims(other))), ["tenant"]);
        // An issuer that is not Entra's for the token's own tid.
        let mut forged = entra_claims(TENANT);
        forged["iss"] = json!(format!("https://login.microsoftonline.com/{other}/v2.0"));
        assert_eq!(failed(verdicts(&entra(Some(TENANT)), forged)), ["tenant"]);
        // A v1 token fails its own row, not the tenant one.
        let mut v1 = entra_claims(TENANT);
        v1["ver"] = json!("1.0");
        v1["aud"] = json!(format!("api://{APP}"));
        v1["iss"] = json!(format!("https://sts.windows.net/{TENANT}/"));
        assert_eq!(failed(verdicts(&entra(Some(TENANT)), v1)), ["token_version"]);
        // Unknown tenant id (no Organization.Read.All): nothing to compare, the detail says what to paste.
        assert_eq!(failed(verdicts(&entra(None), entra_claims(other))), Vec::<&str>::new());
    }

    /// The tenant the Kiro profile holds is the plan's own when the plan names it by id, not
    /// whatever a later read finds (the admin's session could be for another tenant).
    #[test]
    fn the_expected_tenant_is_the_plans_id_when_it_names_one() {
        let context = |tid: &str| crate::steps::Context {
            entra: Some(crate::steps::context::EntraFacts { tenant_id: Some(tid.into()), client_id: Some(APP.into()) }),
            ..Default::default()
        };
        let scopes = ["codewhisperer:completions".to_owned()];
        let other = "0b0b0b0b-0000-4000-8000-000000000000";
        let target = entra_target(&context(other), &TENANT.to_uppercase(), &scopes).unwrap();
        assert_eq!(target.expected_tenant.as_deref(), Some(TENANT));
        assert!(
            target.authorize_endpoint.contains(&format!("/{TENANT}/oauth2/v2.0/authorize")),
            "{}",
            target.authorize_endpoint
        );
        let target = entra_target(&context(other), "example.onmicrosoft.com", &scopes).unwrap();
        assert_eq!(target.expected_tenant.as_deref(), Some(other));
    }

    /// The Okta audience row has no out-of-band break the Kiro profile could be judged against
    /// (it is given no audience); these are the claims of a token for another audience.
    #[test]
    fn an_okta_token_for_another_audience_or_issuer_fails_its_row() {
        let target = Target {
            idp: "okta",
            rows: &OKTA_ROWS,
            client_id: "0oa1".into(),
            authorize_endpoint: String::new(),
            token_endpoint: String::new(),
            scopes: Vec::new(),
            ports: Vec::new(),
            expected_aud: vec!["api://default".into()],
            expected_issuer: vec!["https://example.okta.com/oauth2/default".into()],
            expected_tenant: None,
            kiro_scopes: vec!["codewhisperer:completions".into()],
        };
        let claims =
            |aud: &str, iss: &str| json!({"ver": 1, "aud": aud, "iss": iss, "scp": ["codewhisperer:completions"]});
        let ok = "https://example.okta.com/oauth2/default";
        assert_eq!(
            verdicts(&target, claims("api://default", ok)),
            [("scopes", true), ("audience", true), ("tenant", true)]
        );
        assert_eq!(
            verdicts(&target, claims("api://kiro", ok)),
            [("scopes", true), ("audience", false), ("tenant", true)]
        );
        let custom = "https://login.example.com/oauth2/default";
        assert_eq!(
            verdicts(&target, claims("api://default", custom)),
            [("scopes", true), ("audience", true), ("tenant", false)]
        );
    }
}
