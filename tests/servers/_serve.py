"""What the local test servers share: stopping when the process that started them goes away.

A test (or the demo) gives each server a piped stdin and `--exit-on-stdin-eof`; if the parent
dies without stopping it, the pipe closes and the server stops, so a crashed run leaves nothing
behind.
"""

from __future__ import annotations

import sys
import threading


def stop_when_stdin_closes(stop: threading.Event) -> None:
    """Sets `stop` once stdin reaches end of file (watched in a daemon thread)."""

    def watch() -> None:
        try:
            while sys.stdin.buffer.read(65536):
                pass
        except (OSError, ValueError):
            pass
        stop.set()

    threading.Thread(target=watch, daemon=True).start()
