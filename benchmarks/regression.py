"""Pre-release regression timings: a default ``diff`` between two embedded-size emulators, and
``recheck`` of a default run's recording. Every command runs as a user types it.

    python benchmarks/regression.py [--repeat 3]

Prints a Markdown table. Each figure is wall time (median of ``--repeat`` runs).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from conformance.emulator.app import EXAMPLE_CREDENTIALS

CLI = [sys.executable, "-m", "conformance.cli"]
KEYS = [
    "--secret-id",
    EXAMPLE_CREDENTIALS.secret_id,
    "--secret-key",
    EXAMPLE_CREDENTIALS.secret_key,
]


@contextmanager
def serving(*args: str):
    proc = subprocess.Popen([*CLI, "serve", "--port", "0", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        url = re.search(r"(http://127\.0\.0\.1:\d+)", proc.stdout.readline()).group(1)
        while "Ctrl-C" not in proc.stdout.readline():
            pass
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def timed(cmd: list[str], cwd: Path) -> tuple[float, int, str]:
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=900)
    return time.monotonic() - started, proc.returncode, proc.stdout + proc.stderr


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        # diff: two emulators with the embedded emulator's data (300 jobs, seed 0)
        with serving("--jobs", "300") as a, serving("--jobs", "300") as b:
            runs = [timed([*CLI, "diff", "--target", a, "--target-b", b, *KEYS, "--report-dir",
                           str(cwd / "d")], cwd) for _ in range(repeat)]  # fmt: skip
        found = json.loads((cwd / "d" / "diff.json").read_text())
        rows.append(("diff, two correct emulators (300 jobs), default 200 examples", runs,
                     f"{found['queries']} queries, {found['requests']} requests, exit {runs[-1][1]}"))  # fmt: skip
        with (
            serving("--jobs", "300") as a,
            serving("--jobs", "300", "--fault", "filter-name-substring") as b,
        ):
            runs = [timed([*CLI, "diff", "--target", a, "--target-b", b, *KEYS, "--report-dir",
                           str(cwd / "d")], cwd) for _ in range(repeat)]  # fmt: skip
        found = json.loads((cwd / "d" / "diff.json").read_text())
        minimal = ", ".join(str(d["query"]) for d in found["differences"])
        rows.append(("diff, correct vs filter-name-substring (found and shrunk)", runs,
                     f"{found['requests']} requests, minimal query {minimal}"))  # fmt: skip
        # recheck of a default run's recording
        wall, code, out = timed([*CLI, "run", "--record", str(cwd / "run.har"), "--report-dir",
                                 str(cwd / "r")], cwd)  # fmt: skip
        summary = json.loads((cwd / "r" / "summary.json").read_text())
        size = (cwd / "run.har").stat().st_size
        rows.append(("run --record (default ci run, for the recording)", [(wall, code, out)],
                     f"{summary['requests']} exchanges, cassette {size / 1e6:.1f} MB"))  # fmt: skip
        runs = [timed([*CLI, "recheck", str(cwd / "run.har"), "--report-dir", str(cwd / "rc")], cwd)
                for _ in range(repeat)]  # fmt: skip
        result = json.loads((cwd / "rc" / "recheck.json").read_text())
        judged = sum(r["outcome"] != "not judged" for r in result["results"])
        rows.append(("recheck of that recording", runs,
                     f"{judged} checks judged, exit {runs[-1][1]}"))  # fmt: skip
    print("| command | median s | min s | max s | notes |\n|---|---:|---:|---:|---|")
    for name, runs, notes in rows:
        walls = [r[0] for r in runs]
        print(
            f"| {name} | {statistics.median(walls):.1f} | {min(walls):.1f} | {max(walls):.1f} | {notes} |"
        )


if __name__ == "__main__":
    main()
