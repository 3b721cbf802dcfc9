"""Outcomes that never lie: each row of the honest-outcomes table, as a user meets it.

| what the user did | what the tool says (before: what it said) |
|---|---|
| Ctrl-C during `run` | INTERRUPTED, exit 130, reports of what finished (VIOLATIONS, exit 1) |
| SIGTERM during `run` | INTERRUPTED, exit 143 |
| a crash inside the suite | TOOL ERROR, exit 4, the check named (24 violations, exit 1) |
| a report writer that breaks | TOOL ERROR, exit 4 (a traceback) |

The budget (`--max-requests`: INCOMPLETE, exit 5) is in test_client.py, emulator flags with
`--target` (exit 2) in test_cli.py, behaviour-only differences (BEHAVIOUR CHANGED, exit 6, in
the terminal, HTML and JSON of compare and diff alike) in test_regression.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import strategies as st
from results_schema import valid

from conformance.checks import Check
from conformance.engine import Engine, Handler
from conformance.handlers.files import JsonHandler
from conformance.options import from_args
from conformance.query import Query
from conformance.results import Outcome, plain
from conformance.sources.run import RunSource
from conformance.verdicts import VERDICTS, verdict_table

RUN = [sys.executable, "-m", "conformance.cli", "run", "--examples-profile", "dev"]


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stopped_run_is_interrupted_never_violations(
    tmp_path: Path, signum: int, code: int
) -> None:
    proc = subprocess.Popen([*RUN, "--report-dir", str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=tmp_path)  # fmt: skip
    assert proc.stdout is not None
    lines = [proc.stdout.readline() for _ in range(4)]  # three checks have finished
    proc.send_signal(signum)
    out = "".join(lines) + proc.communicate(timeout=60)[0]
    assert proc.returncode == code, out[-3000:]
    assert "Verdict: INTERRUPTED" in out and "VIOLATIONS" not in out
    summary = valid(json.loads((tmp_path / "summary.json").read_text()))
    assert summary["verdict"] == "interrupted" and summary["exit_code"] == code
    outcomes = [r["outcome"] for r in summary["results"]]
    assert outcomes[:3] == ["passed"] * 3  # what finished is kept
    assert set(outcomes[3:]) <= {"passed", "interrupted", "not run"} and outcomes[-1] == "not run"
    assert outcomes.count("interrupted") <= 1  # the check it stopped, if it stopped one
    assert len(outcomes) == len(from_args([]).chosen())
    for name in ("conformance.html", "junit.xml"):
        assert "INTERRUPTED" in (tmp_path / name).read_text().upper(), name
    assert "Stopped by Ctrl-C (130) or SIGTERM (143)" in (tmp_path / "conformance.html").read_text()


def _check(name: str, func, given=None) -> Check:  # type: ignore[no-untyped-def]
    return Check(
        f"signature.{name}", "signature", "a test's own check", func, given, anchor="sig-accept"
    )


def _run(*checks: Check, handlers: list[Handler] | None = None):  # type: ignore[no-untyped-def]
    settings = from_args(["--examples-profile", "dev", "--emulator-jobs", "20"])
    return Engine(handlers or []).run(RunSource(settings, checks=list(checks)))


def test_a_crash_inside_the_suite_is_a_tool_error_never_a_violation() -> None:
    def raises(s, query) -> None:  # type: ignore[no-untyped-def]
        raise KeyError("a bug of ours")

    def cannot_draw(s):  # type: ignore[no-untyped-def]
        return st.integers(min_value=250, max_value=100)  # as the strategy crash at 10,000 jobs

    passes = _check("passes", lambda s: s.page(Query(size="1")))
    summary = _run(
        passes,
        _check("raises", raises, lambda s: st.just(None)),
        _check("cannot_draw", lambda s, v: None, cannot_draw),
    )
    outcomes = {r.check: r.outcome for r in summary.results}
    assert outcomes == {"signature.passes": Outcome.PASSED, "signature.raises": Outcome.TOOL_ERROR,
                        "signature.cannot_draw": Outcome.TOOL_ERROR}  # fmt: skip
    assert (
        summary.verdict == "tool error"
        and summary.exit_code == 4 != VERDICTS["violations"].exit_code
    )
    crash = next(r for r in summary.results if r.check == "signature.raises")
    assert crash.error.kind == "KeyError" and "bug in ci-conformance" in crash.error.report
    assert "tests/test_outcomes.py" not in crash.error.where  # our own frames, not the caller's
    drawn = next(r for r in summary.results if r.check == "signature.cannot_draw")
    assert (
        drawn.error.kind == "InvalidArgument"
        and "max_value=100 < min_value=250" in drawn.error.message
    )
    assert not summary.failures and any("error of ci-conformance" in c for c in summary.caveats)
    assert summary.live is False  # the embedded emulator, stopped before the summary is made
    valid(plain(summary))


def test_a_report_that_cannot_be_written_is_a_tool_error(tmp_path: Path) -> None:
    class Breaks(Handler):
        def finished(self, summary) -> None:  # type: ignore[no-untyped-def]
            raise OSError("disk full")

    out = tmp_path / "summary.json"
    summary = _run(_check("passes", lambda s: None), handlers=[Breaks(), JsonHandler(out)])
    assert summary.verdict == "tool error" and summary.exit_code == 4
    assert summary.errors[0].kind == "OSError" and "disk full" in summary.errors[0].message
    written = valid(json.loads(out.read_text()))  # the other reports are still written
    assert written["verdict"] == "tool error" and written["errors"][0]["message"] == "disk full"


def test_one_verdict_table_in_help_and_readme() -> None:
    help_text = subprocess.run([sys.executable, "-m", "conformance.cli", "run", "--help"],
                               capture_output=True, text=True, check=True).stdout  # fmt: skip
    readme = (Path(__file__).parent.parent / "README.md").read_text("utf-8")
    for v in VERDICTS.values():
        assert f"{v.exit_code:>3}  {v.word}" in help_text, v.word
        assert f"| `{v.word}` | {v.exit_code} |" in readme, v.word
    assert verdict_table().splitlines()[0].strip().startswith("0  conformant")


def test_a_signal_once_every_check_finished_waits_for_the_reports(tmp_path: Path) -> None:
    """Ctrl-C as the reports are written: they are all written, and they agree with the exit
    code (it once left summary.json saying conformant, exit 0, and no other report)."""

    class SignalAsItWrites(Handler):
        def finished(self, summary) -> None:  # type: ignore[no-untyped-def]
            os.kill(os.getpid(), signal.SIGINT)

    out = tmp_path / "summary.json"
    summary = _run(_check("passes", lambda s: None),
                   handlers=[SignalAsItWrites(), JsonHandler(out)])  # fmt: skip
    assert summary.verdict == "conformant" and summary.exit_code == 0
    assert valid(json.loads(out.read_text()))["verdict"] == "conformant"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_a_stopped_kill_matrix_ends_its_workers(tmp_path: Path) -> None:
    """SIGTERM to a matrix (as a CI cancel sends it, to the main process only) ends it and its
    pool's workers; it once waited for every queued run."""
    proc = subprocess.Popen([sys.executable, "-m", "conformance.cli", "kill-matrix", "--report-dir",
                             str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, cwd=tmp_path)  # fmt: skip
    children: list[int] = []
    deadline = time.monotonic() + 60
    while len(children) < 2 and time.monotonic() < deadline:  # the pool's workers have started
        time.sleep(0.5)
        children = [
            int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        ]
    time.sleep(2)
    proc.send_signal(signal.SIGTERM)
    err = proc.communicate(timeout=30)[1]
    assert proc.returncode == 143 and "ci-conformance: interrupted" in err, err[-2000:]
    time.sleep(1)
    alive = [
        p
        for p in children
        if Path(f"/proc/{p}").exists() and "Z" not in Path(f"/proc/{p}/stat").read_text().split()[2]
    ]
    assert not alive, alive


def test_the_oracle_compares_each_field_with_the_known_data() -> None:
    """A StartTime read from the wrong column survived mutation testing: the oracle compared
    which jobs come back, not what they show. Here the data the oracle knows differs from the
    data served in StartTime alone."""
    from dataclasses import replace

    from conformance.checks.base import REGISTRY

    class Altered(RunSource):
        def _start_emulator(self) -> str:
            url = super()._start_emulator()
            self.known_jobs = [
                replace(j, start_time="2020-01-01T00:00:00+0800") for j in self.known_jobs
            ]
            return url

    settings = from_args(["--examples-profile", "dev", "--emulator-jobs", "40"])
    oracle = [REGISTRY["filters.oracle"]]
    (served,) = Engine([]).run(RunSource(settings, checks=oracle)).results
    (altered,) = Engine([]).run(Altered(settings, checks=oracle)).results
    assert served.outcome == Outcome.PASSED, served
    assert altered.outcome == Outcome.FAILED
    assert (
        "shows start_time" in altered.failures[0].found
        and "2020-01-01T00:00:00+0800" in altered.failures[0].found
    )


def test_a_census_cut_short_says_so(served, monkeypatch) -> None:
    """A target larger than the census walks (20,000 pages) is judged on the jobs it saw, and
    the verdict line says so instead of passing in silence."""
    from conformance import session as session_module
    from conformance.client import Client
    from conformance.emulator.app import EXAMPLE_CREDENTIALS
    from conformance.sources.run import caveats

    monkeypatch.setattr(session_module, "MAX_CENSUS_PAGES", 2)
    s = session_module.Session(Client(served.url, EXAMPLE_CREDENTIALS))
    assert s.census().count == 200 and not s.census().complete
    assert any("census stopped" in c for c in caveats([], s))
