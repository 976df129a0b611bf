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
use crate::plan;

mod identity_center;

pub struct Options {
    pub user: Option<String>,
    pub no_browser: bool,
    pub json: bool,
    pub limits: Limits,
    pub quiet: bool,
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

/// Seed 003 (Kiro's Entra guide), its Troubleshooting table and steps.
const ENTRA_ROWS: Rows = Rows {
    redirect: "Did not set redirect URIs",
    assigned: "Assign users and groups (the user is not assigned: AADSTS50105)",
    access_policy: "Assign users and groups",
    scopes: "Did not set scopes in Expose an API",
    version: Some("Did not set access token version to 2 in manifest"),
    audience: "Application (client) ID / api://{appId} in the Kiro profile",
    tenant: "Directory (tenant) ID in the Kiro profile",
};

/// Kiro's Okta guide (reference/okta.md §1.2-1.3): its steps, each a way sign-in fails.
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
    expected_issuer: String,
    expected_tenant: Option<String>,
    /// The scopes the token's `scp` must hold.
    kiro_scopes: Vec<String>,
}

pub async fn run(path: &Path, options: Options) -> Result<i32, Error> {
    let loaded = plan::load(path)?;
    let mut prepared = super::prepare(&loaded, options.limits, options.quiet || options.json).await?;
    super::check_all(&mut prepared, options.quiet || options.json).await?;
    let requirements = crate::requirements::for_plan(&loaded.plan);
    let target = if let Some(entra) = &loaded.plan.entra {
        entra_target(&prepared.context, &entra.tenant, &requirements.scopes)?
    } else if let Some(okta) = &loaded.plan.okta {
        okta_target(&prepared.context, okta, requirements)?
    } else if let (Some(planned), Some(idc), Some(aws)) =
        (&loaded.plan.identity_center, &prepared.context.identity_center, &prepared.aws)
    {
        let users: Vec<String> = planned.users.iter().map(|u| u.user_name.clone()).collect();
        return identity_center::sign_in(aws, idc, &users, &options).await;
    } else {
        return Err(Error::Usage(
            "signin check needs a plan with an `entra` (Microsoft Entra ID), `okta` or `identity_center` section"
                .into(),
        ));
    };
    let checks = sign_in(&target, &options).await?;
    report(target.idp, json!({"client_id": target.client_id}), &checks, options.json);
    Ok(if checks.iter().all(|c| c.ok) { 0 } else { 2 })
}

fn entra_target(context: &crate::engine::Context, plan_tenant: &str, scopes: &[String]) -> Result<Target, Error> {
    let facts = context.entra.clone().unwrap_or_default();
    let Some(client_id) = facts.client_id else {
        return Err(Error::Precondition {
            message: "the Kiro app does not exist in Entra yet".into(),
            hint: "run `kiro-onboard apply` first; signin check signs in to the app it configured".into(),
        });
    };
    // Without Organization.Read.All the id is unknown: sign in at the plan's tenant (a domain is
    // fine for the endpoints) and compare the token's issuer with its own tid.
    let tenant = facts.tenant_id.clone().unwrap_or_else(|| plan_tenant.to_owned());
    let base = crate::clients::entra_auth::login_base();
    Ok(Target {
        idp: "entra",
        rows: &ENTRA_ROWS,
        authorize_endpoint: format!("{base}/{tenant}/oauth2/v2.0/authorize"),
        token_endpoint: format!("{base}/{tenant}/oauth2/v2.0/token"),
        // Kiro's clients ask for the app's scopes under its App ID URI (seed 003, Step 2).
        scopes: scopes.iter().map(|s| format!("api://{client_id}/{s}")).collect(),
        ports: Vec::new(),
        expected_aud: vec![client_id.clone(), format!("api://{client_id}")],
        expected_issuer: "https://login.microsoftonline.com/{tid}/v2.0".into(),
        expected_tenant: facts.tenant_id,
        kiro_scopes: scopes.to_vec(),
        client_id,
    })
}

fn okta_target(
    context: &crate::engine::Context,
    okta: &crate::plan::model::Okta,
    requirements: &crate::requirements::Requirements,
) -> Result<Target, Error> {
    let facts = context.okta.clone().unwrap_or_default();
    let (Some(client_id), Some(issuer)) = (facts.client_id, facts.issuer) else {
        return Err(Error::Precondition {
            message: "the Kiro app or its authorization server does not exist in Okta yet".into(),
            hint: "run `kiro-onboard apply` first; signin check signs in to the app it configured".into(),
        });
    };
    // Kiro's clients try these ports in order (reference/okta.md §1.6); the app registers each.
    let ports = requirements
        .okta
        .redirect_uris
        .iter()
        .filter_map(|u| u.strip_prefix("http://localhost:")?.strip_suffix(CALLBACK_PATH)?.parse().ok())
        .collect();
    let kiro_scopes = crate::steps::okta::diff::kiro_scopes(okta, requirements);
    Ok(Target {
        idp: "okta",
        rows: &OKTA_ROWS,
        authorize_endpoint: format!("{issuer}/v1/authorize"),
        token_endpoint: format!("{issuer}/v1/token"),
        // The scopes Kiro's client asks for: OIDC, offline_access, and Kiro's (the rule's own list).
        scopes: crate::steps::okta::diff::rule_scopes(&kiro_scopes),
        ports,
        expected_aud: facts.audience.into_iter().collect(),
        expected_issuer: issuer,
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

async fn sign_in(target: &Target, options: &Options) -> Result<Vec<Check>, Error> {
    let failed = |e: String| Error::Remote {
        service: target.idp.into(),
        operation: "sign-in".into(),
        message: e,
        hint: Some("check the network and the plan's identity provider settings".into()),
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
    if let Some(refusal) = redirect_refusal(&page) {
        checks.push(Check { id: "redirect", row: target.rows.redirect, ok: false, detail: refusal });
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
        if let Some(opener) = can_open_browser() {
            let _ = std::process::Command::new(opener)
                .arg(&url)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn();
        }
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

/// Entra's refusal of the redirect URI on its page (AADSTS50011), or an unknown app (700016).
/// Okta's: "The 'redirect_uri' parameter must be a Login redirect URI in the client app settings".
fn redirect_refusal(page: &str) -> Option<String> {
    for code in ["AADSTS50011", "AADSTS700016", "The 'redirect_uri' parameter must be"] {
        if let Some(at) = page.find(code) {
            let rest = &page[at..];
            let end = rest.find(['"', '<', '\n']).unwrap_or(rest.len());
            return Some(rest[..end].trim().to_owned());
        }
    }
    None
}

/// The check a refusal rules out, by the identity provider's own error code.
fn refusal_check(rows: &'static Rows, error: &str, description: &str) -> Result<Check, Error> {
    let first_line = description.lines().next().unwrap_or_default().to_owned();
    let row =
        if description.starts_with("AADSTS50105") || description.contains("not assigned to the client application") {
            ("assigned", rows.assigned)
        } else if description.starts_with("AADSTS650053")
            || description.starts_with("AADSTS500011")
            || error == "invalid_scope"
        {
            ("scopes", rows.scopes)
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
    let tenant_ok = target.expected_tenant.as_ref().is_none_or(|t| *t == tid);
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
            ok: tenant_ok && iss == target.expected_issuer.replace("{tid}", &tid),
            detail: match (&target.expected_tenant, tid.is_empty()) {
                (_, true) => format!("iss is {iss}"),
                (Some(_), false) => format!("iss is {iss}, tid {tid}"),
                (None, false) => format!(
                    "iss is {iss}, tid {tid}: put this Directory (tenant) ID in the Kiro profile (it could not be read to compare: the credentials lack Organization.Read.All)"
                ),
            },
        },
    ]);
    Ok(checks)
}

/// The verdict: one line per check, or the JSON document (`fields` adds what identifies the app).
fn report(idp: &str, fields: Value, checks: &[Check], json: bool) {
    if json {
        let items: Vec<Value> =
            checks.iter().map(|c| json!({"id": c.id, "row": c.row, "ok": c.ok, "detail": c.detail})).collect();
        let mut document = json!({"format_version": FORMAT_VERSION, "command": "signin check", "idp": idp});
        if let (Some(document), Value::Object(fields)) = (document.as_object_mut(), fields) {
            document.extend(fields);
            document.insert("ok".into(), json!(checks.iter().all(|c| c.ok)));
            document.insert("checks".into(), json!(items));
        }
        super::print_json(&document);
        return;
    }
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
    crate::output::data(&text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_names_its_row() {
        let check = |error: &str, description: &str| refusal_check(&ENTRA_ROWS, error, description).map(|c| c.id);
        assert_eq!(check("access_denied", "AADSTS50105: Your administrator has configured…").unwrap(), "assigned");
        assert_eq!(check("invalid_client", "AADSTS650053: The application asked for scope…").unwrap(), "scopes");
        assert_eq!(check("invalid_resource", "AADSTS500011: The resource principal…").unwrap(), "scopes");
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
        let page = "<p>AADSTS50011: The redirect URI 'http://localhost:1/oauth/callback' specified in the request does not match</p>";
        assert!(redirect_refusal(page).unwrap().starts_with("AADSTS50011: The redirect URI"));
        assert!(redirect_refusal("Sign in to your account").is_none());
        let okta = r#""The 'redirect_uri' parameter must be a Login redirect URI in the client app settings: http://localhost:3128/oauth/callback""#;
        assert!(redirect_refusal(okta).is_some());
    }
}
