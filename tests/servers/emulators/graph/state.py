"""The tenant's state and the emulator's configuration."""

from __future__ import annotations

import copy
import re
import secrets
import time
from typing import Any, Dict, List, Optional

from .common import (AZURE_CLI_CLIENT, DEFAULT_PERMISSIONS, GRAPH_CLI_CLIENT, JSON, KNOWN_GRAPH_PERMISSIONS, is_guid, iso, new_guid)


# ---------------------------------------------------------------------------------------
# State
# ---------------------------------------------------------------------------------------

DEFAULT_CONFIG: JSON = {
    # paging (https://learn.microsoft.com/en-us/graph/paging): default page size of every
    # collection; $top overrides per request
    "page_size": 100,
    # device code flow
    # (https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-device-code): Entra's
    # defaults are interval 5 s, expires_in 900 s
    "device_code_interval": 5,
    "device_code_expires_in": 900,
    "enforce_slow_down": True,
    # token lifetimes in seconds
    "access_token_lifetime": 3599,
    "refresh_token_lifetime": 86400,
    # replication delay
    # (https://github.com/hashicorp/terraform-provider-azuread/blob/main/internal/services/applications/application_from_template_resource.go):
    # GETs of a just-created object answer 404 this many times
    "replication_404_count": 0,
    "replication_404_kinds": ["application", "servicePrincipal", "synchronizationJob"],
    # listings lag behind too (https://devblogs.microsoft.com/identity/designing-for-eventual-consistency-for-microsoft-entra/:
    # "a read request to not return the latest data"; a list query is such a read): a new
    # application or service principal is left out of listings of its collection for this many
    # seconds (Microsoft gives no figure: "seconds to minutes" is what callers see; tests keep it
    # short). On by default, so that every test meets it.
    "replication_list_seconds": 2,
    "replication_list_kinds": ["application", "servicePrincipal"],
    # identifier URI app-management policy
    # (https://learn.microsoft.com/en-us/entra/identity-platform/identifier-uri-restrictions): none
    # | uniqueTenantIdentifier | nonDefault
    "identifier_uri_policy": "uniqueTenantIdentifier",
    # whether the Custom template still creates user_impersonation (UNCONFIRMED: Microsoft does
    # not document it either way)
    "template_user_impersonation": True,
    # default `enabled` of the objectMappings of a new scim job
    # (https://learn.microsoft.com/en-us/graph/synchronization-configure-with-custom-target-attributes:
    # UNCONFIRMED)
    "schema_user_mapping_enabled": True,
    "schema_group_mapping_enabled": False,
    # start runs one provisioning cycle immediately (lastExecution filled in)
    "auto_cycle": True,
    # provisionOnDemand reports Failure when an enabled mapping still targets one of these
    "target_rejects_attributes": [],
    # provisionOnDemand rate limit
    # (https://learn.microsoft.com/en-us/graph/api/synchronization-synchronizationjob-provisionondemand?view=graph-rest-1.0:
    # 5 requests / 10 s)
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
    # Only what Microsoft publishes exists (msgraph-sdk request builders;
    # emulators/graph/published_api.py)
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
        # https://learn.microsoft.com/en-us/troubleshoot/entra/entra-id/governance/verify-first-party-apps-sign-in:
        # the public clients a CLI may use.
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
                               "certificate", "permissions", "preauthorized_only",
                               "federated_credentials"}
        if unknown:
            raise ValueError(f"unknown client keys {sorted(unknown)}")
        cid = spec.get("client_id") or new_guid()
        if not is_guid(cid):
            raise ValueError("client_id must be a GUID")
        perms = spec.get("permissions", DEFAULT_PERMISSIONS)
        check_perm_list(perms)
        secret = spec.get("client_secret")
        if secret is not None and (not isinstance(secret, str) or not secret):
            raise ValueError("client_secret must be a non-empty string")
        c = {"client_id": cid.lower(), "display_name": spec.get("display_name") or f"client {cid[:8]}",
             "public_client": bool(spec.get("public_client", secret is None and not spec.get("certificate"))),
             "client_secret": secret, "certificate": bool(spec.get("certificate", secret is not None)),
             "permissions": list(perms), "preauthorized_only": bool(spec.get("preauthorized_only", False)),
             "federated_credentials": [check_federated(f) for f in spec.get("federated_credentials", [])]}
        if c["federated_credentials"]:
            c["public_client"] = bool(spec.get("public_client", False))
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
        check_perm_list(perms)
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
        if kind in self.config["replication_list_kinds"]:
            obj["_listed_at"] = time.monotonic() + float(self.config["replication_list_seconds"])

    @staticmethod
    def listed(obj: JSON) -> bool:
        """Whether listings show the object yet (see replication_list_seconds)."""
        return time.monotonic() >= obj.get("_listed_at", 0)

    @staticmethod
    def replicated(obj: JSON) -> bool:
        """https://github.com/hashicorp/terraform-provider-azuread/blob/main/internal/services/applications/application_from_template_resource.go: an object created a moment ago is not yet readable everywhere.  Each
        read (or write) that addresses it consumes one 'miss' and is answered 404."""
        if obj.get("_hidden_gets", 0) > 0:
            obj["_hidden_gets"] -= 1
            return False
        return True


# The audience Microsoft recommends for a federated identity credential
# (https://learn.microsoft.com/en-us/graph/api/resources/federatedidentitycredential).
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"


def check_federated(spec: Any) -> JSON:
    """A federated identity credential as Graph holds it: issuer, subject, audiences
    (https://learn.microsoft.com/en-us/graph/api/resources/federatedidentitycredential)."""
    if not isinstance(spec, dict) or set(spec) - {"name", "issuer", "subject", "audiences"}:
        raise ValueError("a federated credential is {name?, issuer, subject, audiences?}")
    for key in ("issuer", "subject"):
        if not isinstance(spec.get(key), str) or not spec[key]:
            raise ValueError(f"a federated credential needs '{key}'")
    audiences = spec.get("audiences", [TOKEN_EXCHANGE_AUDIENCE])
    if not isinstance(audiences, list) or len(audiences) != 1 or not isinstance(audiences[0], str):
        raise ValueError("'audiences' holds exactly one audience, as Graph requires")
    return {"name": spec.get("name") or spec["subject"], "issuer": spec["issuer"],
            "subject": spec["subject"], "audiences": audiences}


def check_perm_list(perms: Any) -> None:
    if not isinstance(perms, list) or not all(isinstance(p, str) for p in perms):
        raise ValueError("permissions must be a list of Graph permission names")
    bad = [p for p in perms if p not in KNOWN_GRAPH_PERMISSIONS]
    if bad:
        raise ValueError(f"unknown Graph permissions {bad}; known: {sorted(KNOWN_GRAPH_PERMISSIONS)}")
