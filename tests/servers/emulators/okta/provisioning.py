"""Provisioning: the app's connection, features and group push mappings."""

from __future__ import annotations


from .common import JSON, new_id
from .context import Ctx, hint, public
from .errors import ApiError, malformed_body, not_found, validation_error


class ProvisioningMixin:
    """Provisioning: the app's connection, features and group push mappings."""

    # -- provisioning
    # (https://developer.okta.com/docs/api/openapi/okta-management/management/tag/ApplicationConnections/)
    # -------------------------------------------------------------

    def _connection_body(self, ctx: Ctx, app: JSON) -> JSON:
        base = f"{ctx.base}/api/v1/apps/{app['id']}/connections/default"
        prov = app.get("_provisioning")
        if prov and prov.get("connection_api") == "REFLECTS_CONSOLE":
            return {"authScheme": "TOKEN", "status": "ENABLED", "baseUrl": prov["base_url"],
                    "profile": {"authScheme": "TOKEN"},
                    "_links": {"self": hint(base, "GET", "POST"),
                               "deactivate": hint(base + "/lifecycle/deactivate", "POST")}}
        # https://developer.okta.com/docs/api/openapi/okta-management/management/tag/ApplicationConnections/
        # (okta-mcp-server PR #72): on an app whose connection the API cannot
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
        # nothing changes, the answer is the UNKNOWN sentinel
        # (https://developer.okta.com/docs/api/openapi/okta-management/management/tag/ApplicationConnections/).
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
             "status": status, "_seq": self.s.next_seq(),
             "_target_members": self.s.push_initial_members(app, src) if status == "ACTIVE" else {}}
        self.s.push_mappings[appId][m["id"]] = m
        return 201, self._render_mapping(ctx, app, m)

    # -- one mapping: read, status, delete
    # (https://developer.okta.com/docs/api/openapi/okta-management/management/tag/GroupPushMapping/;
    # okta SDK okta/api/group_push_mapping_api.py) -------------------------------------------

    def _find_mapping(self, appId: str, mappingId: str) -> JSON:
        self.s.find_app(appId)
        m = self.s.push_mappings.get(appId, {}).get(mappingId)
        if m is None:
            raise not_found(mappingId, "GroupPushMapping")
        return m

    def get_push_mapping(self, ctx: Ctx, appId: str, mappingId: str):
        m = self._find_mapping(appId, mappingId)
        return 200, self._render_mapping(ctx, self.s.find_app(appId), m)

    def update_push_mapping(self, ctx: Ctx, appId: str, mappingId: str):
        # PATCH {"status"} is the only change Okta offers ("Updates the status of a group push
        # mapping"; UpdateGroupPushMappingRequest has `status` only) -> 200 the mapping.
        m = self._find_mapping(appId, mappingId)
        body = ctx.json_body()
        if not isinstance(body, dict):
            raise malformed_body()
        status = body.get("status")
        if status not in ("ACTIVE", "INACTIVE"):
            raise validation_error("status", ["status: must be ACTIVE or INACTIVE"])
        app = self.s.find_app(appId)
        if status != m["status"]:
            m["status"] = status
            m["lastUpdated"] = self.clock.iso()
            if status == "ACTIVE":
                # An INACTIVE mapping pushes nothing; activating it pushes the group again.
                m["_target_members"] = self.s.push_initial_members(app, m["sourceGroupId"])
        return 200, self._render_mapping(ctx, app, m)

    def delete_push_mapping(self, ctx: Ctx, appId: str, mappingId: str):
        # "The group push mapping must be in an INACTIVE state": deleting an ACTIVE one is
        # refused with 400 (okta-sdk-java GroupPushMappingIT, "Cannot delete ACTIVE mapping -
        # should return 400"; the error code is not published: E0000001 is ours).
        # `deleteTargetGroup` is required: true deletes the group in the target app too, false
        # leaves it there (developer.okta.com GroupPushMapping; help.okta.com "Group Push
        # operations"; support.okta.com "Bulk Unlink Group Push Mappings").
        m = self._find_mapping(appId, mappingId)
        flag = (ctx.q("deleteTargetGroup") or "").lower()
        if flag not in ("true", "false"):
            raise validation_error("deleteTargetGroup", [
                "deleteTargetGroup: The field cannot be left blank" if not flag
                else "deleteTargetGroup: must be true or false"])
        if m["status"] == "ACTIVE":
            raise validation_error("status", [
                "status: The group push mapping must be in an INACTIVE state to be deleted"])
        del self.s.push_mappings[appId][mappingId]
        if flag == "true":
            self.s.groups.pop(m["targetGroupId"], None)
            self.s.memberships.pop(m["targetGroupId"], None)
        return 204, None
