"""``ci-conformance sdk`` as a user runs it: exit codes 0/1/2/3, the three report files, progress
per scenario, no secret anywhere, driver failures named, the HTML report in headless Chromium,
and ``serve --scenario`` driven by hand."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from results_schema import valid
from test_cli import serving

from conformance.options import TEMPORARY

CLI = [sys.executable, "-m", "conformance.cli"]
REFERENCE = f"{sys.executable} -m conformance.drivers.reference"


def sdk(tmp: Path, *args: str) -> tuple[int, str, dict[str, str]]:
    proc = subprocess.run([*CLI, "sdk", "--report-dir", str(tmp / "reports"), *args],
                          capture_output=True, text=True, timeout=300, cwd=tmp)  # fmt: skip
    reports = tmp / "reports"
    written = {p.name: p.read_text("utf-8") for p in reports.iterdir()} if reports.is_dir() else {}
    if "sdk-summary.json" in written:
        valid(json.loads(written["sdk-summary.json"]))
    return proc.returncode, proc.stdout + proc.stderr, written


def test_conformant_client_exits_0_with_three_files(tmp_path: Path) -> None:
    code, out, written = sdk(tmp_path, "--driver", REFERENCE, "--scenarios",
                             "empty-final-page,temporary-credentials")  # fmt: skip
    assert code == 0, out[-3000:]
    assert re.search(r"\[empty-final-page\s+2/2\] PASSED  empty-final-page/page-all", out), out
    assert len(re.findall(r"\] PASSED  temporary-credentials/", out)) == 3, out
    assert "Verdict: CONFORMANT" in out
    assert set(written) == {"sdk.html", "sdk-junit.xml", "sdk-summary.json"}
    summary = json.loads(written["sdk-summary.json"])
    assert summary["verdict"] == "conformant" and summary["kind"] == "sdk"
    assert {r["outcome"] for r in summary["results"]} == {"passed"} and len(summary["results"]) == 5
    cases = list(ET.fromstring(written["sdk-junit.xml"]).iter("testcase"))
    assert len(cases) == 5 and not any(c.find("failure") is not None for c in cases)


@pytest.fixture(scope="module")
def violation(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, str, dict[str, str]]:
    """A faulty client with temporary credentials: failures with every request recorded."""
    tmp = tmp_path_factory.mktemp("violation")
    code, out, written = sdk(tmp, "--driver", f"{REFERENCE} --fault first-jobsdetail-only",
                             "--tasks", "temporary-credentials/walk-all,baseline/get")  # fmt: skip
    return tmp, code, out, written


def test_violations_exit_1_named_in_every_file(violation) -> None:
    _, code, out, written = violation
    assert code == 1, out[-3000:]
    assert (
        "FAILED temporary-credentials/walk-all: result.jobs: 4 job(s) returned, 20 expected" in out
    )
    summary = json.loads(written["sdk-summary.json"])
    assert summary["verdict"] == "violations"
    assert summary["counts"]["temporary-credentials"]["failed"] == 1
    assert summary["counts"]["baseline"]["passed"] == 1
    (finding,) = summary["failures"]
    assert finding["check"] == "temporary-credentials/walk-all" and finding["rule"] == "result.jobs"
    task = next(r for r in summary["results"] if r["check"] == "temporary-credentials/walk-all")
    requests = task["extra"]["requests"]
    assert len(requests) == 4 and requests[0]["response_body"].startswith("<Response")
    failure = ET.fromstring(written["sdk-junit.xml"]).find(
        ".//testcase[@name='temporary-credentials/walk-all']/failure"
    )
    assert failure is not None and failure.get("type") == "result.jobs"
    assert "result.jobs" in written["sdk.html"] and "4 job(s) returned" in written["sdk.html"]


def test_no_secret_in_reports_or_output(violation) -> None:
    _, _, out, written = violation
    assert "X-Ci-Security-Token" in written["sdk-summary.json"]  # the header is shown, redacted
    for name, text in [*written.items(), ("output", out)]:
        for secret in (TEMPORARY.secret_key, TEMPORARY.token, "BQYIM75p8x0iWVFSIgqEKwFprpRSVHlz"):
            assert secret not in text, name
        assert not re.search(r"q-signature=[0-9a-f]{40}", text), name


@pytest.mark.parametrize(
    "args",
    [
        ["--driver", "no-such-driver-program --x"],
        ["--driver", REFERENCE, "--scenarios", "no-such-scenario"],
        ["--driver", REFERENCE, "--tasks", "baseline/no-such-task"],
        ["--scenarios", "baseline"],  # no --driver
        ["--driver", REFERENCE, "--timeout", "0"],
    ],
)
def test_usage_errors_exit_2_with_one_line(tmp_path: Path, args: list[str]) -> None:
    code, out, _ = sdk(tmp_path, *args)
    assert code == 2, out[-2000:]
    assert len(out.strip().splitlines()) == 1, out


DRIVER = """
import sys, time
mode = sys.argv[1]
if mode == "crash":
    sys.exit("driver: boom")
if mode == "hang":
    time.sleep(30)
print("this is not JSON")
"""


@pytest.mark.parametrize(
    ("mode", "rule", "words"),
    [
        ("crash", "driver.failed", "exit 1: driver: boom"),
        ("hang", "driver.timeout", "killed after"),
        ("garbage", "driver.output", "line 1 is not JSON"),
    ],
)
def test_a_driver_that_never_works_exits_3(
    tmp_path: Path, mode: str, rule: str, words: str
) -> None:
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    code, out, written = sdk(tmp_path, "--driver", f"{sys.executable} {script} {mode}",
                             "--tasks", "baseline/get,baseline/page", "--timeout", "2")  # fmt: skip
    assert code == 3, out[-3000:]
    summary = json.loads(written["sdk-summary.json"])
    assert summary["verdict"] == "unusable"
    assert {f["rule"] for f in summary["failures"]} >= {rule}
    assert any(words in f["found"] for f in summary["failures"]), summary["failures"]


def test_sdk_list_shows_every_scenario_and_task(tmp_path: Path) -> None:
    proc = subprocess.run([*CLI, "sdk", "--list"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert "slowdown-503: one 503 SlowDown" in proc.stdout
    assert '"op": "cancel"' in proc.stdout


def test_serve_scenario_by_hand(tmp_path: Path) -> None:
    """A driver author serves one scenario and runs a driver with the printed environment."""
    with serving("--scenario", "opaque-tokens") as (url, banner):
        assert "scenario opaque-tokens" in banner
        env = dict(re.findall(r"export (\w+)=(\S+)", banner))
        assert env["CI_CONFORMANCE_ENDPOINT"] == url
        task = next(line.strip() for line in banner.splitlines() if '"walk-all"' in line)
        proc = subprocess.run([sys.executable, "-m", "conformance.drivers.reference"],
                              env={**os.environ, **env, "CI_CONFORMANCE_TASK": task},
                              capture_output=True, text=True, timeout=60)  # fmt: skip
    sdk, *lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 0 and len(lines) == 30, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert (
        all("job" in line for line in lines)
        and sdk["sdk"]["name"] == "ci-conformance reference client"
    )


def test_sdk_report_renders_in_chromium(violation, tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("CI_CONFORMANCE_REQUIRE_BROWSER"):
            pytest.fail("chromium is required here but not installed")
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    report = violation[0] / "reports" / "sdk.html"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000"]  # fmt: skip
    dom = subprocess.run([browser, *flags, "--dump-dom", report.as_uri()], capture_output=True,
                         text=True, timeout=120).stdout  # fmt: skip
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom))
    assert 'id="sdk-scenarios"' in dom and "Verdict: VIOLATIONS" in text
    assert re.search(r"temporary-credentials .{0,160}? 0 1 0 0", text), "the matrix row"
    first = text[text.index("What broke, root cause first") : text.index("What to do next")]
    assert "result.jobs in 1 task(s), first temporary-credentials/walk-all" in first
    assert "--tasks temporary-credentials/walk-all" in first and "serve --scenario" in first
    assert "result.jobs" in text and "4 job(s) returned, 20 expected" in text
    assert "<details" in dom and "X-Ci-Security-Token: &lt;redacted&gt;" in dom
    shot = tmp_path / "sdk.png"
    subprocess.run([browser, *flags, "--window-size=1400,2000", f"--screenshot={shot}",
                    report.as_uri()], capture_output=True, timeout=120)  # fmt: skip
    assert shot.exists() and shot.stat().st_size > 20_000


def test_a_driver_flooding_its_output_then_dying_is_judged_not_a_crash() -> None:
    """A driver that prints past the output limit and dies of the closed pipe before the runner
    ends it: its run is judged (too much output), never an error of the runner's own."""
    import os
    import sys

    from conformance.sdk.protocol import OUTPUT_LIMIT
    from conformance.sdk.runner import run_driver

    flood = f"import sys; sys.stdout.write('x' * ({OUTPUT_LIMIT} + 1_000_000))"
    out = run_driver([sys.executable, "-c", flood], dict(os.environ), timeout=60)
    assert out.problems[0] == f"more than {OUTPUT_LIMIT} bytes of output"
    assert not out.timed_out
