"""DPoP (RFC 9449): proofs at the token endpoint and on API calls."""

from __future__ import annotations

import hashlib
import time
from typing import Callable, Optional, Tuple

from ..base.jose import b64url_encode, read_unverified, signature_verifies, thumbprint
from ..base.oauth import OAuthError
from .common import JSON
from .context import Ctx
from .limits import DPOP_IAT_WINDOW


def htu_of(url: str) -> str:
    """RFC 9449 §4.3 check 9: the URI without query and fragment."""
    return url.split("#", 1)[0].split("?", 1)[0]


class DPoPMixin:
    """DPoP (RFC 9449): proofs at the token endpoint and on API calls."""

    # -- DPoP (RFC 9449; developer.okta.com/docs/guides/dpop/) -------------------------------

    def _token_dpop(self, ctx: Ctx, svc: JSON) -> Optional[str]:
        """The DPoP check at the token endpoint; returns the key thumbprint to bind the token to,
        or None for a Bearer token.  An app that requires DPoP refuses a request without a
        proof; the first proof without the server's nonce is answered `use_dpop_nonce` with a
        `DPoP-Nonce` header (Okta's DPoP guide, "Request an access token"; RFC 9449 §8).  An app
        without DPoP ignores a proof and issues a Bearer token (RFC 9449 §5, last paragraph)."""
        proof = ctx.headers.get("DPoP")
        if not svc.get("require_dpop"):
            return None
        if not proof:
            raise OAuthError(400, "invalid_dpop_proof", "The DPoP proof JWT header is missing.")
        jwk, claims = self._check_proof(proof, "POST", ctx.base + ctx.path, None,
                                        lambda d: OAuthError(400, "invalid_dpop_proof", d))
        if claims.get("nonce") not in self.s.dpop_nonces():
            self.s.dpop_counts["token_nonce_challenges"] += 1
            e = OAuthError(400, "use_dpop_nonce",
                           "Authorization server requires nonce in DPoP proof.")
            e.headers = [("DPoP-Nonce", self.s.dpop_nonce())]
            raise e
        self.s.dpop_counts["token_proofs_with_nonce"] += 1
        return thumbprint(jwk)

    def _check_proof(self, proof: str, method: str, url: str, access_token: Optional[str],
                     fail: Callable[[str], Exception]) -> Tuple[JSON, JSON]:
        """RFC 9449 §4.3 checks 1-11 (the nonce, check 10, is the caller's): the proof's header,
        signature with its own JWK, htm, htu, iat window, ath, and jti replay."""
        try:
            header, claims = read_unverified(proof)
        except ValueError:
            raise fail("The DPoP proof JWT is malformed.")
        if header.get("typ") != "dpop+jwt":
            raise fail("The DPoP proof JWT header 'typ' must be 'dpop+jwt'.")
        jwk = header.get("jwk")
        if not isinstance(jwk, dict) or any(k in jwk for k in ("d", "p", "q", "dp", "dq", "qi")):
            raise fail("The DPoP proof JWT header must carry a public 'jwk'.")
        if not signature_verifies(proof, jwk):
            raise fail("The DPoP proof JWT signature is invalid.")
        if claims.get("htm") != method:
            raise fail("The DPoP proof 'htm' claim does not match the request method.")
        if not isinstance(claims.get("htu"), str) or htu_of(claims["htu"]) != htu_of(url) \
                or claims["htu"] != htu_of(claims["htu"]):
            raise fail("The DPoP proof 'htu' claim does not match the request URI.")
        iat = claims.get("iat")
        if not isinstance(iat, (int, float)) or isinstance(iat, bool) or \
                abs(time.time() - iat) > DPOP_IAT_WINDOW:
            raise fail("The DPoP proof 'iat' claim is missing or outside the accepted window.")
        if access_token is not None:
            ath = b64url_encode(hashlib.sha256(access_token.encode("utf-8")).digest())
            if claims.get("ath") != ath:
                raise fail("The DPoP proof 'ath' claim does not match the access token.")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise fail("The DPoP proof JWT must contain a 'jti' claim.")
        if jti in self.s.used_dpop_jti:
            raise fail("The DPoP proof JWT 'jti' has already been used.")
        self.s.used_dpop_jti[jti] = time.time()
        return jwk, claims
