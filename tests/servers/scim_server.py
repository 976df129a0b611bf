#!/usr/bin/env python3
"""scim2-server (https://pypi.org/project/scim2-server/, pinned in scripts/setup-test-env) started
the way every test server here starts: `--port 0` binds a free port and the one line
`READY <port>` on stdout says which, once connections are accepted.

scim2-server's own command line takes a fixed `--port` and announces the port it was given, not
the one it bound, so a caller would have to pick a free port first and bind it later (a race).
This launcher takes the same arguments (`--hostname`, `--port`, `--bearer-token`, ...) and prints
the bound port from the server itself. `--exit-on-stdin-eof` stops it when stdin closes.
`GET /_control/log` lists each request's method, path and User-Agent (not part of SCIM).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any, Dict, List

from emulators.base.serve import stop_when_stdin_closes  # tests/servers/emulators/base/serve.py

from scim2_server.testserver import cli


def logging_app(app: Any) -> Any:
    """The SCIM application, with a request log that tests read at `GET /_control/log`: method,
    path and `User-Agent` of every request (never a header that could carry the token)."""
    log: List[Dict[str, Any]] = []
    lock = threading.Lock()

    def wrapped(environ: Dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path == "/_control/log":
            with lock:
                body = json.dumps(log).encode("utf-8")
            start_response("200 OK", [("Content-Type", "application/json"),
                                      ("Content-Length", str(len(body)))])
            return [body]
        with lock:
            log.append({"method": environ.get("REQUEST_METHOD"), "path": path,
                        "user_agent": environ.get("HTTP_USER_AGENT")})
        return app(environ, start_response)
    return wrapped


def announcing_make_server(*args: Any, **kwargs: Any) -> Any:
    """scim2-server's `make_server` (werkzeug's: host, port, app), with the request log, then
    `READY <bound port>` on stdout."""
    if "app" in kwargs:
        kwargs["app"] = logging_app(kwargs["app"])
    else:
        args = (*args[:2], logging_app(args[2]), *args[3:])
    server = real_make_server(*args, **kwargs)
    print(f"READY {server.server_address[1]}", flush=True)
    return server


real_make_server = cli.make_server


def main() -> None:
    argv = sys.argv[1:]
    if "--exit-on-stdin-eof" in argv:
        argv.remove("--exit-on-stdin-eof")
        stop = threading.Event()
        stop_when_stdin_closes(stop)
        threading.Thread(target=lambda: (stop.wait(), os._exit(0)), daemon=True).start()
    sys.argv = ["scim2-server", *argv]
    cli.make_server = announcing_make_server
    # scim2-server writes its request log to stderr and one "Serving SCIM on ..." line to stdout
    # (callers read stdout only up to READY).
    cli.main()


if __name__ == "__main__":
    main()
