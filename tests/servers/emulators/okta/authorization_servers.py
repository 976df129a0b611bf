"""Custom authorization servers: scopes, policies, rules."""

from __future__ import annotations

import re

from .app_model import is_str_list
from .common import JSON, new_id
from .context import Ctx, check_issuer_mode
from .errors import malformed_body, not_found, validation_error


class AuthServersMixin:
    """Custom authorization servers: scopes, policies, rules."""

    # -- authorization servers
    # (https://developer.okta.com/docs/api/openapi/okta-management/management/tag/AuthorizationServer/)
    # ------------------------------------------------------

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
            # A name where an id belongs is refused as invalid rather than not found (seen on a
            # real org; Okta does not document it: OKTA_EMULATOR.md "Real-org behaviour").
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
        if not is_str_list(aud) or len(aud) != 1:
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
