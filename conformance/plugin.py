"""The pytest plugin (entry point ``pytest11``): the suite as pytest tests, one per check.

``pytest --pyargs conformance.suite`` runs every check through the engine's run source, the
same code ``ci-conformance run`` runs, with pytest's own flags (``-x``, ``-k``, ``--junitxml``,
``--html``...). Every option of the table (``conformance.options``) is a pytest option, read
with its environment variable. The run's exit status is its verdict's exit code. Other test
runs are untouched: nothing starts unless the suite's tests are collected.
"""

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from .client import redact
from .engine import Engine, Handler
from .handlers.files import JsonHandler, ProfileHandler, describe
from .handlers.har import HarHandler
from .handlers.html import page
from .handlers.terminal import summary_lines, verdict_line
from .options import OPTIONS, Settings, hypothesis_storage, read
from .results import CheckResult, Outcome, RunSummary
from .sources.run import RunSource

SETTINGS = pytest.StashKey[Settings]()
SOURCE = pytest.StashKey[RunSource]()
RESULTS = pytest.StashKey[list[CheckResult]]()
SUMMARY = pytest.StashKey[RunSummary]()
UNUSABLE = 13  # the session ends before any check: the run's exit code says why (verdicts)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ci-conformance", "ci-conformance: the target under test")
    group.addoption("--conformance-json", dest="cc_json", default=None,
                    help="write the run's summary (verdict, results, failures) to this JSON file")  # fmt: skip
    for o in OPTIONS:
        env = f" [env {o.env}]" if o.env else ""
        group.addoption(o.flag, dest=f"cc_{o.name}", action="store_true" if o.switch else "store",
                        default=None, help=o.help + env)  # fmt: skip


@pytest.hookimpl(trylast=True)  # after pytest's logging plugin has made its handlers
def pytest_configure(config: pytest.Config) -> None:
    try:
        config.stash[SETTINGS] = read(lambda name: config.getoption(f"cc_{name}"))
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[RESULTS] = []
    if config.pluginmanager.hasplugin("html"):
        config.pluginmanager.register(HtmlHooks(), "ci-conformance-html")
    # urllib3 logs request URLs at DEBUG, and a presigned URL carries its signature and token:
    # every handler that captures logs into reports redacts them.
    capture = config.pluginmanager.get_plugin("logging-plugin")
    for name in ("caplog_handler", "report_handler", "log_file_handler", "log_cli_handler"):
        handler = getattr(capture, name, None)
        if isinstance(handler, logging.Handler):
            handler.addFilter(_redact_records)


def _redact_records(record: logging.LogRecord) -> bool:
    record.msg = redact(str(record.msg))
    if record.args:
        record.args = tuple(redact(str(a)) if isinstance(a, str) else a for a in record.args)
    return True


def handlers(config: pytest.Config) -> list[Handler]:
    s, out = config.stash[SETTINGS], config.getoption("cc_json", None)
    files = ((JsonHandler, out), (HarHandler, s.record), (ProfileHandler, s.write_profile))
    return [kind(Path(path)) for kind, path in files if path]


@pytest.fixture(scope="session")
def conformance_source(request: pytest.FixtureRequest) -> Iterator[RunSource]:
    """The run source, started and probed once per session."""
    hypothesis_storage()
    config = request.config
    source = RunSource(config.stash[SETTINGS], summary_path=config.getoption("cc_json", None))
    config.stash[SOURCE] = source
    chosen = handlers(config)
    stopped = source.start(lambda ex: [h.exchange(ex, _current.get("check")) for h in chosen])
    for h in chosen:
        h.started(source)
    if stopped:
        source.stop()
        config.stash[SUMMARY] = source.summary([], unusable=stopped[0], message=stopped[1])
        pytest.exit(stopped[1], returncode=UNUSABLE)
    try:
        yield source
    finally:
        source.stop()


_current: dict[str, str] = {}


def run_check(source: RunSource, check: object, config: pytest.Config) -> None:
    """One check, judged by the run source; pytest's outcome follows the check's."""
    _current["check"] = check.name  # type: ignore[attr-defined]
    try:
        result = source.judge(check)  # type: ignore[arg-type]
    finally:
        _current.clear()
    config.stash[RESULTS].append(result)
    if result.outcome == Outcome.FAILED:
        pytest.fail("\n\n".join(describe(f) for f in result.failures), pytrace=False)
    if result.outcome == Outcome.TOOL_ERROR and result.error:
        pytest.fail(
            f"tool error: {result.reason}\n{result.error.report}\n{result.error.where}",
            pytrace=False,
        )
    if result.outcome != Outcome.PASSED:
        pytest.skip(f"{result.outcome}: {result.reason}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    source = config.stash.get(SOURCE, None)
    if source is None or (not config.stash[RESULTS] and SUMMARY not in config.stash):
        return
    interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
    summary = config.stash.get(SUMMARY, None) or source.summary(
        config.stash[RESULTS], interrupted=interrupted
    )
    engine = Engine(handlers(config), allow_incomplete=config.stash[SETTINGS].allow_incomplete)
    engine.finish(summary, 130 if interrupted else None)
    config.stash[SUMMARY] = summary
    session.exitstatus = summary.exit_code


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    summary = config.stash.get(SUMMARY, None)
    if summary is None:
        return
    for line in summary_lines(summary):
        terminalreporter.write_line(line)
    terminalreporter.write_line("\n" + verdict_line(summary, [], terminalreporter._tw))


class HtmlHooks:
    """pytest-html, when it is active: the run's own report above pytest-html's table."""

    def pytest_html_results_summary(self, prefix, summary, postfix, session) -> None:
        if (data := session.config.stash.get(SUMMARY, None)) is not None:
            prefix.append(page(data).split("<main>", 1)[-1].split("</main>", 1)[0])
