"""What a run's inputs exercised: coverage cells, and the open points met with the choice seen.

A check that ran on nothing proved nothing. The session feeds every walk, page size, signature
refusal and open point it meets into ``Coverage``; the summary and the HTML report show which
cells were reached, which the target's data could not reach, and which were missed.
"""

from __future__ import annotations

import contextlib
import itertools
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .query import WIRE_NAMES, InvalidArgument, Query, parse_filters

if TYPE_CHECKING:
    from .xmlmodel import Job

FILTERS = ("type", "states", "startCreationTime", "endCreationTime", "workflowId", "jobId", "name")
PAIRS = tuple(f"{a}+{b}" for a, b in itertools.combinations(FILTERS, 2))
PAGE_BUCKETS = ("0 jobs", "1 page", "2-5 pages", "6+ pages")
SIZE_BUCKETS = ("1", "2", "3-9", "10", "11-50", "51-98", "99", "100", "absent (10)", ">100")
ORDERS = ("Desc", "Asc")
REFUSALS = (
    "unsigned", "malformed", "algorithm", "unknown-key", "wrong-key", "expired", "future",
    "changed-parameter", "removed-parameter", "changed-header", "other-method", "other-path",
    "other-host", "polluted-parameter", "missing-token", "wrong-token",
)  # fmt: skip
FORMS = ("header", "presigned")
TOKEN_KINDS = frozenset({"missing-token", "wrong-token"})

# Open points of the contract: the choices a conforming target may make.
OPEN_POINTS: dict[str, tuple[str, ...]] = {
    "size_over_100": ("clamp", "refuse"),
    "start_after_end": ("empty", "refuse"),
    "last_page_token": ("empty", "absent"),
    "full_last_page": ("no-token", "token"),
    "auth_status": ("401", "403"),
    "error_extras": ("Resource", "TraceId", "none"),
    "ties_desc": ("JobId descending", "JobId ascending", "other"),  # equal CreationTime, Desc walks
    "ties_asc": ("JobId descending", "JobId ascending", "other"),
}


def size_bucket(size: str | None) -> str:
    if size in (None, ""):
        return "absent (10)"
    n = int(size)
    if n < 1:
        raise ValueError(size)
    for bucket, (low, high) in {
        "1": (1, 1), "2": (2, 2), "3-9": (3, 9), "10": (10, 10), "11-50": (11, 50),
        "51-98": (51, 98), "99": (99, 99), "100": (100, 100),
    }.items():  # fmt: skip
        if low <= n <= high:
            return bucket
    return ">100"


def page_bucket(pages: int, jobs: int) -> str:
    if jobs == 0:
        return "0 jobs"
    return "1 page" if pages == 1 else "2-5 pages" if pages <= 5 else "6+ pages"


def filters_used(query: Query) -> list[str]:
    """The filter parameters a query sets (non-empty: empty counts as absent)."""
    used = {WIRE_NAMES[k]: v for k, v in vars(query).items() if v and WIRE_NAMES[k] in FILTERS}
    if used.get("states") == "All":
        del used["states"]
    return [f for f in FILTERS if f in used]


class Coverage:
    """Cells reached by one run, and the choice seen at each open point."""

    def __init__(self) -> None:
        self.cells: dict[str, Counter[str]] = {
            d: Counter()
            for d in ("walks", "sizes", "filters", "pairs", "orders", "signature", "open points")
        }
        self.choices: dict[str, Counter[str]] = {p: Counter() for p in OPEN_POINTS}

    # --- feeding ------------------------------------------------------------------------

    def sent(self, query: Query) -> None:
        with contextlib.suppress(ValueError):  # not a number: a bad-input probe, not a size
            self.cells["sizes"][size_bucket(query.size)] += 1

    def walked(self, query: Query, pages: list, complete: bool) -> None:
        """A walk (``complete``) or the head of one; ``pages`` are its list responses."""
        jobs = [j for p in pages for j in p.jobs]
        if complete:
            self.cells["walks"][page_bucket(len(pages), len(jobs))] += 1
            self._last_page(query, pages)
        if jobs:
            used = filters_used(query)
            self.cells["filters"].update(used)
            self.cells["pairs"].update(f"{a}+{b}" for a, b in itertools.combinations(used, 2))
            self._ties(query, jobs)
        if len(pages) > 1 and jobs:
            self.cells["orders"]["Asc" if query.order_by_time == "Asc" else "Desc"] += 1

    def refused(self, kind: str, form: str) -> None:
        self.cells["signature"][f"{kind} ({form})"] += 1

    def met(self, point: str, choice: str) -> None:
        assert choice in OPEN_POINTS[point], (point, choice)
        self.choices[point][choice] += 1
        self.cells["open points"][point] += 1

    def error(self, extra: Iterable[str]) -> None:
        """An XML Error document was seen, carrying these optional elements."""
        seen = [e for e in ("Resource", "TraceId") if e in extra]
        for e in seen or ["none"]:
            self.met("error_extras", e)

    def _last_page(self, query: Query, pages: list) -> None:
        last = pages[-1]
        self.met("last_page_token", "absent" if last.next_token is None else "empty")
        try:
            size = parse_filters(query).size
        except InvalidArgument:
            return
        if len(pages) > 1 and not last.jobs and len(pages[-2].jobs) == size:
            self.met("full_last_page", "token")  # a full page, then an empty one
        elif last.jobs and len(last.jobs) == size:
            self.met("full_last_page", "no-token")

    def _ties(self, query: Query, jobs: list[Job]) -> None:
        """The order among jobs of equal CreationTime, from the first group of ties."""
        for _, group in itertools.groupby(jobs, key=lambda j: j.created):
            ids = [j.job_id for j in group]
            if len(ids) > 1:
                choice = (
                    "JobId descending" if ids == sorted(ids, reverse=True)
                    else "JobId ascending" if ids == sorted(ids) else "other"
                )  # fmt: skip
                self.met("ties_asc" if query.order_by_time == "Asc" else "ties_desc", choice)
                return

    # --- reading ------------------------------------------------------------------------

    def fingerprint(self) -> dict[str, str]:
        """The behaviour chosen at each open point met: the most seen, or both when mixed."""
        return {
            p: " + ".join(c for c, _ in seen.most_common())
            for p, seen in self.choices.items()
            if seen
        }

    def report(self, census: list[Job] | None, temporary_credentials: bool) -> dict:
        """Every dimension: the cells reached (with counts), missed, and out of the data's reach."""
        possible = reachable(census, temporary_credentials)
        out = {}
        for dim, cells in all_cells().items():
            reached = self.cells[dim]
            out[dim] = {
                "reached": {c: reached[c] for c in cells if reached[c]},
                "missed": [c for c in cells if not reached[c] and c in possible[dim]],
                "out_of_reach": [c for c in cells if not reached[c] and c not in possible[dim]],
            }
        out["open points"]["choices"] = {p: dict(c) for p, c in self.choices.items() if c}
        return out


def all_cells() -> dict[str, list[str]]:
    return {
        "walks": list(PAGE_BUCKETS),
        "sizes": list(SIZE_BUCKETS),
        "filters": list(FILTERS),
        "pairs": list(PAIRS),
        "orders": list(ORDERS),
        "signature": [f"{k} ({f})" for k in REFUSALS for f in FORMS if not (k == "unsigned" and f == "presigned")],
        "open points": list(OPEN_POINTS),
    }  # fmt: skip


def reachable(census: list[Job] | None, temporary_credentials: bool) -> dict[str, set[str]]:
    """The cells that the target's data (its census) and the run's credentials allow."""
    jobs = census or []
    cells = {d: set(c) for d, c in all_cells().items()}
    has = {
        "type": bool(jobs), "states": bool(jobs), "startCreationTime": bool(jobs),
        "endCreationTime": bool(jobs), "jobId": bool(jobs),
        "workflowId": any(j.workflow_ids for j in jobs), "name": any(j.name for j in jobs),
    }  # fmt: skip
    cells["filters"] = {f for f in FILTERS if has[f]}
    cells["pairs"] = {
        f"{a}+{b}"
        for a, b in itertools.combinations(FILTERS, 2)
        if any(_carries(j, a) and _carries(j, b) for j in jobs)
    }
    cells["walks"] = {b for b, n in zip(PAGE_BUCKETS, (0, 1, 2, 6), strict=True) if len(jobs) >= n}
    if len(jobs) < 2:
        cells["orders"] = set()
    if not temporary_credentials:
        cells["signature"] = {c for c in cells["signature"] if c.split(" ")[0] not in TOKEN_KINDS}
    if not jobs:
        cells["open points"] -= {"full_last_page", "start_after_end"}
    if len({j.created for j in jobs}) == len(jobs):
        cells["open points"] -= {"ties_desc", "ties_asc"}
    return cells


def _carries(job: Job, param: str) -> bool:
    return {"workflowId": bool(job.workflow_ids), "name": bool(job.name)}.get(param, True)
