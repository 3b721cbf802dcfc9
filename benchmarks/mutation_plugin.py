"""The pytest plugin ``benchmarks/mutation.py`` gives mutmut: loaded (``-p mutation_plugin``)
in every pytest run mutmut makes of the conformance suite, inside mutmut's ``mutants/`` copy.

1. **A mutant lives in the emulator only.** The suite and the emulator share ``signing.py``
   (the client signs with the code the emulator verifies with), ``query.py`` (the emulator
   parses queries with the code the oracle uses) and ``store.py``'s dataset (the oracle's
   known jobs are the jobs the store is loaded with). A mutant live on both sides changes the
   client and the server alike, or the oracle and the server alike, and no suite could see it.
   So a mutant is live only where the emulator runs: in its request threads (waitress's) and
   while the embedded emulator is built (its store, keys and behaviour), never in the suite's
   client, checks and oracle, nor in the dataset the embedded emulator is given. mutmut's
   trampoline asks ``get_mutant_under_test()`` which mutant is live; here it hears "none"
   outside the emulator. A function the emulator never runs is then "no tests" in mutmut's
   terms: not server code.
2. **Every mutant runs the whole suite.** Checks share the run's walks (one census, walks
   cached per filter context), so the checks that happened to reach a function first are not
   the only ones that judge what it answered: mutmut's per-test selection is widened to every
   check (still in mutmut's order, fastest first, stopping at the first failure).
3. **A verdict is a kill.** The suite exits with its verdict's code; mutmut reads 1 as killed,
   4 as a broken command line and 5 as "no tests". Any verdict other than conformant exits 1
   here, and the verdict, the failed checks and the first lines of their findings are written
   to ``$CI_MUTATION_OUT/<mutant>.json``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from mutmut.mutation import trampoline
from mutmut.state import state

_side = threading.local()
_real_mutant_under_test = trampoline.get_mutant_under_test


def serving() -> bool:
    """Whether the current code runs as the emulator (see the module's docstring)."""
    flag = getattr(_side, "server", None)
    if flag is not None:
        return flag
    return threading.current_thread().name.startswith("waitress-")


@contextmanager
def side(server: bool) -> Iterator[None]:
    before = getattr(_side, "server", None)
    _side.server = server
    try:
        yield
    finally:
        _side.server = before


def mutant_under_test() -> str:
    return _real_mutant_under_test() if serving() else ""


def _as_emulator(build: Callable[..., Any]) -> Callable[..., Any]:
    def start_emulator(*args: Any, **kw: Any) -> Any:
        with side(True):
            return build(*args, **kw)

    return start_emulator


def _as_suite(generate: Callable[..., Any]) -> Callable[..., Any]:
    def dataset(*args: Any, **kw: Any) -> Iterator[Any]:
        with side(False):  # drawn whole here: the generator is lazy
            return iter(list(generate(*args, **kw)))

    return dataset


def install() -> None:
    import conformance
    import conformance.sources.run as run

    if "mutants" not in Path(conformance.__file__).parts:
        raise pytest.UsageError(f"conformance imported from {conformance.__file__}, not mutants/")
    if trampoline.get_mutant_under_test is not mutant_under_test:
        trampoline.get_mutant_under_test = mutant_under_test
        run.RunSource._start_emulator = _as_emulator(run.RunSource._start_emulator)
        run.generate = _as_suite(run.generate)


def pytest_configure(config: pytest.Config) -> None:
    install()


_tests: list[str] = []


def pytest_sessionstart(session: pytest.Session) -> None:
    _tests.clear()  # a forked worker inherits the list of mutmut's earlier runs


def pytest_runtest_setup(item: pytest.Item) -> None:
    _tests.append(item.nodeid)


@pytest.hookimpl(trylast=True)  # after conformance.plugin has set the verdict's exit code
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    name = _real_mutant_under_test()
    if name == "stats":  # every function the emulator ran is judged by every check
        everything = set(state().duration_by_test)
        for function in state().tests_by_mangled_function_name:
            state().tests_by_mangled_function_name[function] = set(everything)
    status = int(session.exitstatus)
    out = os.environ.get("CI_MUTATION_OUT")
    if out and name not in ("", "stats", "fail", "mutant_generation"):
        record(Path(out), name, session, status)
    session.exitstatus = 0 if status == 0 else 1


def record(out: Path, name: str, session: pytest.Session, status: int) -> None:
    from conformance.plugin import SUMMARY

    summary = session.config.stash.get(SUMMARY, None)
    failed = []
    if summary is not None:
        for r in summary.results:
            if r.outcome.value in ("failed", "tool error"):
                found = [f.found.splitlines()[0][:300] for f in r.failures if f.found][:2]
                if r.error is not None:
                    found.append(f"{r.error.kind}: {r.error.message[:300]}")
                failed.append({"check": r.check, "outcome": r.outcome.value, "found": found})
    data = {
        "mutant": name,
        "exit": status,
        "verdict": summary.verdict if summary is not None else None,
        "message": summary.message[:300] if summary is not None else "",
        "checks_run": len(_tests),
        "failed": failed,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(data, indent=1), "utf-8")
