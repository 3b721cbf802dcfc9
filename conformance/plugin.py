"""The pytest plugin (entry point ``pytest11``): target options, the session, check reporting.

Every option has a CLI flag of the same name and an environment variable. Options only take
effect for the suite (``pytest --pyargs conformance.suite``); other test runs are untouched.
"""

from __future__ import annotations

import json
import os
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .client import Client, TargetError, redact
from .session import CheckFailure, Session, check_profile
from .signing import Credentials


@dataclass(frozen=True)
class Option:
    flag: str
    env: str | None
    help: str
    kind: type = str
    default: object = None
    action: str | None = None


OPTIONS = [
    Option(
        "--target",
        "CI_CONFORMANCE_TARGET",
        "base URL of the target, e.g. http://127.0.0.1:9000 (default: the embedded emulator)",
    ),
    Option(
        "--bucket",
        "CI_CONFORMANCE_BUCKET",
        "bucket (BucketName-APPID); with --region targets https://B.ci.R.myqcloud.com",
    ),
    Option("--region", "CI_CONFORMANCE_REGION", "region, e.g. ap-beijing"),
    Option(
        "--host-header",
        "CI_CONFORMANCE_HOST_HEADER",
        "Host to send and sign when it differs from the URL's",
    ),
    Option("--secret-id", "COS_SECRET_ID", "SecretId (never printed)"),
    Option("--secret-key", "COS_SECRET_KEY", "SecretKey (never printed)"),
    Option(
        "--security-token",
        "COS_SECURITY_TOKEN",
        "security token of temporary credentials (never printed)",
    ),
    Option(
        "--allow-writes",
        "CI_CONFORMANCE_ALLOW_WRITES",
        "let the suite create jobs on the target",
        action="store_true",
    ),
    Option("--rate-limit", "CI_CONFORMANCE_RATE_LIMIT", "most requests per second, e.g. 5 or 5/s"),
    Option("--timeout", "CI_CONFORMANCE_TIMEOUT", "seconds per request", float, 10.0),
    Option(
        "--max-requests",
        "CI_CONFORMANCE_MAX_REQUESTS",
        "request budget; checks past it are skipped",
        int,
    ),
    Option("--profile", "CI_CONFORMANCE_PROFILE", "TOML file pinning open points of API-NOTES §6"),
    Option(
        "--seed", "CI_CONFORMANCE_SEED", "seed for generation (and the emulator's dataset)", int, 0
    ),
    Option(
        "--max-examples",
        "CI_CONFORMANCE_MAX_EXAMPLES",
        "examples per check (overrides --examples-profile)",
        int,
    ),
    Option(
        "--examples-profile",
        "CI_CONFORMANCE_EXAMPLES_PROFILE",
        "dev, ci (default) or thorough",
        str,
        "ci",
    ),
    Option("--checks", "CI_CONFORMANCE_CHECKS", "comma-separated check names or categories to run"),
    Option(
        "--exclude-checks",
        "CI_CONFORMANCE_EXCLUDE_CHECKS",
        "comma-separated check names or categories to skip",
    ),
    Option(
        "--emulator-jobs", "CI_CONFORMANCE_EMULATOR_JOBS", "jobs in the embedded emulator", int, 300
    ),
    Option(
        "--emulator-fault",
        "CI_CONFORMANCE_EMULATOR_FAULT",
        "comma-separated fault switches for the embedded emulator",
    ),
    Option(
        "--emulator-behaviour",
        "CI_CONFORMANCE_EMULATOR_BEHAVIOUR",
        "comma-separated name=value open-point choices for the embedded emulator",
    ),
]

EXAMPLES = {"dev": 8, "ci": 20, "thorough": 200}


EXIT_UNREACHABLE = 13  # pytest's own codes stop at 5; the CLI maps this to its exit 3


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ci-conformance", "ci-conformance: the target under test")
    group.addoption(
        "--conformance-json",
        dest="cc_json",
        default=None,
        help="write a machine-readable summary (verdict, counts, failures) here",
    )
    for o in OPTIONS:
        dest = o.flag[2:].replace("-", "_")
        if o.action:
            group.addoption(o.flag, action=o.action, dest=f"cc_{dest}", help=o.help)
        else:
            group.addoption(
                o.flag,
                dest=f"cc_{dest}",
                default=None,
                help=o.help + (f" [env {o.env}]" if o.env else ""),
            )


def option(config: pytest.Config, name: str):
    """An option's value: the flag, else its environment variable, else its default."""
    o = next(x for x in OPTIONS if x.flag == f"--{name.replace('_', '-')}")
    value = config.getoption(f"cc_{name}")
    if value in (None, False) and o.env and os.environ.get(o.env):
        value = os.environ[o.env]
        if o.action:
            value = value.lower() in ("1", "true", "yes")
    if value in (None, False):
        return o.default if not o.action else False
    try:
        return o.kind(value) if not o.action else bool(value)
    except ValueError:
        raise pytest.UsageError(f"{o.flag}: {value!r} is not a {o.kind.__name__}") from None


def split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _rate(value: str | None) -> float | None:
    if not value:
        return None
    try:
        rate = float(value.removesuffix("/s"))
    except ValueError:
        raise pytest.UsageError(f"--rate-limit: {value!r} is not a number per second") from None
    if rate <= 0:
        raise pytest.UsageError("--rate-limit must be positive")
    return rate


class Target:
    """The target of a run: a given URL, a bucket, or the embedded emulator (started here)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.server = None
        self.known_jobs = None
        self.description = ""

    def start(self) -> Session:
        c = self.config
        url, creds = option(c, "target"), None
        if not url and option(c, "bucket"):
            if not option(c, "region"):
                raise pytest.UsageError("--bucket needs --region")
            url = f"https://{option(c, 'bucket')}.ci.{option(c, 'region')}.myqcloud.com"
        if url:
            sid, key = option(c, "secret_id"), option(c, "secret_key")
            if not (sid and key):
                raise pytest.UsageError(
                    "a target needs --secret-id and --secret-key (or COS_SECRET_ID, COS_SECRET_KEY)"
                )
            creds = Credentials(sid, key, option(c, "security_token"))
            self.description = url
        else:
            creds = self._start_emulator()
            url = self.server.url
        profile = {}
        if option(c, "profile"):
            path = Path(option(c, "profile"))
            try:
                profile = check_profile(tomllib.loads(path.read_text("utf-8")))
            except (OSError, tomllib.TOMLDecodeError, ValueError) as exc:
                raise pytest.UsageError(f"--profile {path}: {exc}") from None
        client = Client(
            url,
            creds,
            host_header=option(c, "host_header"),
            timeout=option(c, "timeout"),
            rate_limit=_rate(option(c, "rate_limit")),
            max_requests=option(c, "max_requests"),
        )
        return Session(
            client,
            allow_writes=option(c, "allow_writes") or self.server is not None,
            temporary=bool(creds.token),
            known_jobs=self.known_jobs,
            profile=profile,
        )

    def _start_emulator(self) -> Credentials:
        from .emulator.app import EXAMPLE_CREDENTIALS, Behaviour, Emulator
        from .emulator.server import EmulatorServer
        from .emulator.store import Store, generate

        c = self.config
        try:
            behaviour = Behaviour.parse(split(option(c, "emulator_behaviour")))
            faults = split(option(c, "emulator_fault"))
            temporary = Credentials(
                "AKIDconformanceTemporary00000000000",
                "conformance-temporary-key",
                token="conformance-session-token",
            )
            store = Store()
            self.known_jobs = list(generate(option(c, "emulator_jobs"), option(c, "seed")))
            store.add(self.known_jobs)
            app = Emulator(store, [EXAMPLE_CREDENTIALS, temporary], behaviour, faults)
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None
        if faults:  # a faulty emulator's writes may land anywhere: the oracle no longer applies
            self.known_jobs = None
        self.server = EmulatorServer(app).start()
        self.description = (
            f"embedded emulator ({len(store)} jobs, seed {option(c, 'seed')}"
            + (f", faults {','.join(faults)}" if faults else "")
            + ")"
        )
        return temporary

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


@pytest.fixture(scope="session")
def conformance_session(request: pytest.FixtureRequest) -> Iterator[Session]:
    target = Target(request.config)
    session = target.start()
    request.config.stash[RUN] = {
        "target": target.description,
        "session": session,
        "started": time.monotonic(),
    }
    try:
        probe = session.send(params=[("size", "1")])
    except TargetError as exc:
        target.stop()
        pytest.exit(f"target unreachable: {exc}", returncode=EXIT_UNREACHABLE)
    if probe.status >= 500:
        target.stop()
        pytest.exit(
            f"target unusable: a plain signed list request got HTTP {probe.status}",
            returncode=EXIT_UNREACHABLE,
        )
    try:
        yield session
    finally:
        target.stop()


RUN = pytest.StashKey[dict]()


def examples(config: pytest.Config) -> int:
    n = option(config, "max_examples")
    if n:
        return n
    name = option(config, "examples_profile")
    if name not in EXAMPLES:
        raise pytest.UsageError(f"--examples-profile: {name!r} is not one of {', '.join(EXAMPLES)}")
    return EXAMPLES[name]


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
        failure = call.excinfo.value
        report.longrepr = describe_failure(failure)
        report.user_properties.append(("found", failure.message))
        if failure.query is not None:
            report.user_properties.append(("query", failure.query.describe()))


RESULTS = pytest.StashKey[list]()


class _Recorder:
    """Collects one result per check for summary.json (one per run, so in-process runs stay apart)."""

    def __init__(self) -> None:
        self.results: list[dict] = []
        self.started = time.monotonic()

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
        }
        entry["elapsed_s"] = round(time.monotonic() - self.started, 2)
        if report.skipped and isinstance(report.longrepr, tuple):
            entry["reason"] = report.longrepr[2].removeprefix("Skipped: ")
        if report.failed:
            entry["found"] = (
                props.get("found") or str(report.longrepr).strip().splitlines()[-1][:500]
            )
            entry["query"] = props.get("query")
            entry["details"] = str(report.longrepr)[:20000]
        self.results.append(entry)


def pytest_configure(config: pytest.Config) -> None:
    recorder = _Recorder()
    config.stash[RESULTS] = recorder.results
    config.pluginmanager.register(recorder, "ci-conformance-recorder")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    path = session.config.getoption("cc_json", None)
    run = session.config.stash.get(RUN, None)
    if not path or run is None:
        return
    write_summary(Path(path), run, session.config.stash[RESULTS], session.config, exitstatus)


def write_summary(
    path: Path, run: dict, results: list[dict], config: pytest.Config, exitstatus: int
) -> None:
    from . import __version__
    from .checks import CATEGORIES

    session: Session = run["session"]
    failures = [r for r in results if r["outcome"] == "failed"]
    counts = {c: {"passed": 0, "failed": 0, "skipped": 0} for c in CATEGORIES}
    for r in results:
        counts[r["category"]][r["outcome"]] += 1
    summary = {
        "verdict": "conformant" if not failures and exitstatus == 0 else "violations",
        "tool_version": __version__,
        "target": run["target"],
        "profile": session.profile,
        "seed": option(config, "seed"),
        "duration_s": round(time.monotonic() - run.get("started", time.monotonic()), 2),
        "requests": session.client.requests_made,
        "retries": session.client.retries_made,
        "counts": counts,
        "results": results,
        "failures": failures,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        redact(json.dumps(summary, indent=2, ensure_ascii=False), session.client.secrets), "utf-8"
    )


def describe_failure(failure: CheckFailure) -> str:
    lines = [
        f"check:  {failure.check}",
        f"clause: {failure.clause}",
        f"found:  {failure.message}",
    ]
    if failure.query is not None:
        lines.append(f"query:  {failure.query.describe()}")
    for ex in failure.exchanges[:4]:
        d = ex.to_dict(body_limit=1500)
        lines += ["", f"{d['method']} {d['url']} -> HTTP {d['status']} ({d['elapsed_ms']} ms)"]
        lines += [f"  < {k}: {v}" for k, v in d["headers"].items()]
        lines += ["  " + line for line in d["body"].splitlines()[:40]]
    return "\n".join(lines)
