#!/usr/bin/env python3
"""The Microsoft Graph + Microsoft identity platform emulator: a launcher for the package
tests/servers/emulators/graph (what it serves and how: its __init__.py and GRAPH_EMULATOR.md).

    .venv/bin/python tests/servers/graph_emulator.py --host 127.0.0.1 --port 0 [--exit-on-stdin-eof]
"""

import sys

from emulators.graph.server import main

if __name__ == "__main__":
    sys.exit(main())
