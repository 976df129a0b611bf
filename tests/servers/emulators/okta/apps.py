"""Apps, their group and user assignments."""

from __future__ import annotations


from .common import JSON
from .context import Ctx
from .errors import ApiError, invalid_search, malformed_body, not_found, validation_error
from .expressions import dotted, parse_expression


class AppsMixin:
    """Apps, their group and user assignments."""

    # -- apps
    # (https://developer.okta.com/docs/api/openapi/okta-management/management/tag/Application/)
    # ---------------------------------------------------------------

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
            # https://developer.okta.com/docs/api/openapi/okta-management/management/tag/Application/:
            # includeNonDeleted=true also returns inactive apps.
            apps = [a for a in apps if a["status"] == "ACTIVE"]
        q = ctx.q("q")
        if q:
            ql = q.lower()  # https://developer.okta.com/docs/api/openapi/okta-management/management/tag/Application/: name or label, startsWith
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

    # -- app group assignments
    # (https://developer.okta.com/docs/api/openapi/okta-management/management/tag/ApplicationGroups/)
    # ---------------------------------------------------

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

    # -- app users
    # (https://developer.okta.com/docs/api/openapi/okta-management/management/tag/ApplicationUsers/)
    # --------------------------------------------------------------

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
