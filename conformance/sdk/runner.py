"""The driver runner: each scenario on its own emulator, the driver run once per task, judged.

Scenarios run in parallel (``workers``), each behind its own loopback server; within one the
tasks run one after the other, so the recorder attributes every request to its task.
"""

import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO

from ..emulator.server import EmulatorServer
from ..emulator.store import Matching
from ..query import Filters
from ..signing import Credentials
from . import protocol
from .judge import Context, Finding, judge
from .protocol import DriverOutput, parse_output
from .recorder import Hit
from .scenarios import BUCKET, REGION, Scenario, Task

DEFAULT_TIMEOUT = 60.0
STDERR_LIMIT = 64 * 1024  # bytes of a driver's stderr kept


@dataclass
class TaskResult:
    scenario: str
    task: Task
    outcome: str  # passed | failed | skipped
    findings: list[Finding]
    output: DriverOutput
    hits: list[Hit]

    @property
    def check(self) -> str:
        return f"{self.scenario}/{self.task.id}"

    @property
    def broke(self) -> bool:
        """The driver produced nothing judgeable: it crashed, hung or printed garbage only."""
        out = self.output
        nothing = not out.jobs and out.error is None and not out.reported_token
        return nothing and any(f.rule.startswith("driver.") for f in self.findings)


def parse_driver(command: str) -> list[str]:
    """The driver's argv; ``ValueError`` when it cannot be started as given."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ValueError(f"--driver {command!r}: {exc}") from None
    if not argv:
        raise ValueError("--driver is empty: give the command that runs your driver")
    if shutil.which(argv[0]) is None:
        raise ValueError(f"--driver: {argv[0]!r} is not an executable on PATH")
    return argv


def driver_env(url: str, creds: Credentials, task: Task, timeout: float) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COS_", "CI_CONFORMANCE_"))}
    env |= {protocol.ENDPOINT: url, protocol.BUCKET: BUCKET, protocol.REGION: REGION,
            protocol.TASK: json.dumps(task.to_json(), ensure_ascii=False), protocol.TIMEOUT: f"{timeout:g}",
            protocol.SECRET_ID: creds.secret_id, protocol.SECRET_KEY: creds.secret_key}  # fmt: skip
    return env | ({protocol.SECURITY_TOKEN: creds.token} if creds.token else {})


def run_driver(argv: list[str], env: dict[str, str], timeout: float) -> DriverOutput:
    """Run the driver once; its output is bounded, a run past ``timeout`` is killed."""
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, start_new_session=True)  # fmt: skip
    with ThreadPoolExecutor(max_workers=2) as pool:
        stdout = pool.submit(_read, proc.stdout, protocol.OUTPUT_LIMIT)
        stderr = pool.submit(_read, proc.stderr, STDERR_LIMIT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout)
        timed_out = proc.returncode is None
        if timed_out or (stdout.done() and len(stdout.result()) > protocol.OUTPUT_LIMIT):
            with contextlib.suppress(ProcessLookupError):  # it may have died on its own
                os.killpg(proc.pid, signal.SIGKILL)  # the driver's own process group
            proc.wait()
    out = parse_output(stdout.result()[: protocol.OUTPUT_LIMIT].decode("utf-8", "replace"))
    if len(stdout.result()) > protocol.OUTPUT_LIMIT:
        out.problems.insert(0, f"more than {protocol.OUTPUT_LIMIT} bytes of output")
    out.exit_code, out.timed_out = proc.returncode, timed_out
    out.stderr = stderr.result()[:STDERR_LIMIT].decode("utf-8", "replace")
    out.seconds = time.monotonic() - started
    return out


def _read(pipe: IO[bytes], limit: int) -> bytes:
    """The pipe to its end, or to its first ``limit + 1`` bytes: more than ``limit`` is too much."""
    with pipe:
        return pipe.read(limit + 1)


Plan = list[tuple[Scenario, list[Task]]]  # the scenarios to run, each with the tasks to run in it


def select_tasks(scenarios: list[Scenario], only: list[str] | None) -> Plan:
    """The tasks to run: all, or those named ``task`` or ``scenario/task``."""
    plan = [(s, s.build()[1]) for s in scenarios]
    wanted = set(only or [])
    chosen = [(s, [t for t in tasks if {t.id, f"{s.name}/{t.id}"} & wanted]) for s, tasks in plan]
    seen = {n for s, tasks in chosen for t in tasks for n in (t.id, f"{s.name}/{t.id}")}
    if unknown := ", ".join(sorted(wanted - seen)):
        raise ValueError(f"unknown task(s): {unknown}; see ci-conformance sdk --list")
    return [(s, tasks) for s, tasks in chosen if tasks] if only else plan


def run_scenario(argv: list[str], scenario: Scenario, tasks: list[Task], timeout: float) -> list[TaskResult]:  # fmt: skip
    store, recorder = scenario.serve()
    results = []
    try:
        with EmulatorServer(recorder) as server:  # type: ignore[arg-type]  # any WSGI app
            for task in tasks:
                # Every job in the store: the scenario's data, with what tasks created or changed.
                known = store.page(Filters(), Matching().ordering(True, True), max(1, len(store)))[0]  # fmt: skip
                creds = scenario.credentials(task)
                recorder.begin()
                out = run_driver(argv, driver_env(server.url, creds, task, timeout), timeout)
                hits = recorder.take()
                context = Context(scenario, task, creds, hits, out, known, store.get)
                findings = [] if out.unsupported else judge(context)
                outcome = "skipped" if out.unsupported else ("failed" if findings else "passed")
                results.append(TaskResult(scenario.name, task, outcome, findings, out, hits))
    finally:
        store.close()
    return results


def run(driver: str, scenarios: list[Scenario], only: list[str] | None = None, *, workers: int = 2,
        timeout: float = DEFAULT_TIMEOUT) -> list[TaskResult]:  # fmt: skip
    """Every selected task of every scenario, in order; ``ValueError`` for a driver or name that
    is wrong."""
    argv, plan = parse_driver(driver), select_tasks(scenarios, only)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        done = pool.map(lambda p: run_scenario(argv, p[0], p[1], timeout), plan)
        return [r for results in done for r in results]
