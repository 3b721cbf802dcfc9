"""The HTTP client: a ``requests`` session signing with ``CosAuth``, careful with live targets.

It rate-limits, retries transport failures and 429/503 with backoff (honouring ``Retry-After``),
keeps a request budget and a run deadline, bounds every request in time (connect, headers and
body together) and every body in size, and records each exchange with secrets redacted.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import socket
import threading
import time
from dataclasses import KW_ONLY, dataclass, field, replace

import requests
import urllib3
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .query import Query
from .signing import CosAuth, Credentials
from .xmlmodel import MAX_BODY

PATH = "/inventorytriggerjob"
REDACTED = "<redacted>"
_SECRET_HEADERS = ("x-cos-security-token", "x-ci-security-token")
_SECRET_PARAMS = re.compile(r"(?i)((?:q-signature|x-c(?:os|i)-security-token)=)[^&\s\"'<]+")
_UNREDACTED = re.compile(r"(?i)-(?:signature|security-token)=[^&\s\"'<]")
"""Finds any text ``_SECRET_PARAMS`` would change, 25 times faster: a literal comes first."""


class TargetError(Exception):
    """The target cannot be used: unreachable, too slow, or the budget is spent."""


class BudgetExceeded(TargetError):
    """The run may not send more: its request budget is spent or its time limit reached."""


PREVIEW = 128 * 1024
"""Body bytes kept of an exchange that outlives its request (a page of 100 jobs is ~66 KB)."""


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Text with signatures, tokens and any of ``secrets`` replaced by ``<redacted>``.

    Secrets shorter than 8 characters are left to the structural redaction (headers and
    parameters by name): replacing them everywhere would corrupt the text, not protect them.
    """
    if _UNREDACTED.search(text):  # the substitution alone took 1.7 ms over a page
        text = _SECRET_PARAMS.sub(rf"\1{REDACTED}", text)
    for secret in secrets:
        if secret and len(secret) >= 8:
            text = text.replace(secret, REDACTED)
    return text


@dataclass
class Exchange:
    """One request and its answer, as recorded (secrets already redacted)."""

    method: str
    url: str
    request_headers: dict[str, str]
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed: float
    retries: int = 0
    notes: list[str] = field(default_factory=list)
    size: int | None = None
    """Body bytes received, when more than ``body`` holds (a preview, or a body over the cap)."""
    request_body: bytes = b""  # what was sent (a create's XML); never holds a secret

    @property
    def body_size(self) -> int:
        return len(self.body) if self.size is None else self.size

    def preview(self, limit: int = PREVIEW) -> Exchange:
        """This exchange with at most ``limit`` body bytes: what a report may need, bounded."""
        if len(self.body) <= limit:
            return self
        return replace(self, body=self.body[:limit], size=self.body_size)

    def header(self, name: str) -> str | None:
        low = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == low), None)


DEFAULT_HEADERS = dict(requests.utils.default_headers())


@dataclass(eq=False)
class Client:
    """Signed requests to one target. ``auth=None`` on a call sends it unsigned."""

    base_url: str
    credentials: Credentials
    _: KW_ONLY
    host_header: str | None = None
    timeout: float = 10.0
    rate_limit: float | None = None
    max_requests: int | None = None
    retries: int = 2
    presign: bool = False
    max_duration: float | None = None

    def __post_init__(self) -> None:
        self.base_url = base_url_of(self.base_url)
        self.min_interval = 1.0 / self.rate_limit if self.rate_limit else 0.0
        self.deadline = time.monotonic() + self.max_duration if self.max_duration else None
        self.session = requests.Session()
        self.session.trust_env = False  # no proxies or netrc credentials from the environment
        for scheme in ("http://", "https://"):
            self.session.mount(scheme, _WatchedAdapter())
        self.requests_made = self.retries_made = 0
        self.stopped: str | None = None
        """Why the run may not send more (budget spent, time limit reached), once it happens."""
        self._lock = threading.Lock()
        self._next_slot = 0.0

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.credentials.secret_key, self.credentials.token) if s)

    def auth(self, credentials: Credentials | None = None, **kw: object) -> CosAuth:
        """A signer; keyword arguments go to ``CosAuth`` (``clock``, ``presign``, ...)."""
        kw.setdefault("presign", self.presign)
        return CosAuth(credentials or self.credentials, **kw)  # type: ignore[arg-type]

    def list(self, query: Query) -> Exchange:
        return self.request("GET", PATH, query.params())

    def request(
        self,
        method: str,
        path: str = PATH,
        params: list[tuple[str, str]] | None = None,
        *,
        auth: requests.auth.AuthBase | str | None = "default",
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
        prepare_hook: object = None,
    ) -> Exchange:
        """Send one request. ``prepare_hook(prepared)`` may alter it after signing (tampering)."""
        headers = {**DEFAULT_HEADERS, **(headers or {})}
        if self.host_header:
            headers["Host"] = self.host_header
        signer = self.auth() if auth == "default" else auth
        url = self.base_url + path
        req = requests.Request(method, url, headers, data=data, params=params or [], auth=signer)  # type: ignore[arg-type]
        prepared = req.prepare()  # not the session's: no cookies, no settings from the environment
        if callable(prepare_hook):
            prepared = prepare_hook(prepared) or prepared
        return self._send(prepared)

    def _send(self, prepared: requests.PreparedRequest) -> Exchange:
        attempt, notes = 0, []
        while True:
            self._take_slot()
            started = time.monotonic()
            limit = self.timeout
            if self.deadline is not None:
                limit = max(min(limit, self.deadline - started), 0.001)
            watch = _Watch(limit)
            _current.watch = watch
            try:
                resp = self.session.send(
                    prepared, timeout=limit, stream=True, allow_redirects=False
                )
                body, cut = _read_bounded(resp)
            except TRANSPORT_ERRORS as exc:
                reason = transport_reason(exc)
                if watch.fired or isinstance(exc, requests.Timeout):
                    reason = f"no complete answer within {limit:g} s (--timeout)"
                if attempt >= self.retries:
                    retried = f" (after {attempt} retries)" if attempt else ""
                    raise TargetError(
                        f"{prepared.method} {self._shown(prepared.url)}: {reason}{retried}"
                    ) from None
                resp, wait = None, min(0.2 * 2 ** (attempt + 1), 5)
            finally:
                _WATCHDOG.drop(watch)
                _current.watch = None
            if resp is not None:
                if resp.status_code not in (429, 503) or attempt >= self.retries:
                    return Exchange(
                        method=prepared.method or "GET",
                        url=self._shown(prepared.url),
                        request_headers={
                            k: header_shown(k, v, self.secrets) for k, v in prepared.headers.items()
                        },
                        status=resp.status_code,
                        headers=dict(resp.headers),
                        body=body,
                        elapsed=time.monotonic() - started,
                        retries=attempt,
                        notes=notes,
                        size=MAX_BODY + 1 if cut else None,
                        request_body=_bytes(prepared.body),
                    )
                wait = _retry_after(resp.headers.get("Retry-After"), 0.2 * 2 ** (attempt + 1))
                reason = f"HTTP {resp.status_code} (waited {wait:.1f}s)"
            notes.append(f"retry after {reason}")
            attempt += 1
            self.retries_made += 1
            time.sleep(wait)

    def _take_slot(self) -> None:
        with self._lock:
            if self.max_requests is not None and self.requests_made >= self.max_requests:
                self.stopped = self.stopped or f"the request budget of {self.max_requests} is spent"
                raise BudgetExceeded(self.stopped)
            now = time.monotonic()
            if self.deadline is not None and now >= self.deadline:
                self.stopped = self.stopped or (
                    f"the run's time limit of {self.max_duration:g} s (--max-duration) is reached"
                )
                raise BudgetExceeded(self.stopped)
            self.requests_made += 1
            wait = self._next_slot - now
            self._next_slot = max(now, self._next_slot) + self.min_interval
        if wait > 0:
            time.sleep(wait)

    def _shown(self, url: str | None) -> str:
        return redact(url or "", self.secrets)


def header_shown(name: str, value: str, secrets: tuple[str, ...] = ()) -> str:
    """A request header as reports show it: tokens hidden whole, ``Authorization`` with its
    parts but not its q-signature (which ``redact`` removes), any of ``secrets`` hidden."""
    return REDACTED if name.lower() in _SECRET_HEADERS else redact(value, secrets)


def _read_bounded(resp: requests.Response) -> tuple[bytes, bool]:
    """The body, at most ``MAX_BODY + 1`` bytes of it, and whether more was sent (never read)."""
    body = bytearray()
    for chunk in resp.iter_content(65536):
        body += chunk[: MAX_BODY + 1 - len(body)]
        if len(body) > MAX_BODY:
            resp.close()  # the rest is neither read nor kept
            return bytes(body), True
    return bytes(body), False


def base_url_of(url: str) -> str:
    """The base URL requests go under: ``…/inventorytriggerjob`` itself is accepted too."""
    return url.rstrip("/").removesuffix(PATH).rstrip("/")


# Whatever goes wrong below HTTP: refused, reset, cut short, garbage, bad chunks or encoding.
TRANSPORT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    requests.exceptions.InvalidHeader,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
)


def transport_reason(exc: BaseException) -> str:
    """One line: the exception's kind and its innermost cause (e.g. ``Connection refused``)."""
    inner: BaseException = exc
    for _ in range(10):
        nested = getattr(inner, "reason", None)
        if not isinstance(nested, BaseException):
            nested = next((a for a in inner.args if isinstance(a, BaseException)), None)
        if nested is None:
            break
        inner = nested
    text = inner.strerror if isinstance(inner, OSError) and inner.strerror else str(inner)
    text = text.rsplit("): ", 1)[-1].strip() or type(inner).__name__
    detail = f" ({type(inner).__name__})" if inner is not exc else ""
    return " ".join(f"{type(exc).__name__}{detail}: {text}".split())[:300]


class _Watch:
    """Aborts one request at its deadline: a timer shuts its sockets down, which wakes any read.

    urllib3's timeouts bound each socket operation; a server sending a byte a second never
    trips them. This bounds the whole request: connect, headers and body.
    """

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._conns: list = []
        self._lock = threading.Lock()
        _WATCHDOG.watch(self, time.monotonic() + seconds)

    def add(self, conn: object) -> None:
        with self._lock:
            self._conns.append(conn)
            fired = self.fired
        if fired:
            _shut(conn)

    def fire(self) -> None:
        with self._lock:
            self.fired = True
            conns = list(self._conns)
        for conn in conns:
            _shut(conn)


class _Watchdog:
    """One thread for every request's deadline (a thread each would cost more than a request)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._due: dict[_Watch, float] = {}
        self._thread: threading.Thread | None = None
        self._wake = 0.0  # when the thread wakes next, at the latest

    def watch(self, watch: _Watch, deadline: float) -> None:
        with self._cond:
            self._due[watch] = deadline
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
                self._thread.start()
            if deadline < self._wake:  # else it wakes in time anyway: no switch per request
                self._cond.notify()

    def drop(self, watch: _Watch) -> None:
        with self._cond:
            self._due.pop(watch, None)

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                late = [w for w, t in self._due.items() if t <= now]
                for watch in late:
                    del self._due[watch]
                    watch.fire()  # shuts sockets down: quick, and takes only the watch's lock
                if not late:
                    wait = min([1.0, *(t - now for t in self._due.values())])
                    self._wake = now + wait
                    self._cond.wait(wait)


_WATCHDOG = _Watchdog()
os.register_at_fork(after_in_child=_WATCHDOG.__init__)  # a forked child has no watchdog thread


def _shut(conn: object) -> None:
    sock = getattr(conn, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


_current = threading.local()  # the calling thread's _Watch, while it sends


class _Watched:
    """Mixin for urllib3 connections: each one in use joins the calling thread's watch."""

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        self._join_watch()

    def request(self, *args: object, **kw: object) -> None:
        self._join_watch()  # a kept-alive connection has its socket already
        super().request(*args, **kw)  # type: ignore[misc]

    def _join_watch(self) -> None:
        watch = getattr(_current, "watch", None)
        if watch is not None:
            watch.add(self)


def _watched(pool: type[HTTPConnectionPool]) -> type[HTTPConnectionPool]:
    """``pool`` with connections that join the calling thread's watch."""
    conn = type(f"_Watched{pool.ConnectionCls.__name__}", (_Watched, pool.ConnectionCls), {})
    return type(f"_Watched{pool.__name__}", (pool,), {"ConnectionCls": conn})


_POOLS = {pool.scheme: _watched(pool) for pool in (HTTPConnectionPool, HTTPSConnectionPool)}


class _WatchedAdapter(requests.adapters.HTTPAdapter):
    def init_poolmanager(self, *args: object, **kw: object) -> None:
        super().init_poolmanager(*args, **kw)  # type: ignore[arg-type]
        self.poolmanager.pool_classes_by_scheme = _POOLS


def _retry_after(value: str | None, default: float) -> float:
    try:
        return min(max(float(value), 0.0), 30.0) if value else default
    except ValueError:
        return default


def _bytes(body: bytes | str | None) -> bytes:
    return body.encode() if isinstance(body, str) else body or b""
