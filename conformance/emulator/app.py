"""The reference emulator: a WSGI application of the inventory-trigger-job API.

Every request is authenticated with ``conformance.signing.verify``. Every malformed request gets
a 4xx XML ``Error``; nothing is stored by a refused request. ``Behaviour`` picks one allowed
behaviour for each open point of API-NOTES §6; fault switches (``faults.py``) add defects.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta, timezone
from email.utils import formatdate
from http import HTTPStatus
from typing import ClassVar

from werkzeug.datastructures import EnvironHeaders, Headers

from ..coverage import OPEN_POINTS, UNPINNABLE
from ..query import (
    DEFAULT_SIZE,
    ORDERS,
    STATES,
    TYPES,
    WIRE_NAMES,
    Filters,
    InvalidArgument,
    Query,
    parse_filters,
)
from ..signing import AUTH_FIELDS, TOKEN_HEADERS, Credentials, Reason, split_query, verify
from ..timefmt import format_time
from ..xmlmodel import (
    Job,
    Node,
    XMLProblem,
    in_order,
    node_from_element,
    render_error,
    render_job,
    render_list,
    render_missing,
    safe_parse,
    validate,
)
from .faults import check_names
from .store import EPOCH, Store, ordering

# The vendor's documented example keys (API-NOTES §4); printed at start, never secret.
EXAMPLE_CREDENTIALS = Credentials(
    "AKIDQjz3ltompVjBni5LitkWHFlFpwkn9U5q", "BQYIM75p8x0iWVFSIgqEKwFprpRSVHlz"
)
MAX_QUERY = 16 * 1024
MAX_BODY = 64 * 1024
LIST_PARAMS = frozenset(WIRE_NAMES.values())
ALWAYS_ALLOWED = frozenset(AUTH_FIELDS) | frozenset(TOKEN_HEADERS)
ENDED = ("Success", "Failed", "Cancel")
JOB_PATH = re.compile(r"/inventorytriggerjob/([A-Za-z0-9_-]{1,64})")


@dataclass(frozen=True)
class Behaviour:
    """One allowed choice per open point of the contract (``coverage.OPEN_POINTS``, whose keys
    and choices these are; the first choice is the default)."""

    size_over_100: str = "clamp"
    start_after_end: str = "empty"
    last_page_token: str = "empty"  # empty | absent: NextToken on the last page
    full_last_page: str = "no-token"  # no-token | token: a full last page may carry a token
    auth_status: str = "401"  # 401 with CI codes | 403 with COS codes
    # Error extras: the official SDK reads an error's code only when Resource is present.
    error_extras: str = "resource+trace-id"
    ties_desc: str = "job-id-desc"  # the order of equal CreationTimes in Desc walks
    ties_asc: str = "job-id-asc"
    get_missing: str = "404"  # 404 NoSuchJob | nonexist: 200 with NonExistJobIds, no JobsDetail
    cancel_ended: str = "refuse"  # refuse: 400 for a job that has ended | accept: 200, unchanged
    writes_during_walk: str = "stable"  # stable: keyset tokens | repeats: offset tokens

    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {
        k: tuple(c for c in v if c not in UNPINNABLE) for k, v in OPEN_POINTS.items()
    }

    @classmethod
    def parse(cls, items: Iterable[str]) -> Behaviour:
        """From ``name=value`` strings, each checked against ``CHOICES``."""
        chosen = {}
        for item in items:
            key, _, value = item.partition("=")
            key = key.replace("-", "_")
            if value not in cls.CHOICES.get(key, ()):
                raise ValueError(f"--behaviour {item!r}: choose one of {cls.describe()}")
            chosen[key] = value
        return cls(**chosen)

    @classmethod
    def describe(cls) -> str:
        return "; ".join(f"{k}={'|'.join(v)}" for k, v in cls.CHOICES.items())

    @classmethod
    def every_variant(cls) -> list[Behaviour]:
        """The default, and each single non-default choice."""
        return [cls()] + [cls(**{k: v}) for k, vs in cls.CHOICES.items() for v in vs[1:]]


AUTH_CODES: dict[Reason, tuple[tuple[str, str], tuple[str, str]]] = {
    # reason: ((CI code, message), (COS code, message))
    Reason.MISSING: (
        ("MissingAuthorization", "Authorization is required"),
        ("AccessDenied", "Access Denied."),
    ),
    Reason.MALFORMED: (
        ("InvalidAuthorization", "Authorization is malformed"),
        ("AccessDenied", "Access Denied."),
    ),
    Reason.UNSUPPORTED_ALGORITHM: (
        ("InvalidAuthorization", "q-sign-algorithm must be sha1"),
        ("AccessDenied", "Access Denied."),
    ),
    Reason.UNKNOWN_SECRET_ID: (
        ("SecretidNotExist", "SecretId does not exist"),
        ("InvalidAccessKeyId", "The access key Id format you provided is invalid."),
    ),
    Reason.EXPIRED: (
        ("SignatureExpired", "Request has expired"),
        ("AccessDenied", "Request has expired"),
    ),
    Reason.NOT_YET_VALID: (
        ("InvalidAuthorization", "Request time too skewed"),
        (
            "RequestTimeTooSkewed",
            "The difference between the request time and the server's time is too large.",
        ),
    ),
    Reason.ABSENT_SIGNED_PART: (
        ("InvalidAuthorization", "A signed parameter or header is absent"),
        ("SignatureDoesNotMatch", "The Signature you specified is invalid."),
    ),
    Reason.MISMATCH: (
        ("InvalidAuthorization", "Signature does not match"),
        ("SignatureDoesNotMatch", "The Signature you specified is invalid."),
    ),
    Reason.TOKEN_MISSING: (
        ("InvalidAuthorization", "The security token is missing"),
        ("AccessDenied", "Access Denied."),
    ),
    Reason.TOKEN_WRONG: (
        ("InvalidAuthorization", "The security token is invalid"),
        ("InvalidAccessKeyId", "The security token is invalid."),
    ),
}


# The refusal each signature fault lets through.
FORGIVING_FAULTS = {
    Reason.EXPIRED: "sig-accept-expired",
    Reason.NOT_YET_VALID: "sig-accept-future",
    Reason.ABSENT_SIGNED_PART: "sig-skip-absent-params",
    Reason.UNSUPPORTED_ALGORITHM: "sig-ignore-algorithm",
    Reason.TOKEN_MISSING: "sig-ignore-token",
    Reason.TOKEN_WRONG: "sig-ignore-token",
}


# The refusal each presigned-only fault lets through.
PRESIGN_FAULTS = {
    Reason.EXPIRED: "sig-presign-ignore-expiry",
    Reason.TOKEN_MISSING: "sig-presign-ignore-token",
    Reason.TOKEN_WRONG: "sig-presign-ignore-token",
}


class Refused(Exception):
    """An answer other than 200: status, error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _bad(message: str, code: str = "InvalidArgument") -> Refused:
    return Refused(400, code, message)


class Emulator:
    """The WSGI application. ``clock`` is injectable so tests can move time.

    With a ``seed``, jobs created through the API get JobIds drawn from it and CreationTimes one
    second apart after the newest stored job, instead of random IDs and the clock's time: a run
    that creates jobs then repeats exactly (the suite's embedded emulator uses this).
    """

    def __init__(
        self,
        store: Store | None = None,
        credentials: Iterable[Credentials] = (EXAMPLE_CREDENTIALS,),
        behaviour: Behaviour | None = None,
        faults: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
        visibility_lag: float = 0.0,
        seed: int | None = None,
    ) -> None:
        self.store = store if store is not None else Store()
        self.keys = {c.secret_id: c for c in credentials}
        self.behaviour = behaviour or Behaviour()
        self.faults = check_names(list(faults))
        self.clock = clock
        # a stream of its own: the dataset generator draws JobIds from random.Random(seed)
        self._ids = random.Random(f"created jobs {seed}") if seed is not None else None
        self._last_created: float | None = None
        self._creating = threading.Lock()
        self._created = 0  # jobs created through the API (some faults count them)
        # an eventually consistent service: a created job shows this many seconds later
        self.visibility_lag = visibility_lag
        self._pending: list[tuple[float, Job]] = []
        self._pending_lock = threading.Lock()
        self._cancelled: dict[str, Job] = {}  # model-cancel-not-listed: what get shows
        if "model-missing-under-states" in self.faults:
            self.store.freeze_state_index()

    # --- WSGI ---------------------------------------------------------------------------

    def __call__(self, environ: dict, start_response: Callable) -> list[bytes]:
        request_id = _request_id()
        path = environ.get("PATH_INFO", "/")
        try:
            body = self._handle(environ, request_id)
            status, content_type = 200, "application/xml" if body else None
        except Refused as r:
            status, body, content_type = self._error(r, request_id, path)
        except Exception:  # a bug of ours must still answer as the service would
            status, body, content_type = self._error(
                Refused(500, "InternalError", "internal error"), request_id, path
            )
        if "fmt-wrong-content-type" in self.faults and status == 200:
            content_type = "text/plain"
        status_line, headers = self._head(status, body, content_type, request_id)
        start_response(status_line, headers)
        return [b""] if environ.get("REQUEST_METHOD") == "HEAD" else [body]

    def refusal(self, status: int, code: str, message: str) -> tuple[str, list, bytes]:
        """Status line, headers and body refusing a request the HTTP parser could not read
        (the server calls this, so such answers are the same XML Error as any other)."""
        request_id = _request_id()
        status, body, content_type = self._error(Refused(status, code, message), request_id, "/")
        return (*self._head(status, body, content_type, request_id), body)

    def _head(
        self, status: int, body: bytes, content_type: str | None, request_id: str
    ) -> tuple[str, list[tuple[str, str]]]:
        """The status line and headers (the server adds ``Server``); an empty body (cancel's)
        has no Content-Type, as in the vendor's example."""
        headers = [("Content-Type", content_type)] if content_type else []
        headers += [("Content-Length", str(len(body))), ("Date", formatdate(usegmt=True))]
        if "fmt-no-request-id-header" not in self.faults:
            headers.append(("x-ci-request-id", request_id))
        if status >= 400:
            headers.append(("x-ci-trace-id", request_id))
        return f"{status} {HTTPStatus(status).phrase}", headers

    def _error(self, r: Refused, request_id: str, path: str) -> tuple[int, bytes, str]:
        if "err-non-xml-body" in self.faults:
            doc = {"Code": r.code, "Message": r.message, "RequestId": request_id}
            return r.status, json.dumps(doc).encode(), "application/json"
        extras = {
            "resource+trace-id": {"Resource": path, "TraceId": request_id},
            "resource": {"Resource": path},
            "trace-id": {"TraceId": request_id},
            "none": {},
        }[self.behaviour.error_extras]
        return r.status, render_error(r.code, r.message, request_id, **extras), "application/xml"

    def _handle(self, environ: dict, request_id: str) -> bytes:
        if self._pending:
            self._publish()
        raw_query = environ.get("QUERY_STRING", "")
        if len(raw_query) > MAX_QUERY:
            raise _bad(f"the query string is longer than {MAX_QUERY} bytes")
        try:
            path = environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8")
            params = split_query(raw_query.encode("latin-1").decode("utf-8"))
        except (UnicodeError, ValueError) as exc:
            raise _bad(f"the request URI is not valid percent-encoded UTF-8: {exc}") from None
        method = environ.get("REQUEST_METHOD", "GET").upper()
        self._authenticate(method, path, params, EnvironHeaders(environ), environ)
        body = self._read_body(environ)

        if path == "/inventorytriggerjob":
            if method == "GET":
                return self._list(self._params(params, LIST_PARAMS), request_id)
            if method == "POST":
                self._params(params, frozenset())
                return self._create(body, request_id)
            raise Refused(405, "MethodNotAllowed", f"{method} is not allowed on {path}")
        match = JOB_PATH.fullmatch(path)
        if match is None:
            raise Refused(404, "NoSuchResource", f"no such resource: {path[:200]}")
        job_id = match.group(1)
        if method == "GET":
            self._params(params, frozenset())
            return self._get(job_id, request_id)
        if method == "PUT":
            if "cancel" not in self._params(params, frozenset({"cancel"})):
                raise _bad("PUT on a job needs the cancel parameter", "InvalidRequest")
            return self._cancel(job_id, request_id)
        raise Refused(405, "MethodNotAllowed", f"{method} is not allowed on {path[:200]}")

    @staticmethod
    def _read_body(environ: dict) -> bytes:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise _bad("Content-Length is not a number", "InvalidRequest") from None
        if length > MAX_BODY:
            raise _bad(f"the body is larger than {MAX_BODY} bytes", "EntityTooLarge")
        return environ["wsgi.input"].read(length) if length > 0 else b""

    def _params(self, params: list[tuple[str, str]], allowed: frozenset[str]) -> dict[str, str]:
        result: dict[str, str] = {}
        for name, value in params:
            if name in ALWAYS_ALLOWED or not name:  # `&=x`, like `&&`, names nothing
                continue
            if name not in allowed:
                raise _bad(f"unknown parameter {name[:100]!r}")
            if name in result and "sig-param-pollution" not in self.faults:
                raise _bad(f"parameter {name!r} is repeated")
            result[name] = value
        return result

    # --- authentication -----------------------------------------------------------------

    def _authenticate(
        self, method: str, path: str, params: list, headers: EnvironHeaders, environ: dict
    ) -> None:
        if "sig-accept-anything" in self.faults:
            return
        checked, signed_headers = params, headers
        if "sig-param-pollution" in self.faults:  # only each name's first value is verified
            firsts: dict[str, str] = {}
            for k, v in params:
                firsts.setdefault(k, v)
            checked = list(firsts.items())
        if "sig-host-unbound" in self.faults:
            signed_headers = Headers(headers)
            signed_headers["Host"] = f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}"
        if "sig-path-unbound" in self.faults:
            path = "/inventorytriggerjob"
        verdict = verify(method, path, checked, signed_headers, self.keys.get, self.clock())
        if verdict.refusal is Reason.MISMATCH and "sig-method-unbound" in self.faults:
            for other in ("GET", "POST", "PUT", "DELETE", "HEAD"):
                retry = verify(other, path, checked, signed_headers, self.keys.get, self.clock())
                if retry.accepted:
                    return
        if verdict.refusal is Reason.UNKNOWN_SECRET_ID and "sig-ignore-secret-id" in self.faults:
            for creds in self.keys.values():  # any known key will do, whatever q-ak says
                verdict = verify(
                    method, path, params, headers, lambda _id, c=creds: c, self.clock()
                )
                if verdict.accepted:
                    return
        if verdict.refusal is not None and FORGIVING_FAULTS.get(verdict.refusal) in self.faults:
            return
        presigned = not headers.get("Authorization")
        if presigned and verdict.refusal is not None:
            lenient = PRESIGN_FAULTS.get(verdict.refusal)
            if lenient in self.faults:
                return
        if verdict.refusal is not None:
            ci, cos = AUTH_CODES[verdict.refusal]
            status, (code, message) = (
                (401, ci) if self.behaviour.auth_status == "401" else (403, cos)
            )
            raise Refused(status, code, message)
        if "sig-reject-empty-or-space" in self.faults and any(
            v == "" or " " in v for k, v in params if k not in ALWAYS_ALLOWED
        ):
            raise Refused(403, "SignatureDoesNotMatch", "The Signature you specified is invalid.")

    # --- list ---------------------------------------------------------------------------

    def _filters(self, params: dict[str, str]) -> Filters:
        query = Query.from_params(params)
        if "filter-unknown-ignored" in self.faults:
            states = [s for s in (query.states or "").split(",") if s in ("All", *STATES)]
            query = replace(
                query,
                type=query.type if query.type in TYPES else None,
                order_by_time=query.order_by_time if query.order_by_time in ORDERS else None,
                states=",".join(states) or None,
            )
        if "err-200-on-bad-input" in self.faults and query.size and not query.size.isdigit():
            query = replace(query, size=None)
        clamp = self.behaviour.size_over_100 == "clamp" or "page-size-uncapped" in self.faults
        try:
            f = parse_filters(query, clamp_size=clamp)
        except InvalidArgument as exc:
            if "err-500-on-bad-input" in self.faults:
                raise Refused(500, "InternalError", "internal error") from None
            raise _bad(str(exc)) from None
        size = f.size
        if "page-size-uncapped" in self.faults:
            size = f.size_requested
        if "page-size-cap-50" in self.faults:
            size = min(size, 50)
        if "page-size-ignored" in self.faults:
            size = DEFAULT_SIZE
        if "page-default-size-20" in self.faults and not query.size:
            size = 20
        descending = f.descending
        if "order-default-asc" in self.faults and not query.order_by_time:
            descending = False
        if "order-asc-ignored" in self.faults:
            descending = True
        drop = {
            "filter-type-ignored": "type",
            "filter-states-ignored": "states",
            "filter-start-ignored": "start",
            "filter-end-ignored": "end",
            "filter-workflow-ignored": "workflow_id",
            "filter-job-id-ignored": "job_id",
        }
        f = replace(
            f,
            size=size,
            descending=descending,
            **{field: None for fault, field in drop.items() if fault in self.faults},
        )
        if "filter-states-first-only" in self.faults and f.states and query.states:
            f = replace(f, states=frozenset({query.states.split(",")[0]}))
        if "filter-job-id-overrides" in self.faults and f.job_id:
            f = Filters(size=f.size, descending=f.descending, job_id=f.job_id)
        if "page-size-not-kept" in self.faults and params.get("nextToken"):
            f = replace(f, size=DEFAULT_SIZE)
        return f

    def _list(self, params: dict[str, str], request_id: str) -> bytes:
        f = self._filters(params)
        if f.start and f.end and f.start > f.end and self.behaviour.start_after_end == "refuse":
            raise _bad("startCreationTime is later than endCreationTime")
        ties = self.behaviour.ties_desc if f.descending else self.behaviour.ties_asc
        order = ordering(f.descending, ties == "job-id-desc", self.faults)
        fingerprint = _fingerprint(f)
        token = params.get("nextToken") or None
        cursor, offset = None, 0
        if token is not None:
            try:
                cursor, offset = self._read_token(token, fingerprint)
            except ValueError:
                if "page-bad-token-500" in self.faults:
                    raise Refused(500, "InternalError", "internal error") from None
                if "page-bad-token-restart" not in self.faults:
                    raise _bad("nextToken is not valid for this query") from None
            if "page-drop-filters" in self.faults:
                f = Filters(size=f.size, descending=f.descending)
            if "page-skip-boundary" in self.faults:
                offset += 1
        jobs, keys = self.store.page(f, order, f.size + 1, cursor, offset, self.faults)
        more = len(jobs) > f.size
        jobs, keys = jobs[: f.size], keys[: f.size]
        if "page-size-off-at-some-sizes" in self.faults and more and 41 <= f.size <= 60:
            jobs, keys = jobs[:-1], keys[:-1]
        if self.behaviour.full_last_page == "token" and len(jobs) == f.size:
            more = True
        if "page-endless-token" in self.faults:
            more = True
        next_token: str | None = None
        if more and self.behaviour.writes_during_walk == "repeats":  # a position in the list
            next_token = self._make_token(["at", offset + len(jobs)], fingerprint)
        elif more:
            last = (
                keys[-2]
                if "page-repeat-boundary" in self.faults and len(keys) > 1
                else (keys[-1] if keys else cursor)
            )
            next_token = self._make_token(last, fingerprint) if last is not None else None
        if next_token is None and self.behaviour.last_page_token == "empty":
            next_token = ""
        return self._render(request_id, jobs, next_token)

    def _make_token(self, cursor: Iterable, fingerprint: str) -> str:
        payload = base64.urlsafe_b64encode(json.dumps(list(cursor)).encode()).decode().rstrip("=")
        return f"{payload}.{self._mac(payload, fingerprint)}"

    def _read_token(self, token: str, fingerprint: str) -> tuple[list | None, int]:
        """The cursor a token carries, or its position in the list; ``ValueError`` for any token
        we did not issue."""
        payload, _, mac = token.partition(".")
        if not hmac.compare_digest(mac, self._mac(payload, fingerprint)):
            raise ValueError("token")
        cursor = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return (None, cursor[1]) if cursor[:1] == ["at"] else (cursor, 0)

    def _mac(self, payload: str, fingerprint: str) -> str:
        msg = f"{payload}\n{fingerprint}".encode()
        return hmac.new(self.store.token_key, msg, hashlib.sha256).hexdigest()[:32]

    def _render(self, request_id: str, jobs: list[Job], next_token: str | None) -> bytes:
        if "fmt-bad-state-text" in self.faults:
            jobs = [replace(j, state=j.state.lower()) for j in jobs]
        if "fmt-time-without-offset" in self.faults:
            jobs = [replace(j, creation_time=j.creation_time[:19]) for j in jobs]
        body = render_list(request_id, jobs, next_token)
        if "fmt-missing-request-id" in self.faults:
            body = re.sub(rb"<RequestId>[^<]*</RequestId>", b"", body, count=1)
        if "fmt-unescaped-xml" in self.faults:
            body = body.replace(b"&amp;", b"&").replace(b"&lt;", b"<").replace(b"&gt;", b">")
        return body

    # --- create, get, cancel ------------------------------------------------------------

    def _create(self, body: bytes, request_id: str) -> bytes:
        try:
            root = safe_parse(body, MAX_BODY)
        except XMLProblem as exc:
            raise _bad(
                f"the body is not a usable XML document: {exc.message}", "MalformedXML"
            ) from None
        if root.tag != "Request":
            raise _bad("the body's root must be <Request>", "MalformedXML")
        inp, op = root.find("Input"), root.find("Operation")
        job_type = (root.findtext("Type") or "").strip()
        if job_type not in TYPES:
            raise _bad(
                f"Type must be Job or Workflow, not {job_type[:40]!r}"
                if job_type
                else "Type is required: Job or Workflow"
            )
        if inp is None or len(inp) != 1:
            raise _bad("Input must hold exactly one of Prefix, Object, UrlFile, Manifest")
        user_data = root.findtext("Operation/UserData") or ""
        if any(not 32 <= ord(c) < 127 for c in user_data):
            raise _bad("UserData must be printable ASCII")
        job_id, created = self._new_job()
        job = Job(
            job_id=job_id,
            type=job_type,
            state="Submitted",
            name=root.findtext("Name") or "",
            creation_time=self._now(created),
            message="",
            input=node_from_element(inp[0]),
            operation=canonical(node_from_element(op)[1]) if op is not None and len(op) else (),
        )
        wrapper = safe_parse(render_job(request_id, job))
        errors = validate(wrapper, "list-response")
        if errors or not job.name:
            raise _bad("invalid job: " + ("; ".join(errors[:3]) or "Name is required"))
        self._created += 1
        if "model-create-lost" in self.faults and self._created % 3 == 2:
            pass  # acknowledged, never stored
        elif self.visibility_lag:
            with self._pending_lock:
                self._pending.append((self.clock() + self.visibility_lag, job))
        else:
            self.store.add([job])
            if "create-evicts-oldest" in self.faults:
                self.store.remove_oldest()
        return render_job(request_id, job)

    def _now(self, at: float | None = None) -> str:
        """Now (or ``at``), written as the vendor writes times (UTC+8)."""
        moment = self.clock() if at is None else at
        return format_time(datetime.fromtimestamp(moment, timezone(timedelta(hours=8))))

    def _new_job(self) -> tuple[str, float]:
        """A new job's JobId and CreationTime: random and now, or seeded (see the class)."""
        if self._ids is None:
            return f"b{secrets.token_hex(16)}", self.clock()
        with self._creating:
            if self._last_created is None:
                newest, _ = self.store.page(Filters(), ordering(True, True, frozenset()), 1)
                self._last_created = (newest[0].created if newest else EPOCH).timestamp()
            self._last_created += 1
            job_id = f"b{self._ids.getrandbits(128):032x}"
            while self.store.get(job_id) is not None:
                job_id = f"b{self._ids.getrandbits(128):032x}"
            return job_id, self._last_created

    def _publish(self) -> None:
        """Created jobs whose visibility lag has passed join the store."""
        now = self.clock()
        with self._pending_lock:
            due = [job for at, job in self._pending if at <= now]
            self._pending = [(at, job) for at, job in self._pending if at > now]
        if due:
            self.store.add(due)

    def _existing(self, job_id: str) -> Job:
        job = self.store.get(job_id)
        if job is None:
            raise Refused(404, "NoSuchJob", f"job {job_id} does not exist")
        return job

    def _get(self, job_id: str, request_id: str) -> bytes:
        job = self._cancelled.get(job_id) or self.store.get(job_id)
        if job is None and "get-missing-empty" in self.faults:
            return render_missing(request_id, [])
        if job is None and self.behaviour.get_missing == "nonexist":
            return render_missing(request_id, [job_id])
        return render_job(request_id, job or self._existing(job_id))

    def _cancel(self, job_id: str, request_id: str) -> bytes:
        """200 with no body (the vendor's page: "this request has no response body")."""
        job = self._existing(job_id)
        if job.state in ENDED:
            if self.behaviour.cancel_ended == "refuse":
                raise _bad(f"job {job_id} has already ended ({job.state})", "InvalidRequest")
            return b""
        if "model-cancel-not-listed" in self.faults:  # get sees it; lists never do
            self._cancelled[job_id] = replace(job, state="Cancel", end_time=self._now())
        else:
            self.store.set_state(job_id, "Cancel", self._now())
        return b""


# The order a created job's Operation comes back in, whatever the request's order: the vendor's
# sample and SDK models (API-NOTES §2); elements not named here follow, in the request's order.
CANONICAL_ORDER = {
    "Operation": ("TimeInterval", "WorkflowIds", "QueueId", "QueueType", "Tag", "UserData",
                  "CallBack", "CallBackFormat", "CallBackType", "CallBackMqConfig", "JobParam",
                  "Output", "JobLevel", "FreeTranscode"),
    "TimeInterval": ("Start", "End"),
    "Output": ("Region", "Bucket", "Object"),
    "CallBackMqConfig": ("MqMode", "MqRegion", "MqName"),
}  # fmt: skip


def canonical(nodes: tuple[Node, ...], parent: str = "Operation") -> tuple[Node, ...]:
    """``nodes`` (children of ``parent``) re-serialised in one order, as the service does."""
    return tuple(
        (tag, value if isinstance(value, str) else canonical(value, tag))
        for tag, value in in_order(nodes, CANONICAL_ORDER.get(parent, ()))
    )


def _request_id() -> str:
    return base64.b64encode(secrets.token_bytes(24)).decode()


def _fingerprint(f: Filters) -> str:
    """The filters and order a token is bound to (instants, so any offset spelling is the same)."""
    parts = []
    for x in fields(f):
        value = getattr(f, x.name)
        if x.name in ("size", "size_requested"):
            continue
        if isinstance(value, frozenset):
            value = sorted(value)
        elif isinstance(value, datetime):
            value = value.timestamp()
        parts.append(value)
    return repr(parts)
