"""One request as the handlers see it, and helpers for rendered objects."""

from __future__ import annotations

import copy
import json
from typing import Any, Dict, List, Optional, Tuple

from .common import JSON
from .errors import malformed_body


# ---------------------------------------------------------------------------------------


class Ctx:
    def __init__(self, base: str, path: str, query: Dict[str, List[str]], raw_query: str,
                 body: bytes, headers: Any, method: str) -> None:
        self.base = base
        self.path = path
        self.query = query
        self.raw_query = raw_query
        self.raw_body = body
        self.headers = headers
        self.method = method
        self.principal: Optional[JSON] = None
        self.resp_headers: List[Tuple[str, str]] = []

    def q(self, name: str) -> Optional[str]:
        v = self.query.get(name)
        return v[0] if v else None

    def json_body(self, optional: bool = False) -> Any:
        if not self.raw_body.strip():
            if optional:
                return {}
            raise malformed_body()
        try:
            return json.loads(self.raw_body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise malformed_body()


def public(obj: JSON) -> JSON:
    """Drop internal keys (leading underscore except _links/_embedded)."""
    return {k: copy.deepcopy(v) for k, v in obj.items()
            if not k.startswith("_") or k in ("_links", "_embedded")}


def hint(href: str, *methods: str) -> JSON:
    return {"href": href, "hints": {"allow": list(methods)}}


def check_issuer_mode(mode: Any, config: JSON, causes: List[str]) -> None:
    # "issuerMode is visible if you have a custom URL domain configured or the Dynamic Issuer Mode
    # feature enabled" (Okta Management API, AuthorizationServer.issuerMode): without a custom
    # domain only ORG_URL is accepted. The wording of this refusal is not Okta's (UNCONFIRMED).
    if mode not in ("ORG_URL", "CUSTOM_URL", "DYNAMIC"):
        causes.append("issuerMode: must be ORG_URL, CUSTOM_URL or DYNAMIC")
    elif mode != "ORG_URL" and not config.get("custom_domain"):
        causes.append(f"issuerMode: {mode} needs a custom URL domain in the org")
