"""Serving the emulator over real HTTP.

A small threaded WSGI gateway on ``http.server``: HTTP/1.1 keep-alive (werkzeug's development
server closes every connection), TCP_NODELAY, and each response written in one piece, so no
request waits on a delayed ACK. Malformed request lines also get an XML ``Error``.
"""

from __future__ import annotations

import io
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import unquote_to_bytes, urlsplit

from ..xmlmodel import render_error
from .app import Emulator

DRAIN_LIMIT = 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "tencent-ci"
    sys_version = ""
    timeout = 30  # an idle keep-alive connection is closed after this many seconds
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def _serve(self) -> None:
        if self.path.startswith("/"):
            path, _, query = self.path.partition("?")
        else:  # absolute-form request target
            parts = urlsplit(self.path)
            path, query = parts.path or "/", parts.query
        length = self.headers.get("Content-Length", "")
        body_len = int(length) if length.isdigit() else 0
        body = _Bounded(self.rfile, body_len)
        environ = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query,
            "SERVER_NAME": self.server.server_address[0],
            "SERVER_PORT": str(self.server.server_address[1]),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": body,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in self.headers.items():
            key = name.upper().replace("-", "_")
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[key] = value
            else:
                key = "HTTP_" + key
                environ[key] = f"{environ[key]},{value}" if key in environ else value
        started: list = []

        def start_response(status: str, headers: list, exc_info: object = None) -> None:
            started[:] = [status, headers]

        payload = b"".join(self.server.app(environ, start_response))
        status, headers = started
        if body.remaining > DRAIN_LIMIT or "Transfer-Encoding" in self.headers:
            self.close_connection = True
        else:
            body.read(body.remaining)
        if self.close_connection:
            headers = [*headers, ("Connection", "close")]
        head = f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
        self.wfile.write(head.encode("latin-1") + (b"" if self.command == "HEAD" else payload))

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _serve

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Request lines the parser refuses (bad version, too long) still get an XML Error."""
        self.close_connection = True
        code = code if 400 <= code < 500 else 400  # never a 5xx for what the client sent
        body = render_error("InvalidRequest", message or "malformed request", "-")
        head = (
            f"HTTP/1.1 {code} Bad Request\r\nContent-Type: application/xml\r\n"
            f"Content-Length: {len(body)}\r\nServer: tencent-ci\r\nConnection: close\r\n\r\n"
        )
        self.wfile.write(head.encode("latin-1") + body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: URLs may hold a presigned signature, which must never reach a log


class _Bounded(io.RawIOBase):
    """The request body: at most Content-Length bytes of the connection."""

    def __init__(self, raw: io.BufferedIOBase, length: int) -> None:
        self.raw, self.remaining = raw, length

    def read(self, size: int = -1) -> bytes:
        size = self.remaining if size is None or size < 0 else min(size, self.remaining)
        data = self.raw.read(size) if size else b""
        self.remaining -= len(data)
        return data


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, app: Emulator, host: str, port: int) -> None:
        self.app = app
        super().__init__((host, port), _Handler)


class EmulatorServer:
    """The emulator on a (by default free) loopback port, served from a thread.

    ``with EmulatorServer(Emulator(...)) as server: requests.get(server.url + ...)``
    """

    def __init__(self, app: Emulator | None = None, host: str = "127.0.0.1", port: int = 0):
        self.app = app if app is not None else Emulator()
        self._server = _Server(self.app, host, port)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> EmulatorServer:
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
