"""``ci-conformance`` as a user runs it: serve (with a file database that survives a restart),
list commands, and usage errors."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conformance.client import Client
from conformance.emulator.app import EXAMPLE_CREDENTIALS
from conformance.emulator.faults import FAULTS
from conformance.emulator.store import generate
from conformance.query import Query
from conformance.signing import Credentials
from conformance.xmlmodel import parse_list

CLI = [sys.executable, "-m", "conformance.cli"]
CREATE = b"<Request><Name>kept</Name><Type>Job</Type><Input><Object>a.mp4</Object></Input><Operation/></Request>"


@contextmanager
def serving(*args: str) -> Iterator[tuple[str, str]]:
    proc = subprocess.Popen([*CLI, "serve", "--port", "0", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        first = proc.stdout.readline()
        match = re.search(r"at (http://127\.0\.0\.1:\d+) ", first)
        assert match, first + proc.stdout.read(2000)
        banner = first
        while "Ctrl-C" not in banner.splitlines()[-1]:
            banner += proc.stdout.readline()
        yield match.group(1), banner
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_serve_prints_url_and_credentials_and_serves(tmp_path: Path) -> None:
    with serving("--jobs", "25", "--seed", "3") as (url, banner):
        assert EXAMPLE_CREDENTIALS.secret_id in banner and "(25 jobs)" in banner
        page = parse_list(Client(url, EXAMPLE_CREDENTIALS).list(Query(size="100")).body)
        assert len(page.jobs) == 25


def test_serves_the_runs_dataset_by_default_and_prints_the_target_url(tmp_path: Path) -> None:
    with serving() as (url, banner):
        assert "(300 jobs)" in banner  # the same dataset as `ci-conformance run` (seed 0)
        line = next(x for x in banner.splitlines() if "ci-conformance run --target" in x)
        printed = shlex.split(line.split(": ", 1)[1])[1:]  # runs as printed: the keys are in it
        assert printed[:2] == ["run", "--target"] and printed[2] == url
        run = subprocess.run([*CLI, *printed, "--checks", "signature.valid_header_accepted",
                              "--report-dir", str(tmp_path)], capture_output=True, text=True,
                             timeout=120, cwd=tmp_path, env={**os.environ, "COS_SECRET_KEY": ""})  # fmt: skip
        assert run.returncode == 0, run.stdout + run.stderr
        walk = Client(url, EXAMPLE_CREDENTIALS).list(Query(size="100"))
        assert parse_list(walk.body).jobs[0] == max(
            generate(300, 0), key=lambda j: (j.created, j.job_id)
        )


def test_file_database_survives_restart(tmp_path: Path) -> None:
    db = tmp_path / "jobs.sqlite"
    with serving("--db", str(db), "--jobs", "0") as (url, _):
        created = Client(url, EXAMPLE_CREDENTIALS).request("POST", data=CREATE)
        assert created.status == 200, created.body
        job = parse_list(created.body).jobs[0]
    with serving("--db", str(db)) as (url, banner):
        assert "(1 jobs)" in banner  # a store with jobs gets no generated ones
        got = Client(url, EXAMPLE_CREDENTIALS).request("GET", f"/inventorytriggerjob/{job.job_id}")
        assert parse_list(got.body).jobs[0] == job


def test_a_file_database_loaded_twice_keeps_the_newer_jobs(tmp_path: Path) -> None:
    """``serve --db F --load X``, run again: the file's jobs replace the stored ones."""
    db, sample = (
        tmp_path / "jobs.sqlite",
        Path(__file__).parent / "data" / "vendor-sample-response.xml",
    )
    for _ in range(2):
        with serving("--db", str(db), "--load", str(sample)) as (url, banner):
            assert "(2 jobs)" in banner
            assert len(parse_list(Client(url, EXAMPLE_CREDENTIALS).list(Query()).body).jobs) == 2


def test_load_jobs_from_xml(tmp_path: Path) -> None:
    sample = Path(__file__).parent / "data" / "vendor-sample-response.xml"
    with serving("--load", str(sample)) as (url, banner):
        assert "(2 jobs)" in banner
        jobs = parse_list(Client(url, EXAMPLE_CREDENTIALS).list(Query(type="Job")).body).jobs
        assert [j.job_id for j in jobs] == ["be8f65004eb8511eaaed4f377124a303c"]


def test_own_credentials_and_token(tmp_path: Path) -> None:
    with serving("--secret-id", "AKIDmine", "--secret-key", "my-key", "--security-token", "tok",
                 "--secret-id", "AKIDother", "--secret-key", "other-key") as (url, banner):  # fmt: skip
        assert "my-key" not in banner  # the user's own key is not printed
        assert Client(url, Credentials("AKIDmine", "my-key", "tok")).list(Query()).status == 200
        assert Client(url, Credentials("AKIDmine", "my-key")).list(Query()).status == 401
        assert Client(url, EXAMPLE_CREDENTIALS).list(Query()).status == 401
        assert Client(url, Credentials("AKIDother", "other-key")).list(Query()).status == 200
        assert "AKIDmine (temporary" in banner and "AKIDother" in banner


def test_list_commands() -> None:
    for command in (["list-faults"], ["serve", "--list-faults"]):
        faults = subprocess.run([*CLI, *command], capture_output=True, text=True, check=True)
        assert all(name in faults.stdout for name in FAULTS), command
    behaviours = subprocess.run(
        [*CLI, "list-behaviours"], capture_output=True, text=True, check=True
    )
    assert "size_over_100=clamp|refuse" in behaviours.stdout
    checks = subprocess.run([*CLI, "list-checks"], capture_output=True, text=True, check=True)
    assert "pagination.no_duplicates" in checks.stdout and "API-NOTES" not in checks.stdout


def test_mistyped_flags_and_commands_get_a_suggestion() -> None:
    for args, hint in [
        (["--verison"], "did you mean '--version'?"),
        (["lsit-checks"], "did you mean 'list-checks'?"),
        (["run", "--emulator-falut", "x"], "did you mean '--emulator-fault'?"),
        (["run", "--verison"], "did you mean ci-conformance --version?"),  # not run's option
        (["run", "--emulator-fault", "no-such"], "see ci-conformance list-faults"),
        (["run", "--checks", "no-such"], "see ci-conformance list-checks"),
    ]:
        proc = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 2, args
        assert hint in proc.stderr.lower(), (args, proc.stderr)
        assert "required: command" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert proc.stderr.count("(see ci-conformance") <= 1, proc.stderr  # one pointer at most


def test_a_reader_that_goes_away_ends_the_listing_quietly() -> None:
    for args in (["list-checks"], ["sdk", "--list"]):
        proc = subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None and proc.stdout.readline()  # `| head -1`
        proc.stdout.close()
        assert proc.wait(timeout=30) == 0, args
        assert b"Traceback" not in proc.stderr.read(), args


def test_usage_errors_exit_2() -> None:
    for args in (["serve", "--fault", "no-such-fault"], ["serve", "--behaviour", "size_over_100=maybe"],
                 ["serve", "--secret-id", "only-id"], ["frobnicate"]):  # fmt: skip
        proc = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert proc.stderr.strip()


def test_replay_reads_the_options_the_summary_recorded(tmp_path: Path, monkeypatch) -> None:
    from conformance.options import read, recorded

    ran = read(lambda name: {"target": "http://127.0.0.1:9", "secret_id": "AKIDx", "secret_key": "k" * 12,
                             "seed": "4", "max_examples": "3", "profile": None}.get(name))  # fmt: skip
    options = recorded(ran)
    assert "k" * 12 not in json.dumps(options) and "AKIDx" not in json.dumps(options)
    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps({"options": options | {"profile": {"size_over_100": "refuse"}},
                                   "failures": [{"check": "filters.type_union"}]}))  # fmt: skip
    monkeypatch.setenv("COS_SECRET_ID", "AKIDenv")
    monkeypatch.setenv("COS_SECRET_KEY", "env-key-123")
    monkeypatch.setenv("CI_CONFORMANCE_TARGET", "http://elsewhere:1")  # recorded wins over this
    again = read(lambda name: {"replay": str(summary)}.get(name))
    assert again.target == "http://127.0.0.1:9" and again.credentials.secret_id == "AKIDenv"
    assert (again.seed, again.examples) == (4, 3)
    assert again.profile == {"size_over_100": "refuse"} and again.checks == ["filters.type_union"]
    flags = {"replay": str(summary), "target": "http://127.0.0.1:8", "examples_profile": "dev"}
    override = read(flags.get)  # flags given to the replay win
    assert override.target == "http://127.0.0.1:8" and override.examples == 8
    # a run against the embedded emulator replays its faults; another target drops them
    monkeypatch.delenv("CI_CONFORMANCE_TARGET")
    summary.write_text(json.dumps({"options": {"emulator_fault": "order-asc-ignored", "seed": 2},
                                   "failures": [{"check": "ordering.asc_reverses_desc"}]}))  # fmt: skip
    assert read(lambda name: {"replay": str(summary)}.get(name)).emulator_fault == [
        "order-asc-ignored"
    ]
    elsewhere = read({"replay": str(summary), "target": "http://127.0.0.1:8"}.get)
    assert elsewhere.emulator_fault == [] and elsewhere.seed == 2


def test_emulator_flags_with_a_target_are_a_usage_error(tmp_path: Path) -> None:
    """`run --target URL --emulator-fault F` once said CONFORMANT and recorded the fault."""
    proc = subprocess.run([*CLI, "run", "--target", "http://127.0.0.1:9", "--secret-id", "AKIDx",
                           "--secret-key", "k", "--emulator-fault", "page-skip-boundary",
                           "--report-dir", str(tmp_path)], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "--emulator-fault only applies to the embedded emulator" in proc.stderr
    assert not (tmp_path / "summary.json").exists()
