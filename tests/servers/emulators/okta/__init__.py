"""Stateful Okta emulator for the kiro-onboard integration tests.

Usage (the .venv python of scripts/setup-test-env: it needs `joserfc` and the pinned `okta` SDK
package, read as Okta's published API description; tests/servers/okta_emulator.py is the launcher)::

    .venv/bin/python tests/servers/okta_emulator.py --host 127.0.0.1 --port 0 \\
        [--no-api-access-management] [--api-token TOKEN]... [--exit-on-stdin-eof] \\
        [--search-lag-seconds S]

``--port 0`` binds a free port.  Once the socket is listening the emulator prints
exactly one line ``READY <port>`` to stdout (flushed); nothing else ever goes to
stdout.  SIGTERM / SIGINT stop it quietly with exit status 0.  The tool uses
``http://127.0.0.1:<port>`` as the Okta org URL.

It emulates the subset of the Okta Management API (``/api/v1/...``) and of the org
authorization server (``/oauth2/v1/token``) that kiro-onboard uses, written from
Okta's public documentation and the Okta Management OpenAPI spec ("[spec]"; comments cite the
page each behaviour rests on, and OKTA_EMULATOR.md, "Sources", lists the short keys).  It is not a mock: requests are
validated, state is kept, and Okta's unpleasant behaviour is reproduced (prefix ``q``,
Link paging, rate-limit headers and 429 ``E0000047``, PUT that replaces the whole app,
DELETE only on inactive apps, HTTP 200 ``UNKNOWN`` for provisioning connections it
cannot configure, DPoP required for service apps, verified signatures, eventually
consistent group ``search``, 404 for anything Okta does not publish).  A control API under ``/_control/`` (never under ``/api`` or
``/oauth2``) seeds data and injects faults.  See ``tests/servers/OKTA_EMULATOR.md``.
"""
