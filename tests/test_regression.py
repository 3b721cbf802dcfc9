"""Pre-release regression, as a user runs it over real HTTP: the fingerprint as a profile that
pins, ``compare`` between runs, ``run --record`` then ``recheck`` and ``serve --load`` of the
cassette, and ``diff`` between two served emulators. A few narrow suite runs serve every test."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from results_schema import valid
from test_cli import CLI, serving

from conformance.client import Client, Exchange
from conformance.coverage import request_query
from conformance.emulator.app import EXAMPLE_CREDENTIALS
from conformance.emulator.store import generate
from conformance.query import Query, expected, parse_filters
from conformance.xmlmodel import parse_list

KEYS = [
    "--secret-id",
    EXAMPLE_CREDENTIALS.secret_id,
    "--secret-key",
    EXAMPLE_CREDENTIALS.secret_key,
]
# checks that meet every open point and walk pages, cheaply
CHECKS = ("pagination.no_duplicates,ordering.monotonic,pagination.size_over_100,"
          "bad_input.start_after_end,signature.refuses_unsigned,bad_input.invalid_values,schema")  # fmt: skip
JOBS = "60"


def cli(*args: str, cwd: Path) -> tuple[int, str]:
    proc = subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


def suite(tmp: Path, name: str, *args: str) -> tuple[int, dict, str]:
    """``ci-conformance run`` (dev examples, the checks above unless told) into ``tmp/name``."""
    if "--checks" not in args:
        args = (*args, "--checks", CHECKS)
    code, out = cli("run", "--examples-profile", "dev", "--emulator-jobs", JOBS,
                    "--report-dir", str(tmp / name), *args, cwd=tmp)  # fmt: skip
    summary = tmp / name / "summary.json"
    return code, valid(json.loads(summary.read_text())) if summary.exists() else {}, out


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A recorded clean run that writes its profile, a run in another allowed behaviour and a
    recorded faulty one."""
    tmp = tmp_path_factory.mktemp("regress")
    clean = suite(tmp, "clean", "--record", str(tmp / "clean.har"),
                  "--write-profile", str(tmp / "profile.toml"))  # fmt: skip
    refuse = suite(tmp, "refuse", "--emulator-behaviour", "size_over_100=refuse")
    faulty = suite(tmp, "faulty", "--emulator-fault", "page-repeat-boundary",
                   "--record", str(tmp / "faulty.har"))  # fmt: skip
    return {"tmp": tmp, "clean": clean, "refuse": refuse, "faulty": faulty}


def test_the_fingerprint_is_in_the_summary_and_the_html_report(runs) -> None:
    code, summary, out = runs["clean"]
    assert code == 0, out[-3000:]
    assert summary["behaviour"]["size_over_100"] == "clamp"
    assert summary["behaviour"]["error_extras"] == "resource+trace-id"
    page = (runs["tmp"] / "clean" / "conformance.html").read_text()
    assert "cc-behaviour" in page and '<th scope="row">size_over_100</th><td>clamp</td>' in page


def test_written_profile_pins_every_point_met(runs) -> None:
    text = (runs["tmp"] / "profile.toml").read_text()
    assert 'size_over_100 = "clamp"' in text and 'auth_status = "401"' in text
    assert 'last_page_token = "empty"' in text and 'error_extras = "resource+trace-id"' in text
    tmp = runs["tmp"]
    # a later release that chooses otherwise at three points breaks the pins, each named with
    # its evidence
    pinned = "pinned_last_page,pinned_ties,pinned_error_extras"
    code, summary, out = suite(tmp, "pinned", "--profile", str(tmp / "profile.toml"), "--checks", pinned,
                               "--emulator-behaviour", "last_page_token=absent,ties_desc=job-id-asc,error_extras=none")  # fmt: skip
    assert code == 1, out[-3000:]
    found = {f["check"]: f for f in summary["failures"]}
    assert set(found) == {"pagination.pinned_last_page", "ordering.pinned_ties",
                          "schema.pinned_error_extras"}  # fmt: skip
    last = found["pagination.pinned_last_page"]
    assert "last_page_token = 'empty'" in last["found"] and "'absent'" in last["found"]
    assert "/inventorytriggerjob" in last["found"] and last["exchanges"]
    assert "<NextToken" not in last["exchanges"][-1]["body"]
    assert "ties_desc = 'job-id-desc'" in found["ordering.pinned_ties"]["found"]
    assert "'job-id-asc'" in found["ordering.pinned_ties"]["found"]
    assert "error_extras = 'resource+trace-id'" in found["schema.pinned_error_extras"]["found"]
    # the same profile against the same behaviour passes
    code, _, out = suite(
        tmp, "pinned-ok", "--profile", str(tmp / "profile.toml"), "--checks", pinned
    )
    assert code == 0, out[-3000:]


def test_compare_flags_a_behaviour_change_and_a_regression(runs) -> None:
    tmp = runs["tmp"]
    clean, refuse, faulty = (str(tmp / n / "summary.json") for n in ("clean", "refuse", "faulty"))
    code, out = cli("compare", clean, clean, "--report-dir", str(tmp / "same"), cwd=tmp)
    assert code == 0, out
    code, out = cli("compare", clean, refuse, "--report-dir", str(tmp / "cmp"), cwd=tmp)
    assert code == 6, out  # behaviour changed: its own word, colour and exit code
    assert "Verdict: BEHAVIOUR CHANGED" in out
    result = valid(json.loads((tmp / "cmp" / "compare.json").read_text()))
    assert result["regressions"] == []
    assert result["behaviour_changes"] == [
        {"point": "size_over_100", "old": "clamp", "new": "refuse", "allowed": True}
    ]
    assert "size_over_100: clamp -> refuse (both allowed)" in out
    page = (tmp / "cmp" / "compare.html").read_text()
    assert "size_over_100" in page and "Verdict: BEHAVIOUR CHANGED" in page and "tone-warn" in page
    assert result["verdict"] == "behaviour changed" and result["exit_code"] == 6
    code, out = cli("compare", clean, refuse, "--allow-behaviour-change",
                    "--report-dir", str(tmp / "cmp"), cwd=tmp)  # fmt: skip
    assert code == 0, out
    code, out = cli("compare", clean, faulty, "--allow-behaviour-change",
                    "--report-dir", str(tmp / "cmp2"), cwd=tmp)  # fmt: skip
    assert code == 1, out
    result = valid(json.loads((tmp / "cmp2" / "compare.json").read_text()))
    assert "pagination.no_duplicates" in [r["check"] for r in result["regressions"]]
    assert result["requests"]["old"] and "change" in result["requests"]


def test_the_cassette_is_har_without_secrets(runs) -> None:
    text = (runs["tmp"] / "clean.har").read_text()
    har = json.loads(text)  # one JSON document, written an entry a line
    entries = har["log"]["entries"]
    assert har["log"]["version"] == "1.2" and len(entries) == runs["clean"][1]["requests"]
    first = entries[0]
    assert {"request", "response", "startedDateTime", "time", "_check"} <= set(first)
    assert {e["_check"] for e in entries} >= {"pagination.no_duplicates", "schema.list_body"}
    from conformance.options import TEMPORARY  # the embedded run's credentials

    assert TEMPORARY.secret_key not in text and TEMPORARY.token not in text
    auth = [
        h["value"] for e in entries for h in e["request"]["headers"] if h["name"] == "Authorization"
    ]
    assert auth and all("q-signature=<redacted>" in a for a in auth)  # its other parts are kept


def test_recheck_passes_a_clean_recording_and_fails_a_faulty_one(runs) -> None:
    tmp = runs["tmp"]
    code, out = cli("recheck", str(tmp / "clean.har"), "--report-dir", str(tmp / "rc"), cwd=tmp)
    assert code == 0, out
    result = {
        r["check"]: r
        for r in valid(json.loads((tmp / "rc" / "recheck.json").read_text()))["results"]
    }
    for name in ("pagination.no_duplicates", "ordering.monotonic", "pagination.walk_terminates",
                 "schema.list_body", "pagination.every_page_within_size", "bad_input.invalid_values"):  # fmt: skip
        assert result[name]["outcome"] == "passed" and result[name]["examples"] > 0, result[name]
    # a check that needs live requests is not judged, and says so: never passed on nothing
    assert result["signature.refuses_expired"]["outcome"] == "not judged"
    assert result["signature.refuses_expired"]["reason"]
    code, out = cli("recheck", str(tmp / "faulty.har"), "--report-dir", str(tmp / "rf"), cwd=tmp)
    assert code == 1, out
    assert "FAILED pagination.no_duplicates" in out and "exchange #" in out


def test_recheck_of_a_target_cut_into_slices_is_no_false_alarm(tmp_path: Path) -> None:
    """Past 2,000 jobs walks keep to slices of time; a recording holds unbounded queries too
    (the census's), and rechecking one must not compare the whole target with one slice."""
    har = tmp_path / "large.har"
    checks = "filters.time_window_complete,pagination.no_duplicates"
    code, _, out = suite(
        tmp_path, "run", "--emulator-jobs", "3000", "--checks", checks, "--record", str(har)
    )
    assert code == 0, out[-2000:]
    code, out = cli("recheck", str(har), "--report-dir", str(tmp_path / "rc"), cwd=tmp_path)
    assert code == 0, out[-2000:]
    results = valid(json.loads((tmp_path / "rc" / "recheck.json").read_text()))["results"]
    assert {r["check"]: r["outcome"] for r in results}["filters.time_window_complete"] == "passed"


def test_recheck_cites_each_exchange_by_its_place_in_the_cassette(tmp_path: Path) -> None:
    """A failure's exchanges are previews (16 KB of a page of 100 jobs): each is still found in
    the cassette, with its position and the check that sent it."""
    har = tmp_path / "faulty.har"
    args = ["--emulator-jobs", "300", "--emulator-fault", "page-repeat-boundary"]
    suite(tmp_path, "run", *args, "--checks", "pagination.no_duplicates", "--record", str(har))
    code, out = cli("recheck", str(har), "--report-dir", str(tmp_path / "rc"), cwd=tmp_path)
    assert code == 1 and "exchange #1:" in out, out[-2000:]
    assert "exchange #-1" not in out, out[-2000:]


def test_serve_load_of_a_recording_serves_the_same_walk(runs) -> None:
    jobs = list(generate(int(JOBS), 0))  # the embedded emulator's data for seed 0
    with serving("--load", str(runs["tmp"] / "clean.har")) as (url, banner):
        assert f"({JOBS} jobs)" in banner
        client = Client(url, EXAMPLE_CREDENTIALS)
        walk, token = [], None
        while True:
            page = parse_list(client.list(Query(size="7", next_token=token)).body)
            walk += page.jobs
            token = page.next_token or None
            if token is None:
                break
    assert list(walk) == expected(jobs, parse_filters(Query()))  # the same jobs, fields and order


def test_diff_finds_and_shrinks_a_fault_and_accepts_allowed_behaviours(tmp_path: Path) -> None:
    behaviours = ["size_over_100=refuse", "last_page_token=absent", "full_last_page=token",
                  "ties_desc=job-id-asc", "error_extras=none", "start_after_end=refuse"]  # fmt: skip
    data = ["--jobs", JOBS, "--seed", "3"]
    with (
        serving(*data) as (a, _),
        serving(*data, "--fault", "filter-type-ignored") as (faulty, _),
        serving(*data, *[x for b in behaviours for x in ("--behaviour", b)]) as (other, _),
    ):
        code, out = cli("diff", "--target", a, "--target-b", faulty, *KEYS, "--max-examples", "30",
                        "--report-dir", str(tmp_path / "d1"), cwd=tmp_path)  # fmt: skip
        assert code == 1, out
        found = valid(json.loads((tmp_path / "d1" / "diff.json").read_text()))
        assert found["same_data"] and [d["kind"] for d in found["differences"]] == ["jobs"]
        assert found["differences"][0]["query"] in ("type=Workflow", "type=Job"), out  # shrunk
        assert not (tmp_path / ".hypothesis").exists()  # hypothesis's tables go to ~/.cache
        code, out = cli("diff", "--target", a, "--target-b", other, *KEYS, "--max-examples", "30",
                        "--report-dir", str(tmp_path / "d2"), cwd=tmp_path)  # fmt: skip
        assert code == 6, out  # behaviour differences fail the gate unless allowed
        found = valid(json.loads((tmp_path / "d2" / "diff.json").read_text()))
        assert found["differences"] == [], out  # results agree wherever they must
        kinds = {d["kind"] for d in found["behaviour_differences"]}
        assert {"size_over_100", "start_after_end", "last_page_token", "error_extras"} <= kinds
        last = next(d for d in found["behaviour_differences"] if d["kind"] == "last_page_token")
        for side in "ab":  # its sign lines send the last page, where the two differ
            assert f"'{last[side][-1]['url']}'" in last["reproduce"][side.upper()], last
        assert "Verdict: BEHAVIOUR CHANGED" in out and found["verdict"] == "behaviour changed"
        page = (tmp_path / "d2" / "diff.html").read_text()  # the same word and colour
        assert "Verdict: BEHAVIOUR CHANGED" in page and "tone-warn" in page
    with serving(*data) as (a, _), serving("--jobs", "59", "--seed", "3") as (b, _):
        code, out = cli("diff", "--target", a, "--target-b", b, *KEYS, "--allow-behaviour-change",
                        "--report-dir", str(tmp_path / "d3"), cwd=tmp_path)  # fmt: skip
        assert code == 1 and "do not serve the same data" in out, out


def test_load_takes_the_pages_of_a_walk_saved_one_after_another(tmp_path: Path) -> None:
    from conformance.handlers.har import load_jobs
    from conformance.xmlmodel import render_list

    jobs = list(generate(5, 1))
    pages = render_list("r1", jobs[:3], "t") + b"\n" + render_list("r2", jobs[2:], "")
    (tmp_path / "walk.xml").write_bytes(pages)
    assert load_jobs([str(tmp_path / "walk.xml")]) == jobs  # job 3 twice: loaded once


def test_compare_says_when_the_runs_ran_different_checks() -> None:
    from conformance.regression import compare

    results = [{"check": c, "outcome": "passed"} for c in ("a.x", "a.y", "b.z")]
    old = {"results": results, "options": {}}
    new = {"results": results[2:], "options": {"checks": "b"}}
    notes = compare(old, new).differs_in
    assert notes == [
        "the checks run: 3 (every check) vs 1 (b); a check run in one only shows as 'absent'"
    ]
    assert compare(old, old).differs_in == []


def test_the_cassette_keeps_what_a_create_sent() -> None:
    from test_cli import CREATE

    from conformance.handlers.har import _recorded, har_entry

    with serving("--jobs", "0") as (url, _):
        ex = Client(url, EXAMPLE_CREDENTIALS).request("POST", data=CREATE)
    assert ex.status == 200 and ex.request_body == CREATE
    entry = json.loads(json.dumps(har_entry(ex, 0, "model.write_then_read")))
    assert entry["request"]["postData"] == {"mimeType": "", "text": CREATE.decode()}
    assert entry["request"]["bodySize"] == len(CREATE)
    assert _recorded(entry, 0).exchange.request_body == CREATE


def test_a_recorded_request_not_in_utf8_is_no_input_of_a_recheck() -> None:
    """``name=%C4%E3`` (bad input's, answered 400) once read as ``name=��``, a valid query: a
    recheck replayed it to the query checks and reported the 400 as a violation."""
    ex = Exchange("GET", "http://h/inventorytriggerjob?name=%C4%E3", {}, 400, {}, b"", 0.0)
    assert request_query(ex) is None
    ok = request_query(replace(ex, url="http://h/inventorytriggerjob?name=%E5%90%8D&size=5"))
    assert ok == Query(name="名", size="5")
