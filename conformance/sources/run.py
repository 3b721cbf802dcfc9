"""The run (and replay) source: the checks against a target or the embedded emulator.

Each check runs its examples (hypothesis, shrinking a failure to the minimal input) and ends in
one ``CheckResult``; ``judge`` never raises but for an interruption or a lost target.
"""

import time
from pathlib import Path
from typing import Any

from hypothesis import example as hypothesis_example
from hypothesis import given, reject, target
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Flaky, Unsatisfiable

from .. import contract
from ..causes import attach_roots
from ..checks import EXCHANGE_OBSERVERS, PAGE_OBSERVERS, QUERY_STRATEGIES, Check
from ..client import BudgetExceeded, Client, Exchange, TargetError
from ..emulator.app import EXAMPLE_CREDENTIALS, Behaviour, Emulator
from ..emulator.server import EmulatorServer
from ..emulator.store import Store, generate
from ..engine import Source, TargetLost, hypothesis_settings, tool_error
from ..evidence import command, exchange_record, sign_line
from ..options import TEMPORARY, Settings, recorded
from ..query import Query
from ..results import VACUOUS_REASON, CheckResult, Failure, Outcome, RunSummary, decide, vacuous
from ..session import (
    MAX_CENSUS_PAGES,
    UNKNOWN_DATA,
    CheckFailure,
    NoData,
    Session,
    SkipCheck,
    Traffic,
)
from ..xmlmodel import XMLProblem, parse_error, safe_parse

CREDENTIALS = "COS_SECRET_ID and COS_SECRET_KEY (and COS_SECURITY_TOKEN) from the environment"


class RunSource(Source):
    kind = "run"

    def __init__(self, settings: Settings, summary_path: str | None = None,
                 checks: list[Check] | None = None) -> None:  # fmt: skip
        self.settings, self.summary_path = settings, summary_path
        self.checks = settings.chosen() if checks is None else checks
        self.server: Any = None
        self.known_jobs: list | None = None
        self.unknown_data = UNKNOWN_DATA
        self.target = settings.target or ""
        self.session: Session | None = None
        self.secrets: tuple[str, ...] = ()

    def start(self, on_exchange: Any = None) -> tuple[str, str] | None:
        """Start the target and probe it; ``(verdict, message)`` when it cannot be judged."""
        s = self.settings
        url = s.target or self._start_emulator()
        client = Client(url, s.credentials, host_header=s.host_header, timeout=s.timeout,
                        rate_limit=s.rate_limit, max_requests=s.max_requests,
                        max_duration=s.max_duration)  # fmt: skip
        self.secrets = client.secrets
        observers = list(EXCHANGE_OBSERVERS) + ([on_exchange] if on_exchange else [])
        self.session = session = Session(
            client, allow_writes=s.allow_writes or self.server is not None,
            known_jobs=self.known_jobs, profile=s.profile,
            seed_when_empty=s.allow_writes,  # only when the user allowed writes explicitly
            observers=(observers, PAGE_OBSERVERS), unknown_data=self.unknown_data,
        )  # fmt: skip
        session.seed, session.examples = s.seed, s.examples
        session.consistency_window, session.workflow_id = s.consistency_window, s.workflow_id
        try:
            probe = session.send(params=[("size", "1")])
        except TargetError as exc:
            return "unreachable", f"target unreachable: {exc}"
        if probe.status >= 500:
            return "unreachable", f"target unusable: a plain signed list request got HTTP {probe.status}"  # fmt: skip
        signature_only = all(c.category == "signature" for c in self.checks)
        problem = misconfiguration(probe, s, signature_only)
        return ("misconfigured", problem) if problem else None

    def _start_emulator(self) -> str:
        s = self.settings
        jobs = list(generate(s.emulator_jobs, s.seed, s.emulator_shape))
        store = Store()
        store.add(jobs)
        app = Emulator(store, [EXAMPLE_CREDENTIALS, TEMPORARY], Behaviour.parse(s.emulator_behaviour),
                       s.emulator_fault, seed=s.seed)  # fmt: skip
        self.known_jobs = None if s.emulator_fault else jobs
        if s.emulator_fault:
            self.unknown_data = (
                "the exact oracle is off while emulator fault switches are on: the other checks "
                "must catch a fault on their own, as they would on a live target"
            )
        self.server = EmulatorServer(app).start()
        faults = f", faults {','.join(s.emulator_fault)}" if s.emulator_fault else ""
        behaviour = f", behaviour {','.join(s.emulator_behaviour)}" if s.emulator_behaviour else ""
        self.target = (f"embedded emulator ({len(jobs)} jobs, {s.emulator_shape}, seed {s.seed}"
                       f"{behaviour}{faults})")  # fmt: skip
        return self.server.url

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def items(self) -> list[Check]:
        return self.checks

    def judge(self, check: Check) -> CheckResult:
        """Run one check's examples: its outcome, decided by the rules of ``results``."""
        session = self.session
        assert session is not None
        session.traffic = Traffic()
        started = time.monotonic()
        result = self.not_run(check, "", Outcome.PASSED)
        stats = {"examples": 0, "with_jobs": 0}
        try:
            run_examples(session, check, self.settings, stats)
            if vacuous(check.judges_jobs, stats["examples"], stats["with_jobs"]):
                result.outcome, result.reason = Outcome.VACUOUS, VACUOUS_REASON.format(n=stats["examples"])  # fmt: skip
        except (CheckFailure, Flaky) as caught:
            failure = _within(caught, CheckFailure)
            if failure is None:
                result.outcome, result.error = Outcome.TOOL_ERROR, tool_error(caught)
                result.reason = f"{type(caught).__name__} inside ci-conformance"
            else:
                if failure is not caught:  # seen, then not again on replay: it stands, unshrunk
                    failure.message += (" (seen once: the target answered otherwise when "
                                        "hypothesis replayed it, so it is not shrunk)")  # fmt: skip
                result.outcome = Outcome.FAILED
                result.failures = [self.record(failure, check, session.traffic)]
        except BudgetExceeded as spent:
            result.outcome, result.reason = Outcome.NOT_RUN, str(spent)
        except TargetError as gone:  # reachable at the start, not any more
            raise TargetLost(f"target unreachable during the run: {gone}") from None
        except SkipCheck as skip:
            result.outcome, result.reason = Outcome.SKIPPED, str(skip)
            result.extra["no_data"] = isinstance(skip, NoData)
        except Exception as exc:  # a bug of ours: never the target's fault
            result.outcome, result.error = Outcome.TOOL_ERROR, tool_error(exc)
            result.reason = f"{type(exc).__name__} inside ci-conformance: {str(exc)[:300]}"
        result.examples, result.examples_with_jobs = stats["examples"], stats["with_jobs"]
        result.seconds = round(time.monotonic() - started, 2)
        return result

    def record(self, failure: CheckFailure, check: Check, traffic: Traffic) -> Failure:
        """Everything a person or ``replay`` needs about one failure of ``check``; one that cites
        no exchange shows the first and last of ``traffic`` (what the check sent), and a count."""
        query, path = failure.query, self.summary_path
        record = Failure(
            check=check.name,
            clause=check.clause,
            anchor=check.anchor,
            contract=contract.ref(check.anchor) if check.anchor else "",
            found=failure.message,
            query=query.describe() if query is not None else None,
            query_params=query.params() if query is not None else None,
            exchanges=[exchange_record(ex) for ex in failure.exchanges[:4]],
        )
        if path:  # a summary.json is written: the failure can be replayed from it
            record.reproduce["replay"] = f"ci-conformance replay {path} --checks {record.check}"
        if not record.exchanges and traffic.count:
            record.traffic = traffic.lines()
            record.exchanges = [exchange_record(ex) for ex in traffic.ends()]
            record.exchanges_note = (
                f"the failure cites no response; the check made {traffic.count} requests, "
                "of which these are the first and the last"
            )
        if self.server is None and record.exchanges:  # a live target: how to send it again
            line = sign_line(record.exchanges[-1], keep_time=check.anchor == "sig-window")
            if line:
                record.reproduce["sign"] = line
        return record

    def summary(self, results: list[CheckResult], *, unusable: str = "", message: str = "",
                interrupted: bool = False) -> RunSummary:  # fmt: skip
        s, session = self.settings, self.session
        failures = [f for r in results for f in r.failures]
        roots = attach_roots(failures)
        path = self.summary_path
        replay = f"ci-conformance replay {path}" if failures and path else None
        again = (
            command(["run", "--report-dir", str(Path(path).parent)], recorded(s)) if path else ""
        )
        summary = RunSummary(
            kind="run",
            verdict=decide(results, unusable=unusable, interrupted=interrupted),
            message=message,
            caveats=caveats(results, session),
            results=results,
            failures=[f for g in roots for f in g[0]],
            root_causes=[g[1] for g in roots],
            target=self.target,
            live=bool(self.settings.target),  # the embedded emulator is stopped by now
            profile=s.profile,
            seed=s.seed,
            options=recorded(s),
            contract=contract.DOC,
            replay=replay,
            reproduce=[replay or again] if path else [],
            credentials=CREDENTIALS if self.server is None and s.target else None,
        )  # fmt: skip
        if session is not None:
            summary.requests = session.client.requests_made
            summary.retries = session.client.retries_made
            summary.coverage = session.coverage.report(
                session.census_taken, bool(session.client.credentials.token), session.allow_writes
            )
            summary.behaviour = session.coverage.fingerprint()
            summary.consistency_window = {"allowed_s": session.consistency_window,
                                          "waits_s": session.consistency_waits}  # fmt: skip
        return summary


def _within(exc: BaseException, kind: type) -> Any:
    """The first exception of ``kind`` that ``exc`` carries (its cause, context or group)."""
    todo, seen = [exc], set()
    for e in todo:  # breadth first: ``todo`` grows as it is walked
        if isinstance(e, kind):
            return e
        if id(e) not in seen:
            seen.add(id(e))
            todo += [x for x in (e.__cause__, e.__context__, *getattr(e, "exceptions", ())) if x]
    return None


def caveats(results: list[CheckResult], session: Session | None) -> list[str]:
    """What the verdict line must add: checks skipped for lack of data, a run cut short."""
    said = []
    if no_data := sum(1 for r in results if r.extra.get("no_data")):
        said.append(f"{no_data} check(s) skipped for lack of data: the target has too few jobs")
    if unrun := [r for r in results if r.outcome == Outcome.NOT_RUN]:
        why = (session is not None and session.client.stopped) or unrun[0].reason
        said.append(f"incomplete: {len(unrun)} check(s) not run ({why})")
    if session is not None and session.census_taken and not session.census_taken.complete:
        said.append(f"the census stopped after {MAX_CENSUS_PAGES:,} pages: values come from those")
    if errors := [r for r in results if r.outcome == Outcome.TOOL_ERROR]:
        said.append(f"{len(errors)} check(s) ended in an error of ci-conformance itself (a bug to "
                    "report), not of the target")  # fmt: skip
    return said


def run_examples(session: Session, check: Check, settings: Settings, stats: dict) -> None:
    """The check's examples: explicit ones first (its edges, a replay's minimal queries), then
    drawn ones, steered towards walks of several pages; a failure is shrunk to the minimal one."""
    if check.given is None:
        before = session.jobs_seen
        check.run(session)
        stats.update(examples=1, with_jobs=int(session.jobs_seen > before))
        return
    strategy = check.given(session)
    last_skip: list[SkipCheck] = []
    stopped: list[TargetError] = []

    @hypothesis_settings(check.examples(settings.examples))
    @hypothesis_seed(settings.seed)
    @given(strategy)
    def example(value: object) -> None:
        if stopped:
            return
        pages, jobs = session.pages_seen, session.jobs_seen
        try:
            check.run(session, value)
        except SkipCheck as skip:
            last_skip[:] = [skip]
            reject()
        except TargetError as stop:  # a spent budget or a lost target: no failure, stop asking
            stopped[:] = [stop]
        stats["examples"] += 1
        stats["with_jobs"] += session.jobs_seen > jobs
        # steer generation towards inputs that walk several pages and see jobs; capped, so
        # that it never pushes towards ever longer (costlier) walks
        target(float(min(session.pages_seen - pages, 6)), label="pages walked (up to 6)")
        target(float(min(session.jobs_seen - jobs, 100)), label="jobs seen (up to 100)")

    explicit = list(check.edges(session)) if check.edges else []
    if check.given in QUERY_STRATEGIES:  # a replay's recorded minimal queries run first
        explicit[:0] = [Query.from_params(dict(p)) for p in settings.replayed.get(check.name, [])]
    for value in reversed(explicit):
        example = hypothesis_example(value)(example)
    try:
        example()
    except Unsatisfiable:
        raise (last_skip[0] if last_skip else SkipCheck("no example could exercise this check")) from None  # fmt: skip
    if stopped:
        raise stopped[0]


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
        return (f"`GET /inventorytriggerjob` answered {said}: is this the CI endpoint? "
                "Check --target, or --bucket and --region")  # fmt: skip
    if probe.status not in (401, 403) or signature_only:
        return ""
    if doc.code in UNKNOWN_KEY:
        return (f"the target does not know these credentials ({said}): check --secret-id "
                f"(COS_SECRET_ID){token}, and that they belong to this target")  # fmt: skip
    if doc.code in CLOCK or any(w in doc.message.lower() for w in ("skew", "expired")):
        return f"the target refused the request's time ({said}): check this machine's clock"
    if doc.code == "AccessDenied" and "denied" in doc.message.lower():
        return (f"the target denied a plain signed list request ({said}): check --secret-key "
                f"(COS_SECRET_KEY){token}, and that the key may call ci:DescribeInventoryTriggerJobs; "
                "if both are right, the target's signature verification is broken: run "
                "`--checks signature` to see where")  # fmt: skip
    return (f"the target refused the signature of a plain list request ({said}): check --secret-key "
            f"(COS_SECRET_KEY){token}; if these keys are right, the target's signature verification "
            "is broken: run `--checks signature` to see where")  # fmt: skip
