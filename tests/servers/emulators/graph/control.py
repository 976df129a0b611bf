"""The control API (`/_control/...`): seeding, configuration, faults, state dumps."""

from __future__ import annotations

import time
from typing import Any, Dict, List, Optional, Tuple

from ..base.control import CONTROL_PREFIX, ControlApi
from ..base.ids import sha_prefix
from .common import JSON, sha_full, strip_private
from .core import DEFAULT_FAULT_TEXT
from .federation import mint
from .state import DEFAULT_CONFIG, KINDS, State, check_federated, check_perm_list


# ---------------------------------------------------------------------------------------
# Control API (/_control/...) - never reachable under Graph or login paths
# ---------------------------------------------------------------------------------------

FAULT_KEYS = {"status", "count", "path_prefix", "method", "retry_after", "code", "message",
              "commit"}


class ControlMixin(ControlApi):
    s: State
    lock: Any

    def control_route(self, key: Tuple[str, str], body: Any, query: Dict[str, List[str]],
                      base: str) -> Optional[Tuple[int, Any]]:
        if key == ("GET", "/state"):
            return 200, self.dump_state()
        if key == ("POST", "/seed"):
            return 200, self.seed(body)
        if key == ("POST", "/federated"):  # adds a federated identity credential to a client
            return 200, self.add_federated(body)
        if key == ("POST", "/federated/token"):  # a token from an issuer the emulator plays
            return 200, mint(self.s.__dict__.setdefault("issuer_keys", {}), body)
        if key == ("POST", "/config"):
            return 200, self.set_config(body)
        if key == ("POST", "/faults"):
            return 200, self.add_fault(body)
        if key == ("GET", "/devicecode"):
            return 200, [{"user_code": d["user_code"], "client_id": d["client_id"],
                          "status": d["status"], "polls": d["polls"],
                          "interval": d["interval"]}
                         for d in self.s.device_codes.values()]
        if key in (("POST", "/devicecode/approve"), ("POST", "/devicecode/decline"),
                   ("POST", "/devicecode/expire")):
            return 200, self.devicecode_control(key[1].rsplit("/", 1)[1], body)
        if key == ("POST", "/authorize/approve"):
            return self.authorize_approve(body)
        if key == ("GET", "/authorize/issued"):  # for the canary test: what was issued
            return 200, self.s.__dict__.get("signin_issued", [])
        if key == ("POST", "/tokens/expire"):
            return 200, self.expire_tokens(body)
        if key == ("POST", "/replicate"):
            # Replication always completes in the end: every object becomes readable now,
            # every replica has seen the last PATCH, assignments and secrets are seen.
            for app in self.s.applications.values():
                app.pop("_stale", None)
            self.s.sync_secrets_stale.clear()
            for a in self.s.assignments.values():
                a["_honoured_at"] = 0
            settled = 0
            for objects in (self.s.applications, self.s.service_principals):
                for obj in objects.values():
                    obj["_listed_at"] = 0
                    if obj.get("_hidden_gets", 0) > 0:
                        obj["_hidden_gets"] = 0
                        settled += 1
            for sp in self.s.service_principals.values():
                for job in sp.get("_jobs", {}).values() if isinstance(sp.get("_jobs"), dict) else []:
                    job["_hidden_gets"] = 0
            return 200, {"settled": settled}
        if key == ("POST", "/permissions"):
            return 200, self.set_permissions(body)
        if key == ("POST", "/sync/reject-token"):
            tok = body.get("token") if isinstance(body, dict) else None
            if not isinstance(tok, str) or not tok:
                raise ValueError("'token' (the SCIM token to reject) is required")
            self.s.rejected_tokens.add(sha_full(tok))
            if len(tok) >= MIN_TRACKED_TOKEN:
                self.s.scim_tokens.add(tok)
            return 200, {"rejected": sha_prefix(tok)}
        if key == ("DELETE", "/sync/reject-token"):
            self.s.rejected_tokens.clear()
            return 200, {"ok": True}
        if key == ("POST", "/sync/quarantine"):
            return 200, self.quarantine_control(body)
        if key == ("POST", "/sync/cycle"):
            return 200, self.cycle_control(body)
        return None

    # -- seed / config / faults ---------------------------------------------------------

    def seed(self, body: Any) -> JSON:
        if not isinstance(body, dict):
            raise ValueError("seed body must be an object")
        unknown = set(body) - {"users", "groups", "clients", "scim_tokens", "verified_domains"}
        if unknown:
            raise ValueError(f"unknown seed keys {sorted(unknown)}")
        out: JSON = {"users": [], "groups": [], "clients": []}
        for u in body.get("users", []):
            user = self.s.add_user(u if isinstance(u, dict) else {"userPrincipalName": u})
            out["users"].append({"userPrincipalName": user["userPrincipalName"], "id": user["id"]})
        for g in body.get("groups", []):
            grp = self.s.add_group(g if isinstance(g, dict) else {"displayName": g})
            out["groups"].append({"displayName": grp["displayName"], "id": grp["id"]})
        for c in body.get("clients", []):
            cl = self.s.add_client(c)
            out["clients"].append({"client_id": cl["client_id"], "public_client": cl["public_client"]})
        for t in body.get("scim_tokens", []):
            if not isinstance(t, str) or len(t) < MIN_TRACKED_TOKEN:
                raise ValueError(f"scim_tokens must be strings of at least {MIN_TRACKED_TOKEN} "
                                 "characters")
            self.s.scim_tokens.add(t)
        for d in body.get("verified_domains", []):
            if not isinstance(d, str) or "." not in d:
                raise ValueError("verified_domains must be domain names")
            self.s.verified_domains.append(d.lower())
        return out

    def add_federated(self, body: Any) -> JSON:
        if not isinstance(body, dict) or not isinstance(body.get("client_id"), str):
            raise ValueError("federated body is {client_id, issuer, subject, audiences?}")
        client = self.s.clients.get(body["client_id"].lower())
        if client is None:
            raise ValueError(f"no client {body['client_id']}")
        cred = check_federated({k: v for k, v in body.items() if k != "client_id"})
        client["federated_credentials"].append(cred)
        return cred

    def set_config(self, body: Any) -> JSON:
        if not isinstance(body, dict):
            raise ValueError("config body must be an object")
        unknown = set(body) - set(DEFAULT_CONFIG)
        if unknown:
            raise ValueError(f"unknown config keys {sorted(unknown)}; known: {sorted(DEFAULT_CONFIG)}")
        new = dict(self.s.config)
        for k, v in body.items():
            d = DEFAULT_CONFIG[k]
            if isinstance(d, bool):
                if not isinstance(v, bool):
                    raise ValueError(f"{k} must be a boolean")
            elif isinstance(d, int):
                if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                    raise ValueError(f"{k} must be a non-negative number")
            elif isinstance(d, list):
                if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                    raise ValueError(f"{k} must be a list of strings")
            elif isinstance(d, str):
                if not isinstance(v, str):
                    raise ValueError(f"{k} must be a string")
            new[k] = v
        if new["secrets_get_masking"] not in ("credentials", "all"):
            raise ValueError("secrets_get_masking must be credentials or all")
        if not 1 <= new["page_size"] <= 999:
            raise ValueError("page_size must be between 1 and 999")
        if new["identifier_uri_policy"] not in ("none", "uniqueTenantIdentifier", "nonDefault"):
            raise ValueError("identifier_uri_policy must be none, uniqueTenantIdentifier or nonDefault")
        bad = set(new["replication_404_kinds"]) - set(KINDS)
        if bad:
            raise ValueError(f"replication_404_kinds: unknown {sorted(bad)}; known {list(KINDS)}")
        self.s.config = new
        return new

    def add_fault(self, body: Any) -> JSON:
        if not isinstance(body, dict):
            raise ValueError("fault body must be an object")
        unknown = set(body) - FAULT_KEYS
        if unknown:
            raise ValueError(f"unknown fault keys {sorted(unknown)}; known {sorted(FAULT_KEYS)}")
        st = body.get("status")
        if st not in DEFAULT_FAULT_TEXT:
            raise ValueError(f"status must be one of {sorted(DEFAULT_FAULT_TEXT)}")
        count = body.get("count", 1)
        if not isinstance(count, int) or count < 1:
            raise ValueError("count must be a positive integer")
        ra = body.get("retry_after", 1 if st == 429 else None)
        if ra is not None and (not isinstance(ra, int) or ra < 0):
            raise ValueError("retry_after must be a non-negative integer (seconds)")
        pp = body.get("path_prefix")
        if pp is not None and (not isinstance(pp, str) or not pp.startswith("/")):
            raise ValueError("path_prefix must start with '/' (e.g. /v1.0/applications)")
        if pp and pp.startswith(CONTROL_PREFIX):
            raise ValueError("faults never apply to the control API")
        f = {"id": len(self.s.faults) + 1, "status": st, "count": count, "remaining": count,
             "fired": 0, "path_prefix": pp, "method": body.get("method"), "retry_after": ra,
             "code": body.get("code"), "message": body.get("message"),
             "commit": bool(body.get("commit", False))}
        self.s.faults.append(f)
        return f

    # -- auth controls ------------------------------------------------------------------

    def devicecode_control(self, action: str, body: Any) -> JSON:
        if not isinstance(body, dict):
            raise ValueError("body must be an object")
        uc = body.get("user_code")
        dc = next((d for d in self.s.device_codes.values()
                   if isinstance(uc, str) and d["user_code"] == uc.upper()), None)
        if dc is None:
            raise ValueError(f"no device code with user_code {uc!r}")
        if dc["status"] != "pending":
            raise ValueError(f"device code {uc} is {dc['status']}, not pending")
        if action == "approve":
            if time.time() >= dc["expires"]:
                raise ValueError(f"device code {uc} has expired")
            user = self.s.find_user(body.get("user") or self.s.default_user_id)
            if user is None:
                raise ValueError(f"unknown user {body.get('user')!r}")
            dc["user_id"] = user["id"]
            dc["status"] = "approved"
        elif action == "decline":
            dc["status"] = "declined"
        else:
            dc["status"] = "expired"
        return {"user_code": dc["user_code"], "status": dc["status"], "user_id": dc["user_id"]}

    def expire_tokens(self, body: Any) -> JSON:
        kind = (body or {}).get("kind", "access") if isinstance(body, dict) else "access"
        if kind not in ("access", "refresh", "all"):
            raise ValueError("kind must be access, refresh or all")
        n = 0
        if kind in ("access", "all"):
            for t in self.s.access_tokens.values():
                t["exp"] = 0
                n += 1
        if kind in ("refresh", "all"):
            for t in self.s.refresh_tokens.values():
                t["exp"] = 0
                n += 1
        return {"expired": n}

    def set_permissions(self, body: Any) -> JSON:
        if not isinstance(body, dict):
            raise ValueError("body must be an object")
        unknown = set(body) - {"client_id", "user", "permissions", "roles", "apply_to_existing_tokens"}
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}")
        if ("client_id" in body) == ("user" in body):
            raise ValueError("give exactly one of client_id or user")
        perms = body.get("permissions")
        if perms is not None:
            check_perm_list(perms)
        if "client_id" in body:
            c = self.s.clients.get(str(body["client_id"]).lower())
            if c is None:
                raise ValueError(f"unknown client {body['client_id']!r}")
            if "roles" in body:
                raise ValueError("roles apply to users only")
            if perms is not None:
                c["permissions"] = list(perms)
            target: JSON = {"client_id": c["client_id"], "permissions": c["permissions"]}
            match = lambda t: t["client_id"] == c["client_id"]  # noqa: E731
        else:
            u = self.s.find_user(body["user"])
            if u is None:
                raise ValueError(f"unknown user {body['user']!r}")
            if perms is not None:
                u["_permissions"] = list(perms)
            if "roles" in body:
                if not isinstance(body["roles"], list):
                    raise ValueError("roles must be a list")
                u["_roles"] = list(body["roles"])
            target = {"user": u["userPrincipalName"], "permissions": u["_permissions"],
                      "roles": u["_roles"]}
            match = lambda t: t["user_id"] == u["id"]  # noqa: E731
        if body.get("apply_to_existing_tokens") and perms is not None:
            for t in self.s.access_tokens.values():
                if match(t):
                    held = set(t["perms"])
                    if "client_id" in body:
                        t["perms"] = sorted(set(perms) if t["kind"] == "app" else held & set(perms))
                    else:
                        t["perms"] = sorted(held & set(perms))
        return target

    # -- log / state --------------------------------------------------------------------

    def render_log(self, e: JSON) -> JSON:
        out = {k: v for k, v in e.items() if not k.startswith("_")}
        hashes = e.get("_value_hashes") or set()
        known = {sha_full(t) for t in self.s.scim_tokens}
        out["scim_token_in_body"] = bool(e.get("_body_hit")) or bool(hashes & known)
        return out

    def dump_state(self) -> JSON:
        s = self.s

        def secret_view(sp_id: str) -> JSON:
            return {k: (sha_prefix(v) if k in SECRET_KEYS and v else v)
                    for k, v in s.sync_secrets.get(sp_id, {}).items()}
        return {
            "last_assertion_header": s.last_assertion_header,
            "federated_assertions": s.__dict__.get("federated_assertions", []),
            "tenant": {"id": s.tenant_id, "domain": s.tenant_domain,
                       "verified_domains": s.verified_domains},
            "config": s.config,
            "clients": [{"client_id": c["client_id"], "display_name": c["display_name"],
                         "public_client": c["public_client"], "certificate": c["certificate"],
                         "client_secret": sha_prefix(c["client_secret"]) if c["client_secret"] else None,
                         "permissions": c["permissions"],
                         "preauthorized_only": c["preauthorized_only"],
                         "federated_credentials": c["federated_credentials"]}
                        for c in s.clients.values()],
            "users": [dict(strip_private(u), roles=u["_roles"], permissions=u["_permissions"],
                           accountEnabled=u["_accountEnabled"], mailNickname=u["_mailNickname"])
                      for u in s.users.values()],
            "groups": [dict(strip_private(g), members=g["_members"]) for g in s.groups.values()],
            "applications": [strip_private(a) for a in s.applications.values()],
            "servicePrincipals": [strip_private(p) for p in s.service_principals.values()],
            "appRoleAssignments": [strip_private(a) for a in s.assignments.values()],
            "synchronization": {
                "secrets": {sp: secret_view(sp) for sp in s.sync_secrets},
                "jobs": [dict(strip_private(j), servicePrincipalId=j["_sp"],
                              schema=j["_schema"], provisioned=j["_provisioned"])
                         for j in s.jobs.values()],
                "rejected_tokens": sorted("sha256:" + h[:12] for h in s.rejected_tokens),
                "known_scim_tokens": sorted(sha_prefix(t) for t in s.scim_tokens),
            },
            "device_codes": [{"user_code": d["user_code"], "client_id": d["client_id"],
                              "status": d["status"], "polls": d["polls"],
                              "interval": d["interval"]} for d in s.device_codes.values()],
            "tokens": {
                "access": [{"token": sha_prefix(k), "kind": v["kind"], "client_id": v["client_id"],
                            "user_id": v["user_id"], "permissions": v["perms"],
                            "expired": time.time() >= v["exp"]}
                           for k, v in s.access_tokens.items()],
                "refresh": [{"token": sha_prefix(k), "client_id": v["client_id"],
                             "user_id": v["user_id"]} for k, v in s.refresh_tokens.items()],
            },
            "faults": s.faults,
        }


MIN_TRACKED_TOKEN = 8
SECRET_KEYS = {"SecretToken", "ClientSecret", "Password", "Oauth2ClientSecret"}
