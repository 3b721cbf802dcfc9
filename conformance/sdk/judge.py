"""The judges of one task: every request the SDK sent, and every result it returned.

The request judge checks the raw requests the recorder kept against the request side of the
contract (``RULES``); the result judge compares what the driver printed with the oracle
(``query.expected``) over the scenario's known data, and a surfaced error with the error answers
the service sent. Each finding names its rule (its clause, its contract anchor) and what was seen.
"""

import contextlib
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from email.utils import parsedate_to_datetime
from itertools import pairwise
from typing import Any
from urllib.parse import quote, unquote

from werkzeug.datastructures import Headers

from ..emulator.app import AUTH_CODES, LIST_PARAMS
from ..query import InvalidArgument, Query, expected, parse_filters
from ..signing import (
    AUTH_FIELDS,
    TOKEN_HEADERS,
    Credentials,
    Reason,
    authorization_fields,
    encode,
    key_window,
    sign,
    split_query,
    verify,
)
from ..timefmt import parse_time
from ..xmlmodel import Job, XMLProblem, job_xml, parse_list, safe_parse
from .protocol import DriverOutput, element_json, plus_signed
from .recorder import Hit
from .scenarios import Scenario, Task

PATH = "/inventorytriggerjob"
TIME_FIELDS = frozenset({"CreationTime", "StartTime", "EndTime", "Start", "End"})
RETRY_SLACK = 0.05  # seconds of clock and scheduling slack granted on Retry-After
RFC_9110 = "https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3"

# rule: (its clause's anchor in docs/contract.md, "" where the contract has none; the clause)
RULES: dict[str, tuple[str, str]] = {
    "driver.failed": ("", "Driver protocol: the driver exits 0 after printing the task's outcome (3 when the SDK cannot do the task)"),
    "driver.timeout": ("", "Driver protocol: the driver finishes within CI_CONFORMANCE_TIMEOUT seconds"),
    "driver.output": ("", "Driver protocol: stdout is JSON lines, each an object with one key: job, error, nextToken or log"),
    "request.target": ("writes", "Each task uses its method and path: list GET /inventorytriggerjob, get GET /inventorytriggerjob/<JobId>, create POST /inventorytriggerjob, cancel PUT /inventorytriggerjob/<JobId>?cancel"),
    "request.signature": ("sig-algorithm", "Contract #sig-algorithm, #sig-accept: every request is signed (q-sign-algorithm=sha1) over the method, the decoded path, every query parameter (an empty one as name=) and the listed headers, within its key time"),
    "request.security-token": ("sig-temporary", "Contract #sig-temporary: with temporary credentials every request carries the token in x-cos-security-token or x-ci-security-token"),
    "request.unknown-parameter": ("parameters", "Contract #parameters, #sig-repeated-parameters: only the ten documented parameters (names are case-sensitive), each once"),
    "request.invalid-value": ("parameters", "Contract #parameters, #invalid-input: every value is valid: size a positive integer; type, orderByTime and states from their lists; times YYYY-MM-DDTHH:MM:SS±HHMM"),
    "request.plus-as-space": ("sig-algorithm", "RFC 3986, contract #sig-algorithm: a '+' in a value (a time offset) is sent as %2B; sent raw, it arrives as a space"),
    "request.encoding": ("sig-algorithm", "Contract #sig-algorithm: values are UTF-8 percent-encoded, so the server decodes exactly what the application passed (states lists, spaces, non-ASCII, reserved characters)"),
    "request.meaning": ("filter-exact", "The request asks what the application asked: no filter added, dropped or changed, a value's case and spaces included (an empty parameter counts as absent)"),
    "request.token-echo": ("page-token", "Contract #page-token, #open-token-format: nextToken is the previous page's NextToken byte for byte: opaque, never re-encoded, decoded or parsed"),
    "request.past-last-page": ("page-walk", "Contract #page-walk, #open-last-page-token: a page whose NextToken is empty or absent is the last; nothing is requested after it"),
    "request.stopped-early": ("page-walk", "Contract #page-walk: a walk follows NextToken to the last page, or surfaces the error that stopped it"),
    "request.retry-after": (RFC_9110, "RFC 9110 §10.2.3: after a 429 or 503 with Retry-After, a retry waits at least that long"),
    "request.retried-4xx": ("", "A 4xx answers a request the client got wrong: it is never sent again unchanged"),
    "request.body": ("writes", "Create (460/80155): the body is <Request> with the job's Name, Type, Input and Operation"),
    "result.jobs": ("page-walk", "The SDK returns exactly the jobs the service holds for the query, in the service's order: none missing, none repeated"),
    "result.fields": ("job-fields", "Every documented JobsDetail field comes back as the service sent it: times with their offsets, '-' for no time, WorkflowIds, unescaped text"),
    "result.error": ("error-body", "A service error is surfaced as an error with its HTTP status, and only then"),
    "result.not-found": ("get-missing", 'Contract #get-missing: get of an ID that names no job surfaces "not found" (a notFound line naming the ID, or the service\'s error), never a job or nothing at all'),
    "result.error-code": ("error-body", "Contract #error-body: a surfaced service error carries what the service sent: its Code, its Message, and the Error body's RequestId (not its TraceId, not a header's ID)"),
    "result.next-token": ("page-token", "A page's NextToken is returned as the service sent it"),
    "known.gone": ("", "A finding the --known baseline lists is found again: one that is gone (the SDK fixed, or the finding changed) fails the gate until the baseline is updated (--write-known)"),
}  # fmt: skip


@dataclass(frozen=True)
class Finding:
    rule: str
    message: str
    request: int | None = None  # 1-based index of the request in the task


@dataclass(frozen=True)
class Context:
    """Everything about one task run that the judges look at."""

    scenario: Scenario
    task: Task
    credentials: Credentials  # what the driver was given
    hits: list[Hit]
    output: DriverOutput
    known: list[Job]  # the scenario's data when the task started
    after: Callable[[str], Job | None]  # a job's state once the task has ended


def judge(ctx: Context) -> list[Finding]:
    """Every finding of the task; none means it passed."""
    out = ctx.output
    findings: list[Finding] = []
    if out.timed_out:
        findings.append(Finding("driver.timeout", f"killed after {out.seconds:.1f} s"))
    elif out.exit_code not in (0, None):
        tail = out.stderr.strip().splitlines()[-3:]
        findings.append(Finding("driver.failed", f"exit {out.exit_code}: " + " | ".join(tail)))
    findings += [Finding("driver.output", p) for p in out.problems[:3]]
    findings += judge_requests(ctx)
    if not findings or all(f.rule.startswith("request.") for f in findings):
        findings += judge_result(ctx)
    return findings


# --- requests -------------------------------------------------------------------------------


def _decoded(hit: Hit) -> list[tuple[str, str]] | None:
    try:
        return split_query(hit.raw_query.encode("latin-1").decode("utf-8"))
    except (UnicodeError, ValueError):
        return None


def _plain(params: list[tuple[str, str]] | None) -> list[tuple[str, str]]:
    return [(k, v) for k, v in params or [] if k not in AUTH_FIELDS and k not in TOKEN_HEADERS]


def _xml(body: bytes) -> ET.Element | None:
    try:
        return safe_parse(body)
    except XMLProblem:
        return None


def _request_key(hit: Hit) -> tuple:
    """What makes a request the same request again, its key and token included (a retry with
    other credentials, after an expired token say, is a new request)."""
    params = _decoded(hit)
    pairs = params or []
    fields = authorization_fields(pairs, {"Authorization": hit.header("Authorization") or ""})
    tokens = [hit.header(h) for h in TOKEN_HEADERS] + [v for k, v in pairs if k in TOKEN_HEADERS]
    query = hit.raw_query if params is None else sorted(_plain(params))
    return hit.method, hit.path, query, hit.body, fields.get("q-ak"), [t for t in tokens if t]


def _same_meaning(name: str, got: str, want: str) -> bool:
    """Two spellings of one value: an instant in two offsets, a states list in two orders."""
    if name == "states":
        return set(got.split(",")) == set(want.split(","))
    if name in ("startCreationTime", "endCreationTime"):
        with contextlib.suppress(ValueError):
            return parse_time(got) == parse_time(want)
    return False


def judge_requests(ctx: Context) -> list[Finding]:
    task, hits, findings = ctx.task, ctx.hits, []
    if not hits:
        sent_nothing = ctx.output.exit_code == 0 and not ctx.output.timed_out
        return [Finding("request.target", "the SDK sent no request at all")] if sent_nothing else []
    method = {"list": "GET", "create": "POST", "get": "GET", "cancel": "PUT"}[task.op]
    path = f"{PATH}/{task.job_id}" if task.op in ("get", "cancel") else PATH
    for i, hit in enumerate(hits, 1):
        params = _decoded(hit)
        if params is None:
            bad = f"the query is not valid percent-encoded UTF-8: {hit.raw_query[:200]!r}"
            findings.append(Finding("request.encoding", bad, i))
            continue
        findings += _signature(hit, params, ctx.credentials, i)
        cancel = task.op != "cancel" or "cancel" in [k for k, _ in _plain(params)]
        if (hit.method, hit.path) != (method, path) or not cancel:
            sent = hit.path + (f"?{hit.raw_query[:200]}" if hit.raw_query else "")
            text = f"the {task.op} task sent {hit.method} {sent}"
            findings.append(Finding("request.target", text, i))
        elif task.op == "list":
            findings += _list_parameters(task, hit, params, i)
        elif task.op == "create":
            findings += _create_body(task, hit, i)
    if task.op == "list":
        listed = [(i, h) for i, h in enumerate(hits, 1) if (h.method, h.path) == ("GET", PATH)]
        findings += _pagination(task, listed, ctx.output)
    return _first_per_rule(findings + _retries(hits))


def _first_per_rule(findings: list[Finding]) -> list[Finding]:
    """One finding per rule (the first), saying how many requests broke it."""
    counts, kept = Counter(f.rule for f in findings), {}
    for f in findings:
        more = counts[f.rule] - 1
        kept.setdefault(f.rule, replace(f, message=f.message + (
            f" (and {more} more request{'s' if more > 1 else ''})" if more else "")))  # fmt: skip
    return list(kept.values())


# Common signing mistakes, tried when a signature does not match, to name the cause.
_DIAGNOSES: list[tuple[str, Callable[[Hit, list[tuple[str, str]]], tuple[str, list]]]] = [
    ("it matches parameter names and values lower-cased before encoding: the client lower-cases "
     "values too, and names before encoding them (§4.3: encode, then lower-case the names only)",
     lambda hit, params: (hit.path, [(k.lower(), v.lower()) for k, v in params])),
    ("it matches the values with '+' kept as '+': the client signed a '+' that it sent "
     "unencoded, which the server reads as a space",
     lambda hit, params: (hit.path, split_query(hit.raw_query.replace("+", "%2B")))),
    ("it matches the percent-encoded path: the client signs the path as sent instead of "
     "decoded (§4.6)", lambda hit, params: (quote(hit.path, safe="/"), params)),
]  # fmt: skip
SPACE_AS_PLUS = ("it matches the parameters signed with a space as '+': the client form-encodes "
                 "the values it signs, where the signature encodes a space as %20 (§4.3)")  # fmt: skip
EVERY_PARAMETER = "(every parameter is signed, an empty one as name=; §4.3)"
UNEXPLAINED = "no common mistake explains it: check the SecretKey and the encoding of names and values"  # fmt: skip
MILLISECONDS = ("the key time is in milliseconds: q-sign-time and q-key-time are Unix seconds "
                "(<start>;<end>, §4.1)")  # fmt: skip


def _signed_with_plus(hit: Hit, params: list, headers: Headers, creds: Credentials) -> bool:
    """Does the signature match over the parameters form-encoded (a space signed as ``+``)?"""
    fields = authorization_fields(params, headers)
    if not headers.get("Authorization"):  # presigned: the q-* fields are not signed
        params = [(k, v) for k, v in params if k not in AUTH_FIELDS]
    listed = set(fields.get("q-url-param-list", "").split(";"))
    names = set(fields.get("q-header-list", "").split(";"))
    signed = [(k, v) for k, v in params if encode(k).lower() in listed]
    sent = [(k, v) for k, v in headers.items() if encode(k).lower() in names]
    bare = [(k, v.rpartition(":")[0] or v if k.lower() == "host" else v) for k, v in sent]
    return any(
        plus_signed(sign(creds.secret_key, hit.method, hit.path, signed, variant,
                         fields["q-key-time"], fields["q-sign-time"])).signature
        == fields["q-signature"].lower()
        for variant in (sent, bare)
    )  # fmt: skip


def _signature(hit: Hit, params: list, creds: Credentials, i: int) -> list[Finding]:
    headers, lookup = Headers(hit.headers), {creds.secret_id: creds}.get
    verdict = verify(hit.method, hit.path, params, headers, lookup, hit.wall)
    fields, refusal = authorization_fields(params, headers), verdict.refusal
    if refusal in (Reason.TOKEN_MISSING, Reason.TOKEN_WRONG):
        return [Finding("request.security-token", refusal.value, i)]
    if refusal is None:
        listed = set(fields.get("q-url-param-list", "").split(";"))
        unsigned = [f"{k}={v}" for k, v in _plain(params) if encode(k).lower() not in listed]
        text = f"parameters sent but not signed: {', '.join(unsigned)} {EVERY_PARAMETER}"
        return [Finding("request.signature", text, i)] if unsigned else []
    text = refusal.value + (f": {verdict.detail}" if verdict.detail else "")
    # A key or sign time written in milliseconds: its start is now, a thousand times over.
    windows = [key_window(fields.get(name, "")) for name in ("q-key-time", "q-sign-time")]
    in_ms = any(w and abs(w[0] / 1000 - hit.wall) < 86400 for w in windows)
    if refusal in (Reason.EXPIRED, Reason.NOT_YET_VALID) and in_ms:
        text += f"; {MILLISECONDS}"
    if refusal is Reason.MISMATCH:
        cause = next((d for d, rewrite in _DIAGNOSES if verify(
            hit.method, *rewrite(hit, params), headers, lookup, hit.wall).refusal is None), None)  # fmt: skip
        if cause is None and any(" " in k + v for k, v in params):
            with contextlib.suppress(KeyError, ValueError):
                cause = SPACE_AS_PLUS if _signed_with_plus(hit, params, headers, creds) else None
        lists = fields.get("q-url-param-list", ""), fields.get("q-header-list", "")
        text += f" (q-url-param-list={lists[0]!r}, q-header-list={lists[1]!r}); {cause or UNEXPLAINED}"  # fmt: skip
    return [Finding("request.signature", text, i)]


def _list_parameters(task: Task, hit: Hit, params: list, i: int) -> list[Finding]:
    plain = _plain(params)
    names = [k for k, _ in plain]
    findings = []
    odd = [k for k in names if k not in LIST_PARAMS]
    odd += sorted({k for k in names if k in LIST_PARAMS and names.count(k) > 1})
    if odd:
        text = "unknown or repeated: " + ", ".join(_named(k) for k in odd)
        findings.append(Finding("request.unknown-parameter", text, i))
    sent = {k: v for k, v in plain if k in LIST_PARAMS}
    miscased = {_documented(k) for k in names if k not in LIST_PARAMS} - {None}
    wrong_value = False
    for name, want in task.params:
        got = sent.get(name, "")
        if got == want or (not got and not want) or (got and _same_meaning(name, got, want)):
            continue  # the same value, or the same meaning spelled otherwise (the SDK's choice)
        wrong_value = True
        if name in miscased:
            continue  # sent under another case of its name: request.unknown-parameter says so
        if got and _altered(got, want):
            text = f"{name}: sent {got!r} for the application's {want!r}: {_altered(got, want)}"
            findings.append(Finding("request.meaning", text, i))
        elif "+" in want and got == want.replace("+", " ") and "+" in hit.raw_query:
            text = f"{name}: the task's {want!r} arrives as {got!r}: the '+' was sent raw"
            findings.append(Finding("request.plus-as-space", text, i))
        elif not got:
            findings.append(Finding("request.meaning", f"{name}={want!r} was not sent", i))
        else:
            text = f"{name}: the server decoded {got!r}; the application passed {want!r}"
            findings.append(Finding("request.encoding", text + _hint(got, want), i))
    query = Query.from_params({k: v for k, v in sent.items() if k != "nextToken"})
    try:
        filters = parse_filters(query)
    except InvalidArgument as exc:
        return findings + ([] if wrong_value else [Finding("request.invalid-value", str(exc), i)])
    if not wrong_value:
        asked = parse_filters(task.query())
        # A page size the application did not choose is the SDK's to choose.
        free = {"size", "size_requested"} if not dict(task.params).get("size") else set()
        changed = [f for f, v in vars(asked).items() if f not in free and v != getattr(filters, f)]
        if changed:
            extra = sorted(set(sent) - {k for k, _ in task.params} - {"nextToken"})
            adds = f" (it adds {', '.join(f'{k}={sent[k]}' for k in extra)})" if extra else ""
            text = f"the request changes {', '.join(changed)}{adds}"
            findings.append(Finding("request.meaning", text, i))
    return findings


def _documented(name: str) -> str | None:
    """The documented parameter that ``name`` spells in another case, if any."""
    return next((p for p in LIST_PARAMS if p.lower() == name.lower() and p != name), None)


def _named(name: str) -> str:
    right = _documented(name)
    note = f" (the documented name is {right!r}: names are case-sensitive)" if right else ""
    return repr(name) + note


def _altered(got: str, want: str) -> str:
    """How a client changed a value it should have passed as it is: its case, or its spaces."""
    if got != want and got.strip() == want.strip():
        return "the client trimmed the value's leading or trailing spaces"
    if got != want and got.casefold() == want.casefold():
        return "the client changed the value's case (values are matched case-sensitively)"
    return ""


def _short(text: str | None, limit: int = 64) -> str:
    """A long token, shortened for a message (both ends kept)."""
    return repr(text if text is None or len(text) <= limit else text[:40] + "…" + text[-16:])


def _hint(got: str, want: str) -> str:
    if "+" in want and got == want.replace("+", " "):
        return " (a '+' sent raw arrives as a space)"
    if unquote(got) == want:
        return " (encoded twice)"
    if got == unquote(want):
        return " (the client decoded it)"
    with contextlib.suppress(UnicodeError):
        if got.encode("latin-1").decode("utf-8") == want:
            return " (UTF-8 read as Latin-1)"
    return ""


def _next_token(hit: Hit) -> str | None:
    """The NextToken of a 200 list answer ("" when empty, None when absent or unreadable)."""
    token = None if (root := _xml(hit.response_body)) is None else root.find("NextToken")
    return None if token is None else (token.text or "")


def _sent_token(params: list[tuple[str, str]] | None) -> str:
    """The nextToken a request sent; under a name of another case (``nexttoken``) too, which
    request.unknown-parameter reports: the echo itself is judged on the value."""
    plain = _plain(params)
    exact = [v for k, v in plain if k == "nextToken"]
    return (exact or [v for k, v in plain if k.lower() == "nexttoken"] or [""])[0]


def _pagination(task: Task, list_hits: list[tuple[int, Hit]], out: DriverOutput) -> list[Finding]:
    findings: list[Finding] = []
    issued: str | None = None  # NextToken of the latest 200 page; None before the first
    ended = False
    for i, hit in list_hits:
        sent = _sent_token(_decoded(hit))
        if ended:
            why = "the last page" if task.walk else "the one page the task asked for"
            text = f"a request after {why} (nextToken={_short(sent)})"
            findings.append(Finding("request.past-last-page", text, i))
        elif sent != (issued or ""):
            over = " (the walk started over from the first page)" if not sent else ""
            text = f"sent nextToken {_short(sent)}; the server issued {_short(issued)}{over}"
            findings.append(Finding("request.token-echo", text + _hint(sent, issued or ""), i))
        if hit.status == 200:
            issued = _next_token(hit)
            ended = not issued or not task.walk
    # A walk that stops short is judged here only when nothing else explains it: the SDK
    # surfaced no error (a parse error, a refusal: the result judge's), the driver ended well.
    quiet = out.error is None and out.exit_code in (0, None) and not out.timed_out
    if task.walk and list_hits and issued and not ended and quiet:
        i, last = list_hits[-1]
        if last.status == 200:
            text = f"the walk stopped at a page whose NextToken is {_short(issued)}"
        elif last.status:
            text = (f"the walk stopped after HTTP {last.status} {_error_code(last)} to the request "
                    f"for nextToken={_short(issued)}, and surfaced no error: the pages from there on "
                    "are missing")  # fmt: skip
        else:
            text = (f"the walk stopped waiting for the page of nextToken={_short(issued)} (no "
                    "answer had come when the driver ended), and surfaced no error")  # fmt: skip
        findings.append(Finding("request.stopped-early", text, i))
    return findings


def _retry_after(value: str | None) -> float | None:
    with contextlib.suppress(ValueError):
        return float(value or "")  # seconds
    with contextlib.suppress(TypeError, ValueError):  # an HTTP date
        when = parsedate_to_datetime(value or "")
        return max(0.0, (when - datetime.now().astimezone()).total_seconds())
    return None


def _retries(hits: list[Hit]) -> list[Finding]:
    findings = []
    for i, (prev, nxt) in enumerate(pairwise(hits), 2):
        if _request_key(prev) != _request_key(nxt):
            continue
        if prev.status in (429, 503):
            wait = _retry_after(prev.response_header("Retry-After"))
            gap = nxt.arrived - prev.answered
            if wait is not None and gap + RETRY_SLACK < wait:
                text = f"retried {gap:.2f} s after HTTP {prev.status} with Retry-After: {wait:g}"
                findings.append(Finding("request.retry-after", text, i))
        elif 400 <= prev.status < 500:
            text = f"the same request again after HTTP {prev.status} {_error_code(prev)}"
            findings.append(Finding("request.retried-4xx", text, i))
    return findings


def _error_code(hit: Hit) -> str:
    return "" if (root := _xml(hit.response_body)) is None else root.findtext("Code") or ""


def _create_body(task: Task, hit: Hit, i: int) -> list[Finding]:
    try:
        root = safe_parse(hit.body)
    except XMLProblem as exc:
        return [Finding("request.body", f"the body is not XML: {exc}", i)]
    if root.tag != "Request":
        return [Finding("request.body", f"the root is <{root.tag}>, not <Request>", i)]
    return [
        Finding("request.body", f"{where}: sent {got!r}, the application passed {want!r}", i)
        for where, want, got in _diffs(task.job or {}, element_json(root))[:1]
    ]


# --- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    jobs: list[Job] | None = None  # None: an error is expected
    error: tuple[int, str] | None = None
    alternative: tuple[int, str] | None = None  # an error also acceptable (503 not retried)
    count: int | None = None  # a page: how many of ``jobs`` come first (None: all)
    missing: str = ""  # get: the JobId that names no job (the SDK must say "not found")


def expect(ctx: Context) -> Expected:
    """What the SDK must return for the task, from the oracle over the known data."""
    task, scenario = ctx.task, ctx.scenario
    alternative = (503, "SlowDown") if scenario.shape.slowdown else None
    if task.credentials == "wrong-key":
        ci, cos = AUTH_CODES[Reason.MISMATCH]
        return Expected(error=(401, ci[0]) if scenario.behaviour.auth_status == "401" else (403, cos[0]))  # fmt: skip
    if task.op == "list":
        try:
            filters = parse_filters(task.query(), clamp_size=scenario.behaviour.size_over_100 == "clamp")  # fmt: skip
        except InvalidArgument:
            return Expected(error=(400, "InvalidArgument"))
        jobs = expected(ctx.known, filters)
        count = len(jobs) if task.walk else min(filters.size, len(jobs))
        return Expected(jobs=jobs, count=count, alternative=alternative)
    if task.op == "get":
        job = next((j for j in ctx.known if j.job_id == task.job_id), None)
        if job is None and scenario.behaviour.get_missing == "nonexist":
            return Expected(jobs=[], missing=task.job_id)
        if job is None:
            return Expected(error=(404, "NoSuchJob"), missing=task.job_id)
        return Expected(jobs=[job], alternative=alternative)
    created = [h for h in ctx.hits if h.method == "POST" and h.status == 200]
    if task.op == "create" and created:
        return Expected(jobs=list(parse_list(created[-1].response_body, check=False).jobs))
    return Expected(jobs=[], alternative=alternative)  # cancel: no body, nothing but success


def judge_result(ctx: Context) -> list[Finding]:
    want, out = expect(ctx), ctx.output
    if out.unsupported or (want.missing and not out.jobs and want.missing in out.not_found):
        return []  # "not found", said as the protocol says it
    if want.missing and want.error is None:
        return _judge_missing(ctx, want.missing)
    if out.error is not None:
        return _judge_error(ctx, want, out.error)
    if want.jobs is None:
        status, code = want.error or (0, "")
        text = f"the SDK returned {len(out.jobs)} job(s) and no error; the service answers HTTP {status} {code}"
        return [Finding("result.error", text)]
    findings = []
    after = ctx.after(ctx.task.job_id) if ctx.task.op == "cancel" else None
    if after and after.state != "Cancel":
        findings.append(Finding("result.jobs", f"the job is {after.state}, not cancelled"))
    findings += _judge_jobs(ctx, want.jobs, out.jobs, want.count)
    if ctx.task.op == "list" and not ctx.task.walk and out.reported_token:
        sent = [_next_token(h) for h in ctx.hits if h.status == 200 and h.path == PATH]
        if sent and (sent[0] or "") != (out.next_token or ""):
            text = f"the SDK returned {_short(out.next_token)}; the service sent {_short(sent[0])}"
            findings.append(Finding("result.next-token", text))
    return findings


@dataclass(frozen=True)
class ServiceError:
    """An error answer as the service sent it."""

    status: int
    code: str
    message: str
    request_id: str | None  # the Error body's RequestId (None: no answer to compare with)
    others: tuple[tuple[str, str], ...] = ()  # the answer's other IDs: (where, value)


def _service_errors(hits: list[Hit]) -> list[ServiceError]:
    """Every error answer of the task, in order. The RequestId a client surfaces is the Error
    body's (the x-ci-request-id header only when the body has none)."""
    errors = []
    for hit in (h for h in hits if h.status >= 400):
        root = _xml(hit.response_body)
        code, message, body_id, trace_id = (
            ["", "", "", ""] if root is None
            else [root.findtext(t) or "" for t in ("Code", "Message", "RequestId", "TraceId")])  # fmt: skip
        header_id = hit.response_header("x-ci-request-id") or ""
        request_id = body_id or header_id
        others = (("the Error's TraceId", trace_id), ("the x-ci-request-id header", header_id),
                  ("the x-ci-trace-id header", hit.response_header("x-ci-trace-id") or ""))  # fmt: skip
        kept = tuple((w, v) for w, v in others if v and v != request_id)
        errors.append(ServiceError(hit.status, code, message, request_id, kept))
    return errors


def _judge_error(ctx: Context, want: Expected, error: dict[str, Any]) -> list[Finding]:
    """A surfaced error against the error answers the service sent: one the task expects (or a
    503 not retried), or, when the task expects an error, the service's own last answer (when
    the SDK's request was wrong, what came back is what it must surface; the request judge
    names what was wrong with the request)."""
    status, code = error.get("status"), str(error.get("code") or "")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    message, request_id = str(error.get("message") or ""), str(error.get("requestId") or "")
    shown = f"HTTP {status} {code!r}: {message[:200]}" if status is not None \
        else f"a client-side error {code!r}: {message[:200]}"  # fmt: skip
    answers = _service_errors(ctx.hits)
    predicted = [p for p in (want.error, want.alternative) if p]
    acceptable = [a for a in answers if (a.status, a.code) in predicted]
    if want.error and answers and answers[-1] not in acceptable:
        acceptable.append(answers[-1])
    if not answers:  # nothing served to compare with: the prediction, Code only
        acceptable = [ServiceError(s, c, "", None) for s, c in predicted]
    same_status = [a for a in acceptable if a.status == status]
    if not same_status and want.error:
        final = answers[-1] if answers else ServiceError(*want.error, "", None)
        text = f"the SDK surfaced {shown}; the service answered HTTP {final.status} {final.code}"
        return [Finding("result.error", text)]
    if not same_status:
        refused = f" (the service refused the SDK's request: HTTP {answers[-1].status} " \
            f"{answers[-1].code})" if answers else " (the service refused none of the SDK's requests)"  # fmt: skip
        count = want.count if want.count is not None else len(want.jobs or [])
        text = f"the SDK surfaced {shown}; the task's answer is {count} job(s){refused}"
        return [Finding("result.error", text)]
    same_code = [a for a in same_status if a.code == code]
    if not same_code:
        text = f"the SDK surfaced {shown}; the service's Code is {same_status[-1].code!r}"
        return [Finding("result.error-code", text)]
    ref = next((a for a in reversed(same_code) if a.request_id == request_id), same_code[-1])
    problems = []
    if ref.request_id is not None and request_id != ref.request_id:
        where = next((w for a in same_code for w, v in a.others if v == request_id), "")
        problems.append(
            (f"the SDK surfaced RequestId {request_id!r}" if request_id else "the SDK surfaced no RequestId")
            + f"; the service's RequestId (the Error body's) is {ref.request_id!r}"
            + (f": the SDK surfaced {where}" if where else ""))  # fmt: skip
    if ref.message.strip() and ref.message.strip() not in message:
        problems.append(f"the SDK surfaced the Message {message[:200]!r}; the service's Message "
                        f"is {ref.message[:200]!r}")  # fmt: skip
    return [Finding("result.error-code", "; ".join(problems))] if problems else []


def _judge_missing(ctx: Context, job_id: str) -> list[Finding]:
    """The service answered 200 with NonExistJobIds naming ``job_id``: the SDK must say so."""
    out, said = ctx.output, "the service answered HTTP 200 with NonExistJobIds naming it"
    if out.jobs:
        text = f"the SDK returned {len(out.jobs)} job(s) for {job_id}; {said}"
        return [Finding("result.not-found", text)]
    code = str((out.error or {}).get("code") or "").lower()
    if out.error is not None and any(c in code for c in ("nosuchjob", "notfound", "nonexist")):
        return []
    shown = f"an error {str(out.error.get('code') or '')!r}" if out.error is not None else "no job and no notFound line"  # fmt: skip
    return [Finding("result.not-found", f"the SDK surfaced {shown} for {job_id}; {said}")]


def _served_ids(hits: list[Hit]) -> list[str]:
    served = [h.response_body for h in hits if (h.status, h.method, h.path) == (200, "GET", PATH)]
    pages = [p for p in map(_xml, served) if p is not None]
    return [el.findtext("JobId") or "" for p in pages for el in p.iter("JobsDetail")]


def _judge_jobs(ctx: Context, want: list[Job], got: list[dict], count: int | None) -> list[Finding]:
    """``got`` must be the first ``count`` (default: all) of ``want``, in order; jobs of equal
    CreationTime may come in another order, but then only in the order the service sent."""
    count = len(want) if count is None else count
    got_ids = [str(j.get("JobId", "")) for j in got]
    instants = {j.job_id: j.created.timestamp() for j in want}
    want_ids = [j.job_id for j in want[:count]]
    repeated = sorted(i for i, n in Counter(got_ids).items() if n > 1)
    extra = [i for i in got_ids if i not in instants]
    findings = []
    if repeated or extra or len(got_ids) != count:
        missing = [i for i in want_ids if i not in set(got_ids)]
        parts = [f"{len(got_ids)} job(s) returned, {count} expected"]
        for what, ids in (("missing", missing), ("unexpected", extra), ("repeated", repeated)):
            parts += [f"{what} {len(ids)} (first {ids[0]})"] if ids else []
        findings.append(Finding("result.jobs", "; ".join(parts)))
    elif got_ids != want_ids:
        moved = next(n for n, (g, w) in enumerate(zip(got_ids, want_ids, strict=True)) if g != w)
        if [instants[i] for i in got_ids] != [instants[i] for i in want_ids]:
            text = f"out of CreationTime order at position {moved + 1}: {got_ids[moved]} where {want_ids[moved]} belongs"
            findings.append(Finding("result.jobs", text))
        elif ctx.task.op == "list" and got_ids != list(dict.fromkeys(_served_ids(ctx.hits))):
            text = f"jobs of equal CreationTime reordered at position {moved + 1}: not the order the service sent"
            findings.append(Finding("result.jobs", text))
    return findings + _judge_fields(want, got)


def _judge_fields(want: list[Job], got: list[dict[str, Any]]) -> list[Finding]:
    by_id = {j.job_id: j for j in want}
    diffs: dict[str, list[tuple[str, Any, Any]]] = {}
    for job in got:
        oracle = by_id.get(str(job.get("JobId", "")))
        if oracle is not None:
            for where, w, g in _diffs(element_json(ET.fromstring(job_xml(oracle))), job):
                diffs.setdefault(where, []).append((oracle.job_id, w, g))
    return [Finding("result.fields", f"{where} differs in {len(seen)} of {len(got)} job(s); e.g. "
                    f"{seen[0][0]}: got {seen[0][2]!r}, want {seen[0][1]!r}")
            for where, seen in diffs.items()]  # fmt: skip


def _diffs(want: Any, got: Any, where: str = "") -> list[tuple[str, Any, Any]]:
    """(path, wanted, got) for every documented value that differs; unknown keys are ignored."""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return [(where or "(job)", want, got)]
        named = [(v, got.get(k), f"{where}/{k}".lstrip("/")) for k, v in want.items()]
        return [d for args in named for d in _diffs(*args)]
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return [(where, want, got)]
        indexed = [(w, g, f"{where}[{n}]") for n, (w, g) in enumerate(zip(want, got, strict=True))]
        return [d for args in indexed for d in _diffs(*args)]
    return [] if _same_text(where.rpartition("/")[2], want, got) else [(where, want, got)]


def _same_text(key: str, want: str, got: Any) -> bool:
    if isinstance(got, list) and key == "WorkflowIds":
        got = ",".join(map(str, got))
    elif isinstance(got, int | float) and not isinstance(got, bool):
        got = str(got)
    got = "" if got is None else got
    if not isinstance(got, str):
        return False
    if key in TIME_FIELDS:
        return got in ("-", "") if want == "-" else _same_time(want, got)
    return got == want


def _same_time(want: str, got: str) -> bool:
    """The same instant written with the same offset (``±HHMM``, ``±HH:MM``, or ``Z`` for 0)."""
    if len(got) == 25 and got[22] == ":":
        got = got[:22] + got[23:]
    elif len(got) == 20 and got.endswith("Z"):
        got = got[:19] + "+0000"
    try:
        a, b = parse_time(want), parse_time(got)
    except ValueError:
        return False
    return a == b and a.utcoffset() == b.utcoffset()
