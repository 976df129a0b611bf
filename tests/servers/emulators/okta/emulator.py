"""The emulator: every area's handlers, the routes to them, rate limits and faults."""

from __future__ import annotations

import json
import math
import re
import threading
from typing import Any, Callable, List, Optional, Tuple
from urllib.parse import unquote

from ..base.control import take_fault
from ..base.oauth import OAuthError
from ..base.serve import report
from .apps import AppsMixin
from .authn import AuthMixin
from .authorization_servers import AuthServersMixin
from .common import Clock, JSON, NAME
from .context import Ctx
from .control import ControlMixin
from .directory import DirectoryMixin
from .discovery import DiscoveryMixin
from .dpop import DPoPMixin
from .errors import ApiError, not_found, rate_limited, validation_error
from .limits import bucket_name
from .provisioning import ProvisioningMixin
from .published_api import PublishedApi
from .render import RenderMixin
from .signin import SigninMixin
from .state import State
from .token import TokenMixin


class Emulator(SigninMixin, AuthMixin, TokenMixin, DPoPMixin, DiscoveryMixin, RenderMixin, AppsMixin,
               ProvisioningMixin, DirectoryMixin, AuthServersMixin, ControlMixin):
    def __init__(self, state: State, clock: Clock, published: Optional[PublishedApi]) -> None:
        self.s = state
        self.clock = clock
        self.published = published
        self.inflight = 0
        self.inflight_lock = threading.Lock()
        self.lock = threading.RLock()
        self.routes: List[Tuple[str, re.Pattern, Callable, Tuple[str, ...], bool]] = []
        self._register_routes()

    # -- routing --------------------------------------------------------------------------

    def route(self, method: str, pattern: str, perms: Tuple[str, ...], aam: bool = False):
        rx = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")

        def deco(fn):
            self.routes.append((method, rx, fn, perms, aam))
            return fn
        return deco

    def _register_routes(self) -> None:
        A_R, A_M = ("okta.apps.read",), ("okta.apps.manage",)
        G_R, U_R = ("okta.groups.read",), ("okta.users.read",)
        S_R, S_M = ("okta.authorizationServers.read",), ("okta.authorizationServers.manage",)
        r = self.route
        r("GET", "/api/v1/apps", A_R)(self.list_apps)
        r("POST", "/api/v1/apps", A_M)(self.create_app)
        r("GET", "/api/v1/apps/{appId}", A_R)(self.get_app)
        r("PUT", "/api/v1/apps/{appId}", A_M)(self.put_app)
        r("DELETE", "/api/v1/apps/{appId}", A_M)(self.delete_app)
        r("POST", "/api/v1/apps/{appId}/lifecycle/activate", A_M)(self.app_activate)
        r("POST", "/api/v1/apps/{appId}/lifecycle/deactivate", A_M)(self.app_deactivate)
        r("GET", "/api/v1/apps/{appId}/groups", A_R)(self.list_app_groups)
        r("GET", "/api/v1/apps/{appId}/groups/{groupId}", A_R)(self.get_app_group)
        r("PUT", "/api/v1/apps/{appId}/groups/{groupId}", A_M)(self.put_app_group)
        r("DELETE", "/api/v1/apps/{appId}/groups/{groupId}", A_M)(self.delete_app_group)
        r("GET", "/api/v1/apps/{appId}/users", A_R)(self.list_app_users)
        r("POST", "/api/v1/apps/{appId}/users", A_M)(self.assign_app_user)
        r("GET", "/api/v1/apps/{appId}/users/{userId}", A_R)(self.get_app_user)
        r("DELETE", "/api/v1/apps/{appId}/users/{userId}", A_M)(self.delete_app_user)
        r("GET", "/api/v1/apps/{appId}/connections/default", A_R)(self.get_connection)
        r("POST", "/api/v1/apps/{appId}/connections/default", A_M)(self.post_connection)
        r("POST", "/api/v1/apps/{appId}/connections/default/lifecycle/activate", A_M)(
            self.connection_lifecycle)
        r("POST", "/api/v1/apps/{appId}/connections/default/lifecycle/deactivate", A_M)(
            self.connection_lifecycle)
        r("GET", "/api/v1/apps/{appId}/features", A_R)(self.list_features)
        r("GET", "/api/v1/apps/{appId}/features/{featureName}", A_R)(self.get_feature)
        r("GET", "/api/v1/apps/{appId}/group-push/mappings", A_R + G_R)(self.list_push_mappings)
        r("POST", "/api/v1/apps/{appId}/group-push/mappings", A_M + ("okta.groups.manage",))(
            self.create_push_mapping)
        PM = "/api/v1/apps/{appId}/group-push/mappings/{mappingId}"
        r("GET", PM, A_R + G_R)(self.get_push_mapping)
        r("PATCH", PM, A_M + ("okta.groups.manage",))(self.update_push_mapping)
        r("DELETE", PM, A_M + ("okta.groups.manage",))(self.delete_push_mapping)
        r("GET", "/api/v1/groups", G_R)(self.list_groups)
        r("GET", "/api/v1/groups/{groupId}", G_R)(self.get_group)
        r("GET", "/api/v1/groups/{groupId}/users", G_R)(self.list_group_users)
        r("GET", "/api/v1/users", U_R)(self.list_users)
        r("GET", "/api/v1/users/{userId}", U_R)(self.get_user)
        AS = "/api/v1/authorizationServers"
        r("GET", AS, S_R, True)(self.list_auth_servers)
        r("POST", AS, S_M, True)(self.create_auth_server)
        r("GET", AS + "/{asId}", S_R, True)(self.get_auth_server)
        r("PUT", AS + "/{asId}", S_M, True)(self.put_auth_server)
        r("DELETE", AS + "/{asId}", S_M, True)(self.delete_auth_server)
        r("POST", AS + "/{asId}/lifecycle/activate", S_M, True)(self.as_activate)
        r("POST", AS + "/{asId}/lifecycle/deactivate", S_M, True)(self.as_deactivate)
        r("GET", AS + "/{asId}/scopes", S_R, True)(self.list_scopes)
        r("POST", AS + "/{asId}/scopes", S_M, True)(self.create_scope)
        r("GET", AS + "/{asId}/scopes/{scopeId}", S_R, True)(self.get_scope)
        r("PUT", AS + "/{asId}/scopes/{scopeId}", S_M, True)(self.put_scope)
        r("DELETE", AS + "/{asId}/scopes/{scopeId}", S_M, True)(self.delete_scope)
        r("GET", AS + "/{asId}/policies", S_R, True)(self.list_policies)
        r("POST", AS + "/{asId}/policies", S_M, True)(self.create_policy)
        r("GET", AS + "/{asId}/policies/{policyId}", S_R, True)(self.get_policy)
        r("PUT", AS + "/{asId}/policies/{policyId}", S_M, True)(self.put_policy)
        r("DELETE", AS + "/{asId}/policies/{policyId}", S_M, True)(self.delete_policy)
        r("POST", AS + "/{asId}/policies/{policyId}/lifecycle/activate", S_M, True)(
            self.policy_activate)
        r("POST", AS + "/{asId}/policies/{policyId}/lifecycle/deactivate", S_M, True)(
            self.policy_deactivate)
        r("GET", AS + "/{asId}/policies/{policyId}/rules", S_R, True)(self.list_rules)
        r("POST", AS + "/{asId}/policies/{policyId}/rules", S_M, True)(self.create_rule)
        r("GET", AS + "/{asId}/policies/{policyId}/rules/{ruleId}", S_R, True)(self.get_rule)
        r("PUT", AS + "/{asId}/policies/{policyId}/rules/{ruleId}", S_M, True)(self.put_rule)
        r("DELETE", AS + "/{asId}/policies/{policyId}/rules/{ruleId}", S_M, True)(
            self.delete_rule)
        r("POST", AS + "/{asId}/policies/{policyId}/rules/{ruleId}/lifecycle/activate", S_M,
          True)(self.rule_activate)
        r("POST", AS + "/{asId}/policies/{policyId}/rules/{ruleId}/lifecycle/deactivate", S_M,
          True)(self.rule_deactivate)

    # -- entry point for API requests -------------------------------------------------------

    def handle(self, ctx: Ctx) -> Tuple[int, List[Tuple[str, str]], Optional[Any]]:
        """Returns (status, headers, json-body-or-None)."""
        with self.lock:
            s = self.s
            bname = bucket_name(ctx.path)
            scheme, _, cred = (ctx.headers.get("Authorization") or "").strip().partition(" ")
            token = s.access_tokens.get(cred.strip()) if scheme in ("Bearer", "DPoP") else None
            bucket = s.bucket(bname, token["client_id"] if token else None)
            fault = take_fault(self.s.faults, ctx.method, ctx.path, "count")
            if fault is not None and fault["status"] == 429:
                rem, _ = bucket.peek(self.clock)
                reset = int(math.ceil(self.clock.now() + fault.get("reset_seconds", 1)))
                hdrs = self._rl_headers(bucket.limit, 0, reset)
                return 429, hdrs, self._fault_body(fault, 429)
            if fault is not None:
                rem, reset = bucket.peek(self.clock)
                hdrs = self._rl_headers(bucket.limit, rem, reset)
                if fault.get("commit"):
                    # The operation happens, but the client sees an error (lost response).
                    self._dispatch(ctx)
                return fault["status"], hdrs, self._fault_body(fault, fault["status"])
            ok, remaining, reset = bucket.consume(self.clock)
            hdrs = self._rl_headers(bucket.limit, max(remaining, 0), reset)
            if not ok:
                e = rate_limited()
                return 429, hdrs + e.headers, e.body()
            status, extra, body = self._dispatch(ctx)
            return status, hdrs + extra, body

    @staticmethod
    def _rl_headers(limit: int, remaining: int, reset: int) -> List[Tuple[str, str]]:
        return [("X-Rate-Limit-Limit", str(limit)), ("X-Rate-Limit-Remaining", str(remaining)),
                ("X-Rate-Limit-Reset", str(reset))]

    @staticmethod
    def _fault_body(fault: JSON, status: int) -> JSON:
        if status == 429:
            return rate_limited().body()
        if status == 503:
            return ApiError(503, "E0000010", "Service is in read only mode").body()
        return ApiError(status, "E0000009", "Internal Server Error").body()

    def _dispatch(self, ctx: Ctx) -> Tuple[int, List[Tuple[str, str]], Optional[Any]]:
        try:
            if ctx.path == "/oauth2/v1/token":
                return self.token_endpoint(ctx)
            m = re.match(r"^/oauth2/([^/]+)/v1/(authorize|token)$", ctx.path)
            if m and m.group(1) != "v1":  # signin check: authorization code + PKCE (SigninMixin)
                return self.signin_endpoint(ctx, m.group(1), m.group(2))
            m = re.match(r"^/oauth2/([^/]+)/\.well-known/(openid-configuration|oauth-authorization-server)$",
                         ctx.path)
            if m and ctx.method == "GET":
                return self.discovery(ctx, m.group(1), m.group(2))
            if not ctx.path.startswith("/api/"):
                raise not_found(ctx.path, "Resource")
            self._check_published(ctx)
            self._authenticate(ctx)
            path_matched = False
            for method, rx, fn, perms, aam in self.routes:
                mm = rx.match(ctx.path)
                if not mm:
                    continue
                path_matched = True
                if method != ctx.method:
                    continue
                if aam and not self.s.config["api_access_management"]:
                    st = int(self.s.config.get("api_access_management_status", 401))
                    raise ApiError(st, "E0000015", "You do not have permission to access the "
                                   "feature you are requesting")
                self._authorize(ctx, perms)
                params = {k: unquote(v) for k, v in mm.groupdict().items()}
                result = fn(ctx, **params)
                status, body = result[0], result[1]
                return status, ctx.resp_headers, body
            if path_matched:
                raise ApiError(405, "E0000022",
                               "The endpoint does not support the provided HTTP method")
            raise not_found(ctx.path, "Resource")
        except ApiError as e:
            return e.status, e.headers, e.body()
        except OAuthError as e:
            return e.status, [("Cache-Control", "no-store"), ("Pragma", "no-cache")] + e.headers, {
                "error": e.error, "error_description": e.description}

    def _check_published(self, ctx: Ctx) -> None:
        """404 for a method + path Okta does not publish, 400 for a body key its model lacks."""
        if self.published is None or not self.s.config.get("published_api_only", True):
            return
        found = self.published.find(ctx.method, ctx.path)
        if found is None:
            self.s.unpublished.append(f"{ctx.method} {ctx.path}")
            report(NAME, f"not in Okta's published API: {ctx.method} {ctx.path}")
            raise not_found(ctx.path, "Resource")
        template, model = found
        if model is None or ctx.method not in ("POST", "PUT", "PATCH") or not ctx.raw_body.strip():
            return
        try:
            body = json.loads(ctx.raw_body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return  # the handler answers E0000003
        if not isinstance(body, dict):
            return
        unknown = sorted(set(body) - self.published.properties(model))
        if unknown:
            self.s.unpublished.append(f"{ctx.method} {template} body keys {unknown}")
            report(NAME, f"not in Okta's published {model}: {unknown} ({ctx.method} {ctx.path})")
            raise validation_error(unknown[0], [f"{k}: is not a property of {model}"
                                                for k in unknown])
