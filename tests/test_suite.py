"""The suite itself, run as a user runs it: passes on correct servers in every allowed behaviour,
including an independent server written only for this test."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from independent_server import CREDS, Independent, Serving, dataset
from results_schema import valid

from conformance.emulator.app import Behaviour
from conformance.handlers.har import read
from conformance.killmatrix import behaviour_id, suite_runs


def run_suite(tmp_path: Path, *args: str) -> tuple[int, dict, str]:
    """The suite as a user runs it (``ci-conformance run``, dev examples unless told), in a
    subprocess started in ``tmp_path``."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "conformance.cli", "run", "--report-dir", tmp]
        cmd += ["--examples-profile", "dev", *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
        path = Path(tmp) / "summary.json"
        summary = json.loads(path.read_text("utf-8")) if path.exists() else {}
    return proc.returncode, valid(summary) if summary else summary, proc.stdout + proc.stderr


def run_many(cases: dict[str, list[str]]) -> dict[str, tuple[int, dict, str]]:
    """Several suite runs (dev examples unless told), two at a time, as the matrices run them."""
    runs = suite_runs([["--examples-profile", "dev", *args] for args in cases.values()])
    return {name: (run[0], valid(run[1]), run[2]) for name, run in zip(cases, runs, strict=True)}


# Every allowed choice of every open point, in two runs (the default choices run in
# test_detection.py); `ci-conformance false-alarm-matrix` runs each choice on its own.
ALTERNATIVES = [  # every other choice: the second of each point, then the third and fourth
    Behaviour(**{k: v[1] for k, v in Behaviour.CHOICES.items()}),
    Behaviour(**{k: v[2] for k, v in Behaviour.CHOICES.items() if len(v) > 2}, auth_status="403"),
    Behaviour(**{k: v[3] for k, v in Behaviour.CHOICES.items() if len(v) > 3}, auth_status="403"),
]
VARIANTS = {behaviour_id(b): ["--emulator-behaviour", behaviour_id(b)] for b in ALTERNATIVES}


def test_variants_cover_every_choice() -> None:
    chosen = {(k, getattr(b, k)) for b in ALTERNATIVES for k in Behaviour.CHOICES}
    defaults = {(k, v[0]) for k, v in Behaviour.CHOICES.items()}
    assert chosen | defaults == {(k, c) for k, v in Behaviour.CHOICES.items() for c in v}


@pytest.fixture(scope="module")
def variant_runs() -> dict[str, tuple[int, dict, str]]:
    """The suite against the emulator in every allowed behaviour of the open points."""
    return run_many(VARIANTS)


@pytest.mark.parametrize("variant", VARIANTS)
def test_passes_against_emulator_in_each_allowed_behaviour(variant_runs, variant: str) -> None:
    code, summary, out = variant_runs[variant]
    assert code == 0, out[-4000:]
    assert summary["verdict"] == "conformant"
    ran = sum(c["passed"] for c in summary["counts"].values())
    assert ran >= 50, summary["counts"]
    # the run saw the choices the emulator made: they are its behaviour fingerprint
    b = next(b for b in ALTERNATIVES if behaviour_id(b) == variant)
    seen = summary["behaviour"]
    assert (seen["size_over_100"], seen["start_after_end"]) == (b.size_over_100, b.start_after_end)
    assert seen["last_page_token"] == b.last_page_token and seen["auth_status"] == "403"
    assert seen["error_extras"] == b.error_extras


def test_passes_against_an_independent_server(tmp_path: Path) -> None:
    with Serving(Independent(dataset())) as server:
        code, summary, out = run_suite(
            tmp_path,
            "--target",
            server.url,
            "--secret-id",
            CREDS.secret_id,
            "--secret-key",
            CREDS.secret_key,
        )
    assert code == 0, out[-4000:]
    skipped = {
        r["check"]: r.get("reason", "") for r in summary["results"] if r["outcome"] == "skipped"
    }
    # read-only, permanent keys, unknown data: exactly these are skipped, each saying why
    assert set(skipped) == {
        "signature.refuses_missing_token",
        "signature.refuses_wrong_token",
        "pagination.writes_during_walk",
        "model.write_then_read",
        "model.job_ids_unique",
        "bad_input.bad_create_refused",
        "filters.oracle",
    }, skipped
    assert all(skipped.values())
    assert CREDS.secret_key not in out and CREDS.secret_key not in json.dumps(summary)


def test_profile_pins_an_open_point(tmp_path: Path) -> None:
    pinned = tmp_path / "profile.toml"
    pinned.write_text('size_over_100 = "refuse"\n')
    code, summary, _ = run_suite(tmp_path, "--profile", str(pinned), "--checks", "size_over_100")
    assert code == 1  # the emulator clamps by default, which this profile forbids
    assert [f["check"] for f in summary["failures"]] == ["pagination.size_over_100"]
    code, _, out = run_suite(
        tmp_path,
        "--profile",
        str(pinned),
        "--checks",
        "size_over_100",
        "--emulator-behaviour",
        "size_over_100=refuse",
    )
    assert code == 0, out[-3000:]


def test_empty_target_skips_with_reasons(tmp_path: Path) -> None:
    code, summary, out = run_suite(tmp_path, "--emulator-jobs", "0")
    assert code == 0, out[-4000:]
    reasons = [r["reason"] for r in summary["results"] if r["outcome"] == "skipped"]
    assert any("has 0 job(s)" in r for r in reasons), reasons


def test_empty_target_with_writes_creates_its_own_data(tmp_path: Path) -> None:
    code, summary, out = run_suite(tmp_path, "--emulator-jobs", "0", "--allow-writes")
    assert code == 0, out[-4000:]
    assert not [r for r in summary["results"] if r["outcome"] == "skipped"]


def test_same_seed_makes_the_same_requests(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Jobs the suite creates join the data later checks draw from: with the same seed, they
    must be the same jobs, so that a second run asks exactly what the first one asked."""

    def run(n: int) -> tuple[int, dict, list[str]]:
        tmp = tmp_path_factory.mktemp(f"seeded{n}")
        code, summary, _ = run_suite(tmp, "--record", str(tmp / "run.har"), "--seed", "7", "--emulator-jobs",
                                       "12", "--checks", "pagination.writes_during_walk,filters.single_filter")  # fmt: skip
        lines = []
        for rec in read(tmp / "run.har"):  # the port, tokens and signature times vary
            url = re.sub(r"//127\.0\.0\.1:\d+", "//HOST", rec.exchange.url)
            url = re.sub(r"(nextToken|q-sign-time|q-key-time)=[^&]*", r"\1=X", url)
            lines.append(f"{rec.exchange.method} {url} {rec.exchange.status}")
        return code, summary, lines

    with ThreadPoolExecutor(max_workers=2) as pool:
        (code, summary, first), (_, _, second) = pool.map(run, (1, 2))
    assert code == 0, summary["failures"]
    assert sum(line.startswith("POST ") for line in first) >= 3  # the suite did create jobs
    assert len(first) == len(second) and first == second
