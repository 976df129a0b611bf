"""The app model: OIDC app settings as Okta validates them."""

from __future__ import annotations

import copy
import re
from typing import Any, List, Optional, Tuple
from urllib.parse import urlsplit

from ..base.ids import random_string
from .common import JSON
from .errors import validation_error


# ---------------------------------------------------------------------------------------
# Apps: validation and shapes
# (https://developer.okta.com/docs/api/openapi/okta-management/management/tag/Application/,
# https://github.com/okta/terraform-provider-okta)
# ---------------------------------------------------------------------------------------

APP_TYPES = ("browser", "native", "service", "web")
AUTH_METHODS = ("client_secret_basic", "client_secret_jwt", "client_secret_post", "none",
                "private_key_jwt")
G_DEVICE = "urn:ietf:params:oauth:grant-type:device_code"
G_TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
G_SAML2 = "urn:ietf:params:oauth:grant-type:saml2-bearer"
G_JWT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ALLOWED_GRANTS = {
    "native": {"authorization_code", "implicit", "password", "refresh_token", G_DEVICE,
               G_TOKEN_EXCHANGE, G_SAML2, G_JWT, "interaction_code"},
    "browser": {"authorization_code", "implicit", "refresh_token", "interaction_code"},
    "web": {"authorization_code", "implicit", "refresh_token", "client_credentials",
            "password", G_DEVICE, G_TOKEN_EXCHANGE, G_SAML2, G_JWT, "interaction_code"},
    "service": {"client_credentials", G_TOKEN_EXCHANGE, G_SAML2, G_JWT},
}
REQUIRED_GRANT = {  # terraform-provider-okta's per-type validation (https://developer.okta.com/docs/api/openapi/okta-management/management/tag/Application/, https://github.com/okta/terraform-provider-okta)
    "native": ("authorization_code",),
    "web": ("authorization_code",),
    "browser": ("authorization_code", "implicit"),
    "service": ("client_credentials",),
}
OIN_SAML_APPS = {"amazon_aws_sso": "AWS IAM Identity Center"}  # https://kiro.dev/docs/enterprise/identity-provider/okta/, https://developer.okta.com/docs/api/openapi/okta-management/management/tag/ApplicationConnections/
# Apps whose provisioning connection the public API can configure
# (https://developer.okta.com/docs/api/openapi/okta-management/management/tag/ApplicationConnections/).
# The
# emulator cannot create them, so every app it holds answers UNKNOWN.
CONNECTION_CAPABLE_APPS = {"okta_org2org", "zscalerbyz"}


def is_str_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _check_uri(uri: str, field: str, wildcard: bool, causes: List[str]) -> None:
    parts = urlsplit(uri)
    if not parts.scheme or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", parts.scheme):
        causes.append(f"{field}: '{uri}' is not a valid absolute URI")
        return
    if parts.fragment or "#" in uri:
        causes.append(f"{field}: '{uri}' must not contain a fragment")
    if "*" in uri and not wildcard:
        causes.append(f"{field}: '{uri}' contains a wildcard but wildcard_redirect is DISABLED")
    if parts.scheme in ("http", "https") and not parts.hostname:
        causes.append(f"{field}: '{uri}' has no host")
    if any(c.isspace() for c in uri):
        causes.append(f"{field}: '{uri}' contains whitespace")


def normalize_oidc(body: JSON, existing: Optional[JSON], app_id: str,
                   jwks_ok: bool = False) -> Tuple[JSON, JSON]:
    """Validate and complete `settings.oauthClient` and `credentials.oauthClient` of an
    OPENID_CONNECT app.  Returns (settings_oauth, credentials_oauth).  Raises ApiError
    with every problem found.  On PUT (`existing` set) omitted fields fall back to the
    create defaults, except the immutable client_id/client_secret (PUT replaces the app,
    https://developer.okta.com/docs/api/openapi/okta-management/management/tag/Application/)."""
    causes: List[str] = []
    first_field = [None]

    def bad(field: str, msg: str) -> None:
        if first_field[0] is None:
            first_field[0] = field
        causes.append(f"{field}: {msg}")

    settings = body.get("settings")
    if settings is None:
        settings = {}
    if not isinstance(settings, dict):
        raise validation_error("settings", ["settings: must be an object"])
    so = settings.get("oauthClient")
    if not isinstance(so, dict):
        raise validation_error("settings.oauthClient",
                               ["settings.oauthClient: is required for OPENID_CONNECT apps"])
    so = copy.deepcopy(so)
    creds = body.get("credentials") or {}
    if not isinstance(creds, dict):
        raise validation_error("credentials", ["credentials: must be an object"])
    co = creds.get("oauthClient") or {}
    if not isinstance(co, dict):
        raise validation_error("credentials.oauthClient",
                               ["credentials.oauthClient: must be an object"])
    co = copy.deepcopy(co)

    app_type = so.get("application_type")
    if app_type is None:
        bad("application_type", "The field cannot be left blank")
    elif app_type not in APP_TYPES:
        bad("application_type", f"'{app_type}' is not one of {', '.join(APP_TYPES)}")
        app_type = None

    grants = so.get("grant_types")
    if grants is None:
        grants = ["authorization_code"] if app_type in (None, "native", "web") else (
            ["client_credentials"] if app_type == "service" else ["implicit"])
    if not is_str_list(grants) or not grants:
        bad("grant_types", "must be a non-empty array of strings")
        grants = []
    if len(set(grants)) != len(grants):
        bad("grant_types", "contains duplicate values")
    if app_type:
        for g in grants:
            if g not in ALLOWED_GRANTS[app_type]:
                bad("grant_types",
                    f"'{g}' is not a valid grant type for application_type '{app_type}'")
        if not any(g in grants for g in REQUIRED_GRANT[app_type]):
            need = " or ".join(REQUIRED_GRANT[app_type])
            bad("grant_types", f"application_type '{app_type}' requires the {need} grant")
    if "refresh_token" in grants and not any(
            g in grants for g in ("authorization_code", "password", G_DEVICE, G_TOKEN_EXCHANGE,
                                  "interaction_code", G_SAML2, G_JWT)):
        bad("grant_types", "refresh_token requires another grant that issues refresh tokens")

    rtypes = so.get("response_types")
    if rtypes is None or rtypes == []:
        rtypes = []
        if "authorization_code" in grants or "refresh_token" in grants:
            rtypes.append("code")
        if "implicit" in grants:
            rtypes += ["token", "id_token"]
        if app_type == "service":
            rtypes = ["token"]
    if not is_str_list(rtypes):
        bad("response_types", "must be an array of strings")
        rtypes = []
    for r in rtypes:
        if r not in ("code", "token", "id_token"):
            bad("response_types", f"'{r}' is not one of code, token, id_token")
    if "code" in rtypes and "authorization_code" not in grants:
        bad("response_types", "'code' requires the authorization_code grant")
    if "id_token" in rtypes and "implicit" not in grants:
        bad("response_types", "'id_token' requires the implicit grant")
    if "token" in rtypes and "implicit" not in grants and "client_credentials" not in grants:
        bad("response_types", "'token' requires the implicit or client_credentials grant")
    if "implicit" in grants and not ("token" in rtypes or "id_token" in rtypes):
        bad("response_types", "the implicit grant requires 'token' or 'id_token'")

    wildcard = so.get("wildcard_redirect", "DISABLED")
    if wildcard not in ("DISABLED", "SUBDOMAIN"):
        bad("wildcard_redirect", f"'{wildcard}' is not one of DISABLED, SUBDOMAIN")
        wildcard = "DISABLED"

    redirects = so.get("redirect_uris")
    if redirects is None:
        redirects = []
    if not is_str_list(redirects):
        bad("redirect_uris", "must be an array of strings")
        redirects = []
    if ("authorization_code" in grants or "implicit" in grants) and not redirects:
        bad("redirect_uris",
            "At least one redirect URI is required for the authorization_code and implicit grants")
    if len(set(redirects)) != len(redirects):
        bad("redirect_uris", "contains duplicate values")
    for u in redirects:
        _check_uri(u, "redirect_uris", wildcard == "SUBDOMAIN", causes)

    logout = so.get("post_logout_redirect_uris")
    if logout is not None:
        if not is_str_list(logout):
            bad("post_logout_redirect_uris", "must be an array of strings")
        else:
            for u in logout:
                _check_uri(u, "post_logout_redirect_uris", wildcard == "SUBDOMAIN", causes)

    consent = so.get("consent_method", "TRUSTED")
    if consent not in ("TRUSTED", "REQUIRED"):
        bad("consent_method", f"'{consent}' is not one of TRUSTED, REQUIRED")

    rt = so.get("refresh_token")
    if rt is not None:
        if not isinstance(rt, dict):
            bad("refresh_token", "must be an object")
        else:
            if rt.get("rotation_type", "STATIC") not in ("ROTATE", "STATIC"):
                bad("refresh_token.rotation_type", "must be ROTATE or STATIC")
            leeway = rt.get("leeway", 30)
            if not isinstance(leeway, int) or isinstance(leeway, bool) or not 0 <= leeway <= 60:
                bad("refresh_token.leeway", "must be an integer between 0 and 60")

    method = co.get("token_endpoint_auth_method", "client_secret_basic")
    if method not in AUTH_METHODS:
        bad("token_endpoint_auth_method", f"'{method}' is not one of {', '.join(AUTH_METHODS)}")
    if app_type == "browser" and method != "none":
        bad("token_endpoint_auth_method", "browser apps must use 'none'")
    if app_type == "service" and method == "none":
        bad("token_endpoint_auth_method", "service apps cannot use 'none'")
    if method == "private_key_jwt" and not (so.get("jwks") or so.get("jwks_uri") or jwks_ok):
        bad("jwks", "private_key_jwt requires jwks or jwks_uri")
    pkce = co.get("pkce_required")
    if pkce is None:
        pkce = method == "none" or app_type in ("native", "browser")
    if not isinstance(pkce, bool):
        bad("pkce_required", "must be a boolean")
    elif method == "none" and pkce is not True:
        # [spec] L63021-63024 via
        # https://developer.okta.com/docs/guides/customize-authz-server/main/: must be true when the
        # auth method is none.
        bad("pkce_required", "must be true when token_endpoint_auth_method is 'none'")

    client_id = co.get("client_id")
    if existing is not None:
        old = existing["credentials"]["oauthClient"]
        if client_id is not None and client_id != old["client_id"]:
            bad("client_id", "cannot be changed")
        client_id = old["client_id"]
    elif client_id is not None and (not isinstance(client_id, str) or not client_id):
        bad("client_id", "must be a non-empty string")
    if client_id is None:
        client_id = app_id  # https://developer.okta.com/docs/api/openapi/okta-management/management/tag/Application/: equal to the app id when not given

    if causes:
        raise validation_error(first_field[0] or "settings.oauthClient", causes)

    so_out: JSON = dict(so)
    so_out.update({
        "redirect_uris": redirects,
        "response_types": rtypes,
        "grant_types": grants,
        "application_type": app_type,
        "consent_method": consent,
        "issuer_mode": so.get("issuer_mode", "ORG_URL"),
        "wildcard_redirect": wildcard,
        "idp_initiated_login": so.get("idp_initiated_login",
                                      {"mode": "DISABLED", "default_scope": []}),
        "dpop_bound_access_tokens": so.get("dpop_bound_access_tokens", False),
    })
    if logout is not None:
        so_out["post_logout_redirect_uris"] = logout
    if "refresh_token" in grants:
        rt = dict(rt or {})
        rt.setdefault("rotation_type", "ROTATE" if app_type == "browser" else "STATIC")
        rt.setdefault("leeway", 30)
        so_out["refresh_token"] = rt
    else:
        so_out.pop("refresh_token", None)

    co_out: JSON = {
        "autoKeyRotation": co.get("autoKeyRotation", True),
        "client_id": client_id,
        "token_endpoint_auth_method": method,
        "pkce_required": pkce,
    }
    if method in ("client_secret_basic", "client_secret_post", "client_secret_jwt"):
        old_secret = None
        if existing is not None:
            old_secret = existing["credentials"]["oauthClient"].get("client_secret")
        co_out["client_secret"] = co.get("client_secret") or old_secret or random_string(64)
    return so_out, co_out


# ---------------------------------------------------------------------------------------
# State
