"""The error answers of Microsoft Graph and of the Microsoft identity platform."""

from __future__ import annotations

import json
import time
from typing import List, Optional, Tuple

from ..base.oauth import OAuthError as BaseOAuthError
from .common import JSON, new_guid


# ---------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------


class GraphError(Exception):
    """A Graph error: {"error": {"code", "message", "innerError": {...}}} (https://learn.microsoft.com/en-us/graph/errors)."""

    def __init__(self, status: int, code: str, message: str,
                 headers: Optional[List[Tuple[str, str]]] = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or []


def not_found(ident: str) -> GraphError:
    return GraphError(404, "Request_ResourceNotFound",
                      f"Resource '{ident}' does not exist or one of its queried reference-property "
                      "objects are not present.")


def bad_request(message: str, code: str = "Request_BadRequest") -> GraphError:
    return GraphError(400, code, message)


def sync_error(status: int, message: str, code: str = "UnknownError",
               sync_code: Optional[str] = None) -> GraphError:
    """Synchronization errors: https://learn.microsoft.com/en-us/graph/errors 'sync errors are often UnknownError with a JSON
    string from syncfabric inside message'."""
    if sync_code:
        message = json.dumps({"Message": message, "Code": sync_code, "Target": None,
                              "Details": None, "Innererror": None, "InnerError": None})
    return GraphError(status, code, message)


class OAuthError(BaseOAuthError):
    """An identity-platform error (https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-device-code: {error, error_description 'AADSTSnnnn: …',
    error_codes, timestamp, trace_id, correlation_id})."""

    def __init__(self, status: int, error: str, aadsts: int, description: str,
                 suberror: Optional[str] = None) -> None:
        super().__init__(status, error, description)
        self.aadsts = aadsts
        self.suberror = suberror

    def body(self, correlation_id: Optional[str] = None) -> JSON:
        trace = new_guid()
        corr = correlation_id or new_guid()
        ts = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
        out: JSON = {
            "error": self.error,
            "error_description": (f"AADSTS{self.aadsts}: {self.description}\r\nTrace ID: {trace}"
                                  f"\r\nCorrelation ID: {corr}\r\nTimestamp: {ts}"),
            "error_codes": [self.aadsts],
            "timestamp": ts,
            "trace_id": trace,
            "correlation_id": corr,
            "error_uri": f"https://login.microsoftonline.com/error?code={self.aadsts}",
        }
        if self.suberror:
            out["suberror"] = self.suberror
        return out
