"""The control API (`/_control/...`): seeding, configuration, faults, state dumps."""

from __future__ import annotations

import copy
import re
from typing import Any, Dict, List, Optional, Tuple

from ..base.control import CONTROL_PREFIX, ControlApi
from ..base.ids import sha_prefix
from ..base.jose import public_jwk_from_pem
from .common import JSON
from .context import public
from .errors import ApiError
from .limits import DEFAULT_RATE_LIMIT, DEFAULT_RATE_WINDOW, KNOWN_OKTA_SCOPES, ROLE_PERMISSIONS


class ControlMixin(ControlApi):
    """The control API (/_control/...): seeding, configuration, faults, state dumps."""

    # =======================================================================================
    # Control API (/_control/...): not Okta; for tests only.
    # =======================================================================================

    def control_route(self, key: Tuple[str, str], body: Any, query: Dict[str, List[str]],
                      base: str) -> Optional[Tuple[int, Any]]:
        if key == ("POST", "/authorize/approve"):
            return self.authorize_approve(body, base)
        if key == ("GET", "/authorize/issued"):  # for the canary test: what was issued
            return 200, self.s.__dict__.get("signin_issued", [])
        if key == ("GET", "/state"):
            return 200, self.dump_state(base)
        if key == ("POST", "/seed"):
            return self.seed(body)
        if key == ("POST", "/config"):
            return self.set_config(body)
        if key == ("POST", "/faults"):
            return self.add_fault(body)
        if key == ("POST", "/console/provisioning"):
            return self.console_provisioning(body)
        if key == ("DELETE", "/console/provisioning"):
            app_key = (query.get("app") or [None])[0] or body.get("app")
            app = self._control_app(app_key)
            app["_provisioning"] = None
            return 200, {"ok": True}
        if key == ("POST", "/memberships"):
            return self.memberships(body)
        if key == ("POST", "/expire-tokens"):
            for t in self.s.access_tokens.values():
                t["exp"] = 0
            return 200, {"expired": len(self.s.access_tokens)}
        return None

    def _control_app(self, key: Any) -> JSON:
        if not isinstance(key, str) or not key:
            raise ValueError("'app' (app id or exact label) is required")
        if key in self.s.apps:
            return self.s.apps[key]
        hits = [a for a in self.s.apps.values() if a["label"] == key]
        if len(hits) != 1:
            raise ValueError(f"app {key!r}: {len(hits)} apps match")
        return hits[0]

    def seed(self, body: Any) -> Tuple[int, Any]:
        if not isinstance(body, dict):
            raise ValueError("seed body must be an object")
        unknown = set(body) - {"users", "groups", "api_tokens", "service_apps", "apps"}
        if unknown:
            raise ValueError(f"unknown seed keys: {sorted(unknown)}")
        out: JSON = {"users": [], "groups": [], "api_tokens": [], "service_apps": [], "apps": []}
        for u in body.get("users", []):
            user = self.s.add_user(u if isinstance(u, dict) else {"login": u})
            out["users"].append({"login": user["profile"]["login"], "id": user["id"]})
        for g in body.get("groups", []):
            grp = self.s.add_group(g if isinstance(g, dict) else {"name": g})
            out["groups"].append({"name": grp["profile"]["name"], "id": grp["id"]})
        for t in body.get("api_tokens", []):
            if isinstance(t, str):
                t = {"token": t}
            tok = t.get("token")
            if not isinstance(tok, str) or not tok:
                raise ValueError("api_tokens[].token is required")
            roles = t.get("roles", ["SUPER_ADMIN"])
            bad = [r for r in roles if r not in ROLE_PERMISSIONS]
            if bad:
                raise ValueError(f"unknown roles {bad}; known: {sorted(ROLE_PERMISSIONS)}")
            self.s.api_tokens[tok] = {"name": t.get("name", "token"), "roles": list(roles)}
            out["api_tokens"].append({"name": t.get("name", "token"), "token": sha_prefix(tok)})
        for sa in body.get("service_apps", []):
            out["service_apps"].append(self._seed_service_app(sa))
        for a in body.get("apps", []):
            if not isinstance(a, dict):
                raise ValueError("apps[] must be app objects as for POST /api/v1/apps")
            a = dict(a)
            status = a.pop("status", "ACTIVE")
            try:
                app = self.s.create_app(a, status == "ACTIVE")
            except ApiError as e:
                raise ValueError(f"apps[]: {e.summary}: {e.causes}")
            out["apps"].append({"label": app["label"], "id": app["id"],
                                "client_id": app.get("credentials", {}).get("oauthClient", {}).get("client_id")})
        return 200, out

    def _seed_service_app(self, sa: Any) -> JSON:
        if not isinstance(sa, dict):
            raise ValueError("service_apps[] must be objects")
        scopes = sa.get("scopes", [])
        bad = [x for x in scopes if x not in KNOWN_OKTA_SCOPES]
        if bad:
            raise ValueError(f"unknown Okta scopes {bad}")
        roles = sa.get("roles", [])
        badr = [r for r in roles if r not in ROLE_PERMISSIONS]
        if badr:
            raise ValueError(f"unknown roles {badr}")
        # The app's public key set (settings.oauthClient.jwks), from a PEM as the admin
        # pastes it into the console, or JWKs as the API takes them.
        keys: List[JSON] = []
        if sa.get("public_key_pem"):
            keys.append(public_jwk_from_pem(sa["public_key_pem"], sa.get("key_id", "k1")))
        for k in sa.get("jwks", []):
            if not isinstance(k, dict) or k.get("kty") not in ("RSA", "EC"):
                raise ValueError("service_apps[].jwks[] must be RSA or EC public JWKs")
            keys.append(dict(k))
        if not keys:
            raise ValueError("service_apps[] need public_key_pem (or jwks): the emulator "
                             "verifies client assertions against the app's keys")
        body = {"name": "oidc_client", "label": sa.get("label", "kiro-onboard automation"),
                "signOnMode": "OPENID_CONNECT",
                "credentials": {"oauthClient": {"token_endpoint_auth_method": "private_key_jwt",
                                                "client_id": sa.get("client_id")}},
                "settings": {"oauthClient": {"application_type": "service",
                                             "grant_types": ["client_credentials"],
                                             "jwks": {"keys": copy.deepcopy(keys)}}}}
        if body["credentials"]["oauthClient"]["client_id"] is None:
            del body["credentials"]["oauthClient"]["client_id"]
        cid = body["credentials"]["oauthClient"].get("client_id")
        if cid and self.s.app_by_client_id(cid):
            raise ValueError(f"client_id {cid} already exists")
        try:
            app = self.s.create_app(body, True, service_jwks_ok=True)
        except ApiError as e:
            raise ValueError(f"service_apps[]: {e.summary}: {e.causes}")
        # Service apps are ordinary apps: they show up in GET /api/v1/apps (and in q= searches).
        cid = app["credentials"]["oauthClient"]["client_id"]
        self.s.service_apps[cid] = {"app_id": app["id"], "scopes": list(scopes),
                                    "roles": list(roles),
                                    "keys": keys,
                                    # New API service apps require DPoP by default (Admin
                                    # Console: "Require Demonstrating Proof of Possession (DPoP)
                                    # header in token requests", on for new apps;
                                    # https://developer.okta.com/docs/guides/implement-oauth-for-okta-serviceapp/main/).
                                    "require_dpop": bool(sa.get("require_dpop", True))}
        return {"client_id": cid, "id": app["id"], "label": app["label"]}

    def set_config(self, body: Any) -> Tuple[int, Any]:
        if not isinstance(body, dict):
            raise ValueError("config body must be an object")
        known = {"page_size", "rate_limit", "clock_skew_seconds", "api_access_management",
                 "api_access_management_status", "search_lag_seconds", "published_api_only",
                 "next_link_base", "concurrency_limit", "api_dpop_nonce", "service_app_share",
                 "custom_domain", "access_token_lifetime", "access_token_max_uses"}
        unknown = set(body) - known
        if unknown:
            raise ValueError(f"unknown config keys {sorted(unknown)}; known: {sorted(known)}")
        cfg = self.s.config
        if "page_size" in body:
            ps = body["page_size"]
            if ps is not None and (not isinstance(ps, int) or ps < 1):
                raise ValueError("page_size must be a positive integer or null")
            cfg["page_size"] = ps
        if "rate_limit" in body:
            rl = body["rate_limit"]
            if rl is None:
                rl = {"limit": DEFAULT_RATE_LIMIT, "window_seconds": DEFAULT_RATE_WINDOW,
                      "shared": False}
            if not isinstance(rl, dict) or not isinstance(rl.get("limit"), int) or rl["limit"] < 0:
                raise ValueError("rate_limit needs an integer 'limit' >= 0")
            ws = rl.get("window_seconds", DEFAULT_RATE_WINDOW)
            if not isinstance(ws, (int, float)) or ws <= 0:
                raise ValueError("rate_limit.window_seconds must be > 0")
            cfg["rate_limit"] = {"limit": rl["limit"], "window_seconds": float(ws),
                                 "shared": bool(rl.get("shared", False))}
            self.s.buckets.clear()
        if "clock_skew_seconds" in body:
            sk = body["clock_skew_seconds"]
            if not isinstance(sk, (int, float)):
                raise ValueError("clock_skew_seconds must be a number")
            cfg["clock_skew_seconds"] = sk
            self.clock.skew = float(sk)
        if "search_lag_seconds" in body:
            lag = body["search_lag_seconds"]
            if not isinstance(lag, (int, float)) or lag < 0:
                raise ValueError("search_lag_seconds must be a number >= 0")
            cfg["search_lag_seconds"] = float(lag)
        if "service_app_share" in body:
            share = body["service_app_share"]
            if not isinstance(share, (int, float)) or not 0 < share <= 1:
                raise ValueError("service_app_share must be a fraction in (0, 1]")
            cfg["service_app_share"] = float(share)
            self.s.buckets.clear()
        if "access_token_lifetime" in body:
            lt = body["access_token_lifetime"]
            if not isinstance(lt, int) or isinstance(lt, bool) or lt < 0:
                raise ValueError("access_token_lifetime must be an integer >= 0 (seconds)")
            cfg["access_token_lifetime"] = lt
        if "access_token_max_uses" in body:
            mu = body["access_token_max_uses"]
            if mu is not None and (not isinstance(mu, int) or isinstance(mu, bool) or mu < 1):
                raise ValueError("access_token_max_uses must be a positive integer or null")
            cfg["access_token_max_uses"] = mu
        if "api_dpop_nonce" in body:
            cfg["api_dpop_nonce"] = bool(body["api_dpop_nonce"])
        if "custom_domain" in body:
            cd = body["custom_domain"]
            if cd is not None and (not isinstance(cd, str) or not re.match(r"^https://[^/]+$", cd)):
                raise ValueError("custom_domain must be https://host (no path) or null")
            cfg["custom_domain"] = cd
        if "concurrency_limit" in body:
            cl = body["concurrency_limit"]
            if not isinstance(cl, int) or cl < 1:
                raise ValueError("concurrency_limit must be a positive integer")
            cfg["concurrency_limit"] = cl
        if "published_api_only" in body:
            cfg["published_api_only"] = bool(body["published_api_only"])
        if "next_link_base" in body:
            nb = body["next_link_base"]
            if nb is not None and (not isinstance(nb, str) or not re.match(r"^https?://[^/]+$", nb)):
                raise ValueError("next_link_base must be scheme://host[:port] or null")
            cfg["next_link_base"] = nb
        if "api_access_management" in body:
            cfg["api_access_management"] = bool(body["api_access_management"])
        if "api_access_management_status" in body:
            if body["api_access_management_status"] not in (401, 403):
                raise ValueError("api_access_management_status must be 401 or 403")
            cfg["api_access_management_status"] = body["api_access_management_status"]
        return 200, cfg

    def add_fault(self, body: Any) -> Tuple[int, Any]:
        if not isinstance(body, dict):
            raise ValueError("fault body must be an object")
        unknown = set(body) - {"status", "count", "path_prefix", "method", "commit",
                               "reset_seconds"}
        if unknown:
            raise ValueError(f"unknown fault keys {sorted(unknown)}")
        st = body.get("status")
        if st not in (429, 500, 502, 503, 504):
            raise ValueError("status must be 429, 500, 502, 503 or 504")
        count = body.get("count", 1)
        if not isinstance(count, int) or count < 1:
            raise ValueError("count must be a positive integer")
        f = {"status": st, "count": count, "path_prefix": body.get("path_prefix"),
             "method": body.get("method"), "commit": bool(body.get("commit", False)),
             "reset_seconds": float(body.get("reset_seconds", 1)), "fired": 0}
        if f["path_prefix"] and f["path_prefix"].startswith(CONTROL_PREFIX):
            raise ValueError("faults never apply to the control API")
        self.s.faults.append(f)
        return 200, f

    def console_provisioning(self, body: Any) -> Tuple[int, Any]:
        """Simulate the admin finishing Provisioning -> Integration (base URL + token,
        'Test API Credentials', Save) and Provisioning -> To App in the console (https://kiro.dev/docs/enterprise/identity-provider/okta/)."""
        if not isinstance(body, dict):
            raise ValueError("body must be an object")
        app = self._control_app(body.get("app"))
        if app["signOnMode"] == "OPENID_CONNECT":
            raise ValueError("OIDC apps have no Provisioning tab (https://kiro.dev/docs/enterprise/identity-provider/okta/: Okta provides SCIM "
                             "for SAML and SWA apps, not OpenID Connect apps)")
        base_url = body.get("base_url")
        token = body.get("token")
        if not isinstance(base_url, str) or not re.match(r"^https?://[^/\s]+", base_url):
            raise ValueError("base_url must be an http(s) URL")
        if base_url.endswith("/"):
            # https://kiro.dev/docs/enterprise/identity-provider/okta/: "make sure there is no / at
            # the end or link validation in Okta will fail"
            raise ValueError("Test API Credentials failed: the base URL must not end with '/'")
        if not isinstance(token, str) or not token:
            raise ValueError("token is required")
        sync = body.get("sync_state", "SYNCHRONIZED")
        if sync not in ("SYNCHRONIZED", "ERROR", "OUT_OF_SYNC", "SYNCING"):
            raise ValueError("sync_state must be SYNCHRONIZED, ERROR, OUT_OF_SYNC or SYNCING")
        api = body.get("connection_api", "UNKNOWN")
        if api not in ("UNKNOWN", "REFLECTS_CONSOLE"):
            raise ValueError("connection_api must be UNKNOWN or REFLECTS_CONSOLE")
        app["_provisioning"] = {
            "base_url": base_url, "token_sha": sha_prefix(token),
            "create_users": bool(body.get("create_users", True)),
            "update_user_attributes": bool(body.get("update_user_attributes", True)),
            "deactivate_users": bool(body.get("deactivate_users", True)),
            "push_groups": bool(body.get("push_groups", True)),
            "sync_state": sync, "connection_api": api, "completed_at": self.clock.iso(),
        }
        return 200, {"app": app["id"], "features": self.s.app_features(app)}

    def memberships(self, body: Any) -> Tuple[int, Any]:
        if not isinstance(body, dict):
            raise ValueError("body must be an object")
        g = self.s.find_group(body.get("group") or "")
        if g is None:
            raise ValueError(f"unknown group {body.get('group')!r}")
        if g["id"] == self.s.everyone_id:
            raise ValueError("Everyone membership is implicit")
        added, removed = [], []
        for login in body.get("add", []):
            u = self.s.find_user(login)
            if u is None:
                raise ValueError(f"unknown user {login!r}")
            self.s.memberships[g["id"]].setdefault(u["id"], self.s.next_seq())
            added.append(u["id"])
        for login in body.get("remove", []):
            u = self.s.find_user(login)
            if u is not None and self.s.memberships[g["id"]].pop(u["id"], None) is not None:
                removed.append(u["id"])
        self.s.push_membership_changed(g["id"], added, removed)
        g["lastMembershipUpdated"] = self.clock.iso()
        return 200, {"group": g["id"], "members": sorted(
            self.s.users[u]["profile"]["login"] for u in self.s.memberships[g["id"]])}

    def dump_state(self, base: str) -> JSON:
        """Everything, with every secret replaced by a sha256 prefix."""
        s = self.s

        def scrub_app(a: JSON) -> JSON:
            out = public(a)
            oc = out.get("credentials", {}).get("oauthClient")
            if oc and "client_secret" in oc:
                oc["client_secret"] = sha_prefix(oc["client_secret"])
            out["assigned_groups"] = {g: {"priority": ga["priority"]}
                                      for g, ga in a["_groups"].items()}
            out["direct_users"] = sorted(a["_users"])
            out["provisioning"] = a.get("_provisioning")
            out["features"] = s.app_features(a)
            # target_members: who is in the pushed group in the target app (Kiro's side).
            out["push_mappings"] = [dict(public(m), target_members=sorted(
                s.users[u]["profile"]["login"] for u in m.get("_target_members", {}) if u in s.users))
                for m in s.push_mappings.get(a["id"], {}).values()]
            return out

        return {
            "org_url": base,
            "config": s.config,
            "apps": [scrub_app(a) for a in sorted(s.apps.values(), key=lambda a: a["_seq"])],
            "groups": [dict(public(g), members=sorted(
                s.users[u]["profile"]["login"] for u in s.group_members(g["id"])
                if u in s.users)) for g in sorted(s.groups.values(), key=lambda g: g["_seq"])],
            "users": [public(u) for u in sorted(s.users.values(), key=lambda u: u["_seq"])],
            "authorization_servers": [dict(public(a), scopes=[public(x) for x in a["_scopes"].values()],
                                           policies=[dict(public(p), rules=[public(r) for r in p["_rules"].values()])
                                                     for p in a["_policies"].values()])
                                      for a in s.auth_servers.values()],
            "api_tokens": [{"token": sha_prefix(t), **v} for t, v in s.api_tokens.items()],
            "service_apps": [{"client_id": c, **v} for c, v in s.service_apps.items()],
            "access_tokens": [{"token": sha_prefix(t), "client_id": v["client_id"],
                               "scopes": v["scopes"], "expired": v["exp"] <= self.clock.now()}
                              for t, v in s.access_tokens.items()],
            "faults": s.faults,
            "dpop": dict(s.dpop_counts),
            "log_entries": len(s.log),
            "unpublished_requests": s.unpublished,
        }
