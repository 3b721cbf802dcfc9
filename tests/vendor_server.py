"""A server of the batch-job API that answers, in every detail it can, as the vendor's pages show.

Written only for tests, on werkzeug. It shares the signer (there is one by design:
``conformance.signing``) and nothing else with the project: its own data, validation, filtering,
XML writing and tokens. Where the vendor's pages show an answer it gives that answer; where
they leave a choice (API-NOTES §6) it makes one, named in ``CHOICES``.

What the pages show, and this server does:
- ``GET /inventorytriggerjob``: the ten parameters (an empty one is an absent one), a
  ``<Response>`` with ``RequestId``, ``JobsDetail``... and an opaque ``NextToken`` (pretty-printed
  like the sample, no XML declaration); jobs by CreationTime, ``+0800`` as the samples write it;
  time bounds inclusive ("大于等于", "小于等于").
- ``POST /inventorytriggerjob`` (pages 460/80155 and 436/50618, "Triggering Job"): a
  ``<Request>`` with ``Name`` (required; Chinese, letters, digits, ``—``/``-`` and ``_``, at most
  128 characters), ``Type`` (``Workflow``, the default, or ``Job``), ``Input`` (required, one of
  ``Manifest``, ``UrlFile``, ``Prefix``, ``Object``) and ``Operation`` (required; ``WorkflowIds``
  required for a Workflow job). The answer holds the new job as ``JobsDetail``, State
  ``Submitted``, CreationTime now in ``+0800``, JobId ``b`` and 32 hex digits (a version-1 UUID,
  as the sample's ``b3deffea2f84911ec9cb15254008618d9`` is).
- ``GET /inventorytriggerjob/<JobId>``: ``<Response><RequestId/><JobsDetail/></Response>``; an ID
  that names no job is listed in ``NonExistJobIds`` ("not returned when all exist"), with HTTP 200
  and no ``JobsDetail``. Several IDs may be asked at once, comma-separated (the page's "the IDs
  queried" suggests so; nothing else shows it).
- ``PUT /inventorytriggerjob/<JobId>?cancel``: "no request body", "no response body": HTTP 200,
  ``Content-Length: 0``, no ``Content-Type``, and ``x-ci-request-id``.
- Errors: CI's body ``<?xml version='1.0' encoding='utf-8' ?><Error><Code/><Message/>
  <RequestId/><TraceId/></Error>`` as ``application/xml``, with ``x-ci-request-id`` and
  ``x-ci-trace-id``; authentication failures are 401 with CI's codes. ``Server: tencent-ci`` on
  every answer.

Not shown by the pages at hand, so chosen here: what a ``Job``-type create must hold in
``Operation`` beyond being there (the independent-node page's full table was not at hand: this
server asks for nothing more, so the suite's ``QueueId``-only Job passes); error codes for an
unknown path (404 NoSuchResource), a wrong method (405 MethodNotAllowed) and a cancel of an
unknown job (404 NoSuchJob); unknown list parameters are ignored, a repeated one is refused.
werkzeug closes every connection, where the sample shows ``Connection: keep-alive``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import random
import re
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from xml.sax.saxutils import escape

from werkzeug.datastructures import EnvironHeaders
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request

from conformance.signing import Credentials, Reason, split_query, verify

CREDS = Credentials("AKIDvendorPermanent00000000000000000", "vendor-permanent-secret-key")
TEMP = Credentials(
    "AKIDvendorTemporary00000000000000000",
    "vendor-temporary-secret-key",
    "vendor-session-token-0123456789abcdef",
)
"""Permanent credentials, and a temporary pair with its security token."""

CHOICES = {
    "size_over_100": "refuse",  # 400 InvalidArgument
    "start_after_end": "empty",  # the two inclusive bounds select nothing
    "last_page_token": "absent",  # no NextToken element at all on the last page
    "full_last_page": "no-token",  # a full page with nothing after it is the last page
    "page_fill": "full",  # size jobs on every page a token follows
    "empty_values": "absent",  # size= means no size, as in the vendor's sample request
    "auth_status": "401",  # CI's codes
    "error_extras": "trace-id",  # CI's Error: Code, Message, RequestId, TraceId
    "ties_desc": "job-id-desc",  # equal CreationTime: the Asc walk reversed
    "ties_asc": "job-id-asc",
    "get_missing": "nonexist",  # 200 with NonExistJobIds (the get page documents it)
    "cancel_ended": "refuse",  # 400 InvalidRequest for a job that has ended
    "writes_during_walk": "stable",  # keyset tokens: no repeats while jobs are created
}
"""The open points of API-NOTES §6 as this server answers them (``summary["behaviour"]``)."""

CST = timezone(timedelta(hours=8))
TYPES = ("Workflow", "Job")
STATES = ("Submitted", "Running", "Success", "Failed", "Pause", "Cancel")
ENDED = frozenset({"Success", "Failed", "Cancel"})
PARAMS = frozenset({"nextToken", "size", "type", "orderByTime", "states", "startCreationTime",
                    "endCreationTime", "workflowId", "jobId", "name"})  # fmt: skip
TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)([+-])(\d\d)(\d\d)")
# Name on the create pages: "支持中文、英文、数字、—和_,长度限制128字符" (zh); "letters, digits,
# hyphens, and underscores" (en). Chinese here is the CJK Unified Ideographs block.
NAME = re.compile(r"[\u4e00-\u9fffA-Za-z0-9_\-\u2014]{1,128}")
INPUTS = ("Manifest", "UrlFile", "Prefix", "Object")
OPERATION_ORDER = ("TimeInterval", "WorkflowIds", "QueueId", "QueueType", "UserData", "CallBack",
                   "Tag", "CallBackFormat", "CallBackType", "CallBackMqConfig", "JobParam",
                   "Output", "JobLevel", "FreeTranscode")  # fmt: skip
MAX_BODY = 64 * 1024
AUTH_CODES = {
    Reason.MISSING: "MissingAuthorization",
    Reason.UNKNOWN_SECRET_ID: "SecretidNotExist",
    Reason.EXPIRED: "SignatureExpired",
}
"""401 codes of CI's pages; every other refusal is InvalidAuthorization."""

# An XML subtree: (tag, text) for a leaf, (tag, [children]) for a container.
Node = tuple[str, "str | list[Node]"]


class Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def invalid(message: str) -> Refusal:
    return Refusal(400, "InvalidArgument", message)


def parse_time(text: str) -> datetime:
    """``%Y-%m-%dT%H:%M:%S%z`` with a ``±HHMM`` offset, nothing else."""
    m = TIME.fullmatch(text)
    if not m:
        raise ValueError(text)
    y, mo, d, h, mi, s, sign, oh, om = m.groups()
    offset = timedelta(hours=int(oh), minutes=int(om)) * (1 if sign == "+" else -1)
    return datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=timezone(offset))


def cst(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(CST).strftime("%Y-%m-%dT%H:%M:%S%z")


@dataclass
class Job:
    job_id: str
    type: str
    name: str
    state: str
    created: datetime
    input: Node
    operation: list[Node]
    started: datetime | None = None
    ended: datetime | None = None
    code: str = "Success"
    message: str = ""
    workflow_ids: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        text = next((v for t, v in self.operation if t == "WorkflowIds" and isinstance(v, str)), "")
        self.workflow_ids = tuple(w.strip() for w in text.split(",") if w.strip())

    @property
    def key(self) -> tuple[int, str]:
        """The order of a walk: CreationTime as an instant, then JobId (a stable tie order)."""
        return int(self.created.timestamp()), self.job_id

    def node(self) -> Node:
        return ("JobsDetail", [
            ("Code", self.code), ("Type", self.type), ("Message", self.message),
            ("Name", self.name), ("JobId", self.job_id), ("State", self.state),
            ("CreationTime", cst(self.created)), ("StartTime", cst(self.started)),
            ("EndTime", cst(self.ended)), ("Input", [self.input]), ("Operation", self.operation),
        ])  # fmt: skip


def job_id(rng: random.Random | None = None) -> str:
    """``b`` and a version-1 UUID's 32 hex digits, like the vendor's JobIds."""
    if rng is None:
        return "b" + uuid.uuid1().hex
    return "b" + uuid.UUID(int=rng.getrandbits(128), version=1).hex


# --- XML ---------------------------------------------------------------------------------


def render(node: Node, depth: int = 0) -> list[str]:
    """Pretty-printed as the vendor's samples are: two spaces a level, ``<Message/>`` when empty."""
    tag, value = node
    pad = "  " * depth
    if isinstance(value, str):
        return [f"{pad}<{tag}/>" if value == "" else f"{pad}<{tag}>{escape(value)}</{tag}>"]
    lines = [f"{pad}<{tag}>"]
    for child in value:
        lines += render(child, depth + 1)
    return [*lines, f"{pad}</{tag}>"]


def response(request_id: str, nodes: Iterable[Node]) -> bytes:
    lines = render(("Response", [("RequestId", request_id), *nodes]))
    return "\n".join(lines).encode("utf-8")


def error_body(code: str, message: str, request_id: str, trace_id: str) -> bytes:
    return (
        f"<?xml version='1.0' encoding='utf-8' ?><Error><Code>{code}</Code>"
        f"<Message>{escape(message)}</Message><RequestId>{request_id}</RequestId>"
        f"<TraceId>{trace_id}</TraceId></Error>"
    ).encode()


def node_of(el: ET.Element) -> Node:
    children = list(el)
    return (el.tag, [node_of(c) for c in children]) if children else (el.tag, el.text or "")


# --- the data ----------------------------------------------------------------------------

SEED_NAMES = ("demo", "Demo", "demo-2", "demo_transcode", "批量转码", "批量转码-高清", "转码—标清",
              "inventory", "inventory_job-01", "snapshot")  # fmt: skip


def dataset(n: int = 120, seed: int = 2022) -> list[Job]:
    """Jobs as the vendor's samples show them: both types, all six states, several workflows,
    names that are case variants and prefixes of others, groups of three with one CreationTime."""
    rng = random.Random(seed)
    workflows = ["w" + uuid.UUID(int=rng.getrandbits(128)).hex for _ in range(4)]
    moment = datetime(2022, 6, 27, 15, 23, 10, tzinfo=CST)
    jobs = []
    for i in range(n):
        if i % 10 not in (1, 2):  # jobs 10k, 10k+1 and 10k+2 share a CreationTime
            moment += timedelta(seconds=rng.choice([1, 7, 60, 3600, 86400, 5 * 86400]))
        kind = "Workflow" if rng.random() < 0.45 else "Job"
        state = STATES[i % 6] if i < 12 else rng.choice(STATES)
        interval = ("TimeInterval", [("Start", "2022-02-01T12:00:00+0800"),
                                     ("End", "2022-05-01T12:00:00+0800")])  # fmt: skip
        if kind == "Workflow":
            ids = ",".join(rng.sample(workflows, 2 if i % 17 == 0 else 1))
            operation: list[Node] = [interval, ("WorkflowIds", ids)]
        else:
            operation = [
                interval,
                ("QueueId", "p893bcda225bf4945a378da6662e81a89"),
                ("UserData", "this is my inventorytriggerjob" if i % 3 else ""),
                ("CallBack", "https://www.callback.com"),
                ("JobParam", [("TemplateId", "t1460606b9752148c4ab182f55163ba7cd")]),
                ("Output", [("Region", "ap-chongqing"), ("Bucket", "test-1234567890"),
                            ("Object", "output/${InventoryTriggerJobId}/out.mp4")]),
                ("JobLevel", str(i % 3)),
            ]  # fmt: skip
        started = (
            moment + timedelta(seconds=1) if state in ("Running", "Success", "Failed") else None
        )
        ended = moment + timedelta(seconds=120) if state in ENDED else None
        jobs.append(Job(
            job_id=job_id(rng), type=kind, name=rng.choice(SEED_NAMES), state=state,
            created=moment, input=(rng.choice(INPUTS), f"input/{i}"), operation=operation,
            started=started, ended=ended,
            code="InternalError" if state == "Failed" else "Success",
            message="internal error" if state == "Failed" else "",
        ))  # fmt: skip
    return jobs


# --- the server --------------------------------------------------------------------------


class VendorServer:
    """The WSGI application. ``jobs`` are its data; ``credentials`` the keys it knows."""

    def __init__(
        self,
        jobs: Iterable[Job],
        credentials: Iterable[Credentials] = (CREDS, TEMP),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.jobs = {j.job_id: j for j in jobs}
        self.keys = {c.secret_id: c for c in credentials}
        self.clock = clock
        self.lock = threading.Lock()
        self.token_key = os.urandom(16)
        self.counter = 0

    # --- WSGI ---------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        request = Request(environ)
        rid = self.request_id()
        headers = [("Server", "tencent-ci"), ("x-ci-request-id", rid)]
        try:
            status, body = self.handle(request, environ, rid)
        except Refusal as r:
            trace = base64.b64encode(uuid.uuid4().hex.encode() + uuid.uuid4().hex.encode()).decode()
            status, body = r.status, error_body(r.code, r.message, rid, trace)
            headers.append(("x-ci-trace-id", trace))
        if body:
            headers.append(("Content-Type", "application/xml"))
        headers.append(("Content-Length", str(len(body))))
        start_response(f"{status} {REASONS[status]}", headers)
        return [body]

    def request_id(self) -> str:
        """Like the vendor's: base64 of ``<hex time>_<hex>_<hex>_<hex counter>``."""
        with self.lock:
            self.counter += 1
            n = self.counter
        raw = f"{int(self.clock()):x}_{os.urandom(4).hex()}_{os.urandom(2).hex()}_{n:x}"
        return base64.b64encode(raw.encode()).decode()

    def handle(self, request: Request, environ, rid: str) -> tuple[int, bytes]:
        body = request.get_data()  # read whatever the answer: the connection stays usable
        try:
            params = split_query(environ.get("QUERY_STRING", ""))
        except ValueError as exc:
            raise invalid(f"the query string is malformed: {exc}") from None
        path = request.path
        verdict = verify(request.method, path, params, EnvironHeaders(environ),
                         self.keys.get, self.clock())  # fmt: skip
        if not verdict.accepted:
            reason = verdict.refusal
            code = AUTH_CODES.get(reason, "InvalidAuthorization")  # type: ignore[arg-type]
            raise Refusal(401, code, reason.value)  # type: ignore[union-attr]
        if path == "/inventorytriggerjob":
            if request.method == "GET":
                return 200, self.list(params, rid)
            if request.method == "POST":
                return 200, self.create(body, rid)
        elif path.startswith("/inventorytriggerjob/"):
            ids = path.removeprefix("/inventorytriggerjob/")
            if request.method == "GET":
                return 200, self.get(ids, rid)
            if request.method == "PUT":
                if "cancel" not in {k for k, _ in params}:
                    raise Refusal(400, "InvalidRequest", "PUT on a job takes ?cancel")
                return 200, self.cancel(ids)
        else:
            raise Refusal(404, "NoSuchResource", f"no resource at {path[:100]}")
        raise Refusal(405, "MethodNotAllowed", f"{request.method} is not allowed on {path[:100]}")

    # --- list ---------------------------------------------------------------------------

    def list(self, params: list[tuple[str, str]], rid: str) -> bytes:
        q: dict[str, str] = {}
        for k, v in params:
            if k in PARAMS:
                if k in q:
                    raise invalid(f"{k} is given more than once")
                q[k] = v
        q = {k: v for k, v in q.items() if v != ""}  # an empty parameter is an absent one
        size = q.get("size", "10")
        if not re.fullmatch(r"[0-9]{1,12}", size) or not 1 <= int(size) <= 100:
            raise invalid(f"size must be an integer from 1 to 100, not {size[:40]!r}")
        order = q.get("orderByTime", "Desc")
        if order not in ("Desc", "Asc"):
            raise invalid(f"orderByTime must be Desc or Asc, not {order[:40]!r}")
        jtype = q.get("type")
        if jtype is not None and jtype not in TYPES:
            raise invalid(f"type must be Workflow or Job, not {jtype[:40]!r}")
        states = None
        if "states" in q:
            wanted = q["states"].split(",")
            bad = [s for s in wanted if s not in ("All", *STATES)]
            if bad:
                raise invalid(f"states holds an unknown state {bad[0][:40]!r}")
            states = None if "All" in wanted else frozenset(wanted)
        bounds = {}
        for key in ("startCreationTime", "endCreationTime"):
            if key in q:
                try:
                    bounds[key] = int(parse_time(q[key]).timestamp())
                except ValueError:
                    raise invalid(f"{key} must be %Y-%m-%dT%H:%M:%S%z") from None
        start, end = bounds.get("startCreationTime"), bounds.get("endCreationTime")
        workflow, jid, name = q.get("workflowId"), q.get("jobId"), q.get("name")

        def matches(j: Job) -> bool:
            t = j.key[0]
            return (
                (jtype is None or j.type == jtype)
                and (states is None or j.state in states)
                and (start is None or t >= start)
                and (end is None or t <= end)
                and (workflow is None or workflow in j.workflow_ids)
                and (jid is None or j.job_id == jid)
                and (name is None or j.name == name)
            )

        context = repr((jtype, order, sorted(states or ()), start, end, workflow, jid, name))
        digest = hashlib.sha256(context.encode()).hexdigest()[:16]
        after = self.read_token(q["nextToken"], digest) if "nextToken" in q else None
        with self.lock:
            rows = sorted((j for j in self.jobs.values() if matches(j)), key=lambda j: j.key,
                          reverse=order == "Desc")  # fmt: skip
            if after is not None:  # keyset: strictly past the last job the previous page held
                rows = [j for j in rows if (j.key < after if order == "Desc" else j.key > after)]
            page = rows[: int(size)]
            nodes = [j.node() for j in page]
        more: list[Node] = []
        if len(rows) > len(page):  # no NextToken element at all on the last page
            more = [("NextToken", self.make_token(page[-1].key, digest))]
        return response(rid, [*nodes, *more])

    def make_token(self, key: tuple[int, str], digest: str) -> str:
        """Opaque: base64url of the last job's position and the filters, with a MAC."""
        payload = f"{key[0]}.{key[1]}.{digest}".encode()
        mac = hmac.new(self.token_key, payload, hashlib.sha256).digest()[:12]
        return base64.urlsafe_b64encode(mac + payload).decode().rstrip("=")

    def read_token(self, token: str, digest: str) -> tuple[int, str]:
        refused = invalid("nextToken is not a token this service issued for these parameters")
        if not re.fullmatch(r"[A-Za-z0-9_-]{20,400}", token):
            raise refused
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except ValueError:
            raise refused from None
        if base64.urlsafe_b64encode(raw).decode().rstrip("=") != token:  # one spelling only
            raise refused
        mac, payload = raw[:12], raw[12:]
        good = hmac.new(self.token_key, payload, hashlib.sha256).digest()[:12]
        if not hmac.compare_digest(mac, good):
            raise refused
        seconds, jid, for_filters = payload.decode().split(".")
        if for_filters != digest:
            raise refused
        return int(seconds), jid

    # --- create, get, cancel ------------------------------------------------------------

    def create(self, body: bytes, rid: str) -> bytes:
        if len(body) > MAX_BODY:
            raise Refusal(400, "InvalidRequest", "the request body is too large")
        if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
            raise Refusal(400, "MalformedXML", "the request body is not acceptable XML")
        try:
            root = ET.fromstring(body)
        except ET.ParseError as exc:
            raise Refusal(400, "MalformedXML", f"the request body is not XML: {exc}") from None
        if root.tag != "Request":
            raise Refusal(400, "MalformedXML", "the request body's root must be Request")
        once(root, ("Name", "Type", "Input", "Operation"))
        name = root.findtext("Name")
        if name is None or not NAME.fullmatch(name):
            raise invalid("Name is required: Chinese, letters, digits, — and _, at most 128")
        kind = root.findtext("Type") or "Workflow"
        if kind not in TYPES:
            raise invalid(f"Type must be Workflow or Job, not {kind[:40]!r}")
        given = root.find("Input")
        sources = [c for c in given if c.tag in INPUTS] if given is not None else []
        if len(sources) != 1 or not (sources[0].text or len(sources[0])):
            raise invalid("Input is required, with one of Manifest, UrlFile, Prefix or Object")
        op = root.find("Operation")
        if op is None:
            raise invalid("Operation is required")
        once(op, OPERATION_ORDER)
        operation = sorted((node_of(c) for c in op), key=lambda n: _rank(n[0]))
        fields = dict(operation)
        interval = fields.get("TimeInterval")
        for tag, value in interval if isinstance(interval, list) else []:
            if tag in ("Start", "End"):
                try:
                    parse_time(value if isinstance(value, str) else "")
                except ValueError:
                    raise invalid(f"TimeInterval {tag} must be %Y-%m-%dT%H:%M:%S%z") from None
        workflows = fields.get("WorkflowIds", "")
        if kind == "Workflow" and not (isinstance(workflows, str) and workflows.strip()):
            raise invalid("Operation.WorkflowIds is required for a Workflow job")
        if "JobLevel" in fields and fields["JobLevel"] not in ("0", "1", "2"):
            raise invalid("JobLevel must be 0, 1 or 2")
        user_data = fields.get("UserData", "")
        if (
            not isinstance(user_data, str)
            or len(user_data) > 1024
            or not (user_data.isascii() and user_data.isprintable())
        ):
            raise invalid("UserData is printable ASCII of at most 1024 characters")
        now = datetime.fromtimestamp(int(self.clock()), CST)
        job = Job(job_id(), kind, name, "Submitted", now, node_of(sources[0]), operation)
        with self.lock:
            self.jobs[job.job_id] = job
            node = job.node()
        return response(rid, [node])

    def get(self, ids: str, rid: str) -> bytes:
        asked = ids.split(",")
        if not all(asked):
            raise invalid("a JobId is empty")
        with self.lock:
            found = [self.jobs[i].node() for i in asked if i in self.jobs]
            missing = [i for i in asked if i not in self.jobs]
        extra = [("NonExistJobIds", ",".join(missing))] if missing else []
        return response(rid, [*found, *extra])

    def cancel(self, jid: str) -> bytes:
        with self.lock:
            job = self.jobs.get(jid)
            if job is None:
                raise Refusal(404, "NoSuchJob", f"job {jid[:80]} does not exist")
            if job.state in ENDED:
                raise Refusal(400, "InvalidRequest", f"job {jid} has ended ({job.state})")
            job.state = "Cancel"
            job.ended = datetime.fromtimestamp(int(self.clock()), CST)
        return b""


def once(parent: ET.Element, tags: Iterable[str]) -> None:
    seen = [c.tag for c in parent if c.tag in set(tags)]
    twice = {t for t in seen if seen.count(t) > 1}
    if twice:
        raise invalid(f"{parent.tag}.{sorted(twice)[0]} is given more than once")


def _rank(tag: str) -> int:
    return OPERATION_ORDER.index(tag) if tag in OPERATION_ORDER else len(OPERATION_ORDER)


REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
           405: "Method Not Allowed"}  # fmt: skip


class Handler(WSGIRequestHandler):
    """werkzeug's handler, without the ``Server`` header of its own (the answer names the
    vendor's, ``tencent-ci``). It still closes every connection (werkzeug's choice)."""

    def send_response(self, code: int, message: str | None = None) -> None:
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())


class Serving:
    """The server on a loopback port, in a thread, for a ``with`` block."""

    def __init__(self, app: VendorServer) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # its log lines carry full URLs
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self) -> Serving:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


if __name__ == "__main__":  # python tests/vendor_server.py: serve it for a manual run
    with Serving(VendorServer(dataset())) as s:
        print(s.url, TEMP.secret_id, TEMP.secret_key, TEMP.token, flush=True)
        threading.Event().wait()
