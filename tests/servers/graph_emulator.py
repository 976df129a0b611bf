#!/usr/bin/env python3
"""Stateful Microsoft Graph + Microsoft identity platform emulator for kiro-onboard tests.

Usage (any python3 >= 3.9, standard library only)::

    python3 tests/servers/graph_emulator.py --host 127.0.0.1 --port 0 \\
        [--tenant-id UUID] [--tenant-domain example.onmicrosoft.com] [--exit-on-stdin-eof]

``--port 0`` binds a free port.  Once the socket is listening the emulator prints exactly
one line ``READY <port>`` to stdout (flushed); nothing else ever goes to stdout.
SIGTERM / SIGINT stop it quietly with exit status 0.

One port serves both hosts the tool talks to:

* Microsoft Graph (``/v1.0/...``; ``/beta/...`` only where the reference needs it) -> set
  ``KIRO_ONBOARD_GRAPH_URL=http://127.0.0.1:<port>``
* the Microsoft identity platform (``/{tenant}/oauth2/v2.0/devicecode`` and ``/token``) -> set
  ``KIRO_ONBOARD_LOGIN_URL=http://127.0.0.1:<port>``

It is written from ``reference/entra-graph.md`` (quoted as "ref §x.y" in comments).  It is
not a mock: requests are validated, state is kept, permissions are checked, and Graph's
unpleasant behaviour is reproduced (paging with @odata.nextLink, 429 + Retry-After,
404 right after create, scopes that must be disabled before removal, the schema that only
accepts a full PUT).  A control API under ``/_control/`` (never under ``/v1.0``, ``/beta``
or a tenant path) seeds data and injects faults.  See ``tests/servers/GRAPH_EMULATOR.md``.
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import html
import json
import re
import secrets
import string
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from emulators.base.serve import serve, stop_on_signals  # tests/servers/emulators/base/serve.py

JSON = Dict[str, Any]

CONTROL_PREFIX = "/_control"
GRAPH_RESOURCE = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
CUSTOM_TEMPLATE_ID = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621"  # ref §2.1
ROLE_USER_ID = "18d14569-c3bd-439b-9a66-3a2aee01d14f"  # ref §2.2
ROLE_MSIAM_ID = "b9632174-c057-4f7e-951b-be3adc52bfe6"  # ref §2.2
ZERO_GUID = "00000000-0000-0000-0000-000000000000"
GRAPH_CLI_CLIENT = "14d82eec-204b-4c2f-b7e8-296a70dab67e"  # ref §1.2
AZURE_CLI_CLIENT = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"  # ref §1.2
CUSTOM_HOMEPAGE = ("https://account.activedirectory.windowsazure.com:444/applications/"
                   "default.aspx?metadata=customappsso|ISV9.1|primary|z")  # ref §2.2
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

# Everything the tool needs (brief; ref §1.2/§1.5).  Default for registered clients/users.
DEFAULT_PERMISSIONS = ["Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All",
                       "Synchronization.ReadWrite.All", "Group.Read.All", "Directory.Read.All"]

# Graph permissions the emulator knows (anything else in an explicit scope -> AADSTS70011).
KNOWN_GRAPH_PERMISSIONS = {
    "Application.Read.All", "Application.ReadWrite.All", "Application.ReadWrite.OwnedBy",
    "AppRoleAssignment.ReadWrite.All", "Synchronization.Read.All",
    "Synchronization.ReadWrite.All", "Group.Read.All", "Group.ReadWrite.All",
    "GroupMember.Read.All", "Directory.Read.All", "Directory.ReadWrite.All", "User.Read",
    "User.Read.All", "User.ReadBasic.All", "User.ReadWrite.All", "Organization.Read.All",
    "AuditLog.Read.All",
}
OIDC_SCOPES = {"openid", "profile", "email", "offline_access"}
ADMIN_ROLES = {"Global Administrator", "Application Administrator",
               "Cloud Application Administrator"}  # ref §1.5 directory roles

# ---------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------

_B62 = string.ascii_letters + string.digits
GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _rand(n: int, alphabet: str = _B62) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def new_guid() -> str:
    return str(uuid.uuid4())


def is_guid(v: Any) -> bool:
    return isinstance(v, str) and bool(GUID_RE.match(v))


def sha_prefix(secret: str) -> str:
    return "sha256:" + hashlib.sha256(secret.encode("utf-8")).hexdigest()[:12]


def sha_full(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def iso(t: Optional[float] = None) -> str:
    t = time.time() if t is None else t
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def iso_inner(t: Optional[float] = None) -> str:
    """innerError.date format (Graph: no zone designator)."""
    t = time.time() if t is None else t
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(part: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]+", part or ""):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _err(msg: str) -> None:
    try:
        print(f"graph_emulator: {msg}", file=sys.stderr, flush=True)
    except Exception:  # pragma: no cover - stderr closed
        pass


def strip_private(obj: Any) -> Any:
    """Deep copy without emulator-private keys (those starting with '_')."""
    if isinstance(obj, dict):
        return {k: strip_private(v) for k, v in obj.items() if not k.startswith("_")}
    if isinstance(obj, list):
        return [strip_private(v) for v in obj]
    return obj


# ---------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------


class GraphError(Exception):
    """A Graph error: {"error": {"code", "message", "innerError": {...}}} (ref §7.1)."""

    def __init__(self, status: int, code: str, message: str,
                 headers: Optional[List[Tuple[str, str]]] = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or []


def not_found(ident: str) -> GraphError:
    return GraphError(404, "Request_ResourceNotFound",
                      f"Resource '{ident}' does not exist or one of its queried reference-property "
                      "objects are not present.")


def bad_request(message: str, code: str = "Request_BadRequest") -> GraphError:
    return GraphError(400, code, message)


def sync_error(status: int, message: str, code: str = "UnknownError",
               sync_code: Optional[str] = None) -> GraphError:
    """Synchronization errors: ref §7.1 'sync errors are often UnknownError with a JSON
    string from syncfabric inside message'."""
    if sync_code:
        message = json.dumps({"Message": message, "Code": sync_code, "Target": None,
                              "Details": None, "Innererror": None, "InnerError": None})
    return GraphError(status, code, message)


class OAuthError(Exception):
    """An identity-platform error (ref §1.1: {error, error_description 'AADSTSnnnn: …',
    error_codes, timestamp, trace_id, correlation_id})."""

    def __init__(self, status: int, error: str, aadsts: int, description: str,
                 suberror: Optional[str] = None) -> None:
        super().__init__(f"{error} AADSTS{aadsts}")
        self.status = status
        self.error = error
        self.aadsts = aadsts
        self.description = description
        self.suberror = suberror

    def body(self, correlation_id: Optional[str] = None) -> JSON:
        trace = new_guid()
        corr = correlation_id or new_guid()
        ts = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
        out: JSON = {
            "error": self.error,
            "error_description": (f"AADSTS{self.aadsts}: {self.description}\r\nTrace ID: {trace}"
                                  f"\r\nCorrelation ID: {corr}\r\nTimestamp: {ts}"),
            "error_codes": [self.aadsts],
            "timestamp": ts,
            "trace_id": trace,
            "correlation_id": corr,
            "error_uri": f"https://login.microsoftonline.com/error?code={self.aadsts}",
        }
        if self.suberror:
            out["suberror"] = self.suberror
        return out


# ---------------------------------------------------------------------------------------
# OData $filter (the subset the tool needs: eq / and / startswith; ref §3, §7.4)
# ---------------------------------------------------------------------------------------

_FILTER_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<lp>\()|(?P<rp>\))|(?P<comma>,)|"
    r"(?P<word>[A-Za-z_][A-Za-z0-9_./]*)|(?P<num>-?\d+))")


def parse_filter(expr: str, fields: Dict[str, str], resource: str) -> Callable[[JSON], bool]:
    """Parse `a eq 'x' and b eq 'y'`, `startswith(a,'x')`, `b eq true`.  `fields` maps
    property name -> type ('str' | 'bool').  Anything else -> Request_UnsupportedQuery, and
    operators that need advanced queries (ne, not, endswith, or…) say so (ref §7.4)."""
    toks: List[Tuple[str, str]] = []
    pos = 0
    while pos < len(expr):
        if expr[pos:].strip() == "":
            break
        m = _FILTER_TOKEN.match(expr, pos)
        if not m or m.end() == pos:
            raise bad_request(f"Invalid filter clause: syntax error at position {pos} in '{expr}'.")
        kind = m.lastgroup or ""
        toks.append((kind, m.group(kind)))
        pos = m.end()
    i = 0
    preds: List[Callable[[JSON], bool]] = []

    def unsupported(prop: str) -> GraphError:
        return GraphError(400, "Request_UnsupportedQuery",
                          f"Unsupported or invalid query filter clause specified for property "
                          f"'{prop}' of resource '{resource}'.")

    def literal(tok: Tuple[str, str], prop: str) -> Any:
        kind, val = tok
        if fields[prop] == "bool":
            if kind == "word" and val in ("true", "false"):
                return val == "true"
            raise bad_request(f"A binary operator with incompatible types was detected. Found "
                              f"operand types 'Edm.Boolean' and '{kind}' for operator kind 'Equal'.")
        if kind != "str":
            raise bad_request(f"A binary operator with incompatible types was detected. Found "
                              f"operand types 'Edm.String' and 'Edm.Int32' for operator kind 'Equal'.")
        return val[1:-1].replace("''", "'")

    while True:
        if i >= len(toks):
            raise bad_request(f"Invalid filter clause: expression expected at the end of '{expr}'.")
        kind, val = toks[i]
        if kind == "word" and val.lower() == "startswith" and i + 1 < len(toks) and toks[i + 1][0] == "lp":
            try:
                _, prop = toks[i + 2]
                if toks[i + 3][0] != "comma" or toks[i + 5][0] != "rp":
                    raise IndexError
            except IndexError:
                raise bad_request(f"Invalid filter clause: '{expr}'.") from None
            if prop not in fields or fields[prop] != "str":
                raise unsupported(prop)
            lit = literal(toks[i + 4], prop)
            preds.append(lambda o, p=prop, v=lit: isinstance(o.get(p), str)
                         and o[p].lower().startswith(v.lower()))
            i += 6
        elif kind == "word" and val.lower() in ("endswith", "not", "contains"):
            raise GraphError(400, "Request_UnsupportedQuery",
                             f"Operator '{val}' is not supported because the required parameters "
                             "might be missing. Try adding $count=true query parameter and "
                             "ConsistencyLevel:eventual header. Refer to "
                             "https://aka.ms/graph-docs/advanced-queries for more information")
        elif kind == "word":
            prop = val
            if i + 2 >= len(toks):
                raise bad_request(f"Invalid filter clause: '{expr}'.")
            op = toks[i + 1][1].lower() if toks[i + 1][0] == "word" else ""
            if op == "ne":
                raise GraphError(400, "Request_UnsupportedQuery",
                                 "Operator 'ne' is not supported because the required parameters "
                                 "might be missing. Try adding $count=true query parameter and "
                                 "ConsistencyLevel:eventual header. Refer to "
                                 "https://aka.ms/graph-docs/advanced-queries for more information")
            if op != "eq":
                raise bad_request(f"Invalid filter clause: '{expr}'.")
            if prop not in fields:
                raise unsupported(prop)
            lit = literal(toks[i + 2], prop)
            if fields[prop] == "str":
                # directory string comparisons are case-insensitive
                preds.append(lambda o, p=prop, v=lit: isinstance(o.get(p), str)
                             and o[p].lower() == v.lower())
            else:
                preds.append(lambda o, p=prop, v=lit: bool(o.get(p)) == v)
            i += 3
        else:
            raise bad_request(f"Invalid filter clause: '{expr}'.")
        if i >= len(toks):
            break
        kind, val = toks[i]
        if kind == "word" and val.lower() == "and":
            i += 1
            continue
        if kind == "word" and val.lower() == "or":
            raise GraphError(400, "Request_UnsupportedQuery",
                             "Operator 'or' is not supported by the emulator (see GRAPH_EMULATOR.md).")
        raise bad_request(f"Invalid filter clause: unexpected '{val}' in '{expr}'.")
    return lambda o: all(p(o) for p in preds)


# ---------------------------------------------------------------------------------------
# State
# ---------------------------------------------------------------------------------------

DEFAULT_CONFIG: JSON = {
    # paging (ref §7.3): default page size of every collection; $top overrides per request
    "page_size": 100,
    # device code flow (ref §1.1): Entra's defaults are interval 5 s, expires_in 900 s
    "device_code_interval": 5,
    "device_code_expires_in": 900,
    "enforce_slow_down": True,
    # token lifetimes in seconds
    "access_token_lifetime": 3599,
    "refresh_token_lifetime": 86400,
    # replication delay (ref §2.3): GETs of a just-created object answer 404 this many times
    "replication_404_count": 0,
    "replication_404_kinds": ["application", "servicePrincipal", "synchronizationJob"],
    # identifier URI app-management policy (ref §4.2): none | uniqueTenantIdentifier | nonDefault
    "identifier_uri_policy": "uniqueTenantIdentifier",
    # ref §9 q5: whether the Custom template still creates user_impersonation
    "template_user_impersonation": True,
    # default `enabled` of the objectMappings of a new scim job (ref §6.4: UNCONFIRMED)
    "schema_user_mapping_enabled": True,
    "schema_group_mapping_enabled": False,
    # start runs one provisioning cycle immediately (lastExecution filled in)
    "auto_cycle": True,
    # provisionOnDemand reports Failure when an enabled mapping still targets one of these
    "target_rejects_attributes": [],
    # provisionOnDemand rate limit (ref §6.6: 5 requests / 10 s)
    "provision_on_demand_limit": 5,
    "provision_on_demand_window": 10,
    # ED provision-on-demand.md: "can only accept a single group with up to 5 members at a time"
    "provision_on_demand_max_members": 5,
    # ED provision-on-demand.md: a new assignment is honoured by on-demand provisioning only after
    # "a replication delay of up to a few minutes"; before that the subject is not entitled.
    "assignment_replication_seconds": 120,
    # MGD PR #2262, graph-rs-sdk #524: a POST/PUT/PATCH with neither Content-Length nor chunked
    # encoding gets HTTP 411 from Graph's front end.
    "require_content_length": True,
    # TF-azuread applications.go (applicationDisableOauth2PermissionScopes): the next read or
    # write of an application after a PATCH may hit a replica that has not seen the PATCH yet.
    "stale_reads_after_app_patch": 1,
    # TF-azuread synchronization.go (synchronizationRetryFunc): the first sync calls on a service
    # principal created moments ago answer 403, then 409.
    "new_sp_sync_transient_count": 2,
    # TF-azuread app_role_assignment_resource.go: appRoleAssignedTo on a new service principal
    # answers 400 "Not a valid reference update" for a while.
    "new_sp_assignment_transient_count": 1,
    # TF-azuread synchronization secret resource (polls GET secrets after PUT): the next reads
    # (GET secrets, start, provisionOnDemand) after a PUT still see the previous secrets.
    "secrets_stale_reads": 2,
    # GET .../synchronization/secrets (no docs page, no SDK method): 404 while none are saved;
    # "credentials" masks SecretToken & co. as "*", "all" masks every value (BaseAddress too).
    "secrets_get_masking": "credentials",
    # ED Conditional Access "block authentication flows": the token endpoint refuses the
    # device-code grant with AADSTS53003.
    "conditional_access_block_device_code": False,
    # Only what Microsoft publishes exists (msgraph-sdk request builders; graph_published_api.py)
    "published_api_check": True,
}

# What reset returns to: DEFAULT_CONFIG with the --config overrides of the command line (tests
# shorten the minutes-long delays this way; the behaviour stays on).
BASE_CONFIG: JSON = copy.deepcopy(DEFAULT_CONFIG)

# log / replication kinds
KINDS = ("application", "servicePrincipal", "synchronizationJob")


class State:
    def __init__(self, tenant_id: str, tenant_domain: str) -> None:
        self.tenant_id = tenant_id
        self.tenant_domain = tenant_domain
        self.reset()

    def reset(self) -> None:
        self.config: JSON = copy.deepcopy(BASE_CONFIG)
        self.clients: Dict[str, JSON] = {}
        self.users: Dict[str, JSON] = {}
        self.groups: Dict[str, JSON] = {}
        self.applications: Dict[str, JSON] = {}
        self.service_principals: Dict[str, JSON] = {}
        self.assignments: Dict[str, JSON] = {}
        self.jobs: Dict[str, JSON] = {}
        self.sync_secrets: Dict[str, Dict[str, str]] = {}  # spId -> key -> value
        self.sync_secrets_stale: Dict[str, JSON] = {}  # spId -> {old, reads} after a PUT
        self.last_assertion_header: Optional[JSON] = None
        self.device_codes: Dict[str, JSON] = {}
        self.access_tokens: Dict[str, JSON] = {}
        self.refresh_tokens: Dict[str, JSON] = {}
        self.used_refresh_tokens: Dict[str, float] = {}
        self.skiptokens: Dict[str, JSON] = {}
        self.faults: List[JSON] = []
        self.log: List[JSON] = []
        self.log_seq = 0
        self.scim_tokens: set = set()       # plaintext, never dumped (sha prefix only)
        self.rejected_tokens: set = set()   # sha256 hex of rejected SCIM tokens
        self.verified_domains: List[str] = [self.tenant_domain]
        self.default_user_id = ""
        self._seed_defaults()

    def _seed_defaults(self) -> None:
        # ref §1.2: the public clients a CLI may use.
        self.add_client({"client_id": GRAPH_CLI_CLIENT,
                         "display_name": "Microsoft Graph Command Line Tools",
                         "public_client": True})
        self.add_client({"client_id": AZURE_CLI_CLIENT, "display_name": "Microsoft Azure CLI",
                         "public_client": True, "preauthorized_only": True})
        admin = self.add_user({"userPrincipalName": f"admin@{self.tenant_domain}",
                               "displayName": "Onboarding Admin", "givenName": "Onboarding",
                               "surname": "Admin", "roles": ["Application Administrator"]})
        self.default_user_id = admin["id"]

    # -- directory objects --------------------------------------------------------------

    def add_client(self, spec: JSON) -> JSON:
        if not isinstance(spec, dict):
            raise ValueError("client must be an object")
        unknown = set(spec) - {"client_id", "display_name", "public_client", "client_secret",
                               "certificate", "permissions", "preauthorized_only"}
        if unknown:
            raise ValueError(f"unknown client keys {sorted(unknown)}")
        cid = spec.get("client_id") or new_guid()
        if not is_guid(cid):
            raise ValueError("client_id must be a GUID")
        perms = spec.get("permissions", DEFAULT_PERMISSIONS)
        _check_perm_list(perms)
        secret = spec.get("client_secret")
        if secret is not None and (not isinstance(secret, str) or not secret):
            raise ValueError("client_secret must be a non-empty string")
        c = {"client_id": cid.lower(), "display_name": spec.get("display_name") or f"client {cid[:8]}",
             "public_client": bool(spec.get("public_client", secret is None and not spec.get("certificate"))),
             "client_secret": secret, "certificate": bool(spec.get("certificate", secret is not None)),
             "permissions": list(perms), "preauthorized_only": bool(spec.get("preauthorized_only", False))}
        self.clients[c["client_id"]] = c
        return c

    def add_user(self, spec: JSON) -> JSON:
        if not isinstance(spec, dict):
            raise ValueError("user must be an object")
        upn = spec.get("userPrincipalName")
        if not isinstance(upn, str) or "@" not in upn:
            raise ValueError("userPrincipalName (name@domain) is required")
        if self.find_user(upn):
            raise ValueError(f"user {upn} already exists")
        uid = (spec.get("id") or new_guid()).lower()
        if not is_guid(uid) or self.object_exists(uid):
            raise ValueError("id must be a new GUID")
        perms = spec.get("permissions", DEFAULT_PERMISSIONS + ["User.Read"])
        _check_perm_list(perms)
        roles = spec.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise ValueError("roles must be a list of directory role names")
        local = upn.split("@")[0]
        u = {
            "id": uid,
            "businessPhones": spec.get("businessPhones", []),
            "displayName": spec.get("displayName", local),
            "givenName": spec.get("givenName"),
            "jobTitle": spec.get("jobTitle"),
            "mail": spec.get("mail", upn),
            "mobilePhone": spec.get("mobilePhone"),
            "officeLocation": spec.get("officeLocation"),
            "preferredLanguage": spec.get("preferredLanguage"),
            "surname": spec.get("surname"),
            "userPrincipalName": upn,
            "_accountEnabled": bool(spec.get("accountEnabled", True)),
            "_mailNickname": spec.get("mailNickname", local),
            "_department": spec.get("department"),
            "_employeeId": spec.get("employeeId"),
            "_manager": spec.get("manager"),
            "_roles": list(roles),
            "_permissions": list(perms),
        }
        self.users[uid] = u
        return u

    def add_group(self, spec: JSON) -> JSON:
        if not isinstance(spec, dict):
            raise ValueError("group must be an object")
        name = spec.get("displayName")
        if not isinstance(name, str) or not name:
            raise ValueError("displayName is required")
        gid = (spec.get("id") or new_guid()).lower()
        if not is_guid(gid) or self.object_exists(gid):
            raise ValueError("id must be a new GUID")
        members = []
        for m in spec.get("members", []):
            obj = self.find_user(m) if isinstance(m, str) else None
            if obj is None and isinstance(m, str):
                obj = self.groups.get(m.lower()) or next(
                    (g for g in self.groups.values() if g["displayName"] == m), None)
            if obj is None:
                raise ValueError(f"group {name}: unknown member {m!r} (seed users/groups first)")
            members.append(obj["id"])
        group_types = spec.get("groupTypes", [])
        g = {
            "id": gid, "deletedDateTime": None, "classification": None,
            "createdDateTime": iso(), "creationOptions": [],
            "description": spec.get("description"), "displayName": name,
            "expirationDateTime": None, "groupTypes": group_types,
            "isAssignableToRole": None,
            "mail": spec.get("mail"), "mailEnabled": bool(spec.get("mailEnabled", False)),
            "mailNickname": spec.get("mailNickname", re.sub(r"[^A-Za-z0-9]", "", name) or "group"),
            "membershipRule": spec.get("membershipRule"),
            "membershipRuleProcessingState": "On" if "DynamicMembership" in group_types else None,
            "onPremisesSyncEnabled": None, "preferredDataLocation": None,
            "proxyAddresses": [], "renewedDateTime": iso(),
            "resourceBehaviorOptions": [], "resourceProvisioningOptions": [],
            "securityEnabled": bool(spec.get("securityEnabled", True)),
            "securityIdentifier": "S-1-12-1-" + "-".join(str(secrets.randbelow(2**32)) for _ in range(4)),
            "theme": None, "visibility": spec.get("visibility"),
            "onPremisesProvisioningErrors": [], "serviceProvisioningErrors": [],
            "_members": members,
        }
        self.groups[gid] = g
        return g

    def find_user(self, key: str) -> Optional[JSON]:
        if not isinstance(key, str):
            return None
        if key.lower() in self.users:
            return self.users[key.lower()]
        return next((u for u in self.users.values()
                     if u["userPrincipalName"].lower() == key.lower()), None)

    def object_exists(self, oid: str) -> bool:
        return any(oid in d for d in (self.users, self.groups, self.applications,
                                      self.service_principals))

    def replication_hide(self, kind: str, obj: JSON) -> None:
        if kind in self.config["replication_404_kinds"]:
            obj["_hidden_gets"] = int(self.config["replication_404_count"])

    @staticmethod
    def replicated(obj: JSON) -> bool:
        """ref §2.3: an object created a moment ago is not yet readable everywhere.  Each
        read (or write) that addresses it consumes one 'miss' and is answered 404."""
        if obj.get("_hidden_gets", 0) > 0:
            obj["_hidden_gets"] -= 1
            return False
        return True


def _check_perm_list(perms: Any) -> None:
    if not isinstance(perms, list) or not all(isinstance(p, str) for p in perms):
        raise ValueError("permissions must be a list of Graph permission names")
    bad = [p for p in perms if p not in KNOWN_GRAPH_PERMISSIONS]
    if bad:
        raise ValueError(f"unknown Graph permissions {bad}; known: {sorted(KNOWN_GRAPH_PERMISSIONS)}")


# ---------------------------------------------------------------------------------------
# Request context
# ---------------------------------------------------------------------------------------


class Ctx:
    def __init__(self, method: str, path: str, raw_query: str, body: bytes, headers: Any,
                 base: str) -> None:
        self.method = method
        self.path = path
        self.raw_query = raw_query
        self.query = parse_qs(raw_query, keep_blank_values=True)
        self.body = body
        self.headers = headers
        self.base = base
        self.version = "v1.0"
        self.token: Optional[JSON] = None
        self.request_id = new_guid()
        self.client_request_id = headers.get("client-request-id") or self.request_id

    def q(self, name: str) -> Optional[str]:
        v = self.query.get(name)
        return v[-1] if v else None

    def json_body(self) -> Any:
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if not self.body.strip():
            raise GraphError(400, "BadRequest", "Empty Payload. JSON content expected.")
        if ctype and ctype != "application/json":
            raise GraphError(415, "BadRequest",
                             f"A supported MIME type could not be found that matches the content "
                             f"type of the response. None of the supported type(s) "
                             f"'application/json' matches the content type '{ctype}'.")
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise GraphError(400, "BadRequest", "Unable to read JSON request payload. Please "
                             "ensure Content-Type header is set and payload is of valid JSON "
                             "format.") from None

    def odata(self, fragment: str) -> str:
        return f"{self.base}/{self.version}/$metadata#{fragment}"


Response = Tuple[int, List[Tuple[str, str]], Optional[Any]]


def no_content() -> Response:
    return 204, [], None


# ---------------------------------------------------------------------------------------
# The emulator
# ---------------------------------------------------------------------------------------


class EmulatorCore:
    def __init__(self, state: State) -> None:
        self.s = state
        self.lock = threading.RLock()
        self.routes: List[Tuple[str, "re.Pattern[str]", Callable[..., Response]]] = []
        self._register_routes()

    # -- routing ------------------------------------------------------------------------

    def route(self, method: str, pattern: str, fn: Callable[..., Response]) -> None:
        regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/()]+)", pattern) + "$")
        self.routes.append((method, regex, fn))

    def handle(self, ctx: Ctx) -> Response:
        with self.lock:
            fault = self._match_fault(ctx)
            if fault and not fault["commit"]:
                return self._fault_response(ctx, fault)
            try:
                resp = self._dispatch(ctx)
            except GraphError as e:
                resp = self.graph_error(ctx, e)
            except OAuthError as e:
                resp = (e.status, [], e.body(ctx.headers.get("client-request-id")))
            if fault:  # commit=True: the request took effect, the client sees the fault
                return self._fault_response(ctx, fault)
            return resp

    def graph_error(self, ctx: Ctx, e: GraphError) -> Response:
        body = {"error": {"code": e.code, "message": e.message,
                          "innerError": {"date": iso_inner(), "request-id": ctx.request_id,
                                         "client-request-id": ctx.client_request_id}}}
        return e.status, list(e.headers), body

    def _match_fault(self, ctx: Ctx) -> Optional[JSON]:
        for f in self.s.faults:
            if f["remaining"] <= 0:
                continue
            if f.get("method") and f["method"].upper() != ctx.method:
                continue
            if f.get("path_prefix") and not ctx.path.startswith(f["path_prefix"]):
                continue
            f["remaining"] -= 1
            f["fired"] += 1
            return f
        return None

    def _fault_response(self, ctx: Ctx, f: JSON) -> Response:
        st = f["status"]
        headers: List[Tuple[str, str]] = []
        if f.get("retry_after") is not None:
            headers.append(("Retry-After", str(f["retry_after"])))
        if not (ctx.path.startswith("/v1.0/") or ctx.path.startswith("/beta/")):
            err = "temporarily_unavailable" if st in (429, 503, 504) else "server_error"
            if st < 500 and st != 429:
                err = "invalid_request"
            e = OAuthError(st, err, 90033 if st in (429, 503) else 90000,
                           f.get("message") or "A transient error has occurred. Please try again.")
            return st, headers, e.body()
        code, msg = DEFAULT_FAULT_TEXT.get(st, ("UnknownError", "An error has occurred."))
        if "/instantiate" in ctx.path and st == 404:
            code, msg = "NotFound", "Graph call failed with httpCode=NotFound"  # ref §2.3
        e = GraphError(st, f.get("code") or code, f.get("message") or msg, headers)
        return self.graph_error(ctx, e)

    def _dispatch(self, ctx: Ctx) -> Response:
        path = ctx.path
        m = re.match(r"^/([^/]+)/oauth2/v2\.0/authorize$", path)
        if m:  # signin check: the authorization code flow (SigninMixin)
            return self.authorize_page(ctx, self.resolve_tenant(m.group(1)))
        m = re.match(r"^/([^/]+)/oauth2/v2\.0/(devicecode|token)$", path)
        if m:
            if ctx.method != "POST":
                raise OAuthError(400, "invalid_request", 900561,
                                 f"The endpoint only accepts POST, OPTIONS requests. Received a "
                                 f"{ctx.method} request.")
            tenant = self.resolve_tenant(m.group(1))
            form = self.parse_form(ctx)
            if m.group(2) == "devicecode":
                return self.devicecode(ctx, tenant, form)
            return self.token(ctx, tenant, form)
        m = re.match(r"^/(v1\.0|beta)(/.*)$", path)
        if not m:
            raise GraphError(400, "BadRequest", "Invalid version: " + path.split("/")[1]
                             if path.count("/") >= 1 and path != "/" else "Invalid version.")
        ctx.version = m.group(1)
        sub = unquote(m.group(2)).rstrip("/") or "/"
        if self.s.config["require_content_length"] and ctx.method in ("POST", "PUT", "PATCH") \
                and ctx.headers.get("Content-Length") is None \
                and (ctx.headers.get("Transfer-Encoding") or "").lower() != "chunked":
            # MGD PR #2262 / graph-rs-sdk #524: Graph's front end (HTTP.sys) refuses it.
            raise GraphError(411, "LengthRequired",
                             "HTTP Error 411. The request must be chunked or have a content "
                             "length.")
        self.authenticate(ctx)
        if ctx.version == "v1.0" and self.s.config["published_api_check"]:
            self.check_published(ctx, sub)
        matched_path = False
        for method, regex, fn in self.routes:
            mm = regex.match(sub)
            if not mm:
                continue
            matched_path = True
            if method != ctx.method:
                continue
            if ctx.version == "beta" and not getattr(fn, "beta_ok", False):
                # Only endpoints the reference needs on beta are served there.
                raise GraphError(400, "BadRequest",
                                 "The emulator serves /beta only for the synchronization restart "
                                 "action (see GRAPH_EMULATOR.md).")
            return fn(ctx, **mm.groupdict())
        if matched_path:
            if re.search(r"/synchronization/jobs/[^/]+/schema$", sub) and ctx.method == "PATCH":
                return self.patch_schema(ctx, sub)
            raise GraphError(405, "Request_BadRequest",
                             "Specified HTTP method is not allowed for the request uri.")
        seg = sub.strip("/").split("/")[-1] if sub != "/" else ""
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{seg}'.")

    published: Optional[Any] = None  # graph_published_api.PublishedApi, loaded once

    def check_published(self, ctx: Ctx, sub: str) -> None:
        """Only what Microsoft publishes exists: a method + path the msgraph-sdk request builders
        do not generate (and that is not a documented exception) answers 400, as Graph answers
        an unknown segment."""
        if EmulatorCore.published is None:
            from graph_published_api import PublishedApi, load_index
            index, version = load_index()
            EmulatorCore.published = PublishedApi(index, version)
        pub = EmulatorCore.published
        methods = pub.methods(sub)
        if methods is None:
            seg = sub.strip("/").split("/")[-1] if sub != "/" else ""
            raise GraphError(400, "BadRequest", f"Resource not found for the segment '{seg}'. "
                             f"(emulator: not in Microsoft's API description, msgraph-sdk "
                             f"{pub.version})")
        if ctx.method not in methods:
            raise GraphError(400, "BadRequest", f"{ctx.method} is not published for '{sub}' "
                             f"(emulator: msgraph-sdk {pub.version} generates "
                             f"{', '.join(sorted(methods))}).")

    # ===================================================================================
    # Identity platform (ref §1)
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
        """-> (graph permissions or None for '.default', OIDC scopes).  ref §1.2."""
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
            # ref §1.2: Azure CLI cannot request explicit Graph scopes.
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
        user_code = _rand(9, string.ascii_uppercase + string.digits)
        device_code = "DAQABIQEAAAB" + _rand(160, _B62 + "-_")
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
            # ref §1.2: "Allow public client flows" off -> AADSTS7000218
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
            # RFC 8628 §3.5: slow_down, and the interval grows by 5 s (ref §1.1: UNCONFIRMED
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
        access = "eme." + _rand(86)  # opaque on purpose (ref §1.6: read tid from the id_token)
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
            rt = "1.ARfresh." + _rand(180, _B62 + "-_")
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
                  "sub": b64url(hashlib.sha256(user["id"].encode()).digest()),
                  "tid": self.s.tenant_id, "ver": "2.0"}
        # Not signed: the emulator has no keys; clients must not validate id_tokens they got
        # directly from the token endpoint over TLS anyway.
        return ".".join([b64url(json.dumps(header).encode()), b64url(json.dumps(claims).encode()),
                         b64url(b"graph-emulator-unsigned")])

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
        # rotate: the old refresh token is now spent (brief; ref §1.1 "standard refresh")
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
        if auth.lower().startswith("basic "):  # RFC 6749 §2.3.1 (ref §1.3)
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
            client = self._check_assertion(ctx, tenant, assertion, cid)
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

    def _check_assertion(self, ctx: Ctx, tenant: str, assertion: str, cid: Optional[str]) -> JSON:
        """ref §1.4.  The JWT's structure and claims are checked; its signature is NOT
        verified (the emulator holds no certificates) - any well-formed assertion whose
        iss/sub name a registered confidential client with a certificate is accepted."""
        def bad(msg: str, code: int = 50027) -> OAuthError:
            return OAuthError(401, "invalid_client", code, msg)
        parts = assertion.split(".")
        if len(parts) != 3:
            raise bad("JWT token is invalid or malformed.")
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            b64url_decode(parts[2])
        except (ValueError, UnicodeDecodeError):
            raise bad("JWT token is invalid or malformed.") from None
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise bad("JWT token is invalid or malformed.")
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

    # ===================================================================================
    # Graph: authentication and authorization
    # ===================================================================================

    def authenticate(self, ctx: Ctx) -> None:
        hdr = [("WWW-Authenticate", 'Bearer realm="", authorization_uri='
                '"https://login.microsoftonline.com/common/oauth2/authorize", '
                f'client_id="{GRAPH_APP_ID}"')]
        auth = ctx.headers.get("Authorization") or ""
        if not auth.strip():
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.", hdr)
        scheme, _, tok = auth.partition(" ")
        if scheme.lower() != "bearer" or not tok.strip():
            raise GraphError(401, "InvalidAuthenticationToken",
                             "Access token validation failure. Invalid audience.", hdr)
        rec = self.s.access_tokens.get(tok.strip())
        if rec is None:
            raise GraphError(401, "InvalidAuthenticationToken",
                             "CompactToken parsing failed with error code: 80049217", hdr)
        if time.time() >= rec["exp"]:
            raise GraphError(401, "InvalidAuthenticationToken",
                             "Lifetime validation failed, the token is expired.", hdr)
        ctx.token = rec

    def require(self, ctx: Ctx, *groups: Tuple[str, ...], admin: bool = False) -> None:
        """Every group must be satisfied by at least one held permission (ref §1.5).  For
        delegated tokens with admin=True the signed-in user also needs an admin role."""
        tok = ctx.token or {}
        held = set(tok.get("perms", []))
        for grp in groups:
            if not held.intersection(grp):
                raise GraphError(403, "Authorization_RequestDenied",
                                 "Insufficient privileges to complete the operation.")
        if admin and tok.get("kind") == "delegated":
            user = self.s.users.get(tok.get("user_id") or "")
            if user is None or not ADMIN_ROLES.intersection(user["_roles"]):
                raise GraphError(403, "Authorization_RequestDenied",
                                 "Insufficient privileges to complete the operation.")


DEFAULT_FAULT_TEXT = {
    400: ("Request_BadRequest", "Bad request."),
    # a token revoked (or expired early) between two calls (G concepts/errors.md)
    401: ("InvalidAuthenticationToken", "Lifetime validation failed, the token is expired."),
    403: ("Authorization_RequestDenied", "Insufficient privileges to complete the operation."),
    404: ("Request_ResourceNotFound", "Resource does not exist or one of its queried "
          "reference-property objects are not present."),
    409: ("Error_MsaAppDoesNotExist", "Application does not exist yet; retry as per the "
          "service design."),  # ref §2.3 / §7.5
    429: ("TooManyRequests", "Too many requests."),
    500: ("generalException", "An unspecified error has occurred."),
    502: ("BadGateway", "Bad gateway."),
    503: ("serviceNotAvailable", "The service is temporarily unavailable for maintenance or is "
          "overloaded. You may repeat the request after a delay, which may be specified in a "
          "Retry-After header."),
    504: ("GatewayTimeout", "The server, while acting as a proxy, did not receive a timely "
          "response from the upstream server it needed to access in attempting to complete the "
          "request."),
}


# ---------------------------------------------------------------------------------------
# Control API (/_control/...) - never reachable under Graph or login paths
# ---------------------------------------------------------------------------------------

FAULT_KEYS = {"status", "count", "path_prefix", "method", "retry_after", "code", "message",
              "commit"}


class ControlMixin:
    s: State
    lock: Any

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
                sub = path[len(CONTROL_PREFIX):].rstrip("/") or "/"
                key = (method, sub)
                if key == ("GET", "/health"):
                    return 200, {"ok": True}
                if key == ("POST", "/reset"):
                    self.s.reset()
                    return 200, {"ok": True}
                if key == ("GET", "/state"):
                    return 200, self.dump_state()
                if key == ("POST", "/seed"):
                    return 200, self.seed(body)
                if key == ("GET", "/log"):
                    since = int((query.get("since") or ["0"])[0])
                    return 200, [self.render_log(e) for e in self.s.log if e["seq"] > since]
                if key == ("DELETE", "/log"):
                    self.s.log.clear()
                    return 200, {"ok": True}
                if key == ("GET", "/config"):
                    return 200, self.s.config
                if key == ("POST", "/config"):
                    return 200, self.set_config(body)
                if key == ("GET", "/faults"):
                    return 200, self.s.faults
                if key == ("POST", "/faults"):
                    return 200, self.add_fault(body)
                if key == ("DELETE", "/faults"):
                    self.s.faults.clear()
                    return 200, {"ok": True}
                if key == ("GET", "/devicecode"):
                    return 200, [{"user_code": d["user_code"], "client_id": d["client_id"],
                                  "status": d["status"], "polls": d["polls"],
                                  "interval": d["interval"]}
                                 for d in self.s.device_codes.values()]
                if method == "POST" and sub in ("/devicecode/approve", "/devicecode/decline",
                                                "/devicecode/expire"):
                    return 200, self.devicecode_control(sub.rsplit("/", 1)[1], body)
                if key == ("POST", "/authorize/approve"):
                    return self.authorize_approve(body)
                if key == ("GET", "/authorize/issued"):  # for the canary test: what was issued
                    return 200, self.s.__dict__.get("signin_issued", [])
                if key == ("POST", "/tokens/expire"):
                    return 200, self.expire_tokens(body)
                if key == ("POST", "/replicate"):
                    # Replication always completes in the end: every object becomes readable now,
                    # every replica has seen the last PATCH, assignments and secrets are seen.
                    for app in self.s.applications.values():
                        app.pop("_stale", None)
                    self.s.sync_secrets_stale.clear()
                    for a in self.s.assignments.values():
                        a["_honoured_at"] = 0
                    settled = 0
                    for objects in (self.s.applications, self.s.service_principals):
                        for obj in objects.values():
                            if obj.get("_hidden_gets", 0) > 0:
                                obj["_hidden_gets"] = 0
                                settled += 1
                    for sp in self.s.service_principals.values():
                        for job in sp.get("_jobs", {}).values() if isinstance(sp.get("_jobs"), dict) else []:
                            job["_hidden_gets"] = 0
                    return 200, {"settled": settled}
                if key == ("POST", "/permissions"):
                    return 200, self.set_permissions(body)
                if key == ("POST", "/sync/reject-token"):
                    tok = body.get("token") if isinstance(body, dict) else None
                    if not isinstance(tok, str) or not tok:
                        raise ValueError("'token' (the SCIM token to reject) is required")
                    self.s.rejected_tokens.add(sha_full(tok))
                    if len(tok) >= MIN_TRACKED_TOKEN:
                        self.s.scim_tokens.add(tok)
                    return 200, {"rejected": sha_prefix(tok)}
                if key == ("DELETE", "/sync/reject-token"):
                    self.s.rejected_tokens.clear()
                    return 200, {"ok": True}
                if key == ("POST", "/sync/quarantine"):
                    return 200, self.quarantine_control(body)
                if key == ("POST", "/sync/cycle"):
                    return 200, self.cycle_control(body)
                return 404, {"error": f"no control endpoint {method} {path}"}
            except (ValueError, KeyError, TypeError) as e:
                return 400, {"error": str(e)}

    # -- seed / config / faults ---------------------------------------------------------

    def seed(self, body: Any) -> JSON:
        if not isinstance(body, dict):
            raise ValueError("seed body must be an object")
        unknown = set(body) - {"users", "groups", "clients", "scim_tokens", "verified_domains"}
        if unknown:
            raise ValueError(f"unknown seed keys {sorted(unknown)}")
        out: JSON = {"users": [], "groups": [], "clients": []}
        for u in body.get("users", []):
            user = self.s.add_user(u if isinstance(u, dict) else {"userPrincipalName": u})
            out["users"].append({"userPrincipalName": user["userPrincipalName"], "id": user["id"]})
        for g in body.get("groups", []):
            grp = self.s.add_group(g if isinstance(g, dict) else {"displayName": g})
            out["groups"].append({"displayName": grp["displayName"], "id": grp["id"]})
        for c in body.get("clients", []):
            cl = self.s.add_client(c)
            out["clients"].append({"client_id": cl["client_id"], "public_client": cl["public_client"]})
        for t in body.get("scim_tokens", []):
            if not isinstance(t, str) or len(t) < MIN_TRACKED_TOKEN:
                raise ValueError(f"scim_tokens must be strings of at least {MIN_TRACKED_TOKEN} "
                                 "characters")
            self.s.scim_tokens.add(t)
        for d in body.get("verified_domains", []):
            if not isinstance(d, str) or "." not in d:
                raise ValueError("verified_domains must be domain names")
            self.s.verified_domains.append(d.lower())
        return out

    def set_config(self, body: Any) -> JSON:
        if not isinstance(body, dict):
            raise ValueError("config body must be an object")
        unknown = set(body) - set(DEFAULT_CONFIG)
        if unknown:
            raise ValueError(f"unknown config keys {sorted(unknown)}; known: {sorted(DEFAULT_CONFIG)}")
        new = dict(self.s.config)
        for k, v in body.items():
            d = DEFAULT_CONFIG[k]
            if isinstance(d, bool):
                if not isinstance(v, bool):
                    raise ValueError(f"{k} must be a boolean")
            elif isinstance(d, int):
                if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                    raise ValueError(f"{k} must be a non-negative number")
            elif isinstance(d, list):
                if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                    raise ValueError(f"{k} must be a list of strings")
            elif isinstance(d, str):
                if not isinstance(v, str):
                    raise ValueError(f"{k} must be a string")
            new[k] = v
        if new["secrets_get_masking"] not in ("credentials", "all"):
            raise ValueError("secrets_get_masking must be credentials or all")
        if not 1 <= new["page_size"] <= 999:
            raise ValueError("page_size must be between 1 and 999")
        if new["identifier_uri_policy"] not in ("none", "uniqueTenantIdentifier", "nonDefault"):
            raise ValueError("identifier_uri_policy must be none, uniqueTenantIdentifier or nonDefault")
        bad = set(new["replication_404_kinds"]) - set(KINDS)
        if bad:
            raise ValueError(f"replication_404_kinds: unknown {sorted(bad)}; known {list(KINDS)}")
        self.s.config = new
        return new

    def add_fault(self, body: Any) -> JSON:
        if not isinstance(body, dict):
            raise ValueError("fault body must be an object")
        unknown = set(body) - FAULT_KEYS
        if unknown:
            raise ValueError(f"unknown fault keys {sorted(unknown)}; known {sorted(FAULT_KEYS)}")
        st = body.get("status")
        if st not in DEFAULT_FAULT_TEXT:
            raise ValueError(f"status must be one of {sorted(DEFAULT_FAULT_TEXT)}")
        count = body.get("count", 1)
        if not isinstance(count, int) or count < 1:
            raise ValueError("count must be a positive integer")
        ra = body.get("retry_after", 1 if st == 429 else None)
        if ra is not None and (not isinstance(ra, int) or ra < 0):
            raise ValueError("retry_after must be a non-negative integer (seconds)")
        pp = body.get("path_prefix")
        if pp is not None and (not isinstance(pp, str) or not pp.startswith("/")):
            raise ValueError("path_prefix must start with '/' (e.g. /v1.0/applications)")
        if pp and pp.startswith(CONTROL_PREFIX):
            raise ValueError("faults never apply to the control API")
        f = {"id": len(self.s.faults) + 1, "status": st, "count": count, "remaining": count,
             "fired": 0, "path_prefix": pp, "method": body.get("method"), "retry_after": ra,
             "code": body.get("code"), "message": body.get("message"),
             "commit": bool(body.get("commit", False))}
        self.s.faults.append(f)
        return f

    # -- auth controls ------------------------------------------------------------------

    def devicecode_control(self, action: str, body: Any) -> JSON:
        if not isinstance(body, dict):
            raise ValueError("body must be an object")
        uc = body.get("user_code")
        dc = next((d for d in self.s.device_codes.values()
                   if isinstance(uc, str) and d["user_code"] == uc.upper()), None)
        if dc is None:
            raise ValueError(f"no device code with user_code {uc!r}")
        if dc["status"] != "pending":
            raise ValueError(f"device code {uc} is {dc['status']}, not pending")
        if action == "approve":
            if time.time() >= dc["expires"]:
                raise ValueError(f"device code {uc} has expired")
            user = self.s.find_user(body.get("user") or self.s.default_user_id)
            if user is None:
                raise ValueError(f"unknown user {body.get('user')!r}")
            dc["user_id"] = user["id"]
            dc["status"] = "approved"
        elif action == "decline":
            dc["status"] = "declined"
        else:
            dc["status"] = "expired"
        return {"user_code": dc["user_code"], "status": dc["status"], "user_id": dc["user_id"]}

    def expire_tokens(self, body: Any) -> JSON:
        kind = (body or {}).get("kind", "access") if isinstance(body, dict) else "access"
        if kind not in ("access", "refresh", "all"):
            raise ValueError("kind must be access, refresh or all")
        n = 0
        if kind in ("access", "all"):
            for t in self.s.access_tokens.values():
                t["exp"] = 0
                n += 1
        if kind in ("refresh", "all"):
            for t in self.s.refresh_tokens.values():
                t["exp"] = 0
                n += 1
        return {"expired": n}

    def set_permissions(self, body: Any) -> JSON:
        if not isinstance(body, dict):
            raise ValueError("body must be an object")
        unknown = set(body) - {"client_id", "user", "permissions", "roles", "apply_to_existing_tokens"}
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}")
        if ("client_id" in body) == ("user" in body):
            raise ValueError("give exactly one of client_id or user")
        perms = body.get("permissions")
        if perms is not None:
            _check_perm_list(perms)
        if "client_id" in body:
            c = self.s.clients.get(str(body["client_id"]).lower())
            if c is None:
                raise ValueError(f"unknown client {body['client_id']!r}")
            if "roles" in body:
                raise ValueError("roles apply to users only")
            if perms is not None:
                c["permissions"] = list(perms)
            target: JSON = {"client_id": c["client_id"], "permissions": c["permissions"]}
            match = lambda t: t["client_id"] == c["client_id"]  # noqa: E731
        else:
            u = self.s.find_user(body["user"])
            if u is None:
                raise ValueError(f"unknown user {body['user']!r}")
            if perms is not None:
                u["_permissions"] = list(perms)
            if "roles" in body:
                if not isinstance(body["roles"], list):
                    raise ValueError("roles must be a list")
                u["_roles"] = list(body["roles"])
            target = {"user": u["userPrincipalName"], "permissions": u["_permissions"],
                      "roles": u["_roles"]}
            match = lambda t: t["user_id"] == u["id"]  # noqa: E731
        if body.get("apply_to_existing_tokens") and perms is not None:
            for t in self.s.access_tokens.values():
                if match(t):
                    held = set(t["perms"])
                    if "client_id" in body:
                        t["perms"] = sorted(set(perms) if t["kind"] == "app" else held & set(perms))
                    else:
                        t["perms"] = sorted(held & set(perms))
        return target

    # -- log / state --------------------------------------------------------------------

    def render_log(self, e: JSON) -> JSON:
        out = {k: v for k, v in e.items() if not k.startswith("_")}
        hashes = e.get("_value_hashes") or set()
        known = {sha_full(t) for t in self.s.scim_tokens}
        out["scim_token_in_body"] = bool(e.get("_body_hit")) or bool(hashes & known)
        return out

    def dump_state(self) -> JSON:
        s = self.s

        def secret_view(sp_id: str) -> JSON:
            return {k: (sha_prefix(v) if k in SECRET_KEYS and v else v)
                    for k, v in s.sync_secrets.get(sp_id, {}).items()}
        return {
            "last_assertion_header": s.last_assertion_header,
            "tenant": {"id": s.tenant_id, "domain": s.tenant_domain,
                       "verified_domains": s.verified_domains},
            "config": s.config,
            "clients": [{"client_id": c["client_id"], "display_name": c["display_name"],
                         "public_client": c["public_client"], "certificate": c["certificate"],
                         "client_secret": sha_prefix(c["client_secret"]) if c["client_secret"] else None,
                         "permissions": c["permissions"],
                         "preauthorized_only": c["preauthorized_only"]}
                        for c in s.clients.values()],
            "users": [dict(strip_private(u), roles=u["_roles"], permissions=u["_permissions"],
                           accountEnabled=u["_accountEnabled"], mailNickname=u["_mailNickname"])
                      for u in s.users.values()],
            "groups": [dict(strip_private(g), members=g["_members"]) for g in s.groups.values()],
            "applications": [strip_private(a) for a in s.applications.values()],
            "servicePrincipals": [strip_private(p) for p in s.service_principals.values()],
            "appRoleAssignments": [strip_private(a) for a in s.assignments.values()],
            "synchronization": {
                "secrets": {sp: secret_view(sp) for sp in s.sync_secrets},
                "jobs": [dict(strip_private(j), servicePrincipalId=j["_sp"],
                              schema=j["_schema"], provisioned=j["_provisioned"])
                         for j in s.jobs.values()],
                "rejected_tokens": sorted("sha256:" + h[:12] for h in s.rejected_tokens),
                "known_scim_tokens": sorted(sha_prefix(t) for t in s.scim_tokens),
            },
            "device_codes": [{"user_code": d["user_code"], "client_id": d["client_id"],
                              "status": d["status"], "polls": d["polls"],
                              "interval": d["interval"]} for d in s.device_codes.values()],
            "tokens": {
                "access": [{"token": sha_prefix(k), "kind": v["kind"], "client_id": v["client_id"],
                            "user_id": v["user_id"], "permissions": v["perms"],
                            "expired": time.time() >= v["exp"]}
                           for k, v in s.access_tokens.items()],
                "refresh": [{"token": sha_prefix(k), "client_id": v["client_id"],
                             "user_id": v["user_id"]} for k, v in s.refresh_tokens.items()],
            },
            "faults": s.faults,
        }


MIN_TRACKED_TOKEN = 8
SECRET_KEYS = {"SecretToken", "ClientSecret", "Password", "Oauth2ClientSecret"}


# ---------------------------------------------------------------------------------------
# Directory reads: users, groups, organization, /me
# ---------------------------------------------------------------------------------------

READ_USERS = ("User.Read.All", "User.ReadBasic.All", "User.ReadWrite.All", "Directory.Read.All",
              "Directory.ReadWrite.All")
READ_GROUPS = ("Group.Read.All", "Group.ReadWrite.All", "GroupMember.Read.All",
               "Directory.Read.All", "Directory.ReadWrite.All")
READ_APPS = ("Application.Read.All", "Application.ReadWrite.All", "Application.ReadWrite.OwnedBy",
             "Directory.Read.All", "Directory.ReadWrite.All")
WRITE_APPS = ("Application.ReadWrite.All", "Application.ReadWrite.OwnedBy")
ASSIGN = ("AppRoleAssignment.ReadWrite.All",)
READ_SYNC = ("Synchronization.Read.All", "Synchronization.ReadWrite.All",
             "Application.ReadWrite.OwnedBy")
WRITE_SYNC = ("Synchronization.ReadWrite.All", "Application.ReadWrite.OwnedBy")

USER_FILTER = {"id": "str", "displayName": "str", "userPrincipalName": "str", "mail": "str",
               "givenName": "str", "surname": "str"}
GROUP_FILTER = {"id": "str", "displayName": "str", "mailNickname": "str", "mail": "str",
                "securityEnabled": "bool", "mailEnabled": "bool"}


class QueryMixin:
    """$filter / $select / $top / $count / $skiptoken handling and @odata.nextLink paging
    (ref §7.3, §7.4)."""
    s: State

    def check_query_options(self, ctx: Ctx, allowed: Tuple[str, ...]) -> None:
        for k in ctx.query:
            if k.startswith("$") and k not in allowed:
                if k in ("$orderby", "$search", "$expand", "$skip"):
                    raise GraphError(400, "Request_UnsupportedQuery",
                                     f"The query option '{k}' is not supported by the emulator "
                                     "for this resource.")
                raise GraphError(400, "BadRequest",
                                 f"Query option '{k}' is not allowed. To allow it, set the "
                                 "'AllowedQueryOptions' property on EnableQueryAttribute or "
                                 "QueryValidationSettings.")

    def select(self, ctx: Ctx, obj: JSON, type_name: str) -> JSON:
        sel = ctx.q("$select")
        if not sel:
            return obj
        props = [p.strip() for p in sel.split(",") if p.strip()]
        out: JSON = {}
        for p in props:
            if p not in obj:
                raise GraphError(400, "BadRequest",
                                 f"Could not find a property named '{p}' on type "
                                 f"'microsoft.graph.{type_name}'.")
            out[p] = obj[p]
        return out

    def select_suffix(self, ctx: Ctx) -> str:
        sel = ctx.q("$select")
        return f"({sel})" if sel else ""

    def collection(self, ctx: Ctx, items: List[JSON], fragment: str, type_name: str,
                   filter_fields: Optional[Dict[str, str]] = None,
                   resource: str = "") -> Response:
        allowed = ["$top", "$skiptoken", "$select", "$count"]
        if filter_fields is not None:
            allowed.append("$filter")
        self.check_query_options(ctx, tuple(allowed))
        flt = ctx.q("$filter")
        if flt:
            pred = parse_filter(flt, filter_fields or {}, resource or type_name)
            items = [o for o in items if pred(o)]
        count_q = ctx.q("$count")
        want_count = count_q is not None and count_q.lower() == "true"
        if want_count and (ctx.headers.get("ConsistencyLevel") or "").lower() != "eventual":
            # ref §7.4: $count on directory objects needs ConsistencyLevel: eventual
            raise GraphError(400, "Request_BadRequest", "$count is not currently supported.")
        top_q = ctx.q("$top")
        size = self.s.config["page_size"]
        if top_q is not None:
            if not re.fullmatch(r"\d+", top_q) or not 1 <= int(top_q) <= 999:
                raise GraphError(400, "Request_BadRequest",
                                 f"Invalid page size specified: '{top_q}'. Must be between 1 and "
                                 "999 inclusive.")
            size = int(top_q)
        offset = 0
        skip = ctx.q("$skiptoken")
        key = ctx.path + "?" + "&".join(sorted(f"{k}={v}" for k, vs in ctx.query.items()
                                               for v in vs if k != "$skiptoken"))
        if skip is not None:
            rec = self.s.skiptokens.get(skip)
            if rec is None or rec["key"] != key:
                raise GraphError(400, "Directory_ExpiredPageToken",
                                 "The specified page token value has expired and can no longer be "
                                 "included in your request.")
            offset = rec["offset"]
        page = [self.select(ctx, o, type_name) for o in items[offset:offset + size]]
        out: JSON = {"@odata.context": ctx.odata(fragment + self.select_suffix(ctx))}
        if want_count and skip is None:
            out["@odata.count"] = len(items)
        if offset + size < len(items):
            tok = "RFNwdAIAAQAAA" + _rand(40)
            self.s.skiptokens[tok] = {"key": key, "offset": offset + size}
            params = [(k, v) for k, vs in ctx.query.items() for v in vs if k != "$skiptoken"]
            params.append(("$skiptoken", tok))
            out["@odata.nextLink"] = (f"{ctx.base}{ctx.path}?"
                                      + urlencode(params, quote_via=quote, safe="$'(),=:"))
        out["value"] = page
        return 200, [], out

    def entity(self, ctx: Ctx, obj: JSON, fragment: str, type_name: str,
               status: int = 200) -> Response:
        self.check_query_options(ctx, ("$select",))
        body = {"@odata.context": ctx.odata(fragment + self.select_suffix(ctx) + "/$entity")}
        body.update(self.select(ctx, obj, type_name))
        return status, [], body


class DirectoryMixin(QueryMixin):
    s: State
    require: Callable[..., None]

    def _visible_list(self, objs: List[JSON], kind: str) -> List[JSON]:
        return [o for o in objs if State.replicated(o)]

    def get_user_obj(self, key: str) -> JSON:
        u = self.s.find_user(unquote(key))
        if u is None:
            if "@" not in key and not is_guid(key):
                raise bad_request(f"Invalid object identifier '{key}'.")
            raise not_found(key)
        return u

    def list_users(self, ctx: Ctx) -> Response:
        self.require(ctx, READ_USERS)
        return self.collection(ctx, [strip_private(u) for u in self.s.users.values()],
                               "users", "user", USER_FILTER, "User")

    def get_user(self, ctx: Ctx, uid: str) -> Response:
        self.require(ctx, READ_USERS)
        return self.entity(ctx, strip_private(self.get_user_obj(uid)), "users", "user")

    def get_me(self, ctx: Ctx) -> Response:
        tok = ctx.token or {}
        if tok.get("kind") != "delegated":
            raise GraphError(400, "BadRequest",
                             "/me request is only valid with delegated authentication flow.")
        self.require(ctx, ("User.Read",) + READ_USERS)
        return self.entity(ctx, strip_private(self.s.users[tok["user_id"]]), "users", "user")

    def get_organization(self, ctx: Ctx) -> Response:
        self.require(ctx, ("User.Read", "Organization.Read.All", "Directory.Read.All",
                           "Directory.ReadWrite.All"))
        org = {"id": self.s.tenant_id, "displayName": "Emulated Tenant", "tenantType": "AAD",
               "verifiedDomains": [{"capabilities": "Email, OfficeCommunicationsOnline",
                                    "isDefault": i == 0, "isInitial": d.endswith(".onmicrosoft.com"),
                                    "name": d, "type": "Managed"}
                                   for i, d in enumerate(self.s.verified_domains)]}
        return self.collection(ctx, [org], "organization", "organization")

    def get_group_obj(self, gid: str) -> JSON:
        if not is_guid(gid):
            raise bad_request(f"Invalid object identifier '{gid}'.")
        g = self.s.groups.get(gid.lower())
        if g is None:
            raise not_found(gid)
        return g

    def list_groups(self, ctx: Ctx) -> Response:
        self.require(ctx, READ_GROUPS)
        return self.collection(ctx, [strip_private(g) for g in self.s.groups.values()],
                               "groups", "group", GROUP_FILTER, "Group")

    def get_group(self, ctx: Ctx, gid: str) -> Response:
        self.require(ctx, READ_GROUPS)
        return self.entity(ctx, strip_private(self.get_group_obj(gid)), "groups", "group")

    def list_group_members(self, ctx: Ctx, gid: str) -> Response:
        self.require(ctx, READ_GROUPS)
        g = self.get_group_obj(gid)
        out = []
        for mid in g["_members"]:
            if mid in self.s.users:
                out.append(dict({"@odata.type": "#microsoft.graph.user"},
                                **strip_private(self.s.users[mid])))
            elif mid in self.s.groups:
                out.append(dict({"@odata.type": "#microsoft.graph.group"},
                                **strip_private(self.s.groups[mid])))
        return self.collection(ctx, out, "directoryObjects", "directoryObject")


# ---------------------------------------------------------------------------------------
# Applications, service principals, instantiate (ref §2, §3, §4)
# ---------------------------------------------------------------------------------------

APP_FILTER = {"id": "str", "appId": "str", "displayName": "str", "applicationTemplateId": "str",
              "publisherDomain": "str", "signInAudience": "str"}
SP_FILTER = {"id": "str", "appId": "str", "displayName": "str", "applicationTemplateId": "str",
             "servicePrincipalType": "str", "accountEnabled": "bool",
             "appRoleAssignmentRequired": "bool"}
TEMPLATE_FILTER = {"id": "str", "displayName": "str"}

CUSTOM_TEMPLATE: JSON = {
    "id": CUSTOM_TEMPLATE_ID, "displayName": "Custom", "homePageUrl": None,
    "supportedSingleSignOnModes": ["password", "saml", "notSupported", "oidc"],
    "supportedProvisioningTypes": ["sync"], "logoUrl": None, "categories": [],
    "publisher": "Microsoft Corporation",
    "description": "Integrate any other application that you don't find in the gallery "
                   "(Non-gallery)",
}

APP_WRITABLE = {"displayName", "description", "identifierUris", "api", "publicClient", "web",
                "spa", "isFallbackPublicClient", "signInAudience", "tags", "notes",
                "requiredResourceAccess", "groupMembershipClaims", "optionalClaims", "info",
                "appRoles", "isDeviceOnlyAuthSupported", "serviceManagementReference",
                "defaultRedirectUri", "parentalControlSettings", "tokenEncryptionKeyId"}
APP_READONLY = {"id", "appId", "applicationTemplateId", "createdDateTime", "publisherDomain",
                "deletedDateTime", "disabledByMicrosoftStatus", "keyCredentials",
                "passwordCredentials", "verifiedPublisher", "certification", "addIns",
                "samlMetadataUrl", "servicePrincipalLockConfiguration",
                "requestSignatureVerification", "nativeAuthenticationApisEnabled"}
API_KEYS = {"acceptMappedClaims", "knownClientApplications", "oauth2PermissionScopes",
            "preAuthorizedApplications", "requestedAccessTokenVersion"}
SCOPE_KEYS = {"id", "value", "type", "isEnabled", "adminConsentDisplayName",
              "adminConsentDescription", "userConsentDisplayName", "userConsentDescription",
              "origin"}
ROLE_KEYS = {"id", "value", "allowedMemberTypes", "description", "displayName", "isEnabled",
             "origin"}
SCOPE_VALUE_RE = re.compile(r"^[A-Za-z0-9!#$%&'()*+,\-./:;<=>?@\[\]^_`{|}~]+$")
ENTITLEMENT_ERROR = ("CannotDeleteOrUpdateEnabledEntitlement",
                     "Permission (scope or role) cannot be deleted or updated unless disabled "
                     "first.")  # ref §4.3


def _no_such_property(prop: str) -> GraphError:
    return bad_request(f"Property '{prop}' does not exist as a declared property or extension "
                       "property.")


def _invalid_value(prop: str, resource: str) -> GraphError:
    return bad_request(f"Invalid value specified for property '{prop}' of resource '{resource}'.")


def _strip_odata(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _strip_odata(v) for k, v in obj.items() if not k.startswith("@odata.")}
    if isinstance(obj, list):
        return [_strip_odata(v) for v in obj]
    return obj


def _check_redirect_uri(uri: Any, platform: str) -> None:
    """ref §4.1 / [E-reply]: absolute URI, <= 256 chars, no wildcards; http only for
    localhost; custom schemes only for public (mobile & desktop) clients."""
    resource = {"publicClient": "PublicClientApplication", "web": "WebApplication",
                "spa": "SpaApplication"}[platform]
    if not isinstance(uri, str) or not uri or len(uri) > 256 or "*" in uri or re.search(r"\s", uri):
        raise _invalid_value("redirectUris", resource)
    sp = urlsplit(uri)
    if not sp.scheme or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", sp.scheme):
        raise _invalid_value("redirectUris", resource)
    scheme = sp.scheme.lower()
    if scheme == "http":
        if (sp.hostname or "").lower() not in ("localhost", "127.0.0.1", "::1"):
            raise _invalid_value("redirectUris", resource)
    elif scheme != "https":
        if platform != "publicClient" or not (sp.netloc or sp.path):
            raise _invalid_value("redirectUris", resource)
    elif not sp.netloc:
        raise _invalid_value("redirectUris", resource)


def _normalise_entitlements(items: Any, kind: str) -> List[JSON]:
    """Validate oauth2PermissionScopes ('scope') or appRoles ('role')."""
    prop, keys, res = (("oauth2PermissionScopes", SCOPE_KEYS, "PermissionScope") if kind == "scope"
                       else ("appRoles", ROLE_KEYS, "AppRole"))
    if not isinstance(items, list):
        raise _invalid_value(prop, "Application")
    out: List[JSON] = []
    seen: set = set()
    for it in items:
        if not isinstance(it, dict):
            raise _invalid_value(prop, "Application")
        it = _strip_odata(it)
        for k in it:
            if k not in keys:
                raise _no_such_property(k)
        if not is_guid(it.get("id")):
            raise bad_request(f"Property '{prop}.id' is required and must be a GUID.")
        if it["id"].lower() in seen:
            raise bad_request(f"Duplicate id '{it['id']}' in {prop}.")
        seen.add(it["id"].lower())
        if not isinstance(it.get("isEnabled"), bool):
            raise _invalid_value("isEnabled", res)
        value = it.get("value")
        if kind == "scope":
            if not isinstance(value, str) or not value:
                raise bad_request("Property 'value' of a permission scope cannot be null or empty.")
            if it.get("type") not in ("User", "Admin"):
                raise _invalid_value("type", res)
            for f in ("adminConsentDisplayName", "adminConsentDescription"):
                if not isinstance(it.get(f), str) or not it[f]:
                    raise bad_request(f"Property '{f}' of a permission scope cannot be null or empty.")
            norm = {"adminConsentDescription": it["adminConsentDescription"],
                    "adminConsentDisplayName": it["adminConsentDisplayName"],
                    "id": it["id"].lower(), "isEnabled": it["isEnabled"], "type": it["type"],
                    "userConsentDescription": it.get("userConsentDescription"),
                    "userConsentDisplayName": it.get("userConsentDisplayName"),
                    "value": value}
        else:
            amt = it.get("allowedMemberTypes")
            if (not isinstance(amt, list) or not amt
                    or not all(m in ("User", "Application") for m in amt)):
                raise _invalid_value("allowedMemberTypes", res)
            if value is not None and not isinstance(value, str):
                raise _invalid_value("value", res)
            norm = {"allowedMemberTypes": list(amt), "description": it.get("description"),
                    "displayName": it.get("displayName"), "id": it["id"].lower(),
                    "isEnabled": it["isEnabled"], "origin": "Application", "value": value}
        if isinstance(value, str):
            if (len(value) > 120 or not SCOPE_VALUE_RE.match(value) or value.startswith(".")):
                raise _invalid_value("value", res)
        out.append(norm)
    return out


def _check_entitlement_change(old: List[JSON], new: List[JSON]) -> None:
    """ref §4.3: an enabled scope/role can be neither removed nor changed; it must first be
    disabled (isEnabled=false, everything else unchanged) in one PATCH and then removed or
    changed in a later PATCH."""
    new_by_id = {n["id"]: n for n in new}
    for o in old:
        if not o["isEnabled"]:
            continue
        n = new_by_id.get(o["id"])
        if n is None:
            raise bad_request(ENTITLEMENT_ERROR[1], ENTITLEMENT_ERROR[0])
        a = {k: v for k, v in o.items() if k not in ("isEnabled", "origin")}
        b = {k: v for k, v in n.items() if k not in ("isEnabled", "origin")}
        if a != b:
            raise bad_request(ENTITLEMENT_ERROR[1], ENTITLEMENT_ERROR[0])


class AppsMixin(QueryMixin):
    s: State
    require: Callable[..., None]

    # -- templates ----------------------------------------------------------------------

    def list_templates(self, ctx: Ctx) -> Response:
        return self.collection(ctx, [dict(CUSTOM_TEMPLATE)], "applicationTemplates",
                               "applicationTemplate", TEMPLATE_FILTER, "ApplicationTemplate")

    def get_template(self, ctx: Ctx, tid: str) -> Response:
        if tid.lower() != CUSTOM_TEMPLATE_ID:
            if not is_guid(tid):
                raise bad_request(f"Invalid object identifier '{tid}'.")
            raise not_found(tid)
        return self.entity(ctx, dict(CUSTOM_TEMPLATE), "applicationTemplates",
                           "applicationTemplate")

    def instantiate(self, ctx: Ctx, tid: str) -> Response:
        self.require(ctx, WRITE_APPS, admin=True)
        if tid.lower() != CUSTOM_TEMPLATE_ID:
            if not is_guid(tid):
                raise bad_request(f"Invalid object identifier '{tid}'.")
            raise not_found(tid)  # the emulator only knows the Custom (non-gallery) template
        body = ctx.json_body()
        if not isinstance(body, dict):
            raise bad_request("The request payload must be a JSON object.")
        for k in body:
            if k not in ("displayName", "serviceManagementReference"):
                raise bad_request(f"The parameter '{k}' in the request payload is not a valid "
                                  "parameter for the operation 'instantiate'.")
        name = body.get("displayName")
        if not isinstance(name, str) or not name.strip() or len(name) > 256:
            raise bad_request("Invalid value specified for property 'displayName' of resource "
                              "'Application'.")
        app, sp = self.create_from_template(name, body.get("serviceManagementReference"))
        out = {"@odata.context": ctx.odata("microsoft.graph.applicationServicePrincipal"),
               "application": strip_private(app), "servicePrincipal": strip_private(sp)}
        self.s.replication_hide("application", app)
        self.s.replication_hide("servicePrincipal", sp)
        return 201, [("Location", f"{ctx.base}/v1.0/applications/{app['id']}")], out

    def create_from_template(self, name: str, smr: Optional[str]) -> Tuple[JSON, JSON]:
        """ref §2.2: what the Custom template creates."""
        app_id, obj_id, sp_id = new_guid(), new_guid(), new_guid()
        scopes: List[JSON] = []
        if self.s.config["template_user_impersonation"]:
            scopes.append({
                "adminConsentDescription": f"Allow the application to access {name} on behalf of "
                                           "the signed-in user.",
                "adminConsentDisplayName": f"Access {name}", "id": new_guid(), "isEnabled": True,
                "type": "User",
                "userConsentDescription": f"Allow the application to access {name} on your behalf.",
                "userConsentDisplayName": f"Access {name}", "value": "user_impersonation"})
        roles = [
            {"allowedMemberTypes": ["User"], "description": "msiam_access",
             "displayName": "msiam_access", "id": ROLE_MSIAM_ID, "isEnabled": True,
             "origin": "Application", "value": None},
            {"allowedMemberTypes": ["User"], "description": "User", "displayName": "User",
             "id": ROLE_USER_ID, "isEnabled": True, "origin": "Application", "value": None},
        ]
        created = iso()
        app: JSON = {
            "id": obj_id, "deletedDateTime": None, "appId": app_id,
            "applicationTemplateId": CUSTOM_TEMPLATE_ID, "disabledByMicrosoftStatus": None,
            "createdDateTime": created, "displayName": name, "description": None,
            "groupMembershipClaims": None, "identifierUris": [], "isDeviceOnlyAuthSupported": None,
            "isFallbackPublicClient": None, "nativeAuthenticationApisEnabled": None,
            "notes": None, "publisherDomain": self.s.tenant_domain,
            "serviceManagementReference": smr, "signInAudience": "AzureADMyOrg", "tags": [],
            "tokenEncryptionKeyId": None, "samlMetadataUrl": None, "defaultRedirectUri": None,
            "certification": None, "optionalClaims": None,
            "servicePrincipalLockConfiguration": None, "requestSignatureVerification": None,
            "addIns": [],
            "api": {"acceptMappedClaims": None, "knownClientApplications": [],
                    "requestedAccessTokenVersion": None, "oauth2PermissionScopes": scopes,
                    "preAuthorizedApplications": []},
            "appRoles": roles,
            "info": {"logoUrl": None, "marketingUrl": None, "privacyStatementUrl": None,
                     "supportUrl": None, "termsOfServiceUrl": None},
            "keyCredentials": [],
            "parentalControlSettings": {"countriesBlockedForMinors": [],
                                        "legalAgeGroupRule": "Allow"},
            "passwordCredentials": [], "publicClient": {"redirectUris": []},
            "requiredResourceAccess": [], "verifiedPublisher": {
                "displayName": None, "verifiedPublisherId": None, "addedDateTime": None},
            "web": {"homePageUrl": CUSTOM_HOMEPAGE, "logoutUrl": None, "redirectUris": [],
                    "implicitGrantSettings": {"enableAccessTokenIssuance": False,
                                              "enableIdTokenIssuance": False},
                    "redirectUriSettings": []},
            "spa": {"redirectUris": []},
            "_sp": sp_id,
        }
        sp: JSON = {
            "id": sp_id, "deletedDateTime": None, "accountEnabled": True, "alternativeNames": [],
            "appDisplayName": name, "appDescription": None, "appId": app_id,
            "applicationTemplateId": CUSTOM_TEMPLATE_ID,
            "appOwnerOrganizationId": self.s.tenant_id, "appRoleAssignmentRequired": True,
            "description": None, "disabledByMicrosoftStatus": None, "displayName": name,
            "homepage": CUSTOM_HOMEPAGE, "loginUrl": None, "logoutUrl": None, "notes": None,
            "notificationEmailAddresses": [], "preferredSingleSignOnMode": None,
            "preferredTokenSigningKeyThumbprint": None, "replyUrls": [],
            "servicePrincipalNames": [app_id], "servicePrincipalType": "Application",
            "signInAudience": "AzureADMyOrg",
            "tags": ["WindowsAzureActiveDirectoryCustomSingleSignOnApplication",
                     "WindowsAzureActiveDirectoryIntegratedApp"],
            "tokenEncryptionKeyId": None, "samlSingleSignOnSettings": None, "addIns": [],
            "appRoles": copy.deepcopy(roles),
            "info": copy.deepcopy(app["info"]), "keyCredentials": [],
            "oauth2PermissionScopes": copy.deepcopy(scopes), "passwordCredentials": [],
            "resourceSpecificApplicationPermissions": [],
            "verifiedPublisher": copy.deepcopy(app["verifiedPublisher"]),
            "_app": obj_id,
        }
        # TF-azuread synchronization.go / app_role_assignment_resource.go: a new service principal
        # is not ready for sync calls and assignments at once (see _sync_sp, create_assigned_to).
        sp["_sync_transient"] = int(self.s.config["new_sp_sync_transient_count"])
        sp["_assign_transient"] = int(self.s.config["new_sp_assignment_transient_count"])
        self.s.applications[obj_id] = app
        self.s.service_principals[sp_id] = sp
        return app, sp

    # -- applications -------------------------------------------------------------------

    def app_by_key(self, key: str) -> JSON:
        m = re.fullmatch(r"\(appId='([^']*)'\)", key)
        if m:
            app = next((a for a in self.s.applications.values()
                        if a["appId"] == m.group(1).lower()), None)
            ident = m.group(1)
        else:
            if not is_guid(key):
                raise bad_request(f"Invalid object identifier '{key}'.")
            app = self.s.applications.get(key.lower())
            ident = key
        if app is None or not State.replicated(app):
            raise not_found(ident)
        return app

    def list_applications(self, ctx: Ctx) -> Response:
        self.require(ctx, READ_APPS)
        objs = [strip_private(a) for a in self.s.applications.values() if State.replicated(a)]
        return self.collection(ctx, objs, "applications", "application", APP_FILTER,
                               "Application")

    def get_application(self, ctx: Ctx, key: str) -> Response:
        self.require(ctx, READ_APPS)
        app = self.app_by_key(key)
        return self.entity(ctx, strip_private(self._replica_of(app)), "applications",
                           "application")

    @staticmethod
    def _replica_of(app: JSON) -> JSON:
        """TF-azuread applications.go: right after a PATCH the next request on the app may hit a
        replica that still has the state before it (the PATCH is not lost: it shows later)."""
        stale = app.get("_stale")
        if stale and stale["reads"] > 0:
            stale["reads"] -= 1
            return stale["snapshot"]
        app.pop("_stale", None)
        return app

    def get_application_altkey(self, ctx: Ctx, appid: str) -> Response:
        return self.get_application(ctx, f"(appId='{appid}')")

    def patch_application_altkey(self, ctx: Ctx, key: str) -> Response:
        return self.patch_application(ctx, f"(appId='{key}')")

    def delete_application(self, ctx: Ctx, key: str) -> Response:
        self.require(ctx, WRITE_APPS, admin=True)
        app = self.app_by_key(key)
        sp_id = app.get("_sp")
        del self.s.applications[app["id"]]
        if sp_id and sp_id in self.s.service_principals:
            self.delete_sp_cascade(sp_id)
        return no_content()

    def delete_sp_cascade(self, sp_id: str) -> None:
        self.s.service_principals.pop(sp_id, None)
        self.s.sync_secrets.pop(sp_id, None)
        self.s.sync_secrets_stale.pop(sp_id, None)
        for jid in [j for j, job in self.s.jobs.items() if job["_sp"] == sp_id]:
            del self.s.jobs[jid]
        for aid in [a for a, asg in self.s.assignments.items()
                    if asg["resourceId"] == sp_id or asg["principalId"] == sp_id]:
            del self.s.assignments[aid]

    def patch_application(self, ctx: Ctx, key: str) -> Response:
        self.require(ctx, WRITE_APPS, admin=True)
        app = self.app_by_key(key)
        replica = self._replica_of(app)
        if replica is not app:
            # The stale replica judges the change: removing a scope that it still sees enabled is
            # 400 CannotDeleteOrUpdateEnabledEntitlement although the last PATCH disabled it.
            self._apply_patch(ctx, copy.deepcopy(replica))
        before = copy.deepcopy(app)
        self._apply_patch(ctx, app)
        if self.s.config["stale_reads_after_app_patch"]:
            app["_stale"] = {"snapshot": before, "reads": int(self.s.config["stale_reads_after_app_patch"])}
            before.pop("_stale", None)
        return no_content()

    def _apply_patch(self, ctx: Ctx, app: JSON) -> None:
        body = ctx.json_body()
        if not isinstance(body, dict):
            raise bad_request("The request payload must be a JSON object.")
        body = {k: v for k, v in body.items() if not k.startswith("@odata.")}
        for k in body:
            if k in APP_READONLY:
                raise bad_request(f"Property '{k}' is read-only and cannot be set.")
            if k not in APP_WRITABLE:
                raise _no_such_property(k)
        new = copy.deepcopy(app)
        for k, v in body.items():
            if k == "api":
                self._patch_api(app, new, v)
            elif k == "appRoles":
                roles = _normalise_entitlements(v, "role")
                _check_entitlement_change(app["appRoles"], roles)
                new["appRoles"] = roles
            elif k == "publicClient":
                new["publicClient"] = self._patch_platform(app, v, "publicClient", ("redirectUris",))
            elif k == "spa":
                new["spa"] = self._patch_platform(app, v, "spa", ("redirectUris",))
            elif k == "web":
                new["web"] = self._patch_platform(
                    app, v, "web", ("redirectUris", "homePageUrl", "logoutUrl",
                                    "implicitGrantSettings", "redirectUriSettings"))
            elif k == "isFallbackPublicClient" or k == "isDeviceOnlyAuthSupported":
                if v is not None and not isinstance(v, bool):
                    raise _invalid_value(k, "Application")
                new[k] = v
            elif k == "displayName":
                if not isinstance(v, str) or not v.strip() or len(v) > 256:
                    raise _invalid_value(k, "Application")
                new[k] = v
            elif k == "signInAudience":
                if v not in ("AzureADMyOrg", "AzureADMultipleOrgs",
                             "AzureADandPersonalMicrosoftAccount", "PersonalMicrosoftAccount"):
                    raise _invalid_value(k, "Application")
                new[k] = v
            elif k == "tags":
                if not isinstance(v, list) or not all(isinstance(t, str) for t in v):
                    raise _invalid_value(k, "Application")
                new[k] = list(v)
            elif k == "identifierUris":
                continue  # validated below, after api (token version matters: ref §4.2)
            else:
                new[k] = copy.deepcopy(v)
        if "identifierUris" in body:
            new["identifierUris"] = self._check_identifier_uris(app, new, body["identifierUris"])
        # scope and app-role values share one namespace (ref §4.1)
        values = [s["value"] for s in new["api"]["oauth2PermissionScopes"]] + \
                 [r["value"] for r in new["appRoles"] if r["value"]]
        dup = {v for v in values if values.count(v) > 1}
        if dup:
            raise bad_request(f"The value '{sorted(dup)[0]}' is used by more than one permission "
                              "scope or app role; values must be unique.")
        app.clear()
        app.update(new)
        sp = self.s.service_principals.get(app.get("_sp") or "")
        if sp is not None:
            sp["appDisplayName"] = app["displayName"]
            sp["oauth2PermissionScopes"] = copy.deepcopy(app["api"]["oauth2PermissionScopes"])
            sp["appRoles"] = copy.deepcopy(app["appRoles"])
            sp["servicePrincipalNames"] = [app["appId"]] + list(app["identifierUris"])
            sp["signInAudience"] = app["signInAudience"]

    def _patch_api(self, app: JSON, new: JSON, v: Any) -> None:
        if not isinstance(v, dict):
            raise _invalid_value("api", "Application")
        v = _strip_odata(v)
        for k in v:
            if k not in API_KEYS:
                raise _no_such_property(k)
        api = new["api"]
        # Nested complex properties merge: omitted sub-properties keep their values (ref §4).
        if "requestedAccessTokenVersion" in v:
            if v["requestedAccessTokenVersion"] not in (1, 2, None) or isinstance(
                    v["requestedAccessTokenVersion"], bool):
                raise _invalid_value("requestedAccessTokenVersion", "ApiApplication")
            api["requestedAccessTokenVersion"] = v["requestedAccessTokenVersion"]
        if "oauth2PermissionScopes" in v:
            scopes = _normalise_entitlements(v["oauth2PermissionScopes"], "scope")
            _check_entitlement_change(app["api"]["oauth2PermissionScopes"], scopes)
            api["oauth2PermissionScopes"] = scopes
        for k in ("acceptMappedClaims", "knownClientApplications", "preAuthorizedApplications"):
            if k in v:
                api[k] = copy.deepcopy(v[k])

    def _patch_platform(self, app: JSON, v: Any, platform: str, keys: Tuple[str, ...]) -> JSON:
        if not isinstance(v, dict):
            raise _invalid_value(platform, "Application")
        v = _strip_odata(v)
        cur = copy.deepcopy(app[platform])
        for k, val in v.items():
            if k not in keys:
                raise _no_such_property(k)
            if k == "redirectUris":
                if not isinstance(val, list):
                    raise _invalid_value("redirectUris", "Application")
                for u in val:
                    _check_redirect_uri(u, platform)
                if len(set(val)) != len(val):
                    raise bad_request("Duplicate values are not allowed in 'redirectUris'.")
                cur[k] = list(val)
            else:
                cur[k] = copy.deepcopy(val)
        return cur

    def _check_identifier_uris(self, app: JSON, new: JSON, uris: Any) -> List[str]:
        if not isinstance(uris, list) or not all(isinstance(u, str) for u in uris):
            raise _invalid_value("identifierUris", "Application")
        if len(set(u.lower() for u in uris)) != len(uris):
            raise bad_request("Duplicate values are not allowed in 'identifierUris'.")
        tenant = self.s.tenant_id
        app_id = app["appId"]
        policy = self.s.config["identifier_uri_policy"]
        v2 = new["api"]["requestedAccessTokenVersion"] == 2
        for u in uris:
            sp = urlsplit(u)
            if (not sp.scheme or not (sp.netloc or sp.path) or "*" in u or re.search(r"\s", u)
                    or len(u) > 255 or u.endswith("/") or sp.query or sp.fragment):
                raise _invalid_value("identifierUris", "Application")
            for other in self.s.applications.values():
                if other["id"] != app["id"] and u.lower() in (x.lower() for x in other["identifierUris"]):
                    raise bad_request("Another object with the same value for property "
                                      "identifierUris already exists.")
            if u in app["identifierUris"] or policy == "none" or v2:
                continue  # existing URIs are not re-checked; the policy skips v2 apps (ref §4.2)
            default_uris = {f"api://{app_id}", f"api://{tenant}/{app_id}"}
            if policy == "nonDefault":
                ok = u.lower() in default_uris
            else:
                host = (sp.hostname or "").lower()
                ok = (app_id in u.lower() or tenant in u.lower() or any(
                    host == d or host.endswith("." + d) for d in self.s.verified_domains))
            if not ok:
                raise bad_request(
                    f"Failed to add identifier URI {u}. All newly added URIs must contain a "
                    "tenant verified domain, tenant ID, or app ID, as per the default tenant "
                    "policy of your organization. See https://aka.ms/identifier-uri-addition-errors "
                    "for more information on this error.")
        return list(uris)

    # -- service principals -------------------------------------------------------------

    def sp_by_key(self, key: str) -> JSON:
        m = re.fullmatch(r"\(appId='([^']*)'\)", key)
        if m:
            sp = next((p for p in self.s.service_principals.values()
                       if p["appId"] == m.group(1).lower()), None)
            ident = m.group(1)
        else:
            if not is_guid(key):
                raise bad_request(f"Invalid object identifier '{key}'.")
            sp = self.s.service_principals.get(key.lower())
            ident = key
        if sp is None or not State.replicated(sp):
            raise not_found(ident)
        return sp

    def list_sps(self, ctx: Ctx) -> Response:
        self.require(ctx, READ_APPS)
        objs = [strip_private(p) for p in self.s.service_principals.values()
                if State.replicated(p)]
        return self.collection(ctx, objs, "servicePrincipals", "servicePrincipal", SP_FILTER,
                               "ServicePrincipal")

    def get_sp(self, ctx: Ctx, key: str) -> Response:
        self.require(ctx, READ_APPS)
        return self.entity(ctx, strip_private(self.sp_by_key(key)), "servicePrincipals",
                           "servicePrincipal")

    def get_sp_altkey(self, ctx: Ctx, appid: str) -> Response:
        return self.get_sp(ctx, f"(appId='{appid}')")

    # G api-reference/v1.0/api/serviceprincipal-update.md; only the properties the tool or
    # the tests change are served (others: 400, see GRAPH_EMULATOR.md "Deliberately NOT done").
    SP_WRITABLE = {"appRoleAssignmentRequired", "accountEnabled", "notes", "tags"}

    def patch_sp(self, ctx: Ctx, key: str) -> Response:
        self.require(ctx, WRITE_APPS, admin=True)
        sp = self.sp_by_key(key)
        body = ctx.json_body()
        if not isinstance(body, dict):
            raise bad_request("The request payload must be a JSON object.")
        for k, v in body.items():
            if k.startswith("@odata."):
                continue
            if k not in self.SP_WRITABLE:
                raise _no_such_property(k)
            if k in ("appRoleAssignmentRequired", "accountEnabled") and not isinstance(v, bool):
                raise _invalid_value(k, "ServicePrincipal")
        for k, v in body.items():
            if not k.startswith("@odata."):
                sp[k] = copy.deepcopy(v)
        return no_content()


# ---------------------------------------------------------------------------------------
# App role assignments (ref §5)
# ---------------------------------------------------------------------------------------

ASSIGNMENT_FILTER = {"id": "str", "principalId": "str", "principalType": "str",
                     "appRoleId": "str", "principalDisplayName": "str"}


class AssignmentsMixin(QueryMixin):
    s: State
    require: Callable[..., None]
    sp_by_key: Callable[[str], JSON]

    def _sp_from_path(self, key: str, appid: Optional[str]) -> JSON:
        return self.sp_by_key(f"(appId='{appid}')" if appid is not None else key)

    def _assignment_fragment(self, sp: JSON) -> str:
        return f"servicePrincipals('{sp['id']}')/appRoleAssignedTo"

    def list_assigned_to(self, ctx: Ctx, key: str = "", appid: Optional[str] = None) -> Response:
        self.require(ctx, READ_APPS + ASSIGN)
        sp = self._sp_from_path(key, appid)
        items = [strip_private(a) for a in self.s.assignments.values()
                 if a["resourceId"] == sp["id"]]
        return self.collection(ctx, items, self._assignment_fragment(sp), "appRoleAssignment",
                               ASSIGNMENT_FILTER, "AppRoleAssignment")

    def create_assigned_to(self, ctx: Ctx, key: str = "", appid: Optional[str] = None) -> Response:
        # ref §1.5: AppRoleAssignment.ReadWrite.All *and* Application.Read.All (or
        # Directory.Read.All) - without the second one Graph answers 403.
        self.require(ctx, ASSIGN, READ_APPS, admin=True)
        sp = self._sp_from_path(key, appid)
        body = ctx.json_body()
        if not isinstance(body, dict):
            raise bad_request("The request payload must be a JSON object.")
        body = {k: v for k, v in body.items() if not k.startswith("@odata.")}
        allowed = {"principalId", "resourceId", "appRoleId", "principalType",
                   "principalDisplayName", "resourceDisplayName", "id", "createdDateTime",
                   "deletedDateTime"}
        for k in body:
            if k not in allowed:
                raise _no_such_property(k)
        for k in ("principalId", "resourceId", "appRoleId"):
            if k not in body or body[k] is None:
                raise bad_request(f"Property '{k}' is required.")
            if not is_guid(body[k]):
                raise bad_request(f"Invalid value specified for property '{k}' of resource "
                                  "'AppRoleAssignment'.")
        if body["resourceId"].lower() != sp["id"]:
            raise bad_request("The resourceId in the request body must be the service principal "
                              "addressed by the request URI.")
        if sp.get("_assign_transient", 0) > 0:
            # TF-azuread app_role_assignment_resource.go retries this answer on a new SP.
            sp["_assign_transient"] -= 1
            raise bad_request("Not a valid reference update.", "Request_BadRequest")
        pid = body["principalId"].lower()
        principal: Optional[JSON] = None
        ptype = ""
        if pid in self.s.users:
            principal, ptype = self.s.users[pid], "User"
        elif pid in self.s.groups:
            principal, ptype = self.s.groups[pid], "Group"
        elif pid in self.s.service_principals:
            principal, ptype = self.s.service_principals[pid], "ServicePrincipal"
        if principal is None:
            raise not_found(body["principalId"])
        role_id = body["appRoleId"].lower()
        member_type = "Application" if ptype == "ServicePrincipal" else "User"
        if role_id == ZERO_GUID:
            # G resources/approleassignment.md: the default role id is only for resources that
            # declare no app roles (ref §5; Custom SPs declare User + msiam_access).
            ok = not sp["appRoles"]
        else:
            ok = any(r["id"] == role_id and r["isEnabled"] and member_type in r["allowedMemberTypes"]
                     for r in sp["appRoles"])
        if not ok:
            raise bad_request(f"Permission being assigned was not found on application "
                              f"'{sp['appId']}'.")
        for a in self.s.assignments.values():
            if a["resourceId"] == sp["id"] and a["principalId"] == pid and a["appRoleId"] == role_id:
                raise bad_request("EntitlementGrant entry already exists.")  # ref §5
        aid = b64url(secrets.token_bytes(32))[:43]
        ts = time.time()
        a = {"id": aid, "deletedDateTime": None, "appRoleId": role_id,
             "createdDateTime": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts))
             + ".%07dZ" % int((ts % 1) * 1e7),
             "principalDisplayName": principal["displayName"], "principalId": pid,
             "principalType": ptype, "resourceDisplayName": sp["displayName"],
             "resourceId": sp["id"],
             # ED provision-on-demand.md: honoured by on-demand provisioning only after a
             # replication delay of up to a few minutes
             "_honoured_at": ts + float(self.s.config["assignment_replication_seconds"])}
        self.s.assignments[aid] = a
        return self.entity(ctx, dict(a), self._assignment_fragment(sp), "appRoleAssignment",
                           status=201)

    def delete_assigned_to(self, ctx: Ctx, key: str = "", aid: str = "",
                           appid: Optional[str] = None) -> Response:
        self.require(ctx, ASSIGN, admin=True)
        sp = self._sp_from_path(key, appid)
        a = self.s.assignments.get(aid)
        if a is None or a["resourceId"] != sp["id"]:
            raise not_found(aid)
        del self.s.assignments[aid]
        return no_content()


# ---------------------------------------------------------------------------------------
# Synchronization / provisioning (ref §6)
# ---------------------------------------------------------------------------------------

AAD_DIR = "Azure Active Directory"
TARGET_DIR = "customappsso"  # ref §6.4
SCIM_USER_OBJ = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SCIM_GROUP_OBJ = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:"
SYNC_SECRET_KEYS = {
    "BaseAddress", "SecretToken", "SyncAll", "SyncNotificationSettings",
    "SkipOutOfScopeDeletions", "ClientIdentifier", "ClientSecret", "UserName", "Password",
    "Domain", "TenantId", "InstanceName", "AuthenticationType", "Oauth2AccessTokenCreationTime",
    "Oauth2AccessToken", "Oauth2RefreshToken", "Oauth2TokenExchangeUri", "Oauth2ClientSecret",
    "Oauth2ClientId", "Oauth2AuthorizationUri", "HardDeletesEnabled", "Server",
    "PerformInboundEntitlementGrants", "SyncAgentCompatibilityKey", "SyncAgentADContainer",
    "ValidateDomain", "TestReferences", "ConnectionString", "NotificationEmail",
}
FLOW_TYPES = {"Always", "ObjectAddOnly", "MultiValueAddOnly", "ValueAddOnly", "AttributeAddOnly"}
FLOW_BEHAVIORS = {"FlowWhenChanged", "FlowAlways"}
SOURCE_TYPES = {"Attribute", "Constant", "Function"}
NEVER = "0001-01-01T00:00:00Z"


def _attr(name: str, typ: str = "String", **kw: Any) -> JSON:
    a = {"anchor": False, "apiExpressions": [], "caseExact": False, "defaultValue": None,
         "flowNullValues": False, "metadata": [], "multivalued": False, "mutability": "ReadWrite",
         "name": name, "referencedObjects": [], "required": False, "type": typ}
    a.update(kw)
    return a


def _src_attr(name: str) -> JSON:
    return {"expression": f"[{name}]", "name": name, "parameters": [], "type": "Attribute"}


def _const(v: str) -> JSON:
    return {"expression": json.dumps(v), "name": v, "parameters": [], "type": "Constant"}


def _amap(target: str, source: JSON, matching: int = 0, flow: str = "Always") -> JSON:
    return {"defaultValue": "", "exportMissingReferences": False,
            "flowBehavior": "FlowWhenChanged", "flowType": flow, "matchingPriority": matching,
            "source": source, "targetAttributeName": target}


def _ref(*objs: str) -> List[JSON]:
    return [{"referencedObjectName": o, "referencedProperty": None} for o in objs]


def default_schema(job_id: str, user_enabled: bool, group_enabled: bool) -> JSON:
    """The scim template's default schema: the non-gallery mappings of ref §6.4 / [E-scim],
    including everything Kiro's guide (seed, 'Remove unsupported attributes') tells the admin
    to edit: externalId<-mailNickname, the enterprise extension and phoneNumbers mappings."""
    src_user = [_attr("objectId", anchor=True, mutability="ReadOnly"), _attr("userPrincipalName"),
                _attr("mailNickname"), _attr("displayName"), _attr("givenName"), _attr("surname"),
                _attr("mail"), _attr("jobTitle"), _attr("department"), _attr("employeeId"),
                _attr("manager", "Reference", referencedObjects=_ref("User")),
                _attr("telephoneNumber"), _attr("mobile"), _attr("facsimileTelephoneNumber"),
                _attr("IsSoftDeleted", "Boolean"), _attr("accountEnabled", "Boolean"),
                _attr("preferredLanguage"), _attr("physicalDeliveryOfficeName"),
                _attr("streetAddress"), _attr("city"), _attr("state"), _attr("postalCode"),
                _attr("country"), _attr("usageLocation")]
    src_group = [_attr("objectId", anchor=True, mutability="ReadOnly"), _attr("displayName"),
                 _attr("mailNickname"), _attr("description"), _attr("mail"),
                 _attr("members", "Reference", multivalued=True,
                       referencedObjects=_ref("User", "Group"))]
    tgt_user = [_attr("id", anchor=True, mutability="ReadOnly"),
                _attr("userName", required=True, caseExact=False), _attr("externalId"),
                _attr("active", "Boolean"), _attr("displayName"), _attr("title"),
                _attr('emails[type eq "work"].value'), _attr("preferredLanguage"),
                _attr("name.givenName"), _attr("name.familyName"), _attr("name.formatted"),
                _attr('addresses[type eq "work"].formatted'),
                _attr('addresses[type eq "work"].streetAddress'),
                _attr('addresses[type eq "work"].locality'),
                _attr('addresses[type eq "work"].region'),
                _attr('addresses[type eq "work"].postalCode'),
                _attr('addresses[type eq "work"].country'),
                _attr('phoneNumbers[type eq "work"].value'),
                _attr('phoneNumbers[type eq "mobile"].value'),
                _attr('phoneNumbers[type eq "fax"].value'),
                _attr(ENT + "employeeNumber"), _attr(ENT + "department"),
                _attr(ENT + "manager", "Reference", referencedObjects=_ref(SCIM_USER_OBJ)),
                _attr("roles[primary eq \"True\"].value"), _attr("nickName")]
    tgt_group = [_attr("id", anchor=True, mutability="ReadOnly"),
                 _attr("displayName", required=True), _attr("externalId"),
                 _attr("members", "Reference", multivalued=True,
                       referencedObjects=_ref(SCIM_USER_OBJ, SCIM_GROUP_OBJ))]
    switch = {"expression": 'Switch([IsSoftDeleted], , "False", "True", "True", "False")',
              "name": "Switch", "type": "Function",
              "parameters": [{"key": "source", "value": _src_attr("IsSoftDeleted")},
                             {"key": "defaultValue", "value": _const("")},
                             {"key": "key", "value": _const("False")},
                             {"key": "value", "value": _const("True")},
                             {"key": "key", "value": _const("True")},
                             {"key": "value", "value": _const("False")}]}
    join = {"expression": 'Join(" ", [givenName], [surname])', "name": "Join", "type": "Function",
            "parameters": [{"key": "separator", "value": _const(" ")},
                           {"key": "source", "value": _src_attr("givenName")},
                           {"key": "source", "value": _src_attr("surname")}]}
    user_maps = [
        _amap("userName", _src_attr("userPrincipalName"), matching=1),
        _amap("active", switch),
        _amap("displayName", _src_attr("displayName")),
        _amap("title", _src_attr("jobTitle")),
        _amap('emails[type eq "work"].value', _src_attr("mail")),
        _amap("preferredLanguage", _src_attr("preferredLanguage")),
        _amap("name.givenName", _src_attr("givenName")),
        _amap("name.familyName", _src_attr("surname")),
        _amap("name.formatted", join),
        _amap('addresses[type eq "work"].formatted', _src_attr("physicalDeliveryOfficeName")),
        _amap('addresses[type eq "work"].streetAddress', _src_attr("streetAddress")),
        _amap('addresses[type eq "work"].locality', _src_attr("city")),
        _amap('addresses[type eq "work"].region', _src_attr("state")),
        _amap('addresses[type eq "work"].postalCode', _src_attr("postalCode")),
        _amap('addresses[type eq "work"].country', _src_attr("country")),
        _amap('phoneNumbers[type eq "work"].value', _src_attr("telephoneNumber")),
        _amap('phoneNumbers[type eq "mobile"].value', _src_attr("mobile")),
        _amap('phoneNumbers[type eq "fax"].value', _src_attr("facsimileTelephoneNumber")),
        _amap("externalId", _src_attr("mailNickname")),
        _amap(ENT + "employeeNumber", _src_attr("employeeId")),
        _amap(ENT + "department", _src_attr("department")),
        _amap(ENT + "manager", _src_attr("manager")),
    ]
    group_maps = [
        _amap("displayName", _src_attr("displayName"), matching=1),
        _amap("externalId", _src_attr("objectId")),
        _amap("members", _src_attr("members")),
    ]

    def obj(name: str, attrs: List[JSON]) -> JSON:
        return {"attributes": attrs, "metadata": [], "name": name, "supportedApis": []}

    version = "Date:" + iso() + "~User:emulator"
    return {
        "id": job_id, "version": version,
        "directories": [
            {"id": "66e4a8cc-1b7b-435e-95f8-f06cea133828", "name": AAD_DIR, "version": version,
             "discoverabilities": "AttributeNames", "discoveryDateTime": None, "readOnly": True,
             "objects": [obj("User", src_user), obj("Group", src_group)]},
            {"id": "8ffa6169-f354-4751-9b77-9c00765be92d", "name": TARGET_DIR, "version": version,
             "discoverabilities": "AttributeDataTypes, AttributeNames, AttributeReadOnly",
             "discoveryDateTime": None, "readOnly": False,
             "objects": [obj(SCIM_USER_OBJ, tgt_user), obj(SCIM_GROUP_OBJ, tgt_group)]},
        ],
        "synchronizationRules": [{
            "id": new_guid(),
            "name": "USER_OUTBOUND_USER", "editable": True, "priority": 1,
            "sourceDirectoryName": AAD_DIR, "targetDirectoryName": TARGET_DIR,
            "containerFilter": {"includedContainers": []},
            "groupFilter": {"includedGroups": []},
            "metadata": [{"key": "defaultSourceObjectMappings", "value": "..."},
                         {"key": "disableMonitoringForChanges", "value": "false"},
                         {"key": "Synchronization.Action", "value": "Provision"}],
            "objectMappings": [
                {"attributeMappings": user_maps, "enabled": user_enabled,
                 "flowTypes": "Add, Update, Delete", "metadata": [],
                 "name": "Provision Microsoft Entra ID Users", "scope": None,
                 "sourceObjectName": "User", "targetObjectName": SCIM_USER_OBJ},
                {"attributeMappings": group_maps, "enabled": group_enabled,
                 "flowTypes": "Add, Update, Delete", "metadata": [],
                 "name": "Provision Microsoft Entra ID Groups", "scope": None,
                 "sourceObjectName": "Group", "targetObjectName": SCIM_GROUP_OBJ},
            ],
        }],
    }


def _status_template() -> JSON:
    return {"code": "NotConfigured", "countSuccessiveCompleteFailures": 0,
            "escrowsPruned": False, "lastExecution": None, "lastSuccessfulExecution": None,
            "lastSuccessfulExecutionWithExports": None, "progress": [], "quarantine": None,
            "steadyStateFirstAchievedTime": NEVER, "steadyStateLastAchievedTime": NEVER,
            "synchronizedEntryCountByType": [], "troubleshootingUrl": None}


class SyncMixin(QueryMixin):
    s: State
    require: Callable[..., None]
    sp_by_key: Callable[[str], JSON]

    # -- helpers ------------------------------------------------------------------------

    def _sync_sp(self, key: str) -> JSON:
        """The service principal of a synchronization call. TF-azuread synchronization.go
        (synchronizationRetryFunc) retries 403 and 409: the sync service does not know a service
        principal created moments ago. The first calls answer 403, then 409."""
        sp = self.sp_by_key(key)
        left = sp.get("_sync_transient", 0)
        if left > 0:
            sp["_sync_transient"] = left - 1
            if left % 2 == 0:
                raise GraphError(403, "Authorization_RequestDenied",
                                 "Insufficient privileges to complete the operation.")
            raise sync_error(409, "The service principal is not yet ready for synchronization; "
                             "retry the request.", sync_code="ServicePrincipalNotReady")
        return sp

    def _visible_secrets(self, sp: JSON) -> Dict[str, str]:
        """The saved secrets as the sync service's readers see them: right after a PUT, the
        previous ones (TF-azuread polls GET secrets until the PUT shows)."""
        stale = self.s.sync_secrets_stale.get(sp["id"])
        if stale and stale["reads"] > 0:
            stale["reads"] -= 1
            return stale["old"]
        self.s.sync_secrets_stale.pop(sp["id"], None)
        return self.s.sync_secrets.get(sp["id"], {})

    def _job(self, sp: JSON, job_id: str) -> JSON:
        job = self.s.jobs.get(job_id)
        if job is None or job["_sp"] != sp["id"] or not State.replicated(job):
            raise not_found(job_id)
        return job

    def _job_fragment(self, sp: JSON) -> str:
        return f"servicePrincipals('{sp['id']}')/synchronization/jobs"

    def _render_job(self, job: JSON) -> JSON:
        return strip_private(job)

    def _configured(self, sp: JSON, visible: bool = False) -> bool:
        sec = self._visible_secrets(sp) if visible else self.s.sync_secrets.get(sp["id"], {})
        return bool(sec.get("BaseAddress")) and bool(sec.get("SecretToken"))

    def _learn(self, token: Optional[str]) -> None:
        # Only token-like values are tracked for the log's scim_token_* flags (a 1-character
        # test value would otherwise "occur" in every request).
        if isinstance(token, str) and len(token) >= MIN_TRACKED_TOKEN:
            self.s.scim_tokens.add(token)

    def _check_credentials(self, creds: List[JSON], where: str) -> Dict[str, str]:
        out: Dict[str, str] = {}
        for c in creds:
            if not isinstance(c, dict) or set(c) - {"key", "value", "@odata.type"} \
                    or not isinstance(c.get("key"), str) or not isinstance(c.get("value"), str):
                raise bad_request(f"Each entry of '{where}' must be an object "
                                  "{\"key\": string, \"value\": string}.")
            if c["key"] not in SYNC_SECRET_KEYS:
                raise sync_error(400, f"The secret key '{c['key']}' is not valid for this "
                                 "application.", sync_code="InvalidSecretKey")
            out[c["key"]] = c["value"]
            if c["key"] == "SecretToken":
                self._learn(c["value"])
        base = out.get("BaseAddress")
        if base:
            sp = urlsplit(base)
            if sp.scheme not in ("http", "https") or not sp.netloc or re.search(r"\s", base):
                raise sync_error(400, f"The tenant URL '{base}' is not a valid absolute http(s) "
                                 "URL.", sync_code="InvalidTenantUrl")
        if out.get("SyncAll", "") not in ("", "true", "false", "True", "False"):  # "" deletes it
            raise sync_error(400, "SyncAll must be \"true\" or \"false\".",
                             sync_code="InvalidSecretValue")
        if out.get("SyncNotificationSettings"):
            try:
                json.loads(out["SyncNotificationSettings"])
            except ValueError:
                raise sync_error(400, "SyncNotificationSettings must be a JSON string.",
                                 sync_code="InvalidSecretValue") from None
        return out

    def _token_rejected(self, token: Optional[str]) -> bool:
        return bool(token) and sha_full(token or "") in self.s.rejected_tokens

    def _scope(self, sp: JSON, on_demand: bool = False) -> Tuple[set, set]:
        """(user ids, group ids) in provisioning scope (ref §5: direct members of assigned
        groups only - nested groups are not provisioned; groups must be security-enabled).
        SyncAll=true -> every user and group."""
        if str(self.s.sync_secrets.get(sp["id"], {}).get("SyncAll", "false")).lower() == "true":
            return set(self.s.users), set(self.s.groups)
        users: set = set()
        groups: set = set()
        now = time.time()
        for a in self.s.assignments.values():
            if a["resourceId"] != sp["id"]:
                continue
            if on_demand and a.get("_honoured_at", 0) > now:
                continue  # not replicated to the provisioning service yet
            if a["principalType"] == "User":
                users.add(a["principalId"])
            elif a["principalType"] == "Group":
                g = self.s.groups.get(a["principalId"])
                if g is None or not g["securityEnabled"]:
                    continue
                groups.add(g["id"])
                users.update(m for m in g["_members"] if m in self.s.users)
        return users, groups

    # -- templates / jobs ---------------------------------------------------------------

    def sync_templates(self, ctx: Ctx, key: str) -> Response:
        self.require(ctx, READ_SYNC, admin=True)
        sp = self._sync_sp(key)
        items = []
        if sp.get("applicationTemplateId") == CUSTOM_TEMPLATE_ID:
            items.append({"id": "scim", "applicationId": sp["appId"], "default": True,
                          "description": "SCIM 2.0 provisioning (non-gallery application)",
                          "discoverable": True, "factoryTag": "scim", "metadata": [],
                          "schema": strip_private(default_schema(
                              "scim", self.s.config["schema_user_mapping_enabled"],
                              self.s.config["schema_group_mapping_enabled"]))})
        return self.collection(ctx, items,
                               f"servicePrincipals('{sp['id']}')/synchronization/templates",
                               "synchronizationTemplate")

    def list_jobs(self, ctx: Ctx, key: str) -> Response:
        self.require(ctx, READ_SYNC, admin=True)
        sp = self._sync_sp(key)
        items = [self._render_job(j) for j in self.s.jobs.values()
                 if j["_sp"] == sp["id"] and State.replicated(j)]
        return self.collection(ctx, items, self._job_fragment(sp), "synchronizationJob")

    def create_job(self, ctx: Ctx, key: str) -> Response:
        self.require(ctx, WRITE_SYNC, admin=True)
        sp = self._sync_sp(key)
        body = ctx.json_body()
        if not isinstance(body, dict) or set(body) - {"templateId", "@odata.type"}:
            raise bad_request("The request body must be {\"templateId\": \"scim\"}.")
        tpl = body.get("templateId")
        if tpl != "scim" or sp.get("applicationTemplateId") != CUSTOM_TEMPLATE_ID:
            raise sync_error(400, f"The template '{tpl}' was not found for this application.",
                             sync_code="TemplateNotFound")
        if any(j["_sp"] == sp["id"] and j["templateId"] == tpl for j in self.s.jobs.values()):
            raise sync_error(409, f"A synchronization job for template '{tpl}' already exists "
                             "for this service principal.", sync_code="JobAlreadyExists")
        job_id = f"scim.{uuid.uuid4().hex}.{sp['appId'].replace('-', '')}"
        job = {
            "id": job_id, "templateId": tpl,
            "schedule": {"expiration": None, "interval": "P10675199DT2H48M5.4775807S",
                         "state": "Disabled"},  # ref §6.2: created disabled
            "status": _status_template(),
            "synchronizationJobSettings": [
                {"name": "AzureIngestionAttributeOptimization", "value": "False"},
                {"name": "LookaheadQueryEnabled", "value": "False"}],
            "_sp": sp["id"],
            "_schema": default_schema(job_id, self.s.config["schema_user_mapping_enabled"],
                                      self.s.config["schema_group_mapping_enabled"]),
            "_provisioned": {}, "_pod_times": [], "_ran": False,
        }
        if self._configured(sp):
            job["status"]["code"] = "NotRun"
        self.s.jobs[job_id] = job
        out = self.entity(ctx, self._render_job(job), self._job_fragment(sp),
                          "synchronizationJob", status=201)
        self.s.replication_hide("synchronizationJob", job)
        return out

    def get_job(self, ctx: Ctx, key: str, job_id: str) -> Response:
        self.require(ctx, READ_SYNC, admin=True)
        sp = self._sync_sp(key)
        job = self._job(sp, job_id)
        return self.entity(ctx, self._render_job(job), self._job_fragment(sp),
                           "synchronizationJob")

    def delete_job(self, ctx: Ctx, key: str, job_id: str) -> Response:
        self.require(ctx, WRITE_SYNC, admin=True)
        sp = self._sync_sp(key)
        job = self._job(sp, job_id)
        del self.s.jobs[job["id"]]
        return no_content()

    # -- secrets / credentials ----------------------------------------------------------

    def put_secrets(self, ctx: Ctx, key: str) -> Response:
        self.require(ctx, WRITE_SYNC, admin=True)
        sp = self._sync_sp(key)
        body = ctx.json_body()
        if not isinstance(body, dict) or not isinstance(body.get("value"), list) or \
                set(body) - {"value", "@odata.context", "@odata.type"}:
            # ref §6.3: the examples, TF and third-party scripts all send {"value": [...]}.
            raise bad_request("The request body must be {\"value\": [{\"key\": ..., \"value\": "
                              "...}]}.")
        new = self._check_credentials(body["value"], "value")
        cur = self.s.sync_secrets.setdefault(sp["id"], {})
        if self.s.config["secrets_stale_reads"]:
            self.s.sync_secrets_stale[sp["id"]] = {
                "old": dict(cur), "reads": int(self.s.config["secrets_stale_reads"])}
        for k, v in new.items():
            if v == "":
                cur.pop(k, None)  # [TF]: keys are deleted by PUTting them with empty values
            else:
                cur[k] = v
        for job in self.s.jobs.values():
            if job["_sp"] == sp["id"] and job["status"]["code"] in ("NotConfigured", "NotRun"):
                job["status"]["code"] = "NotRun" if self._configured(sp) else "NotConfigured"
        return no_content()

    def get_secrets(self, ctx: Ctx, key: str) -> Response:
        self.require(ctx, READ_SYNC, admin=True)
        sp = self._sync_sp(key)
        sec = self._visible_secrets(sp)
        if not sec:
            # No docs page and no SDK method for this GET (real-services.md); TF-azuread reads a
            # 404 as "no secrets saved".
            raise sync_error(404, "No synchronization secrets were found for this service "
                             "principal.", sync_code="SecretsNotFound")
        # ref §6.3: GET returns the keys with masked values; the SCIM token is never echoed.
        mask_all = self.s.config["secrets_get_masking"] == "all"
        items = [{"key": k, "value": "*" if mask_all or k in SECRET_KEYS else v}
                 for k, v in sec.items()]
        return 200, [], {"@odata.context": ctx.odata(
            f"servicePrincipals('{sp['id']}')/synchronization/secrets"), "value": items}

    def validate_credentials(self, ctx: Ctx, key: str, job_id: str) -> Response:
        self.require(ctx, WRITE_SYNC, admin=True)
        sp = self._sync_sp(key)
        self._job(sp, job_id)
        body = ctx.json_body()
        if not isinstance(body, dict) or set(body) - {"useSavedCredentials", "credentials",
                                                      "applicationIdentifier", "templateId"}:
            raise bad_request("The request body may only contain useSavedCredentials, "
                              "credentials, applicationIdentifier and templateId.")
        use_saved = body.get("useSavedCredentials", False)
        if not isinstance(use_saved, bool):
            raise _invalid_value("useSavedCredentials", "validateCredentials")
        if use_saved:
            creds = dict(self.s.sync_secrets.get(sp["id"], {}))
        else:
            if not isinstance(body.get("credentials"), list):
                raise bad_request("Property 'credentials' is required when useSavedCredentials "
                                  "is false.")
            creds = self._check_credentials(body["credentials"], "credentials")
        if not creds.get("BaseAddress") or not creds.get("SecretToken"):
            raise sync_error(400, "Both a tenant URL (BaseAddress) and a secret token "
                             "(SecretToken) are required to test the connection.",
                             sync_code="SystemForCrossDomainIdentityManagementCredentialValidationMissing")
        if self._token_rejected(creds["SecretToken"]):
            raise sync_error(
                400, "You appear to have entered invalid credentials. Please confirm you are "
                "using the correct information for an administrative account. Error code: "
                "SystemForCrossDomainIdentityManagementCredentialValidationUnauthorized "
                "Details: We received this unexpected response from your application: "
                "Received response from Web resource. Resource: "
                f"{creds['BaseAddress'].rstrip('/')}/Users?filter=userName+eq+%22{new_guid()}%22 "
                "Operation Method: GET Response Status Code: Unauthorized",
                sync_code="SystemForCrossDomainIdentityManagementCredentialValidationUnauthorized")
        return no_content()

    # -- schema -------------------------------------------------------------------------

    def get_schema(self, ctx: Ctx, key: str, job_id: str) -> Response:
        self.require(ctx, READ_SYNC, admin=True)
        sp = self._sync_sp(key)
        job = self._job(sp, job_id)
        body = {"@odata.context": ctx.odata(
            f"servicePrincipals('{sp['id']}')/synchronization/jobs('{job['id']}')/schema/$entity")}
        body.update(copy.deepcopy(job["_schema"]))
        return 200, [], body

    def patch_schema(self, ctx: Ctx, sub: str) -> Response:
        # ref §6.4: PATCH is not routed by the sync service; the SDKs that send it get this.
        m = re.match(r"^/servicePrincipals/([^/]+)/synchronization/jobs/([^/]+)/schema$", sub)
        sp_id, job_id = (m.group(1), m.group(2)) if m else ("?", "?")
        raise GraphError(404, "UnknownError",
                         "No HTTP resource was found that matches the request URI "
                         f"'https://syncfabric.windowsazure.com/api/servicePrincipals({sp_id})/"
                         f"synchronization/jobs({job_id})/schema?api-version=2.0'.")

    def put_schema(self, ctx: Ctx, key: str, job_id: str) -> Response:
        self.require(ctx, WRITE_SYNC, admin=True)
        sp = self._sync_sp(key)
        job = self._job(sp, job_id)
        body = ctx.json_body()
        if not isinstance(body, dict):
            raise bad_request("The request payload must be a JSON object.")
        body = _strip_odata(body)
        new = self._validate_schema(job, body)
        changed = json.dumps(new["synchronizationRules"], sort_keys=True) != json.dumps(
            job["_schema"]["synchronizationRules"], sort_keys=True)
        new["id"] = job["id"]
        new["version"] = "Date:" + iso() + "~User:emulator"
        job["_schema"] = new
        if changed and job["_ran"]:
            # [E-how]: mapping changes restart the initial cycle
            job["status"]["steadyStateFirstAchievedTime"] = NEVER
            job["_restart_initial"] = True
        return no_content()

    def _validate_schema(self, job: JSON, body: JSON) -> JSON:
        def fail(msg: str) -> GraphError:
            return sync_error(400, msg, sync_code="InvalidSchema")
        unknown = set(body) - {"id", "version", "directories", "synchronizationRules"}
        if unknown:
            raise _no_such_property(sorted(unknown)[0])
        # ref §6.4: PUT fully replaces the schema - both parts must be present.
        if not isinstance(body.get("directories"), list) or not isinstance(
                body.get("synchronizationRules"), list):
            raise fail("The schema must contain 'directories' and 'synchronizationRules'; PUT "
                       "replaces the whole schema, so send all of it, including unmodified parts.")
        dirs: Dict[str, Dict[str, set]] = {}
        for d in body["directories"]:
            if not isinstance(d, dict) or not isinstance(d.get("name"), str) or not isinstance(
                    d.get("objects"), list):
                raise fail("Each directory needs 'name' and 'objects'.")
            objs: Dict[str, set] = {}
            for o in d["objects"]:
                if not isinstance(o, dict) or not isinstance(o.get("name"), str) or \
                        not isinstance(o.get("attributes"), list):
                    raise fail(f"Directory '{d['name']}': each object needs 'name' and 'attributes'.")
                names = set()
                for a in o["attributes"]:
                    if not isinstance(a, dict) or not isinstance(a.get("name"), str):
                        raise fail(f"Object '{o['name']}': each attribute needs a 'name'.")
                    names.add(a["name"])
                objs[o["name"]] = names
            dirs[d["name"]] = objs
        for required in (AAD_DIR, TARGET_DIR):
            if required not in dirs:
                raise fail(f"The directory '{required}' is missing from the schema.")
        old_rules = {r["id"]: r for r in job["_schema"]["synchronizationRules"]}
        seen_rules = set()
        for r in body["synchronizationRules"]:
            if not isinstance(r, dict) or r.get("id") not in old_rules:
                raise fail("Unknown synchronization rule id "
                           f"'{r.get('id') if isinstance(r, dict) else r}'.")
            seen_rules.add(r["id"])
            sdir, tdir = dirs.get(r.get("sourceDirectoryName")), dirs.get(r.get("targetDirectoryName"))
            if sdir is None or tdir is None:
                raise fail(f"Rule '{r['id']}' references an unknown source or target directory.")
            if not isinstance(r.get("objectMappings"), list):
                raise fail(f"Rule '{r['id']}' needs 'objectMappings'.")
            for om in r["objectMappings"]:
                if not isinstance(om, dict):
                    raise fail("objectMappings entries must be objects.")
                so, to = om.get("sourceObjectName"), om.get("targetObjectName")
                if so not in sdir or to not in tdir:
                    raise fail(f"Object mapping '{om.get('name')}' references an unknown source "
                               f"object '{so}' or target object '{to}'.")
                if not isinstance(om.get("enabled"), bool):
                    raise fail(f"Object mapping '{om.get('name')}': 'enabled' must be a boolean.")
                maps = om.get("attributeMappings")
                if not isinstance(maps, list):
                    raise fail(f"Object mapping '{om.get('name')}' needs 'attributeMappings'.")
                targets = set()
                matching = 0
                for am in maps:
                    if not isinstance(am, dict):
                        raise fail("attributeMappings entries must be objects.")
                    t = am.get("targetAttributeName")
                    if t not in tdir[to]:
                        raise fail(f"The target attribute '{t}' does not exist on object '{to}' "
                                   f"of directory '{r['targetDirectoryName']}'.")
                    if t in targets:
                        raise fail(f"The target attribute '{t}' is mapped more than once in "
                                   f"'{om.get('name')}'.")
                    targets.add(t)
                    if am.get("flowType", "Always") not in FLOW_TYPES:
                        raise fail(f"Invalid flowType '{am.get('flowType')}' for '{t}'.")
                    if am.get("flowBehavior", "FlowWhenChanged") not in FLOW_BEHAVIORS:
                        raise fail(f"Invalid flowBehavior '{am.get('flowBehavior')}' for '{t}'.")
                    mp = am.get("matchingPriority", 0)
                    if not isinstance(mp, int) or isinstance(mp, bool) or mp < 0:
                        raise fail(f"matchingPriority of '{t}' must be a non-negative integer.")
                    matching += 1 if mp > 0 else 0
                    self._validate_source(am.get("source"), sdir[so], so, t, fail)
                if om["enabled"] and matching == 0:
                    raise fail(f"Object mapping '{om.get('name')}' must have at least one matching "
                               "attribute (matchingPriority > 0).")
        if seen_rules != set(old_rules):
            raise fail("The schema must contain every synchronization rule of the job.")
        return copy.deepcopy(body)

    def _validate_source(self, src: Any, attrs: set, obj: str, target: str,
                         fail: Callable[[str], GraphError]) -> None:
        if not isinstance(src, dict) or src.get("type") not in SOURCE_TYPES:
            raise fail(f"The source of '{target}' must be an object with type Attribute, "
                       "Constant or Function.")
        if src["type"] == "Attribute":
            if src.get("name") not in attrs:
                raise fail(f"The source attribute '{src.get('name')}' (mapped to '{target}') does "
                           f"not exist on source object '{obj}'.")
        elif src["type"] == "Function":
            for p in src.get("parameters") or []:
                if not isinstance(p, dict) or "value" not in p:
                    raise fail(f"Function parameters of '{target}' must be {{key, value}} objects.")
                self._validate_source(p["value"], attrs, obj, target, fail)
        if src.get("parameters") is not None and not isinstance(src.get("parameters"), list):
            raise fail(f"'parameters' of the source of '{target}' must be a list.")

    # -- start / pause / restart / cycles -------------------------------------------------

    def start_job(self, ctx: Ctx, key: str, job_id: str) -> Response:
        self.require(ctx, WRITE_SYNC, admin=True)
        sp = self._sync_sp(key)
        job = self._job(sp, job_id)
        if not self._configured(sp, visible=True):
            raise sync_error(400, "The job cannot be started: provisioning credentials (tenant "
                             "URL and secret token) have not been saved.",
                             sync_code="CredentialsMissing")
        job["schedule"]["state"] = "Active"
        job["status"]["quarantine"] = None  # ref §6.5: start also clears quarantine
        job["status"]["code"] = "Active"
        if self.s.config["auto_cycle"]:
            self.run_cycle(job)
        return no_content()

    def pause_job(self, ctx: Ctx, key: str, job_id: str) -> Response:
        self.require(ctx, WRITE_SYNC, admin=True)
        job = self._job(self._sync_sp(key), job_id)
        job["schedule"]["state"] = "Paused"
        job["status"]["code"] = "Paused"
        return no_content()

    def restart_job(self, ctx: Ctx, key: str, job_id: str) -> Response:
        self.require(ctx, WRITE_SYNC, admin=True)
        sp = self._sync_sp(key)
        job = self._job(sp, job_id)
        if ctx.body.strip():
            body = ctx.json_body()
            crit = body.get("criteria") if isinstance(body, dict) else None
            if not isinstance(body, dict) or set(body) - {"criteria"} or (
                    crit is not None and (not isinstance(crit, dict) or set(crit) - {"resetScope"})):
                raise bad_request("The request body may only contain {\"criteria\": "
                                  "{\"resetScope\": ...}}.")
        job["status"]["quarantine"] = None
        job["_provisioned"] = {}
        if job["schedule"]["state"] == "Active":
            job["status"]["code"] = "Active"
            if self.s.config["auto_cycle"]:
                self.run_cycle(job)
        return no_content()

    def run_cycle(self, job: JSON, state: Optional[str] = None,
                  error: Optional[JSON] = None) -> JSON:
        sp = self.s.service_principals[job["_sp"]]
        users, groups = self._scope(sp)
        token = self.s.sync_secrets.get(sp["id"], {}).get("SecretToken")
        if state is None:
            state = "Failed" if self._token_rejected(token) else "Succeeded"
            if state == "Failed":
                error = {"code": "SystemForCrossDomainIdentityManagementCredentialValidationUnauthorized",
                         "message": "The SCIM endpoint rejected the secret token (HTTP 401).",
                         "tenantActionable": True}
        now = iso()
        n = len(users) + len(groups)
        ok = state == "Succeeded"
        exe = {"activityIdentifier": new_guid(), "countEntitled": n,
               "countEntitledForProvisioning": n, "countEscrowed": 0 if ok else n,
               "countEscrowedRaw": 0 if ok else n, "countExported": n if ok else 0,
               "countExports": n if ok else 0, "countImported": n, "countImportedDeltas": 0,
               "countImportedReferenceDeltas": 0, "error": None if ok else error,
               "state": state, "timeBegan": now, "timeEnded": now}
        st = job["status"]
        st["lastExecution"] = exe
        job["_ran"] = True
        if ok:
            st["lastSuccessfulExecution"] = exe
            if n:
                st["lastSuccessfulExecutionWithExports"] = exe
            st["countSuccessiveCompleteFailures"] = 0
            if st["steadyStateFirstAchievedTime"] == NEVER:
                st["steadyStateFirstAchievedTime"] = now
            st["steadyStateLastAchievedTime"] = now
            st["synchronizedEntryCountByType"] = [
                {"key": f"{SCIM_USER_OBJ}_User", "value": len(users)},
                {"key": f"{SCIM_GROUP_OBJ}_Group", "value": len(groups)}]
            job.pop("_restart_initial", None)
        else:
            st["countSuccessiveCompleteFailures"] += 1
            if state == "Failed":
                self.quarantine(job, "EncounteredQuarantineException", error)
        return exe

    def quarantine(self, job: JSON, reason: str, error: Optional[JSON]) -> None:
        now = time.time()
        q = job["status"].get("quarantine") or {
            "currentBegan": iso(now), "seriesBegan": iso(now), "seriesCount": 0}
        q.update({"reason": reason, "nextAttempt": iso(now + 3600 * 6),
                  "seriesCount": q.get("seriesCount", 0) + 1,
                  "error": error or {"code": "SystemForCrossDomainIdentityManagementServiceIncompatible",
                                     "message": "Quarantined by the emulator control API.",
                                     "tenantActionable": True}})
        job["status"]["quarantine"] = q
        job["status"]["code"] = "Quarantine"

    # -- provision on demand (ref §6.6) ---------------------------------------------------

    def provision_on_demand(self, ctx: Ctx, key: str, job_id: str) -> Response:
        self.require(ctx, WRITE_SYNC, admin=True)
        sp = self._sync_sp(key)
        job = self._job(sp, job_id)
        cfg = self.s.config
        now = time.time()
        window = cfg["provision_on_demand_window"]
        job["_pod_times"] = [t for t in job["_pod_times"] if now - t < window]
        if len(job["_pod_times"]) >= cfg["provision_on_demand_limit"]:
            wait = max(1, int(window - (now - job["_pod_times"][0])) + 1)
            raise GraphError(429, "TooManyRequests", "Too many requests.",
                             [("Retry-After", str(wait))])
        job["_pod_times"].append(now)
        body = ctx.json_body()
        params = body.get("parameters") if isinstance(body, dict) else None
        if not isinstance(params, list) or not params or set(body) - {"parameters"}:
            raise bad_request("The request body must be {\"parameters\": [{\"ruleId\", "
                              "\"subjects\"}]}.")
        if not self._configured(sp, visible=True):
            raise sync_error(400, "Provisioning credentials have not been saved for this "
                             "application.", sync_code="CredentialsMissing")
        rule_ids = {r["id"]: r for r in job["_schema"]["synchronizationRules"]}
        results = []
        for p in params:
            if not isinstance(p, dict) or set(p) - {"ruleId", "subjects"}:
                raise bad_request("Each parameter needs exactly 'ruleId' and 'subjects'.")
            rid = p.get("ruleId")
            rule = rule_ids.get(rid[:-3] if isinstance(rid, str) and rid.endswith("#V2") else rid)
            if rule is None:
                raise sync_error(400, f"The rule '{rid}' was not found in the job's schema.",
                                 sync_code="RuleNotFound")
            subjects = p.get("subjects")
            if not isinstance(subjects, list) or not subjects:
                raise bad_request("'subjects' must be a non-empty list.")
            # ED provision-on-demand.md: "can only accept a single group with up to 5 members
            # at a time"
            groups_here = [x for x in subjects if isinstance(x, dict)
                           and x.get("objectTypeName") == "Group"]
            limit = int(cfg["provision_on_demand_max_members"])
            if len(groups_here) > 1 or len(params) > 1 and groups_here:
                raise sync_error(400, "On-demand provisioning accepts a single group at a time.",
                                 sync_code="TooManySubjects")
            for g in groups_here:
                links = (g.get("links") or {}).get("members")
                if isinstance(links, list) and len(links) > limit:
                    raise sync_error(400, f"On-demand provisioning accepts a group with up to "
                                     f"{limit} members at a time; {len(links)} were given.",
                                     sync_code="TooManyMembers")
            for subj in subjects:
                if not isinstance(subj, dict) or subj.get("objectTypeName") not in ("User", "Group") \
                        or not is_guid(subj.get("objectId")):
                    raise bad_request("Each subject needs objectId (GUID) and objectTypeName "
                                      "(User or Group).")
                results.append(self._provision_one(sp, job, rule, subj))
        worst = next((r for r in results if r[0] == "Failure"), None) or \
            next((r for r in results if r[0] == "Skipped"), None) or results[0]
        key_obj = {"result": worst[0], "details": worst[1]}
        value_obj = worst[2] if len(results) == 1 else {"results": [r[2] for r in results]}
        return 200, [], {"@odata.context": ctx.odata("microsoft.graph.stringKeyStringValuePair"),
                         "key": json.dumps(key_obj), "value": json.dumps(value_obj)}

    def _provision_one(self, sp: JSON, job: JSON, rule: JSON,
                       subj: JSON) -> Tuple[str, JSON, JSON]:
        kind = subj["objectTypeName"]
        oid = subj["objectId"].lower()
        obj = (self.s.users if kind == "User" else self.s.groups).get(oid)
        om = next((m for m in rule["objectMappings"] if m.get("sourceObjectName") == kind), None)
        steps: List[JSON] = []

        def step(name: str, typ: str, status: str, desc: str) -> None:
            steps.append({"name": name, "provisioningStepType": typ, "status": status,
                          "description": desc, "details": {}})

        def done(result: str, code: Optional[str], msg: Optional[str],
                 props: Optional[List[JSON]] = None) -> Tuple[str, JSON, JSON]:
            status = {"Success": "success", "Failure": "failure", "Skipped": "skipped"}[result]
            value = {"provisioningSteps": steps, "modifiedProperties": props or [],
                     "statusInfo": {"@odata.type": "#microsoft.graph.statusDetails",
                                    "status": status, "errorCategory": None if result == "Success"
                                    else "NonServiceFailure", "errorCode": code,
                                    "reason": msg, "additionalDetails": None,
                                    "recommendedAction": None},
                     "sourceIdentity": {"id": oid, "displayName": obj["displayName"] if obj else None,
                                        "identityType": kind},
                     "targetIdentity": {"id": None, "displayName": None,
                                        "identityType": om["targetObjectName"] if om else None}}
            return result, {"errorCode": code, "errorMessage": msg}, value

        if obj is None:
            step("EntryImport", "import", "failure", f"The {kind} {oid} was not found in "
                 f"{AAD_DIR}.")
            return done("Failure", "EntryImportObjectNotFound", f"The {kind} was not found.")
        step("EntryImport", "import", "success", f"Retrieved {kind} '{obj['displayName']}' from "
             f"{AAD_DIR}.")
        users, groups = self._scope(sp, on_demand=True)
        if (kind == "User" and oid not in users) or (kind == "Group" and oid not in groups):
            step("EntrySynchronizationScoping", "scoping", "skipped",
                 f"The {kind} is not in scope: it is neither assigned to the application nor a "
                 "direct member of an assigned security group.")
            return done("Skipped", "NotEffectivelyEntitled",
                        f"The {kind.lower()} is not assigned to the application (nested group "
                        "members are not provisioned).")
        if om is None or not om.get("enabled"):
            step("EntrySynchronizationScoping", "scoping", "skipped",
                 f"Provisioning of {kind} objects is disabled in the attribute mappings.")
            return done("Skipped", "ObjectTypeDisabled",
                        f"The object mapping for {kind} is disabled.")
        step("EntrySynchronizationScoping", "scoping", "success", f"The {kind} is in scope.")
        token = self.s.sync_secrets.get(sp["id"], {}).get("SecretToken")
        if self._token_rejected(token):
            step("EntryExportAdd", "export", "failure",
                 "The SCIM endpoint answered 401 Unauthorized.")
            return done("Failure", "SystemForCrossDomainIdentityManagementUnauthorized",
                        "The SCIM endpoint rejected the secret token (HTTP 401).")
        props = [{"displayName": am["targetAttributeName"], "oldValue": None,
                  "newValue": self._eval_source(am["source"], obj, kind)}
                 for am in om["attributeMappings"]]
        rejected = [am["targetAttributeName"] for am in om["attributeMappings"]
                    if am["targetAttributeName"] in self.s.config["target_rejects_attributes"]]
        if kind == "Group":
            members = [m for m in obj["_members"] if m in self.s.users]
            links = (subj.get("links") or {}).get("members")
            if isinstance(links, list):
                wanted = {lk.get("objectId", "").lower() for lk in links if isinstance(lk, dict)}
                members = [m for m in members if m in wanted]
            for pr in props:
                if pr["displayName"] == "members":
                    pr["newValue"] = json.dumps(members)
        attributes = {p["displayName"]: p["newValue"] for p in props if p["newValue"] is not None}
        member_ids = members if kind == "Group" else []
        already = job["_provisioned"].get(oid)
        if already is not None and already["attributes"] == attributes and all(
                m in job["_provisioned"] for m in member_ids):
            # MGD synchronization-synchronizationjob-provisionondemand.md (v1.0 example):
            # an object already provisioned as it is gives Skipped / RedundantExport.
            step("EntryMatching", "matching", "success",
                 f"A matching entry was found in {TARGET_DIR}.")
            step("EntryExportUpdate", "export", "skipped",
                 f"The {kind} is already provisioned with these values; nothing was exported.")
            return done("Skipped", "RedundantExport",
                        "The object is already provisioned as it is in the source; no export "
                        "was needed.", [p for p in props if p["newValue"] is not None])
        step("EntryMatching", "matching", "success",
             f"No matching entry was found in {TARGET_DIR}; it will be created.")
        if rejected:
            step("EntryExportAdd", "export", "failure",
                 f"The SCIM endpoint rejected the attribute(s) {', '.join(rejected)}.")
            return done("Failure", "SystemForCrossDomainIdentityManagementServiceIncompatible",
                        f"The target rejected attribute(s): {', '.join(rejected)}.",
                        [p for p in props if p["newValue"] is not None])
        step("EntryExportAdd", "export", "success", f"{kind} '{obj['displayName']}' was created "
             f"in {TARGET_DIR}.")
        job["_provisioned"][oid] = {"type": kind, "attributes": attributes}
        for m in member_ids:
            job["_provisioned"].setdefault(m, {"type": "User", "attributes": {}})
        return done("Success", None, None, [p for p in props if p["newValue"] is not None])

    def _eval_source(self, src: JSON, obj: JSON, kind: str) -> Optional[str]:
        typ = src.get("type")
        if typ == "Constant":
            return src.get("name")
        if typ == "Attribute":
            v = _source_value(obj, kind, src.get("name") or "")
            return None if v is None else str(v)
        if typ == "Function":
            name = (src.get("name") or "").lower()
            args = [self._eval_source(p["value"], obj, kind) for p in src.get("parameters") or []
                    if isinstance(p, dict) and isinstance(p.get("value"), dict)]
            if name == "switch" and args:
                soft = "True" if not obj.get("_accountEnabled", True) else "False"
                return "False" if soft == "True" else "True"
            if name == "join" and args:
                return args[0].join(a for a in args[1:] if a) if args[0] is not None else None
            return None
        return None


def _source_value(obj: JSON, kind: str, name: str) -> Any:
    if name == "objectId":
        return obj["id"]
    if kind == "User":
        m = {"mailNickname": obj.get("_mailNickname"), "department": obj.get("_department"),
             "employeeId": obj.get("_employeeId"), "manager": obj.get("_manager"),
             "IsSoftDeleted": not obj.get("_accountEnabled", True),
             "accountEnabled": obj.get("_accountEnabled", True),
             "telephoneNumber": (obj.get("businessPhones") or [None])[0],
             "mobile": obj.get("mobilePhone"), "physicalDeliveryOfficeName": obj.get("officeLocation")}
        if name in m:
            return m[name]
    if name == "members":
        return None
    return obj.get(name)


class SyncControlMixin:
    s: State
    run_cycle: Callable[..., JSON]
    quarantine: Callable[..., None]

    def _control_job(self, body: Any) -> JSON:
        if not isinstance(body, dict):
            raise ValueError("body must be an object")
        jid = body.get("job_id")
        if jid is None:
            if len(self.s.jobs) != 1:
                raise ValueError(f"job_id is required ({len(self.s.jobs)} jobs exist)")
            return next(iter(self.s.jobs.values()))
        if jid not in self.s.jobs:
            raise ValueError(f"unknown job {jid!r}")
        return self.s.jobs[jid]

    def quarantine_control(self, body: Any) -> JSON:
        job = self._control_job(body)
        reason = body.get("reason", "EncounteredQuarantineException")
        allowed = {"EncounteredBaseEscrowThreshold", "EncounteredTotalEscrowThreshold",
                   "EncounteredEscrowProportionThreshold", "EncounteredQuarantineException",
                   "QuarantinedOnDemand", "TooManyDeletes", "IngestionInterrupted", "Unknown"}
        if reason not in allowed:
            raise ValueError(f"reason must be one of {sorted(allowed)}")  # ref §6.7
        err = body.get("error")
        if err is not None and not isinstance(err, dict):
            raise ValueError("error must be {code, message, tenantActionable}")
        self.quarantine(job, reason, err)
        return strip_private(job)

    def cycle_control(self, body: Any) -> JSON:
        job = self._control_job(body)
        state = body.get("state", "Succeeded")
        if state not in ("Succeeded", "Failed", "EntryLevelErrors"):
            raise ValueError("state must be Succeeded, Failed or EntryLevelErrors")
        err = body.get("error") or (None if state == "Succeeded" else {
            "code": "SystemForCrossDomainIdentityManagementServiceIncompatible",
            "message": "Simulated provisioning failure.", "tenantActionable": True})
        self.run_cycle(job, state, err)
        return strip_private(job)

# ---------------------------------------------------------------------------------------
# Routes (paths are relative to /v1.0; /beta serves only what the reference needs there)
# ---------------------------------------------------------------------------------------


class HtmlPage(str):
    """A body served as text/html: the page a browser shows, not an API answer."""


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
        if app is None:  # the same text as the token endpoint's (ref §1.1)
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
        """The user signs in and the browser follows Entra's redirect: returns {redirect}.
        Without `url`, on the authorize page last opened (409 when none is)."""
        if isinstance(body, dict) and body.get("user") and not body.get("url"):
            body = dict(body, url=self.s.__dict__.pop("signin_last_authorize", None))
            if not body["url"]:
                return 409, {"error": "no authorize page is open"}
        if not isinstance(body, dict) or not body.get("url") or not body.get("user"):
            return 400, {"error": "body needs url and user"}
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
        code = "1.A" + _rand(120, _B62 + "-_")
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
        if b64url(hashlib.sha256(form["code_verifier"].encode()).digest()) != rec["challenge"]:
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
        token = ".".join([b64url(json.dumps(header).encode()), b64url(json.dumps(claims).encode()),
                          b64url(b"graph-emulator-unsigned")])
        self.s.__dict__.setdefault("signin_issued", []).append(token)
        return 200, [], {"token_type": "Bearer", "scope": " ".join(rec["scopes"]),
                         "expires_in": 3600, "ext_expires_in": 3600, "access_token": token}


class Emulator(SigninMixin, SyncControlMixin, SyncMixin, AssignmentsMixin, AppsMixin, DirectoryMixin,
               ControlMixin, EmulatorCore):
    def _register_routes(self) -> None:
        r = self.route
        r("GET", "/me", self.get_me)
        r("GET", "/organization", self.get_organization)
        r("GET", "/users", self.list_users)
        r("GET", "/users/{uid}", self.get_user)
        r("GET", "/groups", self.list_groups)
        r("GET", "/groups/{gid}", self.get_group)
        r("GET", "/groups/{gid}/members", self.list_group_members)
        r("GET", "/applicationTemplates", self.list_templates)
        r("GET", "/applicationTemplates/{tid}", self.get_template)
        r("POST", "/applicationTemplates/{tid}/instantiate", self.instantiate)
        r("GET", "/applications", self.list_applications)
        r("GET", r"/applications\(appId='(?P<appid>[^']*)'\)", self.get_application_altkey)
        r("GET", "/applications/{key}", self.get_application)
        r("PATCH", "/applications/{key}", self.patch_application)
        r("PATCH", r"/applications\(appId='(?P<key>[^']*)'\)", self.patch_application_altkey)
        r("DELETE", "/applications/{key}", self.delete_application)
        r("GET", "/servicePrincipals", self.list_sps)
        r("GET", r"/servicePrincipals\(appId='(?P<appid>[^']*)'\)", self.get_sp_altkey)
        r("GET", "/servicePrincipals/{key}", self.get_sp)
        r("PATCH", "/servicePrincipals/{key}", self.patch_sp)
        alt = r"/servicePrincipals\(appId='(?P<appid>[^']*)'\)"
        for prefix in ("/servicePrincipals/{key}", alt):
            r("GET", prefix + "/appRoleAssignedTo", self.list_assigned_to)
            r("POST", prefix + "/appRoleAssignedTo", self.create_assigned_to)
            r("DELETE", prefix + "/appRoleAssignedTo/{aid}", self.delete_assigned_to)
        sync = "/servicePrincipals/{key}/synchronization"
        job = sync + "/jobs/{job_id}"
        r("GET", sync + "/templates", self.sync_templates)
        r("GET", sync + "/jobs", self.list_jobs)
        r("POST", sync + "/jobs", self.create_job)
        r("GET", sync + "/secrets", self.get_secrets)
        r("PUT", sync + "/secrets", self.put_secrets)
        r("GET", job, self.get_job)
        r("DELETE", job, self.delete_job)
        r("POST", job + "/validateCredentials", self.validate_credentials)
        r("GET", job + "/schema", self.get_schema)
        r("PUT", job + "/schema", self.put_schema)
        r("POST", job + "/start", self.start_job)
        r("POST", job + "/pause", self.pause_job)
        r("POST", job + "/restart", self.restart_job)
        r("POST", job + "/provisionOnDemand", self.provision_on_demand)
        self.restart_job.__func__.beta_ok = True  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------
# HTTP plumbing
# ---------------------------------------------------------------------------------------


def _value_hashes(body: bytes) -> set:
    """sha256 of every string value (>= 8 chars) in a JSON or form body, so the log can later
    tell whether a request carried a SCIM token without ever storing the body."""
    out: set = set()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return out

    def walk(v: Any) -> None:
        if isinstance(v, str):
            if len(v) >= 8:
                out.add(sha_full(v))
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    try:
        walk(json.loads(text))
    except ValueError:
        for vs in parse_qs(text, keep_blank_values=True).values():
            for v in vs:
                walk(v)
    return out


def _contains_token(data: str, tokens: set) -> bool:
    for t in tokens:
        if t in data or json.dumps(t)[1:-1] in data or quote(t, safe="") in data:
            return True
    return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    emulator: Emulator = None  # type: ignore[assignment]
    verbose = False

    def version_string(self) -> str:
        return "Microsoft-IIS/10.0"

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
              extra: List[Tuple[str, str]]) -> None:
        page = isinstance(body, HtmlPage)
        data = (b"" if body is None or status == 204
                else body.encode("utf-8") if page else json.dumps(body).encode("utf-8"))
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", "text/html; charset=utf-8" if page
                             else "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra + headers:
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
        host = self.headers.get("Host") or "%s:%d" % self.server.server_address[:2]
        base = f"http://{host}"
        em = self.emulator
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            status, out = em.control(self.command, path,
                                     parse_qs(split.query, keep_blank_values=True), body, base)
            self._send(status, [], out, [("Cache-Control", "no-store")])
            return
        ctx = Ctx(self.command, path, split.query, body, self.headers, base)
        t0 = time.time()
        try:
            status, headers, out = em.handle(ctx)
        except Exception:  # a bug in the emulator: answer like Graph's 500
            import traceback
            traceback.print_exc(file=sys.stderr)
            status, headers, out = em.graph_error(ctx, GraphError(
                500, "generalException", "An unspecified error has occurred."))
        is_login = "/oauth2/" in path and not path.startswith(("/v1.0/", "/beta/"))
        if is_login:
            extra = [("Cache-Control", "no-store, no-cache"), ("Pragma", "no-cache"),
                     ("x-ms-request-id", ctx.request_id)]
        else:
            extra = [("Cache-Control", "no-cache"), ("request-id", ctx.request_id),
                     ("client-request-id", ctx.client_request_id),
                     ("x-ms-ags-diagnostic", json.dumps(
                         {"ServerInfo": {"DataCenter": "Emulator", "Slice": "E",
                                         "Ring": "0", "ScaleUnit": "000",
                                         "RoleInstance": "graph-emulator"}})),
                     ("OData-Version", "4.0")]
        with em.lock:
            tokens = set(em.s.scim_tokens)
            try:
                text = body.decode("utf-8", "replace")
            except Exception:  # pragma: no cover
                text = ""
            hdrs = "\n".join(f"{k}: {v}" for k, v in self.headers.items())
            tok = ctx.token or {}
            em.s.log_seq += 1
            em.s.log.append({
                "seq": em.s.log_seq, "time": round(t0, 3), "method": self.command,
                "path": path, "status": status, "request_id": ctx.request_id,
                "client_request_id": ctx.client_request_id,
                "error_code": (out.get("error", {}).get("code") if isinstance(out, dict)
                               and isinstance(out.get("error"), dict)
                               else out.get("error") if isinstance(out, dict) else None),
                "retry_after": next((v for k, v in headers if k == "Retry-After"), None),
                "client_id": tok.get("client_id"), "user_id": tok.get("user_id"),
                "scim_token_in_url": _contains_token(unquote(self.path), tokens)
                or _contains_token(self.path, tokens),
                "scim_token_in_headers": _contains_token(hdrs, tokens),
                "_body_hit": _contains_token(text, tokens),
                "_value_hashes": _value_hashes(body) if body else set(),
            })
        self._send(status, headers, out, extra)

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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    parser.add_argument("--tenant-id", default="72f988bf-0000-4000-8000-00000000e1d0",
                        help="tenant GUID (the Directory (tenant) ID)")
    parser.add_argument("--tenant-domain", default="example.onmicrosoft.com",
                        help="initial verified domain of the tenant")
    parser.add_argument("--exit-on-stdin-eof", action="store_true",
                        help="also shut down when stdin reaches EOF (parent went away)")
    parser.add_argument("--verbose", action="store_true", help="log requests to stderr")
    parser.add_argument("--config", action="append", default=[], metavar="KEY=JSON",
                        help="change a config default (kept across /_control/reset), e.g. "
                             "assignment_replication_seconds=2")
    parser.add_argument("--no-published-api-check", action="store_true",
                        help="serve requests msgraph-sdk does not publish (needs no msgraph-sdk)")
    args = parser.parse_args(argv)
    overrides: JSON = {}
    for item in args.config:
        key, _, raw = item.partition("=")
        try:
            overrides[key] = json.loads(raw)
        except ValueError:
            overrides[key] = raw
    if args.no_published_api_check:
        overrides["published_api_check"] = False
    if not is_guid(args.tenant_id):
        _err("--tenant-id must be a GUID")
        return 2

    stop = stop_on_signals()

    state = State(args.tenant_id.lower(), args.tenant_domain.lower())
    Handler.emulator = Emulator(state)
    try:
        BASE_CONFIG.update(Handler.emulator.set_config(overrides) if overrides else {})
    except ValueError as e:
        _err(f"--config: {e}")
        return 2
    if state.config["published_api_check"]:
        try:  # load it now: a missing msgraph-sdk is a start-up error, not a 500 later
            from graph_published_api import PublishedApi, load_index
            EmulatorCore.published = PublishedApi(*load_index())
        except RuntimeError as e:
            _err(str(e))
            return 2
    Handler.verbose = args.verbose
    try:
        server = Server((args.host, args.port), Handler)
    except OSError as e:
        _err(f"cannot listen on {args.host}:{args.port}: {e}")
        return 2
    return serve(server, stop, args.exit_on_stdin_eof, "graph_emulator")


if __name__ == "__main__":
    sys.exit(main())
