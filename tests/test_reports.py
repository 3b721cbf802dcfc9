"""``ci-conformance run`` as a subprocess: exit codes, the three report files, no secrets
anywhere, the HTML report as real headless Chromium renders it, and the reproductions a report
prints (replay and sign lines), run verbatim against a served emulator."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from results_schema import valid
from test_cli import serving

from conformance.emulator.app import EXAMPLE_CREDENTIALS

RUN = [sys.executable, "-m", "conformance.cli", "run", "--examples-profile", "dev"]
SECRET = "RecognisableSecretKey-7f3a9c"
TOKEN = "RecognisableSessionToken-51be"


def run(tmp_path: Path, *args: str, env: dict | None = None) -> tuple[int, str]:
    proc = subprocess.run([*RUN, "--report-dir", str(tmp_path / "reports"), *args], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path, env={**os.environ, **(env or {})})  # fmt: skip
    return proc.returncode, proc.stdout + proc.stderr


def files(tmp_path: Path) -> dict[str, str]:
    written = {p.name: p.read_text("utf-8") for p in (tmp_path / "reports").iterdir()}
    if "summary.json" in written:
        valid(json.loads(written["summary.json"]))
    return written


def test_conformant_run_writes_three_files(tmp_path: Path) -> None:
    code, out = run(tmp_path)
    assert code == 0, out[-3000:]
    assert "Verdict: CONFORMANT" in out
    written = files(tmp_path)
    assert {"conformance.html", "junit.xml", "summary.json"} <= set(written)
    summary = json.loads(written["summary.json"])
    assert summary["verdict"] == "conformant" and summary["requests"] > 100
    total = sum(sum(c.values()) for c in summary["counts"].values())
    cases = list(ET.fromstring(written["junit.xml"]).iter("testcase"))
    assert len(cases) == len(summary["results"]) == total
    # JUnit names each testcase by its check, in its category
    assert sorted(c.get("name") for c in cases) == sorted(r["check"] for r in summary["results"])
    assert {c.get("classname") for c in cases} == {f"conformance.{c}" for c in summary["counts"]}
    # every check links to its clause, in the JSON and in JUnit
    assert all(r["contract"].startswith("docs/contract.md#") for r in summary["results"])
    props = [p.get("value") for p in ET.fromstring(written["junit.xml"]).iter("property")
             if p.get("name") == "contract"]  # fmt: skip
    assert len(props) == total and all(p.startswith("docs/contract.md#") for p in props)
    assert ET.fromstring(written["junit.xml"]).get("name") == "ci-conformance"
    # the terminal is the suite's, not pytest's
    for noise in ("[100%]", "Generated html report", "test_conformance.py", "short test summary"):
        assert noise not in out, noise


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
    assert failure["exchanges"] and failure["contract"] == "docs/contract.md#order"
    assert failure["reproduce"]["replay"] == (
        f"ci-conformance replay {tmp / 'reports' / 'summary.json'} --checks ordering.asc_reverses_desc"
    )
    assert "sign" not in failure["reproduce"]  # the embedded emulator is gone after the run
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
                        "--security-token", TOKEN)  # fmt: skip
    assert code == 1, out[-3000:]
    written = files(tmp_path)
    for name, text in [*written.items(), ("output", out)]:
        assert SECRET not in text, name
        assert TOKEN not in text, name
        assert not re.search(r"q-signature=[0-9a-f]{40}", text), name
    # the signature's other parts are shown: they say who signed, when, and what
    assert re.search(r"q-ak=AKIDrecognisable&q-sign-time=\d+;\d+&q-key-time=\d+;\d+&"
                     r"q-header-list=[^&]+&q-url-param-list=[^&]*&q-signature=<redacted>",
                     written["summary.json"])  # fmt: skip


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


CREDS_ENV = {
    "COS_SECRET_ID": EXAMPLE_CREDENTIALS.secret_id,
    "COS_SECRET_KEY": EXAMPLE_CREDENTIALS.secret_key,
}
SHELL_ENV = {
    **os.environ,
    **CREDS_ENV,
    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
}
BROKEN_WALK = ["pagination.walk_independent_of_size", "ordering.asc_reverses_desc", "filters.type_union",
               "filters.states_union", "signature.refuses_expired", "signature.refuses_unsigned"]  # fmt: skip


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    """One run against a served emulator whose walks lose a job per page and which accepts
    expired signatures; the server stays up for the tests that reproduce its failures."""
    tmp = tmp_path_factory.mktemp("served")
    with serving(
        "--jobs", "150", "--fault", "page-skip-boundary", "--fault", "sig-accept-expired"
    ) as (url, _):
        proc = subprocess.run([*RUN, "--report-dir", "reports", "--target", url, "--checks", ",".join(BROKEN_WALK)],
                              capture_output=True, text=True, timeout=300, cwd=tmp, env=SHELL_ENV)  # fmt: skip
        yield tmp, proc.returncode, proc.stdout + proc.stderr


def shell(line: str, cwd: Path) -> subprocess.CompletedProcess:
    """A printed line, run verbatim, as a person pastes it into a shell."""
    return subprocess.run(
        line, shell=True, capture_output=True, text=True, timeout=300, cwd=cwd, env=SHELL_ENV
    )


def test_root_cause_first(served) -> None:
    tmp, code, out = served
    assert code == 1, out[-3000:]
    summary = json.loads((tmp / "reports" / "summary.json").read_text("utf-8"))
    walk = summary["root_causes"][0]
    assert walk["check"] == "pagination.walk_independent_of_size"
    consequences = {c["check"]: c for c in walk["consequences"]}
    assert {"ordering.asc_reverses_desc", "filters.type_union", "filters.states_union"} <= set(
        consequences
    )
    assert {c["kind"] for c in consequences.values()} == {"relies-on"}
    assert {c["anchor"] for c in consequences.values()} == {"page-walk"}
    # the expired signature has nothing to do with walks: a root of its own
    assert "signature.refuses_expired" in [c["check"] for c in summary["root_causes"]]
    # the terminal names the root first and its consequences under it
    at = out.index("FAILED pagination.walk_independent_of_size:")
    assert "likely consequences, because their clauses rely on Walks" in out[at:]
    assert out.index("FAILED filters.type_union") > at
    # the consequences' details say whose consequence they are
    html = (tmp / "reports" / "conformance.html").read_text("utf-8")
    assert "What broke, root cause first" in html and "Likely a consequence of" in html


def test_replay_line_runs_verbatim_and_keeps_the_report(served, tmp_path: Path) -> None:
    tmp, _, out = served
    line = re.search(r"Replay the failures: (ci-conformance replay \S+)", out).group(1)
    summary = tmp / "reports" / "summary.json"
    before = summary.read_bytes()
    assert line in summary.read_text("utf-8")  # the report prints the same line
    replayed = shell(line, tmp)
    assert replayed.returncode == 1, replayed.stdout[-3000:] + replayed.stderr
    for check in (
        "pagination.walk_independent_of_size",
        "filters.type_union",
        "signature.refuses_expired",
    ):
        assert f"STILL FAILS  {check}" in replayed.stdout, replayed.stdout[-3000:]
    assert summary.read_bytes() == before  # the replay never touches its input
    assert json.loads((tmp / "reports" / "replay" / "summary.json").read_text())["options"][
        "target"
    ]
    # a flag wins over what the summary recorded: against a correct server, the failures pass
    with serving("--jobs", "150") as (url, _):
        fixed = shell(
            f"{line} --target {url} --checks filters.type_union --report-dir {tmp_path}", tmp
        )
    assert fixed.returncode == 0, fixed.stdout[-3000:]
    assert "now passes   filters.type_union" in fixed.stdout
    assert summary.read_bytes() == before


def test_sign_lines_print_curl_that_works(served) -> None:
    tmp, _, _ = served
    failures = {
        f["check"]: f
        for f in json.loads((tmp / "reports" / "summary.json").read_text())["failures"]
    }
    walk = failures["filters.type_union"]["reproduce"]["sign"]
    assert (
        walk.startswith("ci-conformance sign GET 'http://127.0.0.1:") and "--sign-time" not in walk
    )
    expired = failures["signature.refuses_expired"]
    auth = expired["exchanges"][-1]["request_headers"]["Authorization"]
    window = re.search(r"q-sign-time=(\d+;\d+)", auth).group(1)
    assert "q-signature=<redacted>" in auth and "q-ak=AKID" in auth
    # a failure about time re-signs for the recorded window, which had ended
    assert expired["reproduce"]["sign"].endswith(f"--sign-time '{window}'")
    assert int(window.split(";")[1]) < time.time()
    for line in (walk, expired["reproduce"]["sign"]):
        printed = shell(line, tmp)
        assert printed.returncode == 0 and printed.stdout.startswith("curl "), printed.stderr
        assert EXAMPLE_CREDENTIALS.secret_key not in printed.stdout
        answer = shell(printed.stdout, tmp)
        # 200: the listing, and the expired signature the faulty server still accepts
        assert answer.stdout.startswith("HTTP/1.1 200"), answer.stdout[:500] + answer.stderr
    no_creds = subprocess.run([sys.executable, "-m", "conformance.cli", "sign", "http://h/x"],
                              capture_output=True, text=True, env={"PATH": os.environ["PATH"]})  # fmt: skip
    assert no_creds.returncode == 2 and "COS_SECRET_ID" in no_creds.stderr


LAYOUT = """<script>setTimeout(() => {
  const box = (sel) => { const e = document.querySelector(sel); if (!e) return null;
                         const r = e.getBoundingClientRect(); return [r.top, r.bottom]; };
  const root = document.querySelector('#cc-first a');
  document.body.dataset.layout = JSON.stringify({
    verdict: box('#cc-verdict'), first: box('#cc-first .root'), height: window.innerHeight,
    text: document.body.innerText, wide: document.documentElement.scrollWidth,
    target: root && !!document.getElementById(root.getAttribute('href').slice(1)),
  });
}, 1500);</script>"""


def test_first_screen_in_chromium(served, tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI_CONFORMANCE_REQUIRE_BROWSER"):
            pytest.fail("chromium is required here but not installed")
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    report = served[0] / "reports" / "conformance.html"
    probe = tmp_path / "report.html"  # the report as written, plus a script that measures it
    probe.write_text(report.read_text("utf-8").replace("</body>", LAYOUT + "</body>"), "utf-8")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000",
             "--window-size=1366,800"]  # fmt: skip
    dom = subprocess.run([browser, *flags, "--dump-dom", probe.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout  # fmt: skip
    raw = re.search(r'data-layout="([^"]*)"', dom)
    assert raw, dom[-2000:]
    layout = json.loads(html.unescape(raw.group(1)))
    # the verdict and the root cause are on the first screen; nothing overflows sideways
    for part in ("verdict", "first"):
        top, bottom = layout[part]
        assert 0 <= top < bottom <= layout["height"], (part, layout[part])
    assert layout["wide"] <= 1366
    text = layout["text"]  # what a person sees (hidden parts excluded)
    assert "Verdict: VIOLATIONS" in text and "pagination.walk_independent_of_size" in text
    for jargon in ("Expected failures", "Unexpected passes", "Reruns", "Environment", "tests took",
                   "test_conformance.py", "site-packages", "Report generated"):  # fmt: skip
        assert jargon not in text, jargon
    assert layout["target"] is True  # the root cause links to its details
    assert text.count("Walks: every matching job") >= 1


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


def test_readme_links_a_small_example_of_a_failing_report() -> None:
    root = Path(__file__).parent.parent
    assert "(docs/example-report.html)" in (root / "README.md").read_text("utf-8")
    example = root / "docs" / "example-report.html"
    assert example.stat().st_size < 150_000
    text = example.read_text("utf-8")
    assert "Verdict: VIOLATIONS" in text and "What broke, root cause first" in text
    assert "Likely consequences, because their clauses rely on" in text


def test_junit_puts_the_finding_first_and_names_each_consequences_root(served) -> None:
    tmp, _, _ = served
    summary = json.loads((tmp / "reports" / "summary.json").read_text("utf-8"))
    root_of = {c["check"]: r["check"] for r in summary["root_causes"] for c in r["consequences"]}
    found = {f["check"]: f["found"] for f in summary["failures"]}
    cases = {c.get("name"): c for c in ET.parse(tmp / "reports" / "junit.xml").iter("testcase")}
    assert root_of and set(root_of) < set(found)
    for check, finding in found.items():
        case = cases[check]
        failure = case.find("failure")
        assert failure.get("message").startswith(finding[:80]), failure.get("message")
        assert failure.text.startswith(finding[:80]), failure.text[:300]
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        if check in root_of:  # a consequence names its root, in its message and a property
            assert f"(likely a consequence of {root_of[check]})" in failure.get("message")
            assert f"likely a consequence of {root_of[check]}:" in failure.text
            assert props["likely_root"] == root_of[check]
        else:
            assert "likely_root" not in props and "consequence" not in failure.get("message")


def test_walk_differences_name_the_lost_job_not_python_lists(served) -> None:
    tmp, _, out = served
    summary = json.loads((tmp / "reports" / "summary.json").read_text("utf-8"))
    walk = next(
        f for f in summary["failures"] if f["check"] == "pagination.walk_independent_of_size"
    )
    assert re.search(r"lost job b[0-9a-f]{32} \(CreationTime \S+, #\d+ of the \d+ expected\)",
                     walk["found"]), walk["found"]  # fmt: skip
    for f in summary["failures"]:
        assert not re.search(r"\['|\[\]", f["found"]), f["found"]  # no Python list in a finding
    assert "['" not in out


def _summary(**failure: Any) -> Any:
    """A small failing run summary, built as the run source builds one."""
    from conformance.results import CheckResult, Failure, Outcome, RunSummary

    f = Failure(check="filters.exact_match", clause="name matches exactly", anchor="filter-exact",
                contract="docs/contract.md#filter-exact", found="2 vs 1 jobs", **failure)  # fmt: skip
    results = [CheckResult("filters.exact_match", "filters", Outcome.FAILED, clause=f.clause, failures=[f]),
               CheckResult("pagination.no_duplicates", "pagination", Outcome.PASSED, clause="no job twice",
                           examples=20, examples_with_jobs=18, seconds=1.5),
               CheckResult("filters.oracle", "filters", Outcome.SKIPPED, clause="the oracle",
                           reason="the exact oracle is off")]  # fmt: skip
    return RunSummary(kind="run", verdict="violations", exit_code=1, results=results, failures=[f],
                      root_causes=[{"check": f.check, "consequences": []}], duration_s=66.014,
                      counts={"filters": {"failed": 1, "skipped": 1}, "pagination": {"passed": 1}},
                      reproduce=["ci-conformance replay reports/summary.json"])  # fmt: skip


def test_the_html_report_shows_what_a_row_needs_and_nothing_empty() -> None:
    from html.parser import HTMLParser

    from conformance.handlers.files import JUnitHandler
    from conformance.handlers.html import page
    from conformance.handlers.terminal import summary_lines
    from conformance.results import ExchangeRecord

    exchange = ExchangeRecord("GET", "/inventorytriggerjob?name=%20", 200, body="<Response/>")
    summary = _summary(query="nextToken=&name= ", exchanges=[exchange])
    text = page(summary)
    # a trailing space in the minimal query shows, quoted: in the page, the terminal and JUnit
    assert "<code>&#34;nextToken=&amp;name= &#34;</code>" in text
    assert '  minimal query: "nextToken=&name= "' in summary_lines(summary)
    junit = ET.fromstring(JUnitHandler(Path("j.xml")).text(summary).encode())
    assert 'minimal query: "nextToken=&name= "' in junit.find(".//failure").text
    # a passed row shows its clause and how many examples ran; a skipped row, its reason
    assert re.search(r"no job twice.*?</td>", text) and ">20 (18 with jobs)<" in text
    assert "the exact oracle is off" in text
    # durations in one format; the counts say checks
    assert "66.01 s" in text and not re.search(r"\d\d:\d\d:\d\d|\d ms\b", text)
    assert "3 checks: 1 passed, 1 failed, 1 skipped" in text and " tests" not in text
    # no expand box is empty, and every "#" link names an element of the page
    details: list[list[str]] = []

    class Boxes(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list) -> None:
            if tag == "details":
                details.append([])
            elif details and tag not in ("summary",):
                details[-1].append(tag)

    Boxes().feed(text)
    assert details and all(details), details
    ids = set(re.findall(r'id="([^"]+)"', text))
    assert {h for h in re.findall(r'href="#([^"]+)"', text)} <= ids
    # missed coverage cells are not failures: their own colour and words
    assert "missed (not a failure" in page(replace(summary, coverage={"pairs": {"reached": ["a"], "missed": ["b"], "out_of_reach": []}}))  # fmt: skip
