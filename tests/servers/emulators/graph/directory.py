"""Directory reads: users, groups, organization, /me."""

from __future__ import annotations

from typing import Callable, List
from urllib.parse import unquote

from .common import JSON, is_guid, strip_private
from .context import Ctx, Response
from .errors import GraphError, bad_request, not_found
from .query import GROUP_FILTER, QueryMixin, READ_GROUPS, READ_USERS, USER_FILTER
from .state import State


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
