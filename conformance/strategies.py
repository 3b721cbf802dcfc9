"""Hypothesis strategies: jobs, filter queries and signing inputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from .query import STATES, TYPES, Query
from .timefmt import format_time, parse_time
from .xmlmodel import Job

BASE = datetime(2022, 6, 27, 7, 23, 10, tzinfo=UTC)
# Whole-hour and half-hour offsets seen in the wild, in minutes east of UTC.
OFFSETS = (0, 480, -300, 330, 345, -600, 840, -720)

# Text that XML 1.0 can carry, without surrounding spaces that an XML round trip keeps anyway.
xml_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
    max_size=20,
)


def vendor_ids(prefix: str) -> st.SearchStrategy[str]:
    """IDs shaped like the vendor's (``b`` or ``w`` and 32 hex digits), that a server may
    check the form of: a miss must look like a real ID, or a strict server could rightly 400."""
    return st.text("0123456789abcdef", min_size=32, max_size=32).map(lambda h: prefix + h)


@st.composite
def instants(draw: st.DrawFn, spread_seconds: int = 3 * 86400) -> datetime:
    return BASE + timedelta(seconds=draw(st.integers(0, spread_seconds)))


def written(moment: datetime, offset_minutes: int) -> str:
    return format_time(moment, offset_minutes)


@st.composite
def jobs(draw: st.DrawFn, job_id: str | None = None) -> Job:
    jtype = draw(st.sampled_from(TYPES))
    created = draw(
        st.sampled_from([BASE + timedelta(seconds=s) for s in (0, 1, 60, 3600)]) | instants()
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
        creation_time=written(created, draw(st.sampled_from(OFFSETS))),
        operation=op,
    )


@st.composite
def job_lists(draw: st.DrawFn, max_size: int = 30) -> list[Job]:
    ids = draw(
        st.lists(
            st.text("0123456789abcdef", min_size=6, max_size=6), unique=True, max_size=max_size
        )
    )
    return [draw(jobs(job_id=i)) for i in ids]


def filter_queries(sample: list[Job] | None = None) -> st.SearchStrategy[Query]:
    """Valid queries; with ``sample`` the values come from those jobs as often as not."""
    sample = sample or []
    moments = [j.created + timedelta(seconds=d) for j in sample for d in (-1, 0, 1)]
    moment = st.sampled_from(moments) | instants() if moments else instants()
    edge = st.none() | st.builds(written, moment, st.sampled_from(OFFSETS))

    def pick(values: list[str], other: st.SearchStrategy[str]) -> st.SearchStrategy[str | None]:
        return st.none() | (st.sampled_from(sorted(set(values))) | other if values else other)

    def build(
        start: str | None, end: str | None, states: set[str] | None, **rest: str | None
    ) -> Query:
        if start and end and parse_time(start) > parse_time(end):
            start, end = (
                end,
                start,
            )  # start > end is an open point (API-NOTES §6), tested on its own
        joined = None if states is None else ",".join(sorted(states))
        return Query(start_creation_time=start, end_creation_time=end, states=joined, **rest)

    return st.builds(
        build,
        start=edge,
        end=edge,
        states=st.none() | st.sets(st.sampled_from(("All", *STATES)), min_size=1),
        type=st.none() | st.sampled_from(TYPES),
        order_by_time=st.none() | st.sampled_from(("Asc", "Desc")),
        workflow_id=pick([w for j in sample for w in j.workflow_ids], vendor_ids("w")),
        job_id=pick([j.job_id for j in sample], vendor_ids("b")),
        name=pick([j.name for j in sample], xml_text),
        size=st.none() | st.integers(1, 100).map(str),
    )
