"""The client kill matrix: the reference driver with each fault switch, judged.

A fault is killed when the judge reports the fault's own rule (and names the cause where the
rule covers several), and none of the findings the fault was once wrongly blamed with
(``absent``: a finding must name the true cause), on the tasks that can show it. The reference
driver without faults, and with each correct variant, must pass: no false positives.
"""

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from ..drivers.reference import FAULTS, VARIANTS
from . import runner, scenarios


@dataclass(frozen=True)
class Case:
    kind: str  # fault | variant | reference
    switch: str  # the fault or variant; "" for the reference driver as it is
    scenarios: tuple[str, ...]
    tasks: tuple[str, ...] = ()  # () = every task of those scenarios
    rule: str = ""  # fault: the rule that must be reported
    cause: str = ""  # fault: words the finding must contain
    absent: tuple[tuple[str, str], ...] = ()  # fault: (rule, words) no finding may match

    @property
    def name(self) -> str:
        return self.switch or f"reference ({self.scenarios[0]})"

    def driver(self) -> str:
        flag = f" --{self.kind} {self.switch}" if self.kind in ("fault", "variant") else ""
        return f"{sys.executable} -m conformance.drivers.reference{flag}"


# (fault, scenario, task, the rule it must be killed by[, cause[, absent]])
FAULT_CASES = [Case("fault", f, (s,), (t,), *judged) for f, s, t, *judged in [
    ("sign-lowercase", "baseline", "walk-filtered", "request.signature", "lower-cased"),
    ("sign-drop-empty", "baseline", "walk-empty-params", "request.signature", "not signed"),
    ("plus-raw", "baseline", "walk-filtered", "request.plus-as-space", "sent raw"),
    ("token-reencode", "opaque-tokens", "walk-all", "request.token-echo", "encoded twice"),
    ("first-page-only", "baseline", "walk-all", "request.stopped-early"),
    ("loop-empty-final-page", "empty-final-page", "walk-all", "request.past-last-page"),
    ("ignore-retry-after", "slowdown-503", "get", "request.retry-after"),
    ("retry-400", "size-refused", "page-size-150", "request.retried-4xx"),
    ("first-jobsdetail-only", "baseline", "walk-all", "result.jobs", "missing"),
    ("drop-time-offset", "baseline", "get", "result.fields", "CreationTime"),
    ("expired-signature", "baseline", "get", "request.signature", "window has ended"),
    ("no-security-token", "temporary-credentials", "get", "request.security-token"),
    ("unknown-parameter", "baseline", "page", "request.unknown-parameter", "pageSize"),
    ("encode-twice", "non-ascii-names", "walk-name-0", "request.encoding", "encoded twice"),
    ("drop-states", "baseline", "walk-filtered", "request.meaning", "states"),
    ("wrong-path", "baseline", "get", "request.target", "/inventorytriggerjobs/"),
    ("swallow-errors", "baseline", "get-missing", "result.error", "no error"),
    ("error-without-code", "baseline", "get-missing", "result.error-code", "NoSuchJob"),
    ("lose-next-token", "baseline", "page", "result.next-token"),
    ("body-without-input", "baseline", "create", "request.body", "Input"),
    ("ignore-not-found", "get-missing-200", "get-missing", "result.not-found", "no notFound"),
    # The judge's former blind spots: each now named, by its rule and cause.
    ("error-message-empty", "baseline", "get-missing", "result.error-code", "Message ''"),
    ("error-message-reason", "auth-403-cos", "get-missing", "result.error-code", "Not Found"),
    ("error-without-request-id", "baseline", "get-missing", "result.error-code", "no RequestId"),
    ("restart-after-503", "slowdown-mid-walk", "walk-all", "request.token-echo", "started over"),
    ("give-up-after-503", "slowdown-mid-walk", "walk-asc", "request.stopped-early", "HTTP 503"),
    ("slow-page-ends-walk", "slow-mid-walk", "walk-all", "request.stopped-early", "stopped"),
    ("name-casefold", "baseline", "walk-name-case", "request.meaning", "'demo' for the applic"),
    ("name-trim", "baseline", "walk-name-padded", "request.meaning", "trimmed"),
    ("request-id-from-header", "error-ids", "get-missing", "result.error-code", "x-ci-request-id"),
    ("trace-id-as-request-id", "error-ids", "wrong-key", "result.error-code", "TraceId"),
    # Wrong attributions once seen in reports: the right rule and words, and not the wrong ones.
    ("key-time-ms", "auth-403-cos", "wrong-key", "request.signature", "milliseconds",
     (("result.error-code", "SignatureDoesNotMatch"),)),
    ("lowercase-names", "baseline", "walk-all", "request.unknown-parameter",
     "'nexttoken' (the documented name is 'nextToken'", (("request.token-echo", ""),)),
    ("strict-parser", "extra-elements", "walk-all", "result.error", "client-side error",
     (("request.stopped-early", ""),)),
    ("sign-space-as-plus", "non-ascii-names", "walk-name-0", "request.signature",
     "a space as '+'", (("request.signature", "no common mistake"),)),
]]  # fmt: skip
# Correct behaviours other than the default, each where it matters: (variant, scenario, tasks).
VARIANT_CASES = [Case("variant", v, (s,), tuple(t.split())) for v, s, t in [
    ("presign", "baseline", "walk-filtered get create"), ("presign", "temporary-credentials", "walk-all"),
    ("bare-host", "baseline", "walk-filtered cancel"), ("space-as-plus", "non-ascii-names", ""),
    ("space-as-plus", "baseline", "walk-filtered"), ("no-retry", "slowdown-503", ""),
    ("x-cos-token", "temporary-credentials", ""), ("omit-empty", "baseline", "walk-empty-params"),
    ("not-found-as-error", "get-missing-200", ""), ("no-retry", "slowdown-mid-walk", ""),
    ("space-as-plus", "baseline", "walk-name-padded"), ("decorated-message", "baseline", "get-missing wrong-key"),
    ("decorated-message", "error-ids", ""),
]]  # fmt: skip


def cases() -> list[Case]:
    """Every fault, every variant, and the plain reference driver over every scenario."""
    return FAULT_CASES + VARIANT_CASES + [Case("reference", "", (s,)) for s in scenarios.SCENARIOS]


@dataclass
class Outcome:
    case: str
    kind: str
    scenarios: list[str]
    tasks: int
    expected_rule: str
    ok: bool  # fault: killed as expected; otherwise: passed
    rules: list[str]
    finding: str  # the killing finding, or the first false positive
    seconds: float


def run_case(case: Case, timeout: float = runner.DEFAULT_TIMEOUT) -> Outcome:
    started = time.monotonic()
    chosen, tasks = scenarios.select(list(case.scenarios)), list(case.tasks) or None
    results = runner.run(case.driver(), chosen, tasks, workers=1, timeout=timeout)
    findings = [f for r in results for f in r.findings]
    if case.kind == "fault":
        hits = [f for f in findings if f.rule == case.rule and case.cause in f.message]
        wrong = [f for f in findings for r, w in case.absent if f.rule == r and w in f.message]
        ok, shown = bool(hits) and not wrong, (wrong or hits or findings or [None])[0]
    else:
        ok, shown = not findings, (findings or [None])[0]
    return Outcome(case.name, case.kind, list(case.scenarios), len(results), case.rule, ok,
                   sorted({f.rule for f in findings}), f"{shown.rule}: {shown.message}" if shown else "",
                   round(time.monotonic() - started, 2))  # fmt: skip


def run(selected: list[Case] | None = None, workers: int = 2) -> list[Outcome]:
    pool = ThreadPoolExecutor(max_workers=max(1, workers))
    try:
        return list(pool.map(run_case, selected or cases()))
    finally:  # on Ctrl-C or SIGTERM too: the cases not begun are dropped, not run
        pool.shutdown(wait=False, cancel_futures=True)


def write(outcomes: list[Outcome], report_dir: Path, wall: float) -> tuple[Path, Path]:
    report_dir.mkdir(parents=True, exist_ok=True)
    faults = [o for o in outcomes if o.kind == "fault"]
    clean = [o for o in outcomes if o.kind != "fault"]
    killed, passed = sum(o.ok for o in faults), sum(o.ok for o in clean)
    data = {"killed": killed, "faults": len(faults), "passed": passed, "clean_runs": len(clean),
            "wall_seconds": round(wall, 1), "outcomes": [asdict(o) for o in outcomes]}  # fmt: skip
    json_path = report_dir / "client-kill-matrix.json"
    json_path.write_text(json.dumps(data, indent=2, ensure_ascii=False), "utf-8")
    lines = ["# Client kill matrix", "",
             f"{killed} of {len(faults)} client faults killed, each by its own rule; {passed} of "
             f"{len(clean)} clean runs (the reference driver, and its correct variants) passed; "
             f"{wall:.0f} s of wall time.", "",
             "| fault | description | scenario | expected rule | verdict | finding |", "|---|---|---|---|---|---|"]  # fmt: skip
    lines += [f"| {o.case} | {FAULTS[o.case]} | {', '.join(o.scenarios)} | {o.expected_rule} | "
              f"{'**killed**' if o.ok else 'SURVIVED'} | {_cell(o.finding)} |" for o in faults]  # fmt: skip
    lines += ["", "| clean run | what it does | scenarios | tasks | verdict | first finding |", "|---|---|---|---:|---|---|"]  # fmt: skip
    lines += [f"| {o.case} | {VARIANTS.get(o.case, 'the reference driver, no switch')} | {', '.join(o.scenarios)} | "
              f"{o.tasks} | {'passed' if o.ok else '**FALSE POSITIVE**'} | {_cell(o.finding)} |" for o in clean]  # fmt: skip
    md_path = report_dir / "client-kill-matrix.md"
    md_path.write_text("\n".join(lines) + "\n", "utf-8")
    return md_path, json_path


def _cell(text: str) -> str:
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 160 else text[:157] + "..."


def main(report_dir: str = "reports", workers: int = 2) -> int:
    started = time.monotonic()
    outcomes = run(workers=workers)
    md, _ = write(outcomes, Path(report_dir), time.monotonic() - started)
    bad, faults = [o.case for o in outcomes if not o.ok], [o for o in outcomes if o.kind == "fault"]
    print(f"{sum(o.ok for o in faults)}/{len(faults)} client faults killed; "
          f"{sum(o.ok for o in outcomes if o.kind != 'fault')} clean runs passed; see {md}")  # fmt: skip
    if bad:
        print("not as expected: " + ", ".join(bad))
    return 1 if bad else 0
