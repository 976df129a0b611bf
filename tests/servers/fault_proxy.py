#!/usr/bin/env python3
"""Fault-injecting HTTP reverse proxy for the kiro-onboard integration tests.

Usage (any python3 >= 3.9, standard library only)::

    python3 tests/servers/fault_proxy.py --host 127.0.0.1 --port 0 \\
        --upstream http://127.0.0.1:5055

``--port 0`` binds a free ephemeral port.  Once the socket is listening the proxy
prints exactly one line ``READY <port>`` to stdout (flushed); nothing else ever goes
to stdout.  Errors (upstream unreachable, bugs) go to stderr; there is no per-request
logging.  SIGTERM / SIGINT stop it with exit status 0.  With ``--exit-on-stdin-eof`` it
also exits when its stdin is closed (the test process holding the pipe died).

Every request is forwarded unchanged (method, request target, headers incl. ``Host``,
body) to the upstream server and the upstream's status, headers and body are relayed
back, except that hop-by-hop headers are dropped, ``Expect`` is not forwarded, a
chunked request body is forwarded with ``Content-Length``, and every response carries
``Content-Length`` (HTTP/1.1 keep-alive towards the client, one fresh upstream
connection per request).  Rules posted to the control API under ``/_control/`` (never
forwarded) inject faults.  See ``tests/servers/FAULT_PROXY.md``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import struct
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import urlsplit
from xml.sax.saxutils import escape as xml_escape

from emulators.base.serve import serve, stop_on_signals  # tests/servers/emulators/base/serve.py

Headers = List[Tuple[str, str]]

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)

CONTROL_PREFIX = "/_control"

MATCH_KEYS = frozenset(
    {"target", "target_prefix", "method", "path", "path_prefix", "body_contains"}
)
RULE_KEYS = frozenset({"match", "times", "after", "fault"})
_AWS_ERROR_KEYS = {
    "status", "type", "message", "retry_after", "headers", "extra", "protocol", "message_key", "xml_namespace"
}
FAULT_KEYS: Dict[str, set] = {
    "status": {"status", "headers", "body"},
    "aws_throttle": set(_AWS_ERROR_KEYS),
    "aws_error": set(_AWS_ERROR_KEYS),
    "reset": set(),
    "delay": {"seconds", "forward_first"},
    "forward_then_status": {"status", "headers", "body"} | _AWS_ERROR_KEYS,
    "forward_then_reset": set(),
}

AWS_JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
AWS_PROTOCOLS = ("json", "rest-xml")
# Route 53 is the REST-XML service the tool calls; its errors carry this namespace.
ROUTE53_XML_NAMESPACE = "https://route53.amazonaws.com/doc/2013-04-01/"


def _err(msg: str) -> None:
    try:
        print(f"fault_proxy: {msg}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


# ---------------------------------------------------------------------------------------
# rules
# ---------------------------------------------------------------------------------------


class RuleError(ValueError):
    pass


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_status(v: Any, what: str) -> int:
    if not _is_int(v) or not 200 <= v <= 999:
        raise RuleError(f"{what} must be an integer HTTP status between 200 and 999")
    return v


def _check_headers(v: Any) -> Dict[str, str]:
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise RuleError("fault.headers must be an object of header name -> value")
    out = {}
    for k, val in v.items():
        if isinstance(val, bool) or not isinstance(val, (str, int, float)):
            raise RuleError(f"fault.headers[{k!r}] must be a string or number")
        sval = str(val)
        if any(c in sval or c in k for c in "\r\n"):
            raise RuleError(f"fault.headers[{k!r}] must not contain CR/LF")
        out[k] = sval
    return out


def validate_rule(raw: Any) -> Dict[str, Any]:
    """Check a posted rule and return it with defaults filled in (raises RuleError)."""
    if not isinstance(raw, dict):
        raise RuleError("rule must be a JSON object")
    unknown = set(raw) - RULE_KEYS
    if unknown:
        raise RuleError(f"unknown rule keys: {sorted(unknown)}")

    match = raw.get("match") or {}
    if not isinstance(match, dict):
        raise RuleError("match must be an object")
    unknown = set(match) - MATCH_KEYS
    if unknown:
        raise RuleError(f"unknown match keys: {sorted(unknown)} (allowed: {sorted(MATCH_KEYS)})")
    for k, v in match.items():
        if not isinstance(v, str):
            raise RuleError(f"match.{k} must be a string")
    match = dict(match)
    if "method" in match:
        match["method"] = match["method"].upper()

    times = raw.get("times")
    if times is not None and (not _is_int(times) or times < 0):
        raise RuleError("times must be a non-negative integer or null (unlimited)")
    after = raw.get("after", 0)
    if after is None:
        after = 0
    if not _is_int(after) or after < 0:
        raise RuleError("after must be a non-negative integer")

    fault = raw.get("fault")
    if not isinstance(fault, dict):
        raise RuleError("fault must be an object with a 'kind'")
    kind = fault.get("kind")
    if kind not in FAULT_KEYS:
        raise RuleError(f"unknown fault kind {kind!r} (allowed: {sorted(FAULT_KEYS)})")
    unknown = set(fault) - FAULT_KEYS[kind] - {"kind"}
    if unknown:
        raise RuleError(f"unknown keys for fault kind {kind!r}: {sorted(unknown)}")
    fault = dict(fault)

    if "headers" in fault:
        fault["headers"] = _check_headers(fault["headers"])
    if fault.get("retry_after") is not None and not _is_number(fault["retry_after"]):
        raise RuleError("fault.retry_after must be a number")
    if "extra" in fault and fault["extra"] is not None and not isinstance(fault["extra"], dict):
        raise RuleError("fault.extra must be an object (merged into the JSON error body)")
    if "message" in fault and not isinstance(fault["message"], str):
        raise RuleError("fault.message must be a string")
    if "type" in fault and (not isinstance(fault["type"], str) or not fault["type"]):
        raise RuleError("fault.type must be a non-empty string")
    if fault.get("protocol", "json") not in AWS_PROTOCOLS:
        raise RuleError(f"fault.protocol must be one of {list(AWS_PROTOCOLS)}")
    for key in ("message_key", "xml_namespace"):
        if key in fault and (not isinstance(fault[key], str) or not fault[key]):
            raise RuleError(f"fault.{key} must be a non-empty string")
    if fault.get("protocol") == "rest-xml" and set(fault) & {"message_key", "retry_after", "extra"}:
        raise RuleError("message_key/retry_after/extra apply to JSON bodies only, not protocol 'rest-xml'")

    if kind == "status":
        if "status" not in fault:
            raise RuleError("fault kind 'status' needs 'status'")
        _check_status(fault["status"], "fault.status")
    elif kind == "aws_throttle":
        _check_status(fault.setdefault("status", 400), "fault.status")
    elif kind == "aws_error":
        if "type" not in fault:
            raise RuleError("fault kind 'aws_error' needs 'type' (e.g. InternalServerException)")
        _check_status(fault.setdefault("status", 400), "fault.status")
    elif kind == "forward_then_status":
        _check_status(fault.setdefault("status", 503), "fault.status")
        if "type" not in fault and set(fault) & {"message", "retry_after", "extra", "protocol", "message_key",
                                                 "xml_namespace"}:
            raise RuleError("message/retry_after/extra need 'type' (AWS-shaped error body)")
        if "type" in fault and "body" in fault:
            raise RuleError("give either 'type' (AWS-shaped error body) or 'body', not both")
    elif kind == "delay":
        s = fault.get("seconds")
        if not _is_number(s) or s < 0:
            raise RuleError("fault kind 'delay' needs a non-negative number 'seconds'")
        if not isinstance(fault.setdefault("forward_first", False), bool):
            raise RuleError("fault.forward_first must be a boolean")

    return {"match": match, "times": times, "after": after, "fault": fault}


class Rule:
    def __init__(self, rule_id: int, spec: Dict[str, Any]) -> None:
        self.id = rule_id
        self.match: Dict[str, str] = spec["match"]
        self.times: Optional[int] = spec["times"]
        self.after: int = spec["after"]
        self.fault: Dict[str, Any] = spec["fault"]
        self.seen = 0  # matching requests that reached this rule while it had uses left
        self.fired = 0  # faults injected

    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def matches(self, req: Dict[str, Any]) -> bool:
        m = self.match
        target = req["target"] or ""
        if "target" in m and (req["target"] is None or target != m["target"]):
            return False
        if "target_prefix" in m and (
            req["target"] is None or not target.startswith(m["target_prefix"])
        ):
            return False
        if "method" in m and req["method"].upper() != m["method"]:
            return False
        if "path" in m and req["path"] != m["path"]:
            return False
        if "path_prefix" in m and not req["path"].startswith(m["path_prefix"]):
            return False
        if "body_contains" in m and m["body_contains"] not in req["body_text"]:
            return False
        return True

    def describe(self) -> Dict[str, Any]:
        return {
            "id": self.id,
            "match": self.match,
            "times": self.times,
            "after": self.after,
            "fault": self.fault,
            "seen": self.seen,
            "fired": self.fired,
        }


class State:
    """Rules and request log, guarded by one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rules: List[Rule] = []
        self.log: List[Dict[str, Any]] = []
        self.next_id = 1

    def add_rule(self, spec: Dict[str, Any]) -> int:
        with self.lock:
            rule = Rule(self.next_id, spec)
            self.next_id += 1
            self.rules.append(rule)
            return rule.id

    def clear_rules(self) -> int:
        with self.lock:
            n = len(self.rules)
            self.rules.clear()
            return n

    def delete_rule(self, rule_id: int) -> bool:
        with self.lock:
            for i, r in enumerate(self.rules):
                if r.id == rule_id:
                    del self.rules[i]
                    return True
            return False

    def list_rules(self) -> List[Dict[str, Any]]:
        with self.lock:
            return [json.loads(json.dumps(r.describe())) for r in self.rules]

    def begin(self, req: Dict[str, Any]) -> Tuple[Dict[str, Any], Optional[Rule]]:
        """Pick the rule for a request and append its log entry, atomically."""
        with self.lock:
            chosen = None
            for rule in self.rules:
                if rule.exhausted() or not rule.matches(req):
                    continue
                rule.seen += 1
                if rule.seen <= rule.after:
                    continue  # still skipping; later rules may apply
                rule.fired += 1
                chosen = rule
                break
            entry = {
                "time": time.time(),
                "target": req["target"],
                "method": req["method"],
                "path": req["path"],
                "query": req["query"],
                "fault": chosen.fault["kind"] if chosen else None,
                "rule": chosen.id if chosen else None,
                "status": None,
                "upstream_status": None,
                "error": None,
            }
            self.log.append(entry)
            return entry, chosen

    def update(self, entry: Dict[str, Any], **kw: Any) -> None:
        with self.lock:
            entry.update(kw)

    def get_log(self) -> List[Dict[str, Any]]:
        with self.lock:
            return [dict(e) for e in self.log]

    def clear_log(self) -> int:
        with self.lock:
            n = len(self.log)
            self.log.clear()
            return n


# ---------------------------------------------------------------------------------------
# synthesized responses
# ---------------------------------------------------------------------------------------


def _merge_headers(defaults: Headers, overrides: Dict[str, str]) -> Headers:
    lower = {k.lower() for k in overrides}
    out = [(k, v) for k, v in defaults if k.lower() not in lower]
    out.extend(overrides.items())
    return out


def aws_error_response(fault: Dict[str, Any], default_type: str, default_message: str
                       ) -> Tuple[int, Headers, bytes]:
    """An error exactly as AWS JSON-1.1 services send it (botocore/smithy read both the
    ``x-amzn-ErrorType`` header and the ``__type`` body member), or, with protocol
    ``rest-xml``, as Route 53 sends it."""
    if fault.get("protocol") == "rest-xml":
        return aws_xml_error_response(fault, default_type, default_message)
    err_type = fault.get("type") or default_type
    message_key = fault.get("message_key", "Message")
    body: Dict[str, Any] = {"__type": err_type, message_key: fault.get("message", default_message)}
    if fault.get("retry_after") is not None:
        body["RetryAfterSeconds"] = fault["retry_after"]
    body.update(fault.get("extra") or {})
    headers = [
        ("Content-Type", AWS_JSON_CONTENT_TYPE),
        ("x-amzn-RequestId", str(uuid.uuid4())),
        ("x-amzn-ErrorType", err_type),
    ]
    return (
        fault["status"],
        _merge_headers(headers, fault.get("headers") or {}),
        json.dumps(body).encode("utf-8"),
    )


def aws_xml_error_response(fault: Dict[str, Any], default_type: str, default_message: str
                           ) -> Tuple[int, Headers, bytes]:
    """A REST-XML error document as Route 53 sends it: ``<ErrorResponse><Error><Type>``
    Sender (4xx) or Receiver (5xx), ``<Code>``, ``<Message>``, then ``<RequestId>``."""
    code = fault.get("type") or default_type
    sender = "Sender" if fault["status"] < 500 else "Receiver"
    request_id = str(uuid.uuid4())
    namespace = fault.get("xml_namespace", ROUTE53_XML_NAMESPACE)
    body = (
        '<?xml version="1.0"?>\n'
        f'<ErrorResponse xmlns="{xml_escape(namespace)}"><Error><Type>{sender}</Type>'
        f"<Code>{xml_escape(code)}</Code><Message>{xml_escape(fault.get('message', default_message))}</Message>"
        f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    return fault["status"], _merge_headers(headers, fault.get("headers") or {}), body.encode("utf-8")


def plain_status_response(fault: Dict[str, Any]) -> Tuple[int, Headers, bytes]:
    body = fault.get("body")
    if body is None:
        data, ctype = b"", None
    elif isinstance(body, str):
        data, ctype = body.encode("utf-8"), "text/plain; charset=utf-8"
    else:
        data, ctype = json.dumps(body).encode("utf-8"), "application/json"
    headers: Headers = [("Content-Type", ctype)] if ctype else []
    return fault["status"], _merge_headers(headers, fault.get("headers") or {}), data


def synthesized_response(fault: Dict[str, Any]) -> Tuple[int, Headers, bytes]:
    kind = fault["kind"]
    if kind == "aws_throttle":
        # Route 53 (REST-XML) calls it `Throttling`; the JSON services `ThrottlingException`.
        default_type = "Throttling" if fault.get("protocol") == "rest-xml" else "ThrottlingException"
        return aws_error_response(fault, default_type, "Rate exceeded")
    if kind == "aws_error":
        return aws_error_response(fault, fault["type"], fault["type"])
    if "type" in fault:  # forward_then_status with an AWS-shaped body
        return aws_error_response(fault, fault["type"], fault["type"])
    return plain_status_response(fault)


# ---------------------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------------------


class ClientGone(Exception):
    """The client closed the connection or sent a truncated request."""


_CLIENT_ERRORS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, ClientGone)


class ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr: Tuple[str, int], upstream: str, upstream_timeout: float) -> None:
        u = urlsplit(upstream)
        if u.scheme != "http" or not u.hostname:
            raise ValueError(f"--upstream must be an http:// URL, got {upstream!r}")
        self.upstream_host = u.hostname
        self.upstream_port = u.port or 80
        self.upstream_base = u.path.rstrip("/")
        self.upstream_timeout = upstream_timeout
        self.state = State()
        super().__init__(addr, ProxyHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, _CLIENT_ERRORS):
            return  # the client went away: not an error
        _err(f"unexpected error while handling a request from {client_address}:")
        traceback.print_exc(file=sys.stderr)


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fault_proxy"
    sys_version = ""
    server: ProxyServer

    def setup(self) -> None:
        super().setup()
        try:  # headers and body are separate writes: avoid Nagle/delayed-ACK stalls
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    # --- logging: quiet unless something is wrong --------------------------------------

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        pass

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def log_error(self, format: str, *args: Any) -> None:
        _err(f"{self.address_string()}: " + (format % args))

    # --- methods -------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    # --- plumbing ------------------------------------------------------------------------

    def _read_exact(self, n: int) -> bytes:
        data = self.rfile.read(n)
        if len(data) != n:
            raise ClientGone()
        return data

    def _read_body(self) -> bytes:
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ClientGone()
                size = int(line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while True:  # trailers up to the empty line
                        t = self.rfile.readline(65537)
                        if not t:
                            raise ClientGone()
                        if t in (b"\r\n", b"\n"):
                            break
                    return b"".join(chunks)
                chunks.append(self._read_exact(size))
                self._read_exact(2)
        cl = self.headers.get("Content-Length")
        if cl is None:
            return b""
        n = int(cl)
        if n < 0:
            raise ValueError("negative Content-Length")
        return self._read_exact(n)

    def _write_response(self, status: int, headers: Headers, body: bytes,
                        reason: Optional[str] = None,
                        head_length: Optional[str] = None) -> None:
        """Send a complete response; Content-Length is always computed here."""
        no_body = self.command == "HEAD" or status in (204, 304) or status < 200
        self.send_response_only(status, reason)
        for k, v in headers:
            lk = k.lower()
            if lk in HOP_BY_HOP or lk == "content-length":
                continue
            self.send_header(k, v)
        if self.command == "HEAD" or status == 304:
            if head_length is not None:
                self.send_header("Content-Length", head_length)
        elif status != 204 and status >= 200:
            self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not no_body and body:
            self.wfile.write(body)

    def _send_synthesized(self, status: int, headers: Headers, body: bytes) -> None:
        if not any(k.lower() == "date" for k, _ in headers):
            headers = headers + [("Date", self.date_time_string())]
        self._write_response(status, headers, body, head_length=str(len(body)))

    def _send_json(self, status: int, obj: Any) -> None:
        self._send_synthesized(
            status, [("Content-Type", "application/json")], json.dumps(obj).encode("utf-8")
        )

    def _reset(self) -> None:
        """Drop the client connection with a TCP RST, without answering."""
        self.close_connection = True
        try:
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
        except OSError:
            pass
        try:
            self.rfile.close()  # releases the makefile() reference on the socket
        except OSError:
            pass
        try:
            self.connection.close()  # with SO_LINGER 0 this sends RST
        except OSError:
            pass

    def _forward(self, body: bytes) -> Tuple[int, str, Headers, bytes, Optional[str]]:
        """Send the request upstream on a fresh connection; return the full response."""
        srv = self.server
        target = self.path
        if "://" in target.split("?", 1)[0]:  # absolute-form request target
            u = urlsplit(target)
            target = (u.path or "/") + (f"?{u.query}" if u.query else "")
        target = srv.upstream_base + target

        conn_tokens = {
            t.strip().lower() for t in self.headers.get("Connection", "").split(",") if t.strip()
        }
        conn = http.client.HTTPConnection(
            srv.upstream_host, srv.upstream_port, timeout=srv.upstream_timeout
        )
        try:
            has_host = "Host" in self.headers
            conn.putrequest(self.command, target, skip_host=has_host, skip_accept_encoding=True)
            had_length = False
            for k, v in self.headers.items():
                lk = k.lower()
                if lk in HOP_BY_HOP or lk in conn_tokens or lk == "expect":
                    continue
                if lk == "content-length":
                    had_length = True
                    continue
                conn.putheader(k, v)
            if body or had_length:
                conn.putheader("Content-Length", str(len(body)))
            conn.putheader("Connection", "close")
            conn.endheaders(body if body else None)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.reason, resp.getheaders(), data, resp.getheader("Content-Length")
        finally:
            conn.close()

    def _forward_logged(self, body: bytes, entry: Dict[str, Any]
                        ) -> Optional[Tuple[int, str, Headers, bytes, Optional[str]]]:
        try:
            resp = self._forward(body)
        except (OSError, http.client.HTTPException) as e:
            msg = f"upstream error for {self.command} {self.path}: {type(e).__name__}: {e}"
            _err(msg)
            self.server.state.update(entry, error=msg)
            return None
        self.server.state.update(entry, upstream_status=resp[0])
        return resp

    def _relay(self, resp: Optional[Tuple[int, str, Headers, bytes, Optional[str]]],
               entry: Dict[str, Any]) -> None:
        if resp is None:
            self.server.state.update(entry, status=502)
            self._send_synthesized(
                502, [("Content-Type", "text/plain; charset=utf-8")],
                (entry["error"] or "upstream error").encode("utf-8"),
            )
            return
        status, reason, headers, data, length = resp
        self.server.state.update(entry, status=status)
        self._write_response(status, headers, data, reason=reason, head_length=length)

    # --- control API -------------------------------------------------------------------

    def _control(self, path: str, body: bytes) -> None:
        st = self.server.state
        method = self.command
        parts = [p for p in path[len(CONTROL_PREFIX):].split("/") if p]
        if parts == ["rules"]:
            if method == "POST":
                try:
                    raw = json.loads(body.decode("utf-8") or "null")
                    spec = validate_rule(raw)
                except (ValueError, UnicodeDecodeError) as e:
                    self._send_json(400, {"error": str(e)})
                    return
                self._send_json(200, {"id": st.add_rule(spec)})
            elif method == "DELETE":
                self._send_json(200, {"cleared": st.clear_rules()})
            elif method == "GET":
                self._send_json(200, st.list_rules())
            else:
                self._send_json(405, {"error": f"{method} not allowed on {path}"})
        elif len(parts) == 2 and parts[0] == "rules":
            if method != "DELETE":
                self._send_json(405, {"error": f"{method} not allowed on {path}"})
            elif parts[1].isdigit() and st.delete_rule(int(parts[1])):
                self._send_json(200, {"deleted": int(parts[1])})
            else:
                self._send_json(404, {"error": f"no rule {parts[1]}"})
        elif parts == ["log"]:
            if method == "GET":
                self._send_json(200, st.get_log())
            elif method == "DELETE":
                self._send_json(200, {"cleared": st.clear_log()})
            else:
                self._send_json(405, {"error": f"{method} not allowed on {path}"})
        elif parts == [] and method == "DELETE":
            self._send_json(200, {"rules_cleared": st.clear_rules(), "log_cleared": st.clear_log()})
        else:
            self._send_json(404, {"error": f"unknown control endpoint {method} {path}"})

    # --- main entry ----------------------------------------------------------------------

    def _handle(self) -> None:
        try:
            try:
                body = self._read_body()
            except ValueError:
                self.close_connection = True
                self._send_synthesized(
                    400, [("Content-Type", "text/plain; charset=utf-8")], b"bad request framing"
                )
                return
            self._dispatch(body)
        except _CLIENT_ERRORS:
            self.close_connection = True

    def _dispatch(self, body: bytes) -> None:
        split = urlsplit(self.path)
        path = split.path or "/"
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            self._control(path, body)
            return

        st = self.server.state
        req = {
            "target": self.headers.get("X-Amz-Target"),
            "method": self.command,
            "path": path,
            "query": split.query,
            "body_text": body.decode("utf-8", "replace"),
        }
        entry, rule = st.begin(req)
        fault = rule.fault if rule else None
        kind = fault["kind"] if fault else None

        if kind is None:
            self._relay(self._forward_logged(body, entry), entry)
        elif kind in ("status", "aws_throttle", "aws_error"):
            status, headers, data = synthesized_response(fault)
            st.update(entry, status=status)
            self._send_synthesized(status, headers, data)
        elif kind == "reset":
            st.update(entry, status=0)
            self._reset()
        elif kind == "delay":
            if fault.get("forward_first"):
                resp = self._forward_logged(body, entry)
                time.sleep(fault["seconds"])
            else:
                time.sleep(fault["seconds"])
                resp = self._forward_logged(body, entry)
            self._relay(resp, entry)
        elif kind == "forward_then_status":
            self._forward_logged(body, entry)
            status, headers, data = synthesized_response(fault)
            st.update(entry, status=status)
            self._send_synthesized(status, headers, data)
        elif kind == "forward_then_reset":
            self._forward_logged(body, entry)
            st.update(entry, status=0)
            self._reset()
        else:  # validate_rule makes this unreachable
            raise AssertionError(kind)


# ---------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    parser.add_argument("--upstream", required=True, help="e.g. http://127.0.0.1:5055")
    parser.add_argument(
        "--upstream-timeout", type=float, default=120.0,
        help="seconds to wait for the upstream (connect and each read)",
    )
    parser.add_argument(
        "--exit-on-stdin-eof", action="store_true",
        help="also shut down when stdin reaches EOF (parent went away)",
    )
    args = parser.parse_args(argv)

    stop = stop_on_signals()

    try:
        server = ProxyServer((args.host, args.port), args.upstream, args.upstream_timeout)
    except ValueError as e:
        _err(str(e))
        return 2
    except OSError as e:
        _err(f"cannot listen on {args.host}:{args.port}: {e}")
        return 2
    return serve(server, stop, args.exit_on_stdin_eof, "fault_proxy")


if __name__ == "__main__":
    sys.exit(main())
