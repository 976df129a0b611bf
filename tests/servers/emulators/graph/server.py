"""The HTTP handler and the command line."""

from __future__ import annotations

import json
import sys
import time
from typing import List, Optional
from urllib.parse import parse_qs, urlsplit

from ..base.control import is_control_path
from ..base.http import JsonHandler, run, server_arguments
from ..base.serve import report, stop_on_signals
from .common import DESCRIPTION, JSON, NAME, is_guid
from .context import Ctx
from .core import EmulatorCore
from .emulator import Emulator
from .errors import GraphError
from .request_log import response_headers
from .state import BASE_CONFIG, State


class Handler(JsonHandler):
    emulator: Emulator = None  # type: ignore[assignment]
    name = NAME
    json_type = "application/json; charset=utf-8"
    html_type = "text/html; charset=utf-8"
    length_on_no_content = True

    def version_string(self) -> str:
        return "Microsoft-IIS/10.0"

    def answer(self, body: bytes) -> None:
        split = urlsplit(self.path)
        path = split.path
        base = self.request_base()
        em = self.emulator
        if is_control_path(path):
            status, out = em.control(self.command, path,
                                     parse_qs(split.query, keep_blank_values=True), body, base)
            self.send_answer(status, [("Cache-Control", "no-store")], out)
            return
        ctx = Ctx(self.command, path, split.query, body, self.headers, base)
        t0 = time.time()
        try:
            status, headers, out = em.handle(ctx)
        except Exception:  # a bug in the emulator: answer like Graph's 500
            import traceback
            traceback.print_exc(file=sys.stderr)
            status, headers, out = em.graph_error(ctx, GraphError(
                500, "generalException", "An unspecified error has occurred."))
        em.log_request(ctx, self.path, self.headers, body, t0, status, headers, out)
        self.send_answer(status, response_headers(ctx) + headers, out)


def main(argv: Optional[List[str]] = None) -> int:
    parser = server_arguments(DESCRIPTION)
    parser.add_argument("--tenant-id", default="72f988bf-0000-4000-8000-00000000e1d0",
                        help="tenant GUID (the Directory (tenant) ID)")
    parser.add_argument("--tenant-domain", default="example.onmicrosoft.com",
                        help="initial verified domain of the tenant")
    parser.add_argument("--config", action="append", default=[], metavar="KEY=JSON",
                        help="change a config default (kept across /_control/reset), e.g. "
                             "assignment_replication_seconds=2")
    parser.add_argument("--no-published-api-check", action="store_true",
                        help="serve requests msgraph-sdk does not publish (needs no msgraph-sdk)")
    args = parser.parse_args(argv)
    overrides: JSON = {}
    for item in args.config:
        key, _, raw = item.partition("=")
        try:
            overrides[key] = json.loads(raw)
        except ValueError:
            overrides[key] = raw
    if args.no_published_api_check:
        overrides["published_api_check"] = False
    if not is_guid(args.tenant_id):
        report(NAME, "--tenant-id must be a GUID")
        return 2

    stop = stop_on_signals()

    state = State(args.tenant_id.lower(), args.tenant_domain.lower())
    Handler.emulator = Emulator(state)
    try:
        BASE_CONFIG.update(Handler.emulator.set_config(overrides) if overrides else {})
    except ValueError as e:
        report(NAME, f"--config: {e}")
        return 2
    if state.config["published_api_check"]:
        try:  # load it now: a missing msgraph-sdk is a start-up error, not a 500 later
            from .published_api import PublishedApi, load_index
            EmulatorCore.published = PublishedApi(*load_index())
        except RuntimeError as e:
            report(NAME, str(e))
            return 2
    return run(Handler, args, stop)


if __name__ == "__main__":
    sys.exit(main())
