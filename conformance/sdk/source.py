"""The engine's source for ``ci-conformance sdk``: scenarios run in parallel (``workers``), each
task's result streamed in plan order and marked against the known findings (``known``), and the
``SdkSummary`` the run ends in, whose ``root_causes`` group the findings by cause. Secrets are
redacted as they are recorded, and every file is written through ``redact``.
"""

import functools
import json
import re
import shlex
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .. import contract
from ..client import header_shown
from ..evidence import pretty
from ..results import CheckResult, Failure, Outcome, Summary, decide
from . import known as baseline
from . import protocol
from .judge import RULES
from .recorder import Hit
from .runner import DEFAULT_TIMEOUT, Plan, TaskResult, parse_driver, run_scenario
from .scenarios import SCENARIOS, WRONG_KEY, Scenario

BODY_LIMIT = 4000


@functools.cache
def secrets() -> tuple[str, ...]:
    """Every key and token the scenarios give drivers (test keys, but never shown)."""
    keys = [s.credentials() for s in SCENARIOS.values()]
    return tuple(sorted({WRONG_KEY, *(k.secret_key for k in keys), *(k.token for k in keys if k.token)}))  # fmt: skip


def _cut(text: str, limit: int = BODY_LIMIT) -> str:
    return text if len(text) <= limit else text[:limit] + f"\n… (cut; {len(text)} characters in all)"  # fmt: skip


def request_record(n: int, hit: Hit, start: float, full: bool) -> dict[str, Any]:
    """A request and its answer; ``full``: with their headers and bodies."""
    shown = lambda pairs: {k: header_shown(k, v, secrets()) for k, v in pairs}  # noqa: E731
    record = {"n": n, "method": hit.method, "target": hit.path + (f"?{hit.raw_query}" if hit.raw_query else ""),
              "status": hit.status, "at_s": round(hit.arrived - start, 3),
              "took_ms": round((hit.answered - hit.arrived) * 1000, 1), "injected": hit.injected}  # fmt: skip
    return record | ({"headers": shown(hit.headers), "body": _cut(hit.body.decode("utf-8", "replace")),
                      "response_headers": shown(hit.response_headers),
                      "response_body": _cut(pretty(hit.response_body.decode("utf-8", "replace")))} if full else {})  # fmt: skip


def readable(line: str) -> list[str]:
    """A driver's output line for people: its key, and its fields as ``name "value"``."""
    try:
        ((key, value),) = json.loads(line).items()
    except (ValueError, AttributeError):
        return ["(not JSON)", line]

    def fields(value: Any, where: str = "") -> list[str]:
        if not isinstance(value, dict):
            return [f"{where}{' ' if where else ''}{json.dumps(value, ensure_ascii=False)}"]
        return [x for k, v in value.items() for x in fields(v, f"{where}{'/' if where else ''}{k}")]

    return [key, " · ".join(fields(value))]


def reproduce(r: TaskResult, driver: str, timeout: float) -> dict[str, str]:
    """Command lines that run the task again: the whole tool, or the scenario served by hand
    and the driver run with the task (in a shell that exported what ``serve`` prints)."""
    command, check, task = shlex.join(shlex.split(driver)), r.check, r.task.to_json()
    wait = f" --timeout {timeout:g}" if timeout != DEFAULT_TIMEOUT else ""
    key = f"{protocol.SECRET_KEY}=not-the-key " if r.task.credentials == "wrong-key" else ""
    return {"sdk": f"ci-conformance sdk --driver {shlex.quote(driver)} --tasks {check}{wait} --report-dir reports/rerun",
            "serve": f"ci-conformance serve --scenario {r.scenario} --port 9000",
            "driver": f"{key}{protocol.TASK}={shlex.quote(json.dumps(task, ensure_ascii=False))} {command}"}  # fmt: skip


def _failure(check: str, rule: str, found: str) -> Failure:
    anchor = RULES[rule][0]
    if anchor.startswith("http"):  # a rule from outside the contract: its own document
        return Failure(check, RULES[rule][1], found, contract=anchor, rule=rule)
    return Failure(check, RULES[rule][1], found, anchor, contract.ref(anchor) if anchor else "", rule=rule)  # fmt: skip


def task_result(r: TaskResult, driver: str, timeout: float) -> CheckResult:
    """One task, as the engine's result: its findings are its failures; a result finding of a
    task with a request finding is that finding's consequence (the service answered what the
    request asked, or refused it)."""
    out, check, task = r.output, r.check, r.task.to_json()
    failures = [_failure(check, f.rule, f.message) for f in r.findings]
    root = next((f for f in failures if f.rule.startswith("request.")), None)
    again = reproduce(r, driver, timeout)
    for f in failures:
        if root and f.rule.startswith("result."):
            f.likely_root = {"check": check, "kind": "same-task", "anchor": root.anchor or None,
                             "rule": root.rule}  # fmt: skip
        else:
            f.reproduce = again
    start = r.hits[0].arrived if r.hits else 0.0
    failed = r.outcome == "failed"
    return CheckResult(
        check, r.scenario, Outcome(r.outcome), clause=r.task.about,
        reason="the driver does not support this task" if r.outcome == "skipped" else "",
        seconds=round(out.seconds, 2), failures=failures,
        extra={"task": task, "op": r.task.op, "credentials": r.task.credentials,
               "requests_judged": [f.request for f in r.findings],
               "driver": {"exit": out.exit_code, "timed_out": out.timed_out, "jobs": len(out.jobs),
                          "error": out.error, "next_token": out.next_token if out.reported_token else None,
                          "not_found": out.not_found, "stderr": _cut(out.stderr.strip()[-2000:], 2000),
                          "output": out.lines[:40] if failed else []},
               "requests": [request_record(n, h, start, failed) for n, h in enumerate(r.hits, 1)]},
    )  # fmt: skip


@dataclass(kw_only=True)
class SdkSummary(Summary):
    driver: str = ""
    sdk: dict[str, str] = field(default_factory=dict)  # as the driver reports it
    known: str | None = None  # the --known file
    scenarios: list[dict[str, Any]] = field(default_factory=list)
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)


def _shape(text: str) -> str:
    """A finding's message without what changes from task to task (values, numbers, IDs)."""
    return re.sub(r"(?<!\w)'[^']*'|\"[^\"]*\"|\S*\d\S*", "…", text)  # not an apostrophe


def causes(results: list[CheckResult]) -> tuple[list[dict[str, Any]], list[Failure]]:
    """The findings grouped by cause, and every finding in the order of its cause: a root
    finding (not a consequence) of one rule and one shape is one cause, with every task it is
    found in and the consequences there; new causes first, the most widespread first, known ones
    last. Only a cause's first task keeps its full evidence (the requests' headers and bodies,
    the driver's output); the others keep their findings and request lines."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    members: dict[tuple[str, str], list[Failure]] = {}
    for r in results:
        for f in (f for f in r.failures if not f.likely_root):
            key = (f.rule, _shape(f.found))
            g = groups.setdefault(key, {"check": r.check, "rule": f.rule, "found": f.found, "anchor": f.anchor,
                                        "contract": f.contract, "reproduce": f.reproduce, "tasks": [],
                                        "known": True, "consequences": []})  # fmt: skip
            effects = [c for c in r.failures if c.likely_root and c.likely_root["rule"] == f.rule]
            g["tasks"] += [r.check] if r.check not in g["tasks"] else []
            g["known"] &= f.found in r.extra.get("known", [])
            g["consequences"] += [{"check": r.check, "kind": "same-task", "anchor": c.anchor or None,
                                   "rule": c.rule, "found": c.found} for c in effects]  # fmt: skip
            members.setdefault(key, []).extend([f, *effects])
    order = sorted(groups, key=lambda k: (groups[k]["known"], -len(groups[k]["tasks"])))
    for g in groups.values():
        counted = Counter(c["rule"] for c in g["consequences"])
        g["effects"] = [[rule, n, next(c["found"] for c in g["consequences"] if c["rule"] == rule)]
                        for rule, n in counted.items()]  # fmt: skip
    firsts = {g["check"] for g in groups.values()}
    for r in results:
        if r.check not in firsts and r.extra.get("requests"):
            r.extra["requests"] = [{k: v for k, v in q.items() if "headers" not in k and "body" not in k}
                                   for q in r.extra["requests"]]  # fmt: skip
            r.extra["driver"]["output"] = []
        if r.extra.get("driver"):
            r.extra["driver"]["readable"] = [readable(line) for line in r.extra["driver"]["output"]]
    return [groups[k] for k in order], [f for k in order for f in members[k]]


def sdk_text(summary: SdkSummary) -> list[str]:
    """The terminal's lines after the tasks' own: the counts, the SDK, then each cause once."""
    counts = ", ".join(f"{n} {k}" for k, n in summary.totals().items() if n)
    sdk = " ".join(summary.sdk.values()) if summary.sdk else "not named by the driver"
    lines = [f"\n{counts} in {summary.duration_s} s; SDK: {sdk}"]
    for g in summary.root_causes:
        word, more = "KNOWN" if g["known"] else "FAILED", g["tasks"][1:]
        lines.append(f"\n{word} {g['check']}: {g['rule']}: {g['found'][:300]}")
        if more:
            shown = ", ".join(more[:6]) + (", …" if len(more) > 6 else "")
            lines.append(f"  the same in {len(more)} more task(s): {shown}")
        for rule, n, found in g["effects"]:
            lines.append(f"  consequence: {rule} in {n} of these task(s), e.g. {found[:200]}")
        lines.append(f"  clause: {RULES[g['rule']][1]} {g['contract']}".rstrip())
        if g["reproduce"] and not g["known"]:
            lines.append(f"  reproduce: {g['reproduce']['sdk']}")
    if summary.verdict == "unusable":
        lines.append("\nThe driver produced nothing usable (it failed, hung, printed no JSON lines "
                     "or supports no task); see its stderr in the report.")  # fmt: skip
    return lines


class SdkSource:
    kind = "sdk"

    def __init__(self, driver: str, plan: Plan, *, workers: int = 2,
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
        return [CheckResult(f"{scenario.name}/{t.id}", scenario.name, outcome, clause=t.about,
                            reason=reason) for t in dict(self.plan)[scenario]]  # fmt: skip

    def summary(self, results: list[CheckResult], *, unusable: str = "", message: str = "",
                interrupted: bool = False) -> SdkSummary:  # fmt: skip
        broke = all(r.broke for r in self.done if r.outcome != "skipped")
        verdict = "interrupted" if interrupted else "unusable" if broke else decide(results)
        caveats = baseline.caveats(results, self.entries, self.known) if self.known else []
        groups, failures = causes(results)
        sdks = Counter(json.dumps(r.output.sdk, sort_keys=True) for r in self.done if r.output.sdk)
        tally = Counter((r.category, r.outcome) for r in results)
        return SdkSummary(
            kind="sdk", verdict=verdict, results=results, caveats=caveats, root_causes=groups,
            failures=failures, driver=self.driver, known=self.known,
            sdk=json.loads(sdks.most_common(1)[0][0]) if sdks else {},
            scenarios=[SCENARIOS[s].describe() | {"counts": {
                k: tally[s, k] for k in ("passed", "failed", "known", "skipped")}}
                for s in dict.fromkeys(r.category for r in results)],
            rules={rule: {"clause": RULES[rule][1], "anchor": RULES[rule][0], "count": n}
                   for rule, n in sorted(Counter(f.rule for f in failures).items())},
        )  # fmt: skip

    def stop(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
