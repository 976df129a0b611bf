"""Okta's error answers (errorCode, errorSummary, errorCauses)."""

from __future__ import annotations

from typing import List, Optional, Tuple

from ..base.ids import random_string
from .common import JSON


# ---------------------------------------------------------------------------------------
# Errors (https://developer.okta.com/docs/reference/error-codes/)
# ---------------------------------------------------------------------------------------


class ApiError(Exception):
    """An Okta Management API error: {errorCode, errorSummary, errorLink, errorId, errorCauses}."""

    def __init__(self, status: int, code: str, summary: str,
                 causes: Optional[List[str]] = None,
                 headers: Optional[List[Tuple[str, str]]] = None,
                 link: Optional[str] = None) -> None:
        super().__init__(summary)
        self.status = status
        self.code = code
        self.summary = summary
        self.causes = causes or []
        self.headers = headers or []
        self.link = link or code

    def body(self) -> JSON:
        return {
            "errorCode": self.code,
            "errorSummary": self.summary,
            "errorLink": self.link,
            "errorId": "oae" + random_string(22),
            "errorCauses": [{"errorSummary": c} for c in self.causes],
        }


def validation_error(field: str, causes: List[str]) -> ApiError:
    return ApiError(400, "E0000001", f"Api validation failed: {field}", causes)


def not_found(ident: str, kind: str) -> ApiError:
    return ApiError(404, "E0000007", f"Not found: Resource not found: {ident} ({kind})")


def access_denied(headers: Optional[List[Tuple[str, str]]] = None) -> ApiError:
    return ApiError(403, "E0000006",
                    "You do not have permission to perform the requested action",
                    headers=headers)


def invalid_token() -> ApiError:
    return ApiError(401, "E0000011", "Invalid token provided")


def malformed_body() -> ApiError:
    return ApiError(400, "E0000003", "The request body was not well-formed.")


def invalid_search(detail: str) -> ApiError:
    return ApiError(400, "E0000031", "Invalid search criteria.", [detail])


def rate_limited() -> ApiError:
    return ApiError(429, "E0000047", "API call exceeded rate limit due to too many requests.")


# ---------------------------------------------------------------------------------------
# Only what Okta publishes exists
