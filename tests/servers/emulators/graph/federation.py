"""Workload identity federation: a client assertion that is a token from another identity
provider (GitHub Actions, GitLab, a Kubernetes service account), matched against the federated
identity credentials registered on the app.

- The client sends it as `client_assertion` with the jwt-bearer type and its own `client_id`
  (https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow,
  third case; https://learn.microsoft.com/en-us/entra/workload-id/workload-identity-federation).
- A credential is issuer, subject and one audience, `api://AzureADTokenExchange` recommended
  (https://learn.microsoft.com/en-us/graph/api/resources/federatedidentitycredential); subjects
  match case-sensitively since 2024
  (https://learn.microsoft.com/en-us/entra/identity-platform/reference-breaking-changes).
- The refusals carry the codes Entra answers with (see GRAPH_EMULATOR.md, Sources §1.7):
  AADSTS70021 (no credential at all), AADSTS700211 (issuer), AADSTS700212 (audience),
  AADSTS700213 (subject; AADSTS7002138 when only the case differs), AADSTS700024 (expired).

The signature is checked against the issuer's published keys (Entra reads them from the issuer's
OIDC metadata) for the issuers the emulator plays itself: `POST /_control/federated/token` mints
a token as that issuer, RS256 with a key of its own (the answer is shaped like GitHub Actions' ID
token endpoint, `{"value": …}`). A token whose `kid` the issuer never published is refused with
AADSTS7000272, a bad signature with AADSTS50013 (see GRAPH_EMULATOR.md, Sources §1.7). For an
issuer the emulator has minted nothing for, the signature is NOT checked (it hosts no such issuer);
iss/sub/aud/exp always are.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List, Optional

from joserfc import jwt
from joserfc.jwk import RSAKey

from ..base.jose import read_unverified, signature_verifies
from .common import JSON
from .errors import OAuthError

CHECK = ("Check your federated identity credential Subject, Audience and Issuer against the "
         "presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation")


def _refuse(code: int, text: str) -> OAuthError:
    return OAuthError(401, "invalid_client", code, text)


def is_federated(client: JSON, claims: JSON) -> bool:
    """An assertion the client did not sign itself: its issuer is not the client id but another
    identity provider (an issuer URL, as every federated credential names one)."""
    iss = str(claims.get("iss", ""))
    return iss.lower() != client["client_id"] and (bool(client.get("federated_credentials"))
                                                    or iss.startswith("https://"))


def mint(keys: Dict[str, RSAKey], body: Any) -> JSON:
    """A token of `issuer` for `subject` (audience api://AzureADTokenExchange unless given), signed
    with the issuer's key, made on first use."""
    if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("issuer", "subject")):
        raise ValueError("federated/token body is {issuer, subject, audience?, lifetime?, jti?}")
    issuer = body["issuer"]
    key = keys.get(issuer)
    if key is None:
        key = keys[issuer] = RSAKey.generate_key(2048, parameters={"kid": f"key-{len(keys) + 1}"})
    now = int(time.time())
    claims = {"iss": issuer, "sub": body["subject"], "aud": body.get("audience", "api://AzureADTokenExchange"),
              "iat": now, "nbf": now, "exp": now + int(body.get("lifetime", 300)),
              "jti": body.get("jti") or f"jti-{now}-{len(keys)}"}
    token = jwt.encode({"alg": "RS256", "typ": "JWT", "kid": key.kid}, claims, key)
    return {"value": token, "count": 1}


def check_signature(keys: Dict[str, RSAKey], token: str, iss: str) -> None:
    """Refuses a token of an issuer the emulator plays whose signature its keys do not verify."""
    key = keys.get(iss)
    if key is None:
        return
    header, _ = read_unverified(token)
    if header.get("kid") != key.kid:
        raise _refuse(7000272, f"The certificate with identifier {header.get('kid')} used to sign the "
                      f"federated credential could not be found in the metadata of identity provider "
                      f"{iss}. Please validate that your Identity Provider's metadata exposes the key "
                      "used to sign the incoming token.")
    if not signature_verifies(token, key.as_dict(private=False)):
        raise _refuse(50013, "Assertion failed signature validation. [Reason - The provided signature "
                      "value did not match the expected signature value.]")


def check_federated(client: JSON, claims: JSON, token: str = "", keys: Optional[Dict[str, RSAKey]] = None) -> None:
    """Raises Entra's error when no federated credential of `client` matches the assertion."""
    now = time.time()
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or exp <= now:
        raise _refuse(700024, "Client assertion is not within its valid time range. "
                      f"Current time: {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(now))}.")
    iss, sub = str(claims.get("iss", "")), str(claims.get("sub", ""))
    aud = claims.get("aud")
    audiences: List[str] = [aud] if isinstance(aud, str) else [a for a in aud or [] if isinstance(a, str)]
    creds: List[JSON] = client.get("federated_credentials") or []
    if not creds:
        raise _refuse(70021, "No matching federated identity record found for presented assertion. "
                      f"Assertion Issuer: '{iss}'. Assertion Subject: '{sub}'. "
                      f"Assertion Audience: '{','.join(audiences)}'. {CHECK}")
    by_issuer = [c for c in creds if c["issuer"] == iss]
    if not by_issuer:
        raise _refuse(700211, f"No matching federated identity record found for presented assertion "
                      f"issuer '{iss}'. {CHECK}")
    check_signature(keys or {}, token, iss)
    by_audience = [c for c in by_issuer if c["audiences"][0] in audiences]
    if not by_audience:
        raise _refuse(700212, f"No matching federated identity record found for presented assertion "
                      f"audience '{','.join(audiences)}'. {CHECK}")
    if any(c["subject"] == sub for c in by_audience):
        return
    if any(c["subject"].lower() == sub.lower() for c in by_audience):
        raise _refuse(7002138, f"No matching federated identity record found for presented assertion "
                      f"subject '{sub}'. The subject matches with case-insensitive comparison, but not "
                      f"with case-sensitive comparison. {CHECK}")
    raise _refuse(700213, f"No matching federated identity record found for presented assertion "
                  f"subject '{sub}'. {CHECK}")
