"""What the local test servers share: serving until told to stop, the same way.

Each server prints exactly one line, `READY <port>`, on stdout once it accepts connections, and
stops cleanly (exit 0) on SIGTERM or SIGINT. With `--exit-on-stdin-eof` it also stops when its
stdin closes: a test (or the demo) gives it a piped stdin, so if the parent dies without stopping
it, the pipe closes and the server goes too, and a crashed run leaves nothing behind.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    return stop


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


def serve(server: Any, stop: threading.Event, exit_on_stdin_eof: bool, name: str) -> int:
    """Runs a bound `socketserver` server until `stop` is set; the process's exit status."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    if exit_on_stdin_eof:
        stop_when_stdin_closes(stop)
    try:
        print(f"READY {server.server_address[1]}", flush=True)
    except BrokenPipeError:
        pass
    try:
        while not stop.wait(0.2):
            if not thread.is_alive():
                print(f"{name}: server thread died", file=sys.stderr, flush=True)
                return 1
    except KeyboardInterrupt:
        pass
    server.shutdown()
    server.server_close()
    return 0


def report(name: str, msg: str) -> None:
    """One line on stderr, prefixed with the server's name (never stdout: that is for READY)."""
    try:
        print(f"{name}: {msg}", file=sys.stderr, flush=True)
    except Exception:  # stderr closed
        pass
