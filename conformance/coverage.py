"""What a run's inputs exercised: coverage cells, and the open points met with the choice seen.

A check that ran on nothing proved nothing. The session feeds every walk, page size, signature
refusal and open point it meets into ``Coverage``; the summary and the HTML report show which
cells were reached, which the target's data could not reach, and which were missed.
"""

from __future__ import annotations

import contextlib
import itertools
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from .query import WIRE_NAMES, InvalidArgument, Query, parse_filters
from .xmlmodel import XMLProblem, parse_error

if TYPE_CHECKING:
    from .client import Exchange
    from .xmlmodel import Job, ListResponse

FILTERS = ("type", "states", "startCreationTime", "endCreationTime", "workflowId", "jobId", "name")
PAIRS = tuple(f"{a}+{b}" for a, b in itertools.combinations(FILTERS, 2))
PAGE_BUCKETS = ("0 jobs", "1 page", "2-5 pages", "6+ pages")
SIZE_BUCKETS = ("1", "2", "3-9", "10", "11-50", "51-98", "99", "100", "absent (10)", ">100")
ORDERS = ("Desc", "Asc")
REFUSALS = (
    "unsigned", "malformed", "algorithm", "unknown-key", "wrong-key", "expired", "future",
    "changed-parameter", "removed-parameter", "changed-header", "removed-header", "other-method", "other-path",
    "other-host", "polluted-parameter", "missing-token", "wrong-token",
)  # fmt: skip
FORMS = ("header", "presigned")
TOKEN_KINDS = frozenset({"missing-token", "wrong-token"})

# Open points of the contract: the choices a conforming target may make, one key each, used
# alike by the fingerprint, ``--profile`` pins, ``compare``, the emulator's ``--behaviour`` (the
# first choice is its default) and the contract (``ANCHORS``). This is the one table.
OPEN_POINTS: dict[str, tuple[str, ...]] = {
    "size_over_100": ("clamp", "refuse"),
    "start_after_end": ("empty", "refuse"),
    "last_page_token": ("empty", "absent"),
    "full_last_page": ("no-token", "token"),
    "page_fill": ("full", "short"),  # pages followed by a token: size jobs, or fewer (not none)
    "empty_values": ("absent", "refuse"),  # an empty size, jobId or workflowId
    "auth_status": ("401", "403"),
    "error_extras": ("resource+trace-id", "resource", "trace-id", "none"),  # on every error
    "ties_desc": ("job-id-desc", "job-id-asc", "other"),  # equal CreationTime, Desc walks
    "ties_asc": ("job-id-asc", "job-id-desc", "other"),
    "get_missing": ("404", "nonexist"),  # get of an unknown ID: 404, or 200 NonExistJobIds
    "cancel_ended": ("refuse", "accept"),  # cancel of a job that has ended (with writes only)
    "writes_during_walk": ("stable", "repeats"),  # jobs created during a Desc walk (writes only)
}
ANCHORS = {p: "open-" + p.replace("_", "-") for p in OPEN_POINTS} | {
    "ties_desc": "open-ties", "ties_asc": "open-ties", "full_last_page": "open-last-page-token"}  # fmt: skip
LEGACY = {"Resource + TraceId": "resource+trace-id", "Resource": "resource", "TraceId": "trace-id",
          "JobId descending": "job-id-desc", "JobId ascending": "job-id-asc"}  # fmt: skip
"""Spellings of earlier versions (profiles, summaries): read as the new ones."""
UNPINNABLE = frozenset({"other"})  # a profile cannot pin "other": tie orders the target's own
TIES = frozenset({"ties_desc", "ties_asc"})
WRITES = frozenset({"cancel_ended", "writes_during_walk"})  # points only a run that writes meets
MIXED = " | "  # joins the choices of a point the run saw several of (summary.json's behaviour)


def check_profile(pins: dict) -> dict[str, str]:
    """A profile's pins, each one open point and one of its choices; ``ValueError`` otherwise."""
    pins = {k: LEGACY.get(str(v), str(v)) for k, v in pins.items()}
    for key, value in pins.items():
        if value not in pinnable(key):
            choices = "; ".join(f"{k} = {' | '.join(map(repr, pinnable(k)))}" for k in OPEN_POINTS)
            raise ValueError(f"profile: {key} = {value!r} is not allowed; choose from: {choices}")
    return pins


def pinnable(point: str) -> tuple[str, ...]:
    return tuple(c for c in OPEN_POINTS.get(point, ()) if c not in UNPINNABLE)


@dataclass
class Deviation:
    """The first choice seen that a profile's pin forbids, and the exchange that shows it."""

    point: str
    pinned: str
    seen: str
    exchange: Exchange

    def message(self) -> str:
        ex, pinned = self.exchange, f"the profile pins {self.point} = {self.pinned!r}"
        return f"{pinned}, but the target chose {self.seen!r}: {ex.method} {ex.url} -> HTTP {ex.status}"


def size_bucket(size: str | None) -> str:
    if size in (None, ""):
        return "absent (10)"
    n = int(size)
    if n < 1:
        raise ValueError(size)
    # the first bucket whose upper bound n does not pass (the buckets are in order)
    return next((b for b in SIZE_BUCKETS[:8] if n <= int(b.split("-")[-1])), ">100")


def filters_used(query: Query) -> list[str]:
    """The filter parameters a query sets (empty counts as absent, and so does states=All)."""
    given = {k for k, v in query.params() if v and (k, v) != ("states", "All")}
    return [f for f in FILTERS if f in given]


class Coverage:
    """Cells reached by one run, and the choice seen at each open point."""

    def __init__(self, pins: dict[str, str] | None = None) -> None:
        self.pins = pins or {}
        self.deviations: dict[str, Deviation] = {}
        dims = ("walks", "sizes", "filters", "pairs", "orders", "signature", "open points")
        self.cells: dict[str, Counter[str]] = {d: Counter() for d in dims}
        self.choices: dict[str, Counter[str]] = {p: Counter() for p in OPEN_POINTS}

    def sent(self, query: Query) -> None:
        with contextlib.suppress(ValueError):  # not a number: a bad-input probe, not a size
            self.cells["sizes"][size_bucket(query.size)] += 1

    def walked(self, query: Query, pages: list, complete: bool) -> None:
        """A walk (``complete``) or the head of one; ``pages`` are its list responses."""
        jobs = [j for p in pages for j in p.jobs]
        if complete:
            walk = "1 page" if len(pages) == 1 else "2-5 pages" if len(pages) <= 5 else "6+ pages"
            self.cells["walks"][walk if jobs else "0 jobs"] += 1
        if jobs:
            used = filters_used(query)
            self.cells["filters"].update(used)
            self.cells["pairs"].update(f"{a}+{b}" for a, b in itertools.combinations(used, 2))
        if len(pages) > 1 and jobs:
            self.cells["orders"]["Asc" if query.order_by_time == "Asc" else "Desc"] += 1

    def refused(self, kind: str, form: str) -> None:
        self.cells["signature"][f"{kind} ({form})"] += 1

    def met(self, point: str, choice: str, exchange: Exchange) -> None:
        assert choice in OPEN_POINTS[point], (point, choice)
        self.choices[point][choice] += 1
        self.cells["open points"][point] += 1
        pinned = self.pins.get(point)
        if pinned is not None and choice != pinned and point not in self.deviations:
            self.deviations[point] = Deviation(point, pinned, choice, exchange)

    # --- the open points, read off each exchange (the same in a run and in ``recheck``) -----

    def exchange(self, ex: Exchange) -> None:
        """Open points an answer shows by its status: size > 100, start > end, auth, errors."""
        if ex.status in (401, 403):
            self.met("auth_status", str(ex.status), ex)
        if ex.status >= 400:
            with contextlib.suppress(XMLProblem):
                extra = parse_error(ex.body, check=False).extra
                seen = [e for e in ("resource", "trace-id") if e.title().replace("-", "") in extra]
                self.met("error_extras", "+".join(seen) or "none", ex)
        if ex.method == "GET" and "/inventorytriggerjob/" in ex.url and ex.status in (200, 404):
            missing = ex.status == 404 or b"<NonExistJobIds>" in ex.body
            if missing and b"<JobsDetail>" not in ex.body:
                self.met("get_missing", "404" if ex.status == 404 else "nonexist", ex)
        if ex.status not in (200, 400) or ex.method != "GET":
            return
        query = request_query(ex)
        if query is None or query.next_token:
            return
        if "" in (query.size, query.job_id, query.workflow_id):
            self.met("empty_values", "absent" if ex.status == 200 else "refuse", ex)
            return
        try:
            f = parse_filters(query)  # valid in every other respect, so 400 can only mean this
        except InvalidArgument:
            return
        if f.size_requested > 100:
            self.met("size_over_100", "clamp" if ex.status == 200 else "refuse", ex)
        elif (
            f.start
            and f.end
            and f.start > f.end
            and (ex.status == 400 or b"JobsDetail" not in ex.body)
        ):
            self.met("start_after_end", "empty" if ex.status == 200 else "refuse", ex)

    def page(self, query: Query, body: ListResponse, ex: Exchange) -> None:
        """Open points a list page shows: its last-page token, a full last page, tie order."""
        if not body.next_token:
            self.met("last_page_token", "absent" if body.next_token is None else "empty", ex)
        try:
            size = parse_filters(query).size
        except InvalidArgument:
            return
        if body.next_token and body.jobs and size > 1:  # a page of one is never short
            self.met("page_fill", "full" if len(body.jobs) >= size else "short", ex)
        elif not body.next_token:
            if body.jobs and len(body.jobs) == size:
                self.met("full_last_page", "no-token", ex)
            elif not body.jobs and query.next_token:  # the page before was full, with a token
                self.met("full_last_page", "token", ex)
        for _, group in itertools.groupby(body.jobs, key=lambda j: j.created):
            ids = [j.job_id for j in group]
            # the first group of three or more ties on the page (two are always in some JobId
            # order, whatever orders the target's ties: they would make a random fingerprint)
            if len(ids) > 2:
                choice = (
                    "job-id-desc" if ids == sorted(ids, reverse=True)
                    else "job-id-asc" if ids == sorted(ids) else "other"
                )  # fmt: skip
                self.met("ties_asc" if query.order_by_time == "Asc" else "ties_desc", choice, ex)
                return

    def fingerprint(self) -> dict[str, str]:
        """The behaviour chosen at each open point met: the most seen, or all when mixed; tie
        orders that vary are "other" (the order is the target's own, not one of JobId)."""
        out = {}
        for p, seen in self.choices.items():
            if seen:
                mixed = p in TIES and len(seen) > 1
                out[p] = "other" if mixed else MIXED.join(c for c, _ in seen.most_common())
        return out

    def report(self, census: list[Job] | None, temporary_credentials: bool, writes: bool) -> dict:
        """Every dimension: the cells reached (with counts), missed, and out of the data's reach."""
        possible = reachable(census, temporary_credentials, writes)
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


def reachable(
    census: list[Job] | None, temporary_credentials: bool, writes: bool = True
) -> dict[str, set[str]]:
    """The cells that the target's data (its census), the run's credentials and whether it may
    write allow."""
    jobs = census or []
    cells = {d: set(c) for d, c in all_cells().items()}
    cells["filters"] = {f for f in FILTERS if any(_carries(j, f) for j in jobs)}
    cells["pairs"] = {
        p for p in PAIRS if any(all(_carries(j, f) for f in p.split("+")) for j in jobs)
    }
    cells["walks"] = {b for b, n in zip(PAGE_BUCKETS, (0, 1, 2, 6), strict=True) if len(jobs) >= n}
    if len(jobs) < 2:
        cells["orders"] = set()
    if not temporary_credentials:
        cells["signature"] = {c for c in cells["signature"] if c.split(" ")[0] not in TOKEN_KINDS}
    if not jobs:
        cells["open points"] -= {"full_last_page", "start_after_end"}
    if not writes:
        cells["open points"] -= WRITES
    if max(Counter(j.created for j in jobs).values(), default=0) < 3:  # no group of 3 ties
        cells["open points"] -= TIES
    return cells


def request_query(ex: Exchange) -> Query | None:
    """The list query a request sent: ``None`` for another path, repeated or unknown names."""
    parts = urlsplit(ex.url)
    if not parts.path.endswith("/inventorytriggerjob"):
        return None
    try:
        params = parse_qsl(parts.query, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:  # no list query (bad input's: ``name=%C4%E3``, not UTF-8)
        return None
    names = [k for k, _ in params if not k.startswith(("q-", "x-cos-", "x-ci-"))]
    if len(set(names)) != len(names) or not set(names) <= set(WIRE_NAMES.values()):
        return None
    return Query.from_params(dict(params))


def _carries(job: Job, param: str) -> bool:
    return {"workflowId": bool(job.workflow_ids), "name": bool(job.name)}.get(param, True)
