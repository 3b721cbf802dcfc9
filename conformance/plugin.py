"""The pytest plugin (entry point ``pytest11``): target options, the session, check reporting.

Every option has a CLI flag of the same name and an environment variable. Options only take
effect for the suite (``pytest --pyargs conformance.suite``); other test runs are untouched.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import cassette
from .checks import EXCHANGE_OBSERVERS, PAGE_OBSERVERS, select
from .client import Client, Exchange, TargetError, redact
from .contract import ref
from .options import OPTIONS, TEMPORARY, Settings, dest, hypothesis_storage, read, recorded
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
from .session import CheckFailure, NoData, Session, Traffic
from .xmlmodel import XMLProblem, parse_error, safe_parse

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
            max_duration=s.max_duration,
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
        session.workflow_id = s.workflow_id
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
    hypothesis_storage()
    target = Target(request.config.stash[SETTINGS])
    session = target.start()
    cassette.attach(request.config, session, target.description)  # --record
    request.config.stash[RUN] = {
        "target": target.description,
        "live": target.server is None,
        "session": session,
        "started": time.monotonic(),
    }
    settings = request.config.stash[SETTINGS]
    verdict = "unreachable"
    try:
        probe = session.send(params=[("size", "1")])
    except TargetError as exc:
        unusable = f"target unreachable: {exc}"
    else:
        if probe.status >= 500:
            unusable = f"target unusable: a plain signed list request got HTTP {probe.status}"
        else:
            signature_only = all(
                c.category == "signature" for c in select(settings.checks, settings.exclude_checks)
            )
            unusable = misconfiguration(probe, settings, signature_only)
            verdict = "misconfigured"
    if unusable:
        target.stop()
        request.config.stash[RUN] |= {"unusable": unusable, "verdict": verdict}
        pytest.exit(unusable, returncode=EXIT_UNREACHABLE)
    try:
        yield session
    finally:
        target.stop()


RUN = pytest.StashKey[dict]()
UNKNOWN_KEY = ("InvalidAccessKeyId", "SecretidNotExist")
CLOCK = ("RequestTimeTooSkewed", "SignatureExpired")


def misconfiguration(probe: Exchange, settings: Settings, signature_only: bool) -> str:
    """What a plain signed list request says is wrong with the run itself, in one line, before
    any check: keys the target refuses, or a URL that is not this API. Empty when the checks
    can judge the answer. With only signature checks chosen, refused keys do not stop the run:
    those checks show where the target's verification goes wrong."""
    ctype = (probe.header("Content-Type") or "no Content-Type").split(";")[0].strip()
    try:
        root = safe_parse(probe.body)
    except XMLProblem:
        root = None
    if root is None or root.tag not in ("Response", "Error"):
        if probe.status == 200 and "xml" in ctype:
            return ""  # a broken list response: the checks say how
        return (
            f"`GET /inventorytriggerjob` answered {probe.status} {ctype}: is this the CI endpoint?"
        )
    if root.tag != "Error" or probe.status < 400:
        return ""
    doc = parse_error(probe.body, check=False)
    said = f"HTTP {probe.status} {doc.code}: {doc.message}".strip().rstrip(":")
    token = " and --security-token (COS_SECURITY_TOKEN)" if settings.credentials.token else ""
    if probe.status == 404:
        return (
            f"`GET /inventorytriggerjob` answered {said}: is this the CI endpoint? "
            "Check --target, or --bucket and --region"
        )
    if probe.status not in (401, 403) or signature_only:
        return ""
    if doc.code in UNKNOWN_KEY:
        return (
            f"the target does not know these credentials ({said}): check --secret-id "
            f"(COS_SECRET_ID){token}, and that they belong to this target"
        )
    if doc.code in CLOCK or any(w in doc.message.lower() for w in ("skew", "expired")):
        return f"the target refused the request's time ({said}): check this machine's clock"
    if doc.code == "AccessDenied" and "denied" in doc.message.lower():
        return (
            f"the target denied a plain signed list request ({said}): check --secret-key "
            f"(COS_SECRET_KEY){token}, and that the key may call ci:DescribeInventoryTriggerJobs; "
            "if both are right, the target's signature verification is broken: run "
            "`--checks signature` to see where"
        )
    return (
        f"the target refused the signature of a plain list request ({said}): check --secret-key "
        f"(COS_SECRET_KEY){token}; if these keys are right, the target's signature verification "
        "is broken: run `--checks signature` to see where"
    )


FAILURE_HTML = pytest.StashKey[dict]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Starts the check's own traffic record, so a failure citing no response can show it."""
    session = item.funcargs.get("conformance_session")
    if isinstance(session, Session):
        session.traffic = Traffic()
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
    if report.skipped and call.excinfo is not None:
        report.no_data = isinstance(call.excinfo.value.__context__, NoData)
    if call.excinfo is not None and isinstance(call.excinfo.value, CheckFailure):
        session = item.funcargs.get("conformance_session")
        made = session.traffic if isinstance(session, Session) else None
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
        self.failed = False

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
            if getattr(report, "no_data", False):
                entry["no_data"] = True
        if report.failed:
            self.failed = True
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

    def pytest_runtest_logfinish(self) -> None:
        """A failed check's exchanges live on in reference cycles (exception, traceback, frames)
        that Python frees only at a rare full collection: free them now, so memory stays flat
        when every answer is a huge body."""
        if self.failed:
            self.failed = False
            gc.collect()


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
    settings, results = config.stash[SETTINGS], config.stash[RESULTS]
    return build_summary(
        run | {"caveats": caveats(results, run["session"])},
        results,
        settings.seed,
        exitstatus,
        time.monotonic() - run["started"],
        options=recorded(settings),
        summary_path=config.getoption("cc_json", None),
    )


def caveats(results: list[dict], session: Session) -> list[str]:
    """What the verdict line must add: checks skipped for lack of data, a run cut short."""
    said = []
    no_data = sum(1 for r in results if r.get("no_data"))
    if no_data:
        said.append(f"{no_data} check(s) skipped for lack of data: the target has too few jobs")
    stopped = session.client.stopped
    if stopped:
        cut = sum(1 for r in results if r.get("reason") == stopped)
        said.append(f"cut short: {stopped}; {cut} check(s) skipped")
    return said


@pytest.hookimpl(tryfirst=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """A run that cannot judge its target ends in one line, not pytest's interruption banner."""
    run = config.stash.get(RUN, None)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if run and run.get("unusable") and reporter is not None:
        reporter._keyboardinterrupt_memo = None  # pytest's "! Exit: ... !" banner
        reporter.write_line(f"ci-conformance: {run['unusable']}")


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
