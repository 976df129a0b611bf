"""The Microsoft identity platform: device code and token endpoints."""

from __future__ import annotations

import base64
import hashlib
import secrets
import string
import time
from typing import Dict, List, Optional, Tuple
from urllib.parse import parse_qs, unquote

from ..base.ids import BASE62, random_string
from ..base.jose import b64url_encode, read_unverified, unsigned_jwt
from .common import (DEVICE_CODE_GRANT, GRAPH_APP_ID, GRAPH_RESOURCE, JSON, JWT_BEARER, KNOWN_GRAPH_PERMISSIONS, OIDC_SCOPES)
from .context import Ctx, Response
from .errors import OAuthError
from .federation import check_federated, is_federated


class IdentityPlatformMixin:
    """The Microsoft identity platform's endpoints: device code, token (device code, refresh,
    client credentials with a secret or a certificate assertion) and their errors."""

    # ===================================================================================
    # Identity platform
    # (https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-device-code)
    # ===================================================================================

    def resolve_tenant(self, tenant: str) -> str:
        t = unquote(tenant).lower()
        if t in (self.s.tenant_id.lower(), "organizations", "common"):
            return t
        if t in [d.lower() for d in self.s.verified_domains]:
            return t
        raise OAuthError(400, "invalid_request", 90002,
                         f"Tenant '{unquote(tenant)}' not found. Check to make sure you have the "
                         "correct tenant ID and are signing into the correct cloud. Check with "
                         "your subscription administrator, this may happen if there are no active "
                         "subscriptions for the tenant.")

    @staticmethod
    def parse_form(ctx: Ctx) -> Dict[str, str]:
        ctype = (ctx.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            # Entra only reads form bodies; a JSON body looks like a request without parameters.
            return {}
        try:
            parsed = parse_qs(ctx.body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            return {}
        return {k: v[-1] for k, v in parsed.items()}

    @staticmethod
    def _missing(param: str) -> OAuthError:
        return OAuthError(400, "invalid_request", 900144,
                          f"The request body must contain the following parameter: '{param}'.")

    def _client(self, cid: str) -> JSON:
        c = self.s.clients.get(cid.lower()) if isinstance(cid, str) else None
        if c is None:
            raise self.unknown_client(cid)
        return c

    def unknown_client(self, cid: str) -> OAuthError:
        return OAuthError(400, "unauthorized_client", 700016,
                          f"Application with identifier '{cid}' was not found in the directory "
                          f"'{self.s.tenant_domain}'. This can happen if the application has "
                          "not been installed by the administrator of the tenant or consented "
                          "to by any user in the tenant. You may have sent your authentication "
                          "request to the wrong tenant.")

    def parse_scopes(self, scope: str, client: JSON) -> Tuple[Optional[set], List[str]]:
        """-> (graph permissions or None for '.default', OIDC scopes).  https://learn.microsoft.com/en-us/troubleshoot/entra/entra-id/governance/verify-first-party-apps-sign-in."""
        perms: set = set()
        oidc: List[str] = []
        default = False
        for s in scope.split():
            if s in OIDC_SCOPES:
                oidc.append(s)
                continue
            name = s
            for prefix in (GRAPH_RESOURCE + "/", GRAPH_APP_ID + "/", "https://graph.microsoft.com//"):
                if s.lower().startswith(prefix.lower()):
                    name = s[len(prefix):]
                    break
            else:
                if "/" in s or ":" in s:
                    raise OAuthError(400, "invalid_resource", 500011,
                                     f"The resource principal named {s.rsplit('/', 1)[0]} was not "
                                     f"found in the tenant named {self.s.tenant_domain}. This can "
                                     "happen if the application has not been installed by the "
                                     "administrator of the tenant or consented to by any user in "
                                     "the tenant. You might have sent your authentication request "
                                     "to the wrong tenant.")
            if name == ".default":
                default = True
                continue
            match = next((p for p in KNOWN_GRAPH_PERMISSIONS if p.lower() == name.lower()), None)
            if match is None:
                raise OAuthError(400, "invalid_scope", 70011,
                                 f"The provided request must include a 'scope' input parameter. "
                                 f"The provided value for the input parameter 'scope' is not "
                                 f"valid. The scope {s} is not valid.")
            perms.add(match)
        if default and perms:
            raise OAuthError(400, "invalid_scope", 70011,
                             f"The provided value for the input parameter 'scope' is not valid. "
                             f"The scope '{scope}' does not exist: '.default' cannot be combined "
                             "with other resource scopes.")
        if perms and client["preauthorized_only"]:
            # https://learn.microsoft.com/en-us/troubleshoot/entra/entra-id/governance/verify-first-party-apps-sign-in:
            # Azure CLI cannot request explicit Graph scopes.
            raise OAuthError(400, "invalid_grant", 65002,
                             f"Consent between first party application '{client['client_id']}' "
                             f"and first party resource '{GRAPH_APP_ID}' must be configured via "
                             "preauthorization - applications owned and operated by Microsoft "
                             "must get approval from the API owner before requesting tokens for "
                             "that API.")
        if not default and not perms and not oidc:
            raise OAuthError(400, "invalid_scope", 70011,
                             "The provided value for the input parameter 'scope' is not valid.")
        return (None if default or not perms else perms), oidc

    def devicecode(self, ctx: Ctx, tenant: str, form: Dict[str, str]) -> Response:
        cid = form.get("client_id")
        if not cid:
            raise self._missing("client_id")
        client = self._client(cid)
        scope = form.get("scope")
        if not scope:
            raise self._missing("scope")
        perms, oidc = self.parse_scopes(scope, client)
        cfg = self.s.config
        user_code = random_string(9, string.ascii_uppercase + string.digits)
        device_code = "DAQABIQEAAAB" + random_string(160, BASE62 + "-_")
        now = time.time()
        self.s.device_codes[device_code] = {
            "device_code": device_code, "user_code": user_code, "client_id": client["client_id"],
            "tenant": tenant, "perms": perms, "oidc": oidc, "created": now,
            "expires": now + cfg["device_code_expires_in"], "interval": cfg["device_code_interval"],
            "last_poll": None, "status": "pending", "user_id": None, "polls": 0,
        }
        uri = "https://microsoft.com/devicelogin"
        return 200, [], {
            "user_code": user_code, "device_code": device_code, "verification_uri": uri,
            "expires_in": cfg["device_code_expires_in"], "interval": cfg["device_code_interval"],
            "message": f"To sign in, use a web browser to open the page {uri} and enter the code "
                       f"{user_code} to authenticate.",
        }

    def token(self, ctx: Ctx, tenant: str, form: Dict[str, str]) -> Response:
        grant = form.get("grant_type")
        if not grant:
            raise self._missing("grant_type")
        if grant == DEVICE_CODE_GRANT:
            return self.grant_device_code(ctx, tenant, form)
        if grant == "authorization_code":
            return self.grant_authorization_code(tenant, form)
        if grant == "refresh_token":
            return self.grant_refresh(ctx, tenant, form)
        if grant == "client_credentials":
            return self.grant_client_credentials(ctx, tenant, form)
        raise OAuthError(400, "unsupported_grant_type", 70003,
                         f"The app requested an unsupported grant type '{grant}'.")

    def grant_device_code(self, ctx: Ctx, tenant: str, form: Dict[str, str]) -> Response:
        cid = form.get("client_id")
        if not cid:
            raise self._missing("client_id")
        client = self._client(cid)
        code = form.get("device_code")
        if not code:
            raise self._missing("device_code")
        dc = self.s.device_codes.get(code)
        if dc is None:
            raise OAuthError(400, "bad_verification_code", 70018,
                             "Invalid verification code. The device_code is not valid.")
        if dc["client_id"] != client["client_id"]:
            raise OAuthError(400, "invalid_grant", 70000,
                             "The provided value for the input parameter 'device_code' is not "
                             "valid. It was issued to a different client.")
        if not client["public_client"]:
            # https://learn.microsoft.com/en-us/troubleshoot/entra/entra-id/governance/verify-first-party-apps-sign-in:
            # "Allow public client flows" off -> AADSTS7000218
            raise OAuthError(401, "invalid_client", 7000218,
                             "The request body must contain the following parameter: "
                             "'client_assertion' or 'client_secret'.")
        now = time.time()
        if dc["status"] == "redeemed":
            raise OAuthError(400, "invalid_grant", 54005,
                             "OAuth2 Authorization code was already redeemed, please retry with a "
                             "new valid code or use an existing refresh token.")
        if now >= dc["expires"] or dc["status"] == "expired":
            raise OAuthError(400, "expired_token", 70019, "Verification code expired.")
        if dc["status"] == "declined":
            raise OAuthError(400, "authorization_declined", 65004,
                             "User declined to consent to access the app.")
        last = dc["last_poll"]
        dc["last_poll"] = now
        dc["polls"] += 1
        if (self.s.config["enforce_slow_down"] and last is not None
                and now - last + 0.05 < dc["interval"]):
            # RFC 8628 §3.5: slow_down, and the interval grows by 5 s
            # (https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-device-code:
            # UNCONFIRMED
            # that Entra sends it; the emulator does so clients handle it).
            dc["interval"] += 5
            raise OAuthError(400, "slow_down", 70016,
                             f"Polling too frequently; wait at least {dc['interval']} seconds "
                             "between requests.")
        if dc["status"] == "pending":
            raise OAuthError(400, "authorization_pending", 70016,
                             "The provided request has not yet been authorized by the user. The "
                             "user must input their code.")
        if self.s.config["conditional_access_block_device_code"]:
            # ED conditional-access/policy-block-authentication-flows.md: a policy can block the
            # device code flow; the token endpoint then refuses issuance (AADSTS53003, body as
            # seen in the field: error interaction_required, suberror message_only).
            dc["status"] = "redeemed"
            raise OAuthError(400, "interaction_required", 53003,
                             "Access has been blocked by Conditional Access policies. The access "
                             "policy does not allow token issuance.", suberror="message_only")
        dc["status"] = "redeemed"
        user = self.s.users[dc["user_id"]]
        return 200, [], self.issue(client, user, dc["perms"], dc["oidc"], tenant)

    def _effective_delegated(self, client: JSON, user: JSON, requested: Optional[set]) -> set:
        granted = set(client["permissions"]) & set(user["_permissions"])
        return granted if requested is None else granted & requested

    def issue(self, client: JSON, user: Optional[JSON], requested: Optional[set],
              oidc: List[str], tenant: str) -> JSON:
        cfg = self.s.config
        now = time.time()
        access = "eme." + random_string(86)  # opaque on purpose (https://learn.microsoft.com/en-us/entra/identity-platform/id-token-claims-reference: read tid from the id_token)
        if user is not None:
            perms = self._effective_delegated(client, user, requested)
        else:
            perms = set(client["permissions"])
        self.s.access_tokens[access] = {
            "kind": "delegated" if user else "app", "client_id": client["client_id"],
            "user_id": user["id"] if user else None, "perms": sorted(perms),
            "exp": now + cfg["access_token_lifetime"], "issued": now,
        }
        out: JSON = {"token_type": "Bearer"}
        if user is not None:
            out["scope"] = " ".join([f"{GRAPH_RESOURCE}/{p}" for p in sorted(perms)] +
                                    [s for s in oidc if s != "offline_access"])
        out["expires_in"] = cfg["access_token_lifetime"]
        out["ext_expires_in"] = cfg["access_token_lifetime"]
        out["access_token"] = access
        if user is not None and "offline_access" in oidc:
            rt = "1.ARfresh." + random_string(180, BASE62 + "-_")
            self.s.refresh_tokens[rt] = {
                "client_id": client["client_id"], "user_id": user["id"],
                "requested": None if requested is None else sorted(requested), "oidc": list(oidc),
                "exp": now + cfg["refresh_token_lifetime"], "tenant": tenant,
            }
            out["refresh_token"] = rt
        if user is not None and "openid" in oidc:
            out["id_token"] = self.id_token(client, user)
        return out

    def id_token(self, client: JSON, user: JSON) -> str:
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "kid": "graph-emulator"}
        claims = {"aud": client["client_id"],
                  "iss": f"https://login.microsoftonline.com/{self.s.tenant_id}/v2.0",
                  "iat": now, "nbf": now, "exp": now + 3600, "name": user["displayName"],
                  "oid": user["id"], "preferred_username": user["userPrincipalName"],
                  "sub": b64url_encode(hashlib.sha256(user["id"].encode()).digest()),
                  "tid": self.s.tenant_id, "ver": "2.0"}
        # Not signed: the emulator has no keys; clients must not validate id_tokens they got
        # directly from the token endpoint over TLS anyway.
        return unsigned_jwt(header, claims, b"graph-emulator-unsigned")

    def grant_refresh(self, ctx: Ctx, tenant: str, form: Dict[str, str]) -> Response:
        cid = form.get("client_id")
        if not cid:
            raise self._missing("client_id")
        client = self._client(cid)
        rt = form.get("refresh_token")
        if not rt:
            raise self._missing("refresh_token")
        if rt in self.s.used_refresh_tokens:
            raise OAuthError(400, "invalid_grant", 70000,
                             "The provided value for the 'refresh_token' is not valid: it was "
                             "already redeemed and replaced by a new refresh token.")
        rec = self.s.refresh_tokens.get(rt)
        if rec is None:
            raise OAuthError(400, "invalid_grant", 9002313,
                             "Invalid request. Request is malformed or invalid.")
        if rec["client_id"] != client["client_id"]:
            raise OAuthError(400, "invalid_grant", 70000,
                             "The refresh token was issued to a different client.")
        if time.time() >= rec["exp"]:
            raise OAuthError(400, "invalid_grant", 700082,
                             "The refresh token has expired due to inactivity.")
        requested: Optional[set] = None if rec["requested"] is None else set(rec["requested"])
        oidc = rec["oidc"]
        if form.get("scope"):
            requested, oidc2 = self.parse_scopes(form["scope"], client)
            oidc = sorted(set(oidc2) | {"offline_access"})
        user = self.s.users.get(rec["user_id"])
        if user is None:
            raise OAuthError(400, "invalid_grant", 50173, "The provided grant has been revoked.")
        # rotate: the old refresh token is now spent (
        # https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-device-code "standard
        # refresh")
        del self.s.refresh_tokens[rt]
        self.s.used_refresh_tokens[rt] = time.time()
        if "offline_access" not in oidc:
            oidc = list(oidc) + ["offline_access"]
        return 200, [], self.issue(client, user, requested, oidc, rec["tenant"])

    def grant_client_credentials(self, ctx: Ctx, tenant: str, form: Dict[str, str]) -> Response:
        if tenant in ("common", "organizations"):
            raise OAuthError(400, "invalid_request", 50059,
                             "No tenant-identifying information found in either the request or "
                             "implied by any provided credentials.")
        cid = form.get("client_id")
        secret = form.get("client_secret")
        auth = ctx.headers.get("Authorization") or ""
        if auth.lower().startswith("basic "):  # RFC 6749 §2.3.1 (https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow)
            try:
                user, _, pw = base64.b64decode(auth[6:].strip()).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                raise OAuthError(401, "invalid_client", 7000216,
                                 "Malformed Basic authorization header.") from None
            cid, secret = unquote(user.replace("+", " ")), unquote(pw.replace("+", " "))
        assertion = form.get("client_assertion")
        if assertion is not None:
            if form.get("client_assertion_type") != JWT_BEARER:
                raise OAuthError(400, "invalid_request", 90014,
                                 "The required field 'client_assertion_type' is missing or "
                                 f"is not '{JWT_BEARER}'.")
            client = self._assertion_client(ctx, tenant, assertion, cid)
        else:
            if not cid:
                raise self._missing("client_id")
            client = self._client(cid)
            if secret is None:
                raise OAuthError(401, "invalid_client", 7000216,
                                 "'client_assertion', 'client_secret' or 'request' is required "
                                 "for the 'client_credentials' grant type.")
            if client["client_secret"] is None or not secrets.compare_digest(
                    client["client_secret"].encode(), secret.encode()):
                raise OAuthError(401, "invalid_client", 7000215,
                                 "Invalid client secret provided. Ensure the secret being sent in "
                                 "the request is the client secret value, not the client secret "
                                 f"ID, for a secret added to app '{client['client_id']}'.")
        scope = form.get("scope")
        if not scope:
            raise self._missing("scope")
        parts = scope.split()
        if len(parts) != 1 or not parts[0].endswith("/.default"):
            raise OAuthError(400, "invalid_scope", 1002012,
                             f"The provided value for scope {scope} is not valid. Client credential "
                             "flows must have a scope value with /.default suffixed to the resource "
                             "identifier (application ID URI).")
        resource = parts[0][:-len("/.default")]
        if resource.lower().rstrip("/") not in (GRAPH_RESOURCE, GRAPH_APP_ID):
            raise OAuthError(400, "invalid_resource", 500011,
                             f"The resource principal named {resource} was not found in the tenant "
                             f"named {self.s.tenant_domain}.")
        return 200, [], self.issue(client, None, None, [], tenant)

    def _assertion_client(self, ctx: Ctx, tenant: str, assertion: str, cid: Optional[str]) -> JSON:
        """The client a jwt-bearer assertion signs in: a federated token from another issuer when
        the client trusts one (federation.py), else the client's own certificate assertion."""
        try:
            _, claims = read_unverified(assertion)
        except ValueError:
            raise OAuthError(401, "invalid_client", 50027, "JWT token is invalid or malformed.") from None
        if cid:
            client = self._client(cid)
            if is_federated(client, claims):
                check_federated(client, claims, assertion, self.s.__dict__.setdefault("issuer_keys", {}))
                # what was presented (no signature), for the tests that rotate the token file
                self.s.__dict__.setdefault("federated_assertions", []).append(
                    {"sub": claims.get("sub"), "jti": claims.get("jti")})
                return client
        return self._check_assertion(ctx, tenant, assertion, cid)

    def _check_assertion(self, ctx: Ctx, tenant: str, assertion: str, cid: Optional[str]) -> JSON:
        """https://learn.microsoft.com/en-us/entra/identity-platform/certificate-credentials.  The JWT's structure and claims are checked; its signature is NOT
        verified (the emulator holds no certificates) - any well-formed assertion whose
        iss/sub name a registered confidential client with a certificate is accepted."""
        def bad(msg: str, code: int = 50027) -> OAuthError:
            return OAuthError(401, "invalid_client", code, msg)
        try:
            header, claims = read_unverified(assertion)
        except ValueError:
            raise bad("JWT token is invalid or malformed.") from None
        # the header of the last assertion (no signature, no claims), for the state dump
        self.s.last_assertion_header = {k: header.get(k) for k in ("alg", "typ", "x5t", "x5t#S256", "kid")
                                        if isinstance(header, dict) and k in header}
        if header.get("alg") not in ("RS256", "PS256"):
            raise bad(f"The client assertion uses an unsupported algorithm '{header.get('alg')}'.")
        if not header.get("x5t") and not header.get("x5t#S256") and not header.get("kid"):
            raise bad("The client assertion header does not identify a certificate "
                      "(x5t, x5t#S256 or kid).", 700027)
        iss, sub = claims.get("iss"), claims.get("sub")
        if not iss or iss != sub:
            raise bad("The client assertion's 'iss' and 'sub' claims must both be the client ID.",
                      700021)
        if cid and cid.lower() != str(iss).lower():
            raise bad("The client_id parameter does not match the client assertion's issuer.",
                      700021)
        client = self._client(str(iss))
        if not client["certificate"]:
            raise bad("The certificate with identifier used to sign the client assertion is not "
                      f"registered on application. [Reason - The key was not found.] App Id: "
                      f"{client['client_id']}", 700027)
        valid_aud = {f"{b}/{t}/oauth2/v2.0/token" for b in ("https://login.microsoftonline.com",
                                                              ctx.base)
                     for t in (self.s.tenant_id, self.s.tenant_domain, tenant)}
        if str(claims.get("aud", "")).lower() not in {a.lower() for a in valid_aud}:
            raise bad(f"The audience claim value is invalid '{claims.get('aud')}'. The audience "
                      "must be the token endpoint URL.", 50027)
        now = time.time()
        exp, nbf = claims.get("exp"), claims.get("nbf", claims.get("iat"))
        if not isinstance(exp, (int, float)) or exp <= now or exp > now + 3600 * 24:
            raise bad("Client assertion is not within its valid time range.", 700024)
        if isinstance(nbf, (int, float)) and nbf > now + 300:
            raise bad("Client assertion is not within its valid time range.", 700024)
        if not claims.get("jti"):
            raise bad("The client assertion is missing the 'jti' claim.", 50027)
        return client
