"""Serving the emulator over real HTTP, with waitress.

Waitress gives HTTP/1.1 keep-alive, TCP_NODELAY on every connection, request limits and a pool
of worker threads. Requests its parser refuses (a bad request line, oversized headers or body,
an unsupported transfer coding) get the emulator's own XML ``Error`` instead of waitress's
plain-text page, always with a 4xx status.
"""

import logging
import threading
from http import HTTPStatus

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher

from .app import MAX_BODY, Emulator

IDENT = "tencent-ci"  # the vendor's Server header
# The parser's refusals, as the emulator's error codes; a 5xx is never right for a bad request.
# waitress's 500 (InternalServerError) is the app's own crash: it stays a 500, never a 400 that
# would pass for the client's fault (mutants that crashed the handler passed as 400s).
PARSER_CODES = {413: "EntityTooLarge", 431: "RequestHeaderSectionTooLarge", 500: "InternalError"}


class _XmlErrorTask(ErrorTask):
    def execute(self) -> None:
        error = self.request.error
        status = error.code if 400 <= error.code < 500 or error.code == 500 else 400
        code = PARSER_CODES.get(status, "InvalidRequest")
        message = (str(error.body).splitlines() or [HTTPStatus(status).phrase])[0][:200]
        app = self.channel.server.application
        if isinstance(app, Emulator):
            self.status, headers, body = app.refusal(status, code, message)
        else:  # any other WSGI app: waitress's own page, with a 4xx status
            self.status, headers, body = error.to_response(IDENT)
        self.response_headers.extend(h for h in headers if h[0].lower() != "content-length")
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class _Channel(HTTPChannel):
    error_task_class = _XmlErrorTask


class _Server(TcpWSGIServer):
    channel_class = _Channel


class EmulatorServer:
    """The emulator (or any WSGI app) on a (by default free) loopback port, served from a thread.

    ``with EmulatorServer(Emulator(...)) as server: requests.get(server.url + ...)``
    """

    def __init__(
        self, app: object | None = None, host: str = "127.0.0.1", port: int = 0, threads: int = 4
    ) -> None:
        self.app = app if app is not None else Emulator()
        adj = Adjustments(
            host=host,
            port=port,
            ident=IDENT,
            threads=threads,
            expose_tracebacks=False,
            ipv6=False,
            channel_timeout=30,  # an idle keep-alive connection is closed after this
            max_request_header_size=64 * 1024,  # the app refuses queries over 16 KiB itself
            max_request_body_size=4 * MAX_BODY,  # and bodies over MAX_BODY
            clear_untrusted_proxy_headers=False,  # the app sees every header, as sent
        )
        dispatcher = ThreadedTaskDispatcher()
        dispatcher.set_thread_count(adj.threads)
        self._server = _Server(
            self.app, map={}, dispatcher=dispatcher, adj=adj, sockinfo=adj.listen[0]
        )
        self._stopping = threading.Event()
        self._closing = threading.Lock()  # no close of the wake-up pipe while stop() writes to it
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        # waitress warns about queue depth and ignored HEAD bodies; errors still show
        logging.getLogger("waitress").setLevel(logging.ERROR)

    @property
    def url(self) -> str:
        host, port = self._server.socket.getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self) -> "EmulatorServer":
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve until ``stop()``; then close every connection, from this same thread."""
        server = self._server
        try:
            while not self._stopping.is_set():
                wasyncore.loop(timeout=1, map=server._map, use_poll=True, count=1)
        finally:
            server.task_dispatcher.shutdown(timeout=5)  # answers in progress end first: they
            with self._closing:  # wake the loop through the pipe that close_all closes
                wasyncore.close_all(server._map, ignore_all=True)

    def stop(self) -> None:
        with self._closing:
            self._stopping.set()
            if self._thread.is_alive():
                self._server.pull_trigger()  # wakes the loop
        self._thread.join(timeout=10)

    def __enter__(self) -> "EmulatorServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
