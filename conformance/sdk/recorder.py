"""WSGI middleware around the emulator: records every raw request, shapes the responses.

The raw ``QUERY_STRING`` is kept byte for byte (``+`` and ``%20`` differ there), with the
headers, the body and the arrival and answer times (``Retry-After`` is judged from them). A
``Shape`` makes the responses harder to read; the emulator itself is left unchanged.
"""

import contextlib
import io
import secrets
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from werkzeug.datastructures import EnvironHeaders
from werkzeug.test import run_wsgi_app

from ..emulator.app import Emulator
from ..xmlmodel import DECLARATION, XMLProblem, render_error, safe_parse

MAX_RECORDED_BODY = 1024 * 1024


@dataclass(frozen=True)
class Shape:
    pretty: bool = False  # every XML body indented
    extras: bool = False  # unknown elements in Response, JobsDetail and Operation
    opaque_tokens: bool = False  # NextTokens needing encoding (scenarios.OpaqueTokens)
    slowdown: float = 0  # > 0: one request of each task gets 503 SlowDown, Retry-After: this
    slowdown_at: int = 1  # which request of the task gets it (1: the first; 3: page 3 of a walk)
    first_byte_delay: float = 0  # > 0: one response of each task waits this long
    delay_at: int = 1  # which request of the task waits (1: the first)
    # Error answers whose Error RequestId, Error TraceId, x-ci-request-id and x-ci-trace-id all
    # differ (a client surfaces the Error body's RequestId; README "Writing a driver").
    distinct_ids: bool = False


@dataclass
class Hit:
    """One request as it arrived, and the answer it got."""

    method: str
    path: str  # percent-decoded, as a server sees it
    raw_query: str  # byte for byte (as latin-1 text, like WSGI)
    headers: list[tuple[str, str]]
    body: bytes
    arrived: float  # time.monotonic()
    wall: float  # time.time() at arrival (for the signature window)
    status: int = 0
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    response_body: bytes = b""
    answered: float = 0.0
    injected: str = ""  # what the middleware answered itself (e.g. "slowdown")

    def header(self, name: str, pairs: list[tuple[str, str]] | None = None) -> str | None:
        pairs = self.headers if pairs is None else pairs
        return next((v for k, v in pairs if k.lower() == name.lower()), None)

    def response_header(self, name: str) -> str | None:
        return self.header(name, self.response_headers)


class Recorder:
    """``Recorder(app, shape)`` is a WSGI app. ``begin()`` starts a task, ``take()`` ends it."""

    def __init__(self, app: Callable, shape: Shape | None = None) -> None:
        self.app, self.shape, self._lock = app, shape or Shape(), threading.Lock()
        self._hits: list[Hit] = []
        self._seen = 0  # requests since begin()

    def begin(self) -> None:
        with self._lock:
            self._hits, self._seen = [], 0

    def take(self) -> list[Hit]:
        with self._lock:
            hits, self._hits = self._hits, []
        return hits

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        hit = _record(environ)
        shape = self.shape
        with self._lock:
            self._seen += 1
            number = self._seen  # 1-based, within the task
            self._hits.append(hit)
        if shape.slowdown and number == shape.slowdown_at:
            request_id, status = secrets.token_hex(12), "503 Service Unavailable"
            text = "Please reduce your request rate."
            body = render_error("SlowDown", text, request_id, Resource=hit.path, TraceId=request_id)
            headers = [("Content-Type", "application/xml"), ("Retry-After", f"{shape.slowdown:g}")]
            headers += [("Server", "tencent-ci"), ("x-ci-request-id", request_id)]
            hit.injected = "slowdown"
        else:
            chunks, status, response_headers = run_wsgi_app(self.app, environ, buffered=True)
            headers, body = response_headers.to_wsgi_list(), b"".join(chunks)
        code = int(status.split()[0])
        headers, body = self._reshape(code, hit.injected, headers, body)
        if shape.first_byte_delay and number == shape.delay_at:
            time.sleep(shape.first_byte_delay)
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(body))))
        hit.status = code  # once answered: not while the delay lasts
        hit.response_headers, hit.response_body = headers, body
        hit.answered = time.monotonic()
        start_response(status, headers)
        return [body]

    def _reshape(self, code: int, injected: str, headers: list, body: bytes) -> tuple[list, bytes]:
        """The answer as the shape makes it: an error's IDs (the Error's RequestId and TraceId, the
        x-ci-request-id and x-ci-trace-id headers) all different; the emulator's XML reshaped."""
        xml = any(k.lower() == "content-type" and "xml" in v for k, v in headers)
        reshape = xml and not injected and (self.shape.pretty or self.shape.extras)
        distinct = self.shape.distinct_ids and code >= 400
        if not (reshape or distinct):
            return headers, body
        try:
            root = safe_parse(body)
        except XMLProblem:
            return headers, body
        if distinct and root.tag == "Error":
            for element in [*root.findall("RequestId"), *root.findall("TraceId")]:
                element.text = Emulator.request_id()
            renamed = {h: Emulator.request_id() for h in ("x-ci-request-id", "x-ci-trace-id")}
            headers = [(k, v) for k, v in headers if k.lower() not in renamed]
            headers += list(renamed.items())
        elif not reshape:  # an error answer that is no Error document: left as it is
            return headers, body
        if reshape and self.shape.extras:
            _add_extras(root)
        if reshape and self.shape.pretty:
            ET.indent(root)
        return headers, (DECLARATION + ET.tostring(root, encoding="unicode")).encode("utf-8")


def _record(environ: dict) -> Hit:
    length, body = environ.get("CONTENT_LENGTH") or "", b""
    chunked = not length and environ.get("REQUEST_METHOD") in ("POST", "PUT")  # read to its end
    if chunked or (length.isdigit() and 0 < int(length) <= MAX_RECORDED_BODY):
        body = environ["wsgi.input"].read(MAX_RECORDED_BODY if chunked else int(length))
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
    path = environ.get("PATH_INFO", "/")
    with contextlib.suppress(UnicodeError):
        path = path.encode("latin-1").decode("utf-8")
    headers = list(EnvironHeaders(environ).items())
    return Hit(environ.get("REQUEST_METHOD", "GET"), path, environ.get("QUERY_STRING", ""), headers,
               body, arrived=time.monotonic(), wall=time.time())  # fmt: skip


def _add_extras(root: ET.Element) -> None:
    """Elements no client knows, at the start, middle and end of each level."""
    root.insert(1, ET.fromstring("<Extension><Version>2</Version><Hint>unknown to clients</Hint></Extension>"))  # fmt: skip
    for job in root.iter("JobsDetail"):
        job.insert(5, ET.fromstring("<Progress>100</Progress>"))
        job.append(ET.fromstring("<Labels><Label>x</Label><Label>y</Label></Labels>"))
        if (op := job.find("Operation")) is not None:
            op.append(ET.fromstring("<FutureOption>on</FutureOption>"))
