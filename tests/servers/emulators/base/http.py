"""The HTTP side every emulator shares: a threaded HTTP/1.1 server, request bodies (plain or
chunked), JSON and HTML answers. Each emulator subclasses `JsonHandler` and implements `answer`."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, List, Optional, Tuple, Type

from .serve import report, serve


class HtmlPage(str):
    """An answer body served as an HTML page (a sign-in page), not as JSON."""


class JsonHandler(BaseHTTPRequestHandler):
    """One request: `answer` gets its body and calls `send_answer` once."""

    protocol_version = "HTTP/1.1"
    # TCP_NODELAY: headers and body are separate writes, and with Nagle the body waits for the
    # client's delayed ACK of the headers (40 ms on Linux) on every keep-alive request, as in
    # fault_proxy.py. A transport detail of this server, not a behaviour of Graph or Okta.
    disable_nagle_algorithm = True
    verbose = False
    name = "emulator"
    json_type = "application/json"
    html_type = "text/html;charset=utf-8"
    # Whether a 204 still says `Content-Length: 0` (Graph does; Okta sends neither header).
    length_on_no_content = False

    def answer(self, body: bytes) -> None:
        raise NotImplementedError

    def log_message(self, fmt: str, *args: Any) -> None:
        if self.verbose:
            report(self.name, "%s %s" % (self.address_string(), fmt % args))

    def read_body(self) -> bytes:
        if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            chunks = []
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def request_base(self) -> str:
        """`http://host:port` as the client addressed this server."""
        host = self.headers.get("Host") or "%s:%d" % self.server.server_address[:2]
        return f"http://{host}"

    def send_answer(self, status: int, headers: List[Tuple[str, str]], body: Optional[Any]) -> None:
        page = isinstance(body, HtmlPage)
        data = (b"" if body is None or status == 204
                else body.encode("utf-8") if page else json.dumps(body).encode("utf-8"))
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", self.html_type if page else self.json_type)
        if status != 204 or self.length_on_no_content:
            self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    def _answer(self) -> None:
        try:
            body = self.read_body()
        except (ValueError, OSError):  # a body that is not what its headers announce
            self.close_connection = True
            return
        self.answer(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionResetError, BrokenPipeError):
            self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


def listen(host: str, port: int, handler: Type[JsonHandler]) -> Optional[Server]:
    """A server bound to host:port (0: a free port), or None after saying why on stderr."""
    try:
        return Server((host, port), handler)
    except OSError as e:
        report(handler.name, f"cannot listen on {host}:{port}: {e}")
        return None


def server_arguments(description: str) -> argparse.ArgumentParser:
    """The command line every emulator takes; each adds its own options."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    parser.add_argument("--exit-on-stdin-eof", action="store_true",
                        help="also shut down when stdin reaches EOF (parent went away)")
    parser.add_argument("--verbose", action="store_true", help="log requests to stderr")
    return parser


def run(handler: Type[JsonHandler], args: argparse.Namespace, stop: threading.Event) -> int:
    """Serves `handler` on --host/--port until `stop`; the process's exit status."""
    handler.verbose = args.verbose
    server = listen(args.host, args.port, handler)
    if server is None:
        return 2
    return serve(server, stop, args.exit_on_stdin_eof, handler.name)
