"""Reproductions a person can run: a signed ``curl`` command or a presigned URL for one request
(``ci-conformance sign``), and the ``sign`` line a report prints for a recorded request.

Signing uses the project's one signer (``CosAuth``). Credentials come from the environment; a
security token is never printed: the command reads it from ``$COS_SECURITY_TOKEN`` when it runs.
"""

from __future__ import annotations

import os
import shlex
from urllib.parse import parse_qsl, unquote, urlsplit

import requests

from .results import ExchangeRecord
from .signing import (
    AUTH_FIELDS,
    TOKEN_HEADERS,
    CosAuth,
    Credentials,
    authorization_fields,
    key_window,
)

ENV = ("COS_SECRET_ID", "COS_SECRET_KEY", "COS_SECURITY_TOKEN")


def credentials_from_env() -> Credentials:
    sid, key, token = (os.environ.get(name) or None for name in ENV)
    if not (sid and key):
        raise ValueError("set COS_SECRET_ID and COS_SECRET_KEY (and COS_SECURITY_TOKEN) to sign")
    return Credentials(sid, key, token)


def window(text: str) -> tuple[int, int]:
    found = key_window(text)
    if found is None:
        raise ValueError(f"--sign-time {text!r}: expected <start>;<end> in Unix seconds")
    return found


def sign_request(
    method: str,
    url: str,
    headers: list[tuple[str, str]],
    credentials: Credentials,
    *,
    presign: bool = False,
    sign_time: tuple[int, int] | None = None,
    expire: int = 600,
) -> requests.PreparedRequest:
    """The request signed now (valid ``expire`` seconds), or for the recorded ``sign_time``."""
    auth = CosAuth(credentials, expire=expire, presign=presign, window=sign_time)
    prepared = requests.Request(method.upper(), url, headers=dict(headers)).prepare()
    return auth(prepared)


def curl(prepared: requests.PreparedRequest) -> str:
    """A curl command for a signed request. A security token is not written out: the command
    reads it from ``$COS_SECURITY_TOKEN`` (in the header it was signed in, or, for a presigned
    URL, in ``x-cos-security-token``)."""
    words = [shlex.quote(w) for w in ("curl", "-sS", "-i", "-g", "-X", prepared.method or "GET")]
    token_header = None
    for name, value in prepared.headers.items():
        if name.lower() in TOKEN_HEADERS:
            token_header = name
        else:
            words += ["-H", shlex.quote(f"{name}: {value}")]
    url = prepared.url or ""
    if token_header is None and without_token(url) != url:
        token_header = TOKEN_HEADERS[0]
    if token_header:
        words += ["-H", f'"{token_header}: $COS_SECURITY_TOKEN"']
    words.append(shlex.quote(without_token(url)))
    return " ".join(words)


def without_token(url: str) -> str:
    """A URL without a security-token parameter (a presigned URL carries one)."""
    parts = urlsplit(url)
    kept = [
        p
        for p in parts.query.split("&")
        if p and unquote(p.partition("=")[0]).lower() not in TOKEN_HEADERS
    ]
    return parts._replace(query="&".join(kept)).geturl()


def signature_parts(request_headers: dict[str, str], url: str) -> dict[str, str]:
    """A recorded request's signature fields (header or presigned URL), without q-signature."""
    auth = next((v for k, v in request_headers.items() if k.lower() == "authorization"), "")
    params = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    fields = authorization_fields(params, {"Authorization": auth} if auth else {})
    return {k: fields[k] for k in AUTH_FIELDS if k in fields and k != "q-signature"}


def sign_line(ex: ExchangeRecord, keep_time: bool) -> str | None:
    """``ci-conformance sign …`` for a recorded exchange: run with the credentials in the
    environment, it prints a working curl command (``keep_time``: for the recorded window)."""
    if ex.method not in ("GET", "HEAD", "DELETE"):
        return None  # request bodies are not recorded
    url = urlsplit(ex.url)
    kept = [p for p in url.query.split("&") if p and not _signing_param(p)]
    parts = signature_parts(ex.request_headers, ex.url)
    signed = set(parts.get("q-header-list", "").split(";")) - {"host", *TOKEN_HEADERS}
    headers = [f"{k}: {v}" for k, v in ex.request_headers.items() if k.lower() in signed]
    words = ["ci-conformance", "sign", ex.method, url._replace(query="&".join(kept)).geturl()]
    words += [w for h in headers for w in ("-H", h)]
    if "q-signature" in url.query:
        words.append("--presign")
    if keep_time and parts.get("q-sign-time"):
        words += ["--sign-time", parts["q-sign-time"]]
    return shlex.join(words)


def _signing_param(part: str) -> bool:
    name = unquote(part.partition("=")[0]).lower()
    return name in AUTH_FIELDS or name in TOKEN_HEADERS
