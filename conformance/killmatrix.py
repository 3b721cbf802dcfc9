"""Self-verification matrices: the suite against its own emulator, many times over.

- The kill matrix: each fault switch on, one at a time. A fault is killed when one of the checks
  it names (``killed_by``) fails: a fault that only some other check would catch survives.
  Each run is restricted to those checks and stops at its first failure.
- The false-alarm matrix: the correct emulator in every allowed behaviour of the contract's
  open points and every dataset shape. Every run must be conformant.

Each run is a real suite run, the emulator over HTTP, in a pool of worker processes that each
run many suites (``suite_runs``): a run costs what its checks cost, not a Python start-up.
"""

import functools
import itertools
import json
import multiprocessing
import signal
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from .emulator.app import Behaviour
from .emulator.faults import FAULTS, Fault
from .engine import Engine
from .options import from_args
from .results import plain
from .sources.run import RunSource

Run = tuple[int, dict, str, float]
"""One suite run: its exit code, summary ({} if none), output and wall seconds."""


@dataclass
class Outcome:
    fault: str
    category: str
    killed: bool
    failed_checks: list[str]
    requests: int
    seconds_to_first_failure: float | None
    wall_seconds: float
    note: str = ""


def suite_in_process(args: list[str], fail_fast: bool = False) -> Run:
    """One suite run through the engine in this process (no reports; output: a usage error's)."""
    started = time.monotonic()
    try:
        settings = from_args(args)
    except ValueError as exc:
        return 2, {}, str(exc), 0.0
    summary = Engine([], fail_fast=fail_fast, signals=False).run(RunSource(settings))
    return summary.exit_code, plain(summary), "", time.monotonic() - started


def _worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's, which ends the pool


def suite_runs(args: Iterable[list[str]], workers: int = 2, fail_fast: bool = False) -> list[Run]:
    """A suite run for each of ``args``, ``workers`` at a time, in a pool."""
    spawn = multiprocessing.get_context("spawn")  # a clean interpreter, whatever our threads
    with spawn.Pool(workers, _worker) as pool:  # leaving it, by a signal too, ends the workers
        return pool.map(functools.partial(suite_in_process, fail_fast=fail_fast), args, chunksize=1)


def _outcome(fault: Fault, run: Run) -> Outcome:
    _, summary, out, wall = run
    results = summary.get("results", [])
    failed = [r for r in results if r["outcome"] == "failed" and r["check"] in fault.killed_by]
    ends = itertools.accumulate(r["seconds"] for r in results)  # each result's end, in seconds
    first = next((round(t, 2) for r, t in zip(results, ends, strict=True) if r in failed), None)
    checks, requests = [r["check"] for r in failed], summary.get("requests", 0)
    note = "" if summary else f"no summary: {(out.strip().splitlines() or ['no output'])[-1]}"
    return Outcome(
        fault.name, fault.category, bool(failed), checks, requests, first, round(wall, 2), note
    )


def kill_args(fault: Fault, examples: str = "ci", seed: int = 0) -> list[str]:
    """The run that must kill ``fault``: the checks it names (stopped at the first failure)."""
    return ["--examples-profile", examples, "--seed", str(seed), "--emulator-fault", fault.name,
            "--checks", ",".join(fault.killed_by)] + (["--profile", fault.pins] if fault.pins else [])  # fmt: skip


def run(faults: list[Fault] | None = None, workers: int = 2, examples: str = "ci") -> list[Outcome]:
    faults = faults or list(FAULTS.values())
    runs = suite_runs([kill_args(f, examples) for f in faults], workers, fail_fast=True)
    return [_outcome(f, r) for f, r in zip(faults, runs, strict=True)]


def write(outcomes: list[Outcome], report_dir: Path, wall: float) -> tuple[Path, Path]:
    killed = sum(o.killed for o in outcomes)
    data = {
        "killed": killed,
        "total": len(outcomes),
        "wall_seconds": round(wall, 1),
        "outcomes": [asdict(o) for o in outcomes],
    }
    categories = sorted({o.category for o in outcomes})
    lines = [
        "# Kill matrix",
        "",
        f"{killed} of {len(outcomes)} faults killed ({100 * killed // max(1, len(outcomes))}%), "
        f"in {wall:.0f} s of wall time. Each row is a suite run against the emulator with one fault "
        "switch on, restricted to the checks the fault names (killed_by) and stopped at the first failure.",
        "",
        "| fault | " + " | ".join(categories) + " | requests | first failure (s) | failed checks |",
        "|---|" + "---|" * len(categories) + "---:|---:|---|",
    ]
    for o in outcomes:
        word = "**killed**" if o.killed else "SURVIVED"
        cells = [word if c == o.category else "" for c in categories]
        first = "-" if o.seconds_to_first_failure is None else f"{o.seconds_to_first_failure:.2f}"
        checks = ", ".join(o.failed_checks) or o.note
        lines.append(f"| {' | '.join([o.fault, *cells, str(o.requests), first, checks])} |")
    return _write(report_dir / "kill-matrix", data, lines)


def _write(stem: Path, data: dict, lines: list[str]) -> tuple[Path, Path]:
    """A matrix's JSON and Markdown files, ``stem`` with .json and .md."""
    json_path, md_path = stem.with_suffix(".json"), stem.with_suffix(".md")
    stem.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(data, indent=2), "utf-8")
    md_path.write_text("\n".join(lines) + "\n", "utf-8")
    return md_path, json_path


# --- the false-alarm matrix ---------------------------------------------------------------

DATASETS = {
    "0 jobs": ["--emulator-jobs", "0"],
    "1 job": ["--emulator-jobs", "1"],
    "exactly size (10) jobs": ["--emulator-jobs", "10"],
    "size+1 (11) jobs": ["--emulator-jobs", "11"],
    "3000 jobs, heavy ties": ["--emulator-jobs", "3000", "--emulator-shape", "heavy-ties"],
    "20000 jobs (a target cut into slices)": ["--emulator-jobs", "20000"],
    "all in one state": ["--emulator-shape", "one-state"],
    "names that need escaping": ["--emulator-shape", "escaping"],
    "seed 1": ["--seed", "1"],
    "seed 2": ["--seed", "2"],
    "seed 3": ["--seed", "3"],
}


def behaviour_id(b: Behaviour) -> str:
    """``name=value,...`` for the choices that differ from the defaults ("" for the default)."""
    return ",".join(
        f"{k}={getattr(b, k)}" for k, v in Behaviour.CHOICES.items() if getattr(b, k) != v[0]
    )


def false_alarm_cases() -> dict[str, list[str]]:
    """The default behaviour and each single non-default choice (as ``behaviour_id`` names
    it) on the default dataset, then every dataset shape."""
    picks = [""] + [f"{k}={v}" for k, vs in Behaviour.CHOICES.items() for v in vs[1:]]
    cases = {f"behaviour {p or 'default'}": ["--emulator-behaviour", p] for p in picks}
    return cases | {f"dataset: {name}": args for name, args in DATASETS.items()}


@dataclass
class Clean:
    case: str
    conformant: bool
    failed_checks: list[str]
    skipped: dict[str, str]
    requests: int
    wall_seconds: float


def _clean(name: str, run: Run) -> Clean:
    code, summary, out, wall = run
    results = summary.get("results", [])
    failed = [r["check"] for r in results if r["outcome"] == "failed"]
    return Clean(
        case=name,
        conformant=code == 0 and summary.get("verdict") == "conformant",
        failed_checks=failed or ([] if summary else [f"no summary: {out.strip()[-200:]}"]),
        skipped={r["check"]: r.get("reason", "") for r in results if r["outcome"] == "skipped"},
        requests=summary.get("requests", 0),
        wall_seconds=round(wall, 1),
    )


def write_false_alarms(runs: list[Clean], report_dir: Path, wall: float) -> Path:
    clean = sum(r.conformant for r in runs)
    data = {"conformant": clean, "total": len(runs), "wall_seconds": round(wall, 1),
            "runs": [asdict(r) for r in runs]}  # fmt: skip
    lines = [
        "# False-alarm matrix",
        "",
        f"{clean} of {len(runs)} runs against the correct emulator were conformant, in {wall:.0f} s of wall time.",
        "",
        "| case | verdict | requests | s | failed checks | skipped |",
        "|---|---|---:|---:|---|---|",
    ]
    for r in runs:
        verdict = "conformant" if r.conformant else "**FALSE ALARM**"
        failed = ", ".join(r.failed_checks) or "-"
        lines.append(
            f"| {r.case} | {verdict} | {r.requests} | {r.wall_seconds} | {failed} | {len(r.skipped)} |"
        )
    return _write(report_dir / "false-alarm-matrix", data, lines)[0]


def false_alarms_main(report_dir: str = "reports", workers: int = 2, examples: str = "ci") -> int:
    started, cases = time.monotonic(), false_alarm_cases()
    done = suite_runs([["--examples-profile", examples, *a] for a in cases.values()], workers)
    runs = [_clean(name, run) for name, run in zip(cases, done, strict=True)]
    md = write_false_alarms(runs, Path(report_dir), time.monotonic() - started)
    alarms = [r.case for r in runs if not r.conformant]
    print(f"{len(runs) - len(alarms)}/{len(runs)} runs conformant; see {md}")
    if alarms:
        print("false alarms: " + "; ".join(alarms))
    return 1 if alarms else 0


def main(report_dir: str = "reports", workers: int = 2, examples: str = "ci") -> int:
    started = time.monotonic()
    outcomes = run(workers=workers, examples=examples)
    md, _ = write(outcomes, Path(report_dir), time.monotonic() - started)
    survivors = [o.fault for o in outcomes if not o.killed]
    print(f"{len(outcomes) - len(survivors)}/{len(outcomes)} faults killed; see {md}")
    if survivors:
        print("survived: " + ", ".join(survivors))
    return 1 if survivors else 0
