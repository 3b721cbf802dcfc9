"""The reference emulator: a WSGI application of the inventory-trigger-job API.

Every request is authenticated with ``conformance.signing.verify``. Every malformed request gets
a 4xx XML ``Error``; nothing is stored by a refused request. ``Behaviour`` picks one allowed
behaviour for each open point of API-NOTES §6; fault switches (``faults.py``) add defects.
"""

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
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, ClassVar

from werkzeug.datastructures import EnvironHeaders

from ..coverage import OPEN_POINTS, pinnable
from ..query import TYPES, WIRE_NAMES, Filters, InvalidArgument, Query, parse_filters
from ..signing import AUTH_FIELDS, TOKEN_HEADERS, Credentials, Reason, Verdict, split_query, verify
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
from .faults import check_names, matching_for, with_faults
from .store import EPOCH, Matching, Ordering, Store

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
    page_fill: str = "full"  # full | short: pages before the last hold one job fewer than size
    auth_status: str = "401"  # 401 with CI codes | 403 with COS codes
    # Error extras: the official SDK reads an error's code only when Resource is present.
    error_extras: str = "resource+trace-id"
    ties_desc: str = "job-id-desc"  # the order of equal CreationTimes in Desc walks
    ties_asc: str = "job-id-asc"
    empty_values: str = "absent"  # absent | refuse: 400 for an empty size, jobId or workflowId
    get_missing: str = "404"  # 404 NoSuchJob | nonexist: 200 with NonExistJobIds, no JobsDetail
    cancel_ended: str = "refuse"  # refuse: 400 for a job that has ended | accept: 200, unchanged
    writes_during_walk: str = "stable"  # stable: keyset tokens | repeats: offset tokens

    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {k: pinnable(k) for k in OPEN_POINTS}

    @classmethod
    def parse(cls, items: Iterable[str]) -> "Behaviour":
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


DENIED = ("AccessDenied", "Access Denied.")
NO_MATCH = ("SignatureDoesNotMatch", "The Signature you specified is invalid.")
AUTH_CODES: dict[Reason, tuple[tuple[str, str], tuple[str, str]]] = {
    # reason: ((CI code, message), (COS code, message))
    Reason.MISSING: (("MissingAuthorization", "Authorization is required"), DENIED),
    Reason.MALFORMED: (("InvalidAuthorization", "Authorization is malformed"), DENIED),
    Reason.UNSUPPORTED_ALGORITHM: (("InvalidAuthorization", "q-sign-algorithm must be sha1"), DENIED),
    Reason.UNKNOWN_SECRET_ID: (("SecretidNotExist", "SecretId does not exist"),
                               ("InvalidAccessKeyId", "The access key Id format you provided is invalid.")),
    Reason.EXPIRED: (("SignatureExpired", "Request has expired"), ("AccessDenied", "Request has expired")),
    Reason.NOT_YET_VALID: (("InvalidAuthorization", "Request time too skewed"),
                           ("RequestTimeTooSkewed", "The difference between the request time and the server's time is too large.")),
    Reason.ABSENT_SIGNED_PART: (("InvalidAuthorization", "A signed parameter or header is absent"), NO_MATCH),
    Reason.MISMATCH: (("InvalidAuthorization", "Signature does not match"), NO_MATCH),
    Reason.TOKEN_MISSING: (("InvalidAuthorization", "The security token is missing"), DENIED),
    Reason.TOKEN_WRONG: (("InvalidAuthorization", "The security token is invalid"),
                         ("InvalidAccessKeyId", "The security token is invalid.")),
}  # fmt: skip


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
    ``Emulator(..., faults=[...])`` is the class with the faults' mixins over its public methods.
    """

    def __new__(cls, *args: object, **kw: object) -> "Emulator":
        names = kw.get("faults", args[3] if len(args) > 3 else ())
        return super().__new__(with_faults(cls, tuple(names)))  # type: ignore[arg-type]

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
        self.matching = matching_for(self.faults)
        self.clock = clock
        # a stream of its own: the dataset generator draws JobIds from random.Random(seed)
        self._ids = random.Random(f"created jobs {seed}") if seed is not None else None
        self._last_created: float | None = None
        self._creating = threading.Lock()
        # an eventually consistent service: a created job shows this many seconds later
        self.visibility_lag = visibility_lag
        self._pending: list[tuple[float, Job]] = []
        self._pending_lock = threading.Lock()

    # --- WSGI ---------------------------------------------------------------------------

    def __call__(self, environ: dict, start_response: Callable) -> list[bytes]:
        request_id = self.request_id()
        try:
            body = self._handle(environ, request_id)
            status, content_type = 200, "application/xml" if body else None
        except Exception as exc:  # a bug of ours must still answer as the service would
            r = exc if isinstance(exc, Refused) else Refused(500, "InternalError", "internal error")
            status, body, content_type = self.error(r, request_id, environ.get("PATH_INFO", "/"))
        status_line, headers = self.head(status, body, content_type, request_id)
        start_response(status_line, headers)
        return [b""] if environ.get("REQUEST_METHOD") == "HEAD" else [body]

    def refusal(self, status: int, code: str, message: str) -> tuple[str, list, bytes]:
        """Status line, headers and body refusing a request the HTTP parser could not read
        (the server calls this, so such answers are the same XML Error as any other)."""
        request_id = self.request_id()
        status, body, content_type = self.error(Refused(status, code, message), request_id, "/")
        return (*self.head(status, body, content_type, request_id), body)

    @staticmethod
    def request_id() -> str:
        return base64.b64encode(secrets.token_bytes(24)).decode()

    def head(
        self, status: int, body: bytes, content_type: str | None, request_id: str
    ) -> tuple[str, list[tuple[str, str]]]:
        """The status line and headers (the server adds ``Server``); an empty body (cancel's)
        has no Content-Type, as in the vendor's example."""
        headers = [("Content-Type", content_type)] if content_type else []
        length, date = str(len(body)), formatdate(self.clock(), usegmt=True)
        headers += [("Content-Length", length), ("Date", date), ("x-ci-request-id", request_id)]
        if status >= 400:
            headers.append(("x-ci-trace-id", request_id))
        return f"{status} {HTTPStatus(status).phrase}", headers

    def error(self, r: Refused, request_id: str, path: str) -> tuple[int, bytes, str]:
        """Status, body and Content-Type of an XML Error."""
        chosen = self.behaviour.error_extras.split("+")  # resource, trace-id, both or none
        extras = {"Resource": path} if "resource" in chosen else {}
        if "trace-id" in chosen:
            extras["TraceId"] = request_id
        return r.status, render_error(r.code, r.message, request_id, **extras), "application/xml"

    refused = Refused  # for fault switches (faults.py cannot import this module)

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
        self.authenticate(method, path, params, EnvironHeaders(environ), environ)
        body = self._read_body(environ)

        match = JOB_PATH.fullmatch(path)  # a job's path, or else the list's
        if match is None and path != "/inventorytriggerjob":
            raise Refused(404, "NoSuchResource", f"no such resource: {path[:200]}")
        if method not in (("GET", "PUT") if match else ("GET", "POST")):
            raise Refused(405, "MethodNotAllowed", f"{method} is not allowed on {path[:200]}")
        if match is None and method == "GET":
            return self._list(self.parameters(params, LIST_PARAMS), request_id)
        if match and method == "PUT":
            if "cancel" not in self.parameters(params, frozenset({"cancel"})):
                raise _bad("PUT on a job needs the cancel parameter", "InvalidRequest")
            return self._cancel(match.group(1), request_id)
        self.parameters(params, frozenset())  # a create or a get takes no parameter
        return self._get(match.group(1), request_id) if match else self._create(body, request_id)

    @staticmethod
    def _read_body(environ: dict) -> bytes:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise _bad("Content-Length is not a number", "InvalidRequest") from None
        if length > MAX_BODY:
            raise _bad(f"the body is larger than {MAX_BODY} bytes", "EntityTooLarge")
        return environ["wsgi.input"].read(length) if length > 0 else b""

    def parameters(self, params: list[tuple[str, str]], allowed: frozenset[str]) -> dict[str, str]:
        result: dict[str, str] = {}
        for name, value in params:
            if name in ALWAYS_ALLOWED or not name:  # `&=x`, like `&&`, names nothing
                continue
            if name not in allowed:
                raise _bad(f"unknown parameter {name[:100]!r}")
            if name in result:
                raise _bad(f"parameter {name!r} is repeated")
            result[name] = value
        return result

    # --- authentication -----------------------------------------------------------------

    def authenticate(self, method: str, path: str, params: list, headers: EnvironHeaders,
                     environ: dict) -> None:  # fmt: skip
        verdict = self.verify(method, path, params, headers, environ)
        presigned = not headers.get("Authorization")
        if verdict.refusal is not None and not self.forgiven(verdict.refusal, presigned):
            ci, cos = AUTH_CODES[verdict.refusal]
            raise Refused(401, *ci) if self.behaviour.auth_status == "401" else Refused(403, *cos)

    def verify(self, method: str, path: str, params: list, headers: Any, environ: dict) -> Verdict:
        return verify(method, path, params, headers, self.keys.get, self.clock())

    def forgiven(self, refusal: Reason, presigned: bool) -> bool:
        """Whether a refusal is let through (never, but for fault switches)."""
        return False

    # --- list ---------------------------------------------------------------------------

    def query_of(self, params: dict[str, str]) -> Query:
        return Query.from_params(params)

    def filters(self, query: Query, params: dict[str, str]) -> Filters:
        """What the query means; ``invalid`` answers a parameter out of range."""
        empty = [k for k in ("size", "jobId", "workflowId") if params.get(k) == ""]
        if empty and self.behaviour.empty_values == "refuse":
            raise _bad(f"{empty[0]} is empty")
        try:
            return parse_filters(query, clamp_size=self.clamps())
        except InvalidArgument as exc:
            raise self.invalid(exc) from None

    def clamps(self) -> bool:
        """Whether size > 100 is clamped to 100 (or refused)."""
        return self.behaviour.size_over_100 == "clamp"

    def invalid(self, exc: InvalidArgument) -> Refused:
        return _bad(str(exc))

    def resume(self, token: str, fingerprint: str, f: Filters) -> tuple[list | None, int, Filters]:
        """Where a token's page starts (a cursor, or a position) and the filters in force."""
        try:
            cursor, offset = self._read_token(token, fingerprint)
        except ValueError:
            return self.foreign_token(token, f)
        return cursor, offset, f

    def foreign_token(self, token: str, f: Filters) -> tuple[list | None, int, Filters]:
        raise _bad("nextToken is not valid for this query")

    def page_of(self, f: Filters, order: Ordering, cursor: list | None, offset: int
                ) -> tuple[list[Job], list[tuple], bool]:  # fmt: skip
        """The page's jobs, their sort keys, and whether more follow."""
        jobs, keys = self.store.page(f, order, f.size + 1, cursor, offset, self.matching)
        more = len(jobs) > f.size
        n = f.size - (more and f.size > 1 and self.behaviour.page_fill == "short")
        return jobs[:n], keys[:n], more

    def _list(self, params: dict[str, str], request_id: str) -> bytes:
        f = self.filters(self.query_of(params), params)
        if f.start and f.end and f.start > f.end and self.behaviour.start_after_end == "refuse":
            raise _bad("startCreationTime is later than endCreationTime")
        ties = self.behaviour.ties_desc if f.descending else self.behaviour.ties_asc
        order = self.matching.ordering(f.descending, ties == "job-id-desc")
        fingerprint = _fingerprint(f)
        cursor, offset = None, 0
        if token := params.get("nextToken"):
            cursor, offset, f = self.resume(token, fingerprint, f)
        jobs, keys, more = self.page_of(f, order, cursor, offset)
        more |= self.behaviour.full_last_page == "token" and len(jobs) == f.size
        if self.behaviour.writes_during_walk == "repeats":  # a position in the list
            last = ["at", offset + len(jobs)]
        else:
            last = keys[-1] if keys else cursor
        no_token = "" if self.behaviour.last_page_token == "empty" else None
        next_token = self._make_token(last, fingerprint) if more and last is not None else no_token
        return self.render(request_id, jobs, next_token)

    def _make_token(self, cursor: Iterable, fingerprint: str) -> str:
        payload = base64.urlsafe_b64encode(json.dumps(list(cursor)).encode()).decode().rstrip("=")
        return f"{payload}.{self._mac(payload, fingerprint)}"

    def _read_token(self, token: str, fingerprint: str) -> tuple[list | None, int]:
        """The cursor a token carries, or its position in the list; ``ValueError`` for any token
        we did not issue."""
        payload, _, mac = token.partition(".")
        if not hmac.compare_digest(mac.encode(), self._mac(payload, fingerprint).encode()):
            raise ValueError("token")
        cursor = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return (None, cursor[1]) if cursor[:1] == ["at"] else (cursor, 0)

    def _mac(self, payload: str, fingerprint: str) -> str:
        msg = f"{payload}\n{fingerprint}".encode()
        return hmac.new(self.store.token_key, msg, hashlib.sha256).hexdigest()[:32]

    def render(self, request_id: str, jobs: list[Job], next_token: str | None) -> bytes:
        return render_list(request_id, jobs, next_token)

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
            wrong = f"must be Job or Workflow, not {job_type[:40]!r}"
            raise _bad(f"Type {wrong}" if job_type else "Type is required: Job or Workflow")
        if inp is None or len(inp) != 1:
            raise _bad("Input must hold exactly one of Prefix, Object, UrlFile, Manifest")
        user_data = root.findtext("Operation/UserData") or ""
        if any(not 32 <= ord(c) < 127 for c in user_data):
            raise _bad("UserData must be printable ASCII")
        job_id, created = self._new_job()
        name = root.findtext("Name") or ""
        operation = canonical(node_from_element(op)[1]) if op is not None and len(op) else ()
        created_at, node = self._now(created), node_from_element(inp[0])
        job = Job(job_id, job_type, "Submitted", name, created_at, input=node, operation=operation)
        errors = validate(safe_parse(render_job(request_id, job)), "list-response")
        if errors or not job.name:
            raise _bad("invalid job: " + ("; ".join(errors[:3]) or "Name is required"))
        self.stored(job)
        return render_job(request_id, job)

    def stored(self, job: Job) -> None:
        """A created job joins the store (after the visibility lag, if there is one)."""
        if self.visibility_lag:
            with self._pending_lock:
                self._pending.append((self.clock() + self.visibility_lag, job))
        else:
            self.store.add([job])

    def _now(self, at: float | None = None) -> str:
        """Now (or ``at``), written as the vendor writes times (UTC+8)."""
        return format_time(datetime.fromtimestamp(self.clock() if at is None else at, UTC), 480)

    def _new_job(self) -> tuple[str, float]:
        """A new job's JobId and CreationTime: random and now, or seeded (see the class)."""
        if self._ids is None:
            return f"b{secrets.token_hex(16)}", self.clock()
        with self._creating:
            if self._last_created is None:
                newest, _ = self.store.page(Filters(), Matching().ordering(True, True), 1)
                self._last_created = (newest[0].created if newest else EPOCH).timestamp()
            self._last_created += 1
            while self.store.get(job_id := f"b{self._ids.getrandbits(128):032x}") is not None:
                pass  # drawn again
            return job_id, self._last_created

    def _publish(self) -> None:
        """Created jobs whose visibility lag has passed join the store."""
        now = self.clock()
        with self._pending_lock:
            due = [job for at, job in self._pending if at <= now]
            self._pending = [(at, job) for at, job in self._pending if at > now]
        if due:
            self.store.add(due)

    def get_job(self, job_id: str) -> Job | None:
        return self.store.get(job_id)

    def _get(self, job_id: str, request_id: str) -> bytes:
        job = self.get_job(job_id)
        if job is not None:
            return render_job(request_id, job)
        if self.behaviour.get_missing == "nonexist":
            return render_missing(request_id, [job_id])
        raise Refused(404, "NoSuchJob", f"job {job_id} does not exist")

    def cancel_job(self, job: Job) -> None:
        self.store.set_state(job.job_id, "Cancel", self._now())

    def _cancel(self, job_id: str, request_id: str) -> bytes:
        """200 with no body (the vendor's page: "this request has no response body")."""
        job = self.get_job(job_id)
        if job is None:
            raise Refused(404, "NoSuchJob", f"job {job_id} does not exist")
        if job.state not in ENDED:
            self.cancel_job(job)
        elif self.behaviour.cancel_ended == "refuse":
            raise _bad(f"job {job_id} has already ended ({job.state})", "InvalidRequest")
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
    ordered = in_order(nodes, CANONICAL_ORDER.get(parent, ()))
    return tuple(
        (tag, value if isinstance(value, str) else canonical(value, tag)) for tag, value in ordered
    )


def _fingerprint(f: Filters) -> str:
    """The filters and order a token is bound to (instants, so any offset spelling is the same)."""
    values = [getattr(f, x.name) for x in fields(f) if x.name not in ("size", "size_requested")]
    values = [sorted(v) if isinstance(v, frozenset) else v for v in values]
    return repr([v.timestamp() if isinstance(v, datetime) else v for v in values])
