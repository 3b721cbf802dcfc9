"""How long ``ci-conformance sdk`` takes per driver, and what starting a driver costs per task.

    python benchmarks/sdk_run.py                       # the reference, Python SDK, Node.js SDK drivers
    python benchmarks/sdk_run.py --driver "go run ./driver" --repeat 5

Not a test: it prints figures for the README. For each driver:
- start-up: the median time of a driver run whose task it does not support (exit 3), i.e. the
  interpreter, the SDK's import and the task's parsing, with no request;
- one get: the median time of a driver run that gets one job (start-up + one request);
- full run: a whole ``ci-conformance sdk`` run over every scenario and task (a subprocess, as a
  user runs it, two scenarios at a time), with its verdict.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from conformance.emulator.server import EmulatorServer
from conformance.sdk import runner, scenarios
from conformance.sdk.scenarios import Task

ROOT = Path(__file__).resolve().parents[1]


def default_drivers() -> list[str]:
    drivers = [f"{sys.executable} -m conformance.drivers.reference",
               f"{sys.executable} -m conformance.drivers.python_cos_sdk"]  # fmt: skip
    node = shutil.which("node")
    if node and (ROOT / "drivers/nodejs-cos-sdk/node_modules").is_dir():
        drivers.append(f"{node} {ROOT / 'drivers/nodejs-cos-sdk/driver.js'}")
    return drivers


def per_task(driver: str, repeat: int) -> tuple[float, float]:
    """Median seconds of a driver run: start-up only (unsupported task), and one get."""
    argv = runner.parse_driver(driver)
    scenario = scenarios.SCENARIOS["baseline"]
    jobs, _ = scenario.build()
    store, app = scenario.serve()
    noop, get = Task("noop", "noop", "nothing"), scenarios.get(jobs[0])
    times: dict[str, list[float]] = {"noop": [], "get": []}
    with EmulatorServer(app) as server:  # type: ignore[arg-type]
        for _ in range(repeat):
            for task in (noop, get):
                env = runner.driver_env(server.url, scenario.credentials(), task, 30)
                out = runner.run_driver(argv, env, 30)
                assert out.exit_code == (3 if task is noop else 0), (out.exit_code, out.stderr)
                times[task.id].append(out.seconds)
    store.close()
    return statistics.median(times["noop"]), statistics.median(times["get"])


def full_run(driver: str) -> tuple[float, int, str]:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "conformance.cli", "sdk", "--driver", driver,
                        "--report-dir", tmp], capture_output=True, text=True, timeout=900)  # fmt: skip
        wall = time.monotonic() - started
        summary = json.loads((Path(tmp) / "sdk-summary.json").read_text("utf-8"))
    return wall, len(summary["results"]), summary["verdict"]  # a result a task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--driver", action="append", help="a driver command (repeatable)")
    parser.add_argument("--repeat", type=int, default=10, help="driver runs per median")
    args = parser.parse_args()
    print(
        "| driver | start-up (median s) | one get (median s) | full run: tasks | wall s | verdict |"
    )
    print("|---|---:|---:|---:|---:|---|")
    for driver in args.driver or default_drivers():
        startup, one_get = per_task(driver, args.repeat)
        wall, tasks, verdict = full_run(driver)
        shown = driver.replace(sys.executable, "python").replace(str(ROOT) + "/", "")
        print(f"| `{shown}` | {startup:.2f} | {one_get:.2f} | {tasks} | {wall:.1f} | {verdict} |",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
