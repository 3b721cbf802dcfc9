"""Profile pins: a ``--profile`` that pins an open point of API-NOTES §6 makes every other
allowed choice a failure, naming the point, the choice seen and an exchange that shows it.

The session reads each open point's choice off every exchange (``Coverage.exchange`` and
``Coverage.page``) and keeps the first one a pin forbids. The checks that meet a point on purpose
(``size_over_100``, ``start_after_end``, the signature refusals) call ``pin`` on their own
exchange; the points met on the way (the last page, ties, error elements) are reported by the
checks below, which run last, report what the whole run saw, and join a run only when its
profile pins one of their points.
"""

from collections import Counter

from ..client import Exchange
from ..coverage import Deviation, request_query
from ..query import Query
from ..session import Session, SkipCheck
from ..timefmt import format_time
from .base import check, fail

PROFILE = "a profile's pinned open point allows only the pinned choice"


def pin(s: Session, point: str, seen: str, query: Query | None, ex: Exchange) -> None:
    """Fail when the profile pins ``point`` to another choice than ``seen``."""
    pinned = s.profile.get(point)
    if pinned is not None and seen != pinned:
        fail(Deviation(point, pinned, seen, ex).message(), query, [ex])


def _report(s: Session, points: tuple[str, ...]) -> None:
    pins = [p for p in points if p in s.profile]
    for point in pins:
        seen = s.coverage.deviations.get(point)
        if seen is not None:
            fail(seen.message(), request_query(seen.exchange), [seen.exchange])
    if all(not s.coverage.choices[p] for p in pins):
        raise SkipCheck(f"the run never met {' or '.join(pins)}: the pin could not be checked")


def _pins(s: Session, points: tuple[str, ...]) -> None:
    if not any(p in s.profile for p in points):
        raise SkipCheck(f"no profile pins {' or '.join(points)}: every allowed choice passes")


LAST_PAGE = ("last_page_token", "full_last_page", "page_fill")


@check(
    PROFILE + f" ({', '.join(LAST_PAGE)})",
    category="pagination",
    observed=True,
    pins=LAST_PAGE,
    anchor="profile-pins",
)
def pinned_last_page(s: Session) -> None:
    _pins(s, LAST_PAGE)
    s.walk(s.bounded(Query(size="100")))
    jobs = s.census()
    if jobs:  # one job in pages of one: a full last page
        s.walk(Query(job_id=jobs[0].job_id, size="1"))
    _report(s, LAST_PAGE)


TIES = ("ties_desc", "ties_asc")


@check(
    PROFILE + f" ({', '.join(TIES)})",
    category="ordering",
    observed=True,
    pins=TIES,
    anchor="profile-pins",
)
def pinned_ties(s: Session) -> None:
    _pins(s, TIES)
    counts = Counter(j.created for j in s.census())
    tied = [t for t, n in counts.items() if n > 1]
    if tied:
        at = format_time(tied[0])
        for order in ("Desc", "Asc"):
            s.walk(
                Query(size="100", start_creation_time=at, end_creation_time=at, order_by_time=order)
            )
    _report(s, TIES)


@check(
    PROFILE + " (error_extras)",
    category="schema",
    observed=True,
    pins=("error_extras",),
    anchor="profile-pins",
)
def pinned_error_extras(s: Session) -> None:
    _pins(s, ("error_extras",))
    s.list(Query(size="bad"))
    _report(s, ("error_extras",))
