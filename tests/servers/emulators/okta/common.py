"""Constants of the Okta emulator, ids and its clock."""

from __future__ import annotations

import email.utils
import time
from typing import Any, Dict, Optional

from ..base.ids import random_string


JSON = Dict[str, Any]

NAME = "okta_emulator"
DESCRIPTION = "Stateful Okta management API + Okta OAuth emulator for kiro-onboard tests."
ORG_ID = "00o1kiroemulat0r0g4"  # used in `orn` values only

# ---------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------

def new_id(prefix: str) -> str:
    """Okta-looking 20-character id: 3-character type prefix + 17 base62 characters."""
    return prefix + random_string(20 - len(prefix))


class Clock:
    """The server clock.  `skew` (seconds) shifts the `Date` header and every epoch the
    server reports (X-Rate-Limit-Reset, timestamps), so a client that compares
    X-Rate-Limit-Reset with its own clock instead of `Date` waits the wrong time
    (https://developer.okta.com/docs/reference/rl-best-practices/: measure against the server's Date)."""

    def __init__(self) -> None:
        self.skew = 0.0

    def now(self) -> float:
        return time.time() + self.skew

    def iso(self, t: Optional[float] = None) -> str:
        t = self.now() if t is None else t
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".000Z"

    def http_date(self) -> str:
        return email.utils.formatdate(self.now(), usegmt=True)
