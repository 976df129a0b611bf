"""OAuth scopes for Okta's API, and its rate limits."""

from __future__ import annotations

import math
import re
import time
from typing import Dict, Optional, Tuple

from .common import Clock


# ---------------------------------------------------------------------------------------

KNOWN_OKTA_SCOPES = {
    f"okta.{res}.{lvl}"
    for res in ("apps", "groups", "users", "authorizationServers", "appGrants", "roles",
                "policies", "clients", "logs", "orgs", "schemas", "userTypes")
    for lvl in ("read", "manage")
} - {"okta.logs.manage"}

_ALL_READ = {s for s in KNOWN_OKTA_SCOPES if s.endswith(".read")}
ROLE_PERMISSIONS: Dict[str, set] = {
    "SUPER_ADMIN": set(KNOWN_OKTA_SCOPES),
    "ORG_ADMIN": {"okta.apps.read", "okta.apps.manage", "okta.groups.read",
                  "okta.groups.manage", "okta.users.read", "okta.users.manage"},
    "APP_ADMIN": {"okta.apps.read", "okta.apps.manage", "okta.groups.read", "okta.users.read"},
    "API_ACCESS_MANAGEMENT_ADMIN": {"okta.authorizationServers.read",
                                    "okta.authorizationServers.manage", "okta.apps.read"},
    "READ_ONLY_ADMIN": set(_ALL_READ),
}


def scope_covers(held: set, needed: str) -> bool:
    """`.manage` includes `.read` (choice, see OKTA_EMULATOR.md)."""
    if needed in held:
        return True
    if needed.endswith(".read") and needed[: -len(".read")] + ".manage" in held:
        return True
    return False


# ---------------------------------------------------------------------------------------
# Rate limiting (https://developer.okta.com/docs/reference/rl-best-practices/)
# ---------------------------------------------------------------------------------------

DEFAULT_RATE_LIMIT = 600
DEFAULT_RATE_WINDOW = 60.0
# How far a DPoP proof's iat may be from now (RFC 9449 §11.1 leaves it to the server; Okta
# does not publish its window, so a few minutes either way).
DPOP_IAT_WINDOW = 300
# How long a DPoP-Nonce stays valid (Okta rotates nonces; the previous one is still accepted).
DPOP_NONCE_SECONDS = 600.0
# A new group's delay before `search` finds it (seconds; --search-lag-seconds, config
# search_lag_seconds).  Okta publishes no figure; seconds are what admins report.
DEFAULT_SEARCH_LAG = 5.0
CONCURRENCY_LIMIT = 75


class Bucket:
    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self.start: Optional[float] = None
        self.used = 0

    def _roll(self, mono: float) -> None:
        if self.start is None or mono >= self.start + self.window:
            self.start = mono
            self.used = 0

    def consume(self, clock: Clock) -> Tuple[bool, int, int]:
        mono = time.monotonic()
        self._roll(mono)
        ok = self.used < self.limit
        if ok:
            self.used += 1
        return ok, self.limit - self.used, self.reset_epoch(clock, mono)

    def peek(self, clock: Clock) -> Tuple[int, int]:
        mono = time.monotonic()
        self._roll(mono)
        return self.limit - self.used, self.reset_epoch(clock, mono)

    def reset_epoch(self, clock: Clock, mono: float) -> int:
        assert self.start is not None
        return int(math.ceil(clock.now() + (self.start + self.window - mono)))


def bucket_name(path: str) -> str:
    if path == "/oauth2/v1/token":
        return "oauth2_token"
    if path.startswith("/oauth2/"):
        return "oauth2"
    m = re.match(r"^/api/v1/([A-Za-z]+)", path)
    if m and m.group(1) in ("apps", "groups", "users", "authorizationServers"):
        return m.group(1)
    return "other"
