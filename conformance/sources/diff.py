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

import time
import warnings
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from hypothesis import given
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from .. import strategies as gen
from ..checks.base import by_instant, select, valid_filters
from ..client import BudgetExceeded, Client, Exchange, TargetError, redact
from ..coverage import ANCHORS
from ..engine import Source, TargetLost, hypothesis_settings
from ..evidence import command, exchange_record, sign_line
from ..query import Query
from ..results import CheckResult, Outcome, Summary
from ..timefmt import format_time, parse_time
from ..xmlmodel import Job, XMLProblem, parse_error, parse_list
from ..xmlmodel import _xml as xml

MAX_PAGES = 40  # a walk is compared on its first 40 pages
MAX_ROUNDS = 12  # distinct real differences shrunk, at most
FIELDS = {"JobId": "job_id", "Type": "type", "State": "state", "Name": "name",
          "CreationTime": "creation_time", "Code": "code", "Message": "message",
          "StartTime": "start_time", "EndTime": "end_time", "Input": "input", "Operation": "operation"}  # fmt: skip
CLAUSES = {"type": "filter-type", "states": "filter-states", "start_creation_time": "filter-time",
           "end_creation_time": "filter-time", "job_id": "filter-exact", "name": "filter-exact",
           "workflow_id": "filter-exact"}  # fmt: skip
"""The clause of each filter: a difference in the jobs of a query with one filter is about it."""
FIELD_OF = {"type": "Type", "states": "State", "workflowId": "Operation", "jobId": "JobId", "name": "Name"}  # fmt: skip
"""The field a broken filter (``Filters.broken``, by its parameter) is about; else CreationTime."""


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


@dataclass(eq=False)
class Difference:
    kind: str  # status, code, jobs, order, fields, pages, a later page, or an open point
    message: str
    anchor: str  # the clause (or open point) of the contract it concerns
    behaviour: bool = False  # allowed by an open point
    shown: list[tuple[Job | None, Job | None]] = field(default_factory=list)  # jobs side by side
    query: Query | None = None
    sides: tuple[Side, ...] = ()  # the two answers it was seen in
    examples: int = 1


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


def _value(job: Job, name: str) -> str:
    """A job's field as the XML says it (Input and Operation as their elements)."""
    value = getattr(job, FIELDS[name])
    return xml(value) if name == "Input" else "".join(map(xml, value)) if name == "Operation" else value  # fmt: skip


def _same(name: str, x: str, y: str) -> bool:
    """Two values of a field alike: times as the instants they name."""
    try:
        return x == y or (name.endswith("Time") and parse_time(x) == parse_time(y))
    except ValueError:
        return False


def compare(query: Query, a: Side, b: Side) -> list[Difference]:
    """Every difference between two answers to ``query``."""
    f = valid_filters(query)
    found: list[Difference] = []

    def add(kind: str, message: str, anchor: str = "", shown: list | None = None) -> None:
        anchor = anchor or ANCHORS[kind]  # an open point's: a behaviour difference
        found.append(Difference(kind, message, anchor, anchor.startswith("open-"), shown or [], query))  # fmt: skip

    if a.status != b.status:
        statuses = {a.status, b.status}
        if statuses == {200, 400} and f is not None and f.size_requested > 100:
            add("size_over_100", f"size={query.size}: HTTP {a.status} vs {b.status} (clamp or refuse)")  # fmt: skip
        elif statuses == {200, 400} and f and f.start and f.end and f.start > f.end and not (a.jobs or b.jobs):  # fmt: skip
            add("start_after_end", f"start after end: HTTP {a.status} vs {b.status} (empty or 400)")  # fmt: skip
        else:
            add(f"status {a.status} vs {b.status}", f"HTTP {a.status} vs HTTP {b.status}"
                + (f" ({a.code or b.code})" if a.code or b.code else ""),
                "no-5xx" if max(statuses) >= 500 else "invalid-input")  # fmt: skip
        return found
    if a.status != 200:
        if a.code != b.code:
            add("error code", f"HTTP {a.status}: error code {a.code or 'none'} vs {b.code or 'none'}",
                "invalid-input" if a.status == 400 else "error-body")  # fmt: skip
        if a.extras != b.extras:
            add("error_extras", "optional error elements: {} vs {}".format(*(", ".join(x) or "none" for x in (a.extras, b.extras))))  # fmt: skip
        return found
    if a.failed_page != b.failed_page:
        pages = [f"page {p[0]} got HTTP {p[1]}" if p else "every page came" for p in (a.failed_page, b.failed_page)]  # fmt: skip
        add("a later page", f"a later page: {pages[0]} in A, {pages[1]} in B", "page-walk")
        return found
    ids_a, ids_b = [j.job_id for j in a.jobs], [j.job_id for j in b.jobs]
    if a.cut or b.cut:  # compare the pages both walked
        n = min(len(ids_a), len(ids_b))
        ids_a, ids_b = ids_a[:n], ids_b[:n]
    by_a, by_b = {j.job_id: j for j in a.jobs}, {j.job_id: j for j in b.jobs}
    if set(ids_a) != set(ids_b) or len(ids_a) != len(ids_b):
        only = [sorted(set(ids_a) - set(ids_b)), sorted(set(ids_b) - set(ids_a))]
        used = {CLAUSES[k] for k, v in vars(query).items() if v and k in CLAUSES}
        add("jobs", f"{len(ids_a)} vs {len(ids_b)} jobs; " + (
            "; ".join(f"{len(ids)} only in {who}, e.g. job {ids[0]}" for who, ids in zip("AB", only, strict=True) if ids)
            or "the same jobs, one of them repeated"),
            used.pop() if len(used) == 1 else "filter-semantics" if used else "page-walk",
            [(by_a[i], None) for i in only[0][:2]] + [(None, by_b[i]) for i in only[1][:2]])  # fmt: skip
        return found
    if ids_a != ids_b:
        if by_instant([by_a[i] for i in ids_a]) == by_instant([by_a[i] for i in ids_b]):
            ties = "the same jobs in the same order up to ties; ties in another order"
            add("ties", ties, "open-ties")
        else:
            at = next(i for i, (x, y) in enumerate(zip(ids_a, ids_b, strict=True)) if x != y)
            add("order", f"the order differs beyond ties, first at job #{at + 1}: job {ids_a[at]} "
                f"in A, job {ids_b[at]} in B", "order", [(by_a[ids_a[at]], by_b[ids_b[at]])])  # fmt: skip
    for job, other in ((j, by_b[j.job_id]) for j in a.jobs if j.job_id in by_b):
        if which := [n for n in FIELDS if not _same(n, _value(job, n), _value(other, n))]:
            add(f"fields {','.join(which)}", f"job {job.job_id}: {which[0]} {_value(job, which[0])} "
                f"in A, {_value(other, which[0])} in B", "job-fields", [(job, other)])  # fmt: skip
            break
    if not (a.cut or b.cut):
        if a.counts() != b.counts():
            add("pages", f"jobs per page: {a.counts()[:8]} vs {b.counts()[:8]}", "page-size")
        elif len(a.pages) != len(b.pages):
            add("full_last_page", f"{len(a.pages)} vs {len(b.pages)} pages: a full last page "
                "with a token (then an empty page) on one side only")  # fmt: skip
        if a.last_token != b.last_token:
            add("last_page_token", f"the last page's NextToken: {a.last_token} vs {b.last_token}")  # fmt: skip
    return found


def record(d: Difference, clients: tuple[Client, Client]) -> dict:
    """A difference as diff.json and the report show it: its clause, the jobs that differ side
    by side (each field, those that differ or break a filter of the query marked), each side's
    first and last requests (an error's body, never a list's), and a ``sign`` line for each."""
    secrets = (*clients[0].secrets, *clients[1].secrets)
    f = valid_filters(d.query)
    out = {"kind": d.kind, "behaviour": d.behaviour, "found": d.message, "anchor": d.anchor,
           "query": d.query.describe() if d.query else None, "examples": d.examples, "jobs": [],
           "reproduce": {}}  # fmt: skip
    for pair in d.shown:
        breaks = {FIELD_OF.get(x.split("=")[0], "CreationTime"): x for j in pair if j and f for x in f.broken(j)}  # fmt: skip
        rows = [[n, *(_value(j, n) if j else None for j in pair)] for n in FIELDS]
        out["jobs"].append({"job_id": next(j.job_id for j in pair if j), "breaks": list(breaks.values()),
                            "fields": [[n, x, y, breaks.get(n) or ("differs" if None not in (x, y) and not _same(n, x, y) else "")]
                                       for n, x, y in rows]})  # fmt: skip
    for name, side in zip("AB", d.sides, strict=True):
        out[name.lower()] = [{"method": ex.method, "url": ex.url, "status": ex.status,
                              "body": redact(ex.body.decode("utf-8", "replace"), secrets)[:1500] if ex.status != 200 else ""}
                             for ex in side.exchanges[:1] + side.exchanges[1:][-1:]]  # fmt: skip
        shown = side.exchanges[-1 if d.kind in ("last_page_token", "full_last_page") else 0]
        if line := sign_line(exchange_record(shown), keep_time=False):  # the page that differs
            out["reproduce"][name] = as_b(line, clients) if name == "B" else line
    return out


def as_b(line: str, clients: tuple[Client, Client]) -> str:
    """A command line for target B: with B's own keys (COS_B_*) when they are not A's."""
    if clients[0].credentials == clients[1].credentials:
        return line
    names = ["SECRET_ID", "SECRET_KEY"] + ["SECURITY_TOKEN"] * bool(clients[1].credentials.token)
    return " ".join(f'COS_{n}="$COS_B_{n}"' for n in names) + " " + line


class NewKind(Exception):
    """A drawn query showed a kind of real difference not seen before."""


class Differ:
    """Sends queries to both targets (each answer memoised) and collects the differences."""

    def __init__(self, a: Client, b: Client) -> None:
        self.a, self.b = a, b
        self.memo: dict[Query, list[Difference]] = {}
        self.behaviour: dict[str, Difference] = {}
        self.real: dict[str, Difference] = {}
        self.stopped: TargetError | None = None  # a target lost, or the request budget spent

    def judge(self, query: Query) -> list[Difference]:
        if self.stopped:
            return []
        if query not in self.memo:
            try:
                sides = walk(self.a, query), walk(self.b, query)
            except TargetError as exc:  # stop asking; never shrink towards a lost target
                self.stopped = exc
                return []
            self.memo[query] = compare(query, *sides)
            for d in self.memo[query]:
                d.sides = sides
                if d.behaviour and self.behaviour.setdefault(d.kind, d) is not d:
                    self.behaviour[d.kind].examples += 1
        return self.memo[query]

    def _round(self, strategy: st.SearchStrategy[Query], examples: int, seed: int,
               deadline: float) -> Difference | None:  # fmt: skip
        """A new kind of real difference, shrunk to its minimal query, or None."""
        known, found = set(self.real), []

        @hypothesis_settings(examples, explicit=False, target=False)
        @hypothesis_seed(seed)
        @given(strategy)
        def probe(query: Query) -> None:
            new = [] if time.monotonic() > deadline else self.judge(query)
            found[:] = [d for d in new if not d.behaviour and d.kind not in known][:1] or found
            if found and found[0] in new:
                raise NewKind(found[0].kind)

        try:
            probe()
            return None
        except NewKind:  # hypothesis replays the shrunk, minimal example last
            return found[0]

    def search(self, strategy: st.SearchStrategy[Query], explicit: list[Query], examples: int,
               seed: int, deadline: float) -> None:  # fmt: skip
        """The explicit queries, then rounds of hypothesis: each round finds one new kind of
        real difference and shrinks it to a minimal query."""
        for query in explicit:
            self.judge(query)
        for _ in range(MAX_ROUNDS):
            if (d := self._round(strategy, examples, seed, deadline)) is None:
                break
            self.real[d.kind] = d
            d.examples = sum(x.kind == d.kind for found in self.memo.values() for x in found)
        for d in (d for found in self.memo.values() for d in found if not d.behaviour):
            self.real.setdefault(d.kind, d)  # kinds only an explicit query showed


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
        points.append(Query(start_creation_time=format_time(start), end_creation_time=format_time(end)))  # fmt: skip
    return edges + points


def same_data(a: Client, b: Client) -> tuple[list[Job], Difference | None]:
    """The unfiltered walks of both targets (size 100), and how they differ, if they do."""
    query = Query(size="100")
    sides = walk(a, query), walk(b, query)
    for name, side, client in zip("AB", sides, (a, b), strict=True):
        if side.status != 200:
            raise TargetError(f"target {name} ({client.base_url}) answered a plain signed list "
                              f"request with HTTP {side.status} {side.code}: nothing to compare")  # fmt: skip
    if d := next((x for x in compare(query, *sides) if not x.behaviour), None):
        d.kind, d.anchor, d.sides = f"data: {d.kind}", "page-walk", sides
        d.message = (f"the unfiltered walks differ ({d.message}): the targets do not serve the same "
                     "data, or one of them breaks a plain walk; diff compares two targets over the same data")  # fmt: skip
    return sides[0].jobs, d


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
    next_checks: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Phase:
    name: str
    category: str = "diff"


class DiffSource(Source):
    """Two targets over the same data: their unfiltered walks first, then drawn queries.
    ``rerun``: options of the ``diff`` command line that runs it again."""

    kind = "diff"
    clause = "the same drawn queries get the same answers, up to the contract's open points"

    def __init__(self, a: Client, b: Client, examples: int, seed: int, max_seconds: float,
                 rerun: dict[str, Any] | None = None) -> None:  # fmt: skip
        self.a, self.b, self.examples, self.seed = a, b, examples, seed
        self.max_seconds, self.rerun = max_seconds, rerun or {}
        self.secrets = (*a.secrets, *b.secrets)
        self.differ = Differ(a, b)
        self.census: list[Job] = []
        self.data_diff: Difference | None = None

    def start(self, on_exchange: Any = None) -> None:
        # strategies sampled from a target's data have long reprs: hypothesis warns when it prints them
        warnings.filterwarnings("ignore", "Generating overly large repr")
        self.deadline = time.monotonic() + self.max_seconds

    def items(self) -> list[Phase]:
        return [Phase("diff.same_data"), Phase("diff.drawn_queries")]

    def judge(self, phase: Phase) -> CheckResult:
        try:
            if phase.name == "diff.same_data":
                self.census, self.data_diff = same_data(self.a, self.b)
                return CheckResult(phase.name, "diff", Outcome.FAILED if self.data_diff else Outcome.PASSED,
                                   clause="both targets serve the same data (their unfiltered walks agree)",
                                   reason=self.data_diff.message if self.data_diff else "")  # fmt: skip
            if self.data_diff is not None:
                return self.not_run(phase, "the targets do not serve the same data", Outcome.NOT_RUN)  # fmt: skip
            self.differ.search(queries(self.census), explicit_queries(self.census), self.examples,
                               self.seed, self.deadline)  # fmt: skip
        except TargetError as exc:
            raise TargetLost(str(exc)) from None
        stopped = self.differ.stopped
        if stopped and not isinstance(stopped, BudgetExceeded):
            raise TargetLost(str(stopped))
        outcome = Outcome.FAILED if self.differ.real else Outcome.NOT_RUN if stopped else Outcome.PASSED  # fmt: skip
        return CheckResult(phase.name, "diff", outcome, examples=len(self.differ.memo),
                           clause=self.clause, reason=str(stopped or ""))  # fmt: skip

    def summary(self, results: list[CheckResult], *, unusable: str = "", message: str = "",
                interrupted: bool = False) -> DiffSummary:  # fmt: skip
        clients, stopped = (self.a, self.b), self.differ.stopped
        real = [record(d, clients) for d in ([self.data_diff] if self.data_diff else self.differ.real.values())]  # fmt: skip
        behaviour = [record(d, clients) for d in self.differ.behaviour.values()]
        verdict = ("interrupted" if interrupted else unusable or
                   ("differences" if real else "incomplete" if stopped else
                    "behaviour changed" if behaviour else "no change"))  # fmt: skip
        first = (real or behaviour or [{"anchor": None, "reproduce": {}}])[0]
        checks = ",".join(
            c.name for c in select(None) if c.anchor == first["anchor"] and not c.pins
        )
        runs = {side: command(["run"], {"target": c.base_url} | ({"checks": checks} if checks else {}))
                for side, c in zip("AB", clients, strict=True)}  # fmt: skip
        again = {"target": self.a.base_url, "target_b": self.b.base_url, "seed": self.seed,
                 "max_examples": self.examples} | self.rerun  # fmt: skip
        return DiffSummary(
            kind="diff", verdict=verdict, message=message, results=results,
            target_a=self.a.base_url, target_b=self.b.base_url, same_data=self.data_diff is None,
            jobs=len(self.census), queries=len(self.differ.memo),
            requests=self.a.requests_made + self.b.requests_made, seed=self.seed,
            stopped=str(stopped or ""), differences=real, behaviour_differences=behaviour,
            reproduce=[*first["reproduce"].values(), command(["diff"], again)],
            next_checks={"A": runs["A"], "B": as_b(runs["B"], clients)} if real else {},
        )  # fmt: skip
