"""Hypothesis strategies: jobs, filter queries and signing inputs."""

import functools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from .query import STATES, TYPES, Query, parse_filters
from .timefmt import format_time, parse_time
from .xmlmodel import Job

BASE = datetime(2022, 6, 27, 7, 23, 10, tzinfo=UTC)
# Whole-hour and half-hour offsets seen in the wild, in minutes east of UTC.
OFFSETS = (0, 480, -300, 330, 345, -600, 840, -720)

# Text that XML 1.0 can carry, without surrounding spaces that an XML round trip keeps anyway.
xml_chars = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff")
xml_text = st.text(alphabet=xml_chars, max_size=20)


def pick(items: list) -> st.SearchStrategy:
    """An element of ``items``, drawn by index: ``st.sampled_from`` hashes every element of a
    list each time (a census of 5,000 jobs, for every draw)."""
    return st.integers(0, len(items) - 1).map(items.__getitem__)


def vendor_ids(prefix: str) -> st.SearchStrategy[str]:
    """IDs shaped like the vendor's (``b`` or ``w`` and 32 hex digits), that a server may
    check the form of: a miss must look like a real ID, or a strict server could rightly 400."""
    return st.text("0123456789abcdef", min_size=32, max_size=32).map(lambda h: prefix + h)


INSTANTS = st.integers(0, 3 * 86400).map(lambda s: BASE + timedelta(seconds=s))
DELTAS = (0, 0, 1, 60, 3600, 86400)  # seconds a time bound stands off its job (0: the edge)
# Built once: a strategy built inside a draw is validated anew at each draw (half the drawing's
# time at 10^4 jobs went to that).
_OTHER_STATES = st.sets(st.sampled_from(STATES), max_size=2)
_DELTAS, _OFFSETS = st.sampled_from(DELTAS), st.sampled_from(OFFSETS)
_PERCENT = st.integers(0, 99)
_ORDER = st.none() | st.sampled_from(("Asc", "Desc"))
ANY_SIZE = st.none() | st.integers(1, 100).map(str)


@st.composite
def jobs(draw: st.DrawFn, job_id: str | None = None) -> Job:
    jtype = draw(st.sampled_from(TYPES))
    created = draw(
        st.sampled_from([BASE + timedelta(seconds=s) for s in (0, 1, 60, 3600)]) | INSTANTS
    )
    workflow = draw(st.sampled_from(("w1", "w2", "w3")))
    op = (
        (("WorkflowIds", workflow),)
        if jtype == "Workflow"
        else (("QueueId", "p1"), ("JobLevel", str(draw(st.integers(0, 2)))))
    )
    return Job(
        job_id=job_id or draw(st.text("0123456789abcdef", min_size=8, max_size=8)),
        type=jtype,
        state=draw(st.sampled_from(STATES)),
        name=draw(st.sampled_from(("demo", "a b", "名字", "x&<y")) | xml_text),
        creation_time=format_time(created, draw(_OFFSETS)),
        operation=op,
    )


def filter_queries(sample: list[Job] | None = None) -> st.SearchStrategy[Query]:
    """Valid queries; with ``sample`` the values come from those jobs as often as not."""
    sample = sample or []
    moments = [j.created + timedelta(seconds=d) for j in sample for d in (-1, 0, 1)]
    moment = pick(moments) | INSTANTS if moments else INSTANTS
    edge = st.none() | st.builds(format_time, moment, _OFFSETS)

    def value_of(values: list[str], other: st.SearchStrategy[str]) -> st.SearchStrategy[str | None]:
        return st.none() | (st.sampled_from(sorted(set(values))) | other if values else other)

    def build(
        start: str | None, end: str | None, states: set[str] | None, **rest: str | None
    ) -> Query:
        if start and end and parse_time(start) > parse_time(end):
            start, end = end, start  # start > end is an open point (API-NOTES §6), tested alone
        joined = None if states is None else ",".join(sorted(states))
        return Query(start_creation_time=start, end_creation_time=end, states=joined, **rest)

    return st.builds(
        build,
        start=edge,
        end=edge,
        states=st.none() | st.sets(st.sampled_from(("All", *STATES)), min_size=1),
        type=st.none() | st.sampled_from(TYPES),
        order_by_time=_ORDER,
        workflow_id=value_of([w for j in sample for w in j.workflow_ids], vendor_ids("w")),
        job_id=value_of([j.job_id for j in sample], vendor_ids("b")),
        name=value_of([j.name for j in sample], xml_text),
        size=ANY_SIZE,
    )


# --- queries drawn from the target's data, so that they match ------------------------------

NARROW = frozenset({"job_id", "name", "workflow_id"})


def satisfied_by(job: Job, draw: st.DrawFn) -> dict[str, str]:
    """For each filter the job can carry, a value it satisfies (``Query`` field names)."""
    others = draw(_OTHER_STATES)

    def bound(sign: int) -> str:  # a time bound ``sign`` x a drawn delta off the job's
        moment = job.created + sign * timedelta(seconds=draw(_DELTAS))
        return format_time(moment, draw(_OFFSETS))

    values = {"type": job.type, "states": ",".join(sorted({job.state, *others}))}
    values |= {"start_creation_time": bound(-1), "end_creation_time": bound(1)}
    values |= {"job_id": job.job_id, "name": job.name}
    if job.workflow_ids:
        values["workflow_id"] = draw(st.sampled_from(job.workflow_ids))
    if not job.name:
        del values["name"]  # an empty name is no filter (empty counts as absent)
    return values


@functools.lru_cache(maxsize=1024)
def several_pages(matching: int) -> st.SearchStrategy[str | None]:
    """Sizes that walk ``matching`` jobs in several pages (at most about 40), sometimes any size."""
    if matching < 2:
        return ANY_SIZE
    high = min(100, matching - 1)
    low = min(high, max(1, -(-matching // 40)))  # over 4,000 jobs: 100, and more pages
    spread = st.integers(low, high).map(str)
    return spread | spread | spread | ANY_SIZE


def matching_queries(census: list[Job]) -> st.SearchStrategy[Query]:
    """Queries whose filters come from one drawn job (so the walk is not empty), in either
    order, with a size that walks the matching jobs in several pages."""

    picked = pick(census)

    @st.composite
    def build(draw: st.DrawFn) -> Query:
        job = draw(picked)
        values = satisfied_by(job, draw)
        # broad filters often, narrow ones (a single job or a handful) seldom: several pages
        chosen = [k for k in sorted(values) if draw(_PERCENT) >= (88 if k in NARROW else 65)]
        query = Query(order_by_time=draw(_ORDER), **{k: values[k] for k in chosen})
        query = bounded(census, query, job)
        sized = replace(query, size=draw(several_pages(count_matching(census, query))))
        return few_pages(census, sized)

    return build()


def few_pages(census: list[Job], query: Query, most: int = 40) -> Query:
    """``query`` with its size raised, if need be, so that its walk of the census's matching
    jobs takes at most about ``most`` pages (a live target may hold many thousands)."""
    matching = count_matching(census, query)
    size = int(query.size or 10)
    if matching <= size * most:
        return query
    return replace(query, size=str(min(100, -(-matching // most))))


def count_matching(census: list[Job], query: Query) -> int:
    """How many of the target's jobs a valid query matches, about (the reference semantics over
    the census's sample, scaled: to choose sizes)."""
    f = parse_filters(query)
    if not hasattr(census, "between"):
        return sum(1 for j in census if f.matches(j))
    key = tuple(replace(query, size=None, order_by_time=None).params())
    if key not in census.counts:
        if not any((f.type, f.states, f.workflow_id, f.job_id, f.name)):  # a time window alone
            census.counts[key] = census.count_between(f.start, f.end)
        else:
            window = census.between(f.start, f.end)
            sampled = sum(1 for j in window if f.matches(j))  # scaled up to the window's jobs
            scaled = round(sampled * census.count_between(f.start, f.end) / max(1, len(window)))
            census.counts[key] = sampled if f.job_id else scaled
    return census.counts[key]  # a JobId names one job: its count is not scaled


def bounded(census: list[Job], query: Query, job: Job | None = None) -> Query:
    """``query`` kept inside a slice of a large target (``session.Census.bounded``)."""
    return census.bounded(query, job) if hasattr(census, "bounded") else query


@functools.lru_cache(maxsize=8)
def tricky_names(names: tuple[str, ...]) -> list[str]:
    """The names that are substrings, case or space variants of other names (the first 500)."""
    names = names[:500]  # enough to find them, whatever the target's size

    def alike(n: str, m: str) -> bool:
        return m != n and (n in m or n.casefold() == m.casefold() or n.strip() == m.strip())

    return [n for n in names if any(alike(n, m) for m in names)]


def single_filters(census: list[Job]) -> st.SearchStrategy[Query]:
    """One filter alone, its value satisfied by one drawn job; tricky names as often as not."""
    tricky = tricky_names(tuple(sorted({j.name for j in census if j.name})))
    tricky_name, picked = st.sampled_from(tricky or [""]), pick(census)

    @st.composite
    def build(draw: st.DrawFn) -> Query:
        size = draw(ANY_SIZE)
        if tricky and draw(st.booleans()):
            return bounded(census, Query(size=size, name=draw(tricky_name)))
        job = draw(picked)
        values = satisfied_by(job, draw)
        key = draw(st.sampled_from(sorted(values)))
        return bounded(census, Query(size=size, **{key: values[key]}), job)

    return build()


def edge_queries(census: list[Job], limit: int = 4000) -> list[Query]:
    """Explicit examples at the sizes 1, 2, 10, 99 and 100, each over a filter context that
    gives several pages but stays cheap: a few jobs for 1 and 2, over a hundred for 99 and 100
    (computed once per census)."""
    if getattr(census, "edges", None) is not None:
        return census.edges
    times = getattr(census, "times", [])
    windows = [Query(start_creation_time=format_time(datetime.fromtimestamp(times[i], UTC)),
                     end_creation_time=format_time(datetime.fromtimestamp(times[i + n], UTC)))
               for i in range(0, max(0, len(times) - 400), max(1, len(times) // 7)) for n in (9, 39, 199)]  # fmt: skip
    singles = [(j, k, v) for j in census[:50] for k, v in sorted(_single_values(j).items())]
    contexts = [*windows, bounded(census, Query())]
    contexts += [bounded(census, Query(**{k: v}), j) for j, k, v in singles]
    counted = [(count_matching(census, q), q) for q in dict.fromkeys(contexts)]
    edges = []
    bands = ((1, 3, 40), (2, 3, 80), (10, 11, 400), (99, 101, limit), (100, 101, limit))
    for size, low, high in bands:  # a filter context matching from ``low`` to ``high`` jobs
        fits = sorted((n, i) for i, (n, _) in enumerate(counted) if low <= n <= high)
        if fits:
            edges.append(replace(counted[fits[0][1]][1], size=str(size)))
    if hasattr(census, "edges"):
        census.edges = edges
    return edges


def _single_values(job: Job) -> dict[str, str]:
    values = {"type": job.type, "states": job.state, "name": job.name}
    if job.workflow_ids:
        values["workflow_id"] = job.workflow_ids[0]
    return {k: v for k, v in values.items() if v}


# --- values a server must refuse with 400 InvalidArgument ----------------------------------


BAD_SIZES = ("0", "-1", "1.5", "ten", "0x10", "10 20")  # each an explicit example too


def invalid_values() -> st.SearchStrategy[Query]:
    """An invalid size or time: clearly not a positive integer, or not
    YYYY-MM-DDTHH:MM:SS±HHMM in any parser's reading."""
    bad_size = st.sampled_from(BAD_SIZES) | st.integers(max_value=0).map(str)
    bad_time = st.sampled_from(["2024-01-01", "2024-01-01T00:00:00", "yesterday",
                                "2024-13-01T00:00:00+0800", "1704067200", "2024-01-01T25:00:00+0800"])  # fmt: skip
    return st.one_of(
        bad_size.map(lambda v: Query(size=v)),
        bad_time.map(lambda v: Query(start_creation_time=v)),
        bad_time.map(lambda v: Query(end_creation_time=v)),
    )


def unknown_values() -> st.SearchStrategy[Query]:
    """An unknown type, orderByTime or states value (never unfiltered results)."""
    # clearly unknown in any reading; case variants such as "running" are left alone
    word = st.sampled_from(
        ["Done", "Batch", "Sideways", "x", "1", "Finished", "Workflows", "Latest"]
    )
    listed = st.tuples(st.sampled_from(STATES), word).map(lambda t: Query(states=f"{t[0]},{t[1]}"))
    return st.one_of(
        word.map(lambda w: Query(type=w)),
        word.map(lambda w: Query(order_by_time=w)),
        listed,
        word.map(lambda w: Query(states=w)),
    )
