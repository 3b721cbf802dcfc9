"""Profile pins: a ``--profile`` that pins an open point of API-NOTES §6 makes every other
allowed choice a failure, naming the point, the choice seen and an exchange that shows it.

The session reads each open point's choice off every exchange (``Coverage.exchange`` and
``Coverage.page``) and keeps the first one a pin forbids. The checks that meet a point on purpose
(``size_over_100``, ``start_after_end``, the signature refusals) call ``pin`` on their own
exchange; those met on the way (the last page, ties, error elements) by the checks below.
"""

import functools
from collections import Counter
from collections.abc import Callable

from ..client import Exchange
from ..coverage import Deviation, request_query
from ..query import Query
from ..session import Session, SkipCheck
from ..timefmt import format_time
from .base import check, fail

PROFILE = "a profile's pinned open point allows only the pinned choice"


def pin(s: Session, point: str, seen: str, query: Query | None, ex: Exchange) -> None:
    """Fail when the profile pins ``point`` to another choice than ``seen``."""
    if (pinned := s.profile.get(point)) is not None and seen != pinned:
        fail(Deviation(point, pinned, seen, ex).message(), query, [ex])


def _pinned(category: str, *points: str) -> Callable:
    """Register a check of ``points``, open points met on the way. It runs only when the profile
    pins one of them: its own traffic (the function it decorates) makes sure the run meets them;
    then it reports the first exchange of the run that showed a choice a pin forbids."""

    def register(traffic: Callable[[Session], None]) -> Callable[[Session], None]:
        @functools.wraps(traffic)
        def run(s: Session) -> None:
            if not (pins := [p for p in points if p in s.profile]):
                raise SkipCheck(
                    f"no profile pins {' or '.join(points)}: every allowed choice passes"
                )
            traffic(s)
            for point in pins:
                if (seen := s.coverage.deviations.get(point)) is not None:
                    fail(seen.message(), request_query(seen.exchange), [seen.exchange])
            if all(not s.coverage.choices[p] for p in pins):
                raise SkipCheck(
                    f"the run never met {' or '.join(pins)}: the pin could not be checked"
                )

        clause = f"{PROFILE} ({', '.join(points)})"
        pinned = check(clause, category=category, observed=True, pins=points, anchor="profile-pins")
        return pinned(run)

    return register


@_pinned("pagination", "last_page_token", "full_last_page", "page_fill")
def pinned_last_page(s: Session) -> None:
    s.walk(s.bounded(Query(size="100")))
    if jobs := s.census():  # one job in pages of one: a full last page
        s.walk(Query(job_id=jobs[0].job_id, size="1"))


@_pinned("ordering", "ties_desc", "ties_asc")
def pinned_ties(s: Session) -> None:
    if tied := [t for t, n in Counter(j.created for j in s.census()).items() if n > 1]:
        at = format_time(tied[0])
        for order in ("Desc", "Asc"):
            s.walk(
                Query(size="100", start_creation_time=at, end_creation_time=at, order_by_time=order)
            )


@_pinned("schema", "error_extras")
def pinned_error_extras(s: Session) -> None:
    s.list(Query(size="bad"))
