"""The test-control API every local server serves under one prefix, never under a vendor path:
seeding, configuration, injected faults, state dumps (each server's README section lists its
endpoints)."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Tuple

CONTROL_PREFIX = "/_control"


def is_control_path(path: str) -> bool:
    return path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/")


def take_fault(faults: List[Dict[str, Any]], method: str, path: str, counter: str) -> Optional[Dict[str, Any]]:
    """The first injected fault that still has uses left (`counter`) and matches the request's
    method and path prefix, with one use taken; None when none does."""
    for fault in faults:
        if fault[counter] <= 0:
            continue
        if fault.get("method") and fault["method"].upper() != method:
            continue
        if fault.get("path_prefix") and not path.startswith(fault["path_prefix"]):
            continue
        fault[counter] -= 1
        fault["fired"] = fault.get("fired", 0) + 1
        return fault
    return None


def control_body(raw: bytes) -> Any:
    """The JSON body of a control request ({} when empty); ValueError when it is not JSON."""
    if not raw.strip():
        return {}
    try:
        return json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise ValueError("body is not valid JSON") from None


def control_subpath(path: str) -> str:
    """`/_control/seed` → `/seed` (`/` for the prefix itself)."""
    return path[len(CONTROL_PREFIX):] or "/"


def authorize_page_to_approve(body: Any, state: Any) -> Tuple[Any, Optional[Tuple[int, Any]]]:
    """The body of `POST /_control/authorize/approve` {url, user}, which plays the browser at a
    sign-in page, with `url` defaulting to the authorize page opened last (`signin_last_authorize`
    in the emulator's state); or, when it cannot be served, the control answer to give instead."""
    if isinstance(body, dict) and body.get("user") and not body.get("url"):
        body = dict(body, url=state.__dict__.pop("signin_last_authorize", None))
        if not body["url"]:
            return body, (409, {"error": "no authorize page is open"})
    if not isinstance(body, dict) or not body.get("url") or not body.get("user"):
        return body, (400, {"error": "body needs url and user"})
    return body, None


class ControlApi:
    """`/_control/...` requests: the JSON body read, the endpoints every emulator has answered
    here (its state has `reset()`, `config`, `log` entries with a `seq` and `faults`), the rest
    by the emulator's `control_route` (None: no such endpoint). A control request that does not
    make sense is a 400 with the reason, never a 500."""

    lock: Any
    s: Any

    def control_route(self, key: Tuple[str, str], body: Any, query: Dict[str, List[str]],
                      base: str) -> Optional[Tuple[int, Any]]:
        raise NotImplementedError

    def render_log(self, entry: Dict[str, Any]) -> Dict[str, Any]:
        """A log entry as `GET /_control/log` shows it."""
        return entry

    def common_route(self, key: Tuple[str, str], query: Dict[str, List[str]]) -> Optional[Tuple[int, Any]]:
        if key == ("GET", "/health"):
            return 200, {"ok": True}
        if key == ("POST", "/reset"):
            self.s.reset()
            return 200, {"ok": True}
        if key == ("GET", "/log"):
            since = int((query.get("since") or ["0"])[0])
            return 200, [self.render_log(e) for e in self.s.log if e["seq"] > since]
        if key == ("DELETE", "/log"):
            self.s.log.clear()
            return 200, {"ok": True}
        if key == ("GET", "/config"):
            return 200, self.s.config
        if key == ("GET", "/faults"):
            return 200, self.s.faults
        if key == ("DELETE", "/faults"):
            self.s.faults.clear()
            return 200, {"ok": True}
        return None

    def control(self, method: str, path: str, query: Dict[str, List[str]], raw: bytes,
                base: str) -> Tuple[int, Any]:
        with self.lock:
            try:
                body = control_body(raw)
            except ValueError as e:
                return 400, {"error": str(e)}
            key = (method, control_subpath(path).rstrip("/") or "/")
            try:
                answer = self.common_route(key, query) or self.control_route(key, body, query, base)
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                return 400, {"error": str(e) or type(e).__name__}
            if answer is None:
                return 404, {"error": f"no control endpoint {method} {path}"}
            return answer
