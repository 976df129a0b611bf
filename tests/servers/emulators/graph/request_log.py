"""The request log and the headers every answer carries."""

from __future__ import annotations

import json
from typing import Any, List, Tuple
from urllib.parse import parse_qs, quote, unquote

from .common import sha_full
from .context import Ctx


# ---------------------------------------------------------------------------------------
# HTTP plumbing
# ---------------------------------------------------------------------------------------


def _value_hashes(body: bytes) -> set:
    """sha256 of every string value (>= 8 chars) in a JSON or form body, so the log can later
    tell whether a request carried a SCIM token without ever storing the body."""
    out: set = set()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return out

    def walk(v: Any) -> None:
        if isinstance(v, str):
            if len(v) >= 8:
                out.add(sha_full(v))
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    try:
        walk(json.loads(text))
    except ValueError:
        for vs in parse_qs(text, keep_blank_values=True).values():
            for v in vs:
                walk(v)
    return out


def _contains_token(data: str, tokens: set) -> bool:
    for t in tokens:
        if t in data or json.dumps(t)[1:-1] in data or quote(t, safe="") in data:
            return True
    return False


def response_headers(ctx: Ctx) -> List[Tuple[str, str]]:
    """The headers the identity platform (login paths) or Graph put on every answer."""
    if "/oauth2/" in ctx.path and not ctx.path.startswith(("/v1.0/", "/beta/")):
        return [("Cache-Control", "no-store, no-cache"), ("Pragma", "no-cache"),
                ("x-ms-request-id", ctx.request_id)]
    return [("Cache-Control", "no-cache"), ("request-id", ctx.request_id),
            ("client-request-id", ctx.client_request_id),
            ("x-ms-ags-diagnostic", json.dumps(
                {"ServerInfo": {"DataCenter": "Emulator", "Slice": "E",
                                "Ring": "0", "ScaleUnit": "000",
                                "RoleInstance": "graph-emulator"}})),
            ("OData-Version", "4.0")]


class RequestLogMixin:
    """The request log (`GET /_control/log`): what each request was and how it was answered, and
    whether it carried a known SCIM token in its URL, headers or body (never the body itself)."""

    def log_request(self, ctx: Ctx, raw_path: str, request_headers: Any, body: bytes, t0: float,
                    status: int, headers: List[Tuple[str, str]], out: Any) -> None:
        with self.lock:
            tokens = set(self.s.scim_tokens)
            text = body.decode("utf-8", "replace")
            hdrs = "\n".join(f"{k}: {v}" for k, v in request_headers.items())
            tok = ctx.token or {}
            self.s.log_seq += 1
            self.s.log.append({
                "seq": self.s.log_seq, "time": round(t0, 3), "method": ctx.method,
                "path": ctx.path, "status": status, "request_id": ctx.request_id,
                "client_request_id": ctx.client_request_id,
                "error_code": (out.get("error", {}).get("code") if isinstance(out, dict)
                               and isinstance(out.get("error"), dict)
                               else out.get("error") if isinstance(out, dict) else None),
                "retry_after": next((v for k, v in headers if k == "Retry-After"), None),
                "client_id": tok.get("client_id"), "user_id": tok.get("user_id"),
                # Which client called (kiro-onboard names itself in every request).
                "user_agent": request_headers.get("User-Agent"),
                "scim_token_in_url": _contains_token(unquote(raw_path), tokens)
                or _contains_token(raw_path, tokens),
                "scim_token_in_headers": _contains_token(hdrs, tokens),
                "_body_hit": _contains_token(text, tokens),
                "_value_hashes": _value_hashes(body) if body else set(),
            })
