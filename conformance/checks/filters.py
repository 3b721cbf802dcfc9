"""Filter checks: metamorphic on live data, the exact oracle on known data."""

import itertools
from dataclasses import fields, replace
from datetime import timedelta

from hypothesis import strategies as st

from .. import strategies as gen
from ..query import STATES, TYPES, Filters, Query, expected, parse_filters
from ..session import Finding, Session, SkipCheck, Walk
from ..timefmt import format_time, parse_time
from ..xmlmodel import Job, ListResponse
from .base import (
    PAGE_OBSERVERS,
    check,
    check_matches,
    data_queries,
    error_doc,
    fail,
    full,
    job_and,
    near_miss,
    observed,
    queries,
    query_strategy,
    same_set,
    single_filter_queries,
    tie_difference,
    valid_filters,
)
from .profile import pin


@check(
    "every job returned satisfies every filter in force",
    given=queries,
    judges_jobs=True,
    anchor="filter-semantics",
)
def every_job_matches(s: Session, query: Query) -> None:
    check_matches(s.walk(full(query)))


def _exactly(s: Session, walk: Walk, what: str) -> None:
    """``walk`` returns exactly the jobs that satisfy its filters, of all it could return: the
    whole target (its slice around the query's time bounds, on a large target)."""
    f = parse_filters(walk.query)
    check_matches(walk, f)
    window = s.walk(full(s.bounded(Query(), f.start or f.end)))
    same_set(walk, [j for j in window.jobs if not f.broken(j)], what, window)


@check(
    "each filter alone returns exactly the jobs that satisfy it",
    given=single_filter_queries,
    judges_jobs=True,
    anchor="filter-semantics",
)
def single_filter(s: Session, batch: list[Query]) -> None:
    for query in batch:
        _exactly(s, s.walk(full(query)), f"{query.describe()} vs the jobs that satisfy it")


@check(
    "a time bound at a job's CreationTime includes it, one a second past it leaves it out (in the job's own offset and another)",
    given=lambda s: job_and(s, (None, *gen.OFFSETS)),
    judges_jobs=True,
    cost=2,
    anchor="filter-time",
)
def bounds_inclusive(s: Session, drawn) -> None:
    job, offset = drawn  # None: the job's own offset
    for low, high in ((-1, -1), (-1, 0), (0, 0), (0, 1), (1, 1), (-1, 1)):
        start, end = (format_time(job.created + timedelta(seconds=d), offset) for d in (low, high))
        walk = s.walk(Query(size="100", start_creation_time=start, end_creation_time=end))
        check_matches(walk)
        if (job.job_id in walk.ids) != (low <= 0 <= high):
            fail(
                f"a window from {start} to {end} {'misses' if low <= 0 <= high else 'returns'} "
                f"job {job.job_id} created at {job.creation_time}",
                walk.query,
                walk.exchanges[:1],
            )


@check(
    "a multi-state walk is the union of its single-state walks; All is no filter",
    given=data_queries,
    judges_jobs=True,
    anchor="filter-states",
)
def states_union(s: Session, query: Query) -> None:
    states = sorted(parse_filters(query).states or STATES)
    union = {i for state in states for i in s.walk(full(query, states=state)).ids}
    multi = s.walk(full(query, states=",".join(states)))
    same_set(multi, union, f"states={','.join(states)} vs the union of single states")
    everything = set(s.walk(full(query, states=None)).ids)
    for spelled in ("All", ",".join(STATES)):
        walk = s.walk(full(query, states=spelled))
        same_set(walk, everything, f"states={spelled} vs no states filter")


@check(
    "type=Workflow and type=Job together are the walk without type",
    given=data_queries,
    judges_jobs=True,
    anchor="filter-type",
)
def type_union(s: Session, query: Query) -> None:
    parts = [s.walk(full(query, type=t)) for t in TYPES]
    whole = s.walk(full(query, type=None))
    workflows, jobs = (set(p.ids) for p in parts)
    if workflows & jobs:
        fail("a job is both Workflow and Job", whole.query, [p.exchanges[0] for p in parts])
    same_set(whole, workflows | jobs, "Workflow + Job vs no type")


@check(
    "a time window is exactly the unbounded walk cut to it",
    given=data_queries,
    judges_jobs=True,
    anchor="filter-time",
)
def time_window_complete(s: Session, query: Query) -> None:
    f = parse_filters(query)
    if f.start and f.end and f.start > f.end:
        raise SkipCheck("start is after end (see bad_input.start_after_end)")
    query = s.bounded(query)  # a recheck's recorded query may span slices: keep it to one
    f = parse_filters(query)
    windowed = s.walk(full(query))
    around = f.start or f.end  # on a large target, "unbounded" is the slice around the window
    unbounded = s.walk(
        s.bounded(full(query, start_creation_time=None, end_creation_time=None), around)
    )
    inside = [j for j in unbounded.jobs if Filters(start=f.start, end=f.end).matches(j)]
    same_set(windowed, inside, "the time window vs the unbounded walk cut to the window", unbounded)


OFFSET_LISTS = st.lists(st.sampled_from(gen.OFFSETS), min_size=2, max_size=3, unique=True)


@check(
    "one instant written with different UTC offsets gives the same result",
    given=lambda s: job_and(s, [-1, 0, 1], ["start", "end"], OFFSET_LISTS),
    judges_jobs=True,
    anchor="filter-time",
)
def offset_invariance(s: Session, drawn) -> None:
    job, delta, side, offsets = drawn
    moment = job.created + timedelta(seconds=delta)
    key = f"{side}_creation_time"
    other = "end_creation_time" if side == "start" else "start_creation_time"
    sliced = s.bounded(Query(**{key: format_time(moment)}), job)  # the other bound: its slice's
    rest = {other: getattr(sliced, other)}
    walks = [
        s.walk(Query(size="100", **{key: format_time(moment, off)}, **rest)) for off in offsets
    ]
    first, said = set(walks[0].ids), walks[0].query.describe()
    for w in walks[1:]:
        same_set(w, first, f"{key} {w.query.describe()} vs {said}", walks[0])


def _time_spellings(text: str) -> list[str]:  # a colon offset, a fraction, Z, a space for T
    utc = format_time(parse_time(text), 0)
    return [f"{text[:-2]}:{text[-2:]}", f"{text[:19]}.000{text[19:]}", f"{utc[:19]}Z", text.replace("T", " ")]  # fmt: skip


SPELLINGS = {  # other ways a client might write a parameter's value
    "states": lambda v: [f"{v},{v}", v.lower()],
    "type": lambda v: [v.lower(), v.upper()],
    "order_by_time": lambda v: [v.lower(), v.upper()],
    "start_creation_time": _time_spellings,
    "end_creation_time": _time_spellings,
    "size": lambda v: ["0" + v],
}


@check(
    "another spelling of a value (a state listed twice, another case, a leading zero, a time with a colon offset, fractional seconds, Z or a space for the T) means what the canonical one means, or gets 400",
    given=lambda s: job_and(s, gen.OFFSETS, ("Asc", "Desc"), STATES),
    judges_jobs=True,
    cost=4,
    anchor="equivalent-spellings",
)  # fmt: skip
def spellings_agree(s: Session, drawn) -> None:
    job, offset, order, state = drawn
    canonical = s.bounded(Query(size="100", type=job.type, order_by_time=order,
                                states=",".join(sorted({job.state, state})),
                                start_creation_time=format_time(job.created - timedelta(minutes=10), offset),
                                end_creation_time=format_time(job.created, offset)), job)  # fmt: skip
    for key, spell in SPELLINGS.items():
        base = s.bounded(Query(size="10"), job) if key == "size" else canonical
        for spelled in spell(getattr(base, key)):
            query = replace(base, **{key: spelled})
            ex, said = s.list(query), Query(**{key: spelled}).describe()
            if ex.status == 400:
                error_doc(ex, query, (400,), said)
                continue
            if key == "size":  # no more jobs than it spells; fewer only as a short page
                page = s.page(query)
                n, most = len(page.body.jobs), int(base.size or 10)
                diff = n > most and f"a first page of {n} jobs"
                if n < most and page.body.next_token:
                    pin(s, "page_fill", "short", query, page.exchange)
            else:
                diff = tie_difference(s.walk(query).jobs, s.walk(base).jobs)
            if diff:
                fail(f"{said} is read otherwise than {getattr(base, key)}: {diff}", query, [ex])


@check(
    "jobId, name and workflowId match exactly",
    given=lambda s: job_and(s, ["job_id", "name", "workflow_id"]),
    judges_jobs=True,
    anchor="filter-exact",
)
def exact_match(s: Session, drawn) -> None:
    job, field = drawn
    value = (job.workflow_ids or ("",))[0] if field == "workflow_id" else getattr(job, field)
    if not value:
        raise SkipCheck("the drawn job has no workflow ID")
    walk = s.walk(s.bounded(Query(size="100", **{field: value}), job))
    _exactly(s, walk, f"{field}={value!r} vs the jobs that carry it")
    if job.job_id not in walk.ids:
        fail(
            f"{field}={value!r} did not return job {job.job_id}, which carries it",
            walk.query,
            walk.exchanges[:1],
        )


@st.composite
def _pairs(draw: st.DrawFn, jobs: list[Job]) -> tuple[Job, list[tuple[dict, dict]]]:
    """Every pair of filters, each from one drawn job (a non-empty intersection) or, every other
    pair, its second filter from another job (often an empty one): ``(job, [(first, second),
    ...])``. The job carries every filter when the data has such jobs (a workflow and a name)."""
    full_jobs = [j for j in jobs if j.workflow_ids and j.name] or jobs
    a, b = draw(gen.pick(full_jobs)), draw(gen.pick(jobs))
    mine, other = gen.satisfied_by(a, draw), gen.satisfied_by(b, draw)
    combos = list(itertools.combinations(sorted(mine), 2))
    flip = draw(st.booleans())  # even the first example crosses half of the pairs
    crossed = [bool((i + flip) % 2) for i in range(len(combos))]
    return a, [
        ({k1: mine[k1]}, {k2: other[k2] if cross and k2 in other else mine[k2]})
        for (k1, k2), cross in zip(combos, crossed, strict=True)
    ]


@check(
    "every pair of filters together gives the intersection of each alone",
    given=lambda s: _pairs(s.require_jobs()),
    judges_jobs=True,
    cost=4,
    anchor="filter-semantics",
)
def intersection(
    s: Session, drawn: tuple[Job, list[tuple[dict[str, str], dict[str, str]]]]
) -> None:
    job, pairs = drawn
    for first, second in pairs:
        f = parse_filters(Query(**first, **second))
        if f.start and f.end and f.start > f.end:
            continue  # start after end is an open point, judged by bad_input.start_after_end
        both = s.walk(s.bounded(Query(size="100", **first, **second), job))
        check_matches(both)
        window = {k: getattr(both.query, k) for k in ("start_creation_time", "end_creation_time")}
        one, two = (s.walk(Query(size="100", **(window | {k: getattr(both.query, k) for k in f})))
                    for f in (first, second))  # fmt: skip
        what = f"{both.query.describe()} vs each filter alone"
        same_set(both, set(one.ids) & set(two.ids), what, one, two)


def _id_variants(s: Session) -> st.SearchStrategy:
    jobs = s.require_jobs()
    with_workflow = [j for j in jobs if j.workflow_ids]
    fields = ["job_id"] + (["workflow_id"] if with_workflow else [])
    return st.tuples(
        st.sampled_from(fields),
        gen.pick(jobs),
        gen.pick(with_workflow or jobs),
        st.sampled_from(["prefix", "suffix", "extended", "case", "changed"]),
    )


@check(
    "a prefix, a suffix, a case variant or a one-character change of a real jobId or workflowId matches nothing it does not equal (or gets 400)",
    given=_id_variants,
    anchor="filter-exact",
)
def id_near_misses(s: Session, drawn) -> None:
    field, job, workflow_job, how = drawn
    real = job.job_id if field == "job_id" else workflow_job.workflow_ids[0]
    variant = near_miss(real, how)
    if len(real) < 2 or variant == real:
        raise SkipCheck(f"{real!r} has no {how} variant")
    query = s.bounded(Query(size="100", **{field: variant}), job)
    if (ex := s.list(query)).status == 400:
        error_doc(ex, query, (400,), query.describe())
    else:
        check_matches(s.walk(query))


@check(
    "on known data (the embedded emulator), the walk equals the reference semantics, up to ties, "
    "and each job shows the fields the data holds",
    given=queries,
    judges_jobs=True,
    anchor="filter-semantics",
)
def oracle(s: Session, query: Query) -> None:
    known = s.require_known_jobs()
    walk = s.walk(query)
    if diff := tie_difference(walk.jobs, expected(known, parse_filters(query))):
        fail(f"the walk differs from the oracle: {diff}", query, walk.exchanges[:2])
    stored = {j.job_id: j for j in known[: s.stored]}  # not the run's own: their states move
    for job in walk.jobs:
        if (was := stored.get(job.job_id, job)) != job:
            field = next(
                f.name for f in fields(job) if getattr(job, f.name) != getattr(was, f.name)
            )
            fail(f"job {job.job_id} shows {field} {getattr(job, field)!r}; the data holds "
                 f"{getattr(was, field)!r}", query, walk.exchanges[:2])  # fmt: skip


def filter_findings(query: Query, body: ListResponse) -> list[Finding]:
    """Every job of every page the run sees satisfies every filter in force."""
    if (f := valid_filters(query)) is None:
        return []
    for job in body.jobs:
        if broken := f.broken(job):
            found = f"job {job.job_id} breaks a filter in force: {broken[0]}"
            return [("filters.every_page_keeps_filters", found)]
    return []


PAGE_OBSERVERS.append(filter_findings)
observed(
    "filters",
    "every_page_keeps_filters",
    "every job on every page of the run satisfies every filter in force",
    lambda s, q: s.head(replace(q, size="2"), pages=4),
    anchor="filter-semantics",
)


@check(
    "an unknown type, orderByTime or states value gets 400 InvalidArgument, never unfiltered results",
    given=query_strategy(lambda _: gen.unknown_values()),
    anchor="filter-unknown-values",
)
def unknown_value_refused(s: Session, query: Query) -> None:
    error_doc(s.list(query), query, (400,), query.describe(), code="InvalidArgument")
