"""JOSE for the emulators, through joserfc (https://jose.authlib.org/, pinned in
scripts/setup-test-env): reading compact JWS/JWT (RFC 7515, RFC 7519), checking their signatures
against JWKs (RFC 7517, RFC 7518), RFC 7638 thumbprints, and base64url (RFC 7515 §2).

Okta verifies a `private_key_jwt` client assertion against the public keys registered on the app
(https://developer.okta.com/docs/guides/implement-oauth-for-okta-serviceapp/main/ "Create and sign
the JWT") and a DPoP proof against the JWK in its own header (RFC 9449 §4.3,
https://developer.okta.com/docs/guides/dpop/main/); Entra ID reads a client assertion's header and
claims (https://learn.microsoft.com/en-us/entra/identity-platform/certificate-credentials).
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, Optional, Tuple

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import import_key
from joserfc.jws import JWSRegistry
from joserfc.util import urlsafe_b64decode, urlsafe_b64encode

JSON = Dict[str, Any]

# The algorithms Okta lists for client assertions and DPoP proofs (RSA and EC).
SIGNATURE_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512")


def _registry() -> JWSRegistry:
    """joserfc's checks, less its 512-byte header limit: a DPoP proof carries its whole public key
    in the header (RFC 9449 §4.2), and an RSA one is larger than that. Header members joserfc does
    not know are accepted, as the vendors accept them."""
    registry = JWSRegistry(algorithms=SIGNATURE_ALGORITHMS, strict_check_header=False)
    registry.max_header_length = 16384
    return registry


REGISTRY = _registry()


def b64url_encode(data: bytes) -> str:
    return urlsafe_b64encode(data).decode("ascii")


def b64url_decode(part: str) -> bytes:
    """Unpadded base64url only (RFC 7515 §2); ValueError otherwise."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", part or ""):
        raise ValueError("not base64url")
    return urlsafe_b64decode(part.encode("ascii"))


def read_unverified(token: str) -> Tuple[JSON, JSON]:
    """(header, claims) of a compact JWS whose three parts are present, signature not checked;
    ValueError if it is not one."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[2]:
        raise ValueError("not a signed JWT")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        b64url_decode(parts[2])
    except UnicodeDecodeError:
        raise ValueError("not a JWT") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ValueError("not a JWT")
    return header, claims


def signature_verifies(token: str, jwk: JSON) -> bool:
    """Whether `token`'s signature verifies with the public `jwk`, under the algorithm its header
    names (one of SIGNATURE_ALGORITHMS; an ES signature is r ‖ s, RFC 7518 §3.4)."""
    try:
        alg = jws.extract_compact(token.encode("ascii"), registry=REGISTRY).protected.get("alg")
        if alg not in SIGNATURE_ALGORITHMS:
            return False
        jws.deserialize_compact(token, import_key(public_members(jwk)), algorithms=[alg], registry=REGISTRY)
        return True
    except (JoseError, ValueError, TypeError, KeyError, UnicodeError):
        return False


def public_members(jwk: JSON) -> JSON:
    """The members of a public RSA or EC JWK that identify the key (what RFC 7638 hashes)."""
    if jwk.get("kty") == "EC":
        return {k: jwk.get(k) for k in ("crv", "kty", "x", "y")}
    if jwk.get("kty") == "RSA":
        return {k: jwk.get(k) for k in ("e", "kty", "n")}
    raise ValueError("unsupported JWK")


def thumbprint(jwk: JSON) -> str:
    """RFC 7638 thumbprint (the `cnf.jkt` a DPoP-bound token carries, RFC 9449 §6)."""
    return import_key(public_members(jwk)).thumbprint()


def public_jwk_from_pem(pem: str, kid: Optional[str]) -> JSON:
    """The public JWK of a PEM public (or private) RSA or EC key, as an admin console registers
    it; ValueError for anything else."""
    key: Any = None
    for key_type in ("RSA", "EC"):
        try:
            key = import_key(pem.encode("utf-8"), key_type)
            break
        except (JoseError, ValueError, TypeError):
            continue
    if key is None:
        raise ValueError("only RSA and EC keys can be registered")
    jwk: JSON = dict(key.as_dict(private=False))
    if kid:
        jwk["kid"] = kid
    jwk["use"] = "sig"
    return jwk


def unsigned_jwt(header: JSON, claims: JSON, signature: bytes) -> str:
    """A compact JWT whose signature part is `signature` as given, not a signature: the emulators
    hold no signing keys, and their clients never verify these tokens (they are opaque to them)."""
    return ".".join([b64url_encode(json.dumps(header).encode()), b64url_encode(json.dumps(claims).encode()),
                     b64url_encode(signature)])
