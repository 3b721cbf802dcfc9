"""The recheck source: a recorded run (HAR cassette) re-judged offline with the suite's own checks.

The observers run on every exchange and list page; every other check re-runs its own logic on
the queries the recording holds, answered from it (walks followed through their NextToken
chain), in each epoch (the stretch between two writes, where the data stays the same). A check
asking for a request the recording does not hold is not judged, never failed.
"""

import functools
import multiprocessing
import os
from collections import Counter, defaultdict
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import contract
from ..causes import attach_roots
from ..checks import EXCHANGE_OBSERVERS, PAGE_OBSERVERS, QUERY_STRATEGIES, Check, select
from ..checks.base import data_queries, queries, valid_filters
from ..client import PATH, Client, Exchange
from ..coverage import Coverage, Deviation, request_query
from ..engine import Source, tool_error
from ..evidence import command, exchange_record
from ..handlers.har import Recorded, _key, key_of, opaque_key, read
from ..query import Query
from ..results import CheckResult, Failure, Outcome, Summary, decide, vacuous
from ..session import CheckFailure, Session, SkipCheck
from ..signing import Credentials
from ..xmlmodel import ListResponse, XMLProblem, parse_list

# never used to send: checks that sign otherwise find their requests not recorded
OFFLINE = Credentials("AKIDrecordedOffline", "recorded-offline-key", "recorded-offline-token")


class NotRecorded(SkipCheck):
    """The check asked for a request the recording does not hold."""


class Recording:
    """A cassette in memory, indexed for lookups: exchanges by request, in each epoch."""

    def __init__(self, entries: Iterable[Recorded]) -> None:
        self.entries = list(entries)
        self.epochs: list[int] = []  # entry position -> epoch
        self.by_key: dict[tuple[int, tuple], list[Exchange]] = defaultdict(list)
        self.pages: dict[int, ListResponse] = {}  # id(exchange) -> parsed page
        epoch = 0
        for rec in self.entries:
            self.epochs.append(epoch)
            if rec.exchange.status not in (401, 403):  # refusals answer deliberately bad signatures
                self.by_key[(epoch, key_of(rec.exchange))].append(rec.exchange)
            if rec.exchange.method not in ("GET", "HEAD") and 200 <= rec.exchange.status < 300:
                epoch += 1
        self.epoch_count = epoch + 1
        self.client = Client("http://recorded.invalid", OFFLINE)  # never sends: for signers
        self._by_id = {id(r.exchange.headers): r for r in self.entries}

    def of(self, ex: Exchange) -> Recorded:
        """The recorded entry of an exchange, or of a preview of one (``Exchange.preview`` keeps
        the original's headers, the very dict)."""
        return self._by_id.get(id(ex.headers)) or Recorded(-1, ex, None)

    def parsed(self, ex: Exchange) -> ListResponse | XMLProblem:
        if (page := self.pages.get(id(ex))) is None:
            try:
                page = parse_list(ex.body, check=False)
            except XMLProblem as exc:
                return exc
            self.pages[id(ex)] = page
        return page


class RecordedSession(Session):
    """A session answered from a recording, in one epoch: every check's own logic runs
    unchanged; a request the recording lacks leaves the example unjudged (``NotRecorded``)."""

    def __init__(self, recording: Recording, epoch: int) -> None:
        super().__init__(
            recording.client, unknown_data="it needs the target's whole dataset, not a recording"
        )
        self.recording, self.epoch = recording, epoch
        self.used: Counter[tuple] = Counter()
        self.served: set[int] = set()

    def require_writes(self) -> None:
        raise SkipCheck("it writes: a recording cannot answer new writes")

    def send(self, method: str = "GET", path: str = PATH, params=None, probe: bool = False,
             **kw) -> Exchange:  # fmt: skip
        if kw:
            raise SkipCheck("needs a live request (another signature, header or body)")
        key = _key(method, path, params or [])
        found = self.recording.by_key.get((self.epoch, key), [])
        if (n := self.used[key]) >= len(found):
            raise NotRecorded(f"{method} {path}?{Query.from_params(dict(params or [])).describe()}")
        self.used[key] += 1
        self.served.add(id(found[n]))
        return found[n]

    def _fetch(self, query: Query, probe: bool = False, **kw) -> tuple[Exchange, Any]:
        ex = self.send("GET", params=query.params(), probe=probe, **kw)
        return ex, (self.recording.parsed(ex) if ex.status == 200 else None)


def valid_query(query: Query) -> bool:
    """In the domain of the suite's ``queries`` strategy: valid, size 1 to 100, start ≤ end."""
    f = valid_filters(query)
    return f is not None and f.size_requested <= 100 and not (f.start and f.end and f.start > f.end)


def observe(path: Path, profile: dict[str, str] | None) -> dict:
    """The observers and the open points on every exchange and list page: findings by check
    name, each with the position of its first exchange, and the choices seen at each point."""
    coverage = Coverage(profile)
    findings: dict[str, tuple[int, str]] = {}
    pages = 0
    where: dict[str, int] = {}  # open point -> position of its first deviation
    judged: dict[tuple, list] = {}  # answers alike but for opaque values are judged once
    parsed: dict[bytes, ListResponse | None] = {}
    stateful = [o.fresh() for o in EXCHANGE_OBSERVERS if hasattr(o, "fresh")]  # see every one
    for pos, rec in enumerate(read(path)):
        ex = rec.exchange
        key = opaque_key(ex)
        if key not in judged:
            judged[key] = [
                f for look in EXCHANGE_OBSERVERS if not hasattr(look, "fresh") for f in look(ex)
            ]
        for name, message in judged[key] + [f for look in stateful for f in look(ex)]:
            findings.setdefault(name, (pos, message))
        coverage.exchange(ex)
        where.update((p, pos) for p in coverage.deviations if p not in where)
        query = request_query(ex) if ex.method == "GET" else None
        if ex.status != 200 or query is None or "probe" in ex.notes:
            continue
        if key[2] not in parsed:
            try:
                parsed[key[2]] = parse_list(ex.body, check=False)
            except XMLProblem:
                parsed[key[2]] = None
        if (page := parsed[key[2]]) is None:
            continue
        pages += 1
        if (query, key) not in judged:
            judged[(query, key)] = [f for look in PAGE_OBSERVERS for f in look(query, page)]
        for name, message in judged[(query, key)]:
            findings.setdefault(name, (pos, message))
        coverage.page(query, page, ex)
        where.update((p, pos) for p in coverage.deviations if p not in where)
    return {"findings": findings, "choices": coverage.choices, "pages": pages,
            "deviations": {p: (d.pinned, d.seen, where[p]) for p, d in coverage.deviations.items()}}  # fmt: skip


@dataclass(kw_only=True)
class RecheckSummary(Summary):
    cassette: str = ""
    exchanges: int = 0
    list_pages: int = 0
    epochs: int = 0
    behaviour: dict[str, str] = field(default_factory=dict)
    profile: dict[str, str] = field(default_factory=dict)
    profile_deviations: list[dict[str, Any]] = field(default_factory=list)


class RecheckSource(Source):
    kind = "recheck"
    secrets: tuple[str, ...] = ()

    def __init__(self, path: Path, profile: dict[str, str] | None = None,
                 checks: list[str] | None = None, examples: int = 200) -> None:  # fmt: skip
        self.path, self.profile, self.examples = path, profile or {}, examples
        self.target = str(path)
        # the pins are judged from every exchange, below, not by re-running the pin checks
        self.checks = [c for c in select(checks or None) if not c.pins]
        self._pool: ProcessPoolExecutor | None = None
        self._observing: Future | None = None

    def start(self, on_exchange: Any = None) -> None:
        # the observers run in another process (where there are two cores), while this one
        # re-runs the checks; one process for all observers: each distinct job is validated once
        if (os.cpu_count() or 1) > 1:
            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
            self._observing = self._pool.submit(observe, self.path, self.profile)
        self.recording = Recording(read(self.path))
        self.inputs = _inputs(self.recording)

    def items(self) -> list[Check]:
        return self.checks

    @functools.cached_property
    def seen(self) -> dict:
        """What ``observe`` found: from the other process when it ran there."""
        return self._observing.result() if self._observing else observe(self.path, self.profile)

    def judge(self, check: Check) -> CheckResult:
        result = self.not_run(check, "", Outcome.PASSED)
        try:
            if check.observed:
                return self._judge_observed(check, result)
            if check.given in (queries, data_queries):
                values = self.inputs["valid"]
            elif check.given in QUERY_STRATEGIES:
                senders = [c.name for c in self.checks if c.given is check.given]
                values = list(dict.fromkeys(q for n in senders for q in self.inputs[n]))
            elif check.given is None:
                values = [(e, None) for e in range(self.recording.epoch_count)]
            else:
                result.outcome = Outcome.NOT_JUDGED
                result.reason = "its inputs are drawn values that a recording does not hold"
                return result
            step = max(1, -(-len(values) // self.examples)) if self.examples else 1
            self._rerun(check, result, values[::step])
            result.judged_on = "its own logic, on recorded walks and pages"
        except Exception as exc:
            result.outcome, result.error = Outcome.TOOL_ERROR, tool_error(exc)
            result.reason = f"{type(exc).__name__} inside ci-conformance: {str(exc)[:300]}"
        return result

    def _judge_observed(self, check: Check, result: CheckResult) -> CheckResult:
        seen = self.seen
        pages = check.category in ("pagination", "filters")
        result.examples = seen["pages"] if pages else len(self.recording.entries)
        result.examples_with_jobs = result.examples
        result.judged_on = f"every recorded {'list page' if pages else 'exchange'}"
        if check.name in seen["findings"]:
            pos, message = seen["findings"][check.name]
            result.outcome = Outcome.FAILED
            result.failures = [self._failure(check, message, None, [self.recording.entries[pos]])]
        elif not result.examples:
            result.outcome = Outcome.NOT_JUDGED
            result.reason = "the recording holds nothing of this kind"
        return result

    def _failure(
        self, check: Check, found: str, query: str | None, recs: list[Recorded]
    ) -> Failure:
        return Failure(check=check.name, clause=check.clause, anchor=check.anchor,
                       contract=contract.ref(check.anchor), found=found, query=query,
                       exchanges=[exchange_record(r.exchange, r.index, r.check, limit=2000) for r in recs],
                       reproduce={"recheck": command(["recheck", str(self.path), "--checks", check.name], {})})  # fmt: skip

    def _rerun(self, check: Check, result: CheckResult, values: list) -> None:
        sessions = {e: RecordedSession(self.recording, e) for e in {e for e, _ in values}}
        last_reason, served = "", set()
        for epoch, value in values:
            s = sessions[epoch]
            s.used.clear()
            s.served = set()
            jobs = s.jobs_seen
            try:
                check.run(s, value)
            except SkipCheck as skip:
                last_reason = str(skip)
                continue
            except CheckFailure as failure:  # a violation, as in a run
                result.examples += 1
                result.outcome = Outcome.FAILED
                recs = [self.recording.of(e) for e in failure.exchanges[:4]]
                query = failure.query.describe() if failure.query is not None else None
                result.failures = [self._failure(check, failure.message, query, recs)]
                return
            result.examples += 1
            result.examples_with_jobs += s.jobs_seen > jobs
            served |= s.served
        result.extra["exchanges"] = len(served)
        if not result.examples:
            result.outcome, result.reason = Outcome.NOT_JUDGED, last_reason or "no recorded input"
        elif vacuous(check.judges_jobs, result.examples, result.examples_with_jobs):
            result.outcome, result.reason = Outcome.VACUOUS, "none of its recorded walks saw a job"

    def summary(self, results: list[CheckResult], *, unusable: str = "", message: str = "",
                interrupted: bool = False) -> RecheckSummary:  # fmt: skip
        seen = self.seen if self.checks else {"choices": {}, "pages": 0, "deviations": {}}
        coverage = Coverage()
        coverage.choices.update(seen["choices"])
        deviations = []
        for point, (pinned, choice, pos) in seen["deviations"].items():
            d = Deviation(point, pinned, choice, self.recording.entries[pos].exchange)
            deviations.append({"point": point, "pinned": pinned, "seen": choice,
                               "found": d.message(), "exchange": self.recording.entries[pos].index})  # fmt: skip
        failures = [f for r in results for f in r.failures]
        roots = attach_roots(failures)
        verdict = decide(results, unusable=unusable, interrupted=interrupted)
        if deviations and verdict in ("conformant", "incomplete", "tool error"):
            verdict = "violations"
        return RecheckSummary(
            kind="recheck", verdict=verdict, message=message, results=results,
            failures=[f for g in roots for f in g[0]], root_causes=[g[1] for g in roots],
            cassette=str(self.path), exchanges=len(self.recording.entries),
            list_pages=seen["pages"], epochs=self.recording.epoch_count,
            behaviour=coverage.fingerprint(), profile=self.profile, profile_deviations=deviations,
            reproduce=[command(["recheck", str(self.path)], {"checks": ",".join(f.check for f in failures)} if failures else {})],
        )  # fmt: skip

    def stop(self) -> None:
        if self._pool:
            self._pool.shutdown(cancel_futures=True)


def _inputs(recording: Recording) -> dict[Any, list[tuple[int, Query]]]:
    """The first page of every recorded walk, by epoch: every valid one, and by sending check."""
    firsts: dict[Any, list[tuple[int, Query]]] = defaultdict(list)
    for pos, rec in enumerate(recording.entries):
        ex = rec.exchange
        query = request_query(ex) if ex.method == "GET" else None
        if query is None or query.next_token is not None:
            continue
        epoch = recording.epochs[pos]
        if valid_query(query):
            firsts["valid"].append((epoch, query))
        firsts[rec.check].append((epoch, query))
    firsts["valid"] = list(dict.fromkeys(firsts["valid"]))  # each (epoch, query) once
    return firsts
