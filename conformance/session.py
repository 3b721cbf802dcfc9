"""A conformance session against one target: recorded exchanges, cached walks, the census.

Walks are cached per filter context (the query without ``nextToken``), so checks that need the
same walk pay for it once. The census is one unfiltered walk that strategies draw values from.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from urllib.parse import quote, urlsplit
from xml.sax.saxutils import escape

from .client import Client, Exchange
from .coverage import Coverage
from .query import STATES, TYPES, Query
from .xmlmodel import Job, ListResponse, XMLProblem, parse_error, parse_list

Finding = tuple[str, str]
"""(check name, message): what an observer saw wrong in one response."""
ExchangeObserver = Callable[[Exchange], list[Finding]]
PageObserver = Callable[[Query, ListResponse], list[Finding]]


class CheckFailure(AssertionError):
    """A violated clause. ``check`` and ``clause`` are filled in by the check registry."""

    def __init__(
        self, message: str, query: Query | None = None, exchanges: list[Exchange] | None = None
    ):
        super().__init__(message)
        self.message = message
        self.query = query
        self.exchanges = [e.preview() for e in exchanges or []]
        self.check: str = ""
        self.clause: str = ""

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

    @property
    def jobs(self) -> list[Job]:
        return [j for p in self.pages for j in p.body.jobs]

    @property
    def ids(self) -> list[str]:
        return [j.job_id for j in self.jobs]

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
PROBE = "probe"
"""An exchange's note: a request no client would send, judged only by the check that sent it."""
SEED_NAMES = ("ci-conformance seed", "ci-conformance seed", "ci-conformance Seed", "seed & <escape>",
              "名字 seed", "ci-conformance seed 2")  # fmt: skip


class Session:
    """Everything the checks share about one target."""

    def __init__(
        self,
        client: Client,
        *,
        allow_writes: bool = False,
        known_jobs: list[Job] | None = None,
        profile: dict[str, str] | None = None,  # open points pinned (coverage.OPEN_POINTS)
        census_limit: int = 10_000,
        seed_when_empty: bool = False,
        observers: tuple[list[ExchangeObserver], list[PageObserver]] = ([], []),
        unknown_data: str = "the target's data is not known (only the embedded emulator's is)",
    ) -> None:
        self.client = client
        self.allow_writes = allow_writes
        self.known_jobs = known_jobs
        self.unknown_data = unknown_data  # why known_jobs is None, for checks that need it
        self.profile = profile or {}
        self.census_limit = census_limit
        self.seed_when_empty = seed_when_empty
        self.exchange_count = 0  # exchanges are not kept (memory stays flat), only counted
        self.traffic = Traffic()  # the current check's (the plugin starts one per check)
        self.observations: dict[str, Observation] = {}
        self.exchange_observers, self.page_observers = observers
        self.coverage = Coverage(self.profile)
        self.seed = 0  # the run's seed and examples per check, for checks that run hypothesis
        self.examples = 20
        self.consistency_window = 0.0  # seconds a write may take to show (a live service)
        self.workflow_id: str | None = None  # the target's, for created jobs (--workflow-id)
        self.consistency_waits: list[float] = []
        self.pages_seen = 0  # pages and jobs the checks looked at, cached walks included
        self.jobs_seen = 0
        self._walks: dict[tuple, Walk] = {}
        self._census: list[Job] | None = None
        self._census_complete = False
        self._lock = threading.Lock()

    # --- requests -----------------------------------------------------------------------

    def record(self, exchange: Exchange) -> Exchange:
        self.exchange_count += 1
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
        self,
        method: str = "GET",
        path: str = "/inventorytriggerjob",
        params=None,
        probe: bool = False,
        **kw,
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
        self, query: Query, probe: bool = False, **kw
    ) -> tuple[Exchange, ListResponse | XMLProblem | None]:
        """A list request; a 200 answer is parsed and every page observer sees it."""
        ex = self.send("GET", params=query.params(), probe=probe, **kw)
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

    def page(self, query: Query, probe: bool = False) -> Page:
        """One page that must be a usable 200 list response; otherwise the check fails."""
        ex, body = self._fetch(query, probe)
        if body is None:
            raise CheckFailure(
                f"a valid query got HTTP {ex.status}: {_error_text(ex)}", query, [ex]
            )
        if isinstance(body, XMLProblem):
            raise CheckFailure(
                f"the list response is not usable ({body.kind}): {body.message}", query, [ex]
            )
        self.pages_seen += 1
        self.jobs_seen += len(body.jobs)
        return Page(ex.preview(), body)

    def walk(self, query: Query, cached: bool = True) -> Walk:
        """Walk ``query`` to its end (cached unless told). Fails on an endless or looping token."""
        key = tuple(replace(query, next_token=None).params())
        with self._lock:
            cached = self._walks.get(key) if cached else None
        if cached is not None:
            self.pages_seen += len(cached.pages)
            self.jobs_seen += len(cached.ids)
            return cached
        walk = Walk(query)
        token: str | None = None
        seen_tokens: set[str] = set()
        while True:
            page = self.page(replace(query, next_token=token))
            walk.pages.append(page)
            token = page.body.next_token or None
            if token is None:
                break
            if not page.body.jobs:
                raise CheckFailure(
                    "an empty page carries a NextToken: the walk would never end "
                    "(docs/contract.md#open-last-page-token: a final page may be empty, but then carries no token)",
                    query,
                    walk.exchanges[-3:],
                )
            if token in seen_tokens:
                raise CheckFailure(
                    f"the walk does not end: token {token[:40]!r} came back after "
                    f"{len(walk.pages)} pages",
                    query,
                    walk.exchanges[-3:],
                )
            if len(walk.pages) >= MAX_WALK_PAGES:  # long, not wrong: too costly to judge here
                raise SkipCheck(
                    f"{query.describe()} walks more than {MAX_WALK_PAGES} pages; not judged"
                )
            seen_tokens.add(token)
            if len(walk.pages) > 2 and len(set(walk.ids)) < len(walk.ids) // 2:
                raise CheckFailure(
                    "the walk repeats itself: most jobs came back twice", query, walk.exchanges[-3:]
                )
        self.coverage.walked(query, [p.body for p in walk.pages], complete=True)
        with self._lock:
            self._walks[key] = walk
        return walk

    def head(self, query: Query, pages: int) -> Walk:
        """The first ``pages`` pages of a walk (not cached): cheap looks at later pages."""
        walk = Walk(query)
        token: str | None = None
        while len(walk.pages) < pages:
            page = self.page(replace(query, next_token=token))
            walk.pages.append(page)
            token = page.body.next_token or None
            if token is None or not page.body.jobs:
                break
        self.coverage.walked(query, [p.body for p in walk.pages], complete=token is None)
        return walk

    def forget_walks(self) -> None:
        """After writes: walks and the census are out of date."""
        with self._lock:
            self._walks.clear()
            self._census = None

    # --- the census ---------------------------------------------------------------------

    def census(self) -> list[Job]:
        """The target's jobs (newest first, up to ``census_limit``), to draw values from.

        An empty target gets jobs of the suite's own first when ``seed_when_empty`` is set.
        """
        if self._census is None:
            walk = self.head(Query(size="100"), pages=max(1, self.census_limit // 100))
            if not walk.jobs and self.seed_when_empty:
                self.seed_when_empty = False
                types = self.creatable_types
                for i, name in enumerate(SEED_NAMES):
                    self.create(name, types[i % len(types)])
                walk = self.head(Query(size="100"), pages=max(1, self.census_limit // 100))
            # a job whose Type or State breaks the contract is the schema checks' to report:
            # values drawn from it would make invalid queries
            self._census = [j for j in walk.jobs if j.type in TYPES and j.state in STATES]
            self._census_complete = not walk.pages[-1].body.next_token
        return self._census

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
            raise CheckFailure(
                f"creating a job got HTTP {ex.status}: {_error_text(ex)}", None, [ex]
            )
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
            raise SkipCheck(
                f"the target refused to create a {_created_type(ex)} job (HTTP {ex.status}: "
                f"{_error_text(ex)})"
                + ("" if self.workflow_id else "; give --workflow-id, a workflow of its bucket")
            )

    def create_exchange(self, name: str, job_type: str, workflow_id: str | None = None) -> Exchange:
        """POST one job, as the official SDK's create sends it."""
        self.require_writes()
        workflow_id = workflow_id or self.workflow_id or "wconformance"
        op = (
            f"<WorkflowIds>{escape(workflow_id)}</WorkflowIds>"
            if job_type == "Workflow"
            else "<QueueId>pconformance</QueueId>"
        )
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

    @property
    def census_taken(self) -> list[Job] | None:
        """The census if a check took it (``None`` otherwise: the data was never looked at)."""
        return self._census

    @property
    def census_complete(self) -> bool:
        self.census()
        return self._census_complete

    def require_jobs(self, at_least: int = 1) -> list[Job]:
        jobs = self.census()
        if len(jobs) < at_least:
            raise NoData(f"the target has {len(jobs)} job(s); this check needs {at_least}")
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


def _created_type(ex: Exchange) -> str:
    return "Workflow" if b"<WorkflowIds>" in ex.request_body else "Job"


def _error_text(ex: Exchange) -> str:
    try:
        doc = parse_error(ex.body, check=False)
        return f"{doc.code}: {doc.message}"
    except XMLProblem:
        return ex.body[:200].decode("utf-8", "replace")
