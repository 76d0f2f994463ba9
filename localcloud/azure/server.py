"""A small HTTPS server on 127.0.0.1 that hands parsed requests to an application callable.

One request per connection (HTTP/1.0 style), so closing the listening socket makes the service
unreachable at once: no pooled keep-alive connection survives it. The port is kept, so the server
can listen again on the same address later.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
_HANDSHAKE_TIMEOUT = 10.0


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # percent-decoded, without the query string
    query: Mapping[str, str]
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    base_url: str  # "https://127.0.0.1:PORT"


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-serialisable; None sends no body
    headers: dict[str, str] = field(default_factory=dict)
    text: str | None = None  # a text/plain body instead of JSON
    raw: bytes | None = None  # a body of `content_type` instead of JSON (the blob service's XML)
    content_type: str = "application/xml"


App = Callable[[Request], Response]


class TlsHttpServer:
    """Serves `app` over TLS on 127.0.0.1 (plain HTTP when `context` is None, as the Instance Metadata
    Service speaks); `start()` after `stop()` listens again on the same port."""

    def __init__(self, app: App, context: ssl.SSLContext | None) -> None:
        self._app = app
        self._context = context
        self._port = 0
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def listening(self) -> bool:
        return self._httpd is not None

    def start(self) -> None:
        if self._httpd is not None:
            return
        httpd = _Server((HOST, self._port), self._app, self._context)
        self._port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"azure-emulator-{self._port}"
        )
        self._thread.daemon = True
        self._thread.start()

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()
        self._httpd = None
        self._thread = None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: App, context: ssl.SSLContext | None) -> None:
        super().__init__(address, _Handler)
        self.app = app
        self.context = context
        scheme = "https" if context is not None else "http"
        self.base_url = f"{scheme}://{HOST}:{self.server_address[1]}"

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.context is None:
            _Handler(request, client_address, self)
            return
        # TLS handshake here, in the per-connection thread, so a slow client cannot block accept().
        request.settimeout(_HANDSHAKE_TIMEOUT)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except OSError as exc:  # includes ssl.SSLError: e.g. a client that does not trust our CA
            log.debug("TLS handshake failed: %s", exc)
            return
        with tls:
            _Handler(tls, client_address, self)
            with contextlib.suppress(OSError):
                tls.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def _serve(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        request = Request(
            method=self.command,
            path=unquote(url.path),
            query=dict(parse_qsl(url.query, keep_blank_values=True)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=self.rfile.read(length) if length else b"",
            base_url=self.server.base_url,
        )
        try:
            response = self.server.app(request)
        except Exception as exc:  # a bug in the emulator: answer it visibly instead of hanging up
            log.exception("emulator failed on %s %s", request.method, request.path)
            response = Response(500, {"error": {"code": "EmulatorError", "message": repr(exc)}})
        if response.raw is not None:
            payload = response.raw
        elif response.text is not None:
            payload = response.text.encode()
        else:
            payload = b"" if response.body is None else json.dumps(response.body).encode()
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.raw is not None:
            self.send_header("Content-Type", response.content_type)
        elif response.text is not None:
            self.send_header("Content-Type", "text/plain; charset=utf-8")
        elif response.body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        if self.command == "HEAD":  # headers only; Content-Length is the resource's, as the app set it
            self.end_headers()
            return
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)
