"""One request as the handlers see it, and the shape of their answers."""

from __future__ import annotations

import json
from typing import Any, List, Optional, Tuple
from urllib.parse import parse_qs

from .common import JSON, new_guid
from .errors import GraphError


# ---------------------------------------------------------------------------------------
# Request context
# ---------------------------------------------------------------------------------------


class Ctx:
    def __init__(self, method: str, path: str, raw_query: str, body: bytes, headers: Any,
                 base: str) -> None:
        self.method = method
        self.path = path
        self.raw_query = raw_query
        self.query = parse_qs(raw_query, keep_blank_values=True)
        self.body = body
        self.headers = headers
        self.base = base
        self.version = "v1.0"
        self.token: Optional[JSON] = None
        self.request_id = new_guid()
        self.client_request_id = headers.get("client-request-id") or self.request_id

    def q(self, name: str) -> Optional[str]:
        v = self.query.get(name)
        return v[-1] if v else None

    def json_body(self) -> Any:
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if not self.body.strip():
            raise GraphError(400, "BadRequest", "Empty Payload. JSON content expected.")
        if ctype and ctype != "application/json":
            raise GraphError(415, "BadRequest",
                             f"A supported MIME type could not be found that matches the content "
                             f"type of the response. None of the supported type(s) "
                             f"'application/json' matches the content type '{ctype}'.")
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise GraphError(400, "BadRequest", "Unable to read JSON request payload. Please "
                             "ensure Content-Type header is set and payload is of valid JSON "
                             "format.") from None

    def odata(self, fragment: str) -> str:
        return f"{self.base}/{self.version}/$metadata#{fragment}"


Response = Tuple[int, List[Tuple[str, str]], Optional[Any]]


def no_content() -> Response:
    return 204, [], None
