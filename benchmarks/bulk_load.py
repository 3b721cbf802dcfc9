"""Time to generate and load a dataset into the emulator's store (in memory).

    python benchmarks/bulk_load.py --jobs 1000000 [--plain]

Not a test: it prints figures for the README. Wall time depends on what else the machine runs;
its CPU time is printed beside it. ``load`` is ``Store.load``: rows written straight from the
random draws, one transaction, ``executemany``, indexes built after the rows. ``plain`` is the
path of any list of jobs, ``Store.add(generate(...))`` (the same transaction and indexes).
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

from conformance.emulator.store import Store, generate


def peak_mb() -> float:
    return int(re.search(r"VmHWM:\s*(\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--plain", action="store_true", help="time Store.add(generate(...))")
    args = parser.parse_args()
    store = Store()
    wall, cpu = time.perf_counter(), time.process_time()
    count = store.add(generate(args.jobs, seed=1)) if args.plain else store.load(args.jobs, seed=1)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert count == len(store) == args.jobs
    how = "plain" if args.plain else "load"
    print(f"{how}: {args.jobs:,} jobs generated and loaded in {wall:.1f} s ({cpu:.1f} s CPU); "
          f"peak memory {peak_mb():,.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
