"""The org authorization server's token endpoint: client credentials with a private_key_jwt assertion."""

from __future__ import annotations

import secrets
import time
from typing import Any, List, Tuple
from urllib.parse import parse_qs

from ..base.ids import random_string
from ..base.jose import read_unverified, signature_verifies, unsigned_jwt
from ..base.oauth import OAuthError
from .context import Ctx
from .errors import ApiError
from .limits import KNOWN_OKTA_SCOPES


class TokenMixin:
    """The org authorization server's token endpoint: client credentials with a private_key_jwt assertion."""

    # -- OAuth: the org authorization server's token endpoint
    # (https://developer.okta.com/docs/guides/implement-oauth-for-okta-serviceapp/main/)

    def token_endpoint(self, ctx: Ctx) -> Tuple[int, List[Tuple[str, str]], Any]:
        if ctx.method != "POST":
            raise ApiError(405, "E0000022", "The endpoint does not support the provided HTTP method")
        ctype = (ctx.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            raise OAuthError(400, "invalid_request",
                             "The request must be application/x-www-form-urlencoded.")
        try:
            form = {k: v[0] for k, v in parse_qs(ctx.raw_body.decode("utf-8"),
                                                 keep_blank_values=True).items()}
        except UnicodeDecodeError:
            raise OAuthError(400, "invalid_request", "The request body is not valid.")
        grant = form.get("grant_type")
        if not grant:
            raise OAuthError(400, "invalid_request",
                             "The 'grant_type' parameter is required.")
        if grant != "client_credentials":
            raise OAuthError(400, "unsupported_grant_type",
                             f"The authorization grant type '{grant}' is not supported by this "
                             "emulator (only client_credentials).")
        if "client_secret" in form or (ctx.headers.get("Authorization") or "").startswith("Basic"):
            raise OAuthError(401, "invalid_client",
                             "Client Credentials requests to the Org Authorization Server must "
                             "use the private_key_jwt token_endpoint_auth_method.")
        if form.get("client_assertion_type") != \
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            raise OAuthError(401, "invalid_client",
                             "Client authentication failed. Either the client or the client "
                             "credentials are invalid. (client_assertion_type must be "
                             "urn:ietf:params:oauth:client-assertion-type:jwt-bearer)")
        assertion = form.get("client_assertion") or ""
        try:
            header, claims = read_unverified(assertion)
        except ValueError:
            raise OAuthError(401, "invalid_client", "The client_assertion token is malformed.")
        if header.get("alg") not in ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512"):
            raise OAuthError(401, "invalid_client",
                             "The client_assertion token has an unsupported signing algorithm "
                             f"'{header.get('alg')}'.")
        iss, sub = claims.get("iss"), claims.get("sub")
        form_cid = form.get("client_id")
        if not iss or iss != sub or (form_cid and form_cid != iss):
            raise OAuthError(401, "invalid_client",
                             "The client_assertion token must have the client_id as both "
                             "issuer (iss) and subject (sub).")
        svc = self.s.service_apps.get(iss)
        app = self.s.apps.get(svc["app_id"]) if svc else None
        if svc is None or app is None:
            raise OAuthError(401, "invalid_client", "Invalid value for 'client_id' parameter.")
        if app["status"] != "ACTIVE":
            raise OAuthError(401, "invalid_client", "The client is not active.")
        # The signature, against the keys registered on the app: the one named by `kid`, or
        # any of them when the assertion names none (service-app guide, "Create and sign the
        # JWT": the kid must match the public key registered for the app).
        keys = svc.get("keys") or []
        kid = header.get("kid")
        if kid is not None:
            keys = [k for k in keys if k.get("kid") == kid]
            if not keys:
                raise OAuthError(401, "invalid_client",
                                 "The client_assertion token has a kid which does not identify "
                                 "a key registered for the client.")
        if not any(signature_verifies(assertion, k) for k in keys):
            raise OAuthError(401, "invalid_client",
                             "The client_assertion signature is invalid.")
        want_aud = ctx.base + "/oauth2/v1/token"
        aud = claims.get("aud")
        if aud != want_aud and not (isinstance(aud, list) and aud == [want_aud]):
            raise OAuthError(401, "invalid_client",
                             "The audience claim for client_assertion must be the endpoint "
                             "invoked for the request.")
        exp = claims.get("exp")
        now = time.time()  # the assertion was minted with the client's clock
        if not isinstance(exp, (int, float)) or isinstance(exp, bool):
            raise OAuthError(401, "invalid_client",
                             "The client_assertion token must contain an 'exp' claim.")
        if exp <= now:
            raise OAuthError(401, "invalid_client", "The client_assertion token is expired.")
        if exp > now + 3600 + 30:
            raise OAuthError(401, "invalid_client",
                             "The client_assertion token has an expiration too far into the "
                             "future.")
        # Replay protection (RFC 7523 §3 item 7; the guide: "jti ... used to prevent replay"):
        # the jti is spent as soon as the assertion is accepted, whatever happens next, so a
        # retry (after use_dpop_nonce included) needs a new assertion.
        jti = claims.get("jti")
        if jti is not None:
            key = f"{iss}:{jti}"
            if key in self.s.used_jti:
                raise OAuthError(401, "invalid_client",
                                 "The client_assertion token has already been used.")
            self.s.used_jti[key] = exp
        self.s.dpop_counts["token_requests"] += 1
        jkt = self._token_dpop(ctx, svc)
        scope = form.get("scope")
        if not scope or not scope.strip():
            raise OAuthError(400, "invalid_scope",
                             "The authorization server resource does not have any configured "
                             "default scopes, 'scope' must be provided.")
        requested = scope.split()
        if any(x not in KNOWN_OKTA_SCOPES or x not in svc["scopes"] for x in requested):
            raise OAuthError(400, "invalid_scope",
                             "One or more scopes are not configured for the authorization "
                             "server resource.")
        now_srv = self.clock.now()
        # 1 h (the service-app guide); config `access_token_lifetime` shortens it for tests.
        lifetime = int(self.s.config.get("access_token_lifetime", 3600))
        payload = {"ver": 1, "jti": "AT." + random_string(43), "iss": ctx.base, "aud": ctx.base,
                   "iat": int(now_srv), "exp": int(now_srv) + lifetime, "cid": iss,
                   "scp": requested, "sub": iss}
        token = unsigned_jwt({"kid": "emulator", "alg": "RS256"}, payload, secrets.token_bytes(32))
        self.s.access_tokens[token] = {"client_id": iss, "scopes": requested,
                                       "exp": now_srv + lifetime, "jkt": jkt}
        self.s.dpop_counts["tokens_issued"] += 1
        return 200, [("Cache-Control", "no-store"), ("Pragma", "no-cache")], {
            "token_type": "DPoP" if jkt else "Bearer", "expires_in": lifetime, "access_token": token,
            "scope": " ".join(requested)}
