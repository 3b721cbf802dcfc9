"""The run's options: one table for the CLI flags, the pytest options and environment variables,
read and validated once into ``Settings``. A bad value is a ``ValueError`` with one line that
says what to fix.

A run records the options in force in its summary.json (``recorded``), secrets aside; a replay of
that summary reads them back, so it runs against the same target in the same way. A flag given
to the replay wins over what was recorded, and the environment supplies only what was not
recorded: the credentials."""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .client import base_url_of
from .coverage import check_profile
from .signing import Credentials


@dataclass(frozen=True)
class Option:
    flag: str
    env: str | None
    help: str
    flag_only: bool = False  # a switch (store_true)


OPTIONS = [
    Option("--target", "CI_CONFORMANCE_TARGET", "base URL of the target, e.g. http://127.0.0.1:9000 (default: the embedded emulator)"),
    Option("--bucket", "CI_CONFORMANCE_BUCKET", "bucket (BucketName-APPID); with --region, targets https://B.ci.R.myqcloud.com"),
    Option("--region", "CI_CONFORMANCE_REGION", "region, e.g. ap-beijing"),
    Option("--host-header", "CI_CONFORMANCE_HOST_HEADER", "Host to send and sign when it differs from the URL's"),
    Option("--secret-id", "COS_SECRET_ID", "SecretId (never printed)"),
    Option("--secret-key", "COS_SECRET_KEY", "SecretKey (never printed)"),
    Option("--security-token", "COS_SECURITY_TOKEN", "security token of temporary credentials (never printed)"),
    Option("--allow-writes", "CI_CONFORMANCE_ALLOW_WRITES", "let the suite create jobs on a live target", flag_only=True),
    Option("--rate-limit", "CI_CONFORMANCE_RATE_LIMIT", "most requests per second, e.g. 5 or 5/s"),
    Option("--timeout", "CI_CONFORMANCE_TIMEOUT", "seconds per request, connect, headers and body together (default 10)"),
    Option("--max-duration", "CI_CONFORMANCE_MAX_DURATION", "seconds the whole run may take; checks past it are skipped (default 1800 against a target, none against the embedded emulator)"),
    Option("--max-requests", "CI_CONFORMANCE_MAX_REQUESTS", "request budget; checks past it are skipped"),
    Option("--workflow-id", "CI_CONFORMANCE_WORKFLOW_ID", "a workflow of the target's bucket for the jobs --allow-writes creates (then Workflow jobs only; default: a placeholder that only an emulator accepts)"),
    Option("--consistency-window", "CI_CONFORMANCE_CONSISTENCY_WINDOW", "seconds a write may take to show in reads (an eventually consistent service; default 0)"),
    Option("--profile", "CI_CONFORMANCE_PROFILE", "TOML file pinning open points of the contract (docs/contract.md)"),
    Option("--seed", "CI_CONFORMANCE_SEED", "seed of generation and of the emulator's dataset (default 0)"),
    Option("--max-examples", "CI_CONFORMANCE_MAX_EXAMPLES", "examples per check (overrides --examples-profile)"),
    Option("--examples-profile", "CI_CONFORMANCE_EXAMPLES_PROFILE", "dev (8), ci (20, the default) or thorough (200) examples per check"),
    Option("--checks", "CI_CONFORMANCE_CHECKS", "comma-separated check names or categories to run"),
    Option("--exclude-checks", "CI_CONFORMANCE_EXCLUDE_CHECKS", "comma-separated check names or categories to skip"),
    Option("--emulator-jobs", "CI_CONFORMANCE_EMULATOR_JOBS", "jobs in the embedded emulator (default 300)"),
    Option("--emulator-shape", "CI_CONFORMANCE_EMULATOR_SHAPE", "dataset shape of the embedded emulator: mixed (default), heavy-ties, one-state, escaping"),
    Option("--emulator-fault", "CI_CONFORMANCE_EMULATOR_FAULT", "comma-separated fault switches of the embedded emulator (see ci-conformance list-faults)"),
    Option("--emulator-behaviour", "CI_CONFORMANCE_EMULATOR_BEHAVIOUR", "comma-separated name=value open-point choices of the embedded emulator (see ci-conformance list-behaviours)"),
    Option("--replay", None, "a summary.json whose failures' minimal queries run first"),
    Option("--record", "CI_CONFORMANCE_RECORD", "write every exchange of the run, redacted, to this HAR file (for recheck and serve --load)"),
    Option("--write-profile", "CI_CONFORMANCE_WRITE_PROFILE", "write the behaviour seen at each open point as a --profile TOML file"),
]  # fmt: skip

EXAMPLES = {"dev": 8, "ci": 20, "thorough": 200}
EMULATOR_JOBS = 300  # the embedded emulator's dataset, and `serve`'s
LIVE_MAX_DURATION = 1800.0  # a run against a target stops asking after 30 minutes by default
TEMPORARY = Credentials(
    "AKIDconformanceTemporary00000000000", "conformance-temporary-key", "conformance-session-token"
)


def dest(o: Option) -> str:
    return o.flag[2:].replace("-", "_")


@dataclass
class Settings:
    target_url: str | None = None
    host_header: str | None = None
    credentials: Credentials = TEMPORARY
    allow_writes: bool = False
    rate_limit: float | None = None
    timeout: float = 10.0
    max_duration: float | None = None
    max_requests: int | None = None
    consistency_window: float = 0.0
    workflow_id: str | None = None
    profile: dict[str, str] = field(default_factory=dict)
    seed: int = 0
    examples: int = EXAMPLES["ci"]
    checks: list[str] = field(default_factory=list)
    exclude_checks: list[str] = field(default_factory=list)
    emulator_jobs: int = EMULATOR_JOBS
    emulator_shape: str = "mixed"
    emulator_faults: list[str] = field(default_factory=list)
    emulator_behaviour: list[str] = field(default_factory=list)
    replay: dict[str, list[list[tuple[str, str]]]] = field(default_factory=dict)
    record: str | None = None
    write_profile: str | None = None


def split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _number(kind: type, flag: str, text: str, minimum: float) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(
            f"{flag}: {text!r} is not a {'whole ' if kind is int else ''}number"
        ) from None
    if value < minimum:
        raise ValueError(f"{flag}: must be at least {minimum}")
    return value


def recorded(s: Settings) -> dict[str, object]:
    """The options in force, as their flags would give them, without credentials."""

    def text(value: object) -> str | None:
        return None if value is None else str(value)

    return {
        "target": s.target_url,
        "host_header": s.host_header,
        "allow_writes": s.allow_writes,
        "rate_limit": text(s.rate_limit),
        "timeout": text(s.timeout),
        "max_duration": text(s.max_duration),
        "max_requests": text(s.max_requests),
        "consistency_window": text(s.consistency_window),
        "workflow_id": s.workflow_id,
        "profile": s.profile,
        "seed": text(s.seed),
        "max_examples": text(s.examples),
        "checks": ",".join(s.checks) or None,
        "exclude_checks": ",".join(s.exclude_checks) or None,
        "emulator_jobs": text(s.emulator_jobs),
        "emulator_shape": s.emulator_shape,
        "emulator_fault": ",".join(s.emulator_faults) or None,
        "emulator_behaviour": ",".join(s.emulator_behaviour) or None,
    }


def read(get: Callable[[str], object]) -> Settings:
    """Settings from ``get(dest)`` (a flag's value or None), else what the replayed summary
    recorded, else the environment, else defaults."""
    again = _recorded_in(get("replay"))
    if get("examples_profile"):
        again.pop("max_examples", None)
    if get("bucket"):
        again.pop("target", None)
    raw: dict[str, object] = {}
    for o in OPTIONS:
        value = get(dest(o))
        if value in (None, False, "") and dest(o) in again:
            value = again[dest(o)]
        elif value in (None, False, "") and o.env and os.environ.get(o.env):
            value = os.environ[o.env]
            if o.flag_only:
                value = value.lower() in ("1", "true", "yes")
        raw[dest(o)] = value if value not in ("", False) else None
    s = Settings(host_header=raw["host_header"], allow_writes=bool(raw["allow_writes"]))
    url = raw["target"]
    if not url and raw["bucket"]:
        if not raw["region"]:
            raise ValueError("--bucket needs --region")
        url = f"https://{raw['bucket']}.ci.{raw['region']}.myqcloud.com"
    if url:
        if not str(url).startswith(("http://", "https://")):
            raise ValueError(f"--target: {url!r} must start with http:// or https://")
        if not (raw["secret_id"] and raw["secret_key"]):
            raise ValueError(
                "a target needs --secret-id and --secret-key (or COS_SECRET_ID and COS_SECRET_KEY)"
            )
        s.target_url = base_url_of(str(url))
        s.max_duration = LIVE_MAX_DURATION
        s.credentials = Credentials(
            str(raw["secret_id"]), str(raw["secret_key"]), raw["security_token"] or None
        )
    if raw["rate_limit"]:
        s.rate_limit = _number(
            float, "--rate-limit", str(raw["rate_limit"]).removesuffix("/s"), 0.001
        )
    if raw["timeout"]:
        s.timeout = _number(float, "--timeout", str(raw["timeout"]), 0.001)
    if raw["max_duration"]:
        s.max_duration = _number(float, "--max-duration", str(raw["max_duration"]), 0.001)
    if raw["consistency_window"]:
        s.consistency_window = _number(
            float, "--consistency-window", str(raw["consistency_window"]), 0
        )
    s.workflow_id = str(raw["workflow_id"]) if raw["workflow_id"] else None
    if raw["max_requests"]:
        s.max_requests = int(_number(int, "--max-requests", str(raw["max_requests"]), 1))
    if raw["seed"]:
        s.seed = int(_number(int, "--seed", str(raw["seed"]), 0))
    if raw["emulator_jobs"]:
        s.emulator_jobs = int(_number(int, "--emulator-jobs", str(raw["emulator_jobs"]), 0))
    name = raw["examples_profile"] or "ci"
    if name not in EXAMPLES:
        raise ValueError(f"--examples-profile: {name!r} is not one of {', '.join(EXAMPLES)}")
    s.examples = EXAMPLES[str(name)]
    if raw["max_examples"]:
        s.examples = int(_number(int, "--max-examples", str(raw["max_examples"]), 1))
    if isinstance(raw["profile"], dict):  # recorded by the run being replayed
        s.profile = check_profile(raw["profile"])
    elif raw["profile"]:
        path = Path(str(raw["profile"]))
        try:
            s.profile = check_profile(tomllib.loads(path.read_text("utf-8")))
        except (OSError, tomllib.TOMLDecodeError, ValueError) as exc:
            raise ValueError(f"--profile {path}: {exc}") from None
    from .checks import unknown_names
    from .emulator.app import Behaviour
    from .emulator.faults import check_names

    s.checks, s.exclude_checks = split(raw["checks"]), split(raw["exclude_checks"])
    unknown = unknown_names(s.checks + s.exclude_checks)
    if unknown:
        raise ValueError(
            f"unknown check or category: {', '.join(unknown)} (see ci-conformance list-checks)"
        )
    from .emulator.store import SHAPES

    s.emulator_shape = str(raw["emulator_shape"] or "mixed")
    if s.emulator_shape not in SHAPES:
        raise ValueError(
            f"--emulator-shape: {s.emulator_shape!r} is not one of {', '.join(SHAPES)}"
        )
    s.emulator_faults = split(raw["emulator_fault"])
    check_names(s.emulator_faults)
    s.emulator_behaviour = split(raw["emulator_behaviour"])
    Behaviour.parse(s.emulator_behaviour)
    if raw["replay"]:
        s.replay = read_replay(Path(str(raw["replay"])))
        if not get("checks"):
            s.checks = list(s.replay)  # a replay re-runs what failed
    s.record, s.write_profile = raw["record"] or None, raw["write_profile"] or None
    return s


def _recorded_in(path: object) -> dict[str, object]:
    """The options a replayed summary.json recorded (none for older summaries)."""
    if not path:
        return {}
    try:
        options = json.loads(Path(str(path)).read_text("utf-8")).get("options", {})
    except (OSError, ValueError, AttributeError):
        return {}  # read_replay says what is wrong with the file
    secret = {"secret_id", "secret_key", "security_token"}
    return (
        {k: v for k, v in options.items() if k not in secret} if isinstance(options, dict) else {}
    )


def read_replay(path: Path) -> dict[str, list[list[tuple[str, str]]]]:
    """Failing checks of a summary.json, each with its recorded minimal queries."""
    try:
        summary = json.loads(path.read_text("utf-8"))
        failures = summary["failures"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"--replay {path}: not a ci-conformance summary.json ({exc})") from None
    replay: dict[str, list[list[tuple[str, str]]]] = {}
    for f in failures:
        params = [tuple(p) for p in f.get("query_params") or []]
        replay.setdefault(f["check"], []).extend(
            [params] if f.get("query_params") is not None else []
        )
    return replay


def hypothesis_storage() -> None:
    """Hypothesis caches Unicode tables (its first ``st.text()`` in a fresh directory costs 2 s
    and 200 MB) in ``./.hypothesis``: keep them in the user's cache instead, shared by every run
    and out of the user's working directory. ``HYPOTHESIS_STORAGE_DIRECTORY`` still wins."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    os.environ.setdefault(
        "HYPOTHESIS_STORAGE_DIRECTORY", str(cache / "ci-conformance" / "hypothesis")
    )
