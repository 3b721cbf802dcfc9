"""COS request signature, ``q-sign-algorithm=sha1`` (API-NOTES §4).

One implementation, used by the suite's client (``CosAuth``) and by the emulator's verifier
(``verify``). Names are encoded first and lower-cased after, as the official Python SDK does, so
non-ASCII names sign byte for byte like it.
"""

import enum
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import KW_ONLY, dataclass
from urllib.parse import quote, unquote, urlsplit

import requests

ALGORITHM = "sha1"
MAX_SKEW = 15 * 60
# The headers the official SDK signs, besides every x-cos-* and x-ci-* header.
SDK_HEADERS = frozenset(
    {
        "cache-control",
        "content-disposition",
        "content-encoding",
        "content-type",
        "content-md5",
        "content-length",
        "expect",
        "expires",
        "host",
        "if-match",
        "if-modified-since",
        "if-none-match",
        "if-unmodified-since",
        "origin",
        "range",
        "transfer-encoding",
        "pic-operations",
    }
)
TOKEN_HEADERS = ("x-cos-security-token", "x-ci-security-token")
AUTH_FIELDS = (
    "q-sign-algorithm",
    "q-ak",
    "q-sign-time",
    "q-key-time",
    "q-header-list",
    "q-url-param-list",
    "q-signature",
)


def encode(text: str) -> str:
    """UTF-8 percent-encoding; only ``A-Z a-z 0-9 - _ . ~`` stay as they are."""
    return quote(text.encode("utf-8"), safe="-_.~")


def canonical(pairs: Iterable[tuple[str, str]]) -> tuple[str, str]:
    """``(name list, k=v string)`` for parameters or headers, sorted by encoded name."""
    items = sorted((encode(k).lower(), encode(v)) for k, v in pairs)
    return ";".join(k for k, _ in items), "&".join(f"{k}={v}" for k, v in items)


@dataclass(frozen=True)
class Signature:
    """Every intermediate value, so tests can compare each with the published vectors."""

    key_time: str
    sign_key: str
    url_param_list: str
    header_list: str
    http_string: str
    http_string_sha1: str
    string_to_sign: str
    signature: str

    def authorization(self, secret_id: str) -> str:
        return "&".join(f"{k}={v}" for k, v in self.fields(secret_id).items())

    def fields(self, secret_id: str) -> dict[str, str]:
        lists = self.header_list, self.url_param_list
        values = (ALGORITHM, secret_id, self.key_time, self.key_time, *lists, self.signature)
        return dict(zip(AUTH_FIELDS, values, strict=True))


def key_time(start: int, end: int) -> str:
    return f"{start};{end}"


def sign(
    secret_key: str,
    method: str,
    path: str,
    params: Iterable[tuple[str, str]],
    headers: Iterable[tuple[str, str]],
    key_time: str,
    sign_time: str | None = None,
) -> Signature:
    """Sign a request whose ``path`` is already percent-decoded."""
    param_list, http_params = canonical(params)
    header_list, http_headers = canonical(headers)
    http_string = f"{method.lower()}\n{path}\n{http_params}\n{http_headers}\n"
    sign_key = _hmac(secret_key, key_time)
    return signed(key_time, sign_key, param_list, header_list, http_string, sign_time or key_time)


def signed(
    key_time: str,
    sign_key: str,
    param_list: str,
    header_list: str,
    http_string: str,
    sign_time: str,
) -> Signature:
    """The signature of an HTTP string, with the key derived for ``key_time``."""
    digest = hashlib.sha1(http_string.encode("utf-8")).hexdigest()
    string_to_sign = f"{ALGORITHM}\n{sign_time}\n{digest}\n"
    signature = _hmac(sign_key, string_to_sign)
    return Signature(
        key_time, sign_key, param_list, header_list, http_string, digest, string_to_sign, signature
    )


def _hmac(key: str, msg: str) -> str:
    return hmac.new(key.encode("utf-8"), msg.encode("utf-8"), hashlib.sha1).hexdigest()


def split_query(raw: str) -> list[tuple[str, str]]:
    """Decode a raw query string into ordered pairs (``+`` is a space, as requests sends it).

    Raises ``ValueError`` on bad percent-encoding or bytes that are not UTF-8.
    """
    return [tuple(map(_unquote_strict, p.partition("=")[::2])) for p in raw.split("&") if p]


def _unquote_strict(text: str) -> str:
    text = text.replace("+", " ")
    bad = re.search(r"%(?![0-9a-fA-F]{2})", text)
    if bad:
        raise ValueError(f"bad percent-encoding near {text[bad.start() : bad.start() + 3]!r}")
    return unquote(text, errors="strict")


@dataclass(frozen=True)
class Credentials:
    secret_id: str
    secret_key: str
    token: str | None = None

    def __repr__(self) -> str:  # never show the key or the token
        return f"Credentials(secret_id={self.secret_id!r}, secret_key=***, token=***)"


@dataclass(eq=False)
class CosAuth(requests.auth.AuthBase):
    """Signs a prepared request: host, every query parameter, content and x-cos/x-ci headers.

    ``presign=True`` puts the signature in the query string instead of ``Authorization``.
    ``sign_host`` lets a caller sign a Host other than the URL's (a proxy, an IP endpoint).
    ``window`` signs for these start and end seconds instead of its clock's (now - 60 s, then
    ``expire`` seconds).
    """

    credentials: Credentials
    _: KW_ONLY
    clock: Callable[[], float] = time.time
    expire: int = 10000
    presign: bool = False
    sign_host: str | None = None
    token_header: str = "x-ci-security-token"
    window: tuple[int, int] | None = None

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        creds = self.credentials
        url = urlsplit(r.url or "")
        host = self.sign_host or r.headers.get("Host") or url.hostname or ""
        if creds.token and not self.presign:
            r.headers[self.token_header] = creds.token
        headers = [("host", host)]
        headers += [
            (k, v)
            for k, v in r.headers.items()
            if (low := k.lower()) != "host"
            and (low in SDK_HEADERS or low.startswith(("x-cos-", "x-ci-")))
        ]
        params = split_query(url.query)
        now = int(self.clock())
        kt = key_time(*self.window) if self.window else key_time(now - 60, now + self.expire)
        sig = sign(
            creds.secret_key, r.method or "GET", unquote(url.path or "/"), params, headers, kt
        )
        if self.presign:
            extra = sig.fields(creds.secret_id)
            if creds.token:
                extra[TOKEN_HEADERS[0]] = creds.token
            query = "&".join(f"{k}={encode(v)}" for k, v in extra.items())
            r.url = url._replace(query=f"{url.query}&{query}" if url.query else query).geturl()
        else:
            r.headers["Authorization"] = sig.authorization(creds.secret_id)
        return r


class Reason(enum.Enum):
    """Why a signature was refused; the emulator maps each to a vendor error code."""

    MISSING = "no Authorization header and no presigned query"
    MALFORMED = "Authorization is malformed"
    UNSUPPORTED_ALGORITHM = "q-sign-algorithm is not sha1"
    UNKNOWN_SECRET_ID = "the SecretId is unknown"
    EXPIRED = "the signature window has ended"
    NOT_YET_VALID = "the signature window starts more than 15 minutes ahead"
    ABSENT_SIGNED_PART = "a signed parameter or header is absent from the request"
    MISMATCH = "the signature does not match"
    TOKEN_MISSING = "the temporary credentials' security token is missing"
    TOKEN_WRONG = "the security token does not match the credentials"


@dataclass(frozen=True)
class Verdict:
    secret_id: str | None = None
    refusal: Reason | None = None
    detail: str = ""

    @property
    def accepted(self) -> bool:
        return self.refusal is None


def key_window(text: str) -> tuple[int, int] | None:
    """``<start>;<end>`` in Unix seconds (a q-sign-time or q-key-time); ``None`` if malformed."""
    start, sep, end = text.partition(";")
    if not sep or not start.isdigit() or not end.isdigit() or int(start) > int(end):
        return None
    return int(start), int(end)


def authorization_fields(
    params: list[tuple[str, str]], headers: Mapping[str, str]
) -> dict[str, str]:
    """The ``q-*`` fields: from ``Authorization``, else from a presigned query; ``{}`` if none.

    In ``Authorization`` they are raw ``k=v`` pairs: the lists in it are already encoded.
    """
    if header := headers.get("Authorization", ""):
        return dict(part.partition("=")[::2] for part in header.split("&"))
    return {k: v for k, v in params if k in AUTH_FIELDS}


def verify(
    method: str,
    path: str,
    params: list[tuple[str, str]],
    headers: Mapping[str, str],
    lookup: Callable[[str], Credentials | None],
    now: float,
) -> Verdict:
    """Check a received request.

    ``path`` is decoded, ``params`` are decoded query pairs (``split_query``), ``headers`` a
    case-insensitive mapping. A presigned request carries the ``q-*`` fields in ``params``.
    """
    fields = authorization_fields(params, headers)
    if not fields:
        return Verdict(refusal=Reason.MISSING)
    if not headers.get("Authorization", ""):  # presigned: the q-* fields are not signed
        params = [(k, v) for k, v in params if k not in AUTH_FIELDS]
    missing = [f for f in AUTH_FIELDS if f not in fields]
    if missing:
        return Verdict(refusal=Reason.MALFORMED, detail="missing " + ", ".join(missing))
    if fields["q-sign-algorithm"].lower() != ALGORITHM:
        return Verdict(refusal=Reason.UNSUPPORTED_ALGORITHM, detail=fields["q-sign-algorithm"])
    windows = key_window(fields["q-sign-time"]), key_window(fields["q-key-time"])
    if None in windows:
        return Verdict(
            refusal=Reason.MALFORMED, detail="q-sign-time and q-key-time must be <start>;<end>"
        )
    secret_id = fields["q-ak"]
    if (creds := lookup(secret_id)) is None:
        return Verdict(refusal=Reason.UNKNOWN_SECRET_ID, detail=secret_id)
    for start, end in windows:  # type: ignore[misc]
        if now > end:
            return Verdict(secret_id, Reason.EXPIRED, f"ended at {end}, now {int(now)}")
        if start > now + MAX_SKEW:
            return Verdict(secret_id, Reason.NOT_YET_VALID, f"starts at {start}, now {int(now)}")

    signed_params = _pick(params, fields["q-url-param-list"])
    if isinstance(signed_params, str):
        return Verdict(secret_id, Reason.ABSENT_SIGNED_PART, f"parameter {signed_params}")
    signed_headers = _pick(list(headers.items()), fields["q-header-list"])
    if isinstance(signed_headers, str):
        return Verdict(secret_id, Reason.ABSENT_SIGNED_PART, f"header {signed_headers}")

    given = fields["q-signature"].lower()
    times = fields["q-key-time"], fields["q-sign-time"]
    # the headers as sent, then with host stripped of its port (the SDK signs it bare)
    bare = [(k, _strip_port(v) if k.lower() == "host" else v) for k, v in signed_headers]
    for candidate in (signed_headers, bare):
        sig = sign(creds.secret_key, method, path, signed_params, candidate, *times)
        if hmac.compare_digest(sig.signature, given):
            break
    else:
        return Verdict(secret_id, Reason.MISMATCH)

    if creds.token:
        sent = [t for t in map(headers.get, TOKEN_HEADERS) if t]
        sent += [v for k, v in params if k in TOKEN_HEADERS and v]
        if not sent:
            return Verdict(secret_id, Reason.TOKEN_MISSING)
        if any(not hmac.compare_digest(t, creds.token) for t in sent):
            return Verdict(secret_id, Reason.TOKEN_WRONG)
    return Verdict(secret_id=secret_id)


def _pick(pairs: list[tuple[str, str]], names: str) -> list[tuple[str, str]] | str:
    """The pairs whose encoded lower-cased name is listed; the first absent name otherwise.

    An empty name is a name too: the signer lists ``?size=1&=x`` as ``;size``. An empty list
    cannot tell "no parameter" from "one with an empty name", so an absent one is no refusal.
    """
    by_name: dict[str, list[tuple[str, str]]] = {}
    for k, v in pairs:
        by_name.setdefault(encode(k).lower(), []).append((k, v))
    picked = []
    for name in dict.fromkeys(names.split(";")):
        if name in by_name:
            picked += by_name[name]
        elif name:
            return name
    return picked


def _strip_port(host: str) -> str:
    name, sep, port = host.rpartition(":")
    return name if sep and port.isdigit() and not name.endswith(":") else host
