"""No false positives: the suite passes against the correct emulator for every dataset shape
and several seeds (the behaviours: test_suite.py). Each case is the smallest setup that proves
its point; `ci-conformance false-alarm-matrix` runs the full matrix."""

from __future__ import annotations

import json

import pytest
from results_schema import valid
from test_suite import run_many

CASES = {
    "0 jobs": ["--emulator-jobs", "0"],
    "1 job": ["--emulator-jobs", "1"],
    "exactly size (10) jobs": ["--emulator-jobs", "10"],
    "size+1 (11) jobs": ["--emulator-jobs", "11"],
    "300 jobs in five CreationTime seconds": [
        "--emulator-jobs",
        "300",
        "--emulator-shape",
        "heavy-ties",
    ],
    "all in one state, seed 1": [
        "--emulator-shape",
        "one-state",
        "--seed",
        "1",
        "--emulator-jobs",
        "120",
    ],
    "names that need escaping, seed 2": [
        "--emulator-shape",
        "escaping",
        "--seed",
        "2",
        "--emulator-jobs",
        "120",
    ],
    "seed 3": ["--seed", "3"],
}


@pytest.fixture(scope="module")
def runs() -> dict[str, tuple[int, dict, str]]:
    return run_many(CASES)


@pytest.mark.parametrize("case", CASES)
def test_no_false_positive(runs, case: str) -> None:
    code, summary, out = runs[case]
    assert code == 0, out[-4000:]
    assert summary["verdict"] == "conformant"
    assert summary["counts"]["signature"]["failed"] == 0
    skipped = [r for r in summary["results"] if r["outcome"] == "skipped"]
    assert all(r.get("reason") for r in skipped), skipped


def test_a_large_target_is_conformant_in_flat_memory(tmp_path) -> None:
    """20,000 jobs once crashed a strategy (24 false violations, 1.7 GB): now the census is
    streamed once and every walk keeps to a slice of the target."""
    from hostile import run_suite

    run = run_suite(tmp_path, "--emulator-jobs", "20000", limit=300)
    assert run.code == 0, run.out[-4000:]
    summary = valid(json.loads((run.reports / "summary.json").read_text()))
    assert summary["verdict"] == "conformant" and not summary["failures"]
    assert run.peak_mb < 300, run.peak_mb
    missed = {d: c["missed"] for d, c in summary["coverage"].items() if c["missed"]}
    assert missed == {}, missed  # the coverage table stays complete
