"""AWS IAM Identity Center OIDC (service ``sso-oidc``), the device authorization flow only,
served by the test moto (tests/servers/moto_server.py) at the same endpoint as every other AWS
service. moto 5.2.5 has no ``sso-oidc`` at all; this adds it, and changes nothing moto has.

Every behaviour below is written from a source, cited next to it:

- [M] the service model botocore ships (``botocore/data/sso-oidc/2019-06-10/service-2.json``, the
  description the Rust ``aws-sdk-ssooidc`` is generated from): the three operations are REST-JSON
  ``POST /client/register``, ``POST /device_authorization``, ``POST /token``, each with
  ``"authtype": "none"`` (unsigned: no AWS credentials), their members and required members,
  and the error shapes (``error`` / ``error_description`` members; HTTP 400, 401 for
  ``InvalidClientException``).
- [R] the IAM Identity Center OIDC API reference (docs.aws.amazon.com/singlesignon/latest/
  OIDCAPIReference): RegisterClient "The service supports only `public` as a client type";
  CreateToken's grant types (``urn:ietf:params:oauth:grant-type:device_code`` for device code);
  ``AuthorizationPendingException`` "a request to authorize a client with an access user
  session token is pending"; ``ExpiredTokenException``; ``AccessDeniedException``;
  ``SlowDownException`` "the client is making the request too frequently".
- [RFC] RFC 8628 (OAuth 2.0 Device Authorization Grant) §3.2 (device_code, user_code,
  verification_uri(_complete), expires_in, interval), §3.5 (authorization_pending, slow_down,
  access_denied, expired_token; a device code is good for one token).
- [CLI] what the AWS CLI prints for ``aws sso login --use-device-code``, as users report it: the
  verification URI ``https://device.sso.<region>.amazonaws.com/`` and an 8-letter code
  ``XXXX-XXXX`` (aws/aws-cli#6305).
- [PWD] IAM Identity Center user guide, "Email one-time password to users created with API"
  (https://docs.aws.amazon.com/singlesignon/latest/userguide/userswithoutpwd.html): a user created
  with the Identity Store CreateUser API has no password and cannot sign in until the admin
  turns on "Send email OTP for users created from API" (then the user gets a one-time password
  by email at the first sign-in attempt) or generates a one-time password for the user.

UNCONFIRMED, and said so: which error a start URL that is no portal of this Region's instance
gets. Users report a 400 from SSO OIDC at the start of the flow for a start URL that is not an
AWS access portal (aws/aws-toolkit-jetbrains#3126); the code is modelled as
``InvalidRequestException`` at StartDeviceAuthorization. Real Identity Center may instead accept
it and fail at the verification page. The lifetimes are not documented by AWS and are ours: 600 s
codes and a 1 s interval as the AWS CLI's device-code login shows them, 8 h tokens, and 90-day
client registrations (Kiro CLI's code says a registration "is valid for potentially months",
aws/amazon-q-developer-cli ``crates/chat-cli/src/auth/builder_id.rs``). The ``slow_down`` answer to
a client that polls faster than the interval is always on; kiro-onboard never triggers it (it
polls at the interval), so it guards against a regression rather than proving a fix.

The user at the verification page is played by the test control ``POST /_control/device/approve``
(``{"user_code", "user_name"}``, ``"deny": true`` to choose Deny; without ``user_code`` the
authorization started last); it answers 409 when the user
could not sign in at the portal ([PWD]). ``POST /_control/sign-in-settings``
(``{"email_otp_for_api_users": true}``) turns on the console setting of [PWD], ``{"one_time_password":
"USER"}`` plays the admin generating a one-time password for USER. ``GET /_control/device/issued``
lists every secret issued (client secrets, device codes, access and refresh tokens) so a test can
prove none of them leaked.
"""

from __future__ import annotations

import json
import secrets
import string
import threading
import time
from typing import Any

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
CODE_LIFETIME = 600
INTERVAL = 1
TOKEN_LIFETIME = 8 * 3600

_LOCK = threading.Lock()
_CLIENTS: dict[str, dict[str, Any]] = {}
# device code -> {client_id, user_code, start_url, store, region, expires, state, user, last_poll}
_DEVICES: dict[str, dict[str, Any]] = {}
_ISSUED: list[str] = []
# (account, region) -> settings of [PWD]
_SETTINGS: dict[tuple[str, str], dict[str, Any]] = {}


def reset() -> None:
    with _LOCK:
        _CLIENTS.clear()
        _DEVICES.clear()
        _ISSUED.clear()
        _SETTINGS.clear()


def handles(path: str, method: str, environ: dict[str, Any]) -> bool:
    """The three unsigned [M] operations. A signed request to these paths is another service's."""
    return (
        method == "POST"
        and path in ("/client/register", "/device_authorization", "/token")
        and not environ.get("HTTP_AUTHORIZATION", "").startswith("AWS4-HMAC-SHA256")
    )


def _error(status: int, shape: str, error: str, description: str) -> tuple[int, dict[str, str], dict[str, Any]]:
    # REST-JSON errors: the shape's name in X-Amzn-ErrorType, its members in the body [M].
    return status, {"X-Amzn-ErrorType": shape}, {"error": error, "error_description": description}


def _random(n: int) -> str:
    return secrets.token_urlsafe(n)


def _issue(prefix: str) -> str:
    value = prefix + _random(48)
    _ISSUED.append(value)
    return value


def _user_code() -> str:
    letters = string.ascii_uppercase.replace("O", "").replace("I", "")
    code = "".join(secrets.choice(letters) for _ in range(8))
    return f"{code[:4]}-{code[4:]}"  # [CLI]


def _portal_store(start_url: str) -> tuple[str, str, str] | None:
    """The (account, Region, identity store id) whose default portal URL this is. The real
    service is reached at oidc.<region>.amazonaws.com and knows its Region; pointed at this one
    endpoint an unsigned request names none, so the instance the URL belongs to gives it."""
    from moto.ssoadmin.models import ssoadmin_backends

    url = start_url.strip().removesuffix("#").removesuffix("/")
    for account_id, by_region in list(ssoadmin_backends.items()):
        for region, backend in list(by_region.items()):
            for instance in backend.instances:
                store = instance.identity_store_id
                portals = (f"https://{store}.awsapps.com/start", f"https://start.us-gov-home.awsapps.com/directory/{store}")
                if url in portals:
                    return account_id, region, store
    return None


def _client(body: dict[str, Any]) -> dict[str, Any] | None:
    client = _CLIENTS.get(str(body.get("clientId", "")))
    if client is None or not secrets.compare_digest(client["secret"], str(body.get("clientSecret", ""))):
        return None
    return client


def _missing(body: dict[str, Any], names: tuple[str, ...]) -> str | None:
    for name in names:
        if not isinstance(body.get(name), str) or not body.get(name):
            return name
    return None


def serve(path: str, body: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
    with _LOCK:
        if path == "/client/register":
            return _register(body)
        if path == "/device_authorization":
            return _start(body)
        return _token(body)


def _register(body: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
    missing = _missing(body, ("clientName", "clientType"))  # required [M]
    if missing:
        return _error(400, "InvalidRequestException", "invalid_request", f"{missing} is required")
    if body["clientType"] != "public":  # [R]
        return _error(400, "InvalidClientMetadataException", "invalid_client_metadata", "Invalid client type")
    scopes = body.get("scopes", [])
    if not isinstance(scopes, list) or not all(isinstance(s, str) and s for s in scopes):
        return _error(400, "InvalidScopeException", "invalid_scope", "Invalid scope requested")
    client_id = _random(16)
    now = int(time.time())
    _CLIENTS[client_id] = {"secret": _issue("cs-"), "scopes": scopes, "name": body["clientName"]}
    return 200, {}, {
        "clientId": client_id,
        "clientSecret": _CLIENTS[client_id]["secret"],
        "clientIdIssuedAt": now,
        "clientSecretExpiresAt": now + 90 * 86400,
    }


def _refusal(body: dict[str, Any], required: tuple[str, ...]) -> tuple[int, dict[str, str], dict[str, Any]] | None:
    """The error for a request that lacks a required member [M] or names no registered client."""
    missing = _missing(body, required)
    if missing:
        return _error(400, "InvalidRequestException", "invalid_request", f"{missing} is required")
    if _client(body) is None:
        return _error(401, "InvalidClientException", "invalid_client", "Invalid client provided")
    return None


def _start(body: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
    refused = _refusal(body, ("clientId", "clientSecret", "startUrl"))
    if refused:
        return refused
    owner = _portal_store(body["startUrl"])
    if owner is None:  # UNCONFIRMED code, see the module doc
        return _error(400, "InvalidRequestException", "invalid_request", "Invalid start URL")
    account, region, store = owner
    device_code = _issue("dc-")
    user_code = _user_code()
    _DEVICES[device_code] = {
        "client": body["clientId"],
        "user_code": user_code,
        "account": account,
        "store": store,
        "region": region,
        "expires": time.monotonic() + CODE_LIFETIME,
        "state": "pending",
        "last_poll": 0.0,
    }
    verification = f"https://device.sso.{region}.amazonaws.com/"  # [CLI]
    return 200, {}, {
        "deviceCode": device_code,
        "userCode": user_code,
        "verificationUri": verification,
        "verificationUriComplete": f"{verification}?user_code={user_code}",
        "expiresIn": CODE_LIFETIME,
        "interval": INTERVAL,
    }


def _token(body: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
    refused = _refusal(body, ("clientId", "clientSecret", "grantType"))
    if refused:
        return refused
    if body["grantType"] != DEVICE_GRANT:
        return _error(400, "UnsupportedGrantTypeException", "unsupported_grant_type", "Unsupported grant type")
    device = _DEVICES.get(str(body.get("deviceCode", "")))
    if device is None or device["client"] != body["clientId"] or device["state"] == "used":
        return _error(400, "InvalidGrantException", "invalid_grant", "Invalid grant provided")  # [RFC] §3.5
    now = time.monotonic()
    if now > device["expires"]:
        return _error(400, "ExpiredTokenException", "expired_token", "Device code has expired")
    if device["state"] == "denied":
        return _error(400, "AccessDeniedException", "access_denied", "Access denied")
    if device["state"] == "pending":
        # Polled faster than the interval: slow_down [RFC] §3.5 / [R] SlowDownException.
        too_soon = now - device["last_poll"] < INTERVAL * 0.5
        device["last_poll"] = now
        if too_soon:
            return _error(400, "SlowDownException", "slow_down", "Client is polling too fast")
        return _error(400, "AuthorizationPendingException", "authorization_pending", "Authorization is still pending")
    device["state"] = "used"
    return 200, {}, {
        "accessToken": _issue("aoa"),
        "tokenType": "Bearer",
        "expiresIn": TOKEN_LIFETIME,
        "refreshToken": _issue("aor"),
    }


# ---------------------------------------------------------------------------------------
# test controls (not AWS APIs)
# ---------------------------------------------------------------------------------------


def _find_user(account: str, region: str, store: str, user_name: str) -> Any:
    from moto.identitystore.models import identitystore_backends

    data = identitystore_backends[account][region].identity_stores.get(store)
    users = data.users.values() if data is not None else []
    return next((u for u in users if str(u.UserName).lower() == user_name.lower()), None)


def approve(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """``POST /_control/device/approve``: USER opens the verification URL, enters the code, signs in
    at the portal and chooses Allow (or Deny)."""
    user_code, user_name = body.get("user_code"), body.get("user_name")
    if not isinstance(user_name, str) or not isinstance(user_code, (str, type(None))):
        return 400, {"error": "user_name (string) is required, and user_code a string if given"}
    with _LOCK:
        # Without a code: the verification page opened last (a reader following a guide).
        pending = [d for d in _DEVICES.values() if d["state"] == "pending"]
        device = next((d for d in reversed(pending) if user_code in (None, d["user_code"])), None)
        if device is None or device["state"] != "pending" or time.monotonic() > device["expires"]:
            return 404, {"error": f"no pending device authorization has the code {user_code}"}
        user = _find_user(device["account"], device["region"], device["store"], user_name)
        if user is None:
            return 409, {"error": f"the portal knows no user {user_name}: the user cannot sign in"}
        settings = _SETTINGS.get((device["account"], device["region"]), {})
        can_sign_in = settings.get("email_otp_for_api_users") or user_name.lower() in settings.get("passwords", set())
        if not can_sign_in:  # [PWD]
            return 409, {
                "error": f"{user_name} has no password and gets no one-time password by email: "
                "the user cannot sign in at the AWS access portal"
            }
        device["state"] = "denied" if body.get("deny") else "approved"
        device["user"] = user_name
    return 200, {"state": device["state"]}


def sign_in_settings(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """``POST /_control/sign-in-settings``: the console's "Send email OTP for users created from
    API" setting, or a one-time password the admin generated for one user [PWD]."""
    from moto.core import DEFAULT_ACCOUNT_ID

    key = (str(body.get("account_id", DEFAULT_ACCOUNT_ID)), str(body.get("region", "us-east-1")))
    with _LOCK:
        settings = _SETTINGS.setdefault(key, {"passwords": set()})
        if "email_otp_for_api_users" in body:
            settings["email_otp_for_api_users"] = bool(body["email_otp_for_api_users"])
        if isinstance(body.get("one_time_password"), str):
            settings["passwords"].add(body["one_time_password"].lower())
        return 200, {
            "email_otp_for_api_users": bool(settings.get("email_otp_for_api_users")),
            "one_time_passwords": sorted(settings["passwords"]),
        }


def issued() -> list[str]:
    with _LOCK:
        return list(_ISSUED)


def as_json(payload: Any) -> str:
    return json.dumps(payload)
