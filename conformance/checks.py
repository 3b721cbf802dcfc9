"""The checks: small named functions, each enforcing one clause, registered by category.

A check takes the ``Session`` and, when it has a ``given`` strategy, one drawn value (usually a
``Query``); hypothesis shrinks that value to the minimal failing one. A check raises
``CheckFailure`` on a violation and ``SkipCheck`` when the target cannot exercise it.
Checks never tune to the emulator: every behaviour API-NOTES §6 allows passes.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from hypothesis import strategies as st

from . import strategies as gen
from .client import Exchange
from .query import MAX_SIZE, STATES, TYPES, Filters, Query, expected, parse_filters
from .session import CheckFailure, Session, SkipCheck, Walk
from .signing import Credentials
from .timefmt import format_time
from .xmlmodel import Job, XMLProblem, parse_error

CATEGORIES = ("signature", "pagination", "ordering", "filters", "bad-input", "schema")


@dataclass(frozen=True)
class Check:
    name: str
    category: str
    clause: str
    func: Callable[..., None]
    given: Callable[[Session], st.SearchStrategy] | None = None

    def run(self, session: Session, value: Any = None) -> None:
        self.func(session) if self.given is None else self.func(session, value)


REGISTRY: dict[str, Check] = {}


def check(category: str, clause: str, given: Callable[[Session], st.SearchStrategy] | None = None):
    """Register a check; its name is ``<category>.<function name>``."""
    assert category in CATEGORIES, category

    def register(func: Callable[..., None]) -> Callable[..., None]:
        name = f"{category.replace('-', '_')}.{func.__name__}"
        REGISTRY[name] = Check(name, category, clause, func, given)
        return func

    return register


def select(include: list[str] | None = None, exclude: list[str] | None = None) -> list[Check]:
    """Checks by name or category (``pagination``, ``filters.type_union`` ...)."""

    def hit(c: Check, names: list[str]) -> bool:
        return any(n in (c.name, c.category, c.name.split(".", 1)[1]) for n in names)

    chosen = [c for c in REGISTRY.values() if not include or hit(c, include)]
    return [c for c in chosen if not exclude or not hit(c, exclude)]


def unknown_names(names: list[str]) -> list[str]:
    known = {c.name for c in REGISTRY.values()} | set(CATEGORIES)
    known |= {c.name.split(".", 1)[1] for c in REGISTRY.values()}
    return [n for n in names if n not in known]


# --- helpers ------------------------------------------------------------------------------


def queries(session: Session) -> st.SearchStrategy[Query]:
    """Valid filter queries whose values come from the target's own jobs as often as not."""
    return gen.filter_queries(session.census()[:300])


def data_queries(session: Session) -> st.SearchStrategy[Query]:
    session.require_jobs()
    return queries(session)


def full(query: Query, **changes: str | None) -> Query:
    """The query walked with size 100 (the cheapest walk), with ``changes``."""
    return replace(query, size="100", next_token=None, **changes)


def fail(message: str, query: Query | None = None, exchanges: list[Exchange] | None = None):
    raise CheckFailure(message, query, exchanges)


def error_doc(ex: Exchange, query: Query | None, statuses: tuple[int, ...], what: str):
    """The answer must be one of ``statuses`` with an XML Error body."""
    if ex.status not in statuses:
        fail(f"{what}: expected HTTP {'/'.join(map(str, statuses))}, got {ex.status}", query, [ex])
    try:
        return parse_error(ex.body)
    except XMLProblem as exc:
        fail(f"{what}: the HTTP {ex.status} body is not an XML Error ({exc})", query, [ex])


def by_instant(jobs: list[Job]) -> list[tuple[float, frozenset[str]]]:
    """Jobs grouped by CreationTime instant, in walk order: equal up to the order of ties."""
    return [
        (t, frozenset(j.job_id for j in grp))
        for t, grp in itertools.groupby(jobs, key=lambda j: j.created.timestamp())
    ]


def matches(f: Filters, job: Job) -> list[str]:
    """The filters a job breaks, by parameter name."""
    broken = []
    if f.type and job.type != f.type:
        broken.append(f"type={f.type} but Type is {job.type}")
    if f.states and job.state not in f.states:
        broken.append(f"states={','.join(sorted(f.states))} but State is {job.state}")
    if f.start and job.created < f.start:
        broken.append(f"CreationTime {job.creation_time} is before startCreationTime")
    if f.end and job.created > f.end:
        broken.append(f"CreationTime {job.creation_time} is after endCreationTime")
    if f.workflow_id and f.workflow_id not in job.workflow_ids:
        broken.append(
            f"workflowId={f.workflow_id} but WorkflowIds is {','.join(job.workflow_ids) or 'absent'}"
        )
    if f.job_id and job.job_id != f.job_id:
        broken.append(f"jobId={f.job_id} but JobId is {job.job_id}")
    if f.name is not None and job.name != f.name:
        broken.append(f"name={f.name!r} but Name is {job.name!r}")
    return broken


def check_matches(walk: Walk, f: Filters, first_page: int = 0) -> None:
    for n, page in enumerate(walk.pages[first_page:], start=first_page + 1):
        for job in page.body.jobs:
            broken = matches(f, job)
            if broken:
                fail(
                    f"page {n}: job {job.job_id} breaks a filter in force: {broken[0]}",
                    walk.query,
                    [page.exchange],
                )


def same_set(a: Walk, b: list[Job] | set[str], what: str, query: Query, exchanges) -> None:
    got = set(a.ids)
    want = b if isinstance(b, set) else {j.job_id for j in b}
    if got != want:
        extra, missing = sorted(got - want)[:3], sorted(want - got)[:3]
        fail(
            f"{what}: {len(got - want)} unexpected job(s) {extra}, {len(want - got)} missing {missing}",
            query,
            exchanges,
        )


# --- signature ----------------------------------------------------------------------------

REFUSED = (401, 403)
SIG_CLAUSE = (
    "API-NOTES §4 (COS q-sign-algorithm=sha1) and §6 (401 CI codes or 403 COS codes, XML Error)"
)


@check("signature", "API-NOTES §4: a valid header signature is accepted", given=queries)
def valid_header_accepted(s: Session, query: Query) -> None:
    s.page(query)


@check(
    "signature",
    "API-NOTES §4.9: a signature may ride in the query string (presigned URL)",
    given=queries,
)
def valid_presigned_accepted(s: Session, query: Query) -> None:
    ex = s.list(query, auth=s.client.auth(presign=True))
    if ex.status != 200:
        fail(f"a valid presigned request got HTTP {ex.status}", query, [ex])


def _odd_values(_: Session) -> st.SearchStrategy[Query]:
    odd = (
        st.sampled_from(["", " ", "a b", "a+b", "a/b", "100%", "~x~", "=&?#", "名字 テスト"])
        | gen.xml_text
    )
    return st.builds(
        Query,
        name=odd,  # free text: any value is a valid name (IDs may rightly be checked for form)
        workflow_id=st.sampled_from([None, ""]) | gen.vendor_ids("w"),
        job_id=st.sampled_from([None, ""]) | gen.vendor_ids("b"),
        next_token=st.just(""),
        size=st.sampled_from([None, "", "5"]),
    )


@check(
    "signature",
    "API-NOTES §4.3/§4.5 and §5: any value, empty or not, signs and is accepted",
    given=_odd_values,
)
def generated_values_accepted(s: Session, query: Query) -> None:
    s.page(query)


@check("signature", "HTTP header names are case-insensitive; API-NOTES §4.4 lower-cases them")
def header_case_accepted(s: Session) -> None:
    for headers in ({"X-Ci-Conformance": "Mixed Case"}, {"x-CI-conformance": "v"}):
        ex = s.send(params=[("size", "1")], headers=headers)
        if ex.status != 200:
            fail(
                f"a valid signature over header {next(iter(headers))} got HTTP {ex.status}",
                None,
                [ex],
            )


def _refused(s: Session, what: str, params=(("size", "1"),), **kw) -> None:
    ex = s.send(params=list(params), **kw)
    pinned = s.profile.get("auth_status")
    error_doc(ex, Query(size="1"), (int(pinned),) if pinned else REFUSED, f"{what} must be refused")


def _tamper(old: str, new: str) -> Callable:
    def hook(prepared):
        if old not in prepared.url:
            raise AssertionError(f"{old} not in the URL")
        prepared.url = prepared.url.replace(old, new, 1)
        return prepared

    return hook


def _set_auth(transform: Callable[[str], str]) -> Callable:
    def hook(prepared):
        prepared.headers["Authorization"] = transform(prepared.headers["Authorization"])
        return prepared

    return hook


@check("signature", SIG_CLAUSE + ": a request without a signature is refused")
def refuses_unsigned(s: Session) -> None:
    _refused(s, "an unsigned request", auth=None)


@check("signature", SIG_CLAUSE + ": a signature made with the wrong SecretKey is refused")
def refuses_wrong_key(s: Session) -> None:
    creds = s.client.credentials
    _refused(
        s,
        "a wrong key",
        auth=s.client.auth(Credentials(creds.secret_id, creds.secret_key + "x", creds.token)),
    )


@check("signature", SIG_CLAUSE + ": an unknown SecretId is refused")
def refuses_unknown_secret_id(s: Session) -> None:
    creds = s.client.credentials
    _refused(
        s,
        "an unknown SecretId",
        auth=s.client.auth(
            Credentials("AKIDconformanceUnknown0000000000000", creds.secret_key, creds.token)
        ),
    )


@check("signature", SIG_CLAUSE + "; §4.11: a signature whose window has ended is refused")
def refuses_expired(s: Session) -> None:
    _refused(
        s, "an expired signature", auth=s.client.auth(clock=lambda: time.time() - 7200, expire=600)
    )


@check("signature", SIG_CLAUSE + "; §4.11: a window starting over 15 minutes ahead is refused")
def refuses_future_window(s: Session) -> None:
    _refused(
        s, "a window starting an hour ahead", auth=s.client.auth(clock=lambda: time.time() + 3600)
    )


@check("signature", SIG_CLAUSE + ": a signed parameter changed after signing is refused")
def refuses_changed_parameter(s: Session) -> None:
    _refused(s, "a changed signed parameter", prepare_hook=_tamper("size=1", "size=2"))


@check("signature", SIG_CLAUSE + ": a signed parameter removed after signing is refused")
def refuses_removed_parameter(s: Session) -> None:
    _refused(
        s,
        "a removed signed parameter",
        params=[("size", "1"), ("orderByTime", "Desc")],
        prepare_hook=_tamper("&orderByTime=Desc", ""),
    )


@check("signature", SIG_CLAUSE + ": a signed header changed after signing is refused")
def refuses_changed_header(s: Session) -> None:
    def hook(prepared):
        prepared.headers["x-ci-conformance"] = "changed"
        return prepared

    _refused(
        s, "a changed signed header", headers={"x-ci-conformance": "signed"}, prepare_hook=hook
    )


@check("signature", SIG_CLAUSE + ": only q-sign-algorithm=sha1 is accepted")
def refuses_other_algorithm(s: Session) -> None:
    _refused(
        s,
        "q-sign-algorithm=md5",
        prepare_hook=_set_auth(
            lambda a: a.replace("q-sign-algorithm=sha1", "q-sign-algorithm=md5")
        ),
    )


@check("signature", SIG_CLAUSE + ": a malformed Authorization is refused")
def refuses_malformed(s: Session) -> None:
    for bad in ("garbage", "q-sign-algorithm=sha1&q-ak=", "Bearer abc"):
        _refused(s, f"Authorization {bad!r}", prepare_hook=_set_auth(lambda _a, bad=bad: bad))
    _refused(
        s,
        "a signature with its q-signature cut",
        prepare_hook=_set_auth(lambda a: a.rsplit("&q-signature=", 1)[0]),
    )


@check("signature", SIG_CLAUSE + "; §4.10: temporary credentials without their token are refused")
def refuses_missing_token(s: Session) -> None:
    creds = s.client.credentials
    if not creds.token:
        raise SkipCheck("needs temporary credentials (--security-token)")
    _refused(
        s,
        "temporary credentials without the token",
        auth=s.client.auth(Credentials(creds.secret_id, creds.secret_key)),
    )


@check("signature", SIG_CLAUSE + "; §4.10: temporary credentials with a wrong token are refused")
def refuses_wrong_token(s: Session) -> None:
    creds = s.client.credentials
    if not creds.token:
        raise SkipCheck("needs temporary credentials (--security-token)")
    _refused(
        s,
        "a wrong security token",
        auth=s.client.auth(Credentials(creds.secret_id, creds.secret_key, creds.token + "x")),
    )


# --- pagination ---------------------------------------------------------------------------

PAGE = "Vendor page: size (default 10, maximum 100) and nextToken; API-NOTES §1, §6"


@check("pagination", PAGE + ": no job appears twice in a walk", given=queries)
def no_duplicates(s: Session, query: Query) -> None:
    walk = s.walk(query)
    dupes = [i for i, n in _counts(walk.ids).items() if n > 1]
    if dupes:
        fail(
            f"{len(dupes)} job(s) appear twice in the walk, e.g. {dupes[0]}", query, walk.exchanges
        )


def _counts(ids: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for i in ids:
        out[i] = out.get(i, 0) + 1
    return out


@check(
    "pagination",
    PAGE + ": no page holds more than size jobs; pages before the last are full",
    given=queries,
)
def page_sizes(s: Session, query: Query) -> None:
    walk = s.walk(query)
    size = parse_filters(query).size
    for n, page in enumerate(walk.pages, start=1):
        count = len(page.body.jobs)
        last = n == len(walk.pages)
        if count > size or (not last and count < size and page.body.next_token):
            fail(
                f"page {n} holds {count} jobs with size={query.size or '(default 10)'}",
                query,
                [page.exchange],
            )


@check(
    "pagination",
    PAGE + ": without size a page holds at most 10 jobs, and 10 when more follow",
    given=data_queries,
)
def default_size_is_10(s: Session, query: Query) -> None:
    page = s.page(replace(query, size=None, next_token=None))
    total = len(s.walk(full(query)).jobs)
    want = min(10, total)
    if len(page.body.jobs) != want:
        fail(
            f"the first page holds {len(page.body.jobs)} jobs; the default size 10 and "
            f"{total} matching jobs give {want}",
            replace(query, size=None),
            [page.exchange],
        )


@check(
    "pagination",
    "API-NOTES §6: size > 100 is refused with 400 InvalidArgument or clamped to 100",
    given=lambda s: st.integers(101, 100_000),
)
def size_over_100(s: Session, size: int) -> None:
    query = Query(size=str(size))
    ex = s.list(query)
    pinned = s.profile.get("size_over_100")
    if ex.status == 400 and pinned != "clamp":
        error_doc(ex, query, (400,), f"size={size}")
        return
    if ex.status != 200 or pinned == "refuse":
        fail(
            f"size={size} got HTTP {ex.status}" + (f" (profile pins {pinned})" if pinned else ""),
            query,
            [ex],
        )
    count = len(s.page(query).body.jobs)
    total = len(s.walk(Query(size="100")).jobs)
    if count > MAX_SIZE or count != min(total, MAX_SIZE):
        fail(
            f"size={size} returned {count} jobs; clamping to 100 gives {min(total, MAX_SIZE)}",
            query,
            [ex],
        )


@check("pagination", PAGE + ": a walk ends within ⌈N/size⌉+1 requests", given=queries)
def walk_terminates(s: Session, query: Query) -> None:
    walk = s.walk(query)  # the walk itself refuses endless and looping tokens
    size = parse_filters(query).size
    bound = -(-len(set(walk.ids)) // size) + 1
    if len(walk.pages) > bound:
        fail(
            f"{len(walk.pages)} requests for {len(walk.ids)} jobs with size={size} (at most {bound})",
            query,
            walk.exchanges[-2:],
        )


@check(
    "pagination",
    PAGE + ": a walk equals the same filters walked with size=100, up to ties",
    given=queries,
)
def walk_independent_of_size(s: Session, query: Query) -> None:
    small, big = s.walk(query), s.walk(full(query))
    if by_instant(small.jobs) != by_instant(big.jobs):
        fail(
            f"size={query.size or 'default'} walk ({len(small.ids)} jobs) differs from the size=100 walk "
            f"({len(big.ids)} jobs)",
            query,
            small.exchanges[-2:] + big.exchanges[-1:],
        )


@check("pagination", PAGE + ": re-sending a NextToken gives the same page", given=data_queries)
def token_replay(s: Session, query: Query) -> None:
    query = replace(query, size=query.size or "3", next_token=None)
    first = s.page(query)
    token = first.body.next_token
    if not token:
        raise SkipCheck("the query has a single page")
    second, again = (s.page(replace(query, next_token=token)) for _ in range(2))
    if [j.job_id for j in again.body.jobs] != [j.job_id for j in second.body.jobs]:
        fail("the same NextToken gave a different page", query, [second.exchange, again.exchange])


@check(
    "pagination",
    PAGE + ": filters stay in force on every later page",
    given=lambda s: _single_filters(s),
)
def filters_persist(s: Session, queries: list[Query]) -> None:
    for query in queries:
        walk = s.head(replace(query, size="2"), pages=4)
        check_matches(walk, parse_filters(walk.query), first_page=1)


def _garbage(_: Session) -> st.SearchStrategy[str]:
    return st.sampled_from(
        ["!!not-a-token!!", "%00", "../../etc/passwd", "-1", "a" * 300, "<x/>"]
    ) | st.text(
        st.characters(codec="ascii", exclude_categories=("Cc",)), min_size=1, max_size=30
    ).map(lambda t: "~" + t + "~")


@check(
    "pagination",
    "API-NOTES §6: a nextToken the server did not issue gets 400 InvalidArgument",
    given=_garbage,
)
def garbage_token_refused(s: Session, token: str) -> None:
    query = Query(size="5", next_token=token)
    error_doc(s.list(query), query, (400,), f"nextToken={token!r}")


@check(
    "pagination",
    "API-NOTES §6: a token issued for other filters, or tampered with, gets 400 or a page "
    "that keeps the filters in force; never a 5xx",
    given=data_queries,
)
def foreign_token_safe(s: Session, query: Query) -> None:
    other = s.walk(Query(size="2"))
    if len(other.pages) < 2:
        raise SkipCheck("the target has too few jobs for a second page")
    token = other.pages[0].body.next_token or ""
    flipped = token[:-1] + ("A" if token[-1:] != "A" else "B")
    for candidate in (token, flipped, token + "0"):
        q = replace(query, next_token=candidate)
        ex = s.list(q)
        if ex.status == 200:
            page = s.page(q)
            broken = [b for j in page.body.jobs for b in matches(parse_filters(q), j)]
            if broken:
                fail(f"a foreign token gave a page that breaks the filters: {broken[0]}", q, [ex])
        else:
            error_doc(ex, q, (400,), "a foreign or tampered nextToken")


@check(
    "pagination", PAGE + ": jobs created during a walk cause no duplicate and skip no existing job"
)
def writes_during_walk(s: Session) -> None:
    s.require_writes()
    before = s.walk(Query(size="100"))
    seen, token, made = [], None, 0
    for _ in range(len(before.jobs) // 3 + 3):
        page = s.page(Query(size="3", next_token=token))
        seen += page.body.jobs
        if made < 30:
            s.create("ci-conformance probe")
            made += 1
        token = page.body.next_token or None
        if token is None:
            break
    s.forget_walks()
    ids = [j.job_id for j in seen]
    dupes = len(ids) - len(set(ids))
    skipped = set(before.ids) - set(ids)
    if dupes or skipped:
        fail(
            f"a walk during {made} creations had {dupes} duplicate(s) and skipped {len(skipped)} existing job(s)",
            Query(size="3"),
            [],
        )


# --- ordering -----------------------------------------------------------------------------

ORDER = "Vendor page: orderByTime Desc (default) or Asc, by CreationTime; API-NOTES §6 (ties)"


def _monotonic(walk: Walk, descending: bool) -> None:
    prev: Job | None = None
    for n, page in enumerate(walk.pages, start=1):
        for job in page.body.jobs:
            if prev is not None and (
                job.created > prev.created if descending else job.created < prev.created
            ):
                fail(
                    f"page {n}: {job.creation_time} comes after {prev.creation_time} in a "
                    f"{'Desc' if descending else 'Asc'} walk",
                    walk.query,
                    [page.exchange],
                )
            prev = job


@check("ordering", ORDER + ": CreationTime is monotonic across pages, as instants", given=queries)
def monotonic(s: Session, query: Query) -> None:
    _monotonic(s.walk(query), parse_filters(query).descending)


@check("ordering", ORDER + ": without orderByTime the order is Desc", given=data_queries)
def desc_by_default(s: Session, query: Query) -> None:
    walk = s.walk(full(query, order_by_time=None))
    _monotonic(walk, descending=True)
    desc = s.walk(full(query, order_by_time="Desc"))
    if by_instant(walk.jobs) != by_instant(desc.jobs):
        fail(
            "the default order differs from orderByTime=Desc",
            walk.query,
            walk.exchanges[:1] + desc.exchanges[:1],
        )


@check(
    "ordering", ORDER + ": the Asc walk is the Desc walk reversed, up to ties", given=data_queries
)
def asc_reverses_desc(s: Session, query: Query) -> None:
    asc = s.walk(full(query, order_by_time="Asc"))
    desc = s.walk(full(query, order_by_time="Desc"))
    if by_instant(asc.jobs) != by_instant(desc.jobs)[::-1]:
        fail(
            "the Asc walk is not the Desc walk reversed",
            asc.query,
            asc.exchanges[:1] + desc.exchanges[:1],
        )


# --- filters ------------------------------------------------------------------------------

FILTER = "Vendor page and API-NOTES §1: filter semantics"


@check("filters", FILTER + ": every job returned satisfies every filter in force", given=queries)
def every_job_matches(s: Session, query: Query) -> None:
    walk = s.walk(full(query))
    check_matches(walk, parse_filters(walk.query))


def _single_filters(s: Session) -> st.SearchStrategy[list[Query]]:
    """Every single-parameter filter built from one drawn job, so each example tries them all.
    Names that are substrings or case variants of other names are drawn as often as not."""
    jobs = s.require_jobs()
    names = sorted({j.name for j in jobs})
    tricky = [
        n
        for n in names
        if any(
            m != n and (n in m or n.casefold() == m.casefold() or n.strip() == m.strip())
            for m in names
        )
    ]
    name = st.sampled_from(tricky) | st.sampled_from(names) if tricky else st.sampled_from(names)
    return st.builds(
        lambda job, delta, offset, states, jtype, name: [
            Query(type=jtype),
            Query(states=",".join(sorted(states))),
            Query(start_creation_time=format_time(job.created + timedelta(seconds=delta), offset)),
            Query(end_creation_time=format_time(job.created - timedelta(seconds=delta), offset)),
            Query(job_id=job.job_id),
            Query(name=name),
            *([Query(workflow_id=job.workflow_ids[0])] if job.workflow_ids else []),
        ],
        st.sampled_from(jobs),
        st.sampled_from([0, 1, -1]),
        st.sampled_from(gen.OFFSETS),
        st.sets(st.sampled_from(STATES), min_size=1, max_size=3),
        st.sampled_from(TYPES),
        name,
    )


@check(
    "filters",
    FILTER + ": each filter alone returns exactly the jobs that satisfy it",
    given=_single_filters,
)
def single_filter(s: Session, queries: list[Query]) -> None:
    for query in queries:
        walk = s.walk(full(query))
        f = parse_filters(walk.query)
        check_matches(walk, f)
        if s.census_complete:
            want = [j for j in s.census() if not matches(f, j)]
            same_set(
                walk,
                want,
                f"{query.describe()} vs the jobs that satisfy it",
                walk.query,
                walk.exchanges[:1],
            )


@check(
    "filters",
    FILTER + ": startCreationTime and endCreationTime are inclusive (API-NOTES §1: ≥ and ≤)",
    given=lambda s: st.tuples(st.sampled_from(s.require_jobs()), st.sampled_from(gen.OFFSETS)),
)
def bounds_inclusive(s: Session, drawn) -> None:
    job, offset = drawn
    at = format_time(job.created, offset)
    walk = s.walk(Query(size="100", start_creation_time=at, end_creation_time=at))
    check_matches(walk, parse_filters(walk.query))
    if job.job_id not in walk.ids:
        fail(
            f"a window from {at} to {at} misses job {job.job_id} created at {job.creation_time}",
            walk.query,
            walk.exchanges[:1],
        )


@check(
    "filters",
    FILTER + ": a multi-state walk is the union of its single-state walks; All is no filter",
    given=data_queries,
)
def states_union(s: Session, query: Query) -> None:
    states = parse_filters(query).states or frozenset(STATES)
    union: set[str] = set()
    for state in sorted(states):
        union |= set(s.walk(full(query, states=state)).ids)
    multi = s.walk(full(query, states=",".join(sorted(states))))
    same_set(
        multi,
        union,
        f"states={','.join(sorted(states))} vs the union of single states",
        multi.query,
        multi.exchanges[:1],
    )
    everything = s.walk(full(query, states=None))
    for spelled in ("All", ",".join(STATES)):
        walk = s.walk(full(query, states=spelled))
        same_set(
            walk,
            set(everything.ids),
            f"states={spelled} vs no states filter",
            walk.query,
            walk.exchanges[:1],
        )


@check(
    "filters",
    FILTER + ": type=Workflow and type=Job together are the walk without type",
    given=data_queries,
)
def type_union(s: Session, query: Query) -> None:
    parts = [s.walk(full(query, type=t)) for t in TYPES]
    whole = s.walk(full(query, type=None))
    if set(parts[0].ids) & set(parts[1].ids):
        fail(
            "a job is both Workflow and Job",
            whole.query,
            parts[0].exchanges[:1] + parts[1].exchanges[:1],
        )
    same_set(
        whole,
        set(parts[0].ids) | set(parts[1].ids),
        "Workflow + Job vs no type",
        whole.query,
        whole.exchanges[:1],
    )


@check(
    "filters",
    FILTER + ": time bounds are inclusive (≥ start, ≤ end) and complete",
    given=data_queries,
)
def time_window_complete(s: Session, query: Query) -> None:
    f = parse_filters(query)
    if f.start and f.end and f.start > f.end:
        raise SkipCheck("start is after end (see bad_input.start_after_end)")
    windowed = s.walk(full(query))
    unbounded = s.walk(full(query, start_creation_time=None, end_creation_time=None))
    inside = [
        j
        for j in unbounded.jobs
        if (not f.start or j.created >= f.start) and (not f.end or j.created <= f.end)
    ]
    same_set(
        windowed,
        inside,
        "the time window vs the unbounded walk cut to the window",
        windowed.query,
        windowed.exchanges[:1] + unbounded.exchanges[:1],
    )


def _instant_spellings(s: Session) -> st.SearchStrategy:
    jobs = s.require_jobs()
    return st.tuples(
        st.sampled_from(jobs),
        st.sampled_from([-1, 0, 1]),
        st.sampled_from(["start", "end"]),
        st.lists(st.sampled_from(gen.OFFSETS), min_size=2, max_size=3, unique=True),
    )


@check(
    "filters",
    FILTER + ": one instant written with different UTC offsets gives the same result",
    given=_instant_spellings,
)
def offset_invariance(s: Session, drawn) -> None:
    job, delta, side, offsets = drawn
    moment = job.created + timedelta(seconds=delta)
    key = "start_creation_time" if side == "start" else "end_creation_time"
    walks = [s.walk(Query(size="100", **{key: format_time(moment, off)})) for off in offsets]
    first = set(walks[0].ids)
    for w in walks[1:]:
        same_set(
            w,
            first,
            f"{key} {w.query.describe()} vs {walks[0].query.describe()}",
            w.query,
            [walks[0].exchanges[0], w.exchanges[0]],
        )


def _exact_fields(s: Session) -> st.SearchStrategy:
    jobs = s.require_jobs()
    return st.tuples(st.sampled_from(jobs), st.sampled_from(["job_id", "name", "workflow_id"]))


@check("filters", FILTER + ": jobId, name and workflowId match exactly", given=_exact_fields)
def exact_match(s: Session, drawn) -> None:
    job, field = drawn
    census = s.census()
    value = {"job_id": job.job_id, "name": job.name, "workflow_id": (job.workflow_ids or ("",))[0]}[
        field
    ]
    if not value:
        raise SkipCheck("the drawn job has no workflow ID")
    walk = s.walk(Query(size="100", **{field: value}))
    check_matches(walk, parse_filters(walk.query))
    if s.census_complete:
        want = {j.job_id for j in census if not matches(parse_filters(walk.query), j)}
        same_set(
            walk,
            want,
            f"{field}={value!r} vs the jobs that carry it",
            walk.query,
            walk.exchanges[:1],
        )
    elif job.job_id not in walk.ids:
        fail(
            f"{field}={value!r} did not return job {job.job_id}, which carries it",
            walk.query,
            walk.exchanges[:1],
        )


@check(
    "filters",
    FILTER + ": two filters together give the intersection of each alone",
    given=data_queries,
)
def intersection(s: Session, query: Query) -> None:
    pairs = [(k, v) for k, v in full(query).filter_params() if k != "orderByTime"]
    if len(pairs) < 2:
        raise SkipCheck("the drawn query has fewer than two filters")
    (k1, v1), (k2, v2) = pairs[:2]
    both = s.walk(Query.from_params({k1: v1, k2: v2, "size": "100"}))
    one = s.walk(Query.from_params({k1: v1, "size": "100"}))
    two = s.walk(Query.from_params({k2: v2, "size": "100"}))
    same_set(
        both,
        set(one.ids) & set(two.ids),
        f"{k1} and {k2} together vs each alone",
        both.query,
        both.exchanges[:1] + one.exchanges[:1] + two.exchanges[:1],
    )


@check(
    "filters",
    "Exact oracle (known data only): the walk equals the reference semantics, up to ties",
    given=queries,
)
def oracle(s: Session, query: Query) -> None:
    if s.known_jobs is None:
        raise SkipCheck("the target's data is not known (only the embedded emulator's is)")
    walk = s.walk(query)
    want = expected(s.known_jobs, parse_filters(query))
    if by_instant(walk.jobs) != by_instant(want):
        fail(
            f"the walk ({len(walk.ids)} jobs) differs from the oracle ({len(want)} jobs)",
            query,
            walk.exchanges[:2],
        )


def _unknown_values(_: Session) -> st.SearchStrategy[Query]:
    word = st.sampled_from(
        # clearly unknown in any reading; case variants such as "running" are left alone
        ["Done", "Batch", "Sideways", "x", "1", "Finished", "Workflows", "Latest"]
    )
    return st.one_of(
        word.map(lambda w: Query(type=w)),
        word.map(lambda w: Query(order_by_time=w)),
        st.tuples(st.sampled_from(STATES), word).map(lambda t: Query(states=f"{t[0]},{t[1]}")),
        word.map(lambda w: Query(states=w)),
    )


@check(
    "filters",
    "API-NOTES §6: an unknown type, orderByTime or states value gets 400 InvalidArgument, "
    "never unfiltered results",
    given=_unknown_values,
)
def unknown_value_refused(s: Session, query: Query) -> None:
    err = error_doc(s.list(query), query, (400,), f"{query.describe()}")
    if err.code != "InvalidArgument":
        fail(f"{query.describe()}: code {err.code}, expected InvalidArgument", query)


# --- bad input ----------------------------------------------------------------------------


def _invalid_values(_: Session) -> st.SearchStrategy[Query]:
    # clearly not a positive integer / not YYYY-MM-DDTHH:MM:SS±HHMM in any parser's reading
    bad_size = st.sampled_from(["0", "-1", "1.5", "ten", "0x10", "10 20"]) | st.integers(
        max_value=0
    ).map(str)
    bad_time = st.sampled_from(["2024-01-01", "2024-01-01T00:00:00", "2024-01-01 00:00:00+0800", "yesterday",
                                "2024-13-01T00:00:00+0800", "1704067200", "2024-01-01T25:00:00+0800"])  # fmt: skip
    return st.one_of(
        bad_size.map(lambda v: Query(size=v)),
        bad_time.map(lambda v: Query(start_creation_time=v)),
        bad_time.map(lambda v: Query(end_creation_time=v)),
    )


@check(
    "bad-input",
    "API-NOTES §3/§6: an invalid size or time gets 400 InvalidArgument as XML",
    given=_invalid_values,
)
def invalid_values(s: Session, query: Query) -> None:
    err = error_doc(s.list(query), query, (400,), query.describe())
    if err.code != "InvalidArgument":
        fail(f"{query.describe()}: code {err.code}, expected InvalidArgument", query)


def _junk(_: Session) -> st.SearchStrategy[list[tuple[str, str]]]:
    names = st.sampled_from(
        [
            "size",
            "type",
            "states",
            "orderByTime",
            "startCreationTime",
            "endCreationTime",
            "nextToken",
            "workflowId",
            "jobId",
            "name",
        ]
    ) | st.text(min_size=1, max_size=8)
    values = st.text(max_size=40) | st.sampled_from(
        ["%", "%%", "\x00", "9" * 40, "-0", "Running,,", ","]
    )
    return st.lists(st.tuples(names, values), max_size=4)


@check(
    "bad-input",
    "API-NOTES §3: no input, junk included, gets a 5xx; every error is an XML Error",
    given=_junk,
)
def no_5xx(s: Session, params: list[tuple[str, str]]) -> None:
    ex = s.send(params=params)
    if ex.status >= 500:
        fail(f"HTTP {ex.status} for junk parameters", Query.from_params(dict(params)), [ex])
    if ex.status >= 400:
        error_doc(ex, None, (ex.status,), "an error")


@check(
    "bad-input",
    "API-NOTES §6: startCreationTime after endCreationTime gets 400 or an empty result",
    given=data_queries,
)
def start_after_end(s: Session, query: Query) -> None:
    job = s.census()[0]
    q = Query(
        start_creation_time=format_time(job.created + timedelta(seconds=1)),
        end_creation_time=format_time(job.created - timedelta(seconds=1)),
    )
    ex = s.list(q)
    pinned = s.profile.get("start_after_end")
    if ex.status == 200 and pinned != "refuse":
        page = s.page(q)
        if page.body.jobs:
            fail(f"start after end returned {len(page.body.jobs)} job(s)", q, [ex])
    elif pinned == "empty":
        fail(f"start after end got HTTP {ex.status}; the profile pins an empty result", q, [ex])
    else:
        error_doc(ex, q, (400,), "start after end")


# --- schema (findings from every exchange of the run, plus traffic of their own) ----------

SCHEMA = "schemas/list-response.xsd, schemas/error.xsd; API-NOTES §2, §3"


def _observed(name: str) -> Callable[[Session, Query], None]:
    def run(s: Session, query: Query) -> None:
        s.walk(replace(query, size="7"))
        s.list(replace(query, size="bad"))
        seen = s.observations.get(name)
        if seen is not None:
            fail(seen.message, None, [seen.exchange])

    return run


for _name, _clause in {
    "list_body": SCHEMA + ": every 2xx list body validates against the XSD",
    "error_body": SCHEMA + ": every error is an XML Error (Code, Message, RequestId)",
    "content_type": "API-NOTES §3: Content-Type is application/xml",
    "request_id_header": "API-NOTES §3: every response carries x-ci-request-id",
}.items():
    REGISTRY[f"schema.{_name}"] = Check(
        f"schema.{_name}", "schema", _clause, _observed(f"schema.{_name}"), queries
    )


# Strategies whose drawn value is one Query: a failure's recorded query can be replayed on them.
QUERY_STRATEGIES = frozenset({queries, data_queries, _odd_values, _unknown_values, _invalid_values})
