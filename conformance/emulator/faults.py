"""Fault switches: each turns on one deliberate defect, to prove that the suite catches it.

A fault is a mixin over one seam of the emulator (``app.Emulator``) or of its SQL
(``store.Matching``), never a string test inside them. ``killed_by`` names the checks that must
catch it: the kill matrix fails a fault that only some other check catches. ``needs_writes``
marks a fault that only shows while jobs are created; ``pins``, one that an allowed choice of
an open point would excuse, so that only a profile pinning the other choice catches it.
"""

import functools
import itertools
import json
import re
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, NoReturn

from werkzeug.datastructures import Headers

from ..query import DEFAULT_SIZE, ORDERS, STATES, TYPES, Filters, Query
from ..signing import Reason, Verdict, authorization_fields, key_window, verify
from ..timefmt import format_time
from ..xmlmodel import render_missing
from .store import Matching, Ordering


@dataclass(frozen=True)
class Fault:
    name: str
    category: str
    description: str
    killed_by: tuple[str, ...]
    emulator: type | None = None  # a mixin over app.Emulator's seams
    matching: type | None = None  # a mixin over store.Matching
    needs_writes: bool = False
    pins: str = ""  # a --profile the suite needs to catch it: an open point's other choice


def _bend(**changes: Any) -> type:
    """A mixin over these seams, each ``seam=change``: ``change(self, up, *args)``, ``up``
    being the seam it bends."""

    def bent(method: str, change: Any) -> Any:
        return lambda self, *a, **kw: change(self, getattr(super(mixin, self), method), *a, **kw)

    mixin = type(f"Bent_{'_'.join(changes)}", (), {m: bent(m, c) for m, c in changes.items()})
    return mixin


def _crash(*_: Any) -> NoReturn:
    """A bug in the handler, which the emulator answers as any: 500 InternalError."""
    raise RuntimeError("a fault switch's crash")


def _forgives(*reasons: Reason, presigned: bool = False) -> type:
    """A mixin letting these refusals through (only for presigned URLs, with ``presigned``)."""
    return _bend(
        forgiven=lambda self, up, why, pre: (
            (why in reasons and (pre or not presigned)) or up(why, pre)
        )
    )


def _window(rule: Any) -> type:
    """Bends the signature window: ``rule(start, end, now)`` gives a Reason to refuse with, a
    moment to verify at instead of now, or ``None`` (the verdict stands)."""

    def bend(self: Any, up: Any, method: str, path: str, params: list, headers: Any, env: dict):
        verdict = up(method, path, params, headers, env)
        kt = key_window(authorization_fields(params, headers).get("q-key-time", ""))
        timing = verdict.refusal in (None, Reason.EXPIRED, Reason.NOT_YET_VALID)
        got = rule(*kt, self.clock()) if kt and timing else None
        if got is None or isinstance(got, Reason):
            return verdict if got is None else Verdict(verdict.secret_id, got)
        return verify(method, path, params, headers, self.keys.get, got)

    return _bend(verify=bend)


def _verify_as(change: Any) -> type:  # verifies change(self, method, path, params, headers)
    return _bend(verify=lambda self, up, *request: up(*change(self, *request[:4]), request[4]))


def _retry(reason: Reason, retries: Any) -> type:
    """On a ``reason`` refusal, the first verdict of ``retries(self, up, verdict, *request)``
    that accepts the request, else the refusal."""

    def bend(self: Any, up: Any, *request: Any) -> Verdict:
        verdict = up(*request)
        if verdict.refusal is not reason:
            return verdict
        return next((v for v in retries(self, up, verdict, *request) if v.accepted), verdict)

    return _bend(verify=bend)


def _unchecked(passes: Any) -> type:
    """Lets a mismatched signature through when ``passes(fields, params)`` (``fields`` being
    the Authorization's)."""
    return _retry(
        Reason.MISMATCH,
        lambda self, up, verdict, method, path, params, headers, env: (
            [Verdict(verdict.secret_id)]
            if passes(authorization_fields(params, headers), params)
            else []
        ),
    )


def _query(change: Any) -> type:  # how a list request's parameters are read: query -> query
    return _bend(query_of=lambda self, up, params: change(up(params)))


def _times(change: Any) -> type:  # both time bounds read with change(text) -> text
    keys = ("start_creation_time", "end_creation_time")
    return _query(lambda q: replace(q, **{k: change(getattr(q, k)) for k in keys if getattr(q, k)}))


def _toggled(q: Query) -> Query:  # a state listed twice cancels out (a bit mask built with XOR)
    parts = (q.states or "").split(",")
    return replace(
        q, states=",".join(p for p in dict.fromkeys(parts) if parts.count(p) % 2) or None
    )


def _known_values(q: Query) -> Query:  # unknown type, states or orderByTime values are dropped
    states = [s for s in (q.states or "").split(",") if s in ("All", *STATES)]
    return replace(
        q,
        type=q.type if q.type in TYPES else None,
        order_by_time=q.order_by_time if q.order_by_time in ORDERS else None,
        states=",".join(states) or None,
    )


def _filters(change: Any, **more: Any) -> type:  # what a query means: change(self, f, q, params)
    return _bend(filters=lambda self, up, q, p: change(self, up(q, p), q, p), **more)


def _resumed(change: Any) -> type:  # where a token's page starts: change(cursor, offset, filters)
    return _bend(resume=lambda self, up, *args: change(*up(*args)))


def _paged(change: Any) -> type:  # a page as read: change(jobs, keys, more, filters) -> the same
    return _bend(page_of=lambda self, up, f, *rest: change(*up(f, *rest), f))


def _render(change: Any) -> type:  # a list page as written: change(up, request_id, jobs, token)
    return _bend(render=lambda self, up, *args: change(up, *args))


def _refuses_empty_or_space(self: Any, up: Any, *request: Any) -> None:
    up(*request)  # request[2]: the query's parameters
    if any(v == "" or " " in v for k, v in request[2] if not k.startswith(("q-", "x-c"))):
        raise self.refused(403, "SignatureDoesNotMatch", "The Signature you specified is invalid.")


def _own_host(self: Any, method: str, path: str, params: list, headers: Any) -> tuple:
    own = Headers(headers)  # its own address: the Host it was first reached at
    own["Host"] = self.__dict__.setdefault("own_host", headers.get("Host", ""))
    return method, path, params, own


def _lowered_values(self: Any, method: str, path: str, params: list, headers: Any) -> tuple:
    lowered = [(k, v if k == "Authorization" else v.lower()) for k, v in headers.items()]
    return method, path, params, Headers(lowered)


def _names_present(fields: dict, params: list) -> bool:  # every signed parameter's name is sent
    listed = {n for n in fields.get("q-url-param-list", "").split(";") if n}
    return bool(listed) and listed <= {k.lower() for k, _ in params}


def _absent_header_crashes(self: Any, up: Any, *request: Any) -> Verdict:
    verdict = up(*request)  # a signed header missing from the request crashes the verifier
    if verdict.refusal is Reason.ABSENT_SIGNED_PART and verdict.detail.startswith("header"):
        _crash()
    return verdict


def _advances(self: Any, up: Any, token: str, *rest: Any) -> tuple:
    cursor, offset, f = up(token, *rest)
    seen = self.__dict__.setdefault("tokens_seen", {})
    seen[token] = seen.get(token, -1) + 1
    return cursor, offset + seen[token] * f.size, f


def _zoned(jobs: list, keys: list, more: bool, f: Filters) -> tuple:
    if zone := f.start and f.start.tzinfo:
        jobs = [replace(j, creation_time=format_time(j.created.astimezone(zone))) for j in jobs]
    return jobs, keys, more


def _crash_on_job_param(self: Any, up: Any, job: Any) -> None:
    nested = any(tag == "JobParam" and not isinstance(v, str) for tag, v in job.operation)
    return _crash() if nested else up(job)


def _error_500(when: Any) -> type:  # refusals for which ``when(refused)`` holds answer 500
    fail = lambda self, r: self.refused(500, "InternalError", "internal error") if when(r) else r  # noqa: E731
    return _bend(error=lambda self, up, r, *rest: up(fail(self, r), *rest))


def _without_request_id(self: Any, up: Any, *args: Any) -> tuple:
    line, headers = up(*args)
    return line, [(k, v) for k, v in headers if k != "x-ci-request-id"]


def _json_error(self: Any, up: Any, r: Any, request_id: str, path: str) -> tuple:
    doc = {"Code": r.code, "Message": r.message, "RequestId": request_id}
    return r.status, json.dumps(doc).encode(), "application/json"


def _reused_id(self: Any, up: Any) -> tuple[str, float]:
    job_id, at = up()
    self.last = None if (last := self.__dict__.get("last")) else job_id
    return last or job_id, at


def _loses_every_third(self: Any, up: Any, job: Any) -> None:  # acknowledged, never stored
    self.created = self.__dict__.get("created", 0) + 1
    if self.created % 3 != 2:
        up(job)


def _in_state_index(self: Any, up: Any, states: frozenset[str]) -> tuple[str, list]:
    sql, args = up(states)
    return f"{sql} AND job_id IN (SELECT job_id FROM state_index)", args


def _cancelled(self: Any) -> dict:  # cancelled jobs as get sees them; lists never do
    return self.__dict__.setdefault("cancelled", {})


COUNTER = itertools.count()  # request IDs of a counter that wraps (fmt-request-id-wraps)
ALL_METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD")

AcceptAnything = _bend(authenticate=lambda self, up, *request: None)
RejectEmptyOrSpace = _bend(authenticate=_refuses_empty_or_space)
IgnoreSecretId = _retry(
    Reason.UNKNOWN_SECRET_ID,  # any known key will do, whatever q-ak says
    lambda self, up, _, *request: (
        verify(*request[:4], lambda _i, c=creds: c, self.clock()) for creds in self.keys.values()
    ),
)
MethodUnbound = _retry(
    Reason.MISMATCH, lambda self, up, _, m, *rest: (up(other, *rest) for other in ALL_METHODS)
)
PathUnbound = _verify_as(lambda self, m, path, *rest: (m, "/inventorytriggerjob", *rest))
HostUnbound = _verify_as(_own_host)  # checks signatures against its own address, not the Host
# each name's first value is verified (the parameters' order is not signed), its last one used
ParamPollution = _bend(
    verify=lambda self, up, m, path, ps, *rest: up(m, path, [*dict(reversed(ps)).items()], *rest),
    parameters=lambda self, up, params, allowed: up(list(dict(params).items()), allowed),
)
HeaderValueLowercased = _verify_as(_lowered_values)
HeadersUnchecked = _unchecked(  # a signature over custom headers is not checked
    lambda fields, params: any(
        h.startswith("x-") and "token" not in h for h in fields.get("q-header-list", "").split(";")
    )
)
ValuesUnchecked = _unchecked(_names_present)  # the signed names are checked, not the signature
AbsentHeader500 = _bend(verify=_absent_header_crashes)
TokenAdvances = _bend(resume=_advances)
SkipBoundary = _resumed(lambda cursor, offset, f: (cursor, offset + 1, f))
DropFilters = _resumed(  # later pages drop every filter
    lambda cursor, offset, f: (cursor, offset, Filters(size=f.size, descending=f.descending))
)
SizeNotKept = _resumed(lambda cursor, offset, f: (cursor, offset, replace(f, size=DEFAULT_SIZE)))
RepeatBoundary = _paged(  # the token points at the page's second-to-last job
    lambda jobs, keys, more, f: (jobs, keys[:-1] if len(keys) > 1 else keys, more)
)
EndlessToken = _paged(lambda jobs, keys, more, f: (jobs, keys, True))
SizeOffAtSomeSizes = _paged(
    lambda jobs, keys, more, f: (
        (jobs[:-1], keys[:-1], more) if more and 41 <= f.size <= 60 else (jobs, keys, more)
    )
)
BadToken500 = _bend(foreign_token=_crash)
BadTokenRestart = _bend(foreign_token=lambda self, up, token, f: (None, 0, f))
UnknownIgnored = _query(_known_values)
BadSizeIgnored = _query(  # an invalid size is read as no size
    lambda q: replace(q, size=None) if q.size and not q.size.isdigit() else q
)
Error500 = _bend(invalid=_crash)
SizeUncapped = _filters(
    lambda self, f, q, p: replace(f, size=f.size_requested), clamps=lambda self, up: True
)
WrongContentType = _bend(
    head=lambda self, up, status, body, ctype, rid: up(
        status, body, "text/plain" if status == 200 and ctype else ctype, rid
    )
)
NoRequestIdHeader = _bend(head=_without_request_id)
JsonErrors = _bend(error=_json_error)
JobIdReused = _bend(
    _new_job=_reused_id, stored=lambda self, up, job: self.store.add([job], replace=True)
)
CreateLost = _bend(stored=_loses_every_third)
CreateEvictsOldest = _bend(stored=lambda self, up, job: up(job) or self.store.remove_oldest())
CancelNotListed = _bend(
    get_job=lambda self, up, job_id: _cancelled(self).get(job_id) or up(job_id),
    cancel_job=lambda self, up, job: _cancelled(self).update(
        {job.job_id: replace(job, state="Cancel", end_time=self._now())}
    ),
)
GetMissingEmpty = _bend(
    _get=lambda self, up, job_id, rid: (
        render_missing(rid, []) if self.get_job(job_id) is None else up(job_id, rid)
    )
)
StaleStateIndex = _bend(  # lists filtered by states see only the jobs of start-up
    __init__=lambda self, up, *a, **kw: up(*a, **kw) or self.store.freeze_state_index()
)

# --- the SQL: mixins over store.Matching --------------------------------------------------

OrderByJobId = _bend(ordering=lambda self, up, desc, ties: Ordering((("job_id", desc),)))
OrderByLocalTime = _bend(  # the written wall-clock time, not the instant
    ordering=lambda self, up, desc, ties: Ordering((("created_local", desc), ("job_id", ties)))
)
ExclusiveBounds = _bend(time=lambda self, up, bound, op: up(bound, op[0]))
OffsetIgnored = _bend(  # bounds compared as wall-clock text, whatever their offset
    time=lambda self, up, bound, op: (f"created_local {op} ?", [format_time(bound)[:19]])
)
BoundsSlack = _bend(  # a second of slack each side: >= start - 1 s, <= end + 1 s
    time=lambda self, up, bound, op: up(bound + timedelta(seconds=1 if op[0] == "<" else -1), op)
)
IdPrefix = _bend(  # IDs match any ID they are a prefix of
    same=lambda self, up, column, value: (f"substr({column}, 1, length(?)) = ?", [value, value])
)
NameSubstring = _bend(name=lambda self, up, value: ("instr(name, ?) > 0", [value]))
NameCaseInsensitive = _bend(name=lambda self, up, value: ("lower(name) = lower(?)", [value]))
StaleStates = _bend(states=_in_state_index)


def _ignores(*fields: str) -> Any:
    return lambda self, f, query, params: replace(f, **dict.fromkeys(fields))


WALK = ("pagination.no_duplicates", "pagination.walk_independent_of_size", "filters.oracle")
SIZE = ("pagination.page_sizes", "pagination.every_page_within_size")
SIZE_PINNED = ("pagination.page_sizes", "pagination.pinned_last_page")
FULL = "page_fill=full"  # short pages are allowed unless a profile pins full ones
FILTER = ("filters.every_job_matches", "filters.single_filter", "filters.every_page_keeps_filters",
          "filters.intersection", "filters.oracle")  # fmt: skip
TIME = (
    "filters.bounds_inclusive",
    "filters.time_window_complete",
    "filters.offset_invariance",
    *FILTER,
)
EXACT = ("filters.exact_match", "filters.id_near_misses", *FILTER)
ORDER = (
    "ordering.monotonic",
    "ordering.desc_by_default",
    "ordering.asc_reverses_desc",
    "filters.oracle",
)
MODEL = ("model.write_then_read",)

FAULTS: dict[str, Fault] = {
    f.name: f
    for f in [
        # signature checking
        Fault("sig-accept-anything", "signature", "accepts every request, signed or not", ("signature.refuses_unsigned", "signature.refuses_wrong_key", "signature.refuses_malformed"), AcceptAnything),
        Fault("sig-accept-expired", "signature", "accepts signatures whose window has ended", ("signature.refuses_expired",), _forgives(Reason.EXPIRED)),
        Fault("sig-accept-future", "signature", "accepts windows starting over 15 minutes ahead", ("signature.refuses_future_window",), _forgives(Reason.NOT_YET_VALID)),
        Fault("sig-ignore-secret-id", "signature", "accepts an unknown SecretId signed with any known key", ("signature.refuses_unknown_secret_id",), IgnoreSecretId),
        Fault("sig-skip-absent-params", "signature", "accepts a signed parameter that is absent", ("signature.refuses_removed_parameter",), _forgives(Reason.ABSENT_SIGNED_PART)),
        Fault("sig-reject-empty-or-space", "signature", "refuses valid signatures over empty or space-holding values", ("signature.generated_values_accepted", "signature.valid_header_accepted", "signature.valid_presigned_accepted"), RejectEmptyOrSpace),
        Fault("sig-ignore-token", "signature", "never checks the security token", ("signature.refuses_missing_token", "signature.refuses_wrong_token"), _forgives(Reason.TOKEN_MISSING, Reason.TOKEN_WRONG)),
        Fault("sig-ignore-algorithm", "signature", "accepts any q-sign-algorithm", ("signature.refuses_other_algorithm",), _forgives(Reason.UNSUPPORTED_ALGORITHM)),
        Fault("sig-presign-ignore-expiry", "signature", "presigned URLs never expire", ("signature.refuses_expired",), _forgives(Reason.EXPIRED, presigned=True)),
        Fault("sig-presign-ignore-token", "signature", "presigned URLs need no security token", ("signature.refuses_missing_token", "signature.refuses_wrong_token"), _forgives(Reason.TOKEN_MISSING, Reason.TOKEN_WRONG, presigned=True)),
        Fault("sig-method-unbound", "signature", "accepts a signature made for another method", ("signature.refuses_other_method",), MethodUnbound),
        Fault("sig-path-unbound", "signature", "checks every signature against /inventorytriggerjob, whatever the path", ("signature.refuses_other_path",), PathUnbound),
        Fault("sig-host-unbound", "signature", "checks signatures against its own address, not the Host sent", ("signature.refuses_other_host",), HostUnbound),
        Fault("sig-param-pollution", "signature", "a repeated parameter: its first value is verified, its last one used", ("signature.unsigned_duplicate_ignored",), ParamPollution),
        Fault("sig-header-value-lowercased", "signature", "lower-cases header values before it hashes them (names only should be)", ("signature.header_case_accepted",), HeaderValueLowercased),
        Fault("sig-headers-unchecked", "signature", "lets through a signature over custom x-* headers without checking it", ("signature.refuses_changed_header",), HeadersUnchecked),
        Fault("sig-expiry-grace", "signature", "accepts a window that ended up to a minute ago (a clock allowance on expiry)", ("signature.refuses_expired",), _window(lambda start, end, now: now - 60 if end < now <= end + 60 else None)),
        Fault("sig-skew-30-minutes", "signature", "accepts windows starting up to 30 minutes ahead", ("signature.refuses_future_window",), _window(lambda start, end, now: start - 900 if now + 900 < start <= now + 1800 else None)),
        Fault("sig-start-not-ahead", "signature", "refuses a window that starts after its clock, even by a second", ("signature.window_edges_accepted",), _window(lambda start, end, now: Reason.NOT_YET_VALID if start > now else None)),
        Fault("sig-skew-reversed", "signature", "refuses a window that ends within 15 minutes (the clock allowance applied the wrong way)", ("signature.window_edges_accepted",), _window(lambda start, end, now: Reason.EXPIRED if end < now + 900 else None)),
        Fault("sig-old-start-refused", "signature", "refuses a window that started over 15 minutes ago though it has not ended (the allowance applied to both sides)", ("signature.window_edges_accepted",), _window(lambda start, end, now: Reason.NOT_YET_VALID if start < now - 900 else None)),
        Fault("sig-values-unchecked", "signature", "checks that every signed parameter is present, not the signature", ("signature.refuses_changed_parameter", "signature.refuses_wrong_key"), ValuesUnchecked),
        # pagination
        Fault("page-skip-boundary", "pagination", "skips the first job of every later page", WALK, SkipBoundary),
        Fault("page-repeat-boundary", "pagination", "repeats the last job of the previous page", WALK, RepeatBoundary),
        Fault("page-endless-token", "pagination", "the last page still carries a token, forever", ("pagination.no_duplicates", "pagination.walk_terminates", "pagination.page_sizes"), EndlessToken),
        Fault("page-size-ignored", "pagination", "always returns up to 10 jobs", SIZE, _filters(lambda self, f, q, p: replace(f, size=DEFAULT_SIZE))),
        Fault("page-size-cap-50", "pagination", "caps size at 50 instead of 100", SIZE_PINNED, _filters(lambda self, f, q, p: replace(f, size=min(f.size, 50))), pins=FULL),
        Fault("page-size-uncapped", "pagination", "returns more than 100 jobs for size > 100", ("pagination.size_over_100", *SIZE), SizeUncapped),
        Fault("page-default-size-20", "pagination", "defaults size to 20", ("pagination.default_size_is_10", *SIZE), _filters(lambda self, f, q, p: f if q.size else replace(f, size=20))),
        Fault("page-size-off-at-some-sizes", "pagination", "sizes 41 to 60 give one job fewer while more follow", SIZE_PINNED, SizeOffAtSomeSizes, pins=FULL),
        Fault("page-size-cap-99", "pagination", "caps size at 99: size=100 gives pages of 99", SIZE_PINNED, _filters(lambda self, f, q, p: replace(f, size=min(f.size, 99))), pins=FULL),
        Fault("page-size-101", "pagination", "size=101 gives 101 jobs (the cap tested with > 101)", ("pagination.size_over_100", "pagination.every_page_within_size"), _filters(lambda self, f, q, p: replace(f, size=101) if f.size_requested == 101 else f)),
        Fault("page-size-0-default", "bad-input", "size=0 is read as no size (a falsy test)", ("bad_input.invalid_values",), _query(lambda q: replace(q, size=None) if q.size == "0" else q)),
        Fault("page-size-not-kept", "pagination", "later pages use the default size 10", SIZE_PINNED, SizeNotKept, pins=FULL),
        Fault("create-evicts-oldest", "pagination", "a created job takes the place of the oldest (a store of fixed size): a walk during creations loses jobs", ("pagination.writes_during_walk",), CreateEvictsOldest, needs_writes=True),
        Fault("page-drop-filters", "pagination", "later pages drop every filter", ("pagination.filters_persist", "filters.every_page_keeps_filters", *FILTER), DropFilters),
        Fault("page-bad-token-500", "pagination", "answers an unknown token with 500", ("pagination.garbage_token_refused", "pagination.foreign_token_safe"), BadToken500),
        Fault("page-bad-token-restart", "pagination", "answers an unknown token with page one", ("pagination.garbage_token_refused", "pagination.foreign_token_safe"), BadTokenRestart),
        Fault("page-token-advances", "pagination", "a token sent again gives the next page (a cursor kept on the server)", ("pagination.token_replay",), TokenAdvances),
        # ordering
        Fault("order-asc-ignored", "ordering", "orderByTime=Asc returns Desc", ORDER, _filters(lambda self, f, q, p: replace(f, descending=True))),
        Fault("order-default-asc", "ordering", "the default order is Asc", ("ordering.desc_by_default", *ORDER), _filters(lambda self, f, q, p: f if q.order_by_time else replace(f, descending=False))),
        Fault("order-by-job-id", "ordering", "sorts by JobId instead of CreationTime", ORDER, matching=OrderByJobId),
        Fault("order-by-local-time", "ordering", "sorts by the written wall-clock time, not the instant", ORDER, matching=OrderByLocalTime),
        # filters
        Fault("filter-type-ignored", "filters", "ignores type", ("filters.type_union", *FILTER), _filters(_ignores("type"))),
        Fault("filter-states-first-only", "filters", "uses only the first of several states", ("filters.states_union", *FILTER), _filters(lambda self, f, q, p: replace(f, states=frozenset({q.states.split(",")[0]})) if f.states else f)),
        Fault("filter-states-ignored", "filters", "ignores states", ("filters.states_union", *FILTER), _filters(_ignores("states"))),
        Fault("filter-offset-ignored", "filters", "compares time bounds as wall-clock, ignoring offsets", ("filters.offset_invariance", *TIME), matching=OffsetIgnored),
        Fault("filter-exclusive-bounds", "filters", "time bounds are exclusive", ("filters.bounds_inclusive", *TIME), matching=ExclusiveBounds),
        Fault("filter-bounds-slack", "filters", "time bounds have a second of slack: a job a second outside the window is returned", ("filters.bounds_inclusive", *TIME), matching=BoundsSlack),
        Fault("filter-start-ignored", "filters", "ignores startCreationTime", TIME, _filters(_ignores("start"))),
        Fault("filter-end-ignored", "filters", "ignores endCreationTime", TIME, _filters(_ignores("end"))),
        Fault("filter-name-substring", "filters", "name matches substrings", EXACT, matching=NameSubstring),
        Fault("filter-name-case-insensitive", "filters", "name matches without regard to case", EXACT, matching=NameCaseInsensitive),
        Fault("filter-workflow-ignored", "filters", "ignores workflowId", EXACT, _filters(_ignores("workflow_id"))),
        Fault("filter-job-id-ignored", "filters", "ignores jobId", EXACT, _filters(_ignores("job_id"))),
        Fault("filter-id-prefix", "filters", "jobId and workflowId match IDs they are a prefix of", ("filters.id_near_misses", *EXACT), matching=IdPrefix),
        Fault("filter-job-id-overrides", "filters", "with jobId, every other filter is ignored", ("filters.intersection", *FILTER), _filters(lambda self, f, q, p: Filters(size=f.size, descending=f.descending, job_id=f.job_id) if f.job_id else f)),
        Fault("filter-swaps-reversed-bounds", "bad-input", "startCreationTime after endCreationTime: swaps them and lists the jobs between", ("bad_input.start_after_end",), _filters(lambda self, f, q, p: replace(f, start=f.end, end=f.start) if f.start and f.end and f.start > f.end else f)),
        Fault("filter-colon-offset-as-utc", "filters", "a time with a colon offset (+08:00) is read as UTC", ("filters.spellings_agree",), _times(lambda t: re.sub(r"[+-]\d\d:\d\d$", "+0000", t))),
        Fault("filter-z-as-local", "filters", "a time in Z is read as the server's own +0800", ("filters.spellings_agree",), _times(lambda t: re.sub(r"Z$", "+0800", t))),
        Fault("filter-fraction-drops-offset", "filters", "a time with fractional seconds loses its offset (read as UTC)", ("filters.spellings_agree",), _times(lambda t: re.sub(r"\.\d+[+-]\d{4}$", "+0000", t))),
        Fault("filter-states-twice-toggle", "filters", "a state listed twice cancels out: states=Success,Success is no filter", ("filters.spellings_agree",), _query(_toggled)),
        Fault("page-size-octal", "pagination", "a size with a leading zero is read as octal (010 is 8)", ("filters.spellings_agree",), _query(lambda q: replace(q, size=str(int(q.size, 8))) if re.fullmatch(r"0[0-7]+", q.size or "") else q), pins=FULL),
        Fault("filter-unknown-ignored", "filters", "unknown type, states or orderByTime values are silently ignored", ("filters.unknown_value_refused", "filters.spellings_agree"), UnknownIgnored),
        # response format
        Fault("fmt-missing-request-id", "schema", "leaves RequestId out of list responses", ("schema.list_body",), _render(lambda up, rid, jobs, token: re.sub(rb"<RequestId>[^<]*</RequestId>", b"", up(rid, jobs, token), count=1))),
        Fault("fmt-bad-state-text", "schema", "writes State in lower case", ("schema.list_body",), _render(lambda up, rid, jobs, token: up(rid, [replace(j, state=j.state.lower()) for j in jobs], token))),
        Fault("fmt-time-without-offset", "schema", "writes CreationTime without its offset", ("schema.list_body",), _render(lambda up, rid, jobs, token: up(rid, [replace(j, creation_time=j.creation_time[:19]) for j in jobs], token))),
        Fault("fmt-wrong-content-type", "schema", "answers with Content-Type text/plain", ("schema.content_type",), WrongContentType),
        Fault("fmt-unescaped-xml", "schema", "writes names without XML escaping", ("schema.list_body",), _render(lambda up, rid, jobs, token: up(rid, jobs, token).replace(b"&amp;", b"&").replace(b"&lt;", b"<").replace(b"&gt;", b">"))),
        Fault("fmt-request-id-wraps", "schema", "request IDs come from a counter of 64 values", ("schema.request_ids_unique",), _bend(request_id=lambda self, up: f"{next(COUNTER) % 64:08x}-ci")),
        Fault("fmt-no-request-id-header", "schema", "sends no x-ci-request-id header", ("schema.request_id_header",), NoRequestIdHeader),
        # errors
        Fault("err-500-on-bad-input", "bad-input", "answers invalid parameter values with 500", ("bad_input.invalid_values", "bad_input.no_5xx"), Error500),
        Fault("err-200-on-bad-input", "bad-input", "answers invalid size values with 200, ignoring them", ("bad_input.invalid_values",), BadSizeIgnored),
        Fault("err-500-size-not-integer", "bad-input", "answers a size that is not a whole number (1.5, ten) with 500; 0 and -1 still get 400", ("bad_input.invalid_values",), _bend(invalid=lambda self, up, exc: _crash() if exc.param == "size" and "not a positive integer" in exc.message else up(exc))),
        Fault("err-500-other-method", "bad-input", "answers a method it has no route for (DELETE, PATCH) with 500, not 405", ("bad_input.no_5xx",), _error_500(lambda r: r.status == 405)),
        Fault("err-500-unknown-path", "bad-input", "answers a path it has no route for (/inventorytriggerjob/x/y) with 500, not 404", ("bad_input.no_5xx",), _error_500(lambda r: r.code == "NoSuchResource")),
        Fault("err-500-bad-create", "bad-input", "answers a create body that is not XML or has no usable Input with 500", ("bad_input.bad_create_refused",), _error_500(lambda r: r.code == "MalformedXML" or "Input must hold" in r.message)),
        Fault("err-500-nested-job-param", "bad-input", "answers a create whose Operation nests elements under JobParam with 500", ("bad_input.bad_create_refused",), _bend(stored=_crash_on_job_param)),
        Fault("err-500-not-utf8", "bad-input", "answers a query whose escapes are not UTF-8 (%FF, GBK) with 500", ("bad_input.no_5xx",), _error_500(lambda r: "can't decode" in r.message)),
        Fault("sig-absent-header-500", "signature", "answers with 500 when a signed header is missing from the request", ("signature.refuses_changed_header",), AbsentHeader500),
        Fault("err-non-xml-body", "bad-input", "error bodies are JSON, not XML", ("bad_input.invalid_values", "bad_input.no_5xx", "schema.error_body"), JsonErrors),
        # writes, then reads
        Fault("model-create-lost", "model", "every third created job is acknowledged, never stored", MODEL, CreateLost),
        Fault("model-missing-under-states", "model", "lists filtered by states miss jobs created after start-up (a stale index)", MODEL, StaleStateIndex, StaleStates),
        Fault("model-cancel-not-listed", "model", "lists show a cancelled job in its old state", MODEL, CancelNotListed),
        Fault("model-job-id-reused", "model", "every second created job gets the JobId of the one before (IDs from the creation's second)", ("model.job_ids_unique",), JobIdReused),
        Fault("model-get-in-utc", "model", "get writes CreationTime in UTC, lists in the job's own offset", ("model.one_truth", *MODEL), _bend(get_job=lambda self, up, i: next((replace(j, creation_time=format_time(j.created, 0)) for j in [up(i)] if j), None))),
        Fault("model-times-in-bound-offset", "model", "a list with a start bound writes CreationTime in that bound's offset", ("model.one_truth",), _paged(_zoned)),
        Fault("model-stored-later", "model", "the store keeps a created job's CreationTime a second after the create answer's", MODEL, _bend(stored=lambda self, up, j: up(replace(j, creation_time=format_time(j.created + timedelta(seconds=1)))))),
        Fault("get-missing-empty", "model", "get of an unknown ID answers 200 with neither a job nor NonExistJobIds", ("model.get_missing",), GetMissingEmpty),
    ]
}  # fmt: skip


def check_names(names: list[str]) -> frozenset[str]:
    if unknown := [n for n in names if n not in FAULTS]:
        raise ValueError(f"unknown fault(s): {', '.join(unknown)}; see ci-conformance list-faults")
    return frozenset(names)


@functools.cache
def with_faults(cls: type, names: tuple[str, ...]) -> type:
    """``cls`` (the emulator) with the mixins of these faults over its seams."""
    mixins = tuple(FAULTS[n].emulator for n in check_names(list(names)) if FAULTS[n].emulator)
    return type(f"{cls.__name__}+faults", (*mixins, cls), {}) if mixins else cls


def matching_for(names: frozenset[str]) -> Matching:
    """The SQL semantics with the faults' bends."""
    bends = tuple(FAULTS[n].matching for n in sorted(names) if FAULTS[n].matching)
    return type("Matching+faults", (*bends, Matching), {})() if bends else Matching()


def describe() -> str:
    width = max(len(n) for n in FAULTS)
    return "\n".join(
        f"{f.name:<{width}}  [{f.category}] {f.description}"
        f"{' (needs --allow-writes)' if f.needs_writes else ''}; killed by {', '.join(f.killed_by)}"
        for f in FAULTS.values()
    )
