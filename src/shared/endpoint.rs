//! Where a credential may go. Every URL that will carry a token, a client secret or an API key is
//! parsed here (never prefix-matched) and checked against the vendor it is for:
//!
//! - Okta: https to Okta's own domains, the list Okta publishes for allow-listing its service
//!   (okta.com, oktapreview.com, okta-emea.com, okta-gov.com, okta.mil;
//!   "Required Okta domains" in <https://help.okta.com/oie/en-us/content/topics/security/ip-address-allow-listing.htm>).
//! - Kiro's SCIM endpoint: https to `scim.<region>.amazonaws.com`, the form the Kiro console shows
//!   under Settings → Identity Management (<https://kiro.dev/docs/enterprise/identity-provider/microsoft-entra/>,
//!   the same endpoint IAM Identity Center documents at
//!   <https://docs.aws.amazon.com/singlesignon/latest/developerguide/what-is-scim.html>).
//! - Microsoft Graph and the Microsoft identity platform: their fixed addresses; the test-only
//!   overrides of them may name only this machine (`loopback_override`).
//!
//! A custom domain (an Okta custom URL domain, a proxy the admin runs) is trusted only from outside
//! the plan, through `KIRO_ONBOARD_TRUSTED_HOSTS`: the plan is untrusted input, so it cannot vouch
//! for its own destinations. Plain http is allowed only to this machine, named exactly
//! `127.0.0.1`, `::1` or `localhost`, with nothing before an `@` (the local emulators).

use reqwest::Url;

/// Names the admin trusts from outside the plan, comma-separated hostnames.
pub const TRUSTED_HOSTS_VAR: &str = "KIRO_ONBOARD_TRUSTED_HOSTS";

/// What a URL will carry a credential to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vendor {
    Okta,
    Scim,
}

/// Okta's own domains: an org is `<name>.<one of these>`.
const OKTA_DOMAINS: &[&str] = &["okta.com", "oktapreview.com", "okta-emea.com", "okta-gov.com", "okta.mil"];
/// Why a URL may not carry a credential; the caller names the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("it is not an http(s) URL")]
    NotAUrl,
    #[error("it has a user name or password before `@`, so the credential would go to the host after it")]
    UserInfo,
    #[error(
        "it is not https://, and plain http goes only to this machine (exactly 127.0.0.1, ::1 or localhost): the credential would travel in clear text"
    )]
    PlainHttp,
    #[error("it is not {expected}")]
    NotTheVendor { expected: &'static str },
}

impl EndpointError {
    /// The whole message for `url`, for errors that stand alone.
    pub fn about(&self, url: &str, vendor: Vendor) -> String {
        match vendor {
            Vendor::Okta => format!("`{url}` is not an https:// Okta org URL: {self}"),
            Vendor::Scim => format!("`{url}` is not an https:// URL of Kiro's SCIM service: {self}"),
        }
    }

    pub fn hint(&self, vendor: Vendor) -> String {
        let trust = format!(
            "a custom domain you run is trusted only from outside the plan: list its host in {TRUSTED_HOSTS_VAR} (comma-separated) in a trusted context"
        );
        match (self, vendor) {
            (EndpointError::PlainHttp | EndpointError::UserInfo, _) => {
                "use https://; plain http is only for 127.0.0.1, ::1 or localhost, with nothing before an `@`".into()
            }
            (_, Vendor::Okta) => format!(
                "write the org URL as https://YOUR-ORG.okta.com (or oktapreview.com, okta-emea.com, …); {trust}"
            ),
            (_, Vendor::Scim) => format!(
                "copy the SCIM endpoint from the Kiro console (Settings → Identity Management), e.g. https://scim.us-east-1.amazonaws.com/…/scim/v2; {trust}"
            ),
        }
    }
}

/// Whether `url` names this machine exactly: `127.0.0.1`, `[::1]` or `localhost`, no user info.
pub fn is_loopback(url: &Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    url.username().is_empty()
        && url.password().is_none()
        && (host == "127.0.0.1" || host == "[::1]" || host.eq_ignore_ascii_case("localhost"))
}

/// The hosts trusted from outside the plan (`KIRO_ONBOARD_TRUSTED_HOSTS`), lower-cased.
pub fn trusted_hosts() -> Vec<String> {
    std::env::var(TRUSTED_HOSTS_VAR)
        .unwrap_or_default()
        .split(',')
        .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect()
}

/// `raw` parsed and checked as a destination for `vendor`'s credential.
pub fn credential_url(raw: &str, vendor: Vendor) -> Result<Url, EndpointError> {
    let url = Url::parse(raw.trim()).map_err(|_| EndpointError::NotAUrl)?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(EndpointError::NotAUrl);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(EndpointError::UserInfo);
    }
    if is_loopback(&url) {
        return Ok(url);
    }
    if url.scheme() != "https" {
        return Err(EndpointError::PlainHttp);
    }
    let host = url.host_str().unwrap_or_default().trim_end_matches('.').to_ascii_lowercase();
    if trusted_hosts().contains(&host) || is_vendor_host(&host, vendor) {
        return Ok(url);
    }
    Err(EndpointError::NotTheVendor { expected: expected(vendor) })
}

fn is_vendor_host(host: &str, vendor: Vendor) -> bool {
    match vendor {
        Vendor::Okta => OKTA_DOMAINS.iter().any(|domain| is_subdomain_label(host, domain)),
        Vendor::Scim => {
            host.strip_prefix("scim.").and_then(|rest| rest.strip_suffix(".amazonaws.com")).is_some_and(|region| {
                !region.is_empty() && region.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            })
        }
    }
}

/// `host` is exactly one label under `domain` (`acme.okta.com`, not `okta.com.evil.example`).
fn is_subdomain_label(host: &str, domain: &str) -> bool {
    host.strip_suffix(domain)
        .and_then(|rest| rest.strip_suffix('.'))
        .is_some_and(|label| !label.is_empty() && !label.contains('.'))
}

fn expected(vendor: Vendor) -> &'static str {
    match vendor {
        Vendor::Okta => {
            "an Okta org URL (https://<org>.okta.com, oktapreview.com, okta-emea.com, okta-gov.com or okta.mil)"
        }
        Vendor::Scim => "one of Kiro's SCIM endpoints (https://scim.<region>.amazonaws.com/…/scim/v2)",
    }
}

/// An origin (`scheme://host[:port]`, nothing after it) in the one form a server compares with:
/// scheme and host lower-case, the scheme's default port and a trailing `/` dropped. Okta
/// compares a client assertion's `aud` with the token endpoint's URL exactly ("The audience claim
/// for client_assertion must be the endpoint invoked for the request", support.okta.com) and
/// DPoP's `htu` with the request's URL (RFC 9449 §4.3), so `https://ACME.okta.com:443/` must be
/// sent as `https://acme.okta.com`. Anything that is not a bare origin comes back as written
/// (without a trailing `/`), for `validate` to explain.
pub fn normal_origin(raw: &str) -> String {
    let written = raw.trim();
    match Url::parse(written) {
        Ok(url)
            if matches!(url.scheme(), "http" | "https")
                && url.host_str().is_some()
                && url.path() == "/"
                && url.query().is_none()
                && url.fragment().is_none()
                && url.username().is_empty()
                && url.password().is_none() =>
        {
            url.origin().ascii_serialization()
        }
        _ => written.trim_end_matches('/').to_owned(),
    }
}

/// A test-only override (`KIRO_ONBOARD_GRAPH_URL`, …) read from `variable`: `Ok(None)` when unset,
/// the URL when it names this machine, and an error otherwise. Release builds honour them too
/// (the demo runs one), so the loopback rule is what keeps an admin's tokens from leaving.
pub fn loopback_override(variable: &str) -> Result<Option<Url>, OverrideError> {
    let Some(raw) = std::env::var(variable).ok().filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    match Url::parse(raw.trim()) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && is_loopback(&url) => Ok(Some(url)),
        _ => Err(OverrideError { variable: variable.to_owned(), value: raw }),
    }
}

/// A test-only override that names another machine.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "{variable}={value} is refused: it is a switch for local test servers and may only name 127.0.0.1, ::1 or localhost"
)]
pub struct OverrideError {
    pub variable: String,
    pub value: String,
}

/// Whether `candidate` has the scheme, host and port of `base` (what a redirect or a page link
/// may point at while a credential travels with it).
pub fn same_origin(candidate: &Url, base: &Url) -> bool {
    candidate.scheme() == base.scheme()
        && candidate.host_str().map(str::to_ascii_lowercase) == base.host_str().map(str::to_ascii_lowercase)
        && candidate.port_or_known_default() == base.port_or_known_default()
        && candidate.username().is_empty()
        && candidate.password().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_exactly_this_machine() {
        for ok in ["http://127.0.0.1:8080/scim/v2", "http://localhost:1/", "http://[::1]:9/x", "http://LOCALHOST"] {
            assert!(credential_url(ok, Vendor::Scim).is_ok(), "{ok}");
        }
        for lookalike in [
            "http://localhost.attacker.example/scim/v2",
            "http://127.0.0.1@attacker.example/scim/v2",
            "http://localhost:1@okta.attacker.example",
            "http://127.0.0.1.nip.io/",
            "http://127.0.0.2/",
            "http://user:pw@127.0.0.1/",
        ] {
            assert!(credential_url(lookalike, Vendor::Okta).is_err(), "{lookalike}");
            assert!(credential_url(lookalike, Vendor::Scim).is_err(), "{lookalike}");
        }
    }

    #[test]
    fn credentials_go_only_to_their_vendor_over_https() {
        assert!(credential_url("https://acme.okta.com", Vendor::Okta).is_ok());
        assert!(credential_url("https://acme.oktapreview.com/", Vendor::Okta).is_ok());
        assert!(credential_url("https://ACME.okta-emea.com", Vendor::Okta).is_ok());
        for refused in [
            "http://acme.okta.com",
            "https://okta.com.attacker.example",
            "https://acme.okta.com.attacker.example",
            "https://a.b.okta.com",
            "https://attacker.example",
            "ftp://acme.okta.com",
        ] {
            assert!(credential_url(refused, Vendor::Okta).is_err(), "{refused}");
        }
        assert!(credential_url("https://scim.us-east-1.amazonaws.com/abc/scim/v2", Vendor::Scim).is_ok());
        assert!(credential_url("https://scim.eu-central-1.amazonaws.com/abc/scim/v2", Vendor::Scim).is_ok());
        assert!(credential_url("https://scim.example.com/scim/v2", Vendor::Scim).is_err());
        assert!(credential_url("http://scim.us-east-1.amazonaws.com/x", Vendor::Scim).is_err());
    }

    #[test]
    fn an_origin_is_written_one_way() {
        for (written, normal) in [
            ("https://ACME.okta.com:443/", "https://acme.okta.com"),
            ("HTTPS://Acme.Okta.com", "https://acme.okta.com"),
            ("https://acme.okta.com/", "https://acme.okta.com"),
            (" https://acme.okta.com:8443/ ", "https://acme.okta.com:8443"),
            ("http://LOCALHOST:80/", "http://localhost"),
            ("http://127.0.0.1:4321", "http://127.0.0.1:4321"),
        ] {
            assert_eq!(normal_origin(written), normal, "{written}");
        }
        // Not a bare origin: left for validate to explain, never rewritten into something else.
        for other in ["https://acme.okta.com/oauth2/default", "not a url", "https://acme.okta.com/?a=1"] {
            assert_eq!(normal_origin(other), other.trim_end_matches('/'), "{other}");
        }
    }

    #[test]
    fn same_origin_compares_scheme_host_and_port() {
        let base = Url::parse("https://acme.okta.com/api/v1/apps").unwrap();
        assert!(same_origin(&Url::parse("https://ACME.okta.com:443/x").unwrap(), &base));
        assert!(!same_origin(&Url::parse("http://acme.okta.com/x").unwrap(), &base));
        assert!(!same_origin(&Url::parse("https://acme.okta.com:8443/x").unwrap(), &base));
        assert!(!same_origin(&Url::parse("https://acme.okta.com.evil.example/x").unwrap(), &base));
    }
}
