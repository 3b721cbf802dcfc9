"""The SDK report a person acts on (issue 21), from a run of the reference driver with one fault:
findings grouped by cause (the 401s' result.error findings as consequences of request.signature),
repeated tasks collapsed, the SDK named, the clause linked, the reproduction lines run as printed,
JUnit naming the root cause; and known findings (--known, --write-known) failing the gate only
when they change."""

from __future__ import annotations

import html
import json
import os
import re
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from results_schema import valid
from test_cli import serving

from conformance.sdk.protocol import parse_output

CLI = [sys.executable, "-m", "conformance.cli"]
REFERENCE = f"{sys.executable} -m conformance.drivers.reference"
FAULTY = f"{REFERENCE} --fault sign-lowercase"
SCENARIOS = "baseline,opaque-tokens"  # 9 tasks send a name or a value the fault lower-cases
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def sdk(cwd: Path, *args: str, report_dir: str = "reports") -> tuple[int, str, dict[str, str]]:
    proc = subprocess.run([*CLI, "sdk", "--report-dir", report_dir, *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd, env=ENV)  # fmt: skip
    reports = cwd / report_dir
    written = {p.name: p.read_text("utf-8") for p in reports.iterdir()} if reports.is_dir() else {}
    if "sdk-summary.json" in written:
        valid(json.loads(written["sdk-summary.json"]))
    return proc.returncode, proc.stdout + proc.stderr, written


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, str, dict[str, str]]:
    """One fault, many tasks: every failed task has the same root cause, and the server's 401
    makes each one's result an error as well; the run writes its findings as known findings."""
    tmp = tmp_path_factory.mktemp("faulty")
    code, out, written = sdk(tmp, "--driver", FAULTY, "--scenarios", SCENARIOS,
                             "--write-known", "known.txt")  # fmt: skip
    return tmp, code, out, written


def test_one_cause_once_with_its_tasks_and_its_consequences(faulty) -> None:
    _, code, out, written = faulty
    assert code == 1, out[-3000:]
    summary = json.loads(written["sdk-summary.json"])
    (cause,) = summary["root_causes"]  # one cause, not one per task or per rule
    failed = [r for r in summary["results"] if r["outcome"] == "failed"]
    assert len(failed) >= 7 and cause["tasks"] == [r["check"] for r in failed]
    assert cause["rule"] == "request.signature" and "lower-cased" in cause["found"]
    assert cause["check"] == "baseline/walk-all" and cause["anchor"] == "sig-algorithm"
    for r in failed:  # the 401's result.error is a consequence, in the same task
        root, effect = r["failures"]
        assert root["rule"] == "request.signature" and root["likely_root"] is None
        assert effect["rule"] == "result.error" and "HTTP 401" in effect["found"]
        assert effect["likely_root"] == {"check": r["check"], "kind": "same-task",
                                         "anchor": "sig-algorithm", "rule": "request.signature"}  # fmt: skip
    assert cause["effects"][0][:2] == ["result.error", len(failed)]
    assert summary["sdk"] == {"name": "ci-conformance reference client --fault sign-lowercase",
                              "version": summary["tool_version"]}  # fmt: skip
    # Collapsed: only the cause's first task keeps headers, bodies and the driver's output.
    with_bodies = [
        r["check"]
        for r in summary["results"]
        if any("headers" in q for q in r["extra"]["requests"])
    ]
    assert with_bodies == ["baseline/walk-all"]
    # The terminal says it once, with the tasks and the consequence.
    assert "FAILED baseline/walk-all: request.signature: the signature does not match" in out
    assert f"the same in {len(failed) - 1} more task(s): baseline/walk-filtered" in out
    assert f"consequence: result.error in {len(failed)} of these task(s)" in out
    assert len(re.findall(r"^FAILED ", out, re.M)) == 1, out


def test_the_report_shows_the_cause_first_linked_and_named(faulty) -> None:
    _, _, _, written = faulty
    page = written["sdk.html"]
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))
    first = page.index('id="cc-first"')
    assert (
        page.index('id="cc-verdict"')
        < first
        < page.index('id="cc-next"')
        < page.index('id="sdk-tasks"')
    )
    block = page[first : page.index('id="cc-next"')]
    assert block.count('class="root"') == 1 and "request.signature" in block
    assert '<a href="#contract-sig-algorithm">' in block and 'id="contract-sig-algorithm"' in page
    assert (
        "ci-conformance sdk --driver" in block
        and "ci-conformance serve --scenario baseline" in block
    )
    assert "SDK ci-conformance reference client --fault sign-lowercase" in text
    assert "<script" not in page and not re.search(r"<details[^>]* open", page)
    # a redacted signature shows as text: redacting the page again adds no "<redacted>" tag
    assert "q-signature=&lt;redacted&gt;" in page and "<redacted>" not in page
    assert page.count("its headers and bodies") == len(
        json.loads(written["sdk-summary.json"])["results"][0]["extra"]["requests"]
    )
    assert len(page) < 120_000, len(page)  # 16 tasks; the report was 11 times this per task
    # What the driver printed, a row a line, readable: its key, then name "value" pairs.
    row = '<th scope="row">sdk</th><td class="small">name "ci-conformance reference client --fault'
    assert row in html.unescape(page)
    for href in set(re.findall(r'href="#([^"]+)"', page)):
        assert f'id="{href}"' in page, href


def test_junit_names_the_finding_first_and_the_root_in_each_consequence(faulty) -> None:
    _, _, _, written = faulty
    for case in ET.fromstring(written["sdk-junit.xml"]).iter("testcase"):
        failure = case.find("failure")
        if failure is None:
            continue
        assert failure.get("type") == "request.signature"
        assert failure.get("message", "").startswith("the signature does not match")
        text = failure.text  # the root's finding first, then its consequence naming it
        assert text.startswith("the signature does not match")
        consequence = text[text.index("\nthe SDK surfaced HTTP 401") + 1 :].splitlines()
        root = f"likely a consequence of {case.get('name')} request.signature: "
        assert consequence[1].startswith(root), consequence[:2]


def test_the_reproduction_lines_run_as_printed(faulty) -> None:
    tmp, _, _, written = faulty
    (cause,) = json.loads(written["sdk-summary.json"])["root_causes"]
    lines = cause["reproduce"]
    shown = html.unescape(written["sdk.html"])
    assert all(line in shown for line in lines.values())
    # 1. The whole tool, on the one task: the same finding.
    rerun = subprocess.run(["bash", "-c", lines["sdk"]], cwd=tmp, env=ENV, capture_output=True,
                           text=True, timeout=300)  # fmt: skip
    assert rerun.returncode == 1, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    again = json.loads((tmp / "reports" / "rerun" / "sdk-summary.json").read_text())
    assert [r["check"] for r in again["results"]] == ["baseline/walk-all"]
    assert again["root_causes"][0]["found"] == cause["found"]
    # 2. By hand: the scenario served as printed (on a free port), the driver run on the task in
    # a shell that exported what serve printed.
    served = shlex.split(lines["serve"])
    assert served[:4] == ["ci-conformance", "serve", "--scenario", "baseline"]
    with serving(*served[2:4]) as (url, banner):
        exports = "\n".join(
            line.strip() for line in banner.splitlines() if line.strip().startswith("export ")
        )
        assert f"export CI_CONFORMANCE_ENDPOINT={url}" in exports
        run = subprocess.run(["bash", "-c", f"{exports}\n{lines['driver']}"], cwd=tmp, env=ENV,
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    output = parse_output(run.stdout)
    assert run.returncode == 0 and not output.problems, run.stdout + run.stderr
    assert output.sdk["name"].endswith("--fault sign-lowercase") and output.error["status"] == 401


def test_known_findings_pass_the_gate_until_they_change(faulty) -> None:
    tmp, _, _, written = faulty
    baseline = (tmp / "known.txt").read_text()
    summary = json.loads(written["sdk-summary.json"])
    failed = [r["check"] for r in summary["results"] if r["outcome"] == "failed"]
    assert [line.split()[0] for line in baseline.splitlines() if line and not line.startswith("#")] == [
        c for c in failed for _ in (0, 1)]  # each task's two findings  # fmt: skip
    # The same fault again: every finding known, the gate passes; JUnit skips them as pytest's xfail.
    code, out, again = sdk(tmp, "--driver", FAULTY, "--scenarios", SCENARIOS, "--known", "known.txt",
                           report_dir="known")  # fmt: skip
    assert code == 0, out[-3000:]
    data = json.loads(again["sdk-summary.json"])
    assert data["verdict"] == "conformant" and data["known"] == "known.txt"
    assert {r["check"] for r in data["results"] if r["outcome"] == "known"} == set(failed)
    assert data["caveats"][0] == f"{2 * len(failed)} known finding(s), as known.txt lists them"
    assert (
        "KNOWN   baseline/walk-all: request.signature, result.error, as known.txt lists them" in out
    )
    assert "Verdict: CONFORMANT (" in out and 'class="tone-warn">known</span>' in again["sdk.html"]
    skipped = ET.fromstring(again["sdk-junit.xml"]).find(
        ".//testcase[@name='baseline/walk-all']/skipped"
    )
    assert skipped is not None and skipped.get("message", "").startswith(
        "known: request.signature, result.error"
    )
    # The fault fixed: the known findings are gone, and that fails the gate until the file is updated.
    code, out, fixed = sdk(tmp, "--driver", REFERENCE, "--scenarios", SCENARIOS, "--known", "known.txt",
                           report_dir="fixed")  # fmt: skip
    assert code == 1, out[-3000:]
    gone = json.loads(fixed["sdk-summary.json"])
    assert {f["rule"] for f in gone["failures"]} == {"known.gone"}
    assert {r["check"] for r in gone["results"] if r["outcome"] == "failed"} == set(failed)
    assert "known finding(s) gone: update known.txt (--write-known)" in out


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("baseline/no-such-task request.signature\n", "line 1: no task 'baseline/no-such-task'"),
        (
            "# a comment\nbaseline/walk-all request.nothing: words\n",
            "line 2: no rule 'request.nothing'",
        ),
    ],
)
def test_a_known_file_that_is_wrong_is_a_usage_error(tmp_path: Path, text: str, says: str) -> None:
    (tmp_path / "known.txt").write_text(text)
    code, out, _ = sdk(tmp_path, "--driver", REFERENCE, "--known", "known.txt")
    assert code == 2 and says in out and len(out.strip().splitlines()) == 1, out


def test_the_driver_protocol_sdk_line() -> None:
    out = parse_output('{"sdk": {"name": "my-sdk", "version": "1.2.3"}}\n{"sdk": "a string"}\n')
    assert out.sdk == {"name": "my-sdk", "version": "1.2.3"}
    assert out.problems == ["""line 2: unexpected 'sdk' line: '{"sdk": "a string"}'"""]
