"""The HTTP client: a ``requests`` session signing with ``CosAuth``, careful with live targets.

It rate-limits, retries connection errors and 429/503 with backoff (honouring ``Retry-After``),
keeps a request budget, bounds every body, and records each exchange with secrets redacted.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field

import requests

from .query import Query
from .signing import CosAuth, Credentials
from .xmlmodel import MAX_BODY

PATH = "/inventorytriggerjob"
REDACTED = "<redacted>"
# Tokens are hidden whole; Authorization keeps its parts (q-ak, q-sign-time, q-key-time, the
# header and parameter lists) and loses only q-signature, which ``redact`` removes.
_SECRET_HEADERS = ("x-cos-security-token", "x-ci-security-token")
_SECRET_PARAMS = re.compile(r"(?i)((?:q-signature|x-c(?:os|i)-security-token)=)[^&\s\"'<]*")


class TargetError(Exception):
    """The target cannot be used: unreachable, too slow, or the budget is spent."""


class BudgetExceeded(TargetError):
    pass


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Text with signatures, tokens and any of ``secrets`` replaced by ``<redacted>``.

    Secrets shorter than 8 characters are left to the structural redaction (headers and
    parameters by name): replacing them everywhere would corrupt the text, not protect them.
    """
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

    def header(self, name: str) -> str | None:
        low = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == low), None)

    def to_dict(self, body_limit: int = 4000) -> dict:
        text = self.body[:body_limit].decode("utf-8", "replace")
        cut = len(self.body) > body_limit
        return {
            "method": self.method,
            "url": self.url,
            "request_headers": self.request_headers,
            "status": self.status,
            "headers": self.headers,
            "body": text + (f"\n… ({len(self.body)} bytes in all)" if cut else ""),
            "elapsed_ms": round(self.elapsed * 1000, 1),
            "retries": self.retries,
            "retry_notes": self.notes,
        }


class Client:
    """Signed requests to one target. ``auth=None`` on a call sends it unsigned."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        host_header: str | None = None,
        timeout: float = 10.0,
        rate_limit: float | None = None,
        max_requests: int | None = None,
        retries: int = 2,
        presign: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.host_header = host_header
        self.timeout = timeout
        self.min_interval = 1.0 / rate_limit if rate_limit else 0.0
        self.max_requests = max_requests
        self.retries = retries
        self.presign = presign
        self.session = requests.Session()
        self.session.trust_env = False  # no proxies or netrc credentials from the environment
        self.requests_made = 0
        self.retries_made = 0
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
        headers = dict(headers or {})
        if self.host_header:
            headers["Host"] = self.host_header
        signer = self.auth() if auth == "default" else auth
        req = requests.Request(
            method,
            self.base_url + path,
            params=params or [],
            headers=headers,
            data=data,
            auth=signer,
        )  # type: ignore[arg-type]
        prepared = self.session.prepare_request(req)
        if callable(prepare_hook):
            prepared = prepare_hook(prepared) or prepared
        return self._send(prepared)

    def _send(self, prepared: requests.PreparedRequest) -> Exchange:
        attempt, notes = 0, []
        while True:
            self._take_slot()
            started = time.monotonic()
            try:
                resp = self.session.send(
                    prepared, timeout=self.timeout, stream=True, allow_redirects=False
                )
                body = _read_bounded(resp)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt >= self.retries:
                    raise TargetError(
                        f"{prepared.method} {self._shown(prepared.url)}: "
                        f"{type(exc).__name__}: {redact(str(exc), self.secrets)[:300]}"
                    ) from None
                notes.append(f"retry after {type(exc).__name__}")
                attempt += 1
                self.retries_made += 1
                time.sleep(min(0.2 * 2**attempt, 5))
                continue
            elapsed = time.monotonic() - started
            if resp.status_code in (429, 503) and attempt < self.retries:
                wait = _retry_after(resp.headers.get("Retry-After"), 0.2 * 2 ** (attempt + 1))
                notes.append(f"retry after HTTP {resp.status_code} (waited {wait:.1f}s)")
                attempt += 1
                self.retries_made += 1
                time.sleep(wait)
                continue
            return Exchange(
                method=prepared.method or "GET",
                url=self._shown(prepared.url),
                request_headers={k: self._header_shown(k, v) for k, v in prepared.headers.items()},
                status=resp.status_code,
                headers=dict(resp.headers),
                body=body,
                elapsed=elapsed,
                retries=attempt,
                notes=notes,
            )

    def _take_slot(self) -> None:
        with self._lock:
            if self.max_requests is not None and self.requests_made >= self.max_requests:
                raise BudgetExceeded(f"the request budget of {self.max_requests} is spent")
            self.requests_made += 1
            now = time.monotonic()
            wait = self._next_slot - now
            self._next_slot = max(now, self._next_slot) + self.min_interval
        if wait > 0:
            time.sleep(wait)

    def _shown(self, url: str | None) -> str:
        return redact(url or "", self.secrets)

    def _header_shown(self, name: str, value: str) -> str:
        if name.lower() in _SECRET_HEADERS:
            return REDACTED
        return redact(value, self.secrets)


def _read_bounded(resp: requests.Response) -> bytes:
    chunks, size = [], 0
    for chunk in resp.iter_content(65536):
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY:
            resp.close()
            break
    return b"".join(chunks)


def _retry_after(value: str | None, default: float) -> float:
    try:
        return min(max(float(value), 0.0), 30.0) if value else default
    except ValueError:
        return default
