"""Routing, injected faults, the published-API check, and Graph's authentication and authorization."""

from __future__ import annotations

import re
import threading
import time
from typing import Any, Callable, List, Optional, Tuple
from urllib.parse import unquote

from ..base.control import take_fault
from .common import ADMIN_ROLES, GRAPH_APP_ID, JSON, iso_inner
from .context import Ctx, Response
from .errors import GraphError, OAuthError
from .state import State


DEFAULT_FAULT_TEXT = {
    400: ("Request_BadRequest", "Bad request."),
    # a token revoked (or expired early) between two calls (G concepts/errors.md)
    401: ("InvalidAuthenticationToken", "Lifetime validation failed, the token is expired."),
    403: ("Authorization_RequestDenied", "Insufficient privileges to complete the operation."),
    404: ("Request_ResourceNotFound", "Resource does not exist or one of its queried "
          "reference-property objects are not present."),
    409: ("Error_MsaAppDoesNotExist", "Application does not exist yet; retry as per the "
          "service design."),  # https://github.com/hashicorp/terraform-provider-azuread/blob/main/internal/services/applications/application_from_template_resource.go, https://learn.microsoft.com/en-us/graph/errors
    429: ("TooManyRequests", "Too many requests."),
    500: ("generalException", "An unspecified error has occurred."),
    502: ("BadGateway", "Bad gateway."),
    503: ("serviceNotAvailable", "The service is temporarily unavailable for maintenance or is "
          "overloaded. You may repeat the request after a delay, which may be specified in a "
          "Retry-After header."),
    504: ("GatewayTimeout", "The server, while acting as a proxy, did not receive a timely "
          "response from the upstream server it needed to access in attempting to complete the "
          "request."),
}



class EmulatorCore:
    def __init__(self, state: State) -> None:
        self.s = state
        self.lock = threading.RLock()
        self.routes: List[Tuple[str, "re.Pattern[str]", Callable[..., Response]]] = []
        self._register_routes()

    # -- routing ------------------------------------------------------------------------

    def route(self, method: str, pattern: str, fn: Callable[..., Response]) -> None:
        regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/()]+)", pattern) + "$")
        self.routes.append((method, regex, fn))

    def handle(self, ctx: Ctx) -> Response:
        with self.lock:
            fault = take_fault(self.s.faults, ctx.method, ctx.path, "remaining")
            if fault and not fault["commit"]:
                return self._fault_response(ctx, fault)
            try:
                resp = self._dispatch(ctx)
            except GraphError as e:
                resp = self.graph_error(ctx, e)
            except OAuthError as e:
                resp = (e.status, [], e.body(ctx.headers.get("client-request-id")))
            if fault:  # commit=True: the request took effect, the client sees the fault
                return self._fault_response(ctx, fault)
            return resp

    def graph_error(self, ctx: Ctx, e: GraphError) -> Response:
        body = {"error": {"code": e.code, "message": e.message,
                          "innerError": {"date": iso_inner(), "request-id": ctx.request_id,
                                         "client-request-id": ctx.client_request_id}}}
        return e.status, list(e.headers), body

    def _fault_response(self, ctx: Ctx, f: JSON) -> Response:
        st = f["status"]
        headers: List[Tuple[str, str]] = []
        if f.get("retry_after") is not None:
            headers.append(("Retry-After", str(f["retry_after"])))
        if not (ctx.path.startswith("/v1.0/") or ctx.path.startswith("/beta/")):
            err = "temporarily_unavailable" if st in (429, 503, 504) else "server_error"
            if st < 500 and st != 429:
                err = "invalid_request"
            e = OAuthError(st, err, 90033 if st in (429, 503) else 90000,
                           f.get("message") or "A transient error has occurred. Please try again.")
            return st, headers, e.body()
        code, msg = DEFAULT_FAULT_TEXT.get(st, ("UnknownError", "An error has occurred."))
        if "/instantiate" in ctx.path and st == 404:
            code, msg = "NotFound", "Graph call failed with httpCode=NotFound"  # https://github.com/hashicorp/terraform-provider-azuread/blob/main/internal/services/applications/application_from_template_resource.go
        e = GraphError(st, f.get("code") or code, f.get("message") or msg, headers)
        return self.graph_error(ctx, e)

    def _dispatch(self, ctx: Ctx) -> Response:
        path = ctx.path
        m = re.match(r"^/([^/]+)/oauth2/v2\.0/authorize$", path)
        if m:  # signin check: the authorization code flow (SigninMixin)
            return self.authorize_page(ctx, self.resolve_tenant(m.group(1)))
        m = re.match(r"^/([^/]+)/oauth2/v2\.0/(devicecode|token)$", path)
        if m:
            if ctx.method != "POST":
                raise OAuthError(400, "invalid_request", 900561,
                                 f"The endpoint only accepts POST, OPTIONS requests. Received a "
                                 f"{ctx.method} request.")
            tenant = self.resolve_tenant(m.group(1))
            form = self.parse_form(ctx)
            if m.group(2) == "devicecode":
                return self.devicecode(ctx, tenant, form)
            return self.token(ctx, tenant, form)
        m = re.match(r"^/(v1\.0|beta)(/.*)$", path)
        if not m:
            raise GraphError(400, "BadRequest", "Invalid version: " + path.split("/")[1]
                             if path.count("/") >= 1 and path != "/" else "Invalid version.")
        ctx.version = m.group(1)
        sub = unquote(m.group(2)).rstrip("/") or "/"
        if self.s.config["require_content_length"] and ctx.method in ("POST", "PUT", "PATCH") \
                and ctx.headers.get("Content-Length") is None \
                and (ctx.headers.get("Transfer-Encoding") or "").lower() != "chunked":
            # MGD PR #2262 / graph-rs-sdk #524: Graph's front end (HTTP.sys) refuses it.
            raise GraphError(411, "LengthRequired",
                             "HTTP Error 411. The request must be chunked or have a content "
                             "length.")
        self.authenticate(ctx)
        if ctx.version == "v1.0" and self.s.config["published_api_check"]:
            self.check_published(ctx, sub)
        matched_path = False
        for method, regex, fn in self.routes:
            mm = regex.match(sub)
            if not mm:
                continue
            matched_path = True
            if method != ctx.method:
                continue
            if ctx.version == "beta" and not getattr(fn, "beta_ok", False):
                # Only endpoints the tool needs on beta are served there.
                raise GraphError(400, "BadRequest",
                                 "The emulator serves /beta only for the synchronization restart "
                                 "action (see GRAPH_EMULATOR.md).")
            return fn(ctx, **mm.groupdict())
        if matched_path:
            if re.search(r"/synchronization/jobs/[^/]+/schema$", sub) and ctx.method == "PATCH":
                return self.patch_schema(ctx, sub)
            raise GraphError(405, "Request_BadRequest",
                             "Specified HTTP method is not allowed for the request uri.")
        seg = sub.strip("/").split("/")[-1] if sub != "/" else ""
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{seg}'.")

    published: Optional[Any] = None  # published_api.PublishedApi, loaded once

    def check_published(self, ctx: Ctx, sub: str) -> None:
        """Only what Microsoft publishes exists: a method + path the msgraph-sdk request builders
        do not generate (and that is not a documented exception) answers 400, as Graph answers
        an unknown segment."""
        if EmulatorCore.published is None:
            from .published_api import PublishedApi, load_index
            index, version = load_index()
            EmulatorCore.published = PublishedApi(index, version)
        pub = EmulatorCore.published
        methods = pub.methods(sub)
        if methods is None:
            seg = sub.strip("/").split("/")[-1] if sub != "/" else ""
            raise GraphError(400, "BadRequest", f"Resource not found for the segment '{seg}'. "
                             f"(emulator: not in Microsoft's API description, msgraph-sdk "
                             f"{pub.version})")
        if ctx.method not in methods:
            raise GraphError(400, "BadRequest", f"{ctx.method} is not published for '{sub}' "
                             f"(emulator: msgraph-sdk {pub.version} generates "
                             f"{', '.join(sorted(methods))}).")

    # ===================================================================================
    # Graph: authentication and authorization
    # ===================================================================================

    def authenticate(self, ctx: Ctx) -> None:
        hdr = [("WWW-Authenticate", 'Bearer realm="", authorization_uri='
                '"https://login.microsoftonline.com/common/oauth2/authorize", '
                f'client_id="{GRAPH_APP_ID}"')]
        auth = ctx.headers.get("Authorization") or ""
        if not auth.strip():
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.", hdr)
        scheme, _, tok = auth.partition(" ")
        if scheme.lower() != "bearer" or not tok.strip():
            raise GraphError(401, "InvalidAuthenticationToken",
                             "Access token validation failure. Invalid audience.", hdr)
        rec = self.s.access_tokens.get(tok.strip())
        if rec is None:
            raise GraphError(401, "InvalidAuthenticationToken",
                             "CompactToken parsing failed with error code: 80049217", hdr)
        if time.time() >= rec["exp"]:
            raise GraphError(401, "InvalidAuthenticationToken",
                             "Lifetime validation failed, the token is expired.", hdr)
        ctx.token = rec

    def require(self, ctx: Ctx, *groups: Tuple[str, ...], admin: bool = False) -> None:
        """Every group must be satisfied by at least one held permission (https://learn.microsoft.com/en-us/graph/api/applicationtemplate-instantiate?view=graph-rest-1.0).  For
        delegated tokens with admin=True the signed-in user also needs an admin role."""
        tok = ctx.token or {}
        held = set(tok.get("perms", []))
        for grp in groups:
            if not held.intersection(grp):
                raise GraphError(403, "Authorization_RequestDenied",
                                 "Insufficient privileges to complete the operation.")
        if admin and tok.get("kind") == "delegated":
            user = self.s.users.get(tok.get("user_id") or "")
            if user is None or not ADMIN_ROLES.intersection(user["_roles"]):
                raise GraphError(403, "Authorization_RequestDenied",
                                 "Insufficient privileges to complete the operation.")
