"""Detection depth: what the default run exercises, vacuous checks, the write-then-read model
and its consistency window. Each over real HTTP, as a user runs the suite."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_cli import serving
from test_suite import run_suite

from conformance.emulator.app import EXAMPLE_CREDENTIALS

KEYS = [
    "--secret-id",
    EXAMPLE_CREDENTIALS.secret_id,
    "--secret-key",
    EXAMPLE_CREDENTIALS.secret_key,
]


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict, str]:
    """The default run (ci profile) against the embedded emulator."""
    return run_suite(tmp_path_factory.mktemp("default"), "--examples-profile", "ci")


def test_default_run_reaches_every_cell_the_data_allows(default_run) -> None:
    code, summary, out = default_run
    assert code == 0, out[-3000:]
    coverage = summary["coverage"]
    assert set(coverage) == {
        "walks",
        "sizes",
        "filters",
        "pairs",
        "orders",
        "signature",
        "open points",
    }
    for dim, cells in coverage.items():
        assert cells["missed"] == [], (dim, cells["missed"])
        assert cells["out_of_reach"] == [], (
            dim,
            cells["out_of_reach"],
        )  # the mixed dataset allows all
    assert len(coverage["pairs"]["reached"]) == 21
    assert {"header", "presigned"} == {
        c.split("(")[1][:-1] for c in coverage["signature"]["reached"]
    }


def test_default_run_records_the_behaviour_it_met(default_run) -> None:
    _, summary, _ = default_run
    # the embedded emulator's default choice at each open point
    assert summary["behaviour"] == {
        "size_over_100": "clamp",
        "start_after_end": "empty",
        "last_page_token": "empty",
        "full_last_page": "no-token",
        "page_fill": "full",
        "empty_values": "absent",
        "auth_status": "401",
        "error_extras": "resource+trace-id",
        "ties_desc": "job-id-desc",
        "ties_asc": "job-id-asc",
        "get_missing": "404",
        "cancel_ended": "refuse",
        "writes_during_walk": "stable",
    }


def test_checks_that_judge_jobs_saw_jobs(default_run) -> None:
    _, summary, _ = default_run
    assert not [r for r in summary["results"] if r["outcome"] != "passed"]
    drawn = [r for r in summary["results"] if r.get("examples", 0) > 1]
    assert len(drawn) > 30
    for r in drawn:
        if r["check"].startswith(("pagination.no_dup", "ordering.", "filters.every_job")):
            # most examples of a data-drawn check walk jobs: the inputs reach the data
            assert r["examples_with_jobs"] >= r["examples"] * 0.6, r


def test_empty_target_reports_vacuous_checks(tmp_path: Path) -> None:
    # (only checks that write nothing: the embedded emulator lets the suite create jobs)
    checks = "no_duplicates,page_sizes,walk_independent_of_size,ordering"
    code, summary, out = run_suite(tmp_path, "--emulator-jobs", "0", "--checks", checks)
    assert code == 0, out[-3000:]
    outcomes = {r["check"]: (r["outcome"], r["reason"]) for r in summary["results"]}
    # walks that can only be empty prove nothing: vacuous, never passed
    for name in ("pagination.no_duplicates", "pagination.page_sizes", "ordering.monotonic"):
        assert outcomes[name][0] == "vacuous" and outcomes[name][1].startswith("vacuous"), outcomes
    assert summary["coverage"]["walks"]["reached"] == {
        "0 jobs": summary["coverage"]["walks"]["reached"]["0 jobs"]
    }


def test_model_failure_shows_the_minimal_sequence(tmp_path: Path) -> None:
    code, summary, out = run_suite(
        tmp_path, "--emulator-fault", "model-cancel-not-listed", "--checks", "write_then_read"
    )
    assert code == 1, out[-3000:]
    (failure,) = summary["failures"]
    assert failure["check"] == "model.write_then_read"
    message = failure["found"]
    assert "shows State Submitted" in message and "after these operations:" in message
    steps = message.split("after these operations:")[1].strip().splitlines()
    # shrunk to: create a job, cancel it
    assert len(steps) == 2, steps
    assert steps[0].strip().startswith("1. create") and steps[1].strip().startswith("2. cancel")
    assert failure["exchanges"]


def test_consistency_window_tolerates_a_lagging_service(tmp_path: Path) -> None:
    with serving("--jobs", "20", "--visibility-lag", "0.6") as (url, _):
        args = ["--target", url, *KEYS, "--allow-writes", "--checks", "model"]
        code, summary, out = run_suite(tmp_path, *args)
        assert code == 1, out[-3000:]  # without a window, the lag is a violation
        assert "answered HTTP 404" in summary["failures"][0]["found"]
        assert summary["live"] is True  # a target
        code, summary, out = run_suite(tmp_path, *args, "--consistency-window", "5")
    assert code == 0, out[-3000:]
    window = summary["consistency_window"]
    assert window["allowed_s"] == 5 and window["waits_s"]  # the waits are reported
    assert all(0.3 < w < 5 for w in window["waits_s"]), window
