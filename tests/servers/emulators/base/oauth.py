"""OAuth 2.0 error answers (RFC 6749 §5.2: `error` and `error_description`), which the
emulators' token and authorization endpoints raise; each vendor adds its own members."""

from __future__ import annotations

from typing import List, Tuple


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.headers: List[Tuple[str, str]] = []
