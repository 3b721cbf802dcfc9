"""Time to generate and load a dataset into the emulator's store (in memory).

    python benchmarks/bulk_load.py --jobs 1000000 [--repeat 3] [--plain]

Not a test: it prints figures for the README, each run in a fresh process, and their median.
Wall time depends on what else the machine runs; CPU time (this process's, not the helper's)
is printed beside it. ``load`` is ``Store.load``: rows written straight from the random draws,
one transaction, ``executemany``, indexes built after the rows; from two blocks up, a second
process draws and writes the second half. ``plain`` is the path of any list of jobs,
``Store.add(generate(...))`` (the same transaction and indexes, one process).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from conformance.emulator.store import Store, generate


def peak_mb() -> float:
    return int(re.search(r"VmHWM:\s*(\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024


def once(jobs: int, plain: bool) -> dict:
    store = Store()
    wall, cpu = time.perf_counter(), time.process_time()
    count = store.add(generate(jobs, seed=1)) if plain else store.load(jobs, seed=1)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert count == len(store) == jobs
    return {"wall": wall, "cpu": cpu, "peak_mb": peak_mb()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes (default 3)")
    parser.add_argument("--plain", action="store_true", help="time Store.add(generate(...))")
    parser.add_argument("--once", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.once:
        print(json.dumps(once(args.jobs, args.plain)))
        return
    how = "plain" if args.plain else "load"
    runs = []
    for _ in range(args.repeat):
        cmd = [sys.executable, __file__, "--once", "--jobs", str(args.jobs)]
        out = subprocess.run(cmd + ["--plain"] * args.plain, capture_output=True, text=True,
                             check=True).stdout  # fmt: skip
        runs.append(json.loads(out))
        r = runs[-1]
        print(f"{how}: {args.jobs:,} jobs in {r['wall']:.1f} s ({r['cpu']:.1f} s CPU), "
              f"peak {r['peak_mb']:,.0f} MB", flush=True)  # fmt: skip
    print(f"median of {len(runs)}: {statistics.median(r['wall'] for r in runs):.1f} s")


if __name__ == "__main__":
    main()
