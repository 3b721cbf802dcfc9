"""The pytest plugin (entry point ``pytest11``): target options, the session, check reporting.

Every option has a CLI flag of the same name and an environment variable. Options only take
effect for the suite (``pytest --pyargs conformance.suite``); other test runs are untouched.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import cassette
from .checks import EXCHANGE_OBSERVERS, PAGE_OBSERVERS
from .client import Client, TargetError, redact
from .contract import ref
from .options import OPTIONS, TEMPORARY, Settings, dest, read, recorded
from .regression import write_profile
from .report import (
    build_summary,
    describe,
    failure_html,
    failure_record,
    summary_html,
    terminal_summary,
    write_json,
)
from .session import CheckFailure, Session

EXIT_UNREACHABLE = 13  # pytest's own codes stop at 5; the CLI maps this to its exit 3


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ci-conformance", "ci-conformance: the target under test")
    group.addoption(
        "--conformance-json",
        dest="cc_json",
        default=None,
        help="write a machine-readable summary (verdict, counts, failures) here",
    )
    group.addoption(
        "--conformance-progress",
        dest="cc_progress",
        action="store_true",
        help="print one line per check as it finishes",
    )
    for o in OPTIONS:
        env = f" [env {o.env}]" if o.env else ""
        if o.flag_only:
            group.addoption(o.flag, action="store_true", dest=f"cc_{dest(o)}", help=o.help + env)
        else:
            group.addoption(o.flag, dest=f"cc_{dest(o)}", default=None, help=o.help + env)


class Target:
    """The target of a run: a given URL, or the embedded emulator (started here)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.server = None
        self.known_jobs = None
        self.unknown_data = "the target's data is not known (only the embedded emulator's is)"
        self.description = settings.target_url or ""

    def start(self) -> Session:
        s = self.settings
        url = s.target_url or self._start_emulator()
        client = Client(
            url,
            s.credentials,
            host_header=s.host_header,
            timeout=s.timeout,
            rate_limit=s.rate_limit,
            max_requests=s.max_requests,
        )
        session = Session(
            client,
            allow_writes=s.allow_writes or self.server is not None,
            known_jobs=self.known_jobs,
            profile=s.profile,
            seed_when_empty=s.allow_writes,  # only when the user allowed writes explicitly
            observers=(EXCHANGE_OBSERVERS, PAGE_OBSERVERS),
            unknown_data=self.unknown_data,
        )
        session.seed, session.examples = s.seed, s.examples
        session.consistency_window = s.consistency_window
        return session

    def _start_emulator(self) -> str:
        from .emulator.app import EXAMPLE_CREDENTIALS, Behaviour, Emulator
        from .emulator.server import EmulatorServer
        from .emulator.store import Store, generate

        s = self.settings
        store = Store()
        jobs = list(generate(s.emulator_jobs, s.seed, s.emulator_shape))
        store.add(jobs)
        # the suite signs with temporary credentials here, so the token checks run too
        app = Emulator(
            store,
            [EXAMPLE_CREDENTIALS, TEMPORARY],
            Behaviour.parse(s.emulator_behaviour),
            s.emulator_faults,
            seed=s.seed,  # jobs the suite creates get the same IDs and times on every run
        )
        # With fault switches on, the emulator stands in for a target whose data is unknown:
        # the metamorphic checks must catch the fault on their own, as against a live target.
        self.known_jobs = None if s.emulator_faults else jobs
        if s.emulator_faults:
            self.unknown_data = (
                "the exact oracle is off while emulator fault switches are on: the other checks "
                "must catch a fault on their own, as they would on a live target"
            )
        self.server = EmulatorServer(app).start()
        faults = f", faults {','.join(s.emulator_faults)}" if s.emulator_faults else ""
        self.description = (
            f"embedded emulator ({len(jobs)} jobs, {s.emulator_shape}, seed {s.seed}{faults})"
        )
        return self.server.url

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


@pytest.fixture(scope="session")
def conformance_session(request: pytest.FixtureRequest) -> Iterator[Session]:
    target = Target(request.config.stash[SETTINGS])
    session = target.start()
    cassette.attach(request.config, session, target.description)  # --record
    request.config.stash[RUN] = {
        "target": target.description,
        "live": target.server is None,
        "session": session,
        "started": time.monotonic(),
    }
    try:
        probe = session.send(params=[("size", "1")])
    except TargetError as exc:
        unusable = f"target unreachable: {exc}"
    else:
        unusable = (
            f"target unusable: a plain signed list request got HTTP {probe.status}"
            if probe.status >= 500
            else ""
        )
    if unusable:
        target.stop()
        request.config.stash[RUN]["unusable"] = unusable
        pytest.exit(unusable, returncode=EXIT_UNREACHABLE)
    try:
        yield session
    finally:
        target.stop()


RUN = pytest.StashKey[dict]()


FAILURE_HTML = pytest.StashKey[dict]()
TRAFFIC_FROM = pytest.StashKey[int]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Marks where a check's traffic starts, so a failure citing no response can show it."""
    session = item.funcargs.get("conformance_session")
    item.stash[TRAFFIC_FROM] = len(session.exchanges) if isinstance(session, Session) else 0
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    check = getattr(item, "callspec", None) and item.callspec.params.get("check")
    if check is None:
        return
    report.user_properties += [
        ("check", check.name),
        ("category", check.category),
        ("clause", check.clause),
        ("contract", ref(check.anchor)),
    ]
    if call.excinfo is not None and isinstance(call.excinfo.value, CheckFailure):
        session = item.funcargs.get("conformance_session")
        made = session.exchanges[item.stash.get(TRAFFIC_FROM, 0) :] if session else []
        record = failure_record(
            call.excinfo.value,
            check,
            item.config.getoption("cc_json"),
            live_target=bool(item.config.stash.get(RUN, {}).get("live")),
            check_traffic=made,
        )
        report.conformance_failure = record
        report.longrepr = describe(record)
        report.user_properties += [("found", record["found"]), ("query", record["query"] or "")]
        extra = {
            "name": "failure",
            "format_type": "html",
            "content": failure_html(record),
            "extension": "html",
            "mime_type": None,
        }
        # kept to add the likely root cause once every failure is known (see HtmlHooks)
        item.config.stash.setdefault(FAILURE_HTML, {})[check.name] = extra
        report.extras = [*getattr(report, "extras", []), extra]


RESULTS = pytest.StashKey[list]()


class _Recorder:
    """Collects one result per check for summary.json (one per run, so in-process runs stay apart)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.results: list[dict] = []
        self.started = time.monotonic()
        self.totals: dict[str, int] = {}

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            check = getattr(item, "callspec", None) and item.callspec.params.get("check")
            if check is not None:
                self.totals[check.category] = self.totals.get(check.category, 0) + 1

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if "check" not in props or (report.when != "call" and report.outcome == "passed"):
            return
        outcome = "skipped" if report.skipped else ("failed" if report.failed else "passed")
        entry = {
            "check": props["check"],
            "category": props["category"],
            "clause": props["clause"],
            "contract": props["contract"] or None,
            "outcome": outcome,
            "elapsed_s": round(time.monotonic() - self.started, 2),
        }
        if "examples" in props:
            entry["examples"] = props["examples"]
            entry["examples_with_jobs"] = props["examples_with_jobs"]
        if report.skipped and isinstance(report.longrepr, tuple):
            entry["reason"] = report.longrepr[2].removeprefix("Skipped: ")
        if report.failed:
            record = getattr(report, "conformance_failure", None)
            entry["found"] = (
                record["found"] if record else str(report.longrepr).strip().splitlines()[-1][:500]
            )
            entry["failure"] = record or {
                "check": props["check"],
                "clause": props["clause"],
                "anchor": None,
                "contract": props["contract"] or None,
                "found": entry["found"],
                "query": None,
                "exchanges": [],
                "reproduce": {},
                "error": str(report.longrepr)[-5000:],
            }
        self.results.append(entry)
        if self.config.getoption("cc_progress"):
            reporter = self.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:  # a failure's text comes once, at the end
                why = entry.get("reason", "")
                done = sum(1 for r in self.results if r["category"] == entry["category"])
                count = f"{done}/{self.totals.get(entry['category'], done)}"
                reporter.write_line(
                    f"  [{entry['category']:<10} {count:>5}] {outcome.upper():<7} {entry['check']}"
                    + (f": {why}" if why else "")
                )


SETTINGS = pytest.StashKey[Settings]()


@pytest.hookimpl(trylast=True)  # after pytest's logging plugin has made its handlers
def pytest_configure(config: pytest.Config) -> None:
    try:
        config.stash[SETTINGS] = read(lambda name: config.getoption(f"cc_{name}"))
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    recorder = _Recorder(config)
    config.stash[RESULTS] = recorder.results
    config.pluginmanager.register(recorder, "ci-conformance-recorder")
    if config.stash[SETTINGS].record:
        path = Path(config.stash[SETTINGS].record)
        config.pluginmanager.register(cassette.Recorder(path), "ci-conformance-cassette")
    if config.pluginmanager.hasplugin("html"):
        config.pluginmanager.register(HtmlHooks(), "ci-conformance-html")
    if config.getoption("cc_progress"):
        config.pluginmanager.register(_QuietTerminal(), "ci-conformance-quiet")
    # urllib3 logs request URLs at DEBUG, and a presigned URL carries its signature and token:
    # every handler that captures logs into reports redacts them (logger filters would miss
    # records of child loggers such as urllib3.connectionpool).
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


def _summary(config: pytest.Config, exitstatus: int = 0) -> dict | None:
    run = config.stash.get(RUN, None)
    if run is None:
        return None
    settings = config.stash[SETTINGS]
    return build_summary(
        run,
        config.stash[RESULTS],
        settings.seed,
        exitstatus,
        time.monotonic() - run["started"],
        options=recorded(settings),
        summary_path=config.getoption("cc_json", None),
    )


SUMMARY = pytest.StashKey[dict]()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    path = session.config.getoption("cc_json", None)
    summary = _summary(session.config, int(exitstatus))
    if summary is None:
        return
    session.config.stash[SUMMARY] = summary
    if path:
        write_json(Path(path), summary, session.config.stash[RUN]["session"].client.secrets)
    if session.config.stash[SETTINGS].write_profile:
        write_profile(Path(session.config.stash[SETTINGS].write_profile), summary)


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    summary = config.stash.get(SUMMARY, None)
    if summary is None:
        return
    reports = [
        str(p)
        for p in (config.getoption("htmlpath", None), config.getoption("xmlpath", None),
                  config.getoption("cc_json", None))
        if p
    ]  # fmt: skip
    for line in terminal_summary(summary, reports):
        terminalreporter.write_line(line)


class _QuietTerminal:
    """``ci-conformance run``'s terminal: the progress lines and the summary, without pytest's
    rules around other plugins' notes (the report paths are in the verdict line)."""

    @pytest.hookimpl(hookwrapper=True)
    def pytest_terminal_summary(self, terminalreporter) -> Iterator[None]:
        write_sep = terminalreporter.write_sep
        terminalreporter.write_sep = lambda *a, **k: None
        try:
            yield
        finally:
            terminalreporter.write_sep = write_sep


@pytest.hookimpl(tryfirst=True)
def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config):
    """With progress lines, pytest's own progress dots would only repeat them."""
    if config.getoption("cc_progress", False) and report.when == "call":
        return report.outcome, "", report.outcome.upper()
    return None


class HtmlHooks:
    """pytest-html hooks, registered only when pytest-html is active. They act on suite runs
    only: another project's report is left as it is."""

    def __init__(self) -> None:
        self.report = None

    def pytest_html_report_title(self, report) -> None:
        self.report = report  # pytest-html's report data, set when the suite has run

    def pytest_html_results_table_row(self, report, cells: list) -> None:
        check = dict(report.user_properties).get("check")
        if check is not None:  # the row is named by the check, not pytest's node id
            cells[1] = f'<td class="col-testId">{check}</td>'

    def pytest_html_results_table_html(self, report, data: list) -> None:
        if "check" in dict(report.user_properties):
            data.clear()  # the details say it all; the log would say it again

    def pytest_html_results_summary(self, prefix, summary, postfix, session) -> None:
        data = session.config.stash.get(SUMMARY, None)
        if data is None:
            return
        if self.report is not None:
            self.report.title = "ci-conformance: GET /inventorytriggerjob"
            self.report.set_data("environment", {})  # the facts above say what matters
        extras = session.config.stash.get(FAILURE_HTML, {})
        for record in data["failures"]:
            if record.get("likely_root") and record["check"] in extras:
                extras[record["check"]]["content"] = failure_html(record)
        prefix.append(summary_html(data))
