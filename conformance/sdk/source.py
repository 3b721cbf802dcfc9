"""The engine's source for ``ci-conformance sdk``: scenarios run in parallel (``workers``), each
task's result streamed in plan order."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..results import CheckResult, Outcome
from .report import SdkSummary, secrets, summary, task_result
from .runner import DEFAULT_TIMEOUT, ScenarioResult, SdkRun, parse_driver, run_scenario
from .scenarios import Scenario, Task


class SdkSource:
    kind = "sdk"

    def __init__(self, driver: str, plan: list[tuple[Scenario, list[Task]]], *, workers: int = 2,
                 timeout: float = DEFAULT_TIMEOUT) -> None:  # fmt: skip
        self.driver, self.argv, self.plan = driver, parse_driver(driver), plan
        self.workers, self.timeout = workers, timeout
        self.secrets = secrets()
        self.done: list[ScenarioResult] = []

    def start(self, on_exchange: Any = None) -> None:
        self.pool = ThreadPoolExecutor(max_workers=max(1, self.workers))
        self.futures = {s.name: self.pool.submit(run_scenario, self.argv, s, tasks, self.timeout)
                        for s, tasks in self.plan}  # fmt: skip

    def items(self) -> list[Scenario]:
        return [s for s, _ in self.plan]

    def totals(self) -> dict[str, int]:
        return {s.name: len(tasks) for s, tasks in self.plan}

    def judge(self, scenario: Scenario) -> list[CheckResult]:
        result = self.futures[scenario.name].result()
        self.done.append(result)
        return [task_result(r) for r in result.results]

    def not_run(self, scenario: Scenario, reason: str, outcome: Outcome) -> list[CheckResult]:
        tasks = dict(self.plan)[scenario]
        return [CheckResult(f"{scenario.name}/{t.id}", scenario.name, outcome, clause=t.about,
                            reason=reason) for t in tasks]  # fmt: skip

    def summary(self, results: list[CheckResult], *, unusable: str = "", message: str = "",
                interrupted: bool = False) -> SdkSummary:  # fmt: skip
        run = SdkRun(self.driver, self.done)
        return summary(run, results, "interrupted" if interrupted else run.verdict)

    def stop(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
