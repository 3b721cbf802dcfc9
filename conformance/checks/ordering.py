"""Ordering checks: by CreationTime as instants, Desc by default."""

import itertools

from ..query import Query, parse_filters
from ..session import Session, Walk
from .base import check, data_queries, fail, full, queries, tie_difference


def _monotonic(walk: Walk, descending: bool) -> None:
    """No job of the walk comes after (Desc) or before (Asc) the one it follows."""
    order = "Desc" if descending else "Asc"
    seen = [(n, page, job) for n, page in enumerate(walk.pages, 1) for job in page.body.jobs]
    for (_, _, prev), (n, page, job) in itertools.pairwise(seen):
        if job.created > prev.created if descending else job.created < prev.created:
            said = f"{job.creation_time} comes after {prev.creation_time} in a {order} walk"
            fail(f"page {n}: {said}", walk.query, [page.exchange])


@check(
    "CreationTime is monotonic across pages, as instants",
    given=queries,
    judges_jobs=True,
    anchor="order",
)
def monotonic(s: Session, query: Query) -> None:
    _monotonic(s.walk(query), parse_filters(query).descending)


def _same_walk(got: Walk, want: Walk, what: str, reverse: bool = False) -> None:
    """``got`` returns the jobs of ``want`` (reversed) in the same order, up to ties."""
    if diff := tie_difference(got.jobs, want.jobs[::-1] if reverse else want.jobs):
        fail(f"{what}: {diff}", got.query, got.exchanges[:1] + want.exchanges[:1])


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
    _same_walk(walk, desc, "the default order differs from orderByTime=Desc")


@check(
    "the Asc walk is the Desc walk reversed, up to ties",
    given=data_queries,
    judges_jobs=True,
    anchor="order",
)
def asc_reverses_desc(s: Session, query: Query) -> None:
    asc = s.walk(full(query, order_by_time="Asc"))
    desc = s.walk(full(query, order_by_time="Desc"))
    _same_walk(asc, desc, "the Asc walk is not the Desc walk reversed", reverse=True)
