"""Sign-in: the authorization code flow with PKCE, the browser played by the control API."""

from __future__ import annotations

import hashlib
import html
import re
import time
from typing import Any, Dict, List, Tuple
from urllib.parse import parse_qs, urlencode, urlsplit

from ..base.control import authorize_page_to_approve
from ..base.http import HtmlPage
from ..base.ids import BASE62, random_string
from ..base.jose import b64url_encode, unsigned_jwt
from .common import JSON, OIDC_SCOPES
from .context import Ctx, Response
from .errors import OAuthError
from .state import State


class SigninMixin:
    """The authorization code flow with PKCE that Kiro's clients run against the Kiro app
    (`kiro-onboard signin check`); see GRAPH_EMULATOR.md "Sign-in (authorization code + PKCE)".
    The browser is played by POST /_control/authorize/approve {url, user}."""
    s: State

    def _signin_request(self, tenant: str, q: Dict[str, List[str]]) -> Tuple[JSON, str]:
        """Validates an authorize request as Entra does before it shows the sign-in page: the
        client, then the redirect URI (AADSTS50011, not redirected: the URI is not trusted)."""
        one = {k: v[-1] for k, v in q.items()}
        cid = one.get("client_id") or ""
        app = next((a for a in self.s.applications.values() if a["appId"].lower() == cid.lower()), None)
        if app is None:  # the same text as the token endpoint's (https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-device-code)
            raise self.unknown_client(cid)
        redirect = one.get("redirect_uri") or ""
        if not any(self._redirect_matches(r, redirect) for r in self._registered_redirects(app)):
            # learn.microsoft.com/troubleshoot/entra/entra-id/app-integration/
            # error-code-aadsts50011-redirect-uri-mismatch, "Symptoms": the message in full.
            raise OAuthError(400, "invalid_request", 50011,
                             f"The redirect URI '{redirect}' specified in the request does not match "
                             f"the redirect URIs configured for the application '{cid}'. Make sure "
                             "the redirect URI sent in the request matches one added to your "
                             "application in the Azure portal. Navigate to "
                             "https://aka.ms/redirectUriMismatchError to learn more about how to "
                             "fix this.")
        return app, redirect

    @staticmethod
    def _registered_redirects(app: JSON) -> List[str]:
        return [u for key in ("publicClient", "web", "spa")
                for u in ((app.get(key) or {}).get("redirectUris") or [])]

    @staticmethod
    def _redirect_matches(registered: str, sent: str) -> bool:
        # learn.microsoft.com/entra/identity-platform/reply-url#localhost-exceptions: for
        # http://localhost redirect URIs the port is ignored; everything else matches exactly.
        r, t = urlsplit(registered), urlsplit(sent)
        if r.scheme == t.scheme == "http" and r.hostname == t.hostname == "localhost":
            return r.path == t.path and r.query == t.query
        return registered == sent

    def authorize_page(self, ctx: Ctx, tenant: str) -> Response:
        try:
            self._signin_request(tenant, ctx.query)
        except OAuthError as e:
            # Entra does not redirect to an untrusted URI: it shows its page, "Sorry, but we're
            # having trouble signing you in." over the AADSTS message (the pages quoted in
            # Azure-Samples/azure-search-openai-demo#1969, microsoft-graph-explorer-v4#540). The
            # real page is script-rendered; its status code is UNCONFIRMED (GRAPH_EMULATOR.md).
            text = html.escape(f"AADSTS{e.aadsts}: {e.description}", quote=False)
            return e.status, [], HtmlPage(
                "<!DOCTYPE html><html><head><title>Sign in to your account</title></head><body>"
                "<div>Sorry, but we\u2019re having trouble signing you in.</div>"
                f"<div>{text}</div></body></html>")
        # The page a browser has open: approve without a url signs in there (docs hooks).
        self.s.__dict__["signin_last_authorize"] = f"{ctx.base}{ctx.path}?{ctx.raw_query}"
        return 200, [], HtmlPage("Sign in to your account")

    def authorize_approve(self, body: Any) -> Tuple[int, Any]:
        """The user signs in at Entra's authorize page and the browser follows the redirect:
        returns {redirect} (`authorize_page_to_approve` says which page)."""
        body, refusal = authorize_page_to_approve(body, self.s)
        if refusal is not None:
            return refusal
        split = urlsplit(body["url"])
        m = re.match(r"^/([^/]+)/oauth2/v2\.0/authorize$", split.path)
        if not m:
            return 400, {"error": "url is not an authorize URL"}
        q = parse_qs(split.query)
        try:
            tenant = self.resolve_tenant(m.group(1))
            app, redirect = self._signin_request(tenant, q)
        except OAuthError as e:  # the browser shows Entra's error page; nothing comes back
            return 200, {"page_error": e.body()["error_description"]}
        one = {k: v[-1] for k, v in q.items()}
        user = self.s.find_user(body["user"])
        params = {"state": one.get("state", "")}
        try:
            if user is None:
                raise OAuthError(400, "invalid_request", 50034,
                                 f"The user account {body['user']} does not exist in the "
                                 f"{self.s.tenant_domain} directory.")
            if one.get("response_type") != "code" or one.get("code_challenge_method") != "S256" \
                    or not one.get("code_challenge"):
                raise OAuthError(400, "invalid_request", 9002325,
                                 "Proof Key for Code Exchange is required for cross-origin "
                                 "authorization code redemption.")
            scopes = self._signin_scopes(app, one.get("scope", ""))
            self._check_assignment(app, user)
        except OAuthError as e:
            # learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow "Error
            # response": errors after the redirect URI is trusted go back to it as error and
            # error_description (AADSTS50105 arrives as access_denied).
            params.update(error=e.error, error_description=e.body()["error_description"])
            return 200, {"redirect": f"{redirect}?{urlencode(params)}"}
        code = "1.A" + random_string(120, BASE62 + "-_")
        codes = self.s.__dict__.setdefault("auth_codes", {})
        # A v1 token's aud is the resource URI the request named (access-token-claims-reference).
        resource = next((x.rpartition("/")[0] for x in one.get("scope", "").split()
                         if x not in OIDC_SCOPES), f"api://{app['appId']}")
        codes[code] = {"app": app["id"], "user": user["id"], "redirect": redirect, "scopes": scopes,
                       "resource": resource,
                       "challenge": one["code_challenge"], "client_id": app["appId"],
                       "expires": time.time() + 600}
        params["code"] = code
        self.s.__dict__.setdefault("signin_issued", []).append(code)
        return 200, {"redirect": f"{redirect}?{urlencode(params)}"}

    def _signin_scopes(self, app: JSON, scope: str) -> List[str]:
        """`api://{appId}/value` scopes: the resource must exist (AADSTS500011) and expose each
        enabled scope (AADSTS650053), per learn.microsoft.com/entra/identity-platform/
        reference-error-codes."""
        granted = []
        for s in scope.split():
            if s in OIDC_SCOPES:
                continue
            resource, _, value = s.rpartition("/")
            if resource not in (app.get("identifierUris") or []):
                # The whole message as reported (e.g. Azure-Samples/azure-search-openai-demo#1969).
                raise OAuthError(400, "invalid_resource", 500011,
                                 f"The resource principal named {resource} was not found in the "
                                 f"tenant named {self.s.tenant_domain}. This can happen if the "
                                 "application has not been installed by the administrator of the "
                                 "tenant or consented to by any user in the tenant. You might have "
                                 "sent your authentication request to the wrong tenant.")

            exposed = {x["value"] for x in (app.get("api") or {}).get("oauth2PermissionScopes") or []
                       if x.get("isEnabled", True)}
            if value not in exposed:
                raise OAuthError(400, "invalid_client", 650053,
                                 f"The application '{app['displayName']}' asked for scope '{value}' "
                                 f"that doesn't exist on the resource '{app['appId']}'.")
            granted.append(value)
        return granted

    def _check_assignment(self, app: JSON, user: JSON) -> None:
        sp = next((p for p in self.s.service_principals.values() if p["appId"] == app["appId"]), None)
        if sp is None or not sp.get("appRoleAssignmentRequired"):
            return
        groups = {g["id"] for g in self.s.groups.values() if user["id"] in g["_members"]}
        if any(a["resourceId"] == sp["id"] and (a["principalId"] == user["id"] or a["principalId"] in groups)
               for a in self.s.assignments.values()):
            return
        raise OAuthError(400, "access_denied", 50105,
                         f"Your administrator has configured the application {app['displayName']} "
                         f"('{app['appId']}') to block users unless they are specifically granted "
                         f"('assigned') access to the application. The signed in user "
                         f"'{user['userPrincipalName']}' is blocked because they are not a direct "
                         "member of a group with access, nor had access directly assigned by an "
                         "administrator. Please contact your administrator to assign access to this "
                         "application.")

    def grant_authorization_code(self, tenant: str, form: Dict[str, str]) -> Response:
        for p in ("client_id", "code", "redirect_uri", "code_verifier"):
            if not form.get(p):
                raise OAuthError(400, "invalid_request", 900144,
                                 f"The request body must contain the following parameter: '{p}'.")
        rec = self.s.__dict__.setdefault("auth_codes", {}).pop(form["code"], None)
        if rec is None or rec["expires"] < time.time() or rec["client_id"] != form["client_id"]:
            raise OAuthError(400, "invalid_grant", 70008,
                             "The provided authorization code or refresh token has expired due to "
                             "inactivity. Send a new interactive authorization request for this user "
                             "and resource.")
        if form["redirect_uri"] != rec["redirect"]:
            raise OAuthError(400, "invalid_grant", 70002,
                             "The redirect URI does not match the one of the authorization request.")
        # RFC 7636 §4.6: BASE64URL(SHA256(verifier)) == challenge.
        if b64url_encode(hashlib.sha256(form["code_verifier"].encode()).digest()) != rec["challenge"]:
            raise OAuthError(400, "invalid_grant", 501481,
                             "The Code_Verifier does not match the code_challenge supplied in the "
                             "authorization request.")
        app = self.s.applications[rec["app"]]
        user = self.s.users[rec["user"]]
        now = int(time.time())
        # learn.microsoft.com/entra/identity-platform/access-token-claims-reference: the
        # token's version is the API's api.requestedAccessTokenVersion (null means 1); v1 has
        # iss sts.windows.net and aud the resource URI requested, v2 the v2.0 issuer and "always
        # the client ID of the API"; tid is the immutable ID of the tenant signed in to.
        v2 = (app.get("api") or {}).get("requestedAccessTokenVersion") == 2
        claims = {"aud": app["appId"] if v2 else rec["resource"],
                  "iss": (f"https://login.microsoftonline.com/{self.s.tenant_id}/v2.0" if v2
                          else f"https://sts.windows.net/{self.s.tenant_id}/"),
                  "iat": now, "nbf": now, "exp": now + 3600, "oid": user["id"],
                  "scp": " ".join(rec["scopes"]), "tid": self.s.tenant_id,
                  "ver": "2.0" if v2 else "1.0", "azp" if v2 else "appid": app["appId"]}
        header = {"typ": "JWT", "alg": "RS256", "kid": "graph-emulator"}
        token = unsigned_jwt(header, claims, b"graph-emulator-unsigned")
        self.s.__dict__.setdefault("signin_issued", []).append(token)
        return 200, [], {"token_type": "Bearer", "scope": " ".join(rec["scopes"]),
                         "expires_in": 3600, "ext_expires_in": 3600, "access_token": token}
