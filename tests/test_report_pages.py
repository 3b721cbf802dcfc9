"""Every HTML report (a clean run, a failing run, sdk, compare, diff), made with the CLI as a user
makes it and opened in real headless Chromium (tests/browser.py): axe-core finds no serious or
critical violation, nothing overflows sideways at 1,366 px, the verdict and every failure's
details and reproduction show without JavaScript, every "#" link names an element of the page,
and the first screen shows the verdict, the root cause with its clause linked, what to do next
and a reproduction; every reproduction line a report prints runs as printed."""

from __future__ import annotations

import html
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from browser import WIDTH, Browser, Page, require
from test_cli import CLI, serving

# the smallest run whose walk breaks: a root cause (walk_independent_of_size) and a consequence
# (type_union); size_over_100 meets the open point whose change compare shows
CHECKS = ["--examples-profile", "dev", "--emulator-jobs", "120", "--checks",
          "signature.valid_header_accepted,pagination.no_duplicates,filters.type_union,"
          "pagination.walk_independent_of_size,pagination.size_over_100"]  # fmt: skip
FAULT = ["--emulator-fault", "page-skip-boundary"]
KEYS = ["--secret-id", "AKIDQjz3ltompVjBni5LitkWHFlFpwkn9U5q",
        "--secret-key", "BQYIM75p8x0iWVFSIgqEKwFprpRSVHlz"]  # fmt: skip
KINDS = ["clean", "failing", "sdk", "compare", "diff"]


@dataclass(frozen=True)
class Report:
    html: Path
    verdict: str  # the verdict line, e.g. "Verdict: VIOLATIONS"
    lead: str | None  # what the first screen must name: the root cause (None when clean)
    details: list[str]  # every failure's details and reproduction, as the page must show them
    reproduce: list[str]  # the reproduction lines, as summary.json has them
    exit_code: int


# a shell in which the printed lines run: ci-conformance on the PATH, the keys in the environment
ENV = {**os.environ, "COS_SECRET_ID": KEYS[1], "COS_SECRET_KEY": KEYS[3],
       "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}  # fmt: skip


def _cli(cwd: Path, exit_code: int, *args: str) -> None:
    proc = subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == exit_code, proc.stdout[-3000:] + proc.stderr[-3000:]


def _report(html: Path, data: dict[str, Any], lead: str | None, details: list[str]) -> Report:
    return Report(html, f"Verdict: {data['verdict'].upper()}", lead, details,
                  data.get("reproduce", []), data["exit_code"])  # fmt: skip


def _run(tmp: Path, exit_code: int, *args: str) -> Report:
    _cli(tmp, exit_code, "run", "--report-dir", "reports", *CHECKS, *args)
    data = json.loads((tmp / "reports" / "summary.json").read_text("utf-8"))
    details = [text for f in data["failures"] for text in (
        f["check"], f["found"], "Reproduce", f"ci-conformance replay reports/summary.json --checks {f['check']}",
    )]  # fmt: skip
    roots = {c["check"] for c in data["root_causes"]}  # a root's evidence shows, not folded away
    details += [f["exchanges"][0]["url"] for f in data["failures"] if f["check"] in roots]
    lead = data["root_causes"][0]["check"] if data["root_causes"] else None
    return _report(tmp / "reports" / "conformance.html", data, lead, details)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Report:
    return _run(tmp_path_factory.mktemp("clean"), 0)


@pytest.fixture(scope="module")
def failing(tmp_path_factory: pytest.TempPathFactory) -> Report:
    return _run(tmp_path_factory.mktemp("failing"), 1, *FAULT)


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Report:
    tmp = tmp_path_factory.mktemp("sdk")
    driver = shlex.join([sys.executable, "-m", "conformance.drivers.reference", "--fault",
                         "first-jobsdetail-only"])  # fmt: skip
    _cli(tmp, 1, "sdk", "--report-dir", "reports", "--driver", driver,
         "--tasks", "baseline/walk-all,baseline/get,auth-401-ci/wrong-key")  # fmt: skip
    data = json.loads((tmp / "reports" / "sdk-summary.json").read_text("utf-8"))
    details = [text for f in data["failures"] for text in (
        f["check"], f["rule"], f["found"], "CI_CONFORMANCE_TASK", *f["reproduce"].values(),
    )]  # fmt: skip
    return _report(tmp / "reports" / "sdk.html", data, data["root_causes"][0]["check"], details)


@pytest.fixture(scope="module")
def compare(tmp_path_factory: pytest.TempPathFactory, clean: Report) -> Report:
    tmp = tmp_path_factory.mktemp("compare")
    _cli(tmp, 1, "run", "--report-dir", "new", *CHECKS, *FAULT,
         "--emulator-behaviour", "size_over_100=refuse")  # fmt: skip
    old = clean.html.parent / "summary.json"
    _cli(tmp, 1, "compare", "--report-dir", "reports", str(old), "new/summary.json")
    data = json.loads((tmp / "reports" / "compare.json").read_text("utf-8"))
    details = [text for r in data["regressions"] for text in (r["check"], r["found"])]
    details += [text for b in data["behaviour_changes"] for text in (b["point"], b["new"])]
    assert any(b["point"] == "size_over_100" for b in data["behaviour_changes"]), details
    return _report(tmp / "reports" / "compare.html", data, data["regressions"][0]["check"], details)


@pytest.fixture(scope="module")
def diff(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Report]:
    """Two served emulators, B ignoring type; they stay up for the reproduction lines."""
    tmp = tmp_path_factory.mktemp("diff")
    data_set = ["--jobs", "30", "--seed", "3"]
    with (
        serving(*data_set) as (a, _),
        serving(*data_set, "--fault", "filter-type-ignored") as (b, _),
    ):
        _cli(tmp, 1, "diff", "--report-dir", "reports", "--target", a, "--target-b", b, *KEYS,
             "--max-examples", "20")  # fmt: skip
        data = json.loads((tmp / "reports" / "diff.json").read_text("utf-8"))
        details = [
            text for d in data["differences"] for text in (d["kind"], d["found"], d["query"])
        ]
        # the job the finding names is shown, side by side with the field that breaks the filter
        details += [job["job_id"] for d in data["differences"] for job in d["jobs"]]
        details += ["Type (type=Job but Type is Workflow)", *data["next_checks"].values()]
        yield _report(tmp / "reports" / "diff.html", data, data["differences"][0]["found"], details)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require()
    opened = Browser()
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def pages() -> dict[str, Page]:
    return {}


@pytest.fixture(params=KINDS)
def seen(
    request: pytest.FixtureRequest, browser: Browser, pages: dict[str, Page]
) -> tuple[Report, Page]:
    report: Report = request.getfixturevalue(request.param)
    if request.param not in pages:
        pages[request.param] = browser.inspect(report.html)
    return report, pages[request.param]


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_axe_finds_no_serious_or_critical_violation(seen: tuple[Report, Page]) -> None:
    page = seen[1]
    assert not page.violations, "\n".join(
        f"{v['impact']} {v['id']}: {v['help']} at {v['targets']}" for v in page.violations
    )


def test_nothing_overflows_sideways_at_1366_px(seen: tuple[Report, Page]) -> None:
    assert seen[1].scroll_width <= WIDTH, f"scrollWidth {seen[1].scroll_width} > {WIDTH}"


def test_without_javascript_the_verdict_and_every_failure_show(seen: tuple[Report, Page]) -> None:
    report, page = seen
    text = _flat(page.text_without_js)
    missing = [want for want in [report.verdict, *report.details] if _flat(want) not in text]
    assert not missing, f"not shown without JavaScript: {missing}"


def test_first_screen_shows_verdict_root_cause_clause_next_step_and_reproduction(
    seen: tuple[Report, Page],
) -> None:
    report, page = seen
    text = _flat(page.first_screen)
    wanted = [report.verdict, report.lead, "What to do next", *report.reproduce[:1]]
    missing = [want for want in wanted if want and _flat(want) not in text]
    assert not missing, f"not on the first screen: {missing}; it shows: {text[:1500]}"
    # the root cause's block with its clause linked, the next step and the reproduction lines
    # (in every report whose summary has reproduction lines: the sdk report's are its causes')
    parts = ["#cc-verdict", "#cc-next", "#cc-reproduce"] if report.reproduce else ["#cc-verdict"]
    parts += ["#cc-first .root", "#cc-first a[href^='#contract-']"] if report.lead else []
    assert not set(parts) - set(page.first_screen_has), page.first_screen_has


def test_every_link_to_a_fragment_names_an_element(seen: tuple[Report, Page]) -> None:
    assert not seen[1].dead_links, seen[1].dead_links


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "sdk"])
def test_every_reproduction_line_runs_as_printed(request: pytest.FixtureRequest, kind: str) -> None:
    """The lines of the report's reproduction block, pasted into a shell where they were made:
    each command runs (a sign line prints a curl command that gets HTTP 200), and a line that
    reproduces the report's finding ends with the report's own exit code."""
    report: Report = request.getfixturevalue(kind)
    block = re.search(r'<pre id="cc-reproduce">(.*?)</pre>', report.html.read_text("utf-8"), re.S)
    lines = html.unescape(block.group(1)).splitlines() if block else []
    assert lines and lines[: len(report.reproduce)] == report.reproduce, lines
    cwd = report.html.parent.parent
    for line in lines:
        done = subprocess.run(line, shell=True, cwd=cwd, env=ENV, capture_output=True, text=True,
                              timeout=300)  # fmt: skip
        said = f"{line}\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        if line.startswith("ci-conformance sign "):
            assert done.returncode == 0 and done.stdout.startswith("curl "), said
            answer = subprocess.run(done.stdout, shell=True, env=ENV, capture_output=True, text=True,
                                    timeout=60)  # fmt: skip
            assert answer.stdout.startswith("HTTP/1.1 200"), answer.stdout[:500] + answer.stderr
        elif line.startswith("ci-conformance run --target"):  # which side is wrong: one of them
            assert done.returncode in (0, 1), said
        else:
            assert done.returncode == report.exit_code, said
