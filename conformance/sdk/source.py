"""The engine's source for ``ci-conformance sdk``: scenarios run in parallel (``workers``), each
task's result streamed in plan order, marked against the known findings (``known``)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..results import CheckResult, Outcome, decide
from . import known as baseline
from .report import SdkSummary, secrets, summary, task_result
from .runner import DEFAULT_TIMEOUT, TaskResult, parse_driver, run_scenario
from .scenarios import Scenario, Task


class SdkSource:
    kind = "sdk"

    def __init__(self, driver: str, plan: list[tuple[Scenario, list[Task]]], *, workers: int = 2,
                 timeout: float = DEFAULT_TIMEOUT, known: str | None = None) -> None:  # fmt: skip
        self.driver, self.argv, self.plan = driver, parse_driver(driver), plan
        self.workers, self.timeout, self.known = workers, timeout, known
        self.entries = baseline.read(known) if known else []
        self.secrets = secrets()
        self.done: list[TaskResult] = []

    def start(self, on_exchange: Any = None) -> None:
        self.pool = ThreadPoolExecutor(max_workers=max(1, self.workers))
        self.futures = {s.name: self.pool.submit(run_scenario, self.argv, s, tasks, self.timeout)
                        for s, tasks in self.plan}  # fmt: skip

    def items(self) -> list[Scenario]:
        return [s for s, _ in self.plan]

    def totals(self) -> dict[str, int]:
        return {s.name: len(tasks) for s, tasks in self.plan}

    def judge(self, scenario: Scenario) -> list[CheckResult]:
        results = self.futures[scenario.name].result()
        self.done += results
        return [baseline.apply(task_result(r, self.driver, self.timeout), self.entries, self.known or "")
                for r in results]  # fmt: skip

    def not_run(self, scenario: Scenario, reason: str, outcome: Outcome) -> list[CheckResult]:
        tasks = dict(self.plan)[scenario]
        return [CheckResult(f"{scenario.name}/{t.id}", scenario.name, outcome, clause=t.about,
                            reason=reason) for t in tasks]  # fmt: skip

    def summary(self, results: list[CheckResult], *, unusable: str = "", message: str = "",
                interrupted: bool = False) -> SdkSummary:  # fmt: skip
        # Unusable: the driver produced nothing judgeable for any task it ran (or supports none).
        broke = all(r.broke for r in self.done if r.outcome != "skipped")
        verdict = "interrupted" if interrupted else "unusable" if broke else decide(results)
        caveats = baseline.caveats(results, self.entries, self.known) if self.known else []
        return summary(results, self.done, self.driver, verdict, caveats, self.known)

    def stop(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
