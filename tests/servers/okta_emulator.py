#!/usr/bin/env python3
"""The Okta emulator (management API, org and custom authorization servers): a launcher for the
package tests/servers/emulators/okta (what it serves and how: its __init__.py and OKTA_EMULATOR.md).

    .venv/bin/python tests/servers/okta_emulator.py --host 127.0.0.1 --port 0 [--exit-on-stdin-eof]
"""

import sys

from emulators.okta.server import main

if __name__ == "__main__":
    sys.exit(main())
