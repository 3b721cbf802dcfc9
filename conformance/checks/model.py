"""Model checks: write, then read. A hypothesis state machine creates, cancels, gets and walks
jobs, and keeps a model of what it wrote; every read must agree with the model.

Only with writes allowed (the embedded emulator always allows them). A live service may be
eventually consistent: ``--consistency-window S`` lets a write take up to S seconds to show,
and the summary reports each wait. Jobs on a live service may move on by themselves
(Submitted, Running, Success...); only a cancelled job's state is fixed, so the model takes a
state it did not write from the target, after a fresh get confirms it.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta

from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, rule, run_state_machine_as_test

from .. import strategies as gen
from ..client import Exchange
from ..engine import hypothesis_settings
from ..query import STATES, Query, parse_filters
from ..session import CheckFailure, Session, SkipCheck
from ..timefmt import format_time
from ..xmlmodel import Job, XMLProblem, parse_list, safe_parse
from .base import check, error_doc, fail, job_and, near_miss, repeated

# Names that are case variants or substrings of others, differ only by - and _, or need
# percent-encoding (Chinese, the em dash). Only what the vendor's create pages allow (460/80155,
# 436/50618: "支持中文、英文、数字、—和_,长度限制128字符"; en "letters, digits, hyphens, and
# underscores"): a server may refuse any other name, so names that need XML escaping (&, <) or
# hold spaces are met in the target's data, never created.
NAMES = (
    "ci-conformance_model", "ci-conformance_Model", "ci-conformance_model_2", "ci-conformance-model",
    "模型_ci-conformance", "ci-conformance—模型", "CI-CONFORMANCE_MODEL",
)  # fmt: skip
ENDED = ("Success", "Failed", "Cancel")


@dataclass
class Made:
    """A job the machine created, as the model knows it."""

    job: Job
    step: int
    cancelled: bool = False


class Problem(Exception):
    """A read disagreeing with the model: retried within the consistency window."""


def _machine(s: Session, workflow_id: str) -> type[RuleBasedStateMachine]:
    class WriteThenRead(RuleBasedStateMachine):
        created = Bundle("created")

        def __init__(self) -> None:
            super().__init__()
            self.made: dict[str, Made] = {}
            self.steps: list[str] = []
            self.failed = False  # hypothesis tears down after a failure too: say nothing more

        def fail(self, message: str, exchanges: list[Exchange]):
            self.failed = True
            shown = "\n".join(f"  {n}. {t}" for n, t in enumerate(self.steps, 1))
            raise CheckFailure(f"{message}\nafter these operations:\n{shown}", None, exchanges)

        def eventually(self, look: Callable[[], None]) -> None:
            """``look`` until it raises no Problem, for up to the consistency window."""
            started, tries = time.monotonic(), 0
            while True:
                tries += 1
                try:
                    look()
                except Problem as p:
                    if time.monotonic() - started < s.consistency_window:
                        time.sleep(min(0.5, s.consistency_window / 10))
                        continue
                    self.fail(*p.args)
                if tries > 1:  # it had to wait (a slow first look is not a wait)
                    s.consistency_waits.append(round(time.monotonic() - started, 2))
                return

        def refresh(self, job_id: str) -> Job:
            """The job as get shows it now (a live job's state may move on by itself)."""
            ex, job = get_job(s, job_id)
            if job is None:
                said = "NonExistJobIds" if ex.status == 200 else f"HTTP {ex.status}"
                raise Problem(f"get of created job {job_id} answered {said}", [ex])
            made = self.made[job_id]
            if made.cancelled and job.state != "Cancel":
                raise Problem(f"get shows cancelled job {job_id} as {job.state}", [ex])
            if diff := differences(made.job, job):
                said = "as the create answer (or an earlier get) showed"
                self.fail(f"get of {job_id} shows {diff[0]}, {said}", [ex])
            made.job = job
            return job

        def window(self) -> str:
            """startCreationTime that keeps walks to this machine's jobs (the target's clock)."""
            first = min(m.job.created for m in self.made.values())
            return format_time(first - timedelta(seconds=1))

        def walk_agrees(self, query: Query) -> None:
            """Every job the model says ``query`` matches is in the walk once, as the model has it."""
            walk, f, said = s.walk(query, cached=False), parse_filters(query), query.describe()
            if twice := repeated(walk.ids):
                raise Problem(f"{said} returned {twice[0]} twice", walk.exchanges)
            shown = {j.job_id: j for j in walk.jobs}
            for job_id, made in self.made.items():
                if (got := shown.get(job_id)) is None:  # a live job may have moved on: look again
                    if not f.broken(made.job) and not f.broken(now := self.refresh(job_id)):
                        where = f"created at step {made.step}, State {now.state}"
                        problem = f"job {job_id} ({where}) is missing from {said}"
                        raise Problem(problem, walk.exchanges[:2])
                elif made.cancelled and got.state != "Cancel":
                    problem = f"cancelled job {job_id} shows State {got.state} in {said}"
                    raise Problem(problem, walk.exchanges)
                elif diff := differences(made.job, got):
                    raise Problem(f"{said} shows {diff[0]}, as get showed", walk.exchanges)
                elif broken := f.broken(got):
                    raise Problem(f"job {job_id} in {said} breaks it: {broken[0]}", walk.exchanges)

        @rule(
            target=created, job_type=st.sampled_from(s.creatable_types), name=st.sampled_from(NAMES)
        )
        def create(self, job_type: str, name: str) -> str:
            self.steps.append(f"create a {job_type} job named {name!r}")
            ex = s.create_exchange(name, job_type, workflow_id)
            s.forget_walks()
            if ex.status != 200:
                s.create_refused(ex)
            if (job := _job_of(ex)) is None:
                self.fail(f"creating a job got HTTP {ex.status} with no JobsDetail", [ex])
            if (job.name, job.type) != (name, job_type):
                self.fail(f"the created job has Name {job.name!r} and Type {job.type}", [ex])
            self.steps[-1] += f" -> {job.job_id}"
            self.made[job.job_id] = Made(job, len(self.steps))
            if s.known_jobs is not None:
                s.known_jobs.append(job)
            self.eventually(lambda: self.refresh(job.job_id))
            self.eventually(lambda: self.walk_agrees(Query(size="10", job_id=job.job_id)))
            return job.job_id

        @rule(job_id=created)
        def cancel(self, job_id: str) -> None:
            """Cancel answers 200 with no body; a job that has ended may be refused (4xx), or
            answered 200 and keep its own state (docs/contract.md#open-cancel-ended)."""
            made = self.made[job_id]
            self.steps.append(f"cancel {job_id}")
            ended = made.cancelled or made.job.state in ENDED
            ex = s.send("PUT", s.job_path(job_id), params=[("cancel", "")])
            s.forget_walks()
            if ex.status != 200 and not 400 <= ex.status < 500:
                self.fail(f"cancelling {job_id} got HTTP {ex.status}", [ex])
            if ex.status != 200:
                if (state := self.refresh(job_id).state) not in ENDED:
                    self.fail(f"cancelling {job_id} (State {state}) got HTTP {ex.status}", [ex])
                s.coverage.met("cancel_ended", "refuse", ex)
                return
            if ended:
                s.coverage.met("cancel_ended", "accept", ex)

            def cancelled() -> None:
                job = self.refresh(job_id)
                if job.state == "Cancel":
                    made.cancelled = True
                elif job.state not in ENDED:  # a job that had ended keeps its own state
                    raise Problem(f"cancel of {job_id} answered 200; get shows {job.state}", [ex])

            self.eventually(cancelled)
            if made.cancelled:
                s.known_job_changed(made.job)
                self.eventually(lambda: self.walk_agrees(Query(size="10", job_id=job_id)))
                in_cancel = Query(size="5", states="Cancel", start_creation_time=self.window())
                self.eventually(lambda: self.walk_agrees(in_cancel))

        @rule(job_id=created)
        def get(self, job_id: str) -> None:
            self.steps.append(f"get {job_id}")
            self.eventually(lambda: self.refresh(job_id))

        @rule(
            job_id=created,
            filters=st.sets(st.sampled_from(("type", "states", "name", "jobId", "workflowId")), max_size=2),
            others=st.sets(st.sampled_from(STATES), max_size=2),
            size=st.integers(1, 5),
        )  # fmt: skip
        def walk(self, job_id: str, filters: set[str], others: set[str], size: int) -> None:
            job = self.made[job_id].job
            values = {
                "type": job.type,
                "states": ",".join(sorted({job.state, *others})),
                "name": job.name,
                "job_id": job.job_id,
                "workflow_id": job.workflow_ids[0] if job.workflow_ids else None,
            }
            chosen = {k: values[k] for k in values if k.replace("_id", "Id") in filters}
            query = Query(size=str(size), start_creation_time=self.window(), **chosen)
            self.steps.append(f"walk {query.describe()}")
            self.eventually(lambda: self.walk_agrees(query))

        def teardown(self) -> None:
            if self.made and not self.failed:
                self.steps.append("walk every job created since the first")
                every = Query(size="7", start_creation_time=self.window())
                self.eventually(lambda: self.walk_agrees(every))

    return WriteThenRead


@check(
    "a job written is read back at once (or within --consistency-window) by get, by jobId and in every filtered walk it satisfies; a cancelled job shows Cancel everywhere; nothing is lost or duplicated",
    anchor="write-read",
)
def write_then_read(s: Session) -> None:
    """A hypothesis state machine: sequences of up to 10 operations (create a job of either type
    with a tricky name, cancel, get, walk with filters at sizes 1 to 5), each read checked
    against the model of what was written. A failure is shrunk to the shortest sequence."""
    s.require_writes()
    workflow_id = s.workflow_id or f"wconformance{s.seed:021d}"
    if s.known_jobs is None:  # a target that refuses our creates skips here, not mid-machine
        for job_type in s.creatable_types:
            s.create("ci-conformance_model_probe", job_type)
    options = hypothesis_settings(max(2, s.examples // 4), target=False, stateful_step_count=10)
    run_state_machine_as_test(hypothesis_seed(s.seed)(_machine(s, workflow_id)), settings=options)


FIXED = ("job_id", "type", "name", "creation_time", "input", "operation")
MOVING = ("state", "start_time", "end_time", "code", "message")
"""A job's fields: those that never change once it is created, and those a live job moves on."""


def differences(a: Job, b: Job, names: tuple[str, ...] = FIXED) -> list[str]:
    """Where two views of one job differ, a field at a time (times as text: the same instant
    written otherwise is another text)."""
    return [f"{n} {getattr(b, n)!r}, not {getattr(a, n)!r}" for n in names if getattr(a, n) != getattr(b, n)]  # fmt: skip


@check(
    "a job reads the same in get, under jobId, on an unfiltered page and under a filter by type, state and CreationTime: every field, times as text",
    given=lambda s: job_and(s, gen.OFFSETS),
    judges_jobs=True,
    anchor="one-truth",
)
def one_truth(s: Session, drawn) -> None:
    """Under jobId, get, the filter, then under jobId again: the fields a live job moves on are
    compared only when the two jobId views agree (it did not move on between the reads)."""
    job, offset = drawn
    at = format_time(job.created, offset)

    def listed(query: Query) -> tuple[Job | None, list[Exchange]]:
        walk = s.walk(replace(s.bounded(query, job), size="100"), cached=False)
        return next((j for j in walk.jobs if j.job_id == job.job_id), None), walk.exchanges[:1]

    first, shown = listed(Query(job_id=job.job_id))
    if first is None:
        raise SkipCheck(f"jobId={job.job_id} no longer lists the job (see filters.exact_match)")
    ex, got = get_job(s, job.job_id)
    by_filter = Query(type=first.type, states=first.state, start_creation_time=at, end_creation_time=at)  # fmt: skip
    other, seen = listed(by_filter)
    stable = listed(Query(job_id=job.job_id))[0] == first
    for what, view, exchanges, names in (
        ("an unfiltered page (the census)", job, [], FIXED),
        ("get", got, [ex], FIXED + MOVING * stable),
        (by_filter.describe(), other, seen, FIXED + MOVING * stable),
    ):  # fmt: skip
        if view is None and stable:
            fail(f"{what} did not show job {job.job_id}, which jobId lists", None, exchanges + shown)  # fmt: skip
        if view and (diff := differences(first, view, names)):
            fail(f"job {job.job_id}: {what} shows {diff[0]}, as jobId's list showed", None, exchanges + shown)  # fmt: skip


@check("every job created gets a JobId of its own", anchor="identity", observed=True)
def job_ids_unique(s: Session) -> None:
    """What every create answer of the run showed (``schema.UniqueIds``), and two creates."""
    s.require_writes()
    for _ in range(2 * ("model.job_ids_unique" not in s.observations)):
        s.create("ci-conformance_identity", s.creatable_types[-1])
    if seen := s.observations.get("model.job_ids_unique"):
        fail(seen.message, seen.query, [seen.exchange])


def get_job(s: Session, job_id: str) -> tuple[Exchange, Job | None]:
    """Get one job: the answer, and its job."""
    ex = s.send("GET", s.job_path(job_id))
    return ex, _job_of(ex)


def _job_of(ex: Exchange) -> Job | None:
    """The job of a get or create answer (``None`` when there is none to read)."""
    try:
        return parse_list(ex.body, check=False).jobs[0] if ex.status == 200 else None
    except (XMLProblem, IndexError):
        return None


def _unknown_ids(s: Session) -> st.SearchStrategy[str]:
    """Vendor-shaped IDs that name no job: random ones, and near misses of the target's own."""
    ids = [j.job_id for j in s.census()[:200] if len(j.job_id) > 1]
    near = st.builds(near_miss, gen.pick(ids), st.sampled_from(["changed", "prefix", "case"]))
    return gen.vendor_ids("b") | near if ids else gen.vendor_ids("b")


@check(
    "get of an ID that names no job answers 404 with an XML Error, or 200 with NonExistJobIds naming it and no JobsDetail",
    given=_unknown_ids,
    anchor="get-missing",
)
def get_missing(s: Session, job_id: str) -> None:
    if any(j.job_id == job_id for j in s.census()):
        raise SkipCheck(f"{job_id} names a job of the target")
    ex = s.send("GET", s.job_path(job_id))
    what = f"get of {job_id}, which names no job"

    def bad(problem: str) -> None:
        fail(f"{what}: {problem}", None, [ex])

    if ex.status == 404:
        error_doc(ex, None, (404,), what)
        return
    if ex.status != 200:
        bad(f"expected 404, or 200 with NonExistJobIds; got HTTP {ex.status}")
    try:
        root = safe_parse(ex.body)
    except XMLProblem as exc:
        bad(f"the HTTP 200 body is not XML ({exc.message})")
    named = {i.strip() for el in root.findall("NonExistJobIds") for i in (el.text or "").split(",")}
    if jobs := root.findall("JobsDetail"):
        bad(f"HTTP 200 with {len(jobs)} JobsDetail (JobId {jobs[0].findtext('JobId')!r})")
    if job_id not in named:
        bad(f"HTTP 200 whose NonExistJobIds does not name it ({sorted(named) or 'absent'})")
