"""Who is calling: SSWS tokens, OAuth access tokens (Bearer or DPoP-bound), and their scopes."""

from __future__ import annotations

from typing import Tuple

from ..base.jose import thumbprint
from .common import JSON
from .context import Ctx
from .errors import ApiError, access_denied, invalid_token
from .limits import ROLE_PERMISSIONS, scope_covers


class AuthMixin:
    """Who is calling: SSWS tokens, OAuth access tokens (Bearer or DPoP-bound), and their scopes."""

    # -- authentication & authorization
    # (https://developer.okta.com/docs/guides/create-an-api-token/main/)
    # -------------------------------------------

    def _authenticate(self, ctx: Ctx) -> None:
        auth = ctx.headers.get("Authorization") or ""
        scheme, _, cred = auth.strip().partition(" ")
        cred = cred.strip()
        if scheme == "SSWS" and cred in self.s.api_tokens:
            t = self.s.api_tokens[cred]
            ctx.principal = {"kind": "SSWS", "roles": list(t["roles"]), "scopes": None,
                             "name": t["name"]}
            return
        if scheme in ("Bearer", "DPoP") and cred in self.s.access_tokens:
            t = self.s.access_tokens[cred]
            svc = self.s.service_apps.get(t["client_id"])
            # Test control, not Okta: `access_token_max_uses` wears a token out after that many
            # calls, so a test can make a run renew its token at a known point.
            max_uses = self.s.config.get("access_token_max_uses")
            worn = bool(max_uses) and t.get("uses", 0) >= max_uses
            if t["exp"] > self.clock.now() and svc is not None and not worn:
                t["uses"] = t.get("uses", 0) + 1
                if t.get("jkt"):
                    # A DPoP-bound token goes only with the DPoP scheme and a proof signed by
                    # the key it is bound to, with `ath` (Okta's DPoP guide for Okta resource
                    # servers; RFC 9449 §7.1).
                    self._api_dpop(ctx, scheme, cred, t)
                elif scheme != "Bearer":
                    raise self._dpop_error(ctx, "invalid_token",
                                           "The access token is not DPoP-bound.")
                ctx.principal = {"kind": scheme, "roles": list(svc["roles"]),
                                 "scopes": set(t["scopes"]), "name": t["client_id"]}
                return
        if scheme == "DPoP":
            # An expired (or unknown) DPoP-bound token: `WWW-Authenticate: DPoP` with
            # error="invalid_token" (Okta's DPoP guide for Okta resource servers,
            # developer.okta.com/docs/guides/dpop/oktaresourceserver/main/; RFC 9449 §7.1 and
            # RFC 6750 §3.1: the client may get a new token and retry).
            self.s.dpop_counts["api_invalid_token"] += 1
            raise self._dpop_error(ctx, "invalid_token", "The access token is invalid.")
        hdrs = []
        if scheme == "Bearer":
            hdrs.append(("WWW-Authenticate",
                         'Bearer authorization_uri="%s/oauth2/v1/authorize", realm="%s", '
                         'scope="", error="invalid_token", error_description="The token is '
                         'not valid.", resource="%s"' % (ctx.base, ctx.base, ctx.path)))
        e = invalid_token()
        e.headers = hdrs
        raise e

    def _dpop_error(self, ctx: Ctx, error: str, description: str) -> ApiError:
        e = invalid_token()
        e.headers = [("WWW-Authenticate",
                      'DPoP algs="RS256 RS384 RS512 ES256 ES384 ES512", error="%s", '
                      'error_description="%s"' % (error, description))]
        return e

    def _api_dpop(self, ctx: Ctx, scheme: str, token: str, t: JSON) -> None:
        if scheme != "DPoP":
            raise self._dpop_error(ctx, "invalid_token",
                                   "The DPoP-bound access token must be sent with the DPoP "
                                   "authorization scheme.")
        proof = ctx.headers.get("DPoP")
        if not proof:
            raise self._dpop_error(ctx, "invalid_dpop_proof", "The DPoP proof is missing.")

        def fail(description: str) -> Exception:
            return self._dpop_error(ctx, "invalid_dpop_proof", description)
        jwk, claims = self._check_proof(proof, ctx.method, ctx.base + ctx.path, token, fail)
        if thumbprint(jwk) != t["jkt"]:
            raise fail("The DPoP proof key is not the key the access token is bound to.")
        if self.s.config.get("api_dpop_nonce") and claims.get("nonce") not in self.s.dpop_nonces():
            # RFC 9449 §9: a resource server may require its own nonce (Okta's guide shows none
            # for Okta's API, so this is off by default).
            self.s.dpop_counts["api_nonce_challenges"] += 1
            e = self._dpop_error(ctx, "use_dpop_nonce", "Resource server requires nonce in DPoP proof.")
            e.headers.append(("DPoP-Nonce", self.s.dpop_nonce()))
            raise e

    def _authorize(self, ctx: Ctx, perms: Tuple[str, ...]) -> None:
        p = ctx.principal
        assert p is not None
        role_perms: set = set()
        for role in p["roles"]:
            role_perms |= ROLE_PERMISSIONS.get(role, set())
        if p["scopes"] is not None:
            missing = [x for x in perms if not scope_covers(p["scopes"], x)]
            if missing:
                raise access_denied([("WWW-Authenticate",
                                      'Bearer authorization_uri="%s/oauth2/v1/authorize", '
                                      'realm="%s", scope="%s", error="insufficient_scope", '
                                      'error_description="The access token provided does not '
                                      'contain the required scopes.", resource="%s"'
                                      % (ctx.base, ctx.base, " ".join(missing), ctx.path))])
        if any(not scope_covers(role_perms, x) for x in perms):
            raise access_denied()
