"""Paging and the JSON Okta renders for each object."""

from __future__ import annotations

import copy
import hashlib
from typing import List
from urllib.parse import quote, urlencode

from ..base.jose import b64url_decode, b64url_encode
from .common import JSON
from .context import Ctx, hint, public
from .errors import validation_error


class RenderMixin:
    """Paging and the JSON Okta renders for each object."""

    # -- paging (https://developer.okta.com/docs/api/#pagination)
    # -------------------------------------------------------------------

    def paginate(self, ctx: Ctx, items: List[JSON], default: int, maximum: int,
                 minimum: int = 1, pageable: bool = True) -> List[JSON]:
        """`items` must carry `_seq` and be sorted by it.  Adds Link headers."""
        raw_limit = ctx.q("limit")
        if raw_limit is None or raw_limit == "":
            limit = default
        else:
            try:
                limit = int(raw_limit)
            except ValueError:
                raise validation_error("limit", [f"limit: '{raw_limit}' is not a number"])
            if limit == -1:
                limit = default
            elif limit < 1:
                raise validation_error("limit", ["limit: must be at least 1"])
            limit = max(min(limit, maximum), minimum)
        ps = self.s.config.get("page_size")
        if ps:
            limit = min(limit, int(ps))
        after = ctx.q("after")
        start_seq = 0
        if after and pageable:
            try:
                decoded = b64url_decode(after.strip()).decode("ascii")
                if not decoded.startswith("c"):
                    raise ValueError
                start_seq = int(decoded[1:])
            except (ValueError, UnicodeDecodeError):
                raise validation_error("after", ["after: the cursor is not valid"])
        rest = [i for i in items if i["_seq"] > start_seq]
        page = rest[:limit]
        self_q = ctx.raw_query
        links = [f'<{ctx.base}{ctx.path}{"?" + self_q if self_q else ""}>; rel="self"']
        if pageable and len(rest) > limit:
            params = [(k, v) for k, vs in ctx.query.items() if k not in ("after", "limit")
                      for v in vs]
            params.append(("after", b64url_encode(f"c{page[-1]['_seq']}".encode())))
            params.append(("limit", raw_limit if raw_limit else str(limit)))
            # An org with a custom domain may answer with links on another of its names
            # (developer.okta.com/docs/guides/custom-url-domain/: the org keeps its okta.com
            # URL next to the custom one); `next_link_base` models that.
            link_base = self.s.config.get("next_link_base") or ctx.base
            links.append(f'<{link_base}{ctx.path}?{urlencode(params, quote_via=quote)}>; rel="next"')
        for l in links:
            ctx.resp_headers.append(("Link", l))
        return page

    # -- renderers -------------------------------------------------------------------------

    def render_app(self, ctx: Ctx, app: JSON) -> JSON:
        out = public(app)
        out["features"] = self.s.app_features(app)
        base = f"{ctx.base}/api/v1/apps/{app['id']}"
        links: JSON = {
            "uploadLogo": hint(base + "/logo", "POST"),
            "appLinks": [{"name": f"{app['name']}_link",
                          "href": f"{ctx.base}/home/{app['name']}/{app['id']}/aln"
                                  + hashlib.sha1(app["id"].encode()).hexdigest()[:17],
                          "type": "text/html"}],
            "groups": {"href": base + "/groups"},
            "users": {"href": base + "/users"},
            "logo": [{"name": "medium", "href": f"{ctx.base}/assets/img/logos/default.png",
                      "type": "image/png"}],
            "metadata": {"href": base + "/sso/saml/metadata", "type": "application/xml"}
            if app["signOnMode"] == "SAML_2_0" else None,
        }
        if links["metadata"] is None:
            del links["metadata"]
        if app["status"] == "ACTIVE":
            links["deactivate"] = hint(base + "/lifecycle/deactivate", "POST")
        else:
            links["activate"] = hint(base + "/lifecycle/activate", "POST")
        out["_links"] = links
        return out

    def render_group(self, ctx: Ctx, g: JSON) -> JSON:
        out = public(g)
        out["_links"] = {
            "logo": [{"name": "medium", "href": f"{ctx.base}/img/logos/groups/okta-medium.png",
                      "type": "image/png"}],
            "users": {"href": f"{ctx.base}/api/v1/groups/{g['id']}/users"},
            "apps": {"href": f"{ctx.base}/api/v1/groups/{g['id']}/apps"},
        }
        if g.get("_source"):
            out["_links"]["source"] = {"href": f"{ctx.base}/api/v1/apps/{g['_source']}"}
        return out

    def render_user(self, ctx: Ctx, u: JSON) -> JSON:
        out = public(u)
        out["_links"] = {"self": {"href": f"{ctx.base}/api/v1/users/{u['id']}"}}
        return out

    def render_app_group(self, ctx: Ctx, app: JSON, gid: str, ga: JSON) -> JSON:
        out = {"id": gid, "lastUpdated": ga["lastUpdated"], "priority": ga["priority"],
               "profile": copy.deepcopy(ga["profile"]),
               "_links": {"app": {"href": f"{ctx.base}/api/v1/apps/{app['id']}"},
                          "self": {"href": f"{ctx.base}/api/v1/apps/{app['id']}/groups/{gid}"},
                          "group": {"href": f"{ctx.base}/api/v1/groups/{gid}"}}}
        if "group" in (ctx.q("expand") or "").split(",") and gid in self.s.groups:
            out["_embedded"] = {"group": self.render_group(ctx, self.s.groups[gid])}
        return out

    def render_app_user(self, ctx: Ctx, app: JSON, eff: JSON) -> JSON:
        u = self.s.users[eff["uid"]]
        prov = app.get("_provisioning")
        pushing = bool(prov and prov["create_users"])
        direct = eff.get("direct") or {}
        if app["signOnMode"] == "OPENID_CONNECT":
            profile: JSON = {}  # https://developer.okta.com/docs/api/openapi/okta-management/management/tag/ApplicationUsers/: OIDC app users have no firstName/lastName
        else:
            profile = {"email": u["profile"]["email"], "firstName": u["profile"]["firstName"],
                       "lastName": u["profile"]["lastName"]}
        profile.update(direct.get("profile") or {})
        out = {
            "id": u["id"],
            "created": eff["created"], "lastUpdated": eff["created"],
            "scope": eff["scope"],
            "status": "PROVISIONED" if pushing else "ACTIVE",
            "statusChanged": eff["created"],
            "passwordChanged": None,
            "syncState": (prov.get("sync_state") or "SYNCHRONIZED") if pushing else "DISABLED",
            "credentials": {"userName": (direct.get("credentials") or {}).get("userName")
                            or u["profile"]["login"]},
            "profile": profile,
            "_links": {"app": {"href": f"{ctx.base}/api/v1/apps/{app['id']}"},
                       "user": {"href": f"{ctx.base}/api/v1/users/{u['id']}"}},
        }
        if pushing:
            out["externalId"] = hashlib.sha1((app["id"] + u["id"]).encode()).hexdigest()[:32]
            out["lastSync"] = prov["completed_at"]
        if eff["scope"] == "GROUP":
            out["_links"]["group"] = {"name": self.s.groups[eff["group"]]["profile"]["name"],
                                      "href": f"{ctx.base}/api/v1/groups/{eff['group']}"}
        if "user" in (ctx.q("expand") or "").split(","):
            out["_embedded"] = {"user": self.render_user(ctx, u)}
        return out

    def issuer(self, ctx: Ctx, srv: JSON) -> str:
        return self.issuer_for(ctx.base, srv)

    def issuer_for(self, request_base: str, srv: JSON) -> str:
        """The `issuer` (and the tokens' `iss`) by the server's issuerMode (Okta Management API,
        AuthorizationServer.issuerMode): ORG_URL the org domain, CUSTOM_URL the org's custom URL
        domain, DYNAMIC the domain the request was sent to. This emulator serves only the org
        domain, so DYNAMIC always answers with it."""
        if srv.get("issuerMode") == "CUSTOM_URL" and self.s.config.get("custom_domain"):
            return f"{self.s.config['custom_domain']}/oauth2/{srv['id']}"
        return f"{request_base}/oauth2/{srv['id']}"


    def render_as(self, ctx: Ctx, srv: JSON) -> JSON:
        out = public(srv)
        out["issuer"] = self.issuer(ctx, srv)
        base = f"{ctx.base}/api/v1/authorizationServers/{srv['id']}"
        iss = out["issuer"]
        out["_links"] = {
            "scopes": hint(base + "/scopes", "GET"),
            "claims": hint(base + "/claims", "GET"),
            "policies": hint(base + "/policies", "GET"),
            "self": hint(base, "GET", "DELETE", "PUT"),
            "metadata": [
                dict(name="oauth-authorization-server",
                     **hint(iss + "/.well-known/oauth-authorization-server", "GET")),
                dict(name="openid-configuration",
                     **hint(iss + "/.well-known/openid-configuration", "GET"))],
            "rotateKey": hint(base + "/credentials/lifecycle/keyRotate", "POST"),
        }
        if srv["status"] == "ACTIVE":
            out["_links"]["deactivate"] = hint(base + "/lifecycle/deactivate", "POST")
        else:
            out["_links"]["activate"] = hint(base + "/lifecycle/activate", "POST")
        return out

    def render_scope(self, ctx: Ctx, srv: JSON, sc: JSON) -> JSON:
        out = public(sc)
        out["_links"] = {"self": hint(
            f"{ctx.base}/api/v1/authorizationServers/{srv['id']}/scopes/{sc['id']}",
            "GET", "PUT", "DELETE")}
        return out

    def render_policy(self, ctx: Ctx, srv: JSON, p: JSON) -> JSON:
        out = public(p)
        base = f"{ctx.base}/api/v1/authorizationServers/{srv['id']}/policies/{p['id']}"
        out["_links"] = {"self": hint(base, "GET", "PUT", "DELETE"),
                         "rules": hint(base + "/rules", "GET")}
        lc = "deactivate" if p["status"] == "ACTIVE" else "activate"
        out["_links"][lc] = hint(f"{base}/lifecycle/{lc}", "POST")
        return out

    def render_rule(self, ctx: Ctx, srv: JSON, p: JSON, r: JSON) -> JSON:
        out = public(r)
        base = (f"{ctx.base}/api/v1/authorizationServers/{srv['id']}/policies/{p['id']}"
                f"/rules/{r['id']}")
        lc = "deactivate" if r["status"] == "ACTIVE" else "activate"
        out["_links"] = {"self": hint(base, "GET", "PUT", "DELETE"),
                         lc: hint(f"{base}/lifecycle/{lc}", "POST")}
        return out
