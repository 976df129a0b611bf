"""Stateful Microsoft Graph + Microsoft identity platform emulator for kiro-onboard tests.

Usage (the .venv of scripts/setup-test-env; tests/servers/graph_emulator.py is the launcher)::

    python3 tests/servers/graph_emulator.py --host 127.0.0.1 --port 0 \\
        [--tenant-id UUID] [--tenant-domain example.onmicrosoft.com] [--exit-on-stdin-eof]

``--port 0`` binds a free port.  Once the socket is listening the emulator prints exactly
one line ``READY <port>`` to stdout (flushed); nothing else ever goes to stdout.
SIGTERM / SIGINT stop it quietly with exit status 0.

One port serves both hosts the tool talks to:

* Microsoft Graph (``/v1.0/...``; ``/beta/...`` only where the tool needs it) -> set
  ``KIRO_ONBOARD_GRAPH_URL=http://127.0.0.1:<port>``
* the Microsoft identity platform (``/{tenant}/oauth2/v2.0/devicecode`` and ``/token``) -> set
  ``KIRO_ONBOARD_LOGIN_URL=http://127.0.0.1:<port>``

It is written from Microsoft's public documentation and code; comments cite the page each
behaviour rests on (the short keys, such as [E-how] or MGD, are listed in GRAPH_EMULATOR.md,
"Sources").  It is not a mock: requests are validated, state is kept, permissions are checked, and Graph's
unpleasant behaviour is reproduced (paging with @odata.nextLink, 429 + Retry-After,
404 right after create, scopes that must be disabled before removal, the schema that only
accepts a full PUT).  A control API under ``/_control/`` (never under ``/v1.0``, ``/beta``
or a tenant path) seeds data and injects faults.  See ``tests/servers/GRAPH_EMULATOR.md``.
"""
