"""A conformance session against one target: recorded exchanges, cached walks, the census.

Walks are cached per filter context (the query without ``nextToken``), so checks that need the
same walk pay for it once. The census is one unfiltered walk that strategies draw values from.
"""

from __future__ import annotations

import bisect
import queue
import random
import re
import sys
import threading
from array import array
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit
from xml.sax.saxutils import escape

from .client import PATH, BudgetExceeded, Client, Exchange
from .coverage import Coverage
from .query import STATES, TYPES, Query, parse_filters
from .timefmt import format_time, parse_time
from .xmlmodel import Job, ListResponse, XMLProblem, parse_error, parse_list

Finding = tuple[str, str]  # (check name, message): what an observer saw wrong in one response
ExchangeObserver = Callable[[Exchange], list[Finding]]
PageObserver = Callable[[Query, ListResponse], list[Finding]]


class CheckFailure(AssertionError):
    """A violated clause. ``check`` and ``clause`` are filled in by the check registry."""

    def __init__(
        self, message: str, query: Query | None = None, exchanges: list[Exchange] | None = None
    ):
        super().__init__(message)
        self.message, self.query = message, query
        self.exchanges = [e.preview() for e in exchanges or []]
        self.check, self.clause = "", ""

    def __str__(self) -> str:
        where = f"\n  check:  {self.check}\n  clause: {self.clause}" if self.check else ""
        query = f"\n  query:  {self.query.describe()}" if self.query is not None else ""
        shown = "".join(f"\n  {e.method} {e.url} -> {e.status}" for e in self.exchanges[-3:])
        return f"{self.message}{where}{query}{shown}"


class SkipCheck(Exception):
    """The target cannot exercise this check (no data, no token...). The reason is reported."""


class NoData(SkipCheck):
    """The target has too few jobs for this check (the verdict line counts these)."""


class Traffic:
    """What one check sent and saw, kept small whatever it sends: the requests counted by
    method, path, query and status, and the first and last exchanges (previews)."""

    def __init__(self) -> None:
        self.count = 0
        self.first: Exchange | None = None
        self.last: Exchange | None = None
        self._lines: Counter[tuple[str, str, int]] = Counter()

    def add(self, ex: Exchange) -> None:
        self.count += 1
        self.last = ex.preview()
        self.first = self.first or self.last
        url = urlsplit(ex.url)
        query = "&".join(p for p in url.query.split("&") if p and not p.startswith("nextToken="))
        paged = " (+nextToken)" if "nextToken=" in url.query else ""
        self._lines[(ex.method, f"{url.path}{'?' + query if query else ''}{paged}", ex.status)] += 1

    def lines(self) -> list[str]:
        return [f"{n}x {m} {what} → HTTP {status}" for (m, what, status), n in self._lines.items()]

    def ends(self) -> list[Exchange]:
        return [e for e in (self.first, self.last if self.count > 1 else None) if e is not None]


@dataclass
class Page:
    exchange: Exchange
    body: ListResponse


@dataclass
class Walk:
    """A query walked through NextToken to its end."""

    query: Query
    pages: list[Page] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)  # every page's, in order
    ids: list[str] = field(default_factory=list)

    def add(self, page: Page) -> None:
        self.pages.append(page)
        self.jobs += page.body.jobs
        self.ids += [j.job_id for j in page.body.jobs]

    @property
    def exchanges(self) -> list[Exchange]:
        return [p.exchange for p in self.pages]


@dataclass
class Observation:
    """A finding seen anywhere in the run, reported by its observed check."""

    check: str
    message: str
    exchange: Exchange
    query: Query | None = None


MAX_WALK_PAGES = 2000
WALK_CACHE = 40_000  # jobs (and pages) the cached walks hold at most; the least recent go first
PAGE_PREVIEW = 16 * 1024  # body bytes a walk's page keeps for the reports (the page is parsed)
MAX_CENSUS_PAGES = 20_000  # 2,000,000 jobs: the census stops there (and says it is incomplete)
WRITTEN_TOKEN = re.compile(rb"<NextToken>([^<&\r]+)</NextToken>")
"""A page's NextToken written plainly: what its parse most likely gives (the census checks)."""
SAMPLE = 5000  # jobs the census keeps to draw values from: a larger target's are runs of SLICE
SLICE = 1000
"""Jobs in a slice: on a target of more than ``2 * SLICE`` jobs, walks keep to slices of its
CreationTimes (time windows) so that their cost does not grow with the target."""
RUNS = SAMPLE // SLICE


class Census(list):
    """The jobs to draw values from, the number of jobs, and every CreationTime (sorted) to cut
    the target into slices of ``SLICE`` jobs, counted from the newest. A target of more than
    ``SAMPLE`` jobs is sampled by runs of a slice in the walk's (newest first) order: the newest
    and ``RUNS - 1`` drawn by reservoir sampling. Checks then share the walks of a few slices
    (single jobs spread them over a slice each: at 10^5 jobs 5,723 requests, now 4,733)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.times = array("q")
        self.complete = True
        self.edges: list[Query] | None = None  # strategies.edge_queries's, once
        self.counts: dict[tuple, int] = {}  # strategies.count_matching's, per filter context
        self._by_time: list[Job] = []
        self._instants: list[float] = []
        self._slot = 0

    def add(self, job: Job, rng: random.Random) -> None:
        """Stream one job in, in the walk's order."""
        if job.type not in TYPES or job.state not in STATES:
            return  # the schema checks' to report: values drawn from it would be invalid
        self.count += 1
        self.times.append(int(job.created.timestamp()))
        run, at = divmod(self.count - 1, SLICE)
        if at == 0:  # a run begins: the slot it takes (kept when < RUNS)
            self._slot = run if run < RUNS else 1 + rng.randrange(run)
        if self._slot < RUNS:
            if (k := self._slot * SLICE + at) < len(self):
                self[k] = job
            else:
                self.append(job)

    def finish(self, complete: bool) -> None:
        self.complete = complete
        self.times = array("q", sorted(self.times))
        self._by_time = sorted(self, key=lambda j: j.created)
        self._instants = [j.created.timestamp() for j in self._by_time]

    def count_between(self, start: datetime | None, end: datetime | None) -> int:
        """The target's jobs created from ``start`` to ``end`` (either may be open): exact."""
        low = bisect.bisect_left(self.times, int(start.timestamp())) if start else 0
        high = bisect.bisect_right(self.times, int(end.timestamp())) if end else len(self.times)
        return max(0, high - low)

    def between(self, start: datetime | None, end: datetime | None) -> list[Job]:
        """The sample's jobs created from ``start`` to ``end`` (either may be open)."""
        low = bisect.bisect_left(self._instants, start.timestamp()) if start else 0
        high = bisect.bisect_right(self._instants, end.timestamp()) if end else len(self._instants)
        return self._by_time[low:high]

    @property
    def sliced(self) -> bool:
        return self.count > 2 * SLICE

    def slice_of(self, moment: datetime) -> tuple[datetime, datetime]:
        """The slice (first and last CreationTime) holding ``moment``: slices are counted from
        the newest job, and the oldest one takes the jobs left over."""
        at = max(0, bisect.bisect_right(self.times, int(moment.timestamp())) - 1)
        n, oldest = len(self.times), max(0, len(self.times) // SLICE - 1)
        k = min((n - 1 - at) // SLICE, oldest)
        last = n - 1 - k * SLICE
        first = 0 if k == oldest else last - SLICE + 1
        return (datetime.fromtimestamp(self.times[first], UTC),
                datetime.fromtimestamp(self.times[last], UTC))  # fmt: skip

    def bounded(self, query: Query, around: Job | datetime | None = None) -> Query:
        """``query`` with its time bounds kept inside one slice (the one around ``around``, a
        job or a moment, else around its own bounds, else the newest): a missing bound is the
        slice's, one outside it moves to it."""
        if not self.sliced:
            return query
        f = parse_filters(query)
        if isinstance(around, Job):
            around = around.created
        around = around or f.start or f.end or datetime.fromtimestamp(self.times[-1], UTC)
        low, high = self.slice_of(around)
        start = (
            query.start_creation_time if f.start and low <= f.start <= high else format_time(low)
        )
        end = query.end_creation_time if f.end and low <= f.end <= high else format_time(high)
        if parse_time(start) > parse_time(end):
            start, end = format_time(low), format_time(high)
        return replace(query, start_creation_time=start, end_creation_time=end)


def _weight(walk: Walk) -> int:
    return len(walk.ids) + len(walk.pages)


ENDLESS = (
    "an empty page carries a NextToken: the walk would never end (docs/contract.md"
    "#open-last-page-token: a final page may be empty, but then carries no token)"
)
UNKNOWN_DATA = "the target's data is not known (only the embedded emulator's is)"
PROBE = "probe"
"""An exchange's note: a request no client would send, judged only by the check that sent it."""
# Only names the vendor's create pages allow (letters, digits, -, _, Chinese, the em dash; see
# checks/model.py NAMES): a twin, a case variant, a substring, one that needs percent-encoding.
SEED_NAMES = ("ci-conformance_seed", "ci-conformance_seed", "ci-conformance_Seed", "ci-conformance_seed_2",
              "名字_seed", "ci-conformance—seed")  # fmt: skip


class Session:
    """Everything the checks share about one target."""

    def __init__(
        self,
        client: Client,
        *,
        allow_writes: bool = False,
        known_jobs: list[Job] | None = None,
        profile: dict[str, str] | None = None,  # open points pinned (coverage.OPEN_POINTS)
        seed_when_empty: bool = False,
        observers: tuple[list[ExchangeObserver], list[PageObserver]] = ([], []),
        unknown_data: str = UNKNOWN_DATA,
    ) -> None:
        self.client = client
        self.allow_writes = allow_writes
        self.known_jobs = known_jobs
        self.stored = len(known_jobs or ())  # the known jobs before the run's own creates
        self.unknown_data = unknown_data  # why known_jobs is None, for checks that need it
        self.profile = profile or {}
        self.seed_when_empty = seed_when_empty
        self.traffic = Traffic()  # the current check's (the plugin starts one per check)
        self.observations: dict[str, Observation] = {}
        self.page_observers = observers[1]  # an observer that keeps state takes its own
        self.exchange_observers = [getattr(o, "fresh", lambda o=o: o)() for o in observers[0]]
        self.coverage = Coverage(self.profile)
        self.seed, self.examples = 0, 20  # the run's seed, and examples per check (hypothesis)
        self.consistency_window = 0.0  # seconds a write may take to show (a live service)
        self.workflow_id: str | None = None  # the target's, for created jobs (--workflow-id)
        self.consistency_waits: list[float] = []
        self.pages_seen = self.jobs_seen = 0  # what the checks looked at, cached walks included
        self._walks: OrderedDict[tuple, Walk] = OrderedDict()  # the most recent last
        self._held = 0  # jobs and pages the cached walks hold
        self.census_taken: Census | None = None  # once a check takes it (never: data unseen)
        self._lock = threading.Lock()

    def record(self, exchange: Exchange) -> Exchange:
        self.traffic.add(exchange)
        for observe in self.exchange_observers:
            self._observe(observe(exchange), exchange)
        self.coverage.exchange(exchange)
        return exchange

    def _observe(
        self, findings: list[Finding] | None, ex: Exchange, query: Query | None = None
    ) -> None:
        for check, message in findings or ():
            if check not in self.observations:
                self.observations[check] = Observation(check, message, ex.preview(), query)

    def send(
        self, method: str = "GET", path: str = PATH, params=None, probe: bool = False, **kw
    ) -> Exchange:
        """One request. A ``probe`` sends what no client would (a foreign nextToken): its
        answer is judged by the check that sent it, never as an ordinary page of a walk."""
        ex = self.client.request(method, path, params, **kw)
        if probe:
            ex.notes.append(PROBE)
        return self.record(ex)

    def list(self, query: Query, probe: bool = False, **kw) -> Exchange:
        return self._fetch(query, probe, **kw)[0]

    def _fetch(
        self, query: Query, probe: bool = False, ex: Exchange | None = None, **kw
    ) -> tuple[Exchange, ListResponse | XMLProblem | None]:
        """A list request (or its answer ``ex``, asked ahead); a 200 answer is parsed and every
        page observer sees it."""
        ex = self.record(ex) if ex else self.send("GET", params=query.params(), probe=probe, **kw)
        self.coverage.sent(query)
        if ex.status != 200:
            return ex, None
        try:
            body = parse_list(ex.body, check=False)
            unreadable = usable_times(body)
        except XMLProblem as exc:
            return ex, exc
        if unreadable:  # a time no check can compare: the page is unusable
            return ex, XMLProblem("invalid", unreadable)
        if not probe:
            for observe in self.page_observers:
                self._observe(observe(query, body), ex, query)
            self.coverage.page(query, body, ex)
        return ex, body

    def page(self, query: Query, probe: bool = False, ex: Exchange | None = None) -> Page:
        """One page that must be a usable 200 list response; otherwise the check fails."""
        ex, body = self._fetch(query, probe, ex) if ex else self._fetch(query, probe)
        if body is None:
            refused = f"a valid query got HTTP {ex.status}: {_error_text(ex)}"
            raise CheckFailure(refused, query, [ex])
        if isinstance(body, XMLProblem):
            problem = f"the list response is not usable ({body.kind}): {body.message}"
            raise CheckFailure(problem, query, [ex])
        self.pages_seen += 1
        self.jobs_seen += len(body.jobs)
        return Page(ex.preview(PAGE_PREVIEW), body)

    def walk(self, query: Query, cached: bool = True) -> Walk:
        """Walk ``query`` to its end (cached unless told). Fails on an endless or looping token."""
        key = tuple(replace(query, next_token=None).params())
        with self._lock:
            hit = self._walks.get(key) if cached else None
            if hit is not None:
                self._walks.move_to_end(key)
                self.pages_seen += len(hit.pages)
                self.jobs_seen += len(hit.ids)
                return hit
        walk, seen_tokens = Walk(query), set()
        token = self._step(walk, None)
        while token is not None:
            if not walk.pages[-1].body.jobs:
                raise CheckFailure(ENDLESS, query, walk.exchanges[-3:])
            if token in seen_tokens:
                again = f"the walk does not end: token {token[:40]!r} came back after {len(walk.pages)} pages"
                raise CheckFailure(again, query, walk.exchanges[-3:])
            if len(walk.pages) >= MAX_WALK_PAGES:  # long, not wrong: too costly to judge here
                too_long = f"{query.describe()} walks more than {MAX_WALK_PAGES} pages; not judged"
                raise SkipCheck(too_long)
            seen_tokens.add(token)
            if len(walk.pages) > 2 and len(set(walk.ids[-200:])) < len(walk.ids[-200:]) // 2:
                twice = "the walk repeats itself: most jobs came back twice"
                raise CheckFailure(twice, query, walk.exchanges[-3:])
            token = self._step(walk, token)
        self.coverage.walked(query, [p.body for p in walk.pages], complete=True)
        with self._lock:
            old = self._walks.pop(key, None)
            self._walks[key] = walk
            self._held += _weight(walk) - (_weight(old) if old else 0)
            while self._held > WALK_CACHE and len(self._walks) > 1:  # memory stays flat
                self._held -= _weight(self._walks.popitem(last=False)[1])
        return walk

    def head(self, query: Query, pages: int) -> Walk:
        """The first ``pages`` pages of a walk (not cached): cheap looks at later pages."""
        walk = Walk(query)
        token = self._step(walk, None)
        while token is not None and walk.pages[-1].body.jobs and len(walk.pages) < pages:
            token = self._step(walk, token)
        self.coverage.walked(query, [p.body for p in walk.pages], complete=token is None)
        return walk

    def _step(self, walk: Walk, token: str | None) -> str | None:
        """The page of ``token`` added to ``walk``; its NextToken (``None`` when empty)."""
        page = self.page(replace(walk.query, next_token=token))
        walk.add(page)
        return page.body.next_token or None

    def forget_walks(self) -> None:
        """After writes: walks and the census are out of date."""
        with self._lock:
            self._walks.clear()
            self._held = 0
            self.census_taken = None

    def census(self) -> Census:
        """The target's jobs, walked once (streamed): every CreationTime, and a sample of jobs
        to draw values from. An empty target gets jobs of the suite's own first when
        ``seed_when_empty`` is set."""
        if self.census_taken is None:
            census = self._take_census()
            if not census.count and self.seed_when_empty:
                self.seed_when_empty = False
                types = self.creatable_types
                for i, name in enumerate(SEED_NAMES):
                    self.create(name, types[i % len(types)])
                census = self._take_census()
            self.census_taken = census
        return self.census_taken

    def _take_census(self) -> Census:
        """The census's walk. On a live target each next page (its token read off the bytes) is
        asked for while this one is judged, with the GIL's switch interval at 1 ms: at 5 the
        asking thread waited at each read (10^5 jobs: 17.3 s a census without it, 14.1 s with)."""
        census, query, ahead = Census(), Query(size="100"), None
        rng = random.Random(f"census {self.seed}")
        live = type(self).send is Session.send  # a recorded session answers by send alone
        answers: queue.SimpleQueue = queue.SimpleQueue()

        def ask(params: list) -> None:  # in a daemon thread, and no lock of Python's is waited
            try:  # on: a Ctrl-C once left a Future's held, and its worker hung the exit for good
                answers.put(self.client.request("GET", params=params))
            except BaseException as exc:  # raised where the answer is awaited
                answers.put(exc)

        switch = sys.getswitchinterval()
        sys.setswitchinterval(0.001)
        try:
            for pages in range(1, MAX_CENSUS_PAGES + 1):
                sent = answers.get() if ahead else None
                if ahead != query:
                    sent = None  # asked with a token the parse did not confirm: dropped
                elif isinstance(sent, BaseException):
                    raise sent
                if live and sent is None:
                    sent = self.client.request("GET", params=query.params())
                ahead = None
                if sent and pages < MAX_CENSUS_PAGES and (m := WRITTEN_TOKEN.search(sent.body)):
                    ahead = replace(query, next_token=m[1].decode("utf-8", "replace"))
                    threading.Thread(target=ask, args=(ahead.params(),), daemon=True).start()
                page = self.page(query, ex=sent)
                for job in page.body.jobs:
                    census.add(job, rng)
                token = page.body.next_token or None
                if token is None or not page.body.jobs:
                    break
                query = replace(query, next_token=token)  # not the one asked for: asked anew
        except BudgetExceeded:  # say where it went: the census walks every job, 100 a page
            self.client.stopped = f"{self.client.stopped}, {census.count:,} jobs into the census"
            raise
        finally:
            sys.setswitchinterval(switch)
        census.finish(complete=token is None)
        return census

    @property
    def creatable_types(self) -> tuple[str, ...]:
        """The job types the suite creates: a Job needs a queue and a template that only an
        emulator invents, so with a real workflow (``--workflow-id``) Workflow jobs only."""
        return ("Workflow",) if self.workflow_id else ("Job", "Workflow")

    def create(self, name: str, job_type: str = "Workflow") -> Job:
        """Create a job on the target (only with writes allowed); it joins the known data."""
        ex = self.create_exchange(name, job_type)
        if ex.status != 200:
            self.create_refused(ex)
            refused = f"creating a job got HTTP {ex.status}: {_error_text(ex)}"
            raise CheckFailure(refused, None, [ex])
        try:
            job = parse_list(ex.body, check=False).jobs[0]
        except (XMLProblem, IndexError):
            raise CheckFailure("the create response holds no JobsDetail", None, [ex]) from None
        if self.known_jobs is not None:
            self.known_jobs.append(job)
        self.forget_walks()
        return job

    def create_refused(self, ex: Exchange) -> None:
        """A target whose data is not known may refuse the suite's create with a 4xx: its
        placeholder workflow or queue does not exist there. That skips, saying what to give."""
        if self.known_jobs is None and 400 <= ex.status < 500:
            hint = "" if self.workflow_id else "; give --workflow-id, a workflow of its bucket"
            kind = "Workflow" if b"<WorkflowIds>" in ex.request_body else "Job"
            said = f"HTTP {ex.status}: {_error_text(ex)}"
            raise SkipCheck(f"the target refused to create a {kind} job ({said}){hint}")

    def create_exchange(self, name: str, job_type: str, workflow_id: str | None = None) -> Exchange:
        """POST one job, as the official SDK's create sends it."""
        self.require_writes()
        workflow_id = workflow_id or self.workflow_id or "wconformance"
        workflow = f"<WorkflowIds>{escape(workflow_id)}</WorkflowIds>"
        op = workflow if job_type == "Workflow" else "<QueueId>pconformance</QueueId>"
        body = (f"<Request><Name>{escape(name)}</Name><Type>{job_type}</Type><Input><Prefix>conformance/</Prefix>"
                f"</Input><Operation>{op}</Operation></Request>").encode()  # fmt: skip
        return self.send("POST", data=body, headers={"Content-Type": "application/xml"})

    def job_path(self, job_id: str) -> str:
        return f"/inventorytriggerjob/{quote(job_id, safe='')}"

    def known_job_changed(self, job: Job) -> None:
        """After a write: the known data (when the target's data is known) and caches follow."""
        if self.known_jobs is not None:
            self.known_jobs[:] = [job if j.job_id == job.job_id else j for j in self.known_jobs]
        self.forget_walks()

    def bounded(self, query: Query, around: Job | datetime | None = None) -> Query:
        """``query`` kept inside the census's slice around ``around`` (``Census.bounded``): on
        a large target every walk stays a slice of it, whatever its other filters."""
        return self.census().bounded(query, around)

    def require_jobs(self, at_least: int = 1) -> Census:
        jobs = self.census()
        if jobs.count < at_least:
            raise NoData(f"the target has {jobs.count} job(s); this check needs {at_least}")
        return jobs

    def require_known_jobs(self) -> list[Job]:
        if self.known_jobs is None:
            raise SkipCheck(self.unknown_data)
        return self.known_jobs

    def require_writes(self) -> None:
        if not self.allow_writes:
            raise SkipCheck("needs --allow-writes (it creates jobs on the target)")


def usable_times(body: ListResponse) -> str:
    """Why a page's CreationTimes cannot be compared ("" when they all can)."""
    for n, job in enumerate(body.jobs, 1):
        try:
            job.created  # noqa: B018
        except ValueError as exc:
            return f"JobsDetail {n}: CreationTime {exc}"
    return ""


def _error_text(ex: Exchange) -> str:
    try:
        doc = parse_error(ex.body, check=False)
        return f"{doc.code}: {doc.message}"
    except XMLProblem:
        return ex.body[:200].decode("utf-8", "replace")
