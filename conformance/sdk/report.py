"""The SDK run's results: each task as a ``CheckResult`` (its findings as failures, the task,
the driver's output and every request in ``extra``), and the run as an ``SdkSummary``.

Secrets never get in: headers and query fields that carry them are redacted as they are
recorded (``conformance.client.redact``), and every file is written through ``redact`` with the
run's own keys as a last guard (``conformance.handlers``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from ..causes import attach_roots
from ..client import header_shown
from ..evidence import pretty
from ..results import CheckResult, Failure, Outcome, Summary
from .judge import RULES
from .recorder import Hit
from .runner import SdkRun, TaskResult
from .scenarios import SCENARIOS, WRONG_KEY

BODY_LIMIT = 4000


@functools.cache
def secrets() -> tuple[str, ...]:
    """Every key and token the scenarios give drivers (test keys, but never shown)."""
    found = {WRONG_KEY}
    for s in SCENARIOS.values():
        creds = s.credentials()
        found |= {creds.secret_key, creds.token or ""}
    return tuple(sorted(x for x in found if x))


def _cut(text: str, limit: int = BODY_LIMIT) -> str:
    return (
        text if len(text) <= limit else text[:limit] + f"\n… (cut; {len(text)} characters in all)"
    )


def _headers(pairs: list[tuple[str, str]]) -> dict[str, str]:
    return {k: header_shown(k, v, secrets()) for k, v in pairs}


def request_record(n: int, hit: Hit, start: float, full: bool) -> dict[str, Any]:
    record: dict[str, Any] = {
        "n": n,
        "method": hit.method,
        "target": hit.path + (f"?{hit.raw_query}" if hit.raw_query else ""),
        "status": hit.status,
        "at_s": round(hit.arrived - start, 3),
        "took_ms": round((hit.answered - hit.arrived) * 1000, 1),
        "injected": hit.injected,
    }
    if full:
        record |= {
            "headers": _headers(hit.headers),
            "body": _cut(hit.body.decode("utf-8", "replace")),
            "response_headers": _headers(hit.response_headers),
            "response_body": _cut(pretty(hit.response_body.decode("utf-8", "replace"))),
        }
    return record


def task_result(r: TaskResult) -> CheckResult:
    """One task, as the engine's result: its findings are its failures."""
    out, check = r.output, f"{r.scenario}/{r.task.id}"
    start = r.hits[0].arrived if r.hits else 0.0
    failed = r.outcome == "failed"
    return CheckResult(
        check=check,
        category=r.scenario,
        outcome=Outcome(r.outcome),
        clause=r.task.about,
        reason="the driver does not support this task" if r.outcome == "skipped" else "",
        seconds=round(r.seconds, 2),
        failures=[
            Failure(check=check, clause=f.clause, found=f.message, rule=f.rule) for f in r.findings
        ],
        extra={
            "task": r.task.to_json(),
            "op": r.task.op,
            "credentials": r.task.credentials,
            "requests_judged": [f.request for f in r.findings],
            "driver": {
                "exit": out.exit_code,
                "timed_out": out.timed_out,
                "jobs": len(out.jobs),
                "error": out.error,
                "next_token": out.next_token if out.reported_token else None,
                "not_found": out.not_found,
                "stderr": _cut(out.stderr.strip()[-2000:], 2000),
                "output": out.lines[:40] if failed else [],
            },
            "requests": [request_record(n, h, start, failed) for n, h in enumerate(r.hits, 1)],
        },
    )


@dataclass(kw_only=True)
class SdkSummary(Summary):
    driver: str = ""
    scenarios: list[dict[str, Any]] = field(default_factory=list)
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)


def summary(run: SdkRun, results: list[CheckResult], verdict: str) -> SdkSummary:
    failures = [f for r in results for f in r.failures]
    roots = attach_roots(failures)
    rules: dict[str, int] = {}
    for f in failures:
        rules[f.rule] = rules.get(f.rule, 0) + 1
    return SdkSummary(
        kind="sdk",
        verdict=verdict,
        results=results,
        failures=[f for g in roots for f in g[0]],
        root_causes=[g[1] for g in roots],
        driver=run.driver,
        scenarios=[
            s.scenario.describe()
            | {
                "seconds": round(s.seconds, 2),
                "counts": {k: s.count(k) for k in ("passed", "failed", "skipped")},
            }
            for s in run.scenarios
        ],
        rules={rule: {"clause": RULES[rule], "count": n} for rule, n in sorted(rules.items())},
    )


def sdk_text(summary: SdkSummary) -> list[str]:
    counts = summary.totals()
    lines = [f"\n{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped "
             f"in {summary.duration_s} s"]  # fmt: skip
    lines += [
        f"  {rule:<26} {r['count']:>3} task(s)  {r['clause']}" for rule, r in summary.rules.items()
    ]
    for r in summary.results:
        lines += [f"  FAILED {r.check}: {f.rule}: {f.found[:300]}" for f in r.failures]
    if summary.verdict == "unusable":
        lines.append("\nThe driver produced nothing usable (it failed, hung, printed no JSON lines or "
                     "supports no task); see its stderr in the report.")  # fmt: skip
    return lines
