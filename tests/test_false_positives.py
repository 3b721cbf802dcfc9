"""No false positives: the suite passes against the correct emulator for every dataset shape
and several seeds (the behaviours: test_suite.py). Each case is the smallest setup that proves
its point; `ci-conformance false-alarm-matrix` runs the full matrix."""

from __future__ import annotations

import pytest
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
