"""The kill matrix: the suite against the emulator with each fault switch on, one at a time.

A fault is killed when the run fails in the fault's own category. Each run is a real suite run
(a subprocess, the emulator over HTTP) restricted to that category and stopped at the first
failure, which keeps the whole matrix within a CI budget.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from .emulator.faults import FAULTS, Fault
from .suite import INI


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


def suite_command(*args: str) -> list[str]:
    """The suite as a subprocess: the command a user would type, with ``args`` added."""
    return [
        sys.executable,
        "-m",
        "pytest",
        "-c",
        INI,
        "--pyargs",
        "conformance.suite",
        "-q",
        *args,
    ]


def run_one(fault: Fault, examples: str = "dev", seed: int = 0) -> Outcome:
    with tempfile.TemporaryDirectory() as tmp:
        summary_path = Path(tmp) / "summary.json"
        cmd = suite_command(
            "-x",
            "--examples-profile",
            examples,
            "--seed",
            str(seed),
            "--emulator-fault",
            fault.name,
            "--checks",
            fault.category,
            f"--conformance-json={summary_path}",
        )
        if fault.needs_writes:
            cmd.append("--allow-writes")
        started = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp)
        wall = time.monotonic() - started
        if not summary_path.exists():
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["no output"]
            return Outcome(
                fault.name, fault.category, False, [], 0, None, wall, f"no summary: {tail[0]}"
            )
        summary = json.loads(summary_path.read_text("utf-8"))
    failed = [r for r in summary["failures"] if r["category"] == fault.category]
    return Outcome(
        fault=fault.name,
        category=fault.category,
        killed=bool(failed),
        failed_checks=[r["check"] for r in failed],
        requests=summary["requests"],
        seconds_to_first_failure=min(f["elapsed_s"] for f in failed) if failed else None,
        wall_seconds=round(wall, 2),
    )


def run(
    faults: list[Fault] | None = None, workers: int = 2, examples: str = "dev"
) -> list[Outcome]:
    faults = faults or list(FAULTS.values())
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda f: run_one(f, examples), faults))


def write(outcomes: list[Outcome], report_dir: Path, wall: float) -> tuple[Path, Path]:
    report_dir.mkdir(parents=True, exist_ok=True)
    killed = sum(o.killed for o in outcomes)
    data = {
        "killed": killed,
        "total": len(outcomes),
        "wall_seconds": round(wall, 1),
        "outcomes": [asdict(o) for o in outcomes],
    }
    json_path = report_dir / "kill-matrix.json"
    json_path.write_text(json.dumps(data, indent=2), "utf-8")
    categories = sorted({o.category for o in outcomes})
    lines = [
        "# Kill matrix",
        "",
        f"{killed} of {len(outcomes)} faults killed ({100 * killed // max(1, len(outcomes))}%), "
        f"in {wall:.0f} s of wall time. Each row is a suite run against the emulator with one fault "
        "switch on, restricted to the fault's category and stopped at the first failure.",
        "",
        "| fault | " + " | ".join(categories) + " | requests | first failure (s) | failed checks |",
        "|---|" + "---|" * len(categories) + "---:|---:|---|",
    ]
    for o in outcomes:
        cells = [
            ("**killed**" if o.killed else "SURVIVED") if c == o.category else ""
            for c in categories
        ]
        first = (
            f"{o.seconds_to_first_failure:.2f}" if o.seconds_to_first_failure is not None else "-"
        )
        checks = ", ".join(o.failed_checks) or o.note
        lines.append(
            f"| {o.fault} | " + " | ".join(cells) + f" | {o.requests} | {first} | {checks} |"
        )
    md_path = report_dir / "kill-matrix.md"
    md_path.write_text("\n".join(lines) + "\n", "utf-8")
    return md_path, json_path


def main(report_dir: str = "reports", workers: int = 2, examples: str = "dev") -> int:
    started = time.monotonic()
    outcomes = run(workers=workers, examples=examples)
    md, _ = write(outcomes, Path(report_dir), time.monotonic() - started)
    survivors = [o.fault for o in outcomes if not o.killed]
    print(f"{len(outcomes) - len(survivors)}/{len(outcomes)} faults killed; see {md}")
    if survivors:
        print("survived: " + ", ".join(survivors))
    return 1 if survivors else 0
