"""Permissions per resource and the OData query options ($select, $filter, $top, paging)."""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Tuple
from urllib.parse import quote, urlencode

from ..base.ids import random_string
from .common import JSON
from .context import Ctx, Response
from .errors import GraphError
from .filters import parse_filter
from .state import State


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
    (https://learn.microsoft.com/en-us/graph/paging, https://learn.microsoft.com/en-us/graph/aad-advanced-queries)."""
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
            # https://learn.microsoft.com/en-us/graph/aad-advanced-queries: $count on directory
            # objects needs ConsistencyLevel: eventual
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
            tok = "RFNwdAIAAQAAA" + random_string(40)
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
