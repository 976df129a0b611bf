"""Sign-in: the authorization code flow with PKCE, the browser played by the control API."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
import time
from typing import Any, Dict, List, Tuple
from urllib.parse import parse_qs, urlencode, urlsplit

from ..base.control import authorize_page_to_approve
from ..base.http import HtmlPage
from ..base.oauth import OAuthError
from .common import JSON
from .errors import not_found
from .state import State


class SigninMixin:
    """The authorization code flow with PKCE that Kiro's clients run against the Kiro OIDC app
    on the custom authorization server (`kiro-onboard signin check`); OKTA_EMULATOR.md "Sign-in
    (authorization code + PKCE)".  The browser is played by POST /_control/authorize/approve."""
    s: State

    def _signin_app(self, q: Dict[str, str]) -> Tuple[JSON, str]:
        cid = q.get("client_id") or ""
        app = next((a for a in self.s.apps.values()
                    if (a.get("credentials", {}).get("oauthClient") or {}).get("client_id") == cid), None)
        if app is None or app["status"] != "ACTIVE":
            raise OAuthError(400, "invalid_client", "Invalid value for 'client_id' parameter.")
        redirect = q.get("redirect_uri") or ""
        # developer.okta.com/docs/guides/sign-into-web-app-redirect/ "redirect URI must match":
        # Okta compares the redirect URI exactly (port included), and shows its own error page,
        # "400 Bad Request" with this sentence (support.okta.com, article "Okta Error 400 Bad
        # Request - The redirect_uri Parameter Must Be a Login Redirect URI in the Client App
        # Settings"; the page also says "Your request resulted in an error.",
        # Colin-b/httpx_auth#110).
        if redirect not in ((app.get("settings") or {}).get("oauthClient") or {}).get("redirect_uris", []):
            raise OAuthError(400, "invalid_request", "The 'redirect_uri' parameter must be a Login "
                             "redirect URI in the client app settings.")
        return app, redirect

    @staticmethod
    def _error_page(e: "OAuthError"):
        # The page's layout is Okta's own and not reproduced; its status and sentences are.
        page = ("<!DOCTYPE html><html><head><title>400 Bad Request</title></head><body>"
                "<h1>400 Bad Request</h1><p>Your request resulted in an error.</p>"
                f"<p>{html.escape(e.description, quote=False)}</p></body></html>")
        return e.status, [], HtmlPage(page)

    def signin_endpoint(self, ctx: Any, as_id: str, which: str):
        srv = self.s.auth_servers.get(as_id)
        if srv is None or srv["status"] != "ACTIVE":
            raise not_found(as_id, "AuthorizationServer")
        if which == "authorize":
            try:
                self._signin_app({k: v[-1] for k, v in ctx.query.items()})
            except OAuthError as e:
                if e.error != "invalid_request":
                    raise
                return self._error_page(e)
            # The page a browser has open: approve without a url signs in there (docs hooks).
            self.s.__dict__["signin_last_authorize"] = f"{ctx.base}{ctx.path}?{ctx.raw_query}"
            return 200, [], HtmlPage("Sign In")
        form = {k: v[-1] for k, v in parse_qs(ctx.raw_body.decode("utf-8", "replace")).items()}
        if form.get("grant_type") != "authorization_code":
            raise OAuthError(400, "unsupported_grant_type", "The authorization grant type is not supported.")
        rec = self.s.__dict__.setdefault("auth_codes", {}).pop(form.get("code", ""), None)
        if rec is None or rec["as"] != as_id or rec["expires"] < time.time() \
                or rec["client_id"] != form.get("client_id"):
            raise OAuthError(400, "invalid_grant", "The authorization code is invalid or has expired.")
        if form.get("redirect_uri") != rec["redirect"]:
            raise OAuthError(400, "invalid_grant", "The redirect_uri does not match the redirect_uri "
                             "used in the authorization request.")
        digest = base64.urlsafe_b64encode(hashlib.sha256((form.get("code_verifier") or "").encode())
                                          .digest()).rstrip(b"=").decode()
        if digest != rec["challenge"]:  # RFC 7636 §4.6
            raise OAuthError(400, "invalid_grant", "PKCE verification failed.")
        now = int(time.time())
        # developer.okta.com/docs/reference/api/oidc/#access-token: ver 1, iss the custom AS,
        # aud its audience, cid the client, scp an array of the granted scopes.
        claims = {"ver": 1, "jti": "AT." + secrets.token_urlsafe(24), "iss": rec["iss"],
                  "aud": srv["audiences"][0], "iat": now, "exp": now + 3600, "cid": rec["client_id"],
                  "uid": rec["uid"], "scp": rec["scopes"], "sub": rec["login"]}
        enc = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731
        token = ".".join([enc(json.dumps({"kid": "okta-emulator", "alg": "RS256"}).encode()),
                          enc(json.dumps(claims).encode()), enc(b"okta-emulator-unsigned")])
        self.s.__dict__.setdefault("signin_issued", []).append(token)
        return 200, [("Cache-Control", "no-store")], {
            "token_type": "Bearer", "expires_in": 3600, "access_token": token,
            "scope": " ".join(rec["scopes"])}

    def authorize_approve(self, body: Any, base: str) -> Tuple[int, Any]:
        """The browser at an Okta authorize page (`authorize_page_to_approve` says which): the user
        signs in and the browser follows Okta's redirect; returns {redirect}."""
        body, refusal = authorize_page_to_approve(body, self.s)
        if refusal is not None:
            return refusal
        split = urlsplit(body["url"])
        m = re.match(r"^/oauth2/([^/]+)/v1/authorize$", split.path)
        srv = self.s.auth_servers.get(m.group(1)) if m else None
        if srv is None:
            return 400, {"error": "url is not a custom authorization server's authorize URL"}
        q = {k: v[-1] for k, v in parse_qs(split.query).items()}
        try:
            app, redirect = self._signin_app(q)
        except OAuthError as e:  # Okta's error page; nothing comes back
            return 200, {"page_error": e.description}
        params = {"state": q.get("state", "")}
        user = self.s.find_user(body["user"])
        try:
            if user is None:
                raise OAuthError(400, "access_denied", "The user does not exist.")
            if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
                raise OAuthError(400, "invalid_request", "PKCE code challenge is required when the "
                                 "token endpoint authentication method is 'NONE'.")
            # developer.okta.com/docs/guides/ref-okta-errors (authorize): a user without an
            # assignment (direct or by group) to the app gets access_denied.
            if user["id"] not in {a["uid"] for a in self.s.app_users(app)}:
                raise OAuthError(400, "access_denied", "User is not assigned to the client application.")
            requested = (q.get("scope") or "").split()
            known = {x["name"] for x in srv["_scopes"].values()} | {n for n, _ in self.s.SYSTEM_SCOPES}
            if any(x not in known for x in requested):
                raise OAuthError(400, "invalid_scope", "One or more scopes are not configured for the "
                                 "authorization server resource.")
            if not self._signin_policy_allows(srv, app, user, requested):
                raise OAuthError(400, "access_denied", "Policy evaluation failed for this request, "
                                 "please check the policy configurations.")
        except OAuthError as e:
            params.update(error=e.error, error_description=e.description)
            return 200, {"redirect": f"{redirect}?{urlencode(params)}"}
        code = secrets.token_urlsafe(32)
        self.s.__dict__.setdefault("auth_codes", {})[code] = {
            "as": srv["id"], "client_id": q["client_id"], "redirect": redirect,
            "challenge": q["code_challenge"], "uid": user["id"], "login": user["profile"]["login"],
            "scopes": requested, "iss": self.issuer_for(f"{split.scheme}://{split.netloc}", srv),
            "expires": time.time() + 300}
        self.s.__dict__.setdefault("signin_issued", []).append(code)
        params["code"] = code
        return 200, {"redirect": f"{redirect}?{urlencode(params)}"}

    def _signin_policy_allows(self, srv: JSON, app: JSON, user: JSON, scopes: List[str]) -> bool:
        """developer.okta.com/docs/concepts/auth-servers/#which-policy-is-used: policies in
        priority order, those whose clients include the app; the first active rule that matches
        the grant, the user (or a group of theirs, or EVERYONE) and the scopes is applied."""
        cid = app["credentials"]["oauthClient"]["client_id"]
        groups = {g for g in self.s.groups if user["id"] in self.s.group_members(g)} | {"EVERYONE"}
        for pol in sorted(srv["_policies"].values(), key=lambda p: p["priority"]):
            clients = pol["conditions"]["clients"]["include"]
            if pol["status"] != "ACTIVE" or not ("ALL_CLIENTS" in clients or cid in clients):
                continue
            for rule in sorted(pol["_rules"].values(), key=lambda r: r["priority"]):
                c = rule["conditions"]
                allowed = c["scopes"]["include"]
                if rule["status"] == "ACTIVE" \
                        and "authorization_code" in c["grantTypes"]["include"] \
                        and (user["id"] in c["people"]["users"]["include"]
                             or groups & set(c["people"]["groups"]["include"])) \
                        and ("*" in allowed or all(x in allowed for x in scopes)):
                    return True
        return False
