"""The run's options: one table drives the CLI flags, the pytest options and the environment
variables, read and validated once into ``Settings``. A bad value is a ``ValueError`` with one
line that says what to fix.

A run records the options it was given in its summary.json (``recorded``), secrets aside, as
given; a replay of that summary reads them back through the same table, so it runs against the
same target in the same way. A flag given to the replay wins over what was recorded, and the
environment supplies only what was not recorded: the credentials.
"""

import json
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .checks import select, unknown_names
from .client import base_url_of
from .coverage import check_profile
from .emulator.app import Behaviour
from .emulator.faults import check_names
from .emulator.store import SHAPES
from .signing import Credentials

EXAMPLES = {"dev": 8, "ci": 20, "thorough": 200}
EMULATOR_JOBS = 300  # the embedded emulator's dataset, and `serve`'s
LIVE_MAX_DURATION = 1800.0  # a run against a target stops asking after 30 minutes by default
TEMPORARY = Credentials(
    "AKIDconformanceTemporary00000000000", "conformance-temporary-key", "conformance-session-token"
)


def number(kind: type, minimum: float) -> Callable[[str, str], Any]:
    def parse(flag: str, text: str) -> Any:
        try:
            value = kind(str(text).removesuffix("/s"))
        except ValueError:
            whole = "whole " if kind is int else ""
            raise ValueError(f"{flag}: {text!r} is not a {whole}number") from None
        if value < minimum:
            raise ValueError(f"{flag}: must be at least {minimum:g}")
        return value

    return parse


def names(flag: str, text: str) -> list[str]:
    return [v.strip() for v in str(text).split(",") if v.strip()]


def one_of(choices: Any) -> Callable[[str, str], str]:
    def parse(flag: str, text: str) -> str:
        if text not in choices:
            raise ValueError(f"{flag}: {text!r} is not one of {', '.join(choices)}")
        return str(text)

    return parse


def url(flag: str, text: str) -> str:
    if not str(text).startswith(("http://", "https://")):
        raise ValueError(f"{flag}: {text!r} must start with http:// or https://")
    return base_url_of(str(text))


def checks(flag: str, text: str) -> list[str]:
    chosen = names(flag, text)
    if unknown_names(chosen):
        raise ValueError(f"unknown check or category: {', '.join(unknown_names(chosen))} "
                         "(see ci-conformance list-checks)")  # fmt: skip
    return chosen


def names_checked_by(check: Callable[[list[str]], object]) -> Callable[[str, str], list[str]]:
    def parse(flag: str, text: str) -> list[str]:
        check(chosen := names(flag, text))  # a ValueError names a wrong one
        return chosen

    return parse


def profile(flag: str, value: Any) -> dict[str, str]:
    if isinstance(value, dict):  # recorded by the run being replayed
        return check_profile(value)
    try:
        if "=" in value and not Path(value).exists():  # inline: point=choice,...
            return check_profile(dict(p.split("=", 1) for p in value.split(",")))
        return check_profile(tomllib.loads(Path(value).read_text("utf-8")))
    except (OSError, ValueError) as exc:  # a TOMLDecodeError is a ValueError
        raise ValueError(f"{flag} {value}: {exc}") from None


@dataclass(frozen=True)
class Option:
    name: str  # the Settings field, the CLI's and pytest's dest
    help: str
    env: str | None = None
    parse: Callable[[str, Any], Any] = lambda flag, value: str(value)
    switch: bool = False
    secret: bool = False  # never recorded, never printed
    emulator: bool = False  # means something only for the embedded emulator

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


OPTIONS = [
    Option("target", "base URL of the target, e.g. http://127.0.0.1:9000 (default: the embedded emulator)", "CI_CONFORMANCE_TARGET", url),
    Option("bucket", "bucket (BucketName-APPID); with --region, targets https://B.ci.R.myqcloud.com", "CI_CONFORMANCE_BUCKET"),
    Option("region", "region, e.g. ap-beijing", "CI_CONFORMANCE_REGION"),
    Option("host_header", "Host to send and sign when it differs from the URL's", "CI_CONFORMANCE_HOST_HEADER"),
    Option("secret_id", "SecretId (never printed)", "COS_SECRET_ID", secret=True),
    Option("secret_key", "SecretKey (never printed)", "COS_SECRET_KEY", secret=True),
    Option("security_token", "security token of temporary credentials (never printed)", "COS_SECURITY_TOKEN", secret=True),
    Option("allow_writes", "let the suite create jobs on a live target", "CI_CONFORMANCE_ALLOW_WRITES", switch=True),
    Option("allow_incomplete", "exit 0 when a budget or deadline left checks unrun (the verdict still says incomplete)", "CI_CONFORMANCE_ALLOW_INCOMPLETE", switch=True),
    Option("rate_limit", "most requests per second, e.g. 5 or 5/s", "CI_CONFORMANCE_RATE_LIMIT", number(float, 0.001)),
    Option("timeout", "seconds per request, connect, headers and body together (default 10)", "CI_CONFORMANCE_TIMEOUT", number(float, 0.001)),
    Option("max_duration", "seconds the whole run may take; checks past it are not run (default 1800 against a target, none against the embedded emulator)", "CI_CONFORMANCE_MAX_DURATION", number(float, 0.001)),
    Option("max_requests", "request budget; checks past it are not run", "CI_CONFORMANCE_MAX_REQUESTS", number(int, 1)),
    Option("workflow_id", "a workflow of the target's bucket for the jobs --allow-writes creates (then Workflow jobs only; default: a placeholder that only an emulator accepts)", "CI_CONFORMANCE_WORKFLOW_ID"),
    Option("consistency_window", "seconds a write may take to show in reads (an eventually consistent service; default 0)", "CI_CONFORMANCE_CONSISTENCY_WINDOW", number(float, 0)),
    Option("profile", "TOML file pinning open points of the contract (docs/contract.md), or point=choice,...", "CI_CONFORMANCE_PROFILE", profile),
    Option("seed", "seed of generation and of the emulator's dataset (default 0)", "CI_CONFORMANCE_SEED", number(int, 0)),
    Option("max_examples", "examples per check (overrides --examples-profile)", "CI_CONFORMANCE_MAX_EXAMPLES", number(int, 1)),
    Option("examples_profile", "dev (8), ci (20, the default) or thorough (200) examples per check", "CI_CONFORMANCE_EXAMPLES_PROFILE", one_of(EXAMPLES)),
    Option("checks", "comma-separated check names or categories to run", "CI_CONFORMANCE_CHECKS", checks),
    Option("exclude_checks", "comma-separated check names or categories to skip", "CI_CONFORMANCE_EXCLUDE_CHECKS", checks),
    Option("emulator_jobs", "jobs in the embedded emulator (default 300)", "CI_CONFORMANCE_EMULATOR_JOBS", number(int, 0), emulator=True),
    Option("emulator_shape", f"dataset shape of the embedded emulator: {', '.join(SHAPES)} (default mixed)", "CI_CONFORMANCE_EMULATOR_SHAPE", one_of(SHAPES), emulator=True),
    Option("emulator_fault", "comma-separated fault switches of the embedded emulator (see ci-conformance list-faults)", "CI_CONFORMANCE_EMULATOR_FAULT", names_checked_by(check_names), emulator=True),
    Option("emulator_behaviour", "comma-separated name=value open-point choices of the embedded emulator (see ci-conformance list-behaviours)", "CI_CONFORMANCE_EMULATOR_BEHAVIOUR", names_checked_by(Behaviour.parse), emulator=True),
    Option("replay", "a summary.json whose failures' minimal queries run first"),
    Option("record", "write every exchange of the run, redacted, to this HAR file (for recheck and serve --load)", "CI_CONFORMANCE_RECORD"),
    Option("write_profile", "write the behaviour seen at each open point as a --profile TOML file", "CI_CONFORMANCE_WRITE_PROFILE"),
]  # fmt: skip
BY_NAME = {o.name: o for o in OPTIONS}


@dataclass
class Settings:
    """The options, parsed (each field is an option's name), and what follows from them."""

    target: str | None = None
    bucket: str | None = None
    region: str | None = None
    host_header: str | None = None
    secret_id: str | None = None
    secret_key: str | None = None
    security_token: str | None = None
    allow_writes: bool = False
    allow_incomplete: bool = False
    rate_limit: float | None = None
    timeout: float = 10.0
    max_duration: float | None = None
    max_requests: int | None = None
    workflow_id: str | None = None
    consistency_window: float = 0.0
    profile: dict[str, str] = field(default_factory=dict)
    seed: int = 0
    max_examples: int | None = None
    examples_profile: str = "ci"
    checks: list[str] = field(default_factory=list)
    exclude_checks: list[str] = field(default_factory=list)
    emulator_jobs: int = EMULATOR_JOBS
    emulator_shape: str = "mixed"
    emulator_fault: list[str] = field(default_factory=list)
    emulator_behaviour: list[str] = field(default_factory=list)
    replay: str | None = None
    record: str | None = None
    write_profile: str | None = None
    given: dict[str, Any] = field(default_factory=dict)
    """The options as given (raw), secrets aside: what a summary records."""
    replayed: dict[str, list[list[tuple[str, str]]]] = field(default_factory=dict)
    """With --replay: each failing check's recorded minimal queries."""

    @property
    def credentials(self) -> Credentials:
        if self.target is None:  # the embedded emulator: temporary credentials, so the token
            return TEMPORARY  # checks run too
        return Credentials(str(self.secret_id), str(self.secret_key), self.security_token)

    @property
    def examples(self) -> int:
        return self.max_examples or EXAMPLES[self.examples_profile]

    def chosen(self) -> list:
        """The checks this run runs, in report order."""
        picked = select(self.checks, self.exclude_checks)
        return [c for c in picked if c.wanted(self.profile, self.checks)]


def read(get: Callable[[str], Any]) -> Settings:
    """Settings from ``get(name)`` (a flag's value, or None), else what the replayed summary
    recorded, else the environment, else defaults."""
    again = _recorded_in(get("replay"))
    if get("examples_profile"):
        again.pop("max_examples", None)
    if get("target") or get("bucket"):  # another target: none of the recorded one's options
        again = {k: v for k, v in again.items() if k != "target" and not BY_NAME[k].emulator}
    raw: dict[str, Any] = {}
    for o in OPTIONS:
        value = get(o.name)
        if value in (None, False, "") and o.name in again:
            value = again[o.name]
        elif value in (None, False, "") and o.env and os.environ.get(o.env):
            value = os.environ[o.env]
            value = value.lower() in ("1", "true", "yes") if o.switch else value
        if value not in (None, False, ""):
            raw[o.name] = value
    s = Settings(**{n: True if BY_NAME[n].switch else BY_NAME[n].parse(BY_NAME[n].flag, v)
                    for n, v in raw.items()})  # fmt: skip
    s.given = {k: v for k, v in raw.items() if not BY_NAME[k].secret}
    if s.profile:
        s.given["profile"] = s.profile  # the pins themselves: the file may be gone at replay
    if not s.target and s.bucket:
        if not s.region:
            raise ValueError("--bucket needs --region")
        s.target = f"https://{s.bucket}.ci.{s.region}.myqcloud.com"
    if s.target:
        if emulator_only := [BY_NAME[n].flag for n in raw if BY_NAME[n].emulator]:
            verb, it = ("applies", "it") if len(emulator_only) == 1 else ("apply", "them")
            raise ValueError(f"{', '.join(emulator_only)} only {verb} to the embedded emulator, "
                             f"not to --target: drop {it}, or drop --target")  # fmt: skip
        if not (s.secret_id and s.secret_key):
            raise ValueError(
                "a target needs --secret-id and --secret-key (or COS_SECRET_ID and COS_SECRET_KEY)"
            )
        if s.max_duration is None:
            s.max_duration = LIVE_MAX_DURATION
    if s.replay:
        s.replayed = read_replay(Path(s.replay))
        if not get("checks"):
            s.checks = list(s.replayed)  # a replay re-runs what failed
    return s


def from_args(args: list[str]) -> Settings:
    """Settings from command-line words (``["--seed", "3", "--allow-writes"]``), as ``run``
    takes them: for matrices and benchmarks that run the suite in-process."""
    given: dict[str, Any] = {}
    words = iter(args)
    for word in words:
        name, _, value = word.partition("=")
        o = next((o for o in OPTIONS if o.flag == name), None)
        if o is None:
            raise ValueError(f"unknown option {word!r}")
        given[o.name] = True if o.switch else (value or next(words, None))
    return read(given.get)


def recorded(s: Settings) -> dict[str, Any]:
    """The options a run was given, as given, secrets aside (summary.json's ``options``)."""
    return {k: v for k, v in s.given.items() if k != "replay"}


def _recorded_in(path: object) -> dict[str, Any]:
    """The options a replayed summary.json recorded (none for older summaries; ``read_replay``
    says what is wrong with a file that is not a summary)."""
    try:
        options = json.loads(Path(str(path)).read_text("utf-8"))["options"] if path else {}
        given = {k: v for k, v in options.items() if k in BY_NAME and v not in (None, "")}
    except (OSError, ValueError, LookupError, TypeError, AttributeError):
        return {}
    return {k: v for k, v in given.items() if not BY_NAME[k].secret}


def read_replay(path: Path) -> dict[str, list[list[tuple[str, str]]]]:
    """Failing checks of a summary.json, each with its recorded minimal queries."""
    try:
        summary = json.loads(path.read_text("utf-8"))
        failures = summary["failures"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"--replay {path}: not a ci-conformance summary.json ({exc})") from None
    replay: dict[str, list[list[tuple[str, str]]]] = {}
    for f in failures:
        queries = replay.setdefault(f["check"], [])
        if f.get("query_params") is not None:
            queries.append([tuple(p) for p in f["query_params"]])
    return replay


def hypothesis_storage() -> None:
    """Hypothesis caches Unicode tables (its first ``st.text()`` in a fresh directory costs 2 s
    and 200 MB) in ``./.hypothesis``: keep them in the user's cache instead, shared by every run
    and out of the user's working directory. ``HYPOTHESIS_STORAGE_DIRECTORY`` still wins."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    os.environ.setdefault(
        "HYPOTHESIS_STORAGE_DIRECTORY", str(cache / "ci-conformance" / "hypothesis")
    )
