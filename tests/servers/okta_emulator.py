#!/usr/bin/env python3
"""Stateful Okta emulator for the kiro-onboard integration tests.

Usage (the .venv python of scripts/setup-test-env: it needs `cryptography` and the pinned
`okta` SDK package, read as Okta's published API description)::

    .venv/bin/python tests/servers/okta_emulator.py --host 127.0.0.1 --port 0 \\
        [--no-api-access-management] [--api-token TOKEN]... [--exit-on-stdin-eof] \\
        [--search-lag-seconds S]

``--port 0`` binds a free port.  Once the socket is listening the emulator prints
exactly one line ``READY <port>`` to stdout (flushed); nothing else ever goes to
stdout.  SIGTERM / SIGINT stop it quietly with exit status 0.  The tool uses
``http://127.0.0.1:<port>`` as the Okta org URL.

It emulates the subset of the Okta Management API (``/api/v1/...``) and of the org
authorization server (``/oauth2/v1/token``) that kiro-onboard uses, written from
``reference/okta.md`` (section numbers are quoted as "ref §x.y" in comments) and the
Okta Management OpenAPI spec that reference cites.  It is not a mock: requests are
validated, state is kept, and Okta's unpleasant behaviour is reproduced (prefix ``q``,
Link paging, rate-limit headers and 429 ``E0000047``, PUT that replaces the whole app,
DELETE only on inactive apps, HTTP 200 ``UNKNOWN`` for provisioning connections it
cannot configure, DPoP required for service apps, verified signatures, eventually
consistent group ``search``, 404 for anything Okta does not publish).  A control API under ``/_control/`` (never under ``/api`` or
``/oauth2``) seeds data and injects faults.  See ``tests/servers/OKTA_EMULATOR.md``.
"""

from __future__ import annotations

import argparse
import ast
import base64
import copy
import email.utils
import hashlib
import html
import json
import math
import re
import secrets
import string
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from emulators.base.serve import serve, stop_on_signals  # tests/servers/emulators/base/serve.py

JSON = Dict[str, Any]

CONTROL_PREFIX = "/_control"
ORG_ID = "00o1kiroemulat0r0g4"  # used in `orn` values only

# ---------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------

_B62 = string.ascii_letters + string.digits


def _rand(n: int) -> str:
    return "".join(secrets.choice(_B62) for _ in range(n))


def new_id(prefix: str) -> str:
    """Okta-looking 20-character id: 3-character type prefix + 17 base62 characters."""
    return prefix + _rand(20 - len(prefix))


def sha_prefix(secret: str) -> str:
    return "sha256:" + hashlib.sha256(secret.encode("utf-8")).hexdigest()[:12]


def _err(msg: str) -> None:
    try:
        print(f"okta_emulator: {msg}", file=sys.stderr, flush=True)
    except Exception:  # pragma: no cover - stderr closed
        pass


def b64url_decode(part: str) -> bytes:
    part = part.strip()
    if not re.fullmatch(r"[A-Za-z0-9_-]*", part):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Clock:
    """The server clock.  `skew` (seconds) shifts the `Date` header and every epoch the
    server reports (X-Rate-Limit-Reset, timestamps), so a client that compares
    X-Rate-Limit-Reset with its own clock instead of `Date` waits the wrong time
    (ref §4.2: measure against the server's Date)."""

    def __init__(self) -> None:
        self.skew = 0.0

    def now(self) -> float:
        return time.time() + self.skew

    def iso(self, t: Optional[float] = None) -> str:
        t = self.now() if t is None else t
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".000Z"

    def http_date(self) -> str:
        return email.utils.formatdate(self.now(), usegmt=True)


# ---------------------------------------------------------------------------------------
# Errors (ref §4.3)
# ---------------------------------------------------------------------------------------


class ApiError(Exception):
    """An Okta Management API error: {errorCode, errorSummary, errorLink, errorId, errorCauses}."""

    def __init__(self, status: int, code: str, summary: str,
                 causes: Optional[List[str]] = None,
                 headers: Optional[List[Tuple[str, str]]] = None,
                 link: Optional[str] = None) -> None:
        super().__init__(summary)
        self.status = status
        self.code = code
        self.summary = summary
        self.causes = causes or []
        self.headers = headers or []
        self.link = link or code

    def body(self) -> JSON:
        return {
            "errorCode": self.code,
            "errorSummary": self.summary,
            "errorLink": self.link,
            "errorId": "oae" + _rand(22),
            "errorCauses": [{"errorSummary": c} for c in self.causes],
        }


def validation_error(field: str, causes: List[str]) -> ApiError:
    return ApiError(400, "E0000001", f"Api validation failed: {field}", causes)


def not_found(ident: str, kind: str) -> ApiError:
    return ApiError(404, "E0000007", f"Not found: Resource not found: {ident} ({kind})")


def access_denied(headers: Optional[List[Tuple[str, str]]] = None) -> ApiError:
    return ApiError(403, "E0000006",
                    "You do not have permission to perform the requested action",
                    headers=headers)


def invalid_token() -> ApiError:
    return ApiError(401, "E0000011", "Invalid token provided")


def malformed_body() -> ApiError:
    return ApiError(400, "E0000003", "The request body was not well-formed.")


def invalid_search(detail: str) -> ApiError:
    return ApiError(400, "E0000031", "Invalid search criteria.", [detail])


def rate_limited() -> ApiError:
    return ApiError(429, "E0000047", "API call exceeded rate limit due to too many requests.")


class OAuthError(Exception):
    """RFC 6749 error shape used by /oauth2/... endpoints (ref §4.3)."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.headers: List[Tuple[str, str]] = []


# ---------------------------------------------------------------------------------------
# Signatures: client assertions and DPoP proofs are verified, not assumed
# ---------------------------------------------------------------------------------------
# Okta verifies a `private_key_jwt` assertion against the public keys registered on the app
# (settings.oauthClient.jwks; developer.okta.com/docs/guides/implement-oauth-for-okta-serviceapp/
# "Create and sign the JWT"), and a DPoP proof against the JWK in its own header (RFC 9449 §4.3,
# developer.okta.com/docs/guides/dpop/).  `cryptography` comes into .venv with moto.

from cryptography.exceptions import InvalidSignature  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature  # noqa: E402

_HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
_CURVES = {"P-256": (ec.SECP256R1, 32), "P-384": (ec.SECP384R1, 48), "P-521": (ec.SECP521R1, 66)}


def _int_b64(n: int, size: Optional[int] = None) -> str:
    size = size or max(1, (n.bit_length() + 7) // 8)
    return b64url_encode(n.to_bytes(size, "big"))


def jwk_from_public_pem(pem: str, kid: Optional[str]) -> JSON:
    """The public JWK of a PEM public (or private) key, as the admin console registers it."""
    data = pem.encode("utf-8")
    try:
        key: Any = serialization.load_pem_public_key(data)
    except ValueError:
        key = serialization.load_pem_private_key(data, password=None).public_key()
    if isinstance(key, rsa.RSAPublicKey):
        nums = key.public_numbers()
        jwk: JSON = {"kty": "RSA", "e": _int_b64(nums.e), "n": _int_b64(nums.n)}
    elif isinstance(key, ec.EllipticCurvePublicKey):
        crv = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}[key.curve.name]
        size = _CURVES[crv][1]
        nums = key.public_numbers()
        jwk = {"kty": "EC", "crv": crv, "x": _int_b64(nums.x, size), "y": _int_b64(nums.y, size)}
    else:
        raise ValueError("only RSA and EC keys can be registered")
    if kid:
        jwk["kid"] = kid
    jwk["use"] = "sig"
    return jwk


def _public_key(jwk: JSON) -> Any:
    def num(name: str) -> int:
        return int.from_bytes(b64url_decode(str(jwk.get(name) or "")), "big")
    if jwk.get("kty") == "RSA":
        return rsa.RSAPublicNumbers(num("e"), num("n")).public_key()
    if jwk.get("kty") == "EC" and jwk.get("crv") in _CURVES:
        return ec.EllipticCurvePublicNumbers(num("x"), num("y"),
                                             _CURVES[jwk["crv"]][0]()).public_key()
    raise ValueError("unsupported JWK")


def split_jws(token: str) -> Tuple[JSON, JSON, bytes, bytes]:
    """(header, claims, signing input, signature) of a compact JWS; ValueError if malformed."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[2]:
        raise ValueError("not a signed JWT")
    header = json.loads(b64url_decode(parts[0]))
    claims = json.loads(b64url_decode(parts[1]))
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ValueError("not a JWT")
    return header, claims, (parts[0] + "." + parts[1]).encode("ascii"), b64url_decode(parts[2])


def verify_signature(alg: Any, jwk: JSON, signing_input: bytes, signature: bytes) -> bool:
    """RS256/384/512 and ES256/384/512 (the algorithms Okta lists for both uses)."""
    if not isinstance(alg, str) or alg[:2] not in ("RS", "ES") or alg[2:] not in _HASHES:
        return False
    try:
        key = _public_key(jwk)
        digest = _HASHES[alg[2:]]()
        if alg.startswith("RS") and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signing_input, padding.PKCS1v15(), digest)
            return True
        if alg.startswith("ES") and isinstance(key, ec.EllipticCurvePublicKey):
            size = (key.curve.key_size + 7) // 8
            if len(signature) != 2 * size:  # JWS uses r ‖ s, not DER (RFC 7518 §3.4)
                return False
            r = int.from_bytes(signature[:size], "big")
            s_ = int.from_bytes(signature[size:], "big")
            key.verify(encode_dss_signature(r, s_), signing_input, ec.ECDSA(digest))
            return True
    except (InvalidSignature, ValueError, TypeError):
        return False
    return False


def jwk_thumbprint(jwk: JSON) -> str:
    """RFC 7638 thumbprint (the `cnf.jkt` a DPoP-bound token carries, RFC 9449 §6)."""
    if jwk.get("kty") == "EC":
        members = {k: jwk.get(k) for k in ("crv", "kty", "x", "y")}
    else:
        members = {k: jwk.get(k) for k in ("e", "kty", "n")}
    canon = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return b64url_encode(hashlib.sha256(canon.encode("utf-8")).digest())


def htu_of(url: str) -> str:
    """RFC 9449 §4.3 check 9: the URI without query and fragment."""
    return url.split("#", 1)[0].split("?", 1)[0]


# ---------------------------------------------------------------------------------------
# Only what Okta publishes exists
# ---------------------------------------------------------------------------------------
# Okta's API description is the pinned `okta` SDK package (scripts/setup-test-env REQUIREMENTS),
# generated from Okta's OpenAPI spec: every `okta/api/*.py` operation names its `method=` and
# `resource_path=`, and every `okta/models/*.py` its `__properties`.  A request to any other
# method + path under /api/ is answered 404 as Okta answers an unknown route; a JSON body with a
# key that is not a property of the operation's published model (or of a model derived from it,
# as OpenIdConnectApplication from Application) is refused with Okta's 400 error shape.  The
# package is read as text, never imported.  Exceptions: OKTA_EMULATOR.md, "Published API".

PUBLISHED_API_FORMAT = 2  # bump when load_published_api reads the package differently
_CLASS_RE = re.compile(r"^class (\w+)\(([\w, ]+)\):", re.M)
_PROPS_RE = re.compile(r"__properties: ClassVar\[List\[str\]\] = \[(.*?)\]", re.S)


def _okta_package_dir() -> Optional[str]:
    import importlib.util
    import os
    spec = importlib.util.find_spec("okta")
    if spec is None or not spec.submodule_search_locations:
        return None
    d = list(spec.submodule_search_locations)[0]
    return d if os.path.isdir(os.path.join(d, "api")) else None


def load_published_api(pkg: str) -> JSON:
    """{"ops": [[method, path template, body model or None]], "models": {name: [props]},
    "children": {name: [subclasses]}}, cached next to the package (it never changes)."""
    import glob
    import os
    cache = os.path.join(pkg, ".kiro-published-api.json")
    try:
        with open(cache, encoding="utf-8") as f:
            cached = json.load(f)
        if cached.get("format") == PUBLISHED_API_FORMAT:
            return cached
    except (OSError, ValueError, AttributeError):
        pass
    models: Dict[str, List[str]] = {}
    children: Dict[str, List[str]] = {}
    for path in glob.glob(os.path.join(pkg, "models", "*.py")):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for name, bases in _CLASS_RE.findall(text):
            m = _PROPS_RE.search(text)
            if m:
                models[name] = re.findall(r'"([^"]+)"', m.group(1))
            for base in (b.strip() for b in bases.split(",")):
                children.setdefault(base, []).append(name)
    ops: List[Any] = []
    for path in glob.glob(os.path.join(pkg, "api", "*.py")):
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        functions = {n.name: n for n in ast.walk(tree)
                     if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        for name, fn in functions.items():
            if not name.startswith("_") or not name.endswith("_serialize"):
                continue
            call = next((c for c in ast.walk(fn) if isinstance(c, ast.Call)
                         and {"method", "resource_path"} <= {k.arg for k in c.keywords}), None)
            if call is None:
                continue
            kw = {k.arg: k.value for k in call.keywords}
            if not all(isinstance(kw[k], ast.Constant) for k in ("method", "resource_path")):
                continue
            body_param = next((a.value.id for a in ast.walk(fn) if isinstance(a, ast.Assign)
                               and any(isinstance(t, ast.Name) and t.id == "_body_params"
                                       for t in a.targets)
                               and isinstance(a.value, ast.Name)), None)
            body_model = None
            public = functions.get(name[1:-len("_serialize")])
            if body_param and public is not None:
                for arg in public.args.args:
                    ann = arg.annotation
                    if isinstance(ann, ast.Subscript) and isinstance(ann.value, ast.Name) \
                            and ann.value.id == "Optional":
                        ann = ann.slice
                    if arg.arg == body_param and isinstance(ann, ast.Name) and ann.id in models:
                        body_model = ann.id
            ops.append([kw["method"].value, kw["resource_path"].value, body_model])
    out = {"format": PUBLISHED_API_FORMAT, "ops": ops, "models": models, "children": children}
    try:
        with open(cache + ".tmp", "w", encoding="utf-8") as f:
            json.dump(out, f)
        os.replace(cache + ".tmp", cache)
    except OSError:
        pass
    return out


class PublishedApi:
    def __init__(self, described: JSON) -> None:
        self.ops = [(m, re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(t)) + "$"), t, b)
                    for m, t, b in described["ops"]]
        self.models = described["models"]
        self.children = described["children"]

    def properties(self, model: str) -> set:
        seen, todo, props = set(), [model], set()
        while todo:
            m = todo.pop()
            if m in seen:
                continue
            seen.add(m)
            props |= set(self.models.get(m, []))
            todo.extend(self.children.get(m, []))
        return props

    def find(self, method: str, path: str) -> Optional[Tuple[str, Optional[str]]]:
        """(path template, body model) of the published operation, or None."""
        for m, rx, template, body in self.ops:
            if m == method and rx.match(path):
                return template, body
        return None


# ---------------------------------------------------------------------------------------
# Filter / search expressions (apps `filter`, groups/users `search`)
# ---------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(r'\s*(?:(\()|(\))|("(?:[^"\\]|\\.)*")|([^\s()"]+))')


def _tokenize(expr: str) -> List[Tuple[str, str]]:
    out: List[Tuple[str, str]] = []
    pos = 0
    expr = expr.strip()
    while pos < len(expr):
        m = _TOKEN_RE.match(expr, pos)
        if not m or m.end() == pos:
            raise ValueError(f"unexpected character at {pos}")
        pos = m.end()
        if m.group(1):
            out.append(("(", "("))
        elif m.group(2):
            out.append((")", ")"))
        elif m.group(3) is not None:
            out.append(("str", json.loads(m.group(3))))
        else:
            out.append(("word", m.group(4)))
        while pos < len(expr) and expr[pos].isspace():
            pos += 1
    return out


def parse_expression(expr: str, fields: Dict[str, set]) -> Callable[[Callable[[str], Any]], bool]:
    """Parse `a eq "x" and (b sw "y" or c co "z")`.  `fields` maps each allowed attribute
    to its allowed operators.  Returns a predicate taking a getter(attribute) -> value.
    String comparisons are case-insensitive (choice, see OKTA_EMULATOR.md)."""
    toks = _tokenize(expr)
    pos = [0]

    def peek() -> Optional[Tuple[str, str]]:
        return toks[pos[0]] if pos[0] < len(toks) else None

    def take() -> Tuple[str, str]:
        t = peek()
        if t is None:
            raise ValueError("unexpected end of expression")
        pos[0] += 1
        return t

    def primary():
        t = take()
        if t[0] == "(":
            e = disj()
            if take()[0] != ")":
                raise ValueError("missing )")
            return e
        if t[0] != "word":
            raise ValueError("expected an attribute name")
        attr = t[1]
        op = take()
        if op[0] != "word":
            raise ValueError("expected an operator")
        opname = op[1].lower()
        if attr not in fields:
            raise ValueError(f"{attr} is not a supported attribute")
        if opname not in fields[attr]:
            raise ValueError(f"operator {opname} is not supported for {attr}")
        if opname == "pr":
            return lambda get: get(attr) not in (None, "")
        val = take()
        if val[0] == "str":
            value: Any = val[1]
        elif val[0] == "word" and val[1].lower() in ("true", "false"):
            value = val[1].lower() == "true"
        elif val[0] == "word" and re.fullmatch(r"-?\d+", val[1]):
            value = int(val[1])
        else:
            raise ValueError("expected a quoted value")

        def pred(get, attr=attr, opname=opname, value=value):
            actual = get(attr)
            if isinstance(value, bool) or isinstance(value, int):
                return actual == value if opname == "eq" else actual != value
            a = "" if actual is None else str(actual).lower()
            v = str(value).lower()
            if opname == "eq":
                return actual is not None and a == v
            if opname == "ne":
                return a != v
            if opname == "sw":
                return actual is not None and a.startswith(v)
            if opname == "co":
                return actual is not None and v in a
            if opname in ("gt", "ge", "lt", "le"):
                if actual is None:
                    return False
                return {"gt": a > v, "ge": a >= v, "lt": a < v, "le": a <= v}[opname]
            return False

        return pred

    def conj():
        left = primary()
        while True:
            t = peek()
            if t and t[0] == "word" and t[1].lower() == "and":
                take()
                right = primary()
                left = (lambda l, r: (lambda get: l(get) and r(get)))(left, right)
            else:
                return left

    def disj():
        left = conj()
        while True:
            t = peek()
            if t and t[0] == "word" and t[1].lower() == "or":
                take()
                right = conj()
                left = (lambda l, r: (lambda get: l(get) or r(get)))(left, right)
            else:
                return left

    if not toks:
        raise ValueError("empty expression")
    e = disj()
    if peek() is not None:
        raise ValueError("trailing tokens")
    return e


def dotted(obj: Any, path: str) -> Any:
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


# ---------------------------------------------------------------------------------------
# Permissions (ref §3.1, §3.2).  Every endpoint names the Okta scopes it needs.
# SSWS tokens act with their admin's roles; OAuth tokens need the scope AND a role.
# ---------------------------------------------------------------------------------------

KNOWN_OKTA_SCOPES = {
    f"okta.{res}.{lvl}"
    for res in ("apps", "groups", "users", "authorizationServers", "appGrants", "roles",
                "policies", "clients", "logs", "orgs", "schemas", "userTypes")
    for lvl in ("read", "manage")
} - {"okta.logs.manage"}

_ALL_READ = {s for s in KNOWN_OKTA_SCOPES if s.endswith(".read")}
ROLE_PERMISSIONS: Dict[str, set] = {
    "SUPER_ADMIN": set(KNOWN_OKTA_SCOPES),
    "ORG_ADMIN": {"okta.apps.read", "okta.apps.manage", "okta.groups.read",
                  "okta.groups.manage", "okta.users.read", "okta.users.manage"},
    "APP_ADMIN": {"okta.apps.read", "okta.apps.manage", "okta.groups.read", "okta.users.read"},
    "API_ACCESS_MANAGEMENT_ADMIN": {"okta.authorizationServers.read",
                                    "okta.authorizationServers.manage", "okta.apps.read"},
    "READ_ONLY_ADMIN": set(_ALL_READ),
}


def scope_covers(held: set, needed: str) -> bool:
    """`.manage` includes `.read` (choice, see OKTA_EMULATOR.md)."""
    if needed in held:
        return True
    if needed.endswith(".read") and needed[: -len(".read")] + ".manage" in held:
        return True
    return False


# ---------------------------------------------------------------------------------------
# Rate limiting (ref §4.2)
# ---------------------------------------------------------------------------------------

DEFAULT_RATE_LIMIT = 600
DEFAULT_RATE_WINDOW = 60.0
# How far a DPoP proof's iat may be from now (RFC 9449 §11.1 leaves it to the server; Okta
# does not publish its window, so a few minutes either way).
DPOP_IAT_WINDOW = 300
# How long a DPoP-Nonce stays valid (Okta rotates nonces; the previous one is still accepted).
DPOP_NONCE_SECONDS = 600.0
# A new group's delay before `search` finds it (seconds; --search-lag-seconds, config
# search_lag_seconds).  Okta publishes no figure; seconds are what admins report.
DEFAULT_SEARCH_LAG = 5.0
CONCURRENCY_LIMIT = 75


class Bucket:
    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self.start: Optional[float] = None
        self.used = 0

    def _roll(self, mono: float) -> None:
        if self.start is None or mono >= self.start + self.window:
            self.start = mono
            self.used = 0

    def consume(self, clock: Clock) -> Tuple[bool, int, int]:
        mono = time.monotonic()
        self._roll(mono)
        ok = self.used < self.limit
        if ok:
            self.used += 1
        return ok, self.limit - self.used, self.reset_epoch(clock, mono)

    def peek(self, clock: Clock) -> Tuple[int, int]:
        mono = time.monotonic()
        self._roll(mono)
        return self.limit - self.used, self.reset_epoch(clock, mono)

    def reset_epoch(self, clock: Clock, mono: float) -> int:
        assert self.start is not None
        return int(math.ceil(clock.now() + (self.start + self.window - mono)))


def bucket_name(path: str) -> str:
    if path == "/oauth2/v1/token":
        return "oauth2_token"
    if path.startswith("/oauth2/"):
        return "oauth2"
    m = re.match(r"^/api/v1/([A-Za-z]+)", path)
    if m and m.group(1) in ("apps", "groups", "users", "authorizationServers"):
        return m.group(1)
    return "other"


# ---------------------------------------------------------------------------------------
# Apps: validation and shapes (ref §2.1, §5.1)
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
REQUIRED_GRANT = {  # terraform-provider-okta's per-type validation (ref §2.1, §5.1)
    "native": ("authorization_code",),
    "web": ("authorization_code",),
    "browser": ("authorization_code", "implicit"),
    "service": ("client_credentials",),
}
OIN_SAML_APPS = {"amazon_aws_sso": "AWS IAM Identity Center"}  # ref §1.5, §2.7
# Apps whose provisioning connection the public API can configure (ref §2.7).  The
# emulator cannot create them, so every app it holds answers UNKNOWN.
CONNECTION_CAPABLE_APPS = {"okta_org2org", "zscalerbyz"}


def _is_str_list(v: Any) -> bool:
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
    ref §2.1)."""
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
    if not _is_str_list(grants) or not grants:
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
    if not _is_str_list(rtypes):
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
    if not _is_str_list(redirects):
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
        if not _is_str_list(logout):
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
        # [spec] L63021-63024 via ref §1.4: must be true when the auth method is none.
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
        client_id = app_id  # ref §2.1: equal to the app id when not given

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
        co_out["client_secret"] = co.get("client_secret") or old_secret or _rand(64)
    return so_out, co_out


# ---------------------------------------------------------------------------------------
# State
# ---------------------------------------------------------------------------------------


class State:
    def __init__(self, clock: Clock, api_am: bool, cli_tokens: List[str],
                 search_lag: float = 0.0) -> None:
        self.clock = clock
        self.cli_api_am = api_am
        self.cli_tokens = cli_tokens
        self.cli_search_lag = search_lag
        self.reset()

    # -- lifecycle ----------------------------------------------------------------------

    def reset(self) -> None:
        self.seq = 0
        self.apps: Dict[str, JSON] = {}
        self.groups: Dict[str, JSON] = {}
        self.users: Dict[str, JSON] = {}
        self.logins: Dict[str, str] = {}  # lower-case login -> user id
        self.memberships: Dict[str, Dict[str, int]] = {}  # group id -> {user id: seq}
        self.auth_servers: Dict[str, JSON] = {}
        self.api_tokens: Dict[str, JSON] = {}  # token -> {name, roles}
        self.service_apps: Dict[str, JSON] = {}  # client_id -> {app_id, scopes, roles, dpop}
        self.access_tokens: Dict[str, JSON] = {}  # token -> {client_id, scopes, exp}
        self.used_jti: Dict[str, float] = {}
        self.used_dpop_jti: Dict[str, float] = {}
        self.unpublished: List[str] = []  # requests refused by the published-API check
        self._nonces: List[Tuple[float, str]] = []  # (minted at, nonce), newest last
        self.push_mappings: Dict[str, Dict[str, JSON]] = {}  # app id -> {mapping id: m}
        self.log: List[JSON] = []
        self.log_seq = 0
        self.faults: List[JSON] = []
        self.buckets: Dict[str, Bucket] = {}
        self.config: JSON = {
            "page_size": None,
            "rate_limit": {"limit": DEFAULT_RATE_LIMIT, "window_seconds": DEFAULT_RATE_WINDOW,
                           "shared": False},
            "clock_skew_seconds": 0,
            "api_access_management": self.cli_api_am,
            "api_access_management_status": 401,
            "search_lag_seconds": self.cli_search_lag,
            "published_api_only": True,
            "next_link_base": None,
            "concurrency_limit": CONCURRENCY_LIMIT,
            "api_dpop_nonce": False,
            "service_app_share": 0.5,
            # The org's custom URL domain (https://login.example.com), as Customizations → Domain
            # sets it up; None: the org has none.
            "custom_domain": None,
        }
        self.clock.skew = 0.0
        for t in self.cli_tokens:
            self.api_tokens[t] = {"name": "cli", "roles": ["SUPER_ADMIN"]}
        # Built-in Everyone group (every user is a member).
        self.everyone_id = new_id("00g")
        now = self.clock.iso()
        self.groups[self.everyone_id] = {
            "id": self.everyone_id, "created": now, "lastUpdated": now,
            "lastMembershipUpdated": now, "objectClass": ["okta:user_group"],
            "type": "BUILT_IN",
            "profile": {"name": "Everyone", "description": "All users in your organization"},
            "_seq": self.next_seq(),
        }
        self.memberships[self.everyone_id] = {}
        # The pre-configured `default` custom authorization server with its basic
        # access policy and rule ([spec] AuthorizationServer tag, ref §2.5).
        self.create_auth_server({"name": "default",
                                 "description": "Default Authorization Server for your Applications",
                                 "audiences": ["api://default"]}, fixed_id="default")
        pol = self.create_policy("default", {
            "type": "OAUTH_AUTHORIZATION_POLICY", "status": "ACTIVE", "name": "Default Policy",
            "description": "Default policy description", "priority": 1,
            "conditions": {"clients": {"include": ["ALL_CLIENTS"]}}})
        self.create_rule("default", pol["id"], {
            "type": "RESOURCE_ACCESS", "name": "Default Policy Rule", "priority": 1,
            "conditions": {"people": {"groups": {"include": ["EVERYONE"]}},
                           "grantTypes": {"include": ["implicit", "client_credentials",
                                                      "authorization_code", "password"]},
                           "scopes": {"include": ["*"]}},
            "actions": {"token": {"accessTokenLifetimeMinutes": 60,
                                  "refreshTokenLifetimeMinutes": 0,
                                  "refreshTokenWindowMinutes": 10080}}})

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def dpop_nonce(self) -> str:
        """The current DPoP-Nonce, rotated every DPOP_NONCE_SECONDS."""
        now = time.monotonic()
        if not self._nonces or now - self._nonces[-1][0] > DPOP_NONCE_SECONDS:
            self._nonces = (self._nonces + [(now, _rand(32))])[-2:]
        return self._nonces[-1][1]

    def dpop_nonces(self) -> List[str]:
        self.dpop_nonce()
        return [n for _, n in self._nonces]

    # -- rate limits ----------------------------------------------------------------------

    def bucket(self, name: str, client_id: Optional[str] = None) -> Bucket:
        """The endpoint family's bucket, or for a service app its share of it: "Application rate
        limits" cap an OAuth app at a percentage of the org's limit, 50 % by default for new apps
        (ref §3.2, §4.2; developer.okta.com/docs/guides/implement-oauth-for-okta-serviceapp/)."""
        rl = self.config["rate_limit"]
        key = "org" if rl.get("shared") else name
        limit = int(rl["limit"])
        if client_id is not None:
            key = f"{key}:{client_id}"
            limit = max(1, int(limit * float(self.config.get("service_app_share", 0.5))))
        b = self.buckets.get(key)
        if b is None or b.limit != limit or b.window != rl["window_seconds"]:
            b = Bucket(limit, float(rl["window_seconds"]))
            self.buckets[key] = b
        return b

    # -- users & groups -----------------------------------------------------------------

    def add_user(self, spec: JSON) -> JSON:
        login = spec.get("login") or spec.get("email")
        if not isinstance(login, str) or not login:
            raise ValueError("user needs a login")
        if self.find_user(login):
            raise ValueError(f"user {login!r} already exists")
        uid = spec.get("id") or new_id("00u")
        now = self.clock.iso()
        user = {
            "id": uid, "status": spec.get("status", "ACTIVE"), "created": now,
            "activated": now, "statusChanged": now, "lastLogin": None, "lastUpdated": now,
            "passwordChanged": now, "type": {"id": "oty1kiroemulat0r0g4"},
            "profile": {"firstName": spec.get("firstName", login.split("@")[0]),
                        "lastName": spec.get("lastName", "User"), "mobilePhone": None,
                        "secondEmail": None, "login": login,
                        "email": spec.get("email", login)},
            "credentials": {"password": {}, "provider": {"type": "OKTA", "name": "OKTA"}},
            "_seq": self.next_seq(),
        }
        self.users[uid] = user
        self.logins[login.lower()] = uid
        self.memberships[self.everyone_id][uid] = self.next_seq()
        return user

    def find_user(self, key: str) -> Optional[JSON]:
        if key in self.users:
            return self.users[key]
        uid = self.logins.get(key.lower())
        return self.users.get(uid) if uid else None

    def add_group(self, spec: JSON) -> JSON:
        name = spec.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError("group needs a name")
        gid = spec.get("id") or new_id("00g")
        now = self.clock.iso()
        g = {"id": gid, "created": now, "lastUpdated": now, "lastMembershipUpdated": now,
             "objectClass": ["okta:user_group"], "type": spec.get("type", "OKTA_GROUP"),
             "profile": {"name": name, "description": spec.get("description")},
             "_seq": self.next_seq(),
             # `search` reads an eventually consistent copy: a new group shows up there only
             # after a while (okta SDK group_api.list_groups: "The `search` parameter results
             # are sourced from an eventually consistent datasource").
             "_searchable_at": time.monotonic() + float(self.config.get("search_lag_seconds") or 0)}
        if spec.get("source_app"):
            g["_source"] = spec["source_app"]
            g["objectClass"] = ["okta:app_group"]
        self.groups[gid] = g
        self.memberships[gid] = {}
        for m in spec.get("members", []) or []:
            u = self.find_user(m)
            if not u:
                raise ValueError(f"group {name!r}: unknown member {m!r}")
            self.memberships[gid][u["id"]] = self.next_seq()
        return g

    def find_group(self, key: str) -> Optional[JSON]:
        if key in self.groups:
            return self.groups[key]
        for g in self.groups.values():
            if g["profile"]["name"] == key:
                return g
        return None

    def group_members(self, gid: str) -> Dict[str, int]:
        if gid == self.everyone_id:
            return {uid: u["_seq"] for uid, u in self.users.items()}
        return self.memberships.get(gid, {})

    # -- apps -----------------------------------------------------------------------------

    def find_app(self, app_id: str) -> JSON:
        app = self.apps.get(app_id)
        if app is None:
            raise not_found(app_id, "AppInstance")
        return app

    def app_by_client_id(self, client_id: str) -> Optional[JSON]:
        for a in self.apps.values():
            oc = a.get("credentials", {}).get("oauthClient")
            if oc and oc.get("client_id") == client_id:
                return a
        return None

    def create_app(self, body: Any, activate: bool, service_jwks_ok: bool = False) -> JSON:
        if not isinstance(body, dict):
            raise malformed_body()
        causes = []
        label = body.get("label")
        if not isinstance(label, str) or not label.strip():
            causes.append("label: The field cannot be left blank")
        mode = body.get("signOnMode")
        if mode not in ("OPENID_CONNECT", "SAML_2_0"):
            causes.append(
                "signOnMode: this emulator supports OPENID_CONNECT and SAML_2_0 apps only"
                if mode else "signOnMode: The field cannot be left blank")
        name = body.get("name")
        if mode == "OPENID_CONNECT" and name != "oidc_client":
            causes.append("name: OPENID_CONNECT apps must have name 'oidc_client'")
        if mode == "SAML_2_0" and name is not None and name not in OIN_SAML_APPS:
            causes.append(f"name: '{name}' is not a known app name (custom SAML apps omit name)")
        if causes:
            if mode == "OPENID_CONNECT":
                try:  # report the settings problems in the same answer
                    normalize_oidc(body, None, "0oa")
                except ApiError as e:
                    causes += e.causes
            field = causes[0].split(":")[0]
            raise validation_error(field, causes)
        app_id = new_id("0oa")
        now = self.clock.iso()
        app: JSON = {
            "id": app_id, "orn": "", "name": name, "label": label,
            "status": "ACTIVE" if activate else "INACTIVE",
            "lastUpdated": now, "created": now,
            "accessibility": {"selfService": False, "errorRedirectUrl": None,
                              "loginRedirectUrl": None},
            "visibility": {"autoLaunch": False, "autoSubmitToolbar": False,
                           "hide": {"iOS": False, "web": False}, "appLinks": {}},
            "features": [],  # read-only; `features` in the body is ignored (ref §2.7, #5130)
            "signOnMode": mode,
            "_seq": self.next_seq(),
            "_groups": {},   # group id -> assignment
            "_users": {},    # user id -> direct assignment
            "_provisioning": None,
        }
        self._apply_app_body(app, body, existing=None, service_jwks_ok=service_jwks_ok)
        self.apps[app_id] = app
        self.push_mappings[app_id] = {}
        return app

    def _apply_app_body(self, app: JSON, body: JSON, existing: Optional[JSON],
                        service_jwks_ok: bool = False) -> None:
        mode = app["signOnMode"]
        settings_in = body.get("settings") if isinstance(body.get("settings"), dict) else {}
        if mode == "OPENID_CONNECT":
            so, co = normalize_oidc(body, existing, app["id"], jwks_ok=service_jwks_ok)
            if app["name"] is None:
                app["name"] = "oidc_client"
            app["credentials"] = {
                "userNameTemplate": {"template": "${source.login}", "type": "BUILT_IN"},
                "signing": {"kid": (existing or {}).get("credentials", {}).get(
                    "signing", {}).get("kid") or _rand(43)},
                "oauthClient": co,
            }
            app_settings = {"app": {}, "oauthClient": so}
            app["visibility"]["appLinks"] = {"oidc_client_link": True}
        else:
            if app["name"] is None:
                slug = re.sub(r"[^a-z0-9]+", "", app["label"].lower())[:20] or "app"
                app["name"] = f"kiroemulator_{slug}_1"
            sign_on = settings_in.get("signOn")
            is_custom = app["name"] not in OIN_SAML_APPS
            if is_custom:
                causes = []
                if not isinstance(sign_on, dict):
                    causes.append("settings.signOn: is required for custom SAML apps")
                else:
                    for f in ("ssoAcsUrl", "audience"):
                        if not isinstance(sign_on.get(f), str) or not sign_on.get(f):
                            causes.append(f"settings.signOn.{f}: The field cannot be left blank")
                if causes:
                    raise validation_error(causes[0].split(":")[0], causes)
            app_in = settings_in.get("app", {})
            if not isinstance(app_in, dict):
                raise validation_error("settings.app", ["settings.app: must be an object"])
            app["credentials"] = {
                "userNameTemplate": {"template": "${source.login}", "type": "BUILT_IN"},
                "signing": {"kid": (existing or {}).get("credentials", {}).get(
                    "signing", {}).get("kid") or _rand(43)},
            }
            app_settings = {"app": dict(app_in)}
            if sign_on is not None:
                app_settings["signOn"] = sign_on
            app["visibility"]["appLinks"] = {f"{app['name']}_link": True}
        app_settings.update({
            "notifications": {"vpn": {"network": {"connection": "DISABLED"}, "message": None,
                                      "helpUrl": None}},
            "manualProvisioning": False, "implicitAssignment": False,
            "notes": {"admin": None, "enduser": None}, "emOptInStatus": "DISABLED",
        })
        notes = settings_in.get("notes")
        if isinstance(notes, dict):
            app_settings["notes"] = {"admin": notes.get("admin"), "enduser": notes.get("enduser")}
        app["settings"] = app_settings
        if isinstance(body.get("profile"), dict):
            app["profile"] = body["profile"]
        else:
            app.pop("profile", None)
        for key in ("accessibility", "visibility"):
            if isinstance(body.get(key), dict):
                merged = dict(app[key])
                merged.update(body[key])
                app[key] = merged
        app["orn"] = f"orn:okta:idp:{ORG_ID}:apps:{app['name']}:{app['id']}"

    def replace_app(self, app: JSON, body: Any) -> JSON:
        if not isinstance(body, dict):
            raise malformed_body()
        causes = []
        if not isinstance(body.get("label"), str) or not body["label"].strip():
            causes.append("label: The field cannot be left blank")
        if body.get("signOnMode") is None:
            causes.append("signOnMode: The field cannot be left blank")
        elif body.get("signOnMode") != app["signOnMode"]:
            causes.append("signOnMode: cannot be changed")
        if body.get("name") is None:
            causes.append("name: The field cannot be left blank")
        elif body.get("name") != app["name"]:
            causes.append("name: cannot be changed")
        if causes:
            raise validation_error(causes[0].split(":")[0], causes)
        existing = copy.deepcopy(app)
        new = copy.deepcopy(app)
        new["label"] = body["label"]
        new["visibility"] = copy.deepcopy(existing["visibility"])
        self._apply_app_body(new, body, existing=existing,
                             service_jwks_ok=app["id"] in {s["app_id"] for s in self.service_apps.values()})
        new["lastUpdated"] = self.clock.iso()
        if new["signOnMode"] == "SAML_2_0" and new["name"] not in OIN_SAML_APPS:
            # ref §2.7 / terraform #655: a PUT resets "Provisioning: SCIM" on a custom SAML
            # app; the console-configured provisioning is lost.
            new["_provisioning"] = None
        app.clear()
        app.update(new)
        return app

    def app_features(self, app: JSON) -> List[str]:
        p = app.get("_provisioning")
        if not p:
            return []
        out = []
        if p["create_users"]:
            out.append("PUSH_NEW_USERS")
        if p["update_user_attributes"]:
            out.append("PUSH_PROFILE_UPDATES")
        if p["deactivate_users"]:
            out += ["PUSH_USER_DEACTIVATION", "REACTIVATE_USERS"]
        if p["push_groups"]:
            out.append("GROUP_PUSH")
        return out

    def app_users(self, app: JSON) -> List[JSON]:
        """Effective assignments: direct ones (scope USER) plus members of assigned groups
        (scope GROUP).  A user with both is reported as USER (ref §2.4)."""
        out: Dict[str, JSON] = {}
        for gid, ga in app["_groups"].items():
            for uid, mseq in self.group_members(gid).items():
                if uid not in self.users:
                    continue
                seq = max(ga["_seq"], mseq)
                cur = out.get(uid)
                if cur is None or seq < cur["seq"]:
                    out[uid] = {"uid": uid, "scope": "GROUP", "seq": seq, "created": ga["created"],
                                "group": gid}
        for uid, du in app["_users"].items():
            if uid not in self.users:
                continue
            prev = out.get(uid)
            out[uid] = {"uid": uid, "scope": "USER", "seq": min(du["_seq"], prev["seq"]) if prev else du["_seq"],
                        "created": du["created"], "direct": du}
        return sorted(out.values(), key=lambda x: (x["seq"], x["uid"]))

    # -- authorization servers (ref §2.5) -----------------------------------------------

    SYSTEM_SCOPES = (("openid", "Signals that a request is an OpenID request."),
                     ("profile", "Allows access to the end-user's default profile claims."),
                     ("email", "Allows access to the email and email_verified claims."),
                     ("address", "Allows access to the address claim."),
                     ("phone", "Allows access to the phone_number and phone_number_verified claims."),
                     ("offline_access", "Allows a refresh token to be returned."),
                     ("device_sso", "Requests a device secret for native SSO."))

    def find_as(self, as_id: str) -> JSON:
        s = self.auth_servers.get(as_id)
        if s is None:
            raise not_found(as_id, "AuthorizationServer")
        return s

    def create_auth_server(self, body: Any, fixed_id: Optional[str] = None) -> JSON:
        if not isinstance(body, dict):
            raise malformed_body()
        causes = []
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            causes.append("name: The field cannot be left blank")
        elif any(s["name"].lower() == name.lower() for s in self.auth_servers.values()):
            causes.append("name: An authorization server with this name already exists")
        aud = body.get("audiences")
        if not _is_str_list(aud) or not aud:
            causes.append("audiences: The field cannot be left blank")
        elif len(aud) != 1:
            causes.append("audiences: Okta currently supports only one audience")
        mode = body.get("issuerMode", "ORG_URL")
        check_issuer_mode(mode, self.config, causes)
        if causes:
            raise validation_error(causes[0].split(":")[0], causes)
        sid = fixed_id or new_id("aus")
        now = self.clock.iso()
        s = {"id": sid, "name": name, "description": body.get("description"),
             "audiences": aud, "issuerMode": mode, "status": "ACTIVE", "created": now,
             "lastUpdated": now,
             "credentials": {"signing": {"rotationMode": "AUTO", "lastRotated": now,
                                         "nextRotation": self.clock.iso(self.clock.now() + 90 * 86400),
                                         "kid": _rand(43)}},
             "_seq": self.next_seq(), "_scopes": {}, "_policies": {}}
        for sname, desc in self.SYSTEM_SCOPES:
            scid = new_id("scp")
            s["_scopes"][scid] = {"id": scid, "name": sname, "displayName": sname,
                                  "description": desc, "system": True, "default": False,
                                  "metadataPublish": "ALL_CLIENTS", "consent": "IMPLICIT",
                                  "optional": False, "_seq": self.next_seq()}
        self.auth_servers[sid] = s
        return s

    def validate_scope(self, srv: JSON, body: Any, existing: Optional[JSON]) -> JSON:
        if not isinstance(body, dict):
            raise malformed_body()
        causes = []
        name = body.get("name")
        if not isinstance(name, str) or not name:
            causes.append("name: The field cannot be left blank")
        else:
            if re.search(r"\s", name) or not re.fullmatch(r"[\x21-\x7e]+", name):
                causes.append("name: must be printable ASCII without whitespace")
            if name.lower().startswith("okta."):
                causes.append("name: the 'okta.' prefix is reserved")
            for s in srv["_scopes"].values():
                if s["name"] == name and (existing is None or s["id"] != existing["id"]):
                    causes.append(f"name: A scope with the name '{name}' already exists")
        consent = body.get("consent", "IMPLICIT")
        if consent not in ("IMPLICIT", "REQUIRED", "FLEXIBLE"):
            causes.append("consent: must be IMPLICIT, REQUIRED or FLEXIBLE")
        publish = body.get("metadataPublish", "NO_CLIENTS")
        if publish not in ("ALL_CLIENTS", "NO_CLIENTS"):
            causes.append("metadataPublish: must be ALL_CLIENTS or NO_CLIENTS")
        for f in ("default", "optional"):
            if f in body and not isinstance(body[f], bool):
                causes.append(f"{f}: must be a boolean")
        if existing is not None and existing.get("system"):
            causes.append("name: system scopes cannot be modified")
        if causes:
            raise validation_error(causes[0].split(":")[0], causes)
        out = {"name": name, "displayName": body.get("displayName", name),
               "description": body.get("description"), "system": False,
               "default": body.get("default", False), "metadataPublish": publish,
               "consent": consent, "optional": body.get("optional", False)}
        return out

    def _validate_policy(self, srv: JSON, body: Any, existing: Optional[JSON]) -> JSON:
        if not isinstance(body, dict):
            raise malformed_body()
        causes = []
        if body.get("type") != "OAUTH_AUTHORIZATION_POLICY":
            causes.append("type: must be OAUTH_AUTHORIZATION_POLICY")
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            causes.append("name: The field cannot be left blank (1-100 characters)")
        else:
            for p in srv["_policies"].values():
                if p["name"] == name and (existing is None or p["id"] != existing["id"]):
                    causes.append(f"name: A policy with the name '{name}' already exists")
        desc = body.get("description")
        if not isinstance(desc, str) or not 1 <= len(desc) <= 255:
            causes.append("description: The field cannot be left blank (1-255 characters)")
        status = body.get("status", "ACTIVE")
        if status not in ("ACTIVE", "INACTIVE"):
            causes.append("status: must be ACTIVE or INACTIVE")
        prio = body.get("priority")
        if prio is not None and (not isinstance(prio, int) or isinstance(prio, bool) or prio < 1):
            causes.append("priority: must be a positive integer")
        include = dotted(body, "conditions.clients.include")
        if not _is_str_list(include) or not include:
            causes.append("conditions.clients.include: The field cannot be left blank")
        else:
            bad_ids = [c for c in include
                       if c != "ALL_CLIENTS" and self.app_by_client_id(c) is None]
            if bad_ids:
                causes.append("conditions.clients.include: Invalid client id(s): "
                              + ", ".join(bad_ids))
            if "ALL_CLIENTS" in include and len(include) > 1:
                causes.append("conditions.clients.include: ALL_CLIENTS cannot be combined "
                              "with client ids")
        if causes:
            raise validation_error(causes[0].split(":")[0], causes)
        return {"type": "OAUTH_AUTHORIZATION_POLICY", "name": name, "description": desc,
                "status": status, "priority": prio, "system": False,
                "conditions": {"clients": {"include": list(include)}}}

    @staticmethod
    def _place(coll: Dict[str, JSON], obj: JSON, prio: Optional[int]) -> None:
        """Insert `obj` at `prio` (1-based) and renumber the others, as Okta does."""
        ordered = sorted((o for o in coll.values() if o["id"] != obj["id"]),
                         key=lambda o: o["priority"])
        if prio is None or prio > len(ordered) + 1:
            prio = len(ordered) + 1
        ordered.insert(prio - 1, obj)
        for i, o in enumerate(ordered, 1):
            o["priority"] = i
        coll[obj["id"]] = obj

    def create_policy(self, as_id: str, body: Any) -> JSON:
        srv = self.find_as(as_id)
        p = self._validate_policy(srv, body, None)
        now = self.clock.iso()
        p.update({"id": new_id("00p"), "created": now, "lastUpdated": now,
                  "_seq": self.next_seq(), "_rules": {}})
        self._place(srv["_policies"], p, p["priority"])
        return p

    def replace_policy(self, as_id: str, pol: JSON, body: Any) -> JSON:
        srv = self.find_as(as_id)
        p = self._validate_policy(srv, body, pol)
        for k in ("type", "name", "description", "status", "conditions"):
            pol[k] = p[k]
        pol["lastUpdated"] = self.clock.iso()
        self._place(srv["_policies"], pol, p["priority"] or pol["priority"])
        return pol

    GRANTS_IN_RULES = ("authorization_code", "implicit", "password", "client_credentials",
                       G_DEVICE, G_TOKEN_EXCHANGE, G_SAML2, G_JWT, "interaction_code",
                       "urn:openid:params:grant-type:ciba",
                       "urn:okta:params:oauth:grant-type:otp",
                       "urn:okta:params:oauth:grant-type:oob")

    def _validate_rule(self, srv: JSON, pol: JSON, body: Any, existing: Optional[JSON]) -> JSON:
        if not isinstance(body, dict):
            raise malformed_body()
        causes = []
        if body.get("type") != "RESOURCE_ACCESS":
            causes.append("type: must be RESOURCE_ACCESS")
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            causes.append("name: The field cannot be left blank")
        else:
            for r in pol["_rules"].values():
                if r["name"] == name and (existing is None or r["id"] != existing["id"]):
                    causes.append(f"name: A rule with the name '{name}' already exists")
        status = body.get("status", "ACTIVE")
        if status not in ("ACTIVE", "INACTIVE"):
            causes.append("status: must be ACTIVE or INACTIVE")
        prio = body.get("priority")
        if prio is not None and (not isinstance(prio, int) or isinstance(prio, bool) or prio < 1):
            causes.append("priority: must be a positive integer")
        cond = body.get("conditions")
        if not isinstance(cond, dict):
            causes.append("conditions: The field cannot be left blank")
            cond = {}
        grants = dotted(cond, "grantTypes.include")
        if not _is_str_list(grants) or not grants:
            causes.append("conditions.grantTypes.include: The field cannot be left blank")
        else:
            for g in grants:
                if g not in self.GRANTS_IN_RULES:
                    causes.append(f"conditions.grantTypes.include: '{g}' is not a valid grant "
                                  "type for a rule")
        scopes = dotted(cond, "scopes.include")
        if not _is_str_list(scopes) or not scopes:
            causes.append("conditions.scopes.include: The field cannot be left blank")
        else:
            known = {s["name"] for s in srv["_scopes"].values()}
            bad_scopes = [s for s in scopes if s != "*" and s not in known]
            if bad_scopes:
                causes.append("conditions.scopes.include: Invalid scope(s): "
                              + ", ".join(bad_scopes))
        people = cond.get("people")
        groups_inc = dotted(people, "groups.include") if isinstance(people, dict) else None
        users_inc = dotted(people, "users.include") if isinstance(people, dict) else None
        if not ((_is_str_list(groups_inc) and groups_inc) or (_is_str_list(users_inc) and users_inc)):
            causes.append("conditions.people: groups.include or users.include is required")
        else:
            for g in groups_inc or []:
                if g != "EVERYONE" and g not in self.groups:
                    causes.append(f"conditions.people.groups.include: Invalid group id: {g}")
            for u in users_inc or []:
                if u not in self.users:
                    causes.append(f"conditions.people.users.include: Invalid user id: {u}")
        tok = dotted(body, "actions.token") or {}
        if not isinstance(tok, dict):
            causes.append("actions.token: must be an object")
            tok = {}
        at = tok.get("accessTokenLifetimeMinutes", 60)
        rtl = tok.get("refreshTokenLifetimeMinutes", 0)
        rtw = tok.get("refreshTokenWindowMinutes", 10080)
        for f, v in (("accessTokenLifetimeMinutes", at), ("refreshTokenLifetimeMinutes", rtl),
                     ("refreshTokenWindowMinutes", rtw)):
            if not isinstance(v, int) or isinstance(v, bool):
                causes.append(f"actions.token.{f}: must be an integer")
        if isinstance(at, int) and not 5 <= at <= 1440:
            causes.append("actions.token.accessTokenLifetimeMinutes: must be between 5 and 1440")
        if isinstance(rtw, int) and not 10 <= rtw <= 2628000:
            causes.append("actions.token.refreshTokenWindowMinutes: must be between 10 and 2628000")
        if isinstance(rtl, int) and isinstance(at, int) and rtl != 0 and rtl < at:
            causes.append("actions.token.refreshTokenLifetimeMinutes: must be 0 (unlimited) or "
                          "at least the access token lifetime")
        if causes:
            raise validation_error(causes[0].split(":")[0], causes)
        people_out: JSON = {"users": {"include": list(users_inc or []), "exclude": []},
                            "groups": {"include": list(groups_inc or []), "exclude": []}}
        token_out = {"accessTokenLifetimeMinutes": at, "refreshTokenLifetimeMinutes": rtl,
                     "refreshTokenWindowMinutes": rtw}
        if isinstance(tok.get("inlineHook"), dict):
            token_out["inlineHook"] = tok["inlineHook"]
        return {"type": "RESOURCE_ACCESS", "name": name, "status": status, "priority": prio,
                "system": False,
                "conditions": {"people": people_out, "grantTypes": {"include": list(grants)},
                               "scopes": {"include": list(scopes)}},
                "actions": {"token": token_out}}

    def create_rule(self, as_id: str, pol_id: str, body: Any) -> JSON:
        srv = self.find_as(as_id)
        pol = srv["_policies"].get(pol_id)
        if pol is None:
            raise not_found(pol_id, "Policy")
        r = self._validate_rule(srv, pol, body, None)
        now = self.clock.iso()
        r.update({"id": new_id("0pr"), "created": now, "lastUpdated": now,
                  "_seq": self.next_seq()})
        self._place(pol["_rules"], r, r["priority"])
        return r


# ---------------------------------------------------------------------------------------
# Request context and rendering
# ---------------------------------------------------------------------------------------


class Ctx:
    def __init__(self, base: str, path: str, query: Dict[str, List[str]], raw_query: str,
                 body: bytes, headers: Any, method: str) -> None:
        self.base = base
        self.path = path
        self.query = query
        self.raw_query = raw_query
        self.raw_body = body
        self.headers = headers
        self.method = method
        self.principal: Optional[JSON] = None
        self.resp_headers: List[Tuple[str, str]] = []

    def q(self, name: str) -> Optional[str]:
        v = self.query.get(name)
        return v[0] if v else None

    def json_body(self, optional: bool = False) -> Any:
        if not self.raw_body.strip():
            if optional:
                return {}
            raise malformed_body()
        try:
            return json.loads(self.raw_body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise malformed_body()


def public(obj: JSON) -> JSON:
    """Drop internal keys (leading underscore except _links/_embedded)."""
    return {k: copy.deepcopy(v) for k, v in obj.items()
            if not k.startswith("_") or k in ("_links", "_embedded")}


def hint(href: str, *methods: str) -> JSON:
    return {"href": href, "hints": {"allow": list(methods)}}


def check_issuer_mode(mode: Any, config: JSON, causes: List[str]) -> None:
    # "issuerMode is visible if you have a custom URL domain configured or the Dynamic Issuer Mode
    # feature enabled" (Okta Management API, AuthorizationServer.issuerMode): without a custom
    # domain only ORG_URL is accepted. The wording of this refusal is not Okta's (UNCONFIRMED).
    if mode not in ("ORG_URL", "CUSTOM_URL", "DYNAMIC"):
        causes.append("issuerMode: must be ORG_URL, CUSTOM_URL or DYNAMIC")
    elif mode != "ORG_URL" and not config.get("custom_domain"):
        causes.append(f"issuerMode: {mode} needs a custom URL domain in the org")


class HtmlPage(str):
    """A body served as text/html: the page a browser shows, not an API answer."""


class SigninMixin:
    """The authorization code flow with PKCE that Kiro's clients run against the Kiro OIDC app
    on the custom authorization server (`kiro-onboard signin check`); OKTA_EMULATOR.md "Sign-in
    (authorization code + PKCE)".  The browser is played by POST /_control/authorize/approve."""
    s: "State"

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
        # Settings"; the page also says "Your request resulted in an error.", Colin-b/httpx_auth#110).
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
        """The user signs in and the browser follows Okta's redirect: returns {redirect}.
        Without `url`, on the authorize page last opened (409 when none is)."""
        if isinstance(body, dict) and body.get("user") and not body.get("url"):
            body = dict(body, url=self.s.__dict__.pop("signin_last_authorize", None))
            if not body["url"]:
                return 409, {"error": "no authorize page is open"}
        if not isinstance(body, dict) or not body.get("url") or not body.get("user"):
            return 400, {"error": "body needs url and user"}
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


class Emulator(SigninMixin):
    def __init__(self, state: State, clock: Clock, published: Optional[PublishedApi]) -> None:
        self.s = state
        self.clock = clock
        self.published = published
        self.inflight = 0
        self.inflight_lock = threading.Lock()
        self.lock = threading.RLock()
        self.routes: List[Tuple[str, re.Pattern, Callable, Tuple[str, ...], bool]] = []
        self._register_routes()

    # -- routing --------------------------------------------------------------------------

    def route(self, method: str, pattern: str, perms: Tuple[str, ...], aam: bool = False):
        rx = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")

        def deco(fn):
            self.routes.append((method, rx, fn, perms, aam))
            return fn
        return deco

    def _register_routes(self) -> None:
        A_R, A_M = ("okta.apps.read",), ("okta.apps.manage",)
        G_R, U_R = ("okta.groups.read",), ("okta.users.read",)
        S_R, S_M = ("okta.authorizationServers.read",), ("okta.authorizationServers.manage",)
        r = self.route
        r("GET", "/api/v1/apps", A_R)(self.list_apps)
        r("POST", "/api/v1/apps", A_M)(self.create_app)
        r("GET", "/api/v1/apps/{appId}", A_R)(self.get_app)
        r("PUT", "/api/v1/apps/{appId}", A_M)(self.put_app)
        r("DELETE", "/api/v1/apps/{appId}", A_M)(self.delete_app)
        r("POST", "/api/v1/apps/{appId}/lifecycle/activate", A_M)(self.app_activate)
        r("POST", "/api/v1/apps/{appId}/lifecycle/deactivate", A_M)(self.app_deactivate)
        r("GET", "/api/v1/apps/{appId}/groups", A_R)(self.list_app_groups)
        r("GET", "/api/v1/apps/{appId}/groups/{groupId}", A_R)(self.get_app_group)
        r("PUT", "/api/v1/apps/{appId}/groups/{groupId}", A_M)(self.put_app_group)
        r("DELETE", "/api/v1/apps/{appId}/groups/{groupId}", A_M)(self.delete_app_group)
        r("GET", "/api/v1/apps/{appId}/users", A_R)(self.list_app_users)
        r("POST", "/api/v1/apps/{appId}/users", A_M)(self.assign_app_user)
        r("GET", "/api/v1/apps/{appId}/users/{userId}", A_R)(self.get_app_user)
        r("DELETE", "/api/v1/apps/{appId}/users/{userId}", A_M)(self.delete_app_user)
        r("GET", "/api/v1/apps/{appId}/connections/default", A_R)(self.get_connection)
        r("POST", "/api/v1/apps/{appId}/connections/default", A_M)(self.post_connection)
        r("POST", "/api/v1/apps/{appId}/connections/default/lifecycle/activate", A_M)(
            self.connection_lifecycle)
        r("POST", "/api/v1/apps/{appId}/connections/default/lifecycle/deactivate", A_M)(
            self.connection_lifecycle)
        r("GET", "/api/v1/apps/{appId}/features", A_R)(self.list_features)
        r("GET", "/api/v1/apps/{appId}/features/{featureName}", A_R)(self.get_feature)
        r("GET", "/api/v1/apps/{appId}/group-push/mappings", A_R + G_R)(self.list_push_mappings)
        r("POST", "/api/v1/apps/{appId}/group-push/mappings", A_M + ("okta.groups.manage",))(
            self.create_push_mapping)
        r("GET", "/api/v1/groups", G_R)(self.list_groups)
        r("GET", "/api/v1/groups/{groupId}", G_R)(self.get_group)
        r("GET", "/api/v1/groups/{groupId}/users", G_R)(self.list_group_users)
        r("GET", "/api/v1/users", U_R)(self.list_users)
        r("GET", "/api/v1/users/{userId}", U_R)(self.get_user)
        AS = "/api/v1/authorizationServers"
        r("GET", AS, S_R, True)(self.list_auth_servers)
        r("POST", AS, S_M, True)(self.create_auth_server)
        r("GET", AS + "/{asId}", S_R, True)(self.get_auth_server)
        r("PUT", AS + "/{asId}", S_M, True)(self.put_auth_server)
        r("DELETE", AS + "/{asId}", S_M, True)(self.delete_auth_server)
        r("POST", AS + "/{asId}/lifecycle/activate", S_M, True)(self.as_activate)
        r("POST", AS + "/{asId}/lifecycle/deactivate", S_M, True)(self.as_deactivate)
        r("GET", AS + "/{asId}/scopes", S_R, True)(self.list_scopes)
        r("POST", AS + "/{asId}/scopes", S_M, True)(self.create_scope)
        r("GET", AS + "/{asId}/scopes/{scopeId}", S_R, True)(self.get_scope)
        r("PUT", AS + "/{asId}/scopes/{scopeId}", S_M, True)(self.put_scope)
        r("DELETE", AS + "/{asId}/scopes/{scopeId}", S_M, True)(self.delete_scope)
        r("GET", AS + "/{asId}/policies", S_R, True)(self.list_policies)
        r("POST", AS + "/{asId}/policies", S_M, True)(self.create_policy)
        r("GET", AS + "/{asId}/policies/{policyId}", S_R, True)(self.get_policy)
        r("PUT", AS + "/{asId}/policies/{policyId}", S_M, True)(self.put_policy)
        r("DELETE", AS + "/{asId}/policies/{policyId}", S_M, True)(self.delete_policy)
        r("POST", AS + "/{asId}/policies/{policyId}/lifecycle/activate", S_M, True)(
            self.policy_activate)
        r("POST", AS + "/{asId}/policies/{policyId}/lifecycle/deactivate", S_M, True)(
            self.policy_deactivate)
        r("GET", AS + "/{asId}/policies/{policyId}/rules", S_R, True)(self.list_rules)
        r("POST", AS + "/{asId}/policies/{policyId}/rules", S_M, True)(self.create_rule)
        r("GET", AS + "/{asId}/policies/{policyId}/rules/{ruleId}", S_R, True)(self.get_rule)
        r("PUT", AS + "/{asId}/policies/{policyId}/rules/{ruleId}", S_M, True)(self.put_rule)
        r("DELETE", AS + "/{asId}/policies/{policyId}/rules/{ruleId}", S_M, True)(
            self.delete_rule)
        r("POST", AS + "/{asId}/policies/{policyId}/rules/{ruleId}/lifecycle/activate", S_M,
          True)(self.rule_activate)
        r("POST", AS + "/{asId}/policies/{policyId}/rules/{ruleId}/lifecycle/deactivate", S_M,
          True)(self.rule_deactivate)

    # -- entry point for API requests -------------------------------------------------------

    def handle(self, ctx: Ctx) -> Tuple[int, List[Tuple[str, str]], Optional[Any]]:
        """Returns (status, headers, json-body-or-None)."""
        with self.lock:
            s = self.s
            bname = bucket_name(ctx.path)
            scheme, _, cred = (ctx.headers.get("Authorization") or "").strip().partition(" ")
            token = s.access_tokens.get(cred.strip()) if scheme in ("Bearer", "DPoP") else None
            bucket = s.bucket(bname, token["client_id"] if token else None)
            fault = self._match_fault(ctx)
            if fault is not None and fault["status"] == 429:
                rem, _ = bucket.peek(self.clock)
                reset = int(math.ceil(self.clock.now() + fault.get("reset_seconds", 1)))
                hdrs = self._rl_headers(bucket.limit, 0, reset)
                return 429, hdrs, self._fault_body(fault, 429)
            if fault is not None:
                rem, reset = bucket.peek(self.clock)
                hdrs = self._rl_headers(bucket.limit, rem, reset)
                if fault.get("commit"):
                    # The operation happens, but the client sees an error (lost response).
                    self._dispatch(ctx)
                return fault["status"], hdrs, self._fault_body(fault, fault["status"])
            ok, remaining, reset = bucket.consume(self.clock)
            hdrs = self._rl_headers(bucket.limit, max(remaining, 0), reset)
            if not ok:
                e = rate_limited()
                return 429, hdrs + e.headers, e.body()
            status, extra, body = self._dispatch(ctx)
            return status, hdrs + extra, body

    @staticmethod
    def _rl_headers(limit: int, remaining: int, reset: int) -> List[Tuple[str, str]]:
        return [("X-Rate-Limit-Limit", str(limit)), ("X-Rate-Limit-Remaining", str(remaining)),
                ("X-Rate-Limit-Reset", str(reset))]

    def _match_fault(self, ctx: Ctx) -> Optional[JSON]:
        for f in self.s.faults:
            if f["count"] <= 0:
                continue
            if f.get("method") and f["method"].upper() != ctx.method:
                continue
            if f.get("path_prefix") and not ctx.path.startswith(f["path_prefix"]):
                continue
            f["count"] -= 1
            f["fired"] = f.get("fired", 0) + 1
            return f
        return None

    @staticmethod
    def _fault_body(fault: JSON, status: int) -> JSON:
        if status == 429:
            return rate_limited().body()
        if status == 503:
            return ApiError(503, "E0000010", "Service is in read only mode").body()
        return ApiError(status, "E0000009", "Internal Server Error").body()

    def _dispatch(self, ctx: Ctx) -> Tuple[int, List[Tuple[str, str]], Optional[Any]]:
        try:
            if ctx.path == "/oauth2/v1/token":
                return self.token_endpoint(ctx)
            m = re.match(r"^/oauth2/([^/]+)/v1/(authorize|token)$", ctx.path)
            if m and m.group(1) != "v1":  # signin check: authorization code + PKCE (SigninMixin)
                return self.signin_endpoint(ctx, m.group(1), m.group(2))
            m = re.match(r"^/oauth2/([^/]+)/\.well-known/(openid-configuration|oauth-authorization-server)$",
                         ctx.path)
            if m and ctx.method == "GET":
                return self.discovery(ctx, m.group(1), m.group(2))
            if not ctx.path.startswith("/api/"):
                raise not_found(ctx.path, "Resource")
            self._check_published(ctx)
            self._authenticate(ctx)
            path_matched = False
            for method, rx, fn, perms, aam in self.routes:
                mm = rx.match(ctx.path)
                if not mm:
                    continue
                path_matched = True
                if method != ctx.method:
                    continue
                if aam and not self.s.config["api_access_management"]:
                    st = int(self.s.config.get("api_access_management_status", 401))
                    raise ApiError(st, "E0000015", "You do not have permission to access the "
                                   "feature you are requesting")
                self._authorize(ctx, perms)
                params = {k: unquote(v) for k, v in mm.groupdict().items()}
                result = fn(ctx, **params)
                status, body = result[0], result[1]
                return status, ctx.resp_headers, body
            if path_matched:
                raise ApiError(405, "E0000022",
                               "The endpoint does not support the provided HTTP method")
            raise not_found(ctx.path, "Resource")
        except ApiError as e:
            return e.status, e.headers, e.body()
        except OAuthError as e:
            return e.status, [("Cache-Control", "no-store"), ("Pragma", "no-cache")] + e.headers, {
                "error": e.error, "error_description": e.description}

    def _check_published(self, ctx: Ctx) -> None:
        """404 for a method + path Okta does not publish, 400 for a body key its model lacks."""
        if self.published is None or not self.s.config.get("published_api_only", True):
            return
        found = self.published.find(ctx.method, ctx.path)
        if found is None:
            self.s.unpublished.append(f"{ctx.method} {ctx.path}")
            _err(f"not in Okta's published API: {ctx.method} {ctx.path}")
            raise not_found(ctx.path, "Resource")
        template, model = found
        if model is None or ctx.method not in ("POST", "PUT", "PATCH") or not ctx.raw_body.strip():
            return
        try:
            body = json.loads(ctx.raw_body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return  # the handler answers E0000003
        if not isinstance(body, dict):
            return
        unknown = sorted(set(body) - self.published.properties(model))
        if unknown:
            self.s.unpublished.append(f"{ctx.method} {template} body keys {unknown}")
            _err(f"not in Okta's published {model}: {unknown} ({ctx.method} {ctx.path})")
            raise validation_error(unknown[0], [f"{k}: is not a property of {model}"
                                                for k in unknown])

    # -- authentication & authorization (ref §3) -------------------------------------------

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
            if t["exp"] > self.clock.now() and svc is not None:
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
        if jwk_thumbprint(jwk) != t["jkt"]:
            raise fail("The DPoP proof key is not the key the access token is bound to.")
        if self.s.config.get("api_dpop_nonce") and claims.get("nonce") not in self.s.dpop_nonces():
            # RFC 9449 §9: a resource server may require its own nonce (Okta's guide shows none
            # for Okta's API, so this is off by default).
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

    # -- OAuth: org authorization server token endpoint (ref §3.2) --------------------------

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
            header, claims, signing_input, signature = split_jws(assertion)
        except (ValueError, UnicodeDecodeError):
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
        if not any(verify_signature(header.get("alg"), k, signing_input, signature) for k in keys):
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
        payload = {"ver": 1, "jti": "AT." + _rand(43), "iss": ctx.base, "aud": ctx.base,
                   "iat": int(now_srv), "exp": int(now_srv) + 3600, "cid": iss,
                   "scp": requested, "sub": iss}
        token = ".".join([b64url_encode(json.dumps({"kid": "emulator", "alg": "RS256"}).encode()),
                          b64url_encode(json.dumps(payload).encode()),
                          b64url_encode(secrets.token_bytes(32))])
        self.s.access_tokens[token] = {"client_id": iss, "scopes": requested,
                                       "exp": now_srv + 3600, "jkt": jkt}
        return 200, [("Cache-Control", "no-store"), ("Pragma", "no-cache")], {
            "token_type": "DPoP" if jkt else "Bearer", "expires_in": 3600, "access_token": token,
            "scope": " ".join(requested)}

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
            e = OAuthError(400, "use_dpop_nonce",
                           "Authorization server requires nonce in DPoP proof.")
            e.headers = [("DPoP-Nonce", self.s.dpop_nonce())]
            raise e
        return jwk_thumbprint(jwk)

    def _check_proof(self, proof: str, method: str, url: str, access_token: Optional[str],
                     fail: Callable[[str], Exception]) -> Tuple[JSON, JSON]:
        """RFC 9449 §4.3 checks 1-11 (the nonce, check 10, is the caller's): the proof's header,
        signature with its own JWK, htm, htu, iat window, ath, and jti replay."""
        try:
            header, claims, signing_input, signature = split_jws(proof)
        except (ValueError, UnicodeDecodeError):
            raise fail("The DPoP proof JWT is malformed.")
        if header.get("typ") != "dpop+jwt":
            raise fail("The DPoP proof JWT header 'typ' must be 'dpop+jwt'.")
        jwk = header.get("jwk")
        if not isinstance(jwk, dict) or any(k in jwk for k in ("d", "p", "q", "dp", "dq", "qi")):
            raise fail("The DPoP proof JWT header must carry a public 'jwk'.")
        if not verify_signature(header.get("alg"), jwk, signing_input, signature):
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

    # -- discovery of custom authorization servers --------------------------------------

    def discovery(self, ctx: Ctx, as_id: str, kind: str):
        if not self.s.config["api_access_management"]:
            raise not_found(as_id, "AuthorizationServer")
        srv = self.s.find_as(as_id)
        if srv["status"] != "ACTIVE":
            raise not_found(as_id, "AuthorizationServer")
        iss = self.issuer(ctx, srv)
        scopes = sorted(s["name"] for s in srv["_scopes"].values()
                        if s["metadataPublish"] == "ALL_CLIENTS")
        doc = {
            "issuer": iss,
            "authorization_endpoint": iss + "/v1/authorize",
            "token_endpoint": iss + "/v1/token",
            "registration_endpoint": ctx.base + "/oauth2/v1/clients",
            "jwks_uri": iss + "/v1/keys",
            "response_types_supported": ["code", "id_token", "code id_token", "code token",
                                         "id_token token", "code id_token token"],
            "response_modes_supported": ["query", "fragment", "form_post", "okta_post_message"],
            "grant_types_supported": ["authorization_code", "implicit", "refresh_token",
                                      "password", "client_credentials", G_DEVICE,
                                      G_TOKEN_EXCHANGE],
            "subject_types_supported": ["public"],
            "scopes_supported": scopes,
            "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
            "claims_supported": ["ver", "jti", "iss", "aud", "iat", "exp", "cid", "uid", "scp",
                                 "sub"],
            "code_challenge_methods_supported": ["S256"],
            "introspection_endpoint": iss + "/v1/introspect",
            "revocation_endpoint": iss + "/v1/revoke",
            "end_session_endpoint": iss + "/v1/logout",
            "device_authorization_endpoint": iss + "/v1/device/authorize",
        }
        if kind == "openid-configuration":
            doc["userinfo_endpoint"] = iss + "/v1/userinfo"
            doc["id_token_signing_alg_values_supported"] = ["RS256"]
        return 200, [], doc

    # -- paging (ref §4.1) -------------------------------------------------------------------

    def paginate(self, ctx: Ctx, items: List[JSON], default: int, maximum: int,
                 minimum: int = 1, pageable: bool = True) -> List[JSON]:
        """`items` must carry `_seq` and be sorted by it.  Adds Link headers."""
        raw_limit = ctx.q("limit")
        if raw_limit is None or raw_limit == "":
            limit = default
        else:
            try:
                limit = int(raw_limit)
            except ValueError:
                raise validation_error("limit", [f"limit: '{raw_limit}' is not a number"])
            if limit == -1:
                limit = default
            elif limit < 1:
                raise validation_error("limit", ["limit: must be at least 1"])
            limit = max(min(limit, maximum), minimum)
        ps = self.s.config.get("page_size")
        if ps:
            limit = min(limit, int(ps))
        after = ctx.q("after")
        start_seq = 0
        if after and pageable:
            try:
                decoded = b64url_decode(after).decode("ascii")
                if not decoded.startswith("c"):
                    raise ValueError
                start_seq = int(decoded[1:])
            except (ValueError, UnicodeDecodeError):
                raise validation_error("after", ["after: the cursor is not valid"])
        rest = [i for i in items if i["_seq"] > start_seq]
        page = rest[:limit]
        self_q = ctx.raw_query
        links = [f'<{ctx.base}{ctx.path}{"?" + self_q if self_q else ""}>; rel="self"']
        if pageable and len(rest) > limit:
            params = [(k, v) for k, vs in ctx.query.items() if k not in ("after", "limit")
                      for v in vs]
            params.append(("after", b64url_encode(f"c{page[-1]['_seq']}".encode())))
            params.append(("limit", raw_limit if raw_limit else str(limit)))
            # An org with a custom domain may answer with links on another of its names
            # (developer.okta.com/docs/guides/custom-url-domain/: the org keeps its okta.com
            # URL next to the custom one); `next_link_base` models that.
            link_base = self.s.config.get("next_link_base") or ctx.base
            links.append(f'<{link_base}{ctx.path}?{urlencode(params, quote_via=quote)}>; rel="next"')
        for l in links:
            ctx.resp_headers.append(("Link", l))
        return page

    # -- renderers -------------------------------------------------------------------------

    def render_app(self, ctx: Ctx, app: JSON) -> JSON:
        out = public(app)
        out["features"] = self.s.app_features(app)
        base = f"{ctx.base}/api/v1/apps/{app['id']}"
        links: JSON = {
            "uploadLogo": hint(base + "/logo", "POST"),
            "appLinks": [{"name": f"{app['name']}_link",
                          "href": f"{ctx.base}/home/{app['name']}/{app['id']}/aln"
                                  + hashlib.sha1(app["id"].encode()).hexdigest()[:17],
                          "type": "text/html"}],
            "groups": {"href": base + "/groups"},
            "users": {"href": base + "/users"},
            "logo": [{"name": "medium", "href": f"{ctx.base}/assets/img/logos/default.png",
                      "type": "image/png"}],
            "metadata": {"href": base + "/sso/saml/metadata", "type": "application/xml"}
            if app["signOnMode"] == "SAML_2_0" else None,
        }
        if links["metadata"] is None:
            del links["metadata"]
        if app["status"] == "ACTIVE":
            links["deactivate"] = hint(base + "/lifecycle/deactivate", "POST")
        else:
            links["activate"] = hint(base + "/lifecycle/activate", "POST")
        out["_links"] = links
        return out

    def render_group(self, ctx: Ctx, g: JSON) -> JSON:
        out = public(g)
        out["_links"] = {
            "logo": [{"name": "medium", "href": f"{ctx.base}/img/logos/groups/okta-medium.png",
                      "type": "image/png"}],
            "users": {"href": f"{ctx.base}/api/v1/groups/{g['id']}/users"},
            "apps": {"href": f"{ctx.base}/api/v1/groups/{g['id']}/apps"},
        }
        if g.get("_source"):
            out["_links"]["source"] = {"href": f"{ctx.base}/api/v1/apps/{g['_source']}"}
        return out

    def render_user(self, ctx: Ctx, u: JSON) -> JSON:
        out = public(u)
        out["_links"] = {"self": {"href": f"{ctx.base}/api/v1/users/{u['id']}"}}
        return out

    def render_app_group(self, ctx: Ctx, app: JSON, gid: str, ga: JSON) -> JSON:
        out = {"id": gid, "lastUpdated": ga["lastUpdated"], "priority": ga["priority"],
               "profile": copy.deepcopy(ga["profile"]),
               "_links": {"app": {"href": f"{ctx.base}/api/v1/apps/{app['id']}"},
                          "self": {"href": f"{ctx.base}/api/v1/apps/{app['id']}/groups/{gid}"},
                          "group": {"href": f"{ctx.base}/api/v1/groups/{gid}"}}}
        if "group" in (ctx.q("expand") or "").split(",") and gid in self.s.groups:
            out["_embedded"] = {"group": self.render_group(ctx, self.s.groups[gid])}
        return out

    def render_app_user(self, ctx: Ctx, app: JSON, eff: JSON) -> JSON:
        u = self.s.users[eff["uid"]]
        prov = app.get("_provisioning")
        pushing = bool(prov and prov["create_users"])
        direct = eff.get("direct") or {}
        if app["signOnMode"] == "OPENID_CONNECT":
            profile: JSON = {}  # ref §2.4: OIDC app users have no firstName/lastName
        else:
            profile = {"email": u["profile"]["email"], "firstName": u["profile"]["firstName"],
                       "lastName": u["profile"]["lastName"]}
        profile.update(direct.get("profile") or {})
        out = {
            "id": u["id"],
            "created": eff["created"], "lastUpdated": eff["created"],
            "scope": eff["scope"],
            "status": "PROVISIONED" if pushing else "ACTIVE",
            "statusChanged": eff["created"],
            "passwordChanged": None,
            "syncState": (prov.get("sync_state") or "SYNCHRONIZED") if pushing else "DISABLED",
            "credentials": {"userName": (direct.get("credentials") or {}).get("userName")
                            or u["profile"]["login"]},
            "profile": profile,
            "_links": {"app": {"href": f"{ctx.base}/api/v1/apps/{app['id']}"},
                       "user": {"href": f"{ctx.base}/api/v1/users/{u['id']}"}},
        }
        if pushing:
            out["externalId"] = hashlib.sha1((app["id"] + u["id"]).encode()).hexdigest()[:32]
            out["lastSync"] = prov["completed_at"]
        if eff["scope"] == "GROUP":
            out["_links"]["group"] = {"name": self.s.groups[eff["group"]]["profile"]["name"],
                                      "href": f"{ctx.base}/api/v1/groups/{eff['group']}"}
        if "user" in (ctx.q("expand") or "").split(","):
            out["_embedded"] = {"user": self.render_user(ctx, u)}
        return out

    def issuer(self, ctx: Ctx, srv: JSON) -> str:
        return self.issuer_for(ctx.base, srv)

    def issuer_for(self, request_base: str, srv: JSON) -> str:
        """The `issuer` (and the tokens' `iss`) by the server's issuerMode (Okta Management API,
        AuthorizationServer.issuerMode): ORG_URL the org domain, CUSTOM_URL the org's custom URL
        domain, DYNAMIC the domain the request was sent to. This emulator serves only the org
        domain, so DYNAMIC always answers with it."""
        if srv.get("issuerMode") == "CUSTOM_URL" and self.s.config.get("custom_domain"):
            return f"{self.s.config['custom_domain']}/oauth2/{srv['id']}"
        return f"{request_base}/oauth2/{srv['id']}"


    def render_as(self, ctx: Ctx, srv: JSON) -> JSON:
        out = public(srv)
        out["issuer"] = self.issuer(ctx, srv)
        base = f"{ctx.base}/api/v1/authorizationServers/{srv['id']}"
        iss = out["issuer"]
        out["_links"] = {
            "scopes": hint(base + "/scopes", "GET"),
            "claims": hint(base + "/claims", "GET"),
            "policies": hint(base + "/policies", "GET"),
            "self": hint(base, "GET", "DELETE", "PUT"),
            "metadata": [
                dict(name="oauth-authorization-server",
                     **hint(iss + "/.well-known/oauth-authorization-server", "GET")),
                dict(name="openid-configuration",
                     **hint(iss + "/.well-known/openid-configuration", "GET"))],
            "rotateKey": hint(base + "/credentials/lifecycle/keyRotate", "POST"),
        }
        if srv["status"] == "ACTIVE":
            out["_links"]["deactivate"] = hint(base + "/lifecycle/deactivate", "POST")
        else:
            out["_links"]["activate"] = hint(base + "/lifecycle/activate", "POST")
        return out

    def render_scope(self, ctx: Ctx, srv: JSON, sc: JSON) -> JSON:
        out = public(sc)
        out["_links"] = {"self": hint(
            f"{ctx.base}/api/v1/authorizationServers/{srv['id']}/scopes/{sc['id']}",
            "GET", "PUT", "DELETE")}
        return out

    def render_policy(self, ctx: Ctx, srv: JSON, p: JSON) -> JSON:
        out = public(p)
        base = f"{ctx.base}/api/v1/authorizationServers/{srv['id']}/policies/{p['id']}"
        out["_links"] = {"self": hint(base, "GET", "PUT", "DELETE"),
                         "rules": hint(base + "/rules", "GET")}
        lc = "deactivate" if p["status"] == "ACTIVE" else "activate"
        out["_links"][lc] = hint(f"{base}/lifecycle/{lc}", "POST")
        return out

    def render_rule(self, ctx: Ctx, srv: JSON, p: JSON, r: JSON) -> JSON:
        out = public(r)
        base = (f"{ctx.base}/api/v1/authorizationServers/{srv['id']}/policies/{p['id']}"
                f"/rules/{r['id']}")
        lc = "deactivate" if r["status"] == "ACTIVE" else "activate"
        out["_links"] = {"self": hint(base, "GET", "PUT", "DELETE"),
                         lc: hint(f"{base}/lifecycle/{lc}", "POST")}
        return out

    # -- apps (ref §2.1, §2.2) ---------------------------------------------------------------

    APP_FILTER_FIELDS = {"id": {"eq"}, "status": {"eq"}, "credentials.signing.kid": {"eq"},
                         "settings.slo.enabled": {"eq"}, "name": {"eq"}}

    def list_apps(self, ctx: Ctx):
        apps = sorted(self.s.apps.values(), key=lambda a: a["_seq"])
        filt = ctx.q("filter")
        if filt:
            try:
                pred = parse_expression(filt, self.APP_FILTER_FIELDS)
            except ValueError as e:
                raise invalid_search(f"filter: {e}")
            apps = [a for a in apps if pred(lambda f, a=a: dotted(a, f))]
        include_inactive = (ctx.q("includeNonDeleted") or "").lower() == "true" or (
            filt is not None and "status" in filt)
        if not include_inactive:
            # ref §2.2: includeNonDeleted=true also returns inactive apps.
            apps = [a for a in apps if a["status"] == "ACTIVE"]
        q = ctx.q("q")
        if q:
            ql = q.lower()  # ref §2.2: name or label, startsWith
            apps = [a for a in apps
                    if a["name"].lower().startswith(ql) or a["label"].lower().startswith(ql)]
        page = self.paginate(ctx, apps, default=20, maximum=200)
        return 200, [self.render_app(ctx, a) for a in page]

    def create_app(self, ctx: Ctx):
        body = ctx.json_body()
        activate = (ctx.q("activate") or "true").lower() != "false"
        app = self.s.create_app(body, activate)
        return 200, self.render_app(ctx, app)

    def get_app(self, ctx: Ctx, appId: str):
        return 200, self.render_app(ctx, self.s.find_app(appId))

    def put_app(self, ctx: Ctx, appId: str):
        app = self.s.find_app(appId)
        body = ctx.json_body()
        return 200, self.render_app(ctx, self.s.replace_app(app, body))

    def delete_app(self, ctx: Ctx, appId: str):
        app = self.s.find_app(appId)
        if app["status"] == "ACTIVE":
            raise ApiError(403, "E0000056", "Delete application forbidden.",
                           ["The application must be deactivated before it can be deleted."])
        del self.s.apps[appId]
        self.s.push_mappings.pop(appId, None)
        for cid, svc in list(self.s.service_apps.items()):
            if svc["app_id"] == appId:
                del self.s.service_apps[cid]
        return 204, None

    def app_activate(self, ctx: Ctx, appId: str):
        app = self.s.find_app(appId)
        if app["status"] != "ACTIVE":
            app["status"] = "ACTIVE"
            app["lastUpdated"] = self.clock.iso()
        return 200, {}

    def app_deactivate(self, ctx: Ctx, appId: str):
        app = self.s.find_app(appId)
        if app["status"] != "INACTIVE":
            app["status"] = "INACTIVE"
            app["lastUpdated"] = self.clock.iso()
        return 200, {}

    # -- app group assignments (ref §2.3) ---------------------------------------------------

    def list_app_groups(self, ctx: Ctx, appId: str):
        app = self.s.find_app(appId)
        rows = []
        q = (ctx.q("q") or "").lower()
        for gid, ga in app["_groups"].items():
            g = self.s.groups.get(gid)
            if g is None:
                continue
            if q and not g["profile"]["name"].lower().startswith(q):
                continue
            rows.append({"_seq": ga["_seq"], "gid": gid, "ga": ga})
        rows.sort(key=lambda r: r["_seq"])
        page = self.paginate(ctx, rows, default=20, maximum=200, minimum=20)
        return 200, [self.render_app_group(ctx, app, r["gid"], r["ga"]) for r in page]

    def get_app_group(self, ctx: Ctx, appId: str, groupId: str):
        app = self.s.find_app(appId)
        ga = app["_groups"].get(groupId)
        if ga is None:
            raise not_found(groupId, "ApplicationGroupAssignment")
        return 200, self.render_app_group(ctx, app, groupId, ga)

    def put_app_group(self, ctx: Ctx, appId: str, groupId: str):
        app = self.s.find_app(appId)
        if groupId not in self.s.groups:
            raise not_found(groupId, "UserGroup")
        body = ctx.json_body(optional=True)
        if not isinstance(body, dict):
            raise malformed_body()
        prio = body.get("priority")
        if prio is not None and (not isinstance(prio, int) or isinstance(prio, bool) or prio < 0):
            raise validation_error("priority", ["priority: must be a non-negative integer"])
        profile = body.get("profile")
        if profile is not None and not isinstance(profile, dict):
            raise validation_error("profile", ["profile: must be an object"])
        now = self.clock.iso()
        ga = app["_groups"].get(groupId)
        if ga is None:
            used = [g["priority"] for g in app["_groups"].values()]
            ga = {"priority": prio if prio is not None else (max(used) + 1 if used else 0),
                  "profile": profile or {}, "lastUpdated": now, "created": now,
                  "_seq": self.s.next_seq()}
            app["_groups"][groupId] = ga
        else:  # re-PUT is idempotent; given fields replace the stored ones
            if prio is not None:
                ga["priority"] = prio
            if profile is not None:
                ga["profile"] = profile
            ga["lastUpdated"] = now
        return 200, self.render_app_group(ctx, app, groupId, ga)

    def delete_app_group(self, ctx: Ctx, appId: str, groupId: str):
        app = self.s.find_app(appId)
        if groupId not in app["_groups"]:
            raise not_found(groupId, "ApplicationGroupAssignment")
        del app["_groups"][groupId]
        return 204, None

    # -- app users (ref §2.4) --------------------------------------------------------------

    def list_app_users(self, ctx: Ctx, appId: str):
        app = self.s.find_app(appId)
        effs = self.s.app_users(app)
        q = (ctx.q("q") or "").lower()
        if q:
            effs = [e for e in effs
                    if self.s.users[e["uid"]]["profile"]["login"].lower().startswith(q)
                    or self.s.users[e["uid"]]["profile"]["email"].lower().startswith(q)]
        rows = [dict(e, _seq=e["seq"]) for e in effs]
        page = self.paginate(ctx, rows, default=50, maximum=500)
        return 200, [self.render_app_user(ctx, app, e) for e in page]

    def _eff_user(self, app: JSON, user_id: str) -> JSON:
        for e in self.s.app_users(app):
            if e["uid"] == user_id:
                return e
        raise not_found(user_id, "AppUser")

    def get_app_user(self, ctx: Ctx, appId: str, userId: str):
        app = self.s.find_app(appId)
        return 200, self.render_app_user(ctx, app, self._eff_user(app, userId))

    def assign_app_user(self, ctx: Ctx, appId: str):
        app = self.s.find_app(appId)
        body = ctx.json_body()
        if not isinstance(body, dict):
            raise malformed_body()
        uid = body.get("id")
        if not isinstance(uid, str) or not uid:
            raise validation_error("id", ["id: The field cannot be left blank"])
        if uid not in self.s.users:
            raise not_found(uid, "User")
        scope = body.get("scope", "USER")
        if scope != "USER":
            raise validation_error("scope", ["scope: only USER can be assigned directly"])
        creds = body.get("credentials")
        if creds is not None and not isinstance(creds, dict):
            raise validation_error("credentials", ["credentials: must be an object"])
        now = self.clock.iso()
        cur = app["_users"].get(uid)
        if cur is None:
            app["_users"][uid] = {"created": now, "credentials": creds,
                                  "profile": body.get("profile") if isinstance(body.get("profile"), dict) else None,
                                  "_seq": self.s.next_seq()}
        else:
            if creds is not None:
                cur["credentials"] = creds
            if isinstance(body.get("profile"), dict):
                cur["profile"] = body["profile"]
        return 200, self.render_app_user(ctx, app, self._eff_user(app, uid))

    def delete_app_user(self, ctx: Ctx, appId: str, userId: str):
        app = self.s.find_app(appId)
        eff = self._eff_user(app, userId)
        if userId not in app["_users"]:
            raise validation_error("scope", [
                f"scope: user {userId} is assigned to this app through group "
                f"{eff.get('group')} and cannot be unassigned individually"])
        del app["_users"][userId]
        return 204, None

    # -- provisioning (ref §2.7) -------------------------------------------------------------

    def _connection_body(self, ctx: Ctx, app: JSON) -> JSON:
        base = f"{ctx.base}/api/v1/apps/{app['id']}/connections/default"
        prov = app.get("_provisioning")
        if prov and prov.get("connection_api") == "REFLECTS_CONSOLE":
            return {"authScheme": "TOKEN", "status": "ENABLED", "baseUrl": prov["base_url"],
                    "profile": {"authScheme": "TOKEN"},
                    "_links": {"self": hint(base, "GET", "POST"),
                               "deactivate": hint(base + "/lifecycle/deactivate", "POST")}}
        # ref §2.7 (okta-mcp-server PR #72): on an app whose connection the API cannot
        # configure, Okta answers HTTP 200 with status/authScheme UNKNOWN and no error.
        return {"authScheme": "UNKNOWN", "status": "UNKNOWN",
                "profile": {"authScheme": "UNKNOWN"},
                "_links": {"self": hint(base, "GET", "POST")}}

    def get_connection(self, ctx: Ctx, appId: str):
        app = self.s.find_app(appId)
        return 200, self._connection_body(ctx, app)

    def post_connection(self, ctx: Ctx, appId: str):
        app = self.s.find_app(appId)
        body = ctx.json_body()
        if not isinstance(body, dict) or not isinstance(body.get("profile"), dict):
            raise validation_error("profile", ["profile: The field cannot be left blank"])
        scheme = body["profile"].get("authScheme")
        if scheme not in ("TOKEN", "OAUTH2"):
            raise validation_error("profile.authScheme",
                                   ["profile.authScheme: must be TOKEN or OAUTH2"])
        # The base URL and token are accepted and silently ignored: nothing is stored,
        # nothing changes, the answer is the UNKNOWN sentinel (ref §2.7).
        return 200, self._connection_body(ctx, app)

    def connection_lifecycle(self, ctx: Ctx, appId: str):
        self.s.find_app(appId)
        return 204, None  # accepted and ignored for apps the API cannot configure

    def _feature_body(self, ctx: Ctx, app: JSON) -> JSON:
        p = app["_provisioning"]

        def st(flag: bool) -> JSON:
            return {"status": "ENABLED" if flag else "DISABLED"}
        return {
            "name": "USER_PROVISIONING", "status": "ENABLED",
            "description": "User provisioning settings from Okta to a downstream application",
            "capabilities": {
                "create": {"lifecycleCreate": st(p["create_users"])},
                "update": {"profile": st(p["update_user_attributes"]),
                           "lifecycleDeactivate": st(p["deactivate_users"]),
                           "password": {"status": "DISABLED", "seed": "RANDOM",
                                        "change": "KEEP_EXISTING"}}},
            "_links": {"self": hint(
                f"{ctx.base}/api/v1/apps/{app['id']}/features/USER_PROVISIONING", "GET", "PUT")},
        }

    def list_features(self, ctx: Ctx, appId: str):
        app = self.s.find_app(appId)
        if not app.get("_provisioning"):
            # [spec] listFeaturesForApplication: an error when provisioning isn't enabled.
            raise validation_error("feature", [])
        return 200, [self._feature_body(ctx, app)]

    def get_feature(self, ctx: Ctx, appId: str, featureName: str):
        app = self.s.find_app(appId)
        if featureName not in ("USER_PROVISIONING", "INBOUND_PROVISIONING"):
            raise not_found(featureName, "ApplicationFeature")
        if not app.get("_provisioning") or featureName != "USER_PROVISIONING":
            raise validation_error("feature", [])
        return 200, self._feature_body(ctx, app)

    def list_push_mappings(self, ctx: Ctx, appId: str):
        app = self.s.find_app(appId)
        rows = sorted(self.s.push_mappings.get(appId, {}).values(), key=lambda m: m["_seq"])
        if ctx.q("sourceGroupId"):
            rows = [m for m in rows if m["sourceGroupId"] == ctx.q("sourceGroupId")]
        if ctx.q("status"):
            rows = [m for m in rows if m["status"] == ctx.q("status")]
        page = self.paginate(ctx, rows, default=100, maximum=1000)
        return 200, [self._render_mapping(ctx, app, m) for m in page]

    def _render_mapping(self, ctx: Ctx, app: JSON, m: JSON) -> JSON:
        out = public(m)
        out["_links"] = {"app": {"href": f"{ctx.base}/api/v1/apps/{app['id']}"},
                         "sourceGroup": {"href": f"{ctx.base}/api/v1/groups/{m['sourceGroupId']}"},
                         "targetGroup": {"href": f"{ctx.base}/api/v1/groups/{m['targetGroupId']}"}}
        return out

    def create_push_mapping(self, ctx: Ctx, appId: str):
        app = self.s.find_app(appId)
        body = ctx.json_body()
        if not isinstance(body, dict):
            raise malformed_body()
        prov = app.get("_provisioning")
        if not prov or not prov["push_groups"]:
            # [spec] GroupPushMapping tag: "You must have provisioning enabled in the target app"
            raise validation_error("appInstanceId", [
                "appInstanceId: Group push is not enabled for this app. Enable provisioning "
                "and Push Groups in the Admin Console first."])
        src = body.get("sourceGroupId")
        if not isinstance(src, str) or src not in self.s.groups:
            raise validation_error("sourceGroupId", [
                "sourceGroupId: The field cannot be left blank" if not src
                else f"sourceGroupId: group {src} does not exist"])
        tid, tname = body.get("targetGroupId"), body.get("targetGroupName")
        if (tid is None) == (tname is None):
            raise validation_error("targetGroupId", [
                "targetGroupId: exactly one of targetGroupId and targetGroupName is required"])
        status = body.get("status", "ACTIVE")
        if status not in ("ACTIVE", "INACTIVE"):
            raise validation_error("status", ["status: must be ACTIVE or INACTIVE"])
        for m in self.s.push_mappings[appId].values():
            if m["sourceGroupId"] == src:
                raise ApiError(400, "E0000195", "Api validation failed due to conflict: "
                               "sourceGroupId", ["sourceGroupId: this group is already pushed"])
        if tid is not None:
            tg = self.s.groups.get(tid)
            if tg is None or tg.get("_source") != appId:
                raise validation_error("targetGroupId", [
                    f"targetGroupId: {tid} is not a group of this app"])
        else:
            if not isinstance(tname, str) or not tname:
                raise validation_error("targetGroupName",
                                       ["targetGroupName: The field cannot be left blank"])
            tg = next((g for g in self.s.groups.values()
                       if g.get("_source") == appId and g["profile"]["name"] == tname), None)
            if tg is None:
                tg = self.s.add_group({"name": tname, "type": "APP_GROUP", "source_app": appId})
        now = self.clock.iso()
        m = {"id": new_id("gPm"), "created": now, "lastUpdated": now, "lastPush": now,
             "errorSummary": "", "sourceGroupId": src, "targetGroupId": tg["id"],
             "status": status, "_seq": self.s.next_seq()}
        self.s.push_mappings[appId][m["id"]] = m
        return 201, self._render_mapping(ctx, app, m)

    # -- groups & users ----------------------------------------------------------------------

    GROUP_SEARCH_FIELDS = {
        "profile.name": {"eq", "sw", "co"}, "profile.description": {"eq", "sw", "co"},
        "id": {"eq"}, "type": {"eq"}, "created": {"eq", "gt", "ge", "lt", "le"},
        "lastUpdated": {"eq", "gt", "ge", "lt", "le"},
        "lastMembershipUpdated": {"eq", "gt", "ge", "lt", "le"}, "source.id": {"eq"},
    }
    GROUP_FILTER_FIELDS = {"id": {"eq"}, "type": {"eq"},
                           "lastUpdated": {"eq", "gt", "ge", "lt", "le"},
                           "lastMembershipUpdated": {"eq", "gt", "ge", "lt", "le"}}

    def list_groups(self, ctx: Ctx):
        groups = sorted(self.s.groups.values(), key=lambda g: g["_seq"])

        def getter(g):
            return lambda f: g.get("_source") if f == "source.id" else dotted(g, f)
        search, filt, q = ctx.q("search"), ctx.q("filter"), ctx.q("q")
        try:
            if search:
                pred = parse_expression(search, self.GROUP_SEARCH_FIELDS)
                now = time.monotonic()
                groups = [g for g in groups
                          if g.get("_searchable_at", 0) <= now and pred(getter(g))]
            if filt:
                pred = parse_expression(filt, self.GROUP_FILTER_FIELDS)
                groups = [g for g in groups if pred(getter(g))]
        except ValueError as e:
            raise invalid_search(f"{'search' if search else 'filter'}: {e}")
        if q:
            ql = q.lower()
            groups = [g for g in groups if g["profile"]["name"].lower().startswith(ql)]
            # [spec] listGroups: "Paging and searching are currently mutually exclusive.
            # You can't page a query. The default limit for a query is 300 results."
            page = self.paginate(ctx, groups, default=300, maximum=10000, pageable=False)
        else:
            page = self.paginate(ctx, groups, default=10000, maximum=10000)
        return 200, [self.render_group(ctx, g) for g in page]

    def get_group(self, ctx: Ctx, groupId: str):
        g = self.s.groups.get(groupId)
        if g is None:
            raise not_found(groupId, "UserGroup")
        return 200, self.render_group(ctx, g)

    def list_group_users(self, ctx: Ctx, groupId: str):
        if groupId not in self.s.groups:
            raise not_found(groupId, "UserGroup")
        members = self.s.group_members(groupId)
        users = sorted((self.s.users[u] for u in members if u in self.s.users),
                       key=lambda u: u["_seq"])
        page = self.paginate(ctx, users, default=1000, maximum=1000)
        return 200, [self.render_user(ctx, u) for u in page]

    USER_SEARCH_FIELDS = {f"profile.{f}": {"eq", "sw", "co"}
                          for f in ("login", "email", "firstName", "lastName")}
    USER_SEARCH_FIELDS.update({"id": {"eq"}, "status": {"eq"}})

    def list_users(self, ctx: Ctx):
        users = sorted(self.s.users.values(), key=lambda u: u["_seq"])
        search = ctx.q("search") or ctx.q("filter")
        q = ctx.q("q")
        if search:
            try:
                pred = parse_expression(search, self.USER_SEARCH_FIELDS)
            except ValueError as e:
                raise invalid_search(f"search: {e}")
            users = [u for u in users if pred(lambda f, u=u: dotted(u, f))]
        if q:
            ql = q.lower()
            users = [u for u in users if any(
                (u["profile"].get(f) or "").lower().startswith(ql)
                for f in ("login", "email", "firstName", "lastName"))]
            # ref §4.1: `q` on List Users defaults to limit 10 and does not paginate.
            page = self.paginate(ctx, users, default=10, maximum=200, pageable=False)
        else:
            page = self.paginate(ctx, users, default=200, maximum=200)
        return 200, [self.render_user(ctx, u) for u in page]

    def get_user(self, ctx: Ctx, userId: str):
        u = self.s.find_user(userId)
        if u is None:
            raise not_found(userId, "User")
        return 200, self.render_user(ctx, u)

    # -- authorization servers (ref §2.5) ------------------------------------------------------

    def list_auth_servers(self, ctx: Ctx):
        servers = sorted(self.s.auth_servers.values(), key=lambda s: s["_seq"])
        q = (ctx.q("q") or "").lower()
        if q:
            servers = [s for s in servers if s["name"].lower().startswith(q)
                       or any(a.lower().startswith(q) for a in s["audiences"])]
        page = self.paginate(ctx, servers, default=200, maximum=200)
        return 200, [self.render_as(ctx, s) for s in page]

    def create_auth_server(self, ctx: Ctx):
        srv = self.s.create_auth_server(ctx.json_body())
        return 201, self.render_as(ctx, srv)

    def get_auth_server(self, ctx: Ctx, asId: str):
        if asId not in self.s.auth_servers and not re.fullmatch(r"aus[0-9A-Za-z]{17}", asId):
            # A name where an id belongs is refused as invalid rather than not found (issue 15,
            # seen on a real org; OKTA_EMULATOR.md "Authorization servers").
            raise validation_error("authServerId",
                                   [f"authServerId: '{asId}' is not a valid authorization "
                                    "server id"])
        return 200, self.render_as(ctx, self.s.find_as(asId))

    def put_auth_server(self, ctx: Ctx, asId: str):
        srv = self.s.find_as(asId)
        body = ctx.json_body()
        if not isinstance(body, dict):
            raise malformed_body()
        causes = []
        if not isinstance(body.get("name"), str) or not body["name"].strip():
            causes.append("name: The field cannot be left blank")
        aud = body.get("audiences")
        if not _is_str_list(aud) or len(aud) != 1:
            causes.append("audiences: exactly one audience is required")
        check_issuer_mode(body.get("issuerMode", srv["issuerMode"]), self.s.config, causes)
        if causes:
            raise validation_error(causes[0].split(":")[0], causes)
        srv.update({"name": body["name"], "description": body.get("description"),
                    "audiences": aud, "issuerMode": body.get("issuerMode", srv["issuerMode"]),
                    "lastUpdated": self.clock.iso()})
        return 200, self.render_as(ctx, srv)

    def delete_auth_server(self, ctx: Ctx, asId: str):
        srv = self.s.find_as(asId)
        if srv["id"] == "default":
            raise validation_error("id", ["id: the default authorization server cannot be deleted"])
        del self.s.auth_servers[srv["id"]]
        return 204, None

    def as_activate(self, ctx: Ctx, asId: str):
        self.s.find_as(asId)["status"] = "ACTIVE"
        return 204, None

    def as_deactivate(self, ctx: Ctx, asId: str):
        self.s.find_as(asId)["status"] = "INACTIVE"
        return 204, None

    def list_scopes(self, ctx: Ctx, asId: str):
        srv = self.s.find_as(asId)
        scopes = sorted(srv["_scopes"].values(), key=lambda s: s["_seq"])
        q = (ctx.q("q") or "").lower()
        if q:
            scopes = [s for s in scopes if s["name"].lower().startswith(q)]
        page = self.paginate(ctx, scopes, default=200, maximum=200)
        return 200, [self.render_scope(ctx, srv, s) for s in page]

    def create_scope(self, ctx: Ctx, asId: str):
        srv = self.s.find_as(asId)
        sc = self.s.validate_scope(srv, ctx.json_body(), None)
        sc.update({"id": new_id("scp"), "_seq": self.s.next_seq()})
        srv["_scopes"][sc["id"]] = sc
        return 201, self.render_scope(ctx, srv, sc)

    def _scope(self, srv: JSON, scopeId: str) -> JSON:
        sc = srv["_scopes"].get(scopeId)
        if sc is None:
            raise not_found(scopeId, "OAuth2Scope")
        return sc

    def get_scope(self, ctx: Ctx, asId: str, scopeId: str):
        srv = self.s.find_as(asId)
        return 200, self.render_scope(ctx, srv, self._scope(srv, scopeId))

    def put_scope(self, ctx: Ctx, asId: str, scopeId: str):
        srv = self.s.find_as(asId)
        sc = self._scope(srv, scopeId)
        new = self.s.validate_scope(srv, ctx.json_body(), sc)
        sc.update(new)
        return 200, self.render_scope(ctx, srv, sc)

    def delete_scope(self, ctx: Ctx, asId: str, scopeId: str):
        srv = self.s.find_as(asId)
        sc = self._scope(srv, scopeId)
        if sc.get("system"):
            raise validation_error("scope", ["scope: system scopes cannot be deleted"])
        del srv["_scopes"][scopeId]
        return 204, None

    def _policy(self, srv: JSON, policyId: str) -> JSON:
        p = srv["_policies"].get(policyId)
        if p is None:
            raise not_found(policyId, "Policy")
        return p

    def list_policies(self, ctx: Ctx, asId: str):
        srv = self.s.find_as(asId)
        pols = sorted(srv["_policies"].values(), key=lambda p: p["priority"])
        return 200, [self.render_policy(ctx, srv, p) for p in pols]

    def create_policy(self, ctx: Ctx, asId: str):
        srv = self.s.find_as(asId)
        p = self.s.create_policy(srv["id"], ctx.json_body())
        return 201, self.render_policy(ctx, srv, p)

    def get_policy(self, ctx: Ctx, asId: str, policyId: str):
        srv = self.s.find_as(asId)
        return 200, self.render_policy(ctx, srv, self._policy(srv, policyId))

    def put_policy(self, ctx: Ctx, asId: str, policyId: str):
        srv = self.s.find_as(asId)
        p = self.s.replace_policy(srv["id"], self._policy(srv, policyId), ctx.json_body())
        return 200, self.render_policy(ctx, srv, p)

    def delete_policy(self, ctx: Ctx, asId: str, policyId: str):
        srv = self.s.find_as(asId)
        self._policy(srv, policyId)
        del srv["_policies"][policyId]
        for i, p in enumerate(sorted(srv["_policies"].values(), key=lambda p: p["priority"]), 1):
            p["priority"] = i
        return 204, None

    def policy_activate(self, ctx: Ctx, asId: str, policyId: str):
        self._policy(self.s.find_as(asId), policyId)["status"] = "ACTIVE"
        return 204, None

    def policy_deactivate(self, ctx: Ctx, asId: str, policyId: str):
        self._policy(self.s.find_as(asId), policyId)["status"] = "INACTIVE"
        return 204, None

    def _rule(self, pol: JSON, ruleId: str) -> JSON:
        r = pol["_rules"].get(ruleId)
        if r is None:
            raise not_found(ruleId, "PolicyRule")
        return r

    def list_rules(self, ctx: Ctx, asId: str, policyId: str):
        srv = self.s.find_as(asId)
        pol = self._policy(srv, policyId)
        rules = sorted(pol["_rules"].values(), key=lambda r: r["priority"])
        return 200, [self.render_rule(ctx, srv, pol, r) for r in rules]

    def create_rule(self, ctx: Ctx, asId: str, policyId: str):
        srv = self.s.find_as(asId)
        pol = self._policy(srv, policyId)
        r = self.s.create_rule(srv["id"], pol["id"], ctx.json_body())
        return 201, self.render_rule(ctx, srv, pol, r)

    def get_rule(self, ctx: Ctx, asId: str, policyId: str, ruleId: str):
        srv = self.s.find_as(asId)
        pol = self._policy(srv, policyId)
        return 200, self.render_rule(ctx, srv, pol, self._rule(pol, ruleId))

    def put_rule(self, ctx: Ctx, asId: str, policyId: str, ruleId: str):
        srv = self.s.find_as(asId)
        pol = self._policy(srv, policyId)
        r = self._rule(pol, ruleId)
        new = self.s._validate_rule(srv, pol, ctx.json_body(), r)
        prio = new.pop("priority") or r["priority"]
        r.update(new)
        r["lastUpdated"] = self.clock.iso()
        self.s._place(pol["_rules"], r, prio)
        return 200, self.render_rule(ctx, srv, pol, r)

    def delete_rule(self, ctx: Ctx, asId: str, policyId: str, ruleId: str):
        srv = self.s.find_as(asId)
        pol = self._policy(srv, policyId)
        self._rule(pol, ruleId)
        del pol["_rules"][ruleId]
        for i, r in enumerate(sorted(pol["_rules"].values(), key=lambda r: r["priority"]), 1):
            r["priority"] = i
        return 204, None

    def rule_activate(self, ctx: Ctx, asId: str, policyId: str, ruleId: str):
        self._rule(self._policy(self.s.find_as(asId), policyId), ruleId)["status"] = "ACTIVE"
        return 204, None

    def rule_deactivate(self, ctx: Ctx, asId: str, policyId: str, ruleId: str):
        self._rule(self._policy(self.s.find_as(asId), policyId), ruleId)["status"] = "INACTIVE"
        return 204, None

    # =======================================================================================
    # Control API (/_control/...): not Okta; for tests only.
    # =======================================================================================

    def control(self, method: str, path: str, query: Dict[str, List[str]], raw: bytes,
                base: str) -> Tuple[int, Any]:
        with self.lock:
            try:
                body: Any = {}
                if raw.strip():
                    try:
                        body = json.loads(raw.decode("utf-8"))
                    except (ValueError, UnicodeDecodeError):
                        return 400, {"error": "body is not valid JSON"}
                sub = path[len(CONTROL_PREFIX):] or "/"
                key = (method, sub)
                if key == ("GET", "/health"):
                    return 200, {"ok": True}
                if key == ("POST", "/authorize/approve"):
                    return self.authorize_approve(body, base)
                if key == ("GET", "/authorize/issued"):  # for the canary test: what was issued
                    return 200, self.s.__dict__.get("signin_issued", [])
                if key == ("POST", "/reset"):
                    self.s.reset()
                    return 200, {"ok": True}
                if key == ("GET", "/state"):
                    return 200, self.dump_state(base)
                if key == ("POST", "/seed"):
                    return self.seed(body)
                if key == ("GET", "/log"):
                    since = int((query.get("since") or ["0"])[0])
                    return 200, [e for e in self.s.log if e["seq"] > since]
                if key == ("DELETE", "/log"):
                    self.s.log.clear()
                    return 200, {"ok": True}
                if key == ("GET", "/config"):
                    return 200, self.s.config
                if key == ("POST", "/config"):
                    return self.set_config(body)
                if key == ("GET", "/faults"):
                    return 200, self.s.faults
                if key == ("POST", "/faults"):
                    return self.add_fault(body)
                if key == ("DELETE", "/faults"):
                    self.s.faults.clear()
                    return 200, {"ok": True}
                if key == ("POST", "/console/provisioning"):
                    return self.console_provisioning(body)
                if key == ("DELETE", "/console/provisioning"):
                    app_key = (query.get("app") or [None])[0] or body.get("app")
                    app = self._control_app(app_key)
                    app["_provisioning"] = None
                    return 200, {"ok": True}
                if key == ("POST", "/memberships"):
                    return self.memberships(body)
                if key == ("POST", "/expire-tokens"):
                    for t in self.s.access_tokens.values():
                        t["exp"] = 0
                    return 200, {"expired": len(self.s.access_tokens)}
                return 404, {"error": f"no control endpoint {method} {path}"}
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                return 400, {"error": str(e) or type(e).__name__}

    def _control_app(self, key: Any) -> JSON:
        if not isinstance(key, str) or not key:
            raise ValueError("'app' (app id or exact label) is required")
        if key in self.s.apps:
            return self.s.apps[key]
        hits = [a for a in self.s.apps.values() if a["label"] == key]
        if len(hits) != 1:
            raise ValueError(f"app {key!r}: {len(hits)} apps match")
        return hits[0]

    def seed(self, body: Any) -> Tuple[int, Any]:
        if not isinstance(body, dict):
            raise ValueError("seed body must be an object")
        unknown = set(body) - {"users", "groups", "api_tokens", "service_apps", "apps"}
        if unknown:
            raise ValueError(f"unknown seed keys: {sorted(unknown)}")
        out: JSON = {"users": [], "groups": [], "api_tokens": [], "service_apps": [], "apps": []}
        for u in body.get("users", []):
            user = self.s.add_user(u if isinstance(u, dict) else {"login": u})
            out["users"].append({"login": user["profile"]["login"], "id": user["id"]})
        for g in body.get("groups", []):
            grp = self.s.add_group(g if isinstance(g, dict) else {"name": g})
            out["groups"].append({"name": grp["profile"]["name"], "id": grp["id"]})
        for t in body.get("api_tokens", []):
            if isinstance(t, str):
                t = {"token": t}
            tok = t.get("token")
            if not isinstance(tok, str) or not tok:
                raise ValueError("api_tokens[].token is required")
            roles = t.get("roles", ["SUPER_ADMIN"])
            bad = [r for r in roles if r not in ROLE_PERMISSIONS]
            if bad:
                raise ValueError(f"unknown roles {bad}; known: {sorted(ROLE_PERMISSIONS)}")
            self.s.api_tokens[tok] = {"name": t.get("name", "token"), "roles": list(roles)}
            out["api_tokens"].append({"name": t.get("name", "token"), "token": sha_prefix(tok)})
        for sa in body.get("service_apps", []):
            out["service_apps"].append(self._seed_service_app(sa))
        for a in body.get("apps", []):
            if not isinstance(a, dict):
                raise ValueError("apps[] must be app objects as for POST /api/v1/apps")
            a = dict(a)
            status = a.pop("status", "ACTIVE")
            try:
                app = self.s.create_app(a, status == "ACTIVE")
            except ApiError as e:
                raise ValueError(f"apps[]: {e.summary}: {e.causes}")
            out["apps"].append({"label": app["label"], "id": app["id"],
                                "client_id": app.get("credentials", {}).get("oauthClient", {}).get("client_id")})
        return 200, out

    def _seed_service_app(self, sa: Any) -> JSON:
        if not isinstance(sa, dict):
            raise ValueError("service_apps[] must be objects")
        scopes = sa.get("scopes", [])
        bad = [x for x in scopes if x not in KNOWN_OKTA_SCOPES]
        if bad:
            raise ValueError(f"unknown Okta scopes {bad}")
        roles = sa.get("roles", [])
        badr = [r for r in roles if r not in ROLE_PERMISSIONS]
        if badr:
            raise ValueError(f"unknown roles {badr}")
        # The app's public key set (settings.oauthClient.jwks), from a PEM as the admin
        # pastes it into the console, or JWKs as the API takes them.
        keys: List[JSON] = []
        if sa.get("public_key_pem"):
            keys.append(jwk_from_public_pem(sa["public_key_pem"], sa.get("key_id", "k1")))
        for k in sa.get("jwks", []):
            if not isinstance(k, dict) or k.get("kty") not in ("RSA", "EC"):
                raise ValueError("service_apps[].jwks[] must be RSA or EC public JWKs")
            keys.append(dict(k))
        if not keys:
            raise ValueError("service_apps[] need public_key_pem (or jwks): the emulator "
                             "verifies client assertions against the app's keys")
        body = {"name": "oidc_client", "label": sa.get("label", "kiro-onboard automation"),
                "signOnMode": "OPENID_CONNECT",
                "credentials": {"oauthClient": {"token_endpoint_auth_method": "private_key_jwt",
                                                "client_id": sa.get("client_id")}},
                "settings": {"oauthClient": {"application_type": "service",
                                             "grant_types": ["client_credentials"],
                                             "jwks": {"keys": copy.deepcopy(keys)}}}}
        if body["credentials"]["oauthClient"]["client_id"] is None:
            del body["credentials"]["oauthClient"]["client_id"]
        cid = body["credentials"]["oauthClient"].get("client_id")
        if cid and self.s.app_by_client_id(cid):
            raise ValueError(f"client_id {cid} already exists")
        try:
            app = self.s.create_app(body, True, service_jwks_ok=True)
        except ApiError as e:
            raise ValueError(f"service_apps[]: {e.summary}: {e.causes}")
        # Service apps are ordinary apps: they show up in GET /api/v1/apps (and in q= searches).
        cid = app["credentials"]["oauthClient"]["client_id"]
        self.s.service_apps[cid] = {"app_id": app["id"], "scopes": list(scopes),
                                    "roles": list(roles),
                                    "keys": keys,
                                    # New API service apps require DPoP by default (Admin
                                    # Console: "Require Demonstrating Proof of Possession (DPoP)
                                    # header in token requests", on for new apps; ref §3.2).
                                    "require_dpop": bool(sa.get("require_dpop", True))}
        return {"client_id": cid, "id": app["id"], "label": app["label"]}

    def set_config(self, body: Any) -> Tuple[int, Any]:
        if not isinstance(body, dict):
            raise ValueError("config body must be an object")
        known = {"page_size", "rate_limit", "clock_skew_seconds", "api_access_management",
                 "api_access_management_status", "search_lag_seconds", "published_api_only",
                 "next_link_base", "concurrency_limit", "api_dpop_nonce", "service_app_share",
                 "custom_domain"}
        unknown = set(body) - known
        if unknown:
            raise ValueError(f"unknown config keys {sorted(unknown)}; known: {sorted(known)}")
        cfg = self.s.config
        if "page_size" in body:
            ps = body["page_size"]
            if ps is not None and (not isinstance(ps, int) or ps < 1):
                raise ValueError("page_size must be a positive integer or null")
            cfg["page_size"] = ps
        if "rate_limit" in body:
            rl = body["rate_limit"]
            if rl is None:
                rl = {"limit": DEFAULT_RATE_LIMIT, "window_seconds": DEFAULT_RATE_WINDOW,
                      "shared": False}
            if not isinstance(rl, dict) or not isinstance(rl.get("limit"), int) or rl["limit"] < 0:
                raise ValueError("rate_limit needs an integer 'limit' >= 0")
            ws = rl.get("window_seconds", DEFAULT_RATE_WINDOW)
            if not isinstance(ws, (int, float)) or ws <= 0:
                raise ValueError("rate_limit.window_seconds must be > 0")
            cfg["rate_limit"] = {"limit": rl["limit"], "window_seconds": float(ws),
                                 "shared": bool(rl.get("shared", False))}
            self.s.buckets.clear()
        if "clock_skew_seconds" in body:
            sk = body["clock_skew_seconds"]
            if not isinstance(sk, (int, float)):
                raise ValueError("clock_skew_seconds must be a number")
            cfg["clock_skew_seconds"] = sk
            self.clock.skew = float(sk)
        if "search_lag_seconds" in body:
            lag = body["search_lag_seconds"]
            if not isinstance(lag, (int, float)) or lag < 0:
                raise ValueError("search_lag_seconds must be a number >= 0")
            cfg["search_lag_seconds"] = float(lag)
        if "service_app_share" in body:
            share = body["service_app_share"]
            if not isinstance(share, (int, float)) or not 0 < share <= 1:
                raise ValueError("service_app_share must be a fraction in (0, 1]")
            cfg["service_app_share"] = float(share)
            self.s.buckets.clear()
        if "api_dpop_nonce" in body:
            cfg["api_dpop_nonce"] = bool(body["api_dpop_nonce"])
        if "custom_domain" in body:
            cd = body["custom_domain"]
            if cd is not None and (not isinstance(cd, str) or not re.match(r"^https://[^/]+$", cd)):
                raise ValueError("custom_domain must be https://host (no path) or null")
            cfg["custom_domain"] = cd
        if "concurrency_limit" in body:
            cl = body["concurrency_limit"]
            if not isinstance(cl, int) or cl < 1:
                raise ValueError("concurrency_limit must be a positive integer")
            cfg["concurrency_limit"] = cl
        if "published_api_only" in body:
            cfg["published_api_only"] = bool(body["published_api_only"])
        if "next_link_base" in body:
            nb = body["next_link_base"]
            if nb is not None and (not isinstance(nb, str) or not re.match(r"^https?://[^/]+$", nb)):
                raise ValueError("next_link_base must be scheme://host[:port] or null")
            cfg["next_link_base"] = nb
        if "api_access_management" in body:
            cfg["api_access_management"] = bool(body["api_access_management"])
        if "api_access_management_status" in body:
            if body["api_access_management_status"] not in (401, 403):
                raise ValueError("api_access_management_status must be 401 or 403")
            cfg["api_access_management_status"] = body["api_access_management_status"]
        return 200, cfg

    def add_fault(self, body: Any) -> Tuple[int, Any]:
        if not isinstance(body, dict):
            raise ValueError("fault body must be an object")
        unknown = set(body) - {"status", "count", "path_prefix", "method", "commit",
                               "reset_seconds"}
        if unknown:
            raise ValueError(f"unknown fault keys {sorted(unknown)}")
        st = body.get("status")
        if st not in (429, 500, 502, 503, 504):
            raise ValueError("status must be 429, 500, 502, 503 or 504")
        count = body.get("count", 1)
        if not isinstance(count, int) or count < 1:
            raise ValueError("count must be a positive integer")
        f = {"status": st, "count": count, "path_prefix": body.get("path_prefix"),
             "method": body.get("method"), "commit": bool(body.get("commit", False)),
             "reset_seconds": float(body.get("reset_seconds", 1)), "fired": 0}
        if f["path_prefix"] and f["path_prefix"].startswith(CONTROL_PREFIX):
            raise ValueError("faults never apply to the control API")
        self.s.faults.append(f)
        return 200, f

    def console_provisioning(self, body: Any) -> Tuple[int, Any]:
        """Simulate the admin finishing Provisioning -> Integration (base URL + token,
        'Test API Credentials', Save) and Provisioning -> To App in the console (ref §1.5)."""
        if not isinstance(body, dict):
            raise ValueError("body must be an object")
        app = self._control_app(body.get("app"))
        if app["signOnMode"] == "OPENID_CONNECT":
            raise ValueError("OIDC apps have no Provisioning tab (ref §1.5: Okta provides SCIM "
                             "for SAML and SWA apps, not OpenID Connect apps)")
        base_url = body.get("base_url")
        token = body.get("token")
        if not isinstance(base_url, str) or not re.match(r"^https?://[^/\s]+", base_url):
            raise ValueError("base_url must be an http(s) URL")
        if base_url.endswith("/"):
            # ref §1.5: "make sure there is no / at the end or link validation in Okta will fail"
            raise ValueError("Test API Credentials failed: the base URL must not end with '/'")
        if not isinstance(token, str) or not token:
            raise ValueError("token is required")
        sync = body.get("sync_state", "SYNCHRONIZED")
        if sync not in ("SYNCHRONIZED", "ERROR", "OUT_OF_SYNC", "SYNCING"):
            raise ValueError("sync_state must be SYNCHRONIZED, ERROR, OUT_OF_SYNC or SYNCING")
        api = body.get("connection_api", "UNKNOWN")
        if api not in ("UNKNOWN", "REFLECTS_CONSOLE"):
            raise ValueError("connection_api must be UNKNOWN or REFLECTS_CONSOLE")
        app["_provisioning"] = {
            "base_url": base_url, "token_sha": sha_prefix(token),
            "create_users": bool(body.get("create_users", True)),
            "update_user_attributes": bool(body.get("update_user_attributes", True)),
            "deactivate_users": bool(body.get("deactivate_users", True)),
            "push_groups": bool(body.get("push_groups", True)),
            "sync_state": sync, "connection_api": api, "completed_at": self.clock.iso(),
        }
        return 200, {"app": app["id"], "features": self.s.app_features(app)}

    def memberships(self, body: Any) -> Tuple[int, Any]:
        if not isinstance(body, dict):
            raise ValueError("body must be an object")
        g = self.s.find_group(body.get("group") or "")
        if g is None:
            raise ValueError(f"unknown group {body.get('group')!r}")
        if g["id"] == self.s.everyone_id:
            raise ValueError("Everyone membership is implicit")
        for login in body.get("add", []):
            u = self.s.find_user(login)
            if u is None:
                raise ValueError(f"unknown user {login!r}")
            self.s.memberships[g["id"]].setdefault(u["id"], self.s.next_seq())
        for login in body.get("remove", []):
            u = self.s.find_user(login)
            if u is not None:
                self.s.memberships[g["id"]].pop(u["id"], None)
        g["lastMembershipUpdated"] = self.clock.iso()
        return 200, {"group": g["id"], "members": sorted(
            self.s.users[u]["profile"]["login"] for u in self.s.memberships[g["id"]])}

    def dump_state(self, base: str) -> JSON:
        """Everything, with every secret replaced by a sha256 prefix."""
        s = self.s

        def scrub_app(a: JSON) -> JSON:
            out = public(a)
            oc = out.get("credentials", {}).get("oauthClient")
            if oc and "client_secret" in oc:
                oc["client_secret"] = sha_prefix(oc["client_secret"])
            out["assigned_groups"] = {g: {"priority": ga["priority"]}
                                      for g, ga in a["_groups"].items()}
            out["direct_users"] = sorted(a["_users"])
            out["provisioning"] = a.get("_provisioning")
            out["features"] = s.app_features(a)
            out["push_mappings"] = [public(m) for m in s.push_mappings.get(a["id"], {}).values()]
            return out

        return {
            "org_url": base,
            "config": s.config,
            "apps": [scrub_app(a) for a in sorted(s.apps.values(), key=lambda a: a["_seq"])],
            "groups": [dict(public(g), members=sorted(
                s.users[u]["profile"]["login"] for u in s.group_members(g["id"])
                if u in s.users)) for g in sorted(s.groups.values(), key=lambda g: g["_seq"])],
            "users": [public(u) for u in sorted(s.users.values(), key=lambda u: u["_seq"])],
            "authorization_servers": [dict(public(a), scopes=[public(x) for x in a["_scopes"].values()],
                                           policies=[dict(public(p), rules=[public(r) for r in p["_rules"].values()])
                                                     for p in a["_policies"].values()])
                                      for a in s.auth_servers.values()],
            "api_tokens": [{"token": sha_prefix(t), **v} for t, v in s.api_tokens.items()],
            "service_apps": [{"client_id": c, **v} for c, v in s.service_apps.items()],
            "access_tokens": [{"token": sha_prefix(t), "client_id": v["client_id"],
                               "scopes": v["scopes"], "expired": v["exp"] <= self.clock.now()}
                              for t, v in s.access_tokens.items()],
            "faults": s.faults,
            "log_entries": len(s.log),
            "unpublished_requests": s.unpublished,
        }


# ---------------------------------------------------------------------------------------
# HTTP plumbing
# ---------------------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "okta-emulator"
    sys_version = ""
    emulator: Emulator = None  # type: ignore[assignment]
    verbose = False

    def version_string(self) -> str:
        return "okta-emulator"

    def date_time_string(self, timestamp: Optional[float] = None) -> str:  # noqa: D401
        return self.emulator.clock.http_date()

    def log_message(self, fmt: str, *args: Any) -> None:
        if self.verbose:
            _err("%s %s" % (self.address_string(), fmt % args))

    def _read_body(self) -> bytes:
        if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            chunks = []
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _send(self, status: int, headers: List[Tuple[str, str]], body: Optional[Any],
              request_id: Optional[str] = None) -> None:
        page = isinstance(body, HtmlPage)
        data = (b"" if body is None or status == 204
                else body.encode("utf-8") if page else json.dumps(body).encode("utf-8"))
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", "text/html;charset=utf-8" if page else "application/json")
            self.send_header("Content-Length", str(len(data)))
        if request_id:
            self.send_header("X-Okta-Request-Id", request_id)
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    def _handle(self) -> None:
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        split = urlsplit(self.path)
        path = split.path
        query = parse_qs(split.query, keep_blank_values=True)
        host = self.headers.get("Host") or "%s:%d" % self.server.server_address[:2]
        base = f"http://{host}"
        em = self.emulator
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            status, out = em.control(self.command, path, query, body, base)
            self._send(status, [("Cache-Control", "no-store")], out)
            return
        ctx = Ctx(base, path, query, split.query, body, self.headers, self.command)
        request_id = _rand(27)
        t0 = time.time()
        # Okta's concurrent rate limit: at most so many requests in flight per org (75 for
        # non-agent traffic, help.okta.com "API rate limits" / developer.okta.com
        # docs/reference/rl-additional-limits/ "Concurrent rate limits"); over it, 429 E0000047
        # with X-Rate-Limit-Limit 0.
        with em.inflight_lock:
            em.inflight += 1
            over = em.inflight > int(em.s.config.get("concurrency_limit") or CONCURRENCY_LIMIT)
        try:
            if over:
                e = rate_limited()
                status, headers, out = 429, [("X-Rate-Limit-Limit", "0"), ("X-Rate-Limit-Remaining", "0"),
                                             ("X-Rate-Limit-Reset", str(int(em.clock.now()) + 1))], e.body()
            else:
                status, headers, out = em.handle(ctx)
        except Exception:  # a bug in the emulator: report it like Okta's 500
            import traceback
            traceback.print_exc(file=sys.stderr)
            status, headers, out = 500, [], ApiError(500, "E0000009", "Internal Server Error").body()
        finally:
            with em.inflight_lock:
                em.inflight -= 1
        headers = headers + [("Cache-Control", "no-cache, no-store"), ("Pragma", "no-cache"),
                             ("Expires", "0")] if not any(
            k == "Cache-Control" for k, _ in headers) else headers
        with em.lock:
            em.s.log_seq += 1
            auth = (self.headers.get("Authorization") or "").split(" ")[0] or None
            em.s.log.append({
                "seq": em.s.log_seq, "time": round(t0, 3), "server_time": em.clock.iso(),
                "method": self.command, "path": path, "query": split.query, "status": status,
                "request_id": request_id, "auth": auth if auth in ("SSWS", "Bearer", "Basic", "DPoP") else (
                    "other" if auth else None),
                "error_code": out.get("errorCode") or out.get("error") if isinstance(out, dict) else None,
                "retry_for": self.headers.get("X-Okta-Retry-For"),
                "retry_count": self.headers.get("X-Okta-Retry-Count"),
                "user_agent": self.headers.get("User-Agent"),
            })
        self._send(status, headers, out, request_id)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionResetError, BrokenPipeError):
            self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    parser.add_argument("--no-api-access-management", action="store_true",
                        help="behave like an org without the API Access Management add-on")
    parser.add_argument("--api-token", action="append", default=[],
                        help="pre-register an SSWS token (SUPER_ADMIN) that survives /reset")
    parser.add_argument("--exit-on-stdin-eof", action="store_true",
                        help="also shut down when stdin reaches EOF (parent went away)")
    parser.add_argument("--verbose", action="store_true", help="log requests to stderr")
    parser.add_argument("--search-lag-seconds", type=float, default=DEFAULT_SEARCH_LAG,
                        help="how long a new group stays missing from `search` results "
                             "(eventually consistent, as Okta's List Groups documents)")
    args = parser.parse_args(argv)

    stop = stop_on_signals()

    pkg = _okta_package_dir()
    if pkg is None:
        _err("the `okta` package (Okta's published API description) is not installed: "
             "run scripts/setup-test-env")
        return 2
    published = PublishedApi(load_published_api(pkg))

    clock = Clock()
    state = State(clock, not args.no_api_access_management, list(args.api_token),
                  args.search_lag_seconds)
    emulator = Emulator(state, clock, published)
    Handler.emulator = emulator
    Handler.verbose = args.verbose
    try:
        server = Server((args.host, args.port), Handler)
    except OSError as e:
        _err(f"cannot listen on {args.host}:{args.port}: {e}")
        return 2
    return serve(server, stop, args.exit_on_stdin_eof, "okta_emulator")


if __name__ == "__main__":
    sys.exit(main())
