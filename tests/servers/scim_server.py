#!/usr/bin/env python3
"""scim2-server (https://pypi.org/project/scim2-server/, pinned in scripts/setup-test-env) started
the way every test server here starts: `--port 0` binds a free port and the one line
`READY <port>` on stdout says which, once connections are accepted.

scim2-server's own command line takes a fixed `--port` and announces the port it was given, not
the one it bound, so a caller would have to pick a free port first and bind it later (a race).
This launcher takes the same arguments (`--hostname`, `--port`, `--bearer-token`, ...) and prints
the bound port from the server itself. `--exit-on-stdin-eof` stops it when stdin closes.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from emulators.base.serve import stop_when_stdin_closes  # tests/servers/emulators/base/serve.py

from scim2_server.testserver import cli


def announcing_make_server(*args: Any, **kwargs: Any) -> Any:
    """scim2-server's `make_server`, then `READY <bound port>` on stdout."""
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
