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
from .options import OPTIONS, TEMPORARY, Settings, dest, read
from .regression import write_profile
from .report import HtmlHooks, build_summary, describe, failure_html, failure_record, write_json
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
        )
        # a faulty emulator's data is not what the oracle knows
        self.known_jobs = None if s.emulator_faults else jobs
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
    ]
    if call.excinfo is not None and isinstance(call.excinfo.value, CheckFailure):
        json_path = item.config.getoption("cc_json") or "reports/summary.json"
        record = failure_record(call.excinfo.value, str(json_path))
        report.conformance_failure = record
        report.longrepr = describe(record)
        report.user_properties += [("found", record["found"]), ("query", record["query"] or "")]
        report.extras = [
            *getattr(report, "extras", []),
            {
                "name": "failure",
                "format_type": "html",
                "content": failure_html(record),
                "extension": "html",
                "mime_type": None,
            },
        ]


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
                "found": entry["found"],
                "query": None,
                "exchanges": [],
                "reproduce": {},
                "error": str(report.longrepr)[-5000:],
            }
        self.results.append(entry)
        if self.config.getoption("cc_progress"):
            reporter = self.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                why = entry.get("reason") or entry.get("found") or ""
                done = sum(1 for r in self.results if r["category"] == entry["category"])
                count = f"{done}/{self.totals.get(entry['category'], done)}"
                reporter.write_line(
                    f"  [{entry['category']:<10} {count:>5}] {outcome.upper():<7} {entry['check']}"
                    + (f": {why[:100]}" if why else "")
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
        config.pluginmanager.register(HtmlHooks(_summary), "ci-conformance-html")
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
    return build_summary(
        run,
        config.stash[RESULTS],
        config.stash[SETTINGS].seed,
        exitstatus,
        time.monotonic() - run["started"],
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    path = session.config.getoption("cc_json", None)
    summary = _summary(session.config, int(exitstatus))
    if path and summary is not None:
        write_json(Path(path), summary, session.config.stash[RUN]["session"].client.secrets)
    if summary is not None and session.config.stash[SETTINGS].write_profile:
        write_profile(Path(session.config.stash[SETTINGS].write_profile), summary)


@pytest.hookimpl(tryfirst=True)
def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config):
    """With progress lines, pytest's own progress dots would only repeat them."""
    if config.getoption("cc_progress", False) and report.when == "call":
        return report.outcome, "", report.outcome.upper()
    return None
