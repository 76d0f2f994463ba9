"""A loopback HTTP server that hands each request to the protocol layer."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from localcloud.drs import errors, protocol

# Operations of DRS's own clients (agents, failback clients), not in the public API model.
PRIVATE_OPERATIONS = {"/AssociateFailbackClientToRecoveryInstanceForDrs", "/CreateSourceServerForDrs"}


class Backend(protocol.Backend, Protocol):
    def private(self, operation: str, headers: dict[str, str], raw: bytes) -> dict[str, Any]: ...


class DrsHttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, backend: Backend, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self.backend = backend

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    server: DrsHttpServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        if self.command == "POST" and url.path in PRIVATE_OPERATIONS:
            response = self._private(url.path.strip("/"), raw)
        else:
            response = protocol.handle(self.server.backend, self.command, url.path, parse_qs(url.query), raw)
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    do_GET = do_PUT = do_DELETE = do_PATCH = do_POST

    def _private(self, operation: str, raw: bytes) -> protocol.Response:
        headers = {name.lower(): value for name, value in self.headers.items()}
        backend = self.server.backend
        try:
            body = backend.private(operation, headers, raw)
            response = protocol.Response(200, json.dumps(body).encode(), {"Content-Type": "application/json"})
        except errors.ApiError as exc:
            response = protocol.error_response(exc)
        backend.record(operation, response.status)
        return response

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the emulator keeps its own request log."""
