"""App role assignments (appRoleAssignedTo)."""

from __future__ import annotations

import secrets
import time
from typing import Callable, Optional

from ..base.jose import b64url_encode
from .applications import no_such_property
from .common import JSON, ZERO_GUID, is_guid, strip_private
from .context import Ctx, Response, no_content
from .errors import bad_request, not_found
from .query import ASSIGN, QueryMixin, READ_APPS
from .state import State


# ---------------------------------------------------------------------------------------
# App role assignments
# (https://learn.microsoft.com/en-us/graph/api/serviceprincipal-post-approleassignedto?view=graph-rest-1.0)
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
        # https://learn.microsoft.com/en-us/graph/api/applicationtemplate-instantiate?view=graph-rest-1.0:
        # AppRoleAssignment.ReadWrite.All *and* Application.Read.All (or
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
                raise no_such_property(k)
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
            # declare no app roles
            # (https://learn.microsoft.com/en-us/graph/api/serviceprincipal-post-approleassignedto?view=graph-rest-1.0;
            # Custom SPs declare User + msiam_access).
            ok = not sp["appRoles"]
        else:
            ok = any(r["id"] == role_id and r["isEnabled"] and member_type in r["allowedMemberTypes"]
                     for r in sp["appRoles"])
        if not ok:
            raise bad_request(f"Permission being assigned was not found on application "
                              f"'{sp['appId']}'.")
        for a in self.s.assignments.values():
            if a["resourceId"] == sp["id"] and a["principalId"] == pid and a["appRoleId"] == role_id:
                # A replayed POST whose first attempt landed is answered so
                # (https://github.com/hashicorp/terraform-provider-azuread/pull/1896); Bicep
                # reports "EntitlementGrant entry already exists" for the same case
                # (https://github.com/microsoftgraph/msgraph-bicep-types/issues/161).
                raise bad_request("Permission being assigned already exists on the object",
                                  "Request_BadRequest")
        aid = b64url_encode(secrets.token_bytes(32))[:43]
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
