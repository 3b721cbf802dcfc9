"""Throughput of the suite beside schemathesis's, side by side on one served emulator.

    python benchmarks/schemathesis_compare.py --jobs 1000 --schemathesis /path/to/venv/bin/st

Not a test: it prints figures for the issue on real-size targets ("at least 4x schemathesis's
test cases per second on the same target"). Schemathesis is not a dependency of the project:
install it into any other venv beforehand (``python3 -m venv ~/st && ~/st/bin/pip install
schemathesis``) and pass its ``st`` with ``--schemathesis`` (default: ``st`` or ``schemathesis``
on PATH). Nothing is downloaded while it runs.

One ``ci-conformance serve --jobs N --seed 1 --port 0`` serves both tools, one after the other,
each ``--repeat`` times (medians are printed). Schemathesis gets an OpenAPI 3 document of
``GET /inventorytriggerjob`` written from the vendor's page (its ten optional query parameters,
200 and 400/401/403 in application/xml, the Authorization header as an API key), a hooks module
that signs every request with the project's ``conformance.signing.CosAuth`` (through
``schemathesis.auth.set_from_requests``; its venv imports ``conformance`` from this checkout via
PYTHONPATH) and counts the requests it sends (``after_call``), a fixed seed and a fixed budget
(``--max-examples``, default 1000: 20-50 s here). Its default checks run except two that fail
spuriously on this API: ``positive_data_acceptance`` (a schema cannot tell a real date from
``0000-00-00T00:00:00-0000``, nor a token the server issued from any other string: both are
rightly refused with 400) and ``unsupported_method`` (the real API also has ``POST
/inventorytriggerjob``, to create jobs, which this document leaves out; so POST answers 400, not
405). Its figures are from its JSON report: ``test_cases.generated`` over ``running_time``.
The suite runs with ``ci-conformance run --target URL``; its figures are from summary.json:
``requests`` over ``duration_s``. Wall and CPU times of each tool's process are printed beside
them: the machine may be shared, and CPU time is what load disturbs least.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import conformance
from conformance.emulator.app import EXAMPLE_CREDENTIALS

TIME = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{4}"  # %Y-%m-%dT%H:%M:%S%z
STATE = "(All|Submitted|Running|Success|Failed|Pause|Cancel)"
EXCLUDED_CHECKS = "positive_data_acceptance,unsupported_method"
HOOKS = '''\
"""Sign every request with the project's COS signer; count the requests sent."""
import atexit
import os

import schemathesis
from conformance.signing import CosAuth, Credentials

schemathesis.auth.set_from_requests(
    CosAuth(Credentials(os.environ["COS_SECRET_ID"], os.environ["COS_SECRET_KEY"]))
)
SENT = [0]


@schemathesis.hook
def after_call(context, case, response):
    SENT[0] += 1


atexit.register(lambda: open(os.environ["ST_COUNT_FILE"], "w").write(str(SENT[0])))
'''


def openapi() -> dict:
    """GET /inventorytriggerjob as the vendor's page describes it (``Pulling Jobs in Batches``).

    The page's own sample request sends ``states``, ``startCreationTime`` and
    ``endCreationTime`` empty, so their patterns allow the empty string.
    """

    def param(name: str, schema: dict, description: str) -> dict:
        return {"name": name, "in": "query", "required": False, "schema": schema,
                "description": description}  # fmt: skip

    def xml(description: str) -> dict:
        return {"description": description, "content": {"application/xml": {}}}

    parameters = [
        param("nextToken", {"type": "string"}, "Context token for pagination"),
        param("size", {"type": "integer", "minimum": 1, "maximum": 100}, "Default 10, max 100"),
        param("type", {"type": "string", "enum": ["Workflow", "Job"]}, "Type of the jobs"),
        param("orderByTime", {"type": "string", "enum": ["Desc", "Asc"]}, "Desc (default) or Asc"),
        param(
            "states",
            {"type": "string", "pattern": f"^({STATE}(,{STATE})*)?$"},
            "Comma-separated states, All by default (the page's table spells it States)",
        ),
        param("startCreationTime", {"type": "string", "pattern": f"^({TIME})?$"}, "%Y-%m-%dT%H:%M:%S%z"),
        param("endCreationTime", {"type": "string", "pattern": f"^({TIME})?$"}, "%Y-%m-%dT%H:%M:%S%z"),
        param("workflowId", {"type": "string"}, "Workflow ID"),
        param("jobId", {"type": "string"}, "Batch data processing job ID"),
        param("name", {"type": "string"}, "Batch data processing job name"),
    ]  # fmt: skip
    return {
        "openapi": "3.0.3",
        "info": {"title": "Tencent Cloud CI: Pulling Jobs in Batches", "version": "2022-10-08"},
        "components": {
            "securitySchemes": {
                "cosSignature": {"type": "apiKey", "in": "header", "name": "Authorization"}
            }
        },
        "security": [{"cosSignature": []}],
        "paths": {
            "/inventorytriggerjob": {
                "get": {
                    "operationId": "listInventoryTriggerJobs",
                    "parameters": parameters,
                    "responses": {
                        "200": xml("Response: RequestId, JobsDetail*, NextToken"),
                        "400": xml("Error: a bad parameter"),
                        "401": xml("Error: a missing or bad signature"),
                        "403": xml("Error: access denied"),
                    },
                }
            }
        },
    }


def find_schemathesis(given: str | None) -> str:
    found = shutil.which(given) if given else shutil.which("st") or shutil.which("schemathesis")
    if not found:
        print(
            f"schemathesis not found ({given or 'st/schemathesis on PATH'}): install it into any "
            "venv (python3 -m venv ~/st && ~/st/bin/pip install schemathesis) and pass "
            "--schemathesis ~/st/bin/st",
            file=sys.stderr,
        )
        sys.exit(2)  # a usage error, as the project's commands say
    return found


def serve(jobs: int) -> tuple[subprocess.Popen[str], str]:
    cmd = [sys.executable, "-m", "conformance.cli", "serve", "--jobs", str(jobs), "--seed", "1",
           "--port", "0"]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    banner = proc.stdout.readline() if proc.stdout else ""
    if not banner.startswith("ci-conformance emulator at "):
        proc.kill()
        sys.exit(f"the emulator did not start: {banner!r}")
    return proc, banner.split()[3]


def timed(
    cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """Run ``cmd``; its wall seconds and CPU seconds (user + system, its own process tree)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return proc, wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def run_schemathesis(st: str, url: str, work: Path, args: argparse.Namespace) -> dict:
    """One schemathesis run in a fresh directory (no example database or cache carried over)."""
    run_dir = Path(tempfile.mkdtemp(dir=work))
    count_file = run_dir / "sent"
    package_root = Path(conformance.__file__).resolve().parent.parent
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "cos_hooks",
        "PYTHONPATH": os.pathsep.join([str(work), str(package_root)]),
        "COS_SECRET_ID": EXAMPLE_CREDENTIALS.secret_id,
        "COS_SECRET_KEY": EXAMPLE_CREDENTIALS.secret_key,
        "ST_COUNT_FILE": str(count_file),
    }
    cmd = [st, "run", str(work / "openapi.json"), "--url", url, "--max-examples",
           str(args.max_examples), "--seed", str(args.seed), "--continue-on-failure",
           "--exclude-checks", EXCLUDED_CHECKS, "--no-color", "--report", "json",
           "--report-dir", str(run_dir)]  # fmt: skip
    proc, wall, cpu = timed(cmd, cwd=run_dir, env=env)
    reports = list(run_dir.glob("json-*.json"))
    if proc.returncode not in (0, 1) or not reports:  # 1: it found failures
        sys.exit(f"schemathesis failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    report = json.loads(reports[0].read_text())
    failures = ", ".join(f"{f['code']} x{f['count']}" for f in report["failures"]) or "none"
    print(f"  schemathesis: {report['test_cases']['generated']} test cases in "
          f"{report['running_time']:.1f} s; failures: {failures}", flush=True)  # fmt: skip
    return {
        "version": report["schemathesis_version"],
        "wall": wall,
        "cpu": cpu,
        "run": report["running_time"],
        "cases": report["test_cases"]["generated"],
        "requests": int(count_file.read_text()),
    }


def run_ours(url: str, work: Path) -> dict:
    report_dir = Path(tempfile.mkdtemp(dir=work))
    creds = EXAMPLE_CREDENTIALS
    cmd = [sys.executable, "-m", "conformance.cli", "run", "--target", url, "--secret-id",
           creds.secret_id, "--secret-key", creds.secret_key, "--report-dir", str(report_dir)]  # fmt: skip
    proc, wall, cpu = timed(cmd)
    summary_file = report_dir / "summary.json"
    if not summary_file.exists():
        sys.exit(f"ci-conformance run failed (exit {proc.returncode}):\n{proc.stderr}")
    summary = json.loads(summary_file.read_text())
    print(f"  ci-conformance: {summary['requests']} requests in {summary['duration_s']:.1f} s; "
          f"verdict {summary['verdict']}", flush=True)  # fmt: skip
    return {
        "version": summary["tool_version"],
        "wall": wall,
        "cpu": cpu,
        "run": summary["duration_s"],
        "cases": None,
        "requests": summary["requests"],
    }


def medians(runs: list[dict]) -> dict:
    out = {"version": runs[0]["version"]}
    for key in ("wall", "cpu", "run", "cases", "requests"):
        out[key] = None if runs[0][key] is None else statistics.median(r[key] for r in runs)
    out["cases/s"] = None if out["cases"] is None else statistics.median(
        r["cases"] / r["run"] for r in runs
    )  # fmt: skip
    out["requests/s"] = statistics.median(r["requests"] / r["run"] for r in runs)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1000, help="jobs the emulator serves")
    parser.add_argument("--schemathesis", metavar="PATH", help="its st (default: st on PATH)")
    parser.add_argument("--max-examples", type=int, default=1000, help="schemathesis's budget")
    parser.add_argument("--seed", type=int, default=1, help="schemathesis's seed")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each tool (medians)")
    args = parser.parse_args()
    st = find_schemathesis(args.schemathesis)
    with tempfile.TemporaryDirectory(prefix="st-compare-") as tmp:
        work = Path(tmp)
        (work / "openapi.json").write_text(json.dumps(openapi(), indent=1))
        (work / "cos_hooks.py").write_text(HOOKS)
        server, url = serve(args.jobs)
        print(f"emulator at {url} ({args.jobs:,} jobs); {args.repeat} run(s) of each tool",
              flush=True)  # fmt: skip
        try:
            theirs, ours = [], []
            for _ in range(args.repeat):
                theirs.append(run_schemathesis(st, url, work, args))
                ours.append(run_ours(url, work))
        finally:
            server.terminate()
            server.wait(timeout=10)
    st_m, our_m = medians(theirs), medians(ours)

    def num(value: float | None, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    print(f"\nmedians of {args.repeat}; run s = the tool's own clock; rates per run s\n")
    print(
        "| tool | version | wall s | CPU s | run s | test cases | requests | cases/s | requests/s |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, m in (("schemathesis", st_m), ("ci-conformance", our_m)):
        print(f"| {name} | {m['version']} | {m['wall']:.1f} | {m['cpu']:.1f} | {m['run']:.1f} | "
              f"{num(m['cases'], ',.0f')} | {m['requests']:,.0f} | {num(m['cases/s'], '.1f')} | "
              f"{m['requests/s']:.1f} |")  # fmt: skip
    print(f"\nours requests/s / schemathesis test cases/s: "
          f"{our_m['requests/s'] / st_m['cases/s']:.2f}x (goal: 4x)")  # fmt: skip
    print(f"ours requests/s / schemathesis requests/s:   "
          f"{our_m['requests/s'] / st_m['requests/s']:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
