"""Groups and users."""

from __future__ import annotations

import time

from .context import Ctx
from .errors import invalid_search, not_found
from .expressions import dotted, parse_expression


class DirectoryMixin:
    """Groups and users."""

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
            # https://developer.okta.com/docs/api/#pagination: `q` on List Users defaults to limit
            # 10 and does not paginate.
            page = self.paginate(ctx, users, default=10, maximum=200, pageable=False)
        else:
            page = self.paginate(ctx, users, default=200, maximum=200)
        return 200, [self.render_user(ctx, u) for u in page]

    def get_user(self, ctx: Ctx, userId: str):
        u = self.s.find_user(userId)
        if u is None:
            raise not_found(userId, "User")
        return 200, self.render_user(ctx, u)
