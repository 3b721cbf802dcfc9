"""Scenarios: named emulator configurations, each with the tasks an application performs in it.

A scenario picks one allowed behaviour for open points of API-NOTES §6 (``Behaviour``) or a
response shape a robust client must survive (``Shape``, applied by ``recorder.Recorder``), a
dataset that is known in advance (the oracle's input) and tasks drawn from that dataset.
``ci-conformance serve --scenario NAME`` serves one by hand.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ..emulator.app import EXAMPLE_CREDENTIALS, Behaviour, Emulator
from ..emulator.store import Store, generate
from ..options import TEMPORARY
from ..query import Query, expected, parse_filters
from ..signing import Credentials
from ..timefmt import format_time
from ..xmlmodel import Job
from .recorder import Recorder, Shape

BUCKET = "examplebucket-1250000000"
REGION = "ap-beijing"
WRONG_KEY = "conformance-wrong-secret-key-0000"
MISSING_JOB = "b" + "0" * 32  # vendor-shaped, never generated


@dataclass(frozen=True)
class Task:
    """One thing an application does with the SDK (its JSON is what a driver receives)."""

    id: str
    op: str  # list | get | create | cancel
    about: str
    params: tuple[tuple[str, str], ...] = ()  # list: wire names; "" = the application passes ""
    walk: bool = True  # list: every page (True) or the first page only
    job_id: str = ""  # get, cancel
    job: dict[str, Any] | None = field(default=None, compare=False, hash=False)  # create
    credentials: str = "valid"  # valid | wrong-key: the driver gets a wrong SecretKey

    def to_json(self) -> dict[str, Any]:
        listed = {"walk": self.walk, "params": dict(self.params)}
        data = {"list": listed, "create": {"job": self.job}}.get(self.op, {"jobId": self.job_id})
        return {"id": self.id, "op": self.op} | data

    def query(self) -> Query:
        return Query.from_params(dict(self.params))


@dataclass(frozen=True)
class Scenario:
    name: str
    covers: str
    dataset: Callable[[], list[Job]]
    tasks: Callable[[list[Job]], list[Task]]
    behaviour: Behaviour = field(default_factory=Behaviour)
    shape: Shape = field(default_factory=Shape)
    temporary: bool = False

    def credentials(self, task: Task | None = None) -> Credentials:
        """The scenario's keys; what the driver of ``task`` is given: those, or a wrong SecretKey."""
        creds = TEMPORARY if self.temporary else EXAMPLE_CREDENTIALS
        wrong = task is not None and task.credentials == "wrong-key"
        return replace(creds, secret_key=WRONG_KEY) if wrong else creds

    def build(self) -> tuple[list[Job], list[Task]]:
        return _build(self.name)

    def serve(self) -> tuple[Store, Recorder]:
        """A fresh store with the dataset, and the scenario's WSGI application over it."""
        store = Store()
        store.add(self.build()[0])
        emulator = OpaqueTokens if self.shape.opaque_tokens else Emulator
        return store, Recorder(emulator(store, [self.credentials()], self.behaviour), self.shape)

    def describe(self) -> dict[str, Any]:
        def changed(value: Any) -> dict[str, Any]:  # what differs from the defaults
            return {k: v for k, v in vars(value).items() if v != getattr(type(value)(), k)}

        return {"name": self.name, "covers": self.covers, "behaviour": changed(self.behaviour),
                "shape": changed(self.shape), "temporary_credentials": self.temporary}  # fmt: skip


class OpaqueTokens(Emulator):
    """The emulator with NextTokens that need percent-encoding and XML escaping.

    A token is opaque text (API-NOTES §6): ``+``, ``/``, ``=``, ``&`` and a literal ``%2F`` catch
    a client that sends it raw, re-encodes it, decodes it or parses it.
    """

    PREFIX, SUFFIX = "v1+", "==&%2F"

    def _make_token(self, cursor, fingerprint):  # type: ignore[no-untyped-def]
        payload, _, mac = super()._make_token(cursor, fingerprint).partition(".")
        return f"{self.PREFIX}{payload}/{mac}{self.SUFFIX}"

    def _read_token(self, token, fingerprint):  # type: ignore[no-untyped-def]
        if not (token.startswith(self.PREFIX) and token.endswith(self.SUFFIX)):
            raise ValueError("not a token of ours")
        payload, _, mac = token[len(self.PREFIX) : -len(self.SUFFIX)].rpartition("/")
        return super()._read_token(f"{payload}.{mac}", fingerprint)


# --- tasks ----------------------------------------------------------------------------------


def walk(task_id: str, about: str, whole: bool = True, **params: str) -> Task:
    return Task(task_id, "list", about, tuple(params.items()), whole)


page = functools.partial(walk, whole=False)  # a list task of the first page only


def walk_all(size: int = 7) -> Task:
    return walk("walk-all", f"every job of both types, {size} per page", size=str(size))


def walk_filtered(jobs: list[Job], size: int = 4) -> Task:
    ordered = sorted(jobs, key=lambda j: j.created)
    start = format_time(ordered[len(ordered) // 5].created, 480)
    end = format_time(ordered[len(ordered) * 4 // 5].created, -300)
    return walk("walk-filtered", "type, a states list, Asc, a window in +0800 and -0500",
                type="Job", states="Running,Failed,Success", orderByTime="Asc",
                startCreationTime=start, endCreationTime=end, size=str(size))  # fmt: skip


def walk_name(task_id: str, name: str, size: int = 2) -> Task:
    return Task(task_id, "list", f"jobs named {name!r}", (("name", name), ("size", str(size))))


def get(job: Job | str, task_id: str = "get", about: str = "one job") -> Task:
    return Task(task_id, "get", about, job_id=job if isinstance(job, str) else job.job_id)


GET_MISSING = get(MISSING_JOB, "get-missing", "a job that does not exist: 404 NoSuchJob")
WRONG_KEY_TASK = Task("wrong-key", "list", "signed with a wrong SecretKey: the auth error, surfaced",
                      (("size", "5"),), walk=False, credentials="wrong-key")  # fmt: skip
CREATE = Task("create", "create", "create a Workflow job (name needs escaping)", job={
    "Name": "sdk 作业 & <co>", "Type": "Workflow", "Input": {"Prefix": "input/sdk/"},
    "Operation": {"WorkflowIds": "w0123456789abcdef0123456789abcdef", "TimeInterval": {
        "Start": "2024-01-01T00:00:00+0800", "End": "2024-02-01T00:00:00+0800"}}})  # fmt: skip


def _most_common(values: list[str]) -> str:
    return max(sorted(set(values)), key=values.count)


def _baseline_tasks(jobs: list[Job]) -> list[Task]:
    workflow = _most_common([w for j in jobs for w in j.workflow_ids])
    running = next(j for j in jobs if j.state in ("Submitted", "Running", "Pause"))
    return [
        walk_all(7), walk_filtered(jobs), page("page", "the first page only", size="5"),
        walk("walk-workflow", "one workflow's jobs", type="Workflow", workflowId=workflow, size="2"),
        walk("walk-empty-params", "empty parameters, which mean absent", type="", workflowId="",
             jobId="", name="", size="25"),
        get(jobs[3]), GET_MISSING, WRONG_KEY_TASK, CREATE,
        Task("cancel", "cancel", "cancel a running job", job_id=running.job_id),
        # Name filters a client must pass as they are: the data holds both "Demo" and "demo",
        # and " padded " (a client that case-folds or trims the value finds other jobs, or none).
        walk_name("walk-name-case", "Demo"), walk_name("walk-name-lower", "demo"),
        walk_name("walk-name-padded", " padded "),
    ]  # fmt: skip


# --- datasets and scenarios -----------------------------------------------------------------

NON_ASCII = ("名字 测试", "ünïcödé", "🚀 launch ✓", "e\u0301te", "plus+sign 100%/?=#&")


def generated(n: int, seed: int, shape: str = "mixed") -> Callable[[], list[Job]]:
    return lambda: list(generate(n, seed, shape))


def _non_ascii() -> list[Job]:
    jobs = list(generate(30, 17))
    return [replace(j, name=NON_ASCII[i % len(NON_ASCII)]) if i % 3 == 0 else j
            for i, j in enumerate(jobs)]  # fmt: skip


def _get_and_walk(size: int) -> Callable[[list[Job]], list[Task]]:
    return lambda jobs: [walk_all(size), get(jobs[2])]


def _single_tasks(jobs: list[Job]) -> list[Task]:
    name = _most_common([j.name for j in jobs])
    return [walk("walk-size-1", f"one job per page ({name!r})", name=name, size="1"),
            walk("walk-padded-1", "one job per page, named ' padded '", name=" padded ", size="1"),
            page("page-job-id", "a jobId filter: one JobsDetail", jobId=jobs[5].job_id)]  # fmt: skip


SIZE_150 = "size=150: 400 InvalidArgument, surfaced"
SCENARIOS: dict[str, Scenario] = {s.name: s for s in [
    Scenario("baseline", "the emulator's defaults: every task", generated(60, 11), _baseline_tasks),
    Scenario("last-token-absent", "§6 NextToken on the last page: no element at all", generated(25, 12),
             lambda jobs: [walk_all(9), page("page", "the first page only", size="5")], Behaviour(last_page_token="absent")),
    Scenario("empty-final-page", "§6 a full last page carries a token; the final page is empty", generated(24, 13),
             lambda jobs: [walk_all(8), page("page-all", "one page holding every job", size="24")], Behaviour(full_last_page="token")),
    Scenario("size-clamped", "§6 size > 100: clamped to 100", generated(130, 14),
             lambda jobs: [page("page-size-150", "size=150: a page of 100", size="150"),
                           walk("walk-size-150", "size=150: pages of 100", size="150")], Behaviour(size_over_100="clamp")),
    Scenario("size-refused", "§6 size > 100: 400 InvalidArgument", generated(130, 14),
             lambda jobs: [page("page-size-150", SIZE_150, size="150"), walk("walk-size-150", SIZE_150, size="150"),
                           walk("walk-size-100", "size=100: the maximum, accepted", size="100")], Behaviour(size_over_100="refuse")),
    Scenario("auth-401-ci", "§6 auth failures: 401 with CI codes; CI error bodies (TraceId, no Resource)", generated(20, 15),
             lambda jobs: [WRONG_KEY_TASK, GET_MISSING, walk_all(10)], Behaviour(auth_status="401", error_extras="trace-id")),
    Scenario("auth-403-cos", "§6 auth failures: 403 with COS codes; COS error bodies (Resource)", generated(20, 15),
             lambda jobs: [WRONG_KEY_TASK, GET_MISSING], Behaviour(auth_status="403", error_extras="resource+trace-id")),
    Scenario("get-missing-200", "§6 get of an unknown ID: 200 with NonExistJobIds, no JobsDetail", generated(20, 25),
             lambda jobs: [get(MISSING_JOB, "get-missing", "a job that does not exist: 200 NonExistJobIds, "
                               "surfaced as not found"), get(jobs[1])], Behaviour(get_missing="nonexist")),
    Scenario("pretty-xml", "pretty-printed XML (indented, every response)", generated(20, 16),
             lambda jobs: [walk_all(7), get(jobs[1]), GET_MISSING], shape=Shape(pretty=True)),
    Scenario("extra-elements", "unknown extra elements in Response, JobsDetail, Operation", generated(20, 16),
             _get_and_walk(7), shape=Shape(extras=True)),
    Scenario("single-jobsdetail", "pages holding a single JobsDetail", generated(40, 18), _single_tasks),
    Scenario("escaped-names", "names that need XML escaping (& < > quotes ]]>)", generated(30, 19, "escaping"),
             lambda jobs: [walk_all(9)] + [walk_name(f"walk-name-{i}", n) for i, n in enumerate(sorted({j.name for j in jobs})[:4])]),
    Scenario("non-ascii-names", "non-ASCII names, and names with URL-reserved characters", _non_ascii,
             lambda jobs: [walk_all(10)] + [walk_name(f"walk-name-{i}", n) for i, n in enumerate(NON_ASCII)]),
    Scenario("creation-time-ties", "§6 ties in CreationTime across page edges (ties ordered by JobId ascending)",
             generated(40, 20, "heavy-ties"), lambda jobs: [
                 walk("walk-ties-desc", "ties across every page edge, Desc", size="3"),
                 walk("walk-ties-asc", "ties across every page edge, Asc", orderByTime="Asc", size="5"),
                 page("page-ties", "a first page that ends inside a tie", size="4")], Behaviour(ties_desc="job-id-asc")),
    Scenario("slowdown-503", "one 503 SlowDown with Retry-After: 2 per task", generated(25, 21), _get_and_walk(10),
             shape=Shape(slowdown=2)),
    # Walks of five pages and more: their third request is page 3.
    Scenario("slowdown-mid-walk", "a 503 SlowDown with Retry-After: 1 on page 3 of each walk (its four IDs differ)",
             generated(25, 26), lambda jobs: [walk_all(5), walk("walk-asc", "every job, Asc, 4 per page", orderByTime="Asc", size="4")],
             shape=Shape(slowdown=1, slowdown_at=3, distinct_ids=True)),
    Scenario("slow-first-byte", "the first response of each task starts after 1.5 s", generated(20, 22), _get_and_walk(7),
             shape=Shape(first_byte_delay=1.5)),
    Scenario("slow-mid-walk", "page 3 of each walk starts after 1.5 s", generated(20, 27), lambda jobs: [walk_all(5)],
             shape=Shape(first_byte_delay=1.5, delay_at=3)),
    Scenario("error-ids", "§3 error answers whose Error RequestId, Error TraceId, x-ci-request-id and x-ci-trace-id all "
             "differ: the Error's RequestId is the one surfaced", generated(20, 28), lambda jobs: [WRONG_KEY_TASK, GET_MISSING],
             shape=Shape(distinct_ids=True)),
    Scenario("temporary-credentials", "temporary credentials: the security token is required", generated(20, 23),
             lambda jobs: [walk_all(6), get(jobs[0]), CREATE], temporary=True),
    Scenario("opaque-tokens", "NextTokens that need percent-encoding and XML escaping", generated(30, 24),
             lambda jobs: [walk_all(4), walk_filtered(jobs, 3)], shape=Shape(opaque_tokens=True)),
]}  # fmt: skip


@functools.cache
def _build(name: str) -> tuple[list[Job], list[Task]]:
    scenario = SCENARIOS[name]
    jobs = scenario.dataset()
    tasks = scenario.tasks(jobs)
    assert len(tasks) == len({t.id for t in tasks}), f"{name}: task ids repeat"
    for t in tasks:  # a list task that finds nothing would prove little
        if t.op == "list":
            assert expected(jobs, parse_filters(t.query())), f"{name}/{t.id} matches no job"
    return jobs, tasks


def select(names: list[str] | None = None) -> list[Scenario]:
    """Scenarios by name (all by default); ``ValueError`` names the unknown ones."""
    if unknown := [n for n in names or [] if n not in SCENARIOS]:
        raise ValueError(
            f"unknown scenario(s): {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}"
        )
    return [SCENARIOS[n] for n in names] if names else list(SCENARIOS.values())
