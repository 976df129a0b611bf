"""The HTTP handler and the command line."""

from __future__ import annotations

import sys
import time
from typing import List, Optional
from urllib.parse import parse_qs, urlsplit

from ..base.control import is_control_path
from ..base.http import JsonHandler, run, server_arguments
from ..base.ids import random_string
from ..base.serve import report, stop_on_signals
from .common import Clock, DESCRIPTION, NAME
from .context import Ctx
from .emulator import Emulator
from .errors import ApiError, rate_limited
from .limits import CONCURRENCY_LIMIT, DEFAULT_SEARCH_LAG
from .published_api import PublishedApi, load_published_api, okta_package_dir
from .state import State


# ---------------------------------------------------------------------------------------
# HTTP plumbing
# ---------------------------------------------------------------------------------------


class Handler(JsonHandler):
    name = NAME
    server_version = "okta-emulator"
    sys_version = ""
    emulator: Emulator = None  # type: ignore[assignment]

    def version_string(self) -> str:
        return "okta-emulator"

    def date_time_string(self, timestamp: Optional[float] = None) -> str:  # noqa: D401
        return self.emulator.clock.http_date()

    def answer(self, body: bytes) -> None:
        split = urlsplit(self.path)
        path = split.path
        query = parse_qs(split.query, keep_blank_values=True)
        base = self.request_base()
        em = self.emulator
        if is_control_path(path):
            status, out = em.control(self.command, path, query, body, base)
            self.send_answer(status, [("Cache-Control", "no-store")], out)
            return
        ctx = Ctx(base, path, query, split.query, body, self.headers, self.command)
        request_id = random_string(27)
        t0 = time.time()
        # Okta's concurrent rate limit: at most so many requests in flight per org (75 for
        # non-agent traffic, help.okta.com "API rate limits" / developer.okta.com
        # docs/reference/rl-additional-limits/ "Concurrent rate limits"); over it, 429 E0000047
        # with X-Rate-Limit-Limit 0.
        with em.inflight_lock:
            em.inflight += 1
            over = em.inflight > int(em.s.config.get("concurrency_limit") or CONCURRENCY_LIMIT)
        try:
            if over:
                e = rate_limited()
                status, headers, out = 429, [("X-Rate-Limit-Limit", "0"), ("X-Rate-Limit-Remaining", "0"),
                                             ("X-Rate-Limit-Reset", str(int(em.clock.now()) + 1))], e.body()
            else:
                status, headers, out = em.handle(ctx)
        except Exception:  # a bug in the emulator: report it like Okta's 500
            import traceback
            traceback.print_exc(file=sys.stderr)
            status, headers, out = 500, [], ApiError(500, "E0000009", "Internal Server Error").body()
        finally:
            with em.inflight_lock:
                em.inflight -= 1
        headers = headers + [("Cache-Control", "no-cache, no-store"), ("Pragma", "no-cache"),
                             ("Expires", "0")] if not any(
            k == "Cache-Control" for k, _ in headers) else headers
        with em.lock:
            em.s.log_seq += 1
            auth = (self.headers.get("Authorization") or "").split(" ")[0] or None
            em.s.log.append({
                "seq": em.s.log_seq, "time": round(t0, 3), "server_time": em.clock.iso(),
                "method": self.command, "path": path, "query": split.query, "status": status,
                "request_id": request_id, "auth": auth if auth in ("SSWS", "Bearer", "Basic", "DPoP") else (
                    "other" if auth else None),
                "error_code": out.get("errorCode") or out.get("error") if isinstance(out, dict) else None,
                "retry_for": self.headers.get("X-Okta-Retry-For"),
                "retry_count": self.headers.get("X-Okta-Retry-Count"),
                "user_agent": self.headers.get("User-Agent"),
            })
        self.send_answer(status, [("X-Okta-Request-Id", request_id)] + headers, out)


def main(argv: Optional[List[str]] = None) -> int:
    parser = server_arguments(DESCRIPTION)
    parser.add_argument("--no-api-access-management", action="store_true",
                        help="behave like an org without the API Access Management add-on")
    parser.add_argument("--api-token", action="append", default=[],
                        help="pre-register an SSWS token (SUPER_ADMIN) that survives /reset")
    parser.add_argument("--search-lag-seconds", type=float, default=DEFAULT_SEARCH_LAG,
                        help="how long a new group stays missing from `search` results "
                             "(eventually consistent, as Okta's List Groups documents)")
    args = parser.parse_args(argv)

    stop = stop_on_signals()

    pkg = okta_package_dir()
    if pkg is None:
        report(NAME, "the `okta` package (Okta's published API description) is not installed: "
             "run scripts/setup-test-env")
        return 2
    published = PublishedApi(load_published_api(pkg))

    clock = Clock()
    state = State(clock, not args.no_api_access_management, list(args.api_token),
                  args.search_lag_seconds)
    emulator = Emulator(state, clock, published)
    Handler.emulator = emulator
    return run(Handler, args, stop)


if __name__ == "__main__":
    sys.exit(main())
