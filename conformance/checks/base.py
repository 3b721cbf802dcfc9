"""The checks' registry and shared helpers.

Checks are small named functions, each enforcing one clause of the contract (``docs/contract.md``,
named by its anchor), registered by category. A check takes the ``Session`` and, when it has a
``given`` strategy, one drawn value (usually a ``Query``); hypothesis shrinks that value to the
minimal failing one. A check raises ``CheckFailure`` on a violation and ``SkipCheck`` when the
target cannot exercise it. Checks never tune to the emulator: every behaviour an open point of
the contract allows passes.
"""

import contextlib
import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from hypothesis import strategies as st

from .. import contract
from .. import strategies as gen
from ..client import Exchange
from ..query import STATES, TYPES, Filters, InvalidArgument, Query, parse_filters
from ..session import CheckFailure, ExchangeObserver, PageObserver, Session, Walk
from ..timefmt import format_time
from ..xmlmodel import Job, XMLProblem, parse_error

CATEGORIES = ("signature", "pagination", "ordering", "filters", "bad-input", "model", "schema")


@dataclass(frozen=True)
class Check:
    name: str
    category: str
    clause: str  # what the check holds the target to, in one sentence
    func: Callable[..., None]
    given: Callable[[Session], st.SearchStrategy] | None = None
    anchor: str = ""
    """The contract clause it enforces: ``docs/contract.md#<anchor>``. Required."""
    judges_jobs: bool = False
    """It judges the jobs its walks return: an example that saw no job proves nothing, and a
    check whose every example saw none is vacuous (skipped, saying so), not passed."""
    cost: int = 1
    """Examples cost this many ordinary ones: the check runs ``examples // cost`` (at least 3)."""
    observed: bool = False
    """It reports findings observed on every response of the run, so it runs last."""
    edges: Callable[[Session], list[Any]] | None = None
    """Explicit examples, computed from the target's data, that always run first."""
    pins: tuple[str, ...] = ()
    """Open points it enforces for a ``--profile``: it runs only when the profile pins one of
    them, or when it is named in ``--checks``."""

    @property
    def short(self) -> str:
        """Its name without the category (``type_union``): ``--checks`` takes either."""
        return self.name.split(".", 1)[1]

    def wanted(self, profile: dict[str, str], named: list[str]) -> bool:
        return (
            not self.pins
            or bool(set(self.pins) & set(profile))
            or bool({self.name, self.short} & set(named))
        )

    def __post_init__(self) -> None:
        if self.anchor not in contract.clauses():  # fails at import, naming the check
            raise ValueError(
                f"check {self.name}: anchor={self.anchor!r} names no clause of {contract.DOC}"
            )

    def run(self, session: Session, value: Any = None) -> None:
        self.func(session) if self.given is None else self.func(session, value)

    def examples(self, configured: int) -> int:
        return max(min(3, configured), configured // self.cost)


REGISTRY: dict[str, Check] = {}
EXCHANGE_OBSERVERS: list[ExchangeObserver] = []
PAGE_OBSERVERS: list[PageObserver] = []
"""Observers the session runs on every response (and every parsed list page) of the run."""


def check(clause: str, given: Callable[[Session], st.SearchStrategy] | None = None, **options):
    """Register a check of its module's category (``category=`` names another); its name is
    ``<category>.<function name>``. ``options`` are the other fields of ``Check`` (``anchor=``
    required)."""

    def register(func: Callable[..., None]) -> Callable[..., None]:
        category = options.pop("category", func.__module__.rsplit(".", 1)[1].replace("_", "-"))
        assert category in CATEGORIES, category
        name = f"{category.replace('-', '_')}.{func.__name__}"
        if given in (queries, data_queries):
            options.setdefault("edges", lambda s: gen.edge_queries(s.census()))
        REGISTRY[name] = Check(name, category, clause, func, given, **options)
        return func

    return register


def observed(
    category: str, name: str, clause: str, traffic: Callable[[Session, Any], None], *, anchor: str
):
    """Register a check that reports the first finding named ``<category>.<name>`` that an
    observer saw anywhere in the run. Its own ``traffic`` (on drawn queries) makes sure there is
    something to observe when it runs alone. ``anchor`` names its contract clause."""
    full_name = f"{category.replace('-', '_')}.{name}"

    def run(s: Session, query: Query) -> None:
        if full_name not in s.observations:  # what the run saw comes first: a spent budget
            with contextlib.suppress(CheckFailure):  # cannot hide it; what the traffic breaks
                traffic(s, query)  # is another clause's, reported by its own check
        if seen := s.observations.get(full_name):
            fail(seen.message, seen.query, [seen.exchange])

    REGISTRY[full_name] = Check(
        full_name, category, clause, run, queries, anchor=anchor, observed=True
    )


def select(include: list[str] | None = None, exclude: list[str] | None = None) -> list[Check]:
    """Checks by name or category (``pagination``, ``filters.type_union`` ...)."""

    def hit(c: Check, names: list[str] | None) -> bool:
        return any(n in (c.name, c.category, c.short) for n in names or ())

    return [c for c in ordered() if (not include or hit(c, include)) and not hit(c, exclude)]


def ordered() -> list[Check]:
    """Every check in category order; observed checks last, so they report what all others saw."""
    return sorted(REGISTRY.values(), key=lambda c: (c.observed, CATEGORIES.index(c.category)))


def unknown_names(names: list[str]) -> list[str]:
    known = {n for c in REGISTRY.values() for n in (c.name, c.short)} | set(CATEGORIES)
    return [n for n in names if n not in known]


def queries(session: Session) -> st.SearchStrategy[Query]:
    """Valid queries, three times in four drawn from one of the target's jobs so that they match
    and walk in several pages; otherwise from its values or at random (misses included)."""
    census = session.census()
    loose = gen.filter_queries(census[:300]).map(lambda q: gen.few_pages(census, census.bounded(q)))
    if not census:
        return loose
    matched = gen.matching_queries(census)
    return st.integers(0, 3).flatmap(lambda n: matched if n else loose)


def data_queries(session: Session) -> st.SearchStrategy[Query]:
    session.require_jobs()
    return queries(session)


def full(query: Query, **changes: str | None) -> Query:
    """The query walked with size 100 (the cheapest walk), with ``changes``."""
    return replace(query, size="100", next_token=None, **changes)


def valid_filters(query: Query | None) -> Filters | None:
    """The query's filters; ``None`` when there is no query or it is invalid."""
    try:
        return None if query is None else parse_filters(query)
    except InvalidArgument:
        return None


def fail(message: str, query: Query | None = None, exchanges: list[Exchange] | None = None):
    raise CheckFailure(message, query, exchanges)


def error_doc(
    ex: Exchange, query: Query | None, statuses: tuple[int, ...], what: str, code: str = ""
):
    """The answer must be one of ``statuses`` with an XML Error body (whose Code is ``code``)."""
    if ex.status not in statuses:
        fail(f"{what}: expected HTTP {'/'.join(map(str, statuses))}, got {ex.status}", query, [ex])
    try:
        err = parse_error(ex.body)
    except XMLProblem as exc:
        fail(f"{what}: the HTTP {ex.status} body is not an XML Error ({exc})", query, [ex])
    if code and err.code != code:
        fail(f"{what}: code {err.code}, expected {code}", query, [ex])
    return err


def by_instant(jobs: list[Job]) -> list[tuple[float, frozenset[str]]]:
    """Jobs grouped by CreationTime instant, in walk order: equal up to the order of ties."""
    return [
        (t, frozenset(j.job_id for j in grp))
        for t, grp in itertools.groupby(jobs, key=lambda j: j.created.timestamp())
    ]


def job_ids(found: list[str], most: int = 3) -> str:
    """JobIds for people: a few of them by name, and how many more."""
    more = f" and {len(found) - most} more" if len(found) > most else ""
    return ", ".join(found[:most]) + more


def repeated(ids: list[str]) -> list[str]:
    """The IDs that come more than once, sorted."""
    return sorted(i for i, n in Counter(ids).items() if n > 1)


def tie_difference(got: list[Job], want: list[Job]) -> str | None:
    """Where a walk (``got``) differs from the walk it should equal (``want``), up to the order
    of ties, naming the first job it lost, added or moved; ``None`` when they do not differ."""
    a, b = by_instant(got), by_instant(want)
    if a == b:
        return None
    mine, at = [j.job_id for j in got], {j.job_id: n for n, j in reversed(list(enumerate(want)))}

    def job(i: str) -> str:
        j = next(j for j in [*want, *got] if j.job_id == i)
        where = f", #{at[i] + 1} of the {len(want)} expected" if i in at else ""
        return f"job {i} (CreationTime {j.creation_time}{where})"

    lost = [i for i in at if i not in mine]
    extra = list(dict.fromkeys(i for i in mine if i not in at))
    said = [f"{what} {job(found[0])}" + (f" and {len(found) - 1} more" if found[1:] else "")
            for what, found in (("lost", lost), ("added", extra)) if found]  # fmt: skip
    twice = repeated(mine)
    said += [f"returned {job_ids(twice)} twice"] if twice else []
    if not said:  # the same jobs, once each: in another order, beyond ties
        i = next(n for n, (x, y) in enumerate(zip(a, b, strict=False)) if x != y)
        moved = sorted(a[i][1] - b[i][1] or a[i][1])[0]
        said = [f"the order differs beyond ties: {job(moved)} comes #{mine.index(moved) + 1}"]
    return f"{len(got)} vs {len(want)} jobs; " + "; ".join(said)


def check_matches(walk: Walk, f: Filters | None = None, first_page: int = 0) -> None:
    """Every job of the walk from page ``first_page + 1`` satisfies ``f`` (default: its own)."""
    f = f or parse_filters(walk.query)
    for n, page in enumerate(walk.pages[first_page:], start=first_page + 1):
        for job in page.body.jobs:
            if broken := f.broken(job):
                message = f"page {n}: job {job.job_id} breaks a filter in force: {broken[0]}"
                fail(message, walk.query, [page.exchange])


def same_set(a: Walk, b: list[Job] | set[str], what: str, *also: Walk) -> None:
    """Walk ``a`` returns exactly the jobs ``b`` (the jobs, or their IDs); a failure shows the
    first exchange of ``a`` and of each walk it was compared with (``also``)."""
    got = set(a.ids)
    want = b if isinstance(b, set) else {j.job_id for j in b}
    if got != want:
        extra, missing = sorted(got - want), sorted(want - got)
        fail(
            f"{what}: {len(got - want)} unexpected job(s) ({job_ids(extra) or 'none'}), "
            f"{len(want - got)} missing ({job_ids(missing) or 'none'})",
            a.query,
            [w.exchanges[0] for w in (a, *also)],
        )


def job_and(s: Session, *choices: Any, at_least: int = 1) -> st.SearchStrategy[tuple]:
    """One of the target's jobs, and a value of each of ``choices`` (a strategy, or values)."""
    drawn = [c if isinstance(c, st.SearchStrategy) else st.sampled_from(c) for c in choices]
    return st.tuples(gen.pick(s.require_jobs(at_least)), *drawn)


def near_miss(value: str, how: str) -> str:
    """A near miss of a real identifier: ``how`` is prefix, suffix, extended, case or changed."""
    return {
        "prefix": value[:-1],
        "suffix": value[1:],
        "extended": value + value[-1],
        "case": value.swapcase(),
        "changed": value[:-1] + ("0" if value[-1] != "0" else "1"),
    }[how]


def single_filter_queries(s: Session) -> st.SearchStrategy[list[Query]]:
    """Every single-parameter filter built from one drawn job, so each example tries them all.
    Names that are substrings or case variants of other names are drawn as often as not."""
    jobs = s.require_jobs()
    names = sorted({j.name for j in jobs})
    tricky = gen.tricky_names(tuple(names))
    name = st.sampled_from(tricky) | gen.pick(names) if tricky else gen.pick(names)

    def singles(
        job: Job, delta: int, offset: int, states: set[str], jtype: str, name: str
    ) -> list[Query]:
        start = format_time(job.created + timedelta(seconds=delta), offset)
        end = format_time(job.created - timedelta(seconds=delta), offset)
        each = [
            Query(type=jtype),
            Query(states=",".join(sorted(states))),
            Query(start_creation_time=start),
            Query(end_creation_time=end),
            Query(job_id=job.job_id),
            Query(name=name),
        ]
        each += [Query(workflow_id=job.workflow_ids[0])] if job.workflow_ids else []
        return [s.bounded(q, job) for q in each]

    return st.builds(
        singles,
        gen.pick(jobs),
        st.sampled_from([0, 1, -1]),
        st.sampled_from(gen.OFFSETS),
        st.sets(st.sampled_from(STATES), min_size=1, max_size=3),
        st.sampled_from(TYPES),
        name,
    )


QUERY_STRATEGIES: set[Callable] = {queries, data_queries}
"""Strategies whose drawn value is one Query: a failure's recorded query can be replayed on them."""


def query_strategy(func: Callable) -> Callable:
    QUERY_STRATEGIES.add(func)
    return func
