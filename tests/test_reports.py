"""``ci-conformance run`` as a subprocess: exit codes, the three report files, no secrets
anywhere, and the HTML report as real headless Chromium renders it."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from test_cli import serving

RUN = [sys.executable, "-m", "conformance.cli", "run", "--examples-profile", "dev"]
SECRET = "RecognisableSecretKey-7f3a9c"
TOKEN = "RecognisableSessionToken-51be"


def run(tmp_path: Path, *args: str, env: dict | None = None) -> tuple[int, str]:
    proc = subprocess.run([*RUN, "--report-dir", str(tmp_path / "reports"), *args], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path, env={**os.environ, **(env or {})})  # fmt: skip
    return proc.returncode, proc.stdout + proc.stderr


def files(tmp_path: Path) -> dict[str, str]:
    return {p.name: p.read_text("utf-8") for p in (tmp_path / "reports").iterdir()}


def test_conformant_run_writes_three_files(tmp_path: Path) -> None:
    code, out = run(tmp_path)
    assert code == 0, out[-3000:]
    assert "Verdict: CONFORMANT" in out
    written = files(tmp_path)
    assert {"conformance.html", "junit.xml", "summary.json"} <= set(written)
    summary = json.loads(written["summary.json"])
    assert summary["verdict"] == "conformant" and summary["requests"] > 100
    cases = ET.fromstring(written["junit.xml"]).iter("testcase")
    assert len(list(cases)) == sum(sum(c.values()) for c in summary["counts"].values())


@pytest.fixture(scope="module")
def violation(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, str]:
    tmp = tmp_path_factory.mktemp("violation")
    code, out = run(tmp, "--emulator-fault", "order-asc-ignored")
    return tmp, code, out


def test_violations_exit_1_with_details_in_every_file(violation) -> None:
    tmp, code, out = violation
    assert code == 1, out[-3000:]
    written = files(tmp)
    summary = json.loads(written["summary.json"])
    failure = next(f for f in summary["failures"] if f["check"] == "ordering.asc_reverses_desc")
    assert failure["query"] and "orderByTime=Asc" in failure["query"]
    assert failure["exchanges"] and failure["reproduce"]["curl"].startswith("curl")
    assert "ci-conformance replay" in failure["reproduce"]["replay"]
    for name in ("conformance.html", "junit.xml"):
        assert "ordering.asc_reverses_desc" in written[name], name
        assert "the Asc walk is not the Desc walk reversed" in written[name], name
    assert "FAILED ordering.asc_reverses_desc" in out


def test_closed_port_exits_3(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        code, out = run(tmp_path, "--target", f"http://127.0.0.1:{port}", "--secret-id", "AKIDx",
                        "--secret-key", "k", "--timeout", "2")  # fmt: skip
    assert code == 3, out[-3000:]
    assert "unreachable" in out.lower()
    assert json.loads(files(tmp_path)["summary.json"])["verdict"] == "unreachable"


@pytest.mark.parametrize(
    "args",
    [
        ["--checks", "no-such-check"],
        ["--timeout", "soon"],
        ["--examples-profile", "huge"],
        ["--emulator-fault", "no-such-fault"],
        ["--target", "http://127.0.0.1:1"],  # no credentials
        ["--profile", "/nonexistent/profile.toml"],
        ["--no-such-flag"],
    ],
)
def test_bad_flags_exit_2_with_one_line(tmp_path: Path, args: list[str]) -> None:
    code, out = run(tmp_path, *args)
    assert code == 2, out[-3000:]
    assert len(out.strip().splitlines()) <= 3, out


def test_no_secret_anywhere(tmp_path: Path) -> None:
    """A recognisable key and token never reach a report, a log or the output, even on failure."""
    with serving("--secret-id", "AKIDrecognisable", "--secret-key", SECRET, "--security-token", TOKEN,
                 "--jobs", "40", "--fault", "order-asc-ignored") as (url, _):  # fmt: skip
        code, out = run(tmp_path, "--target", url, "--secret-id", "AKIDrecognisable", "--secret-key", SECRET,
                        "--security-token", TOKEN, "--log-level", "DEBUG")  # fmt: skip
    assert code == 1, out[-3000:]
    written = files(tmp_path)
    for name, text in [*written.items(), ("output", out)]:
        assert SECRET not in text, name
        assert TOKEN not in text, name
        assert not re.search(r"q-signature=[0-9a-f]{40}", text), name
        assert not re.search(r"q-sign-algorithm=sha1&q-ak=[^&]*&q-sign-time", text), name


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_html_report_renders_in_chromium(violation, tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI_CONFORMANCE_REQUIRE_BROWSER"):
            pytest.fail("chromium is required here but not installed")
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    report = violation[0] / "reports" / "conformance.html"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000"]  # fmt: skip
    dom = subprocess.run([browser, *flags, "--dump-dom", report.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout  # fmt: skip
    root_text = re.sub(r"<[^>]+>", " ", dom)
    # the summary matrix, rendered
    assert 'id="cc-matrix"' in dom and "Verdict: VIOLATIONS" in root_text
    assert re.search(r"ordering\s+1\s+2\s+0", re.sub(r"\s+", " ", root_text)), (
        "the matrix row for ordering"
    )
    # a failure's details, which pytest-html's script builds from its data: not in the page source
    source = report.read_text("utf-8")
    assert 'class="cc-failure"' not in source
    assert 'class="cc-failure"' in dom
    assert "minimal failing query" in root_text and "orderByTime=Asc" in root_text
    shot = tmp_path / "report.png"
    subprocess.run([browser, *flags, "--window-size=1400,2000", f"--screenshot={shot}", report.as_uri()],
                   capture_output=True, timeout=120)  # fmt: skip
    assert shot.exists() and shot.stat().st_size > 20_000


def test_replay_says_which_failures_remain(violation, tmp_path: Path) -> None:
    summary = violation[0] / "reports" / "summary.json"
    replay = [
        sys.executable,
        "-m",
        "conformance.cli",
        "replay",
        str(summary),
        "--examples-profile",
        "dev",
    ]
    still = subprocess.run([*replay, "--report-dir", str(tmp_path / "a"), "--emulator-fault", "order-asc-ignored"],
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert still.returncode == 1, still.stdout[-2000:]
    assert "STILL FAILS  ordering.asc_reverses_desc" in still.stdout
    fixed = subprocess.run([*replay, "--report-dir", str(tmp_path / "b")], capture_output=True, text=True,
                           timeout=300)  # fmt: skip
    assert fixed.returncode == 0, fixed.stdout[-2000:]
    assert "now passes   ordering.asc_reverses_desc" in fixed.stdout


def test_target_lost_during_the_run_exits_3(tmp_path: Path) -> None:
    with serving("--jobs", "300") as (url, _):
        proc = subprocess.Popen([*RUN, "--report-dir", str(tmp_path / "reports"), "--target", url,
                                 "--secret-id", "AKIDQjz3ltompVjBni5LitkWHFlFpwkn9U5q",
                                 "--secret-key", "BQYIM75p8x0iWVFSIgqEKwFprpRSVHlz"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)  # fmt: skip
        proc.stdout.readline()
        proc.stdout.readline()  # the first check has finished: the run is under way
    out, _ = proc.communicate(timeout=120)  # the server is gone now
    assert proc.returncode == 3, out[-3000:]
    assert "unreachable during the run" in out
