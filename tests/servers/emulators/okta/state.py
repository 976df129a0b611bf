"""The org's state: users, groups, apps, authorization servers, tokens."""

from __future__ import annotations

import copy
import re
import time
from typing import Any, Dict, List, Optional, Tuple

from ..base.ids import random_string
from .app_model import (G_DEVICE, G_JWT, G_SAML2, G_TOKEN_EXCHANGE, OIN_SAML_APPS, is_str_list, normalize_oidc)
from .common import Clock, JSON, ORG_ID, new_id
from .context import check_issuer_mode
from .errors import ApiError, malformed_body, not_found, validation_error
from .expressions import dotted
from .limits import (Bucket, CONCURRENCY_LIMIT, DEFAULT_RATE_LIMIT, DEFAULT_RATE_WINDOW, DPOP_NONCE_SECONDS)


# ---------------------------------------------------------------------------------------


class State:
    def __init__(self, clock: Clock, api_am: bool, cli_tokens: List[str],
                 search_lag: float = 0.0) -> None:
        self.clock = clock
        self.cli_api_am = api_am
        self.cli_tokens = cli_tokens
        self.cli_search_lag = search_lag
        self.reset()

    # -- lifecycle ----------------------------------------------------------------------

    def reset(self) -> None:
        self.seq = 0
        self.apps: Dict[str, JSON] = {}
        self.groups: Dict[str, JSON] = {}
        self.users: Dict[str, JSON] = {}
        self.logins: Dict[str, str] = {}  # lower-case login -> user id
        self.memberships: Dict[str, Dict[str, int]] = {}  # group id -> {user id: seq}
        self.auth_servers: Dict[str, JSON] = {}
        self.api_tokens: Dict[str, JSON] = {}  # token -> {name, roles}
        self.service_apps: Dict[str, JSON] = {}  # client_id -> {app_id, scopes, roles, dpop}
        self.access_tokens: Dict[str, JSON] = {}  # token -> {client_id, scopes, exp}
        self.used_jti: Dict[str, float] = {}
        self.used_dpop_jti: Dict[str, float] = {}
        self.unpublished: List[str] = []  # requests refused by the published-API check
        self._nonces: List[Tuple[float, str]] = []  # (minted at, nonce), newest last
        self.push_mappings: Dict[str, Dict[str, JSON]] = {}  # app id -> {mapping id: m}
        # What the token endpoint and the API saw of DPoP (for tests of the client's state).
        self.dpop_counts: Dict[str, int] = {k: 0 for k in (
            "token_requests", "tokens_issued", "token_nonce_challenges", "token_proofs_with_nonce",
            "api_nonce_challenges", "api_invalid_token")}
        self.log: List[JSON] = []
        self.log_seq = 0
        self.faults: List[JSON] = []
        self.buckets: Dict[str, Bucket] = {}
        self.config: JSON = {
            "page_size": None,
            "rate_limit": {"limit": DEFAULT_RATE_LIMIT, "window_seconds": DEFAULT_RATE_WINDOW,
                           "shared": False},
            "clock_skew_seconds": 0,
            "api_access_management": self.cli_api_am,
            "api_access_management_status": 401,
            "search_lag_seconds": self.cli_search_lag,
            "published_api_only": True,
            "next_link_base": None,
            "concurrency_limit": CONCURRENCY_LIMIT,
            "api_dpop_nonce": False,
            "service_app_share": 0.5,
            # The org's custom URL domain (https://login.example.com), as Customizations → Domain
            # sets it up; None: the org has none.
            "custom_domain": None,
        }
        self.clock.skew = 0.0
        for t in self.cli_tokens:
            self.api_tokens[t] = {"name": "cli", "roles": ["SUPER_ADMIN"]}
        # Built-in Everyone group (every user is a member).
        self.everyone_id = new_id("00g")
        now = self.clock.iso()
        self.groups[self.everyone_id] = {
            "id": self.everyone_id, "created": now, "lastUpdated": now,
            "lastMembershipUpdated": now, "objectClass": ["okta:user_group"],
            "type": "BUILT_IN",
            "profile": {"name": "Everyone", "description": "All users in your organization"},
            "_seq": self.next_seq(),
        }
        self.memberships[self.everyone_id] = {}
        # The pre-configured `default` custom authorization server with its basic
        # access policy and rule ([spec] AuthorizationServer tag,
        # https://developer.okta.com/docs/api/openapi/okta-management/management/tag/AuthorizationServer/).
        self.create_auth_server({"name": "default",
                                 "description": "Default Authorization Server for your Applications",
                                 "audiences": ["api://default"]}, fixed_id="default")
        pol = self.create_policy("default", {
            "type": "OAUTH_AUTHORIZATION_POLICY", "status": "ACTIVE", "name": "Default Policy",
            "description": "Default policy description", "priority": 1,
            "conditions": {"clients": {"include": ["ALL_CLIENTS"]}}})
        self.create_rule("default", pol["id"], {
            "type": "RESOURCE_ACCESS", "name": "Default Policy Rule", "priority": 1,
            "conditions": {"people": {"groups": {"include": ["EVERYONE"]}},
                           "grantTypes": {"include": ["implicit", "client_credentials",
                                                      "authorization_code", "password"]},
                           "scopes": {"include": ["*"]}},
            "actions": {"token": {"accessTokenLifetimeMinutes": 60,
                                  "refreshTokenLifetimeMinutes": 0,
                                  "refreshTokenWindowMinutes": 10080}}})

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def dpop_nonce(self) -> str:
        """The current DPoP-Nonce, rotated every DPOP_NONCE_SECONDS."""
        now = time.monotonic()
        if not self._nonces or now - self._nonces[-1][0] > DPOP_NONCE_SECONDS:
            self._nonces = (self._nonces + [(now, random_string(32))])[-2:]
        return self._nonces[-1][1]

    def dpop_nonces(self) -> List[str]:
        self.dpop_nonce()
        return [n for _, n in self._nonces]

    # -- rate limits ----------------------------------------------------------------------

    def bucket(self, name: str, client_id: Optional[str] = None) -> Bucket:
        """The endpoint family's bucket, or for a service app its share of it: "Application rate
        limits" cap an OAuth app at a percentage of the org's limit, 50 % by default for new apps
        (https://developer.okta.com/docs/guides/implement-oauth-for-okta-serviceapp/main/, https://developer.okta.com/docs/reference/rl-best-practices/; developer.okta.com/docs/guides/implement-oauth-for-okta-serviceapp/)."""
        rl = self.config["rate_limit"]
        key = "org" if rl.get("shared") else name
        limit = int(rl["limit"])
        if client_id is not None:
            key = f"{key}:{client_id}"
            limit = max(1, int(limit * float(self.config.get("service_app_share", 0.5))))
        b = self.buckets.get(key)
        if b is None or b.limit != limit or b.window != rl["window_seconds"]:
            b = Bucket(limit, float(rl["window_seconds"]))
            self.buckets[key] = b
        return b

    # -- users & groups -----------------------------------------------------------------

    def add_user(self, spec: JSON) -> JSON:
        login = spec.get("login") or spec.get("email")
        if not isinstance(login, str) or not login:
            raise ValueError("user needs a login")
        if self.find_user(login):
            raise ValueError(f"user {login!r} already exists")
        uid = spec.get("id") or new_id("00u")
        now = self.clock.iso()
        user = {
            "id": uid, "status": spec.get("status", "ACTIVE"), "created": now,
            "activated": now, "statusChanged": now, "lastLogin": None, "lastUpdated": now,
            "passwordChanged": now, "type": {"id": "oty1kiroemulat0r0g4"},
            "profile": {"firstName": spec.get("firstName", login.split("@")[0]),
                        "lastName": spec.get("lastName", "User"), "mobilePhone": None,
                        "secondEmail": None, "login": login,
                        "email": spec.get("email", login)},
            "credentials": {"password": {}, "provider": {"type": "OKTA", "name": "OKTA"}},
            "_seq": self.next_seq(),
        }
        self.users[uid] = user
        self.logins[login.lower()] = uid
        self.memberships[self.everyone_id][uid] = self.next_seq()
        return user

    def find_user(self, key: str) -> Optional[JSON]:
        if key in self.users:
            return self.users[key]
        uid = self.logins.get(key.lower())
        return self.users.get(uid) if uid else None

    def add_group(self, spec: JSON) -> JSON:
        name = spec.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError("group needs a name")
        gid = spec.get("id") or new_id("00g")
        now = self.clock.iso()
        g = {"id": gid, "created": now, "lastUpdated": now, "lastMembershipUpdated": now,
             "objectClass": ["okta:user_group"], "type": spec.get("type", "OKTA_GROUP"),
             "profile": {"name": name, "description": spec.get("description")},
             "_seq": self.next_seq(),
             # `search` reads an eventually consistent copy: a new group shows up there only
             # after a while (okta SDK group_api.list_groups: "The `search` parameter results
             # are sourced from an eventually consistent datasource").
             "_searchable_at": time.monotonic() + float(self.config.get("search_lag_seconds") or 0)}
        if spec.get("source_app"):
            g["_source"] = spec["source_app"]
            g["objectClass"] = ["okta:app_group"]
        self.groups[gid] = g
        self.memberships[gid] = {}
        for m in spec.get("members", []) or []:
            u = self.find_user(m)
            if not u:
                raise ValueError(f"group {name!r}: unknown member {m!r}")
            self.memberships[gid][u["id"]] = self.next_seq()
        return g

    def find_group(self, key: str) -> Optional[JSON]:
        if key in self.groups:
            return self.groups[key]
        for g in self.groups.values():
            if g["profile"]["name"] == key:
                return g
        return None

    def group_members(self, gid: str) -> Dict[str, int]:
        if gid == self.everyone_id:
            return {uid: u["_seq"] for uid, u in self.users.items()}
        return self.memberships.get(gid, {})

    # -- apps -----------------------------------------------------------------------------

    def find_app(self, app_id: str) -> JSON:
        app = self.apps.get(app_id)
        if app is None:
            raise not_found(app_id, "AppInstance")
        return app

    def app_by_client_id(self, client_id: str) -> Optional[JSON]:
        for a in self.apps.values():
            oc = a.get("credentials", {}).get("oauthClient")
            if oc and oc.get("client_id") == client_id:
                return a
        return None

    def create_app(self, body: Any, activate: bool, service_jwks_ok: bool = False) -> JSON:
        if not isinstance(body, dict):
            raise malformed_body()
        causes = []
        label = body.get("label")
        if not isinstance(label, str) or not label.strip():
            causes.append("label: The field cannot be left blank")
        mode = body.get("signOnMode")
        if mode not in ("OPENID_CONNECT", "SAML_2_0"):
            causes.append(
                "signOnMode: this emulator supports OPENID_CONNECT and SAML_2_0 apps only"
                if mode else "signOnMode: The field cannot be left blank")
        name = body.get("name")
        if mode == "OPENID_CONNECT" and name != "oidc_client":
            causes.append("name: OPENID_CONNECT apps must have name 'oidc_client'")
        if mode == "SAML_2_0" and name is not None and name not in OIN_SAML_APPS:
            causes.append(f"name: '{name}' is not a known app name (custom SAML apps omit name)")
        if causes:
            if mode == "OPENID_CONNECT":
                try:  # report the settings problems in the same answer
                    normalize_oidc(body, None, "0oa")
                except ApiError as e:
                    causes += e.causes
            field = causes[0].split(":")[0]
            raise validation_error(field, causes)
        app_id = new_id("0oa")
        now = self.clock.iso()
        app: JSON = {
            "id": app_id, "orn": "", "name": name, "label": label,
            "status": "ACTIVE" if activate else "INACTIVE",
            "lastUpdated": now, "created": now,
            "accessibility": {"selfService": False, "errorRedirectUrl": None,
                              "loginRedirectUrl": None},
            "visibility": {"autoLaunch": False, "autoSubmitToolbar": False,
                           "hide": {"iOS": False, "web": False}, "appLinks": {}},
            "features": [],  # read-only; `features` in the body is ignored (https://developer.okta.com/docs/api/openapi/okta-management/management/tag/ApplicationConnections/, #5130)
            "signOnMode": mode,
            "_seq": self.next_seq(),
            "_groups": {},   # group id -> assignment
            "_users": {},    # user id -> direct assignment
            "_provisioning": None,
        }
        self._apply_app_body(app, body, existing=None, service_jwks_ok=service_jwks_ok)
        self.apps[app_id] = app
        self.push_mappings[app_id] = {}
        return app

    def _apply_app_body(self, app: JSON, body: JSON, existing: Optional[JSON],
                        service_jwks_ok: bool = False) -> None:
        mode = app["signOnMode"]
        settings_in = body.get("settings") if isinstance(body.get("settings"), dict) else {}
        if mode == "OPENID_CONNECT":
            so, co = normalize_oidc(body, existing, app["id"], jwks_ok=service_jwks_ok)
            if app["name"] is None:
                app["name"] = "oidc_client"
            app["credentials"] = {
                "userNameTemplate": {"template": "${source.login}", "type": "BUILT_IN"},
                "signing": {"kid": (existing or {}).get("credentials", {}).get(
                    "signing", {}).get("kid") or random_string(43)},
                "oauthClient": co,
            }
            app_settings = {"app": {}, "oauthClient": so}
            app["visibility"]["appLinks"] = {"oidc_client_link": True}
        else:
            if app["name"] is None:
                slug = re.sub(r"[^a-z0-9]+", "", app["label"].lower())[:20] or "app"
                app["name"] = f"kiroemulator_{slug}_1"
            sign_on = settings_in.get("signOn")
            is_custom = app["name"] not in OIN_SAML_APPS
            if is_custom:
                causes = []
                if not isinstance(sign_on, dict):
                    causes.append("settings.signOn: is required for custom SAML apps")
                else:
                    for f in ("ssoAcsUrl", "audience"):
                        if not isinstance(sign_on.get(f), str) or not sign_on.get(f):
                            causes.append(f"settings.signOn.{f}: The field cannot be left blank")
                if causes:
                    raise validation_error(causes[0].split(":")[0], causes)
            app_in = settings_in.get("app", {})
            if not isinstance(app_in, dict):
                raise validation_error("settings.app", ["settings.app: must be an object"])
            app["credentials"] = {
                "userNameTemplate": {"template": "${source.login}", "type": "BUILT_IN"},
                "signing": {"kid": (existing or {}).get("credentials", {}).get(
                    "signing", {}).get("kid") or random_string(43)},
            }
            app_settings = {"app": dict(app_in)}
            if sign_on is not None:
                app_settings["signOn"] = sign_on
            app["visibility"]["appLinks"] = {f"{app['name']}_link": True}
        app_settings.update({
            "notifications": {"vpn": {"network": {"connection": "DISABLED"}, "message": None,
                                      "helpUrl": None}},
            "manualProvisioning": False, "implicitAssignment": False,
            "notes": {"admin": None, "enduser": None}, "emOptInStatus": "DISABLED",
        })
        notes = settings_in.get("notes")
        if isinstance(notes, dict):
            app_settings["notes"] = {"admin": notes.get("admin"), "enduser": notes.get("enduser")}
        app["settings"] = app_settings
        if isinstance(body.get("profile"), dict):
            app["profile"] = body["profile"]
        else:
            app.pop("profile", None)
        for key in ("accessibility", "visibility"):
            if isinstance(body.get(key), dict):
                merged = dict(app[key])
                merged.update(body[key])
                app[key] = merged
        app["orn"] = f"orn:okta:idp:{ORG_ID}:apps:{app['name']}:{app['id']}"

    def replace_app(self, app: JSON, body: Any) -> JSON:
        if not isinstance(body, dict):
            raise malformed_body()
        causes = []
        if not isinstance(body.get("label"), str) or not body["label"].strip():
            causes.append("label: The field cannot be left blank")
        if body.get("signOnMode") is None:
            causes.append("signOnMode: The field cannot be left blank")
        elif body.get("signOnMode") != app["signOnMode"]:
            causes.append("signOnMode: cannot be changed")
        if body.get("name") is None:
            causes.append("name: The field cannot be left blank")
        elif body.get("name") != app["name"]:
            causes.append("name: cannot be changed")
        if causes:
            raise validation_error(causes[0].split(":")[0], causes)
        existing = copy.deepcopy(app)
        new = copy.deepcopy(app)
        new["label"] = body["label"]
        new["visibility"] = copy.deepcopy(existing["visibility"])
        self._apply_app_body(new, body, existing=existing,
                             service_jwks_ok=app["id"] in {s["app_id"] for s in self.service_apps.values()})
        new["lastUpdated"] = self.clock.iso()
        if new["signOnMode"] == "SAML_2_0" and new["name"] not in OIN_SAML_APPS:
            # https://developer.okta.com/docs/api/openapi/okta-management/management/tag/ApplicationConnections/
            # / terraform #655: a PUT resets "Provisioning: SCIM" on a custom SAML
            # app; the console-configured provisioning is lost.
            new["_provisioning"] = None
        app.clear()
        app.update(new)
        return app

    def app_features(self, app: JSON) -> List[str]:
        p = app.get("_provisioning")
        if not p:
            return []
        out = []
        if p["create_users"]:
            out.append("PUSH_NEW_USERS")
        if p["update_user_attributes"]:
            out.append("PUSH_PROFILE_UPDATES")
        if p["deactivate_users"]:
            out += ["PUSH_USER_DEACTIVATION", "REACTIVATE_USERS"]
        if p["push_groups"]:
            out.append("GROUP_PUSH")
        return out

    def app_users(self, app: JSON) -> List[JSON]:
        """Effective assignments: direct ones (scope USER) plus members of assigned groups
        (scope GROUP).  A user with both is reported as USER (https://developer.okta.com/docs/api/openapi/okta-management/management/tag/ApplicationUsers/)."""
        out: Dict[str, JSON] = {}
        for gid, ga in app["_groups"].items():
            for uid, mseq in self.group_members(gid).items():
                if uid not in self.users:
                    continue
                seq = max(ga["_seq"], mseq)
                cur = out.get(uid)
                if cur is None or seq < cur["seq"]:
                    out[uid] = {"uid": uid, "scope": "GROUP", "seq": seq, "created": ga["created"],
                                "group": gid}
        for uid, du in app["_users"].items():
            if uid not in self.users:
                continue
            prev = out.get(uid)
            out[uid] = {"uid": uid, "scope": "USER", "seq": min(du["_seq"], prev["seq"]) if prev else du["_seq"],
                        "created": du["created"], "direct": du}
        return sorted(out.values(), key=lambda x: (x["seq"], x["uid"]))

    # -- Group Push: the members of a pushed group in the target app ---------------------
    # A pushed group's members appear in the target app's group when they are assigned to the
    # app ("Troubleshooting Group Push": members must be assigned to the target app to appear).
    # Okta doesn't support using the same group for app assignment and Group Push; its
    # symptom, modelled here: "Removed users still appear in target app groups"
    # (https://help.okta.com/en-us/Content/Topics/users-groups-profiles/app-assignments-group-push.htm,
    # https://help.okta.com/en/prod/Content/Topics/users-groups-profiles/usgp-group-push-troubleshoot.htm).

    def push_initial_members(self, app: JSON, source_gid: str) -> Dict[str, bool]:
        assigned = {e["uid"] for e in self.app_users(app)}
        return {uid: True for uid in self.group_members(source_gid) if uid in assigned}

    def push_membership_changed(self, gid: str, added: List[str], removed: List[str]) -> None:
        for app_id, mappings in self.push_mappings.items():
            app = self.apps.get(app_id)
            if app is None:
                continue
            assigned = {e["uid"] for e in self.app_users(app)}
            for m in mappings.values():
                if m["sourceGroupId"] != gid or m["status"] != "ACTIVE":
                    continue
                target = m.setdefault("_target_members", {})
                for uid in added:
                    if uid in assigned:
                        target[uid] = True
                for uid in removed:
                    # The source group is also the app's assignment group: the removal reaches
                    # the app as an unassignment, and the membership in the target group stays.
                    if gid not in app["_groups"]:
                        target.pop(uid, None)

    # -- authorization servers
    # (https://developer.okta.com/docs/api/openapi/okta-management/management/tag/AuthorizationServer/)
    # -----------------------------------------------

    SYSTEM_SCOPES = (("openid", "Signals that a request is an OpenID request."),
                     ("profile", "Allows access to the end-user's default profile claims."),
                     ("email", "Allows access to the email and email_verified claims."),
                     ("address", "Allows access to the address claim."),
                     ("phone", "Allows access to the phone_number and phone_number_verified claims."),
                     ("offline_access", "Allows a refresh token to be returned."),
                     ("device_sso", "Requests a device secret for native SSO."))

    def find_as(self, as_id: str) -> JSON:
        s = self.auth_servers.get(as_id)
        if s is None:
            raise not_found(as_id, "AuthorizationServer")
        return s

    def create_auth_server(self, body: Any, fixed_id: Optional[str] = None) -> JSON:
        if not isinstance(body, dict):
            raise malformed_body()
        causes = []
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            causes.append("name: The field cannot be left blank")
        elif any(s["name"].lower() == name.lower() for s in self.auth_servers.values()):
            causes.append("name: An authorization server with this name already exists")
        aud = body.get("audiences")
        if not is_str_list(aud) or not aud:
            causes.append("audiences: The field cannot be left blank")
        elif len(aud) != 1:
            causes.append("audiences: Okta currently supports only one audience")
        mode = body.get("issuerMode", "ORG_URL")
        check_issuer_mode(mode, self.config, causes)
        if causes:
            raise validation_error(causes[0].split(":")[0], causes)
        sid = fixed_id or new_id("aus")
        now = self.clock.iso()
        s = {"id": sid, "name": name, "description": body.get("description"),
             "audiences": aud, "issuerMode": mode, "status": "ACTIVE", "created": now,
             "lastUpdated": now,
             "credentials": {"signing": {"rotationMode": "AUTO", "lastRotated": now,
                                         "nextRotation": self.clock.iso(self.clock.now() + 90 * 86400),
                                         "kid": random_string(43)}},
             "_seq": self.next_seq(), "_scopes": {}, "_policies": {}}
        for sname, desc in self.SYSTEM_SCOPES:
            scid = new_id("scp")
            s["_scopes"][scid] = {"id": scid, "name": sname, "displayName": sname,
                                  "description": desc, "system": True, "default": False,
                                  "metadataPublish": "ALL_CLIENTS", "consent": "IMPLICIT",
                                  "optional": False, "_seq": self.next_seq()}
        self.auth_servers[sid] = s
        return s

    def validate_scope(self, srv: JSON, body: Any, existing: Optional[JSON]) -> JSON:
        if not isinstance(body, dict):
            raise malformed_body()
        causes = []
        name = body.get("name")
        if not isinstance(name, str) or not name:
            causes.append("name: The field cannot be left blank")
        else:
            if re.search(r"\s", name) or not re.fullmatch(r"[\x21-\x7e]+", name):
                causes.append("name: must be printable ASCII without whitespace")
            if name.lower().startswith("okta."):
                causes.append("name: the 'okta.' prefix is reserved")
            for s in srv["_scopes"].values():
                if s["name"] == name and (existing is None or s["id"] != existing["id"]):
                    causes.append(f"name: A scope with the name '{name}' already exists")
        consent = body.get("consent", "IMPLICIT")
        if consent not in ("IMPLICIT", "REQUIRED", "FLEXIBLE"):
            causes.append("consent: must be IMPLICIT, REQUIRED or FLEXIBLE")
        publish = body.get("metadataPublish", "NO_CLIENTS")
        if publish not in ("ALL_CLIENTS", "NO_CLIENTS"):
            causes.append("metadataPublish: must be ALL_CLIENTS or NO_CLIENTS")
        for f in ("default", "optional"):
            if f in body and not isinstance(body[f], bool):
                causes.append(f"{f}: must be a boolean")
        if existing is not None and existing.get("system"):
            causes.append("name: system scopes cannot be modified")
        if causes:
            raise validation_error(causes[0].split(":")[0], causes)
        out = {"name": name, "displayName": body.get("displayName", name),
               "description": body.get("description"), "system": False,
               "default": body.get("default", False), "metadataPublish": publish,
               "consent": consent, "optional": body.get("optional", False)}
        return out

    def _validate_policy(self, srv: JSON, body: Any, existing: Optional[JSON]) -> JSON:
        if not isinstance(body, dict):
            raise malformed_body()
        causes = []
        if body.get("type") != "OAUTH_AUTHORIZATION_POLICY":
            causes.append("type: must be OAUTH_AUTHORIZATION_POLICY")
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            causes.append("name: The field cannot be left blank (1-100 characters)")
        else:
            for p in srv["_policies"].values():
                if p["name"] == name and (existing is None or p["id"] != existing["id"]):
                    causes.append(f"name: A policy with the name '{name}' already exists")
        desc = body.get("description")
        if not isinstance(desc, str) or not 1 <= len(desc) <= 255:
            causes.append("description: The field cannot be left blank (1-255 characters)")
        status = body.get("status", "ACTIVE")
        if status not in ("ACTIVE", "INACTIVE"):
            causes.append("status: must be ACTIVE or INACTIVE")
        prio = body.get("priority")
        if prio is not None and (not isinstance(prio, int) or isinstance(prio, bool) or prio < 1):
            causes.append("priority: must be a positive integer")
        include = dotted(body, "conditions.clients.include")
        if not is_str_list(include) or not include:
            causes.append("conditions.clients.include: The field cannot be left blank")
        else:
            bad_ids = [c for c in include
                       if c != "ALL_CLIENTS" and self.app_by_client_id(c) is None]
            if bad_ids:
                causes.append("conditions.clients.include: Invalid client id(s): "
                              + ", ".join(bad_ids))
            if "ALL_CLIENTS" in include and len(include) > 1:
                causes.append("conditions.clients.include: ALL_CLIENTS cannot be combined "
                              "with client ids")
        if causes:
            raise validation_error(causes[0].split(":")[0], causes)
        return {"type": "OAUTH_AUTHORIZATION_POLICY", "name": name, "description": desc,
                "status": status, "priority": prio, "system": False,
                "conditions": {"clients": {"include": list(include)}}}

    @staticmethod
    def _place(coll: Dict[str, JSON], obj: JSON, prio: Optional[int]) -> None:
        """Insert `obj` at `prio` (1-based) and renumber the others, as Okta does."""
        ordered = sorted((o for o in coll.values() if o["id"] != obj["id"]),
                         key=lambda o: o["priority"])
        if prio is None or prio > len(ordered) + 1:
            prio = len(ordered) + 1
        ordered.insert(prio - 1, obj)
        for i, o in enumerate(ordered, 1):
            o["priority"] = i
        coll[obj["id"]] = obj

    def create_policy(self, as_id: str, body: Any) -> JSON:
        srv = self.find_as(as_id)
        p = self._validate_policy(srv, body, None)
        now = self.clock.iso()
        p.update({"id": new_id("00p"), "created": now, "lastUpdated": now,
                  "_seq": self.next_seq(), "_rules": {}})
        self._place(srv["_policies"], p, p["priority"])
        return p

    def replace_policy(self, as_id: str, pol: JSON, body: Any) -> JSON:
        srv = self.find_as(as_id)
        p = self._validate_policy(srv, body, pol)
        for k in ("type", "name", "description", "status", "conditions"):
            pol[k] = p[k]
        pol["lastUpdated"] = self.clock.iso()
        self._place(srv["_policies"], pol, p["priority"] or pol["priority"])
        return pol

    GRANTS_IN_RULES = ("authorization_code", "implicit", "password", "client_credentials",
                       G_DEVICE, G_TOKEN_EXCHANGE, G_SAML2, G_JWT, "interaction_code",
                       "urn:openid:params:grant-type:ciba",
                       "urn:okta:params:oauth:grant-type:otp",
                       "urn:okta:params:oauth:grant-type:oob")

    def _validate_rule(self, srv: JSON, pol: JSON, body: Any, existing: Optional[JSON]) -> JSON:
        if not isinstance(body, dict):
            raise malformed_body()
        causes = []
        if body.get("type") != "RESOURCE_ACCESS":
            causes.append("type: must be RESOURCE_ACCESS")
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            causes.append("name: The field cannot be left blank")
        else:
            for r in pol["_rules"].values():
                if r["name"] == name and (existing is None or r["id"] != existing["id"]):
                    causes.append(f"name: A rule with the name '{name}' already exists")
        status = body.get("status", "ACTIVE")
        if status not in ("ACTIVE", "INACTIVE"):
            causes.append("status: must be ACTIVE or INACTIVE")
        prio = body.get("priority")
        if prio is not None and (not isinstance(prio, int) or isinstance(prio, bool) or prio < 1):
            causes.append("priority: must be a positive integer")
        cond = body.get("conditions")
        if not isinstance(cond, dict):
            causes.append("conditions: The field cannot be left blank")
            cond = {}
        grants = dotted(cond, "grantTypes.include")
        if not is_str_list(grants) or not grants:
            causes.append("conditions.grantTypes.include: The field cannot be left blank")
        else:
            for g in grants:
                if g not in self.GRANTS_IN_RULES:
                    causes.append(f"conditions.grantTypes.include: '{g}' is not a valid grant "
                                  "type for a rule")
        scopes = dotted(cond, "scopes.include")
        if not is_str_list(scopes) or not scopes:
            causes.append("conditions.scopes.include: The field cannot be left blank")
        else:
            known = {s["name"] for s in srv["_scopes"].values()}
            bad_scopes = [s for s in scopes if s != "*" and s not in known]
            if bad_scopes:
                causes.append("conditions.scopes.include: Invalid scope(s): "
                              + ", ".join(bad_scopes))
        people = cond.get("people")
        groups_inc = dotted(people, "groups.include") if isinstance(people, dict) else None
        users_inc = dotted(people, "users.include") if isinstance(people, dict) else None
        if not ((is_str_list(groups_inc) and groups_inc) or (is_str_list(users_inc) and users_inc)):
            causes.append("conditions.people: groups.include or users.include is required")
        else:
            for g in groups_inc or []:
                if g != "EVERYONE" and g not in self.groups:
                    causes.append(f"conditions.people.groups.include: Invalid group id: {g}")
            for u in users_inc or []:
                if u not in self.users:
                    causes.append(f"conditions.people.users.include: Invalid user id: {u}")
        tok = dotted(body, "actions.token") or {}
        if not isinstance(tok, dict):
            causes.append("actions.token: must be an object")
            tok = {}
        at = tok.get("accessTokenLifetimeMinutes", 60)
        rtl = tok.get("refreshTokenLifetimeMinutes", 0)
        rtw = tok.get("refreshTokenWindowMinutes", 10080)
        for f, v in (("accessTokenLifetimeMinutes", at), ("refreshTokenLifetimeMinutes", rtl),
                     ("refreshTokenWindowMinutes", rtw)):
            if not isinstance(v, int) or isinstance(v, bool):
                causes.append(f"actions.token.{f}: must be an integer")
        if isinstance(at, int) and not 5 <= at <= 1440:
            causes.append("actions.token.accessTokenLifetimeMinutes: must be between 5 and 1440")
        if isinstance(rtw, int) and not 10 <= rtw <= 2628000:
            causes.append("actions.token.refreshTokenWindowMinutes: must be between 10 and 2628000")
        if isinstance(rtl, int) and isinstance(at, int) and rtl != 0 and rtl < at:
            causes.append("actions.token.refreshTokenLifetimeMinutes: must be 0 (unlimited) or "
                          "at least the access token lifetime")
        if causes:
            raise validation_error(causes[0].split(":")[0], causes)
        people_out: JSON = {"users": {"include": list(users_inc or []), "exclude": []},
                            "groups": {"include": list(groups_inc or []), "exclude": []}}
        token_out = {"accessTokenLifetimeMinutes": at, "refreshTokenLifetimeMinutes": rtl,
                     "refreshTokenWindowMinutes": rtw}
        if isinstance(tok.get("inlineHook"), dict):
            token_out["inlineHook"] = tok["inlineHook"]
        return {"type": "RESOURCE_ACCESS", "name": name, "status": status, "priority": prio,
                "system": False,
                "conditions": {"people": people_out, "grantTypes": {"include": list(grants)},
                               "scopes": {"include": list(scopes)}},
                "actions": {"token": token_out}}

    def create_rule(self, as_id: str, pol_id: str, body: Any) -> JSON:
        srv = self.find_as(as_id)
        pol = srv["_policies"].get(pol_id)
        if pol is None:
            raise not_found(pol_id, "Policy")
        r = self._validate_rule(srv, pol, body, None)
        now = self.clock.iso()
        r.update({"id": new_id("0pr"), "created": now, "lastUpdated": now,
                  "_seq": self.next_seq()})
        self._place(pol["_rules"], r, r["priority"])
        return r


# ---------------------------------------------------------------------------------------
# Request context and rendering
