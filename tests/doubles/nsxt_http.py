"""Part of the NSX-T Manager API TEST DOUBLE (tests/doubles/nsxt.py), not NSX-T: its HTTP layer."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlparse

from tests.doubles.nsxt_schema import ApiError


class Handler(BaseHTTPRequestHandler):
    """HTTP on top of `Manager`: /api/v1/... is the API, /_double/... the test hooks."""

    manager = None  # the Manager, set per server by serve()
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 (http.server's names)
        self._serve("GET")

    def do_POST(self):  # noqa: N802
        self._serve("POST")

    def do_PUT(self):  # noqa: N802
        self._serve("PUT")

    def do_DELETE(self):  # noqa: N802
        self._serve("DELETE")

    def log_message(self, *args) -> None:  # quiet: tests read /_double/writes instead
        return None

    def _serve(self, method: str) -> None:
        url = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return self._send(400, ApiError(400, "The request body is not valid JSON").body())
        with self.manager.lock:
            try:
                if url.path.startswith("/_double/"):
                    status, payload = self._hook(method, url.path[len("/_double/"):], body)
                elif url.path.startswith("/api/v1/"):
                    status, payload = self.manager.handle(method, url.path[len("/api/v1"):], query, body,
                                                          self.headers.get("Authorization"))
                else:
                    raise ApiError(404, f"The requested URI: {url.path} could not be found.", 404)
            except ApiError as err:
                status, payload = err.status, err.body()
        self._send(status, payload)

    def _hook(self, method: str, name: str, body):
        if name == "writes" and method == "GET":
            return 200, self.manager.writes
        if name == "state" and method == "GET":
            return 200, self.manager.state()
        if name == "inject-412" and method == "POST":
            self.manager.inject.append(body or {})
            return 200, {"pending": len(self.manager.inject)}
        raise ApiError(404, f"no test hook {name}", 404)

    def _send(self, status: int, payload) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="NSX-T double"')
        self.end_headers()
        self.wfile.write(data)


