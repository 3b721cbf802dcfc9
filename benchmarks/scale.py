"""The suite against targets of 10³ to 10⁶ jobs: wall time, requests, speed and memory.

    python benchmarks/scale.py                       # 1,000  10,000  100,000  1,000,000 jobs
    python benchmarks/scale.py --jobs 1000 100000    # some of them

Not a test: it prints the README's table. For each size it serves the emulator in a process of
its own (``ci-conformance serve --jobs N --seed 1``), runs the suite as a user does
(``ci-conformance run --target …``) and reads its summary: verdict, requests, duration and what
the coverage missed; the suite's peak memory is its own process's (VmHWM). It runs the suite a
second time with ``--record`` (the same seed sends the same requests; that run's wall time is
shown too). Then the raw rate: the very list GETs the run sent, re-signed and sent again by a
plain keep-alive loop to the same server, so that the suite's own overhead is the difference
("share": the default run's rate over the raw one).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from conformance.client import Client
from conformance.emulator.app import EXAMPLE_CREDENTIALS
from conformance.handlers.har import read
from conformance.signing import AUTH_FIELDS, TOKEN_HEADERS

KEYS = [
    "--secret-id",
    EXAMPLE_CREDENTIALS.secret_id,
    "--secret-key",
    EXAMPLE_CREDENTIALS.secret_key,
]
UNSIGNED = frozenset(AUTH_FIELDS) | frozenset(TOKEN_HEADERS)  # a presigned URL's own fields
PEAK = """import atexit, re, runpy, sys
path = sys.argv.pop(1)
def peak():
    with open("/proc/self/status") as f, open(path, "w") as out:
        out.write(re.search(r"VmHWM:\\s*(\\d+)", f.read()).group(1))
atexit.register(peak)
runpy.run_module("conformance.cli", run_name="__main__")
"""


def raw_rate(url: str, cassette: Path) -> float:
    """The run's successful list GETs a second, sent again by a plain signed keep-alive loop."""
    sent = []
    for rec in read(cassette):
        ex, parts = rec.exchange, urlsplit(rec.exchange.url)
        if ex.method == "GET" and ex.status == 200 and parts.path == "/inventorytriggerjob":
            params = parse_qsl(parts.query, keep_blank_values=True)
            sent.append([(k, v) for k, v in params if k not in UNSIGNED])
    client = Client(url, EXAMPLE_CREDENTIALS)
    started = time.monotonic()
    for params in sent:
        client.request("GET", params=params)
    return len(sent) / (time.monotonic() - started)


def one(jobs: int, tmp: Path) -> dict:
    serve = [
        sys.executable,
        "-m",
        "conformance.cli",
        "serve",
        "--jobs",
        str(jobs),
        "--seed",
        "1",
        "--port",
        "0",
    ]
    server = subprocess.Popen(serve, stdout=subprocess.PIPE, text=True)
    try:
        url = re.search(r"at (http://\S+) ", server.stdout.readline()).group(1)  # type: ignore[union-attr]
        peak, reports, cassette = tmp / f"peak-{jobs}", tmp / f"reports-{jobs}", tmp / f"{jobs}.har"
        runs = []
        for record in ([], ["--record", str(cassette)]):  # the default run, then one recorded
            started = time.monotonic()
            proc = subprocess.run([sys.executable, "-c", PEAK, str(peak), "run", "--target", url,
                                   *KEYS, "--report-dir", str(reports), *record],
                                  capture_output=True, text=True)  # fmt: skip
            wall = time.monotonic() - started
            summary = json.loads((reports / "summary.json").read_text())
            runs.append((wall, proc.returncode, int(peak.read_text()), summary))
        raw = raw_rate(url, cassette)
    finally:
        server.terminate()
        server.wait()
    (wall, code, kb, summary), (recorded_wall, *_, recorded) = runs
    if recorded["requests"] != summary["requests"]:  # the raw loop must send what the run sent
        sys.exit(
            f"the recorded run sent {recorded['requests']}, the default run {summary['requests']}"
        )
    rate = summary["requests"] / wall
    missed = {d: c["missed"] for d, c in summary["coverage"].items() if c["missed"]}
    return {"jobs": jobs, "verdict": summary["verdict"], "exit": code, "wall_s": round(wall, 1),
            "requests": summary["requests"], "per_s": round(rate), "raw_per_s": round(raw),
            "share": round(rate / raw, 2), "peak_mb": round(kb / 1024),
            "recorded_wall_s": round(recorded_wall, 1), "coverage_missed": missed}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, nargs="+", default=[1000, 10_000, 100_000, 1_000_000])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for jobs in args.jobs:
            rows.append(one(jobs, Path(tmp)))
            print(json.dumps(rows[-1]), flush=True)
    print("\n| jobs | verdict | wall | requests | requests/s | raw GET/s, the same GETs | share | peak RSS | wall with --record | coverage missed |")  # fmt: skip
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        missed = (
            ", ".join(f"{d}: {' '.join(c)}" for d, c in r["coverage_missed"].items()) or "nothing"
        )
        print(f"| {r['jobs']:,} | {r['verdict']} | {r['wall_s']} s | {r['requests']:,} | {r['per_s']} | "
              f"{r['raw_per_s']} | {r['share']:.0%} | {r['peak_mb']} MB | {r['recorded_wall_s']} s | {missed} |")  # fmt: skip


if __name__ == "__main__":
    main()
