"""Evidence for people: exchanges as reports show them, and the reproductions themselves: a signed ``curl`` command or a presigned URL for one request
(``ci-conformance sign``), the ``sign`` line a report prints for a recorded request, and
``ci-conformance`` command lines.

Secrets never get here unredacted: exchanges are recorded redacted (a signature keeps its parts
but not ``q-signature``; tokens are hidden whole), and every file is written through ``redact``
with the run's own secrets as a last guard. Signing uses the project's one signer (``CosAuth``);
credentials come from the environment, and a security token is never printed: a command reads
it from ``$COS_SECURITY_TOKEN`` when it runs.
"""

import os
import shlex
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import requests

from .client import Exchange
from .results import ExchangeRecord
from .signing import (
    AUTH_FIELDS,
    TOKEN_HEADERS,
    Credentials,
    authorization_fields,
    key_window,
)
from .xmlmodel import XMLProblem, safe_parse

BODY_LIMIT = 4000


def pretty(body: str) -> str:
    """An XML body indented for people (parsed safely); anything else as it came."""
    try:
        root = safe_parse(body.encode("utf-8"))
    except XMLProblem:
        return body
    ET.indent(root)
    return ET.tostring(root, encoding="unicode")


def _window(parts: dict[str, str]) -> str:
    """``q-sign-time`` in UTC, for people ("" when it is not a window)."""
    if (span := key_window(parts.get("q-sign-time", ""))) is None:
        return ""
    at = [datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for t in span]
    return f"{at[0]} to {at[1]}"


def exchange_record(
    ex: Exchange, index: int | None = None, sent_by: str | None = None, limit: int = BODY_LIMIT
) -> ExchangeRecord:
    body = pretty(ex.body.decode("utf-8", "replace"))
    if len(body) > limit or ex.body_size > len(ex.body):
        body = body[:limit] + f"\n… (cut; {ex.body_size} bytes in all)"
    signature = signature_parts(ex.request_headers, ex.url)
    return ExchangeRecord(
        method=ex.method,
        url=ex.url,
        status=ex.status,
        request_headers=dict(ex.request_headers),
        headers=dict(ex.headers),
        body=body,
        elapsed_ms=round(ex.elapsed * 1000, 1),
        retries=ex.retries,
        retry_notes=list(ex.notes),
        signature=signature,
        signature_window=_window(signature),
        index=index,
        sent_by=sent_by,
    )


ENV = ("COS_SECRET_ID", "COS_SECRET_KEY", "COS_SECURITY_TOKEN")


def command(words: list[str], options: dict[str, Any]) -> str:
    """A ``ci-conformance`` command line, ``options`` (name: value, as a summary records them)
    as its flags."""
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        value = ",".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else value
        words = [*words, flag] if value is True else [*words, flag, str(value)]
    return shlex.join(["ci-conformance", *words])


def credentials_from_env() -> Credentials:
    sid, key, token = (os.environ.get(name) or None for name in ENV)
    if not (sid and key):
        raise ValueError("set COS_SECRET_ID and COS_SECRET_KEY (and COS_SECURITY_TOKEN) to sign")
    return Credentials(sid, key, token)


def window(text: str) -> tuple[int, int]:
    if (found := key_window(text)) is None:
        raise ValueError(f"--sign-time {text!r}: expected <start>;<end> in Unix seconds")
    return found


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


def without_token(url: str, names: frozenset[str] | tuple[str, ...] = TOKEN_HEADERS) -> str:
    """A URL without a security-token parameter (a presigned URL carries one), or without
    any parameter of ``names``."""
    parts = urlsplit(url)
    kept = [p for p in parts.query.split("&") if p and unquote(p.partition("=")[0]).lower() not in names]  # fmt: skip
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
    parts = signature_parts(ex.request_headers, ex.url)
    signed = set(parts.get("q-header-list", "").split(";")) - {"host", *TOKEN_HEADERS}
    headers = [f"{k}: {v}" for k, v in ex.request_headers.items() if k.lower() in signed]
    url = without_token(ex.url, (*AUTH_FIELDS, *TOKEN_HEADERS))
    words = ["ci-conformance", "sign", ex.method, url, *(w for h in headers for w in ("-H", h))]
    if "q-signature" in urlsplit(ex.url).query:
        words.append("--presign")
    if keep_time and parts.get("q-sign-time"):
        words += ["--sign-time", parts["q-sign-time"]]
    return shlex.join(words)
