"""Differential runs: the same hypothesis-drawn queries to two targets, every difference
reported and shrunk to a minimal query.

Both targets must serve the same data (two builds over one store, or two emulators loaded from
one cassette): the unfiltered walks are compared first. Each drawn query is walked to its end on
both; statuses, error codes, the set and order of JobIds and each job's fields are compared,
opaque values (RequestId, NextToken) normalised and times compared as instants. A difference an
open point of the contract allows (size > 100 clamped or refused, start > end, the last page's
token, a full last page, the order of ties, optional error elements) is a behaviour difference;
any other is a real one.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from hypothesis import given
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from .. import strategies as gen
from ..client import BudgetExceeded, Client, Exchange, TargetError, redact
from ..engine import TargetLost, hypothesis_settings
from ..evidence import pretty
from ..query import InvalidArgument, Query, parse_filters
from ..results import CheckResult, Outcome, Summary
from ..timefmt import format_time, parse_time
from ..xmlmodel import Job, XMLProblem, parse_error, parse_list

MAX_PAGES = 40  # a walk is compared on its first 40 pages
MAX_ROUNDS = 12  # distinct real differences shrunk, at most


@dataclass
class Side:
    """What one target answered to one query, walked to its end."""

    status: int = 200
    code: str = ""
    extras: tuple[str, ...] = ()
    pages: list[list[Job]] = field(default_factory=list)
    last_token: str = ""  # "empty" | "absent"
    failed_page: tuple[int, int] | None = None  # (page number, status) of a later page
    exchanges: list[Exchange] = field(default_factory=list)
    cut: bool = False

    @property
    def jobs(self) -> list[Job]:
        return [j for p in self.pages for j in p]

    def counts(self) -> list[int]:
        counts = [len(p) for p in self.pages]
        return counts[:-1] if len(counts) > 1 and not counts[-1] else counts


@dataclass
class Difference:
    kind: str  # status, code, jobs, order, fields, pages, a later page, or an open point
    message: str
    behaviour: bool = False  # allowed by an open point
    query: Query | None = None
    a: list[dict] = field(default_factory=list)
    b: list[dict] = field(default_factory=list)
    examples: int = 1

    def record(self) -> dict:
        return {"kind": self.kind, "behaviour": self.behaviour, "found": self.message,
                "query": self.query.describe() if self.query else None,
                "examples": self.examples, "a": self.a, "b": self.b}  # fmt: skip


def walk(client: Client, query: Query) -> Side:
    side, token = Side(), None
    while len(side.pages) < MAX_PAGES:
        ex = client.list(replace(query, next_token=token))
        side.exchanges.append(ex)
        if ex.status != 200:
            if side.pages:
                side.failed_page = (len(side.pages) + 1, ex.status)
                return side
            side.status = ex.status
            try:
                err = parse_error(ex.body, check=False)
                side.code = err.code
                side.extras = tuple(sorted(k for k in err.extra if k in ("Resource", "TraceId")))
            except XMLProblem:
                side.code = "(not an XML Error)"
            return side
        try:
            page = parse_list(ex.body, check=False)
        except XMLProblem as exc:
            side.failed_page = (len(side.pages) + 1, ex.status)
            side.code = f"unusable XML: {exc.message}"
            return side
        side.pages.append(list(page.jobs))
        token = page.next_token or None
        if token is None or not page.jobs:
            side.last_token = "absent" if page.next_token is None else "empty"
            return side
    side.cut = True
    return side


def _instant(text: str) -> object:
    try:
        return parse_time(text).timestamp()
    except ValueError:
        return text


def _normal(job: Job) -> tuple:
    """A job's fields, its times as instants (one instant may be written in any offset)."""
    return (job.type, job.state, job.name, _instant(job.creation_time), job.code, job.message,
            _instant(job.start_time), _instant(job.end_time), job.input, job.operation)  # fmt: skip


FIELDS = ("Type", "State", "Name", "CreationTime", "Code", "Message", "StartTime", "EndTime",
          "Input", "Operation")  # fmt: skip


def compare(query: Query, a: Side, b: Side) -> list[Difference]:
    """Every difference between two answers to ``query``."""
    try:
        f = parse_filters(query)
    except InvalidArgument:
        f = None
    found: list[Difference] = []

    def add(kind: str, message: str, behaviour: bool = False) -> None:
        found.append(Difference(kind, message, behaviour, query))

    if a.status != b.status:
        statuses = {a.status, b.status}
        empty = not (a.jobs if a.status == 200 else b.jobs)
        if statuses == {200, 400} and f is not None and f.size_requested > 100:
            add(
                "size_over_100",
                f"size={query.size}: HTTP {a.status} vs {b.status} (clamp or refuse)",
                True,
            )
        elif statuses == {200, 400} and f and f.start and f.end and f.start > f.end and empty:
            add(
                "start_after_end",
                f"start after end: HTTP {a.status} vs {b.status} (empty or 400)",
                True,
            )
        else:
            add(f"status {a.status} vs {b.status}", f"HTTP {a.status} vs HTTP {b.status}"
                + (f" ({a.code or b.code})" if a.code or b.code else ""))  # fmt: skip
        return found
    if a.status != 200:
        if a.code != b.code:
            add("error code", f"HTTP {a.status}: code {a.code!r} vs {b.code!r}")
        if a.extras != b.extras:
            add(
                "error_extras",
                f"optional error elements {list(a.extras)} vs {list(b.extras)}",
                True,
            )
        return found
    if a.failed_page != b.failed_page:
        add("a later page", f"later page (number, status): {a.failed_page} vs {b.failed_page}")
        return found
    ids_a, ids_b = [j.job_id for j in a.jobs], [j.job_id for j in b.jobs]
    if a.cut or b.cut:  # compare the pages both walked
        n = min(len(ids_a), len(ids_b))
        ids_a, ids_b = ids_a[:n], ids_b[:n]
    if set(ids_a) != set(ids_b) or len(ids_a) != len(ids_b):
        only_a, only_b = sorted(set(ids_a) - set(ids_b)), sorted(set(ids_b) - set(ids_a))
        add("jobs", f"{len(ids_a)} vs {len(ids_b)} jobs; " + (
            "; ".join(f"{len(ids)} only in {who}, e.g. {ids[0]}"
                      for who, ids in (("A", only_a), ("B", only_b)) if ids)
            or "the same jobs, one of them repeated"))  # fmt: skip
        return found
    if ids_a != ids_b:
        by_id = {j.job_id: j for j in a.jobs}
        groups_a = _groups(ids_a, by_id)
        groups_b = _groups(ids_b, by_id)
        if [set(g) for g in groups_a] == [set(g) for g in groups_b]:
            add("ties", "the same jobs in the same order up to ties; ties in another order", True)
        else:
            at = next(i for i, (x, y) in enumerate(zip(ids_a, ids_b, strict=True)) if x != y)
            add(
                "order",
                f"the order differs beyond ties, first at job {at + 1}: {ids_a[at]} vs {ids_b[at]}",
            )
    jobs_b = {j.job_id: j for j in b.jobs}
    for job in a.jobs:
        other = jobs_b.get(job.job_id)
        if other is not None and _normal(job) != _normal(other):
            which = [
                n for n, x, y in zip(FIELDS, _normal(job), _normal(other), strict=True) if x != y
            ]
            add(f"fields {','.join(which)}", f"job {job.job_id}: {which[0]} "
                f"{getattr(job, _attr(which[0]))!r} vs {getattr(other, _attr(which[0]))!r}")  # fmt: skip
            break
    if not (a.cut or b.cut):
        if a.counts() != b.counts():
            add("pages", f"jobs per page {a.counts()[:8]} vs {b.counts()[:8]}")
        elif len(a.pages) != len(b.pages):
            add("full_last_page", f"{len(a.pages)} vs {len(b.pages)} pages: a full last page "
                "with a token (then an empty page) on one side only", True)  # fmt: skip
        if a.last_token != b.last_token:
            add(
                "last_page_token",
                f"the last page's NextToken: {a.last_token} vs {b.last_token}",
                True,
            )
    return found


def _attr(name: str) -> str:
    return {"CreationTime": "creation_time", "StartTime": "start_time", "EndTime": "end_time",
            "Type": "type"}.get(name, name.lower())  # fmt: skip


def _groups(ids: list[str], by_id: dict[str, Job]) -> list[list[str]]:
    groups: list[list[str]] = []
    last = None
    for i in ids:
        t = by_id[i].created.timestamp()
        if groups and t == last:
            groups[-1].append(i)
        else:
            groups.append([i])
        last = t
    return groups


def _shown(side: Side, secrets: tuple[str, ...]) -> list[dict]:
    out = []
    shown = side.exchanges[:1] + side.exchanges[1:][-1:]  # the first page and the last
    for ex in shown:
        body = pretty(redact(ex.body.decode("utf-8", "replace"), secrets))
        out.append({"method": ex.method, "url": ex.url, "status": ex.status,
                     "body": body[:3000] + ("\n…" if len(body) > 3000 else "")})  # fmt: skip
    return out


class _Found(Exception):
    pass


class Differ:
    """Sends queries to both targets (each answer memoised) and collects the differences."""

    def __init__(self, a: Client, b: Client) -> None:
        self.a, self.b = a, b
        self.memo: dict[Query, tuple[Side, Side, list[Difference]]] = {}
        self.behaviour: dict[str, Difference] = {}
        self.real: dict[str, Difference] = {}
        self.queries = 0
        self.last: Difference | None = None  # the last real difference raised: the minimal one
        self.stopped: TargetError | None = None  # a target lost, or the request budget spent

    def judge(self, query: Query) -> list[Difference]:
        if self.stopped:
            return []
        if query not in self.memo:
            try:
                a, b = walk(self.a, query), walk(self.b, query)
            except TargetError as exc:  # stop asking; never shrink towards a lost target
                self.stopped = exc
                return []
            found = compare(query, a, b)
            secrets = (*self.a.secrets, *self.b.secrets)
            for d in found:
                d.a, d.b = _shown(a, secrets), _shown(b, secrets)
            self.memo[query] = (a, b, found)
            self.queries += 1
            for d in found:
                if d.behaviour:
                    seen = self.behaviour.setdefault(d.kind, d)
                    if seen is not d:
                        seen.examples += 1
        return self.memo[query][2]

    def search(self, strategy: st.SearchStrategy[Query], explicit: list[Query], examples: int,
               seed: int, deadline: float) -> None:  # fmt: skip
        """The explicit queries, then rounds of hypothesis: each round finds one new kind of
        real difference and shrinks it to a minimal query."""
        for query in explicit:
            self.judge(query)
        for _ in range(MAX_ROUNDS):
            if not self._round(strategy, examples, seed, deadline):
                break
        for _, _, found in self.memo.values():  # kinds only an explicit query showed
            for d in found:
                if not d.behaviour and d.kind not in self.real:
                    self.real[d.kind] = d

    def _round(self, strategy: st.SearchStrategy[Query], examples: int, seed: int,
               deadline: float) -> bool:  # fmt: skip
        known = set(self.real)
        self.last = None

        @hypothesis_settings(examples, explicit=False, target=False)
        @hypothesis_seed(seed)
        @given(strategy)
        def probe(query: Query) -> None:
            if time.monotonic() > deadline or self.stopped:
                return
            new = [d for d in self.judge(query) if not d.behaviour and d.kind not in known]
            if new:
                self.last = new[0]
                raise _Found(new[0].kind)

        try:
            probe()
            return False
        except _Found:
            pass
        minimal = self.last  # hypothesis replays the shrunk, minimal example last
        if minimal is None or minimal.kind in self.real:
            return False
        self.real[minimal.kind] = minimal
        minimal.examples = sum(
            d.kind == minimal.kind for _, _, found in self.memo.values() for d in found
        )
        return True


def queries(census: list[Job]) -> st.SearchStrategy[Query]:
    """What ``diff`` draws: queries from the data (so they match), each filter alone (tricky
    names often), loose ones, invalid and unknown values, and sizes over 100."""
    over = st.integers(101, 1000).map(lambda n: Query(size=str(n)))
    if not census:
        return st.one_of(gen.filter_queries([]), gen.invalid_values(), gen.unknown_values(), over)
    return st.one_of(
        gen.matching_queries(census), gen.matching_queries(census), gen.single_filters(census),
        gen.filter_queries(census[:300]), gen.invalid_values(), gen.unknown_values(), over,
    )  # fmt: skip


def explicit_queries(census: list[Job]) -> list[Query]:
    """Always sent first: the size edges, each name that is a substring or a case or space
    variant of another (at most 30), and each open point."""
    edges = gen.edge_queries(census) if census else []
    names = gen.tricky_names(tuple(sorted({j.name for j in census if j.name})))
    edges += [Query(name=name) for name in names[:30]]
    points = [Query(size="101"), Query(size="bad"), Query(type="Sideways")]
    if census:
        job = census[0]
        points.append(Query(job_id=job.job_id, size="1"))  # a full last page
        start, end = job.created, job.created - timedelta(seconds=1)
        points.append(
            Query(start_creation_time=format_time(start), end_creation_time=format_time(end))
        )
    return edges + points


def same_data(a: Client, b: Client) -> tuple[list[Job], Difference | None, int]:
    """The unfiltered walks of both targets (size 100), and how they differ, if they do."""
    query = Query(size="100")
    side_a, side_b = walk(a, query), walk(b, query)
    for name, side, client in (("A", side_a, a), ("B", side_b, b)):
        if side.status != 200:
            raise TargetError(f"target {name} ({client.base_url}) answered a plain signed list "
                              f"request with HTTP {side.status} {side.code}: nothing to compare")  # fmt: skip
    found = [d for d in compare(query, side_a, side_b) if not d.behaviour]
    if found:
        d = found[0]
        secrets = (*a.secrets, *b.secrets)
        d.a, d.b = _shown(side_a, secrets), _shown(side_b, secrets)
        d.kind = f"data: {d.kind}"
        d.message = (
            f"the unfiltered walks differ ({d.message}): the targets do not serve the same data, "
            "or one of them breaks a plain walk; diff compares two targets over the same data"
        )
        return side_a.jobs, d, len(side_a.jobs)
    return side_a.jobs, None, len(side_a.jobs)


@dataclass(kw_only=True)
class DiffSummary(Summary):
    target_a: str = ""
    target_b: str = ""
    same_data: bool = True
    jobs: int = 0
    queries: int = 0
    requests: int = 0
    seed: int = 0
    stopped: str = ""
    differences: list[dict[str, Any]] = field(default_factory=list)
    behaviour_differences: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Phase:
    name: str
    category: str = "diff"


class DiffSource:
    """Two targets over the same data: their unfiltered walks first, then drawn queries."""

    kind = "diff"

    def __init__(self, a: Client, b: Client, examples: int, seed: int, max_seconds: float) -> None:
        self.a, self.b, self.examples, self.seed = a, b, examples, seed
        self.max_seconds = max_seconds
        self.secrets = (*a.secrets, *b.secrets)
        self.differ = Differ(a, b)
        self.census: list[Job] = []
        self.data_diff: Difference | None = None
        self.count = 0

    def start(self, on_exchange: Any = None) -> None:
        # strategies sampled from a target's data have long reprs: hypothesis warns when it prints them
        warnings.filterwarnings("ignore", "Generating overly large repr")
        self.deadline = time.monotonic() + self.max_seconds

    def items(self) -> list[Phase]:
        return [Phase("diff.same_data"), Phase("diff.drawn_queries")]

    def totals(self) -> dict[str, int]:
        return {"diff": 2}

    def judge(self, phase: Phase) -> CheckResult:
        try:
            if phase.name == "diff.same_data":
                self.census, self.data_diff, self.count = same_data(self.a, self.b)
                bad = self.data_diff is not None
                return CheckResult(phase.name, "diff", Outcome.FAILED if bad else Outcome.PASSED,
                                   clause="both targets serve the same data (their unfiltered walks agree)",
                                   reason=self.data_diff.message if bad else "")  # fmt: skip
            if self.data_diff is not None:
                return self.not_run(
                    phase, "the targets do not serve the same data", Outcome.NOT_RUN
                )
            self.differ.search(queries(self.census), explicit_queries(self.census), self.examples,
                               self.seed, self.deadline)  # fmt: skip
        except TargetError as exc:
            raise TargetLost(str(exc)) from None
        if self.differ.stopped and not isinstance(self.differ.stopped, BudgetExceeded):
            raise TargetLost(str(self.differ.stopped))
        outcome = Outcome.FAILED if self.differ.real else Outcome.PASSED
        if self.differ.stopped and not self.differ.real:
            outcome = Outcome.NOT_RUN
        return CheckResult(phase.name, "diff", outcome, examples=self.differ.queries,
                           clause="the same drawn queries get the same answers, up to the contract's open points",
                           reason=str(self.differ.stopped or ""))  # fmt: skip

    def not_run(self, phase: Phase, reason: str, outcome: Outcome) -> CheckResult:
        return CheckResult(phase.name, "diff", outcome, reason=reason)

    def summary(self, results: list[CheckResult], *, unusable: str = "", message: str = "",
                interrupted: bool = False) -> DiffSummary:  # fmt: skip
        real = [self.data_diff] if self.data_diff else list(self.differ.real.values())
        behaviour = list(self.differ.behaviour.values())
        verdict = ("interrupted" if interrupted else unusable or
                   ("differences" if real else "incomplete" if self.differ.stopped else
                    "behaviour changed" if behaviour else "no change"))  # fmt: skip
        return DiffSummary(
            kind="diff", verdict=verdict, message=message, results=results,
            target_a=self.a.base_url, target_b=self.b.base_url, same_data=self.data_diff is None,
            jobs=self.count, queries=self.differ.queries,
            requests=self.a.requests_made + self.b.requests_made, seed=self.seed,
            stopped=str(self.differ.stopped or ""),
            differences=[d.record() for d in real],
            behaviour_differences=[d.record() for d in behaviour],
        )  # fmt: skip

    def stop(self) -> None:
        pass


def diff_text(result: DiffSummary) -> list[str]:
    lines = [f"A = {result.target_a}, B = {result.target_b}"]
    if result.same_data:
        lines.append(f"same data: the unfiltered walks agree ({result.jobs} jobs)")
    lines.append(f"{result.queries} queries walked on both targets, {result.requests} requests "
                 f"in {result.duration_s} s (seed {result.seed})")  # fmt: skip
    if result.stopped:
        lines.append(f"stopped early: {result.stopped}")
    for d in result.differences:
        lines += [f"\nDIFFERENCE ({d['kind']}): {d['found']}", f"  minimal query: {d['query']}"]
        for side in ("a", "b"):
            for e in d[side][:1]:
                lines.append(f"  {side.upper()}: {e['method']} {e['url']} -> {e['status']}")
    if result.behaviour_differences:
        lines.append("\nBEHAVIOUR CHANGED: each difference below is allowed by an open point of the contract (docs/contract.md):")  # fmt: skip
        lines += [f"  {d['kind']}: {d['found']} (e.g. {d['query']}; {d['examples']} queries)"
                  for d in result.behaviour_differences]  # fmt: skip
    return lines
