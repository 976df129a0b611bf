"""Constants of the Microsoft Graph and identity platform emulator, and its small helpers."""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from typing import Any, Dict, Optional


JSON = Dict[str, Any]
NAME = "graph_emulator"
DESCRIPTION = "Stateful Microsoft Graph + Microsoft identity platform emulator for kiro-onboard tests."

GRAPH_RESOURCE = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
CUSTOM_TEMPLATE_ID = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621"  # https://learn.microsoft.com/en-us/graph/api/applicationtemplate-instantiate?view=graph-rest-1.0
ROLE_USER_ID = "18d14569-c3bd-439b-9a66-3a2aee01d14f"  # https://learn.microsoft.com/en-us/graph/application-proxy-configure-api
ROLE_MSIAM_ID = "b9632174-c057-4f7e-951b-be3adc52bfe6"  # https://learn.microsoft.com/en-us/graph/application-proxy-configure-api
ZERO_GUID = "00000000-0000-0000-0000-000000000000"
GRAPH_CLI_CLIENT = "14d82eec-204b-4c2f-b7e8-296a70dab67e"  # https://learn.microsoft.com/en-us/troubleshoot/entra/entra-id/governance/verify-first-party-apps-sign-in
AZURE_CLI_CLIENT = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"  # https://learn.microsoft.com/en-us/troubleshoot/entra/entra-id/governance/verify-first-party-apps-sign-in
CUSTOM_HOMEPAGE = ("https://account.activedirectory.windowsazure.com:444/applications/"
                   "default.aspx?metadata=customappsso|ISV9.1|primary|z")  # https://learn.microsoft.com/en-us/graph/application-proxy-configure-api
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

# Everything the tool needs (the brief; the permissions
# https://learn.microsoft.com/en-us/graph/api/applicationtemplate-instantiate?view=graph-rest-1.0
# lists). Default for registered clients/users.
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
               "Cloud Application Administrator"}  # https://learn.microsoft.com/en-us/graph/api/applicationtemplate-instantiate?view=graph-rest-1.0 directory roles

# ---------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------

GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def new_guid() -> str:
    return str(uuid.uuid4())


def is_guid(v: Any) -> bool:
    return isinstance(v, str) and bool(GUID_RE.match(v))


def sha_full(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def iso(t: Optional[float] = None) -> str:
    t = time.time() if t is None else t
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def iso_inner(t: Optional[float] = None) -> str:
    """innerError.date format (Graph: no zone designator)."""
    t = time.time() if t is None else t
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))




def strip_private(obj: Any) -> Any:
    """Deep copy without emulator-private keys (those starting with '_')."""
    if isinstance(obj, dict):
        return {k: strip_private(v) for k, v in obj.items() if not k.startswith("_")}
    if isinstance(obj, list):
        return [strip_private(v) for v in obj]
    return obj
