"""Ordering checks: by CreationTime as instants, Desc by default."""

from ..query import Query, parse_filters
from ..session import Session, Walk
from ..xmlmodel import Job
from .base import check, data_queries, fail, full, queries, tie_difference


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


@check(
    "CreationTime is monotonic across pages, as instants",
    given=queries,
    judges_jobs=True,
    anchor="order",
)
def monotonic(s: Session, query: Query) -> None:
    _monotonic(s.walk(query), parse_filters(query).descending)


@check(
    "without orderByTime the order is Desc",
    given=data_queries,
    judges_jobs=True,
    anchor="order",
)
def desc_by_default(s: Session, query: Query) -> None:
    walk = s.walk(full(query, order_by_time=None))
    _monotonic(walk, descending=True)
    desc = s.walk(full(query, order_by_time="Desc"))
    diff = tie_difference(walk.jobs, desc.jobs)
    if diff:
        fail(
            f"the default order differs from orderByTime=Desc: {diff}",
            walk.query,
            walk.exchanges[:1] + desc.exchanges[:1],
        )


@check(
    "the Asc walk is the Desc walk reversed, up to ties",
    given=data_queries,
    judges_jobs=True,
    anchor="order",
)
def asc_reverses_desc(s: Session, query: Query) -> None:
    asc = s.walk(full(query, order_by_time="Asc"))
    desc = s.walk(full(query, order_by_time="Desc"))
    diff = tie_difference(asc.jobs, desc.jobs[::-1])
    if diff:
        fail(
            f"the Asc walk is not the Desc walk reversed: {diff}",
            asc.query,
            asc.exchanges[:1] + desc.exchanges[:1],
        )
