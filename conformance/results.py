"""The typed result model: what every command finds, and the one verdict rule.

Every source of the engine (run, replay, recheck, diff, sdk) ends in a ``Summary`` of
``CheckResult``s, each with its ``Outcome``; compare reads two summaries. The JSON the tool writes
(summary.json, recheck.json, diff.json, compare.json, sdk-summary.json) is ``to_json`` of these
classes, described by ``schemas/results.schema.json`` (``SCHEMA_VERSION``). Each outcome and
verdict rule is decided here, once.
"""

import dataclasses
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

SCHEMA_VERSION = "2.1"
"""Of the JSON files: the minor number grows when fields are added (readers keep working), the
major number when a field changes meaning or goes away."""


class Outcome(StrEnum):
    """How one check (or SDK task) ended."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"  # it cannot apply here; the reason says why
    KNOWN = "known"  # sdk: every finding is one the --known baseline lists (pytest's xfail)
    VACUOUS = "vacuous"  # every example ran on no data: it proved nothing
    NOT_JUDGED = "not judged"  # recheck: the recording holds nothing it can judge
    TOOL_ERROR = "tool error"  # an exception inside ci-conformance: a bug to report
    INTERRUPTED = "interrupted"  # Ctrl-C or SIGTERM while it ran
    NOT_RUN = "not run"  # a request budget or the run's deadline left it unrun


@dataclass
class ExchangeRecord:
    """One request and its answer, as reports show it (secrets redacted, body cut)."""

    method: str
    url: str
    status: int
    request_headers: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    elapsed_ms: float = 0.0
    retries: int = 0
    retry_notes: list[str] = field(default_factory=list)
    signature: dict[str, str] = field(default_factory=dict)
    signature_window: str = ""
    index: int | None = None  # its position in a recording
    sent_by: str | None = None  # the check that sent it (a recording)


@dataclass
class Failure:
    """A violated clause: what was found, where, and how to see it again."""

    check: str
    clause: str
    found: str
    anchor: str = ""
    contract: str = ""
    rule: str = ""  # sdk: the judge's rule
    query: str | None = None
    query_params: list[tuple[str, str]] | None = None
    exchanges: list[ExchangeRecord] = field(default_factory=list)
    exchanges_note: str = ""
    traffic: list[str] = field(default_factory=list)
    reproduce: dict[str, str] = field(default_factory=dict)
    likely_root: dict[str, Any] | None = None  # {"check", "kind", "anchor"} (causes.py)


@dataclass
class ToolError:
    """An exception inside ci-conformance: the check ends with it, blamed on nobody but us."""

    kind: str
    message: str
    where: str  # the innermost frames of our own code
    report: str = "this is a bug in ci-conformance: please report it with this text"


@dataclass
class CheckResult:
    check: str
    category: str
    outcome: Outcome
    clause: str = ""
    contract: str = ""
    reason: str = ""  # why it was skipped, vacuous, not judged or not run
    examples: int = 0
    examples_with_jobs: int = 0
    seconds: float = 0.0
    failures: list[Failure] = field(default_factory=list)
    error: ToolError | None = None
    judged_on: str = ""  # recheck: what it was judged on
    extra: dict[str, Any] = field(default_factory=dict)  # sdk: the task, driver output, requests

    @property
    def found(self) -> str:
        return self.failures[0].found if self.failures else ""


@dataclass(kw_only=True)
class Summary:
    """What every command ends with; ``kind`` says which fields of its own follow."""

    kind: str
    verdict: str
    exit_code: int = 0
    tool_version: str = ""
    duration_s: float = 0.0
    message: str = ""  # why there is no judgement (unreachable, misconfigured...)
    caveats: list[str] = field(default_factory=list)
    results: list[CheckResult] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)  # root cause first (causes.py)
    root_causes: list[dict[str, Any]] = field(default_factory=list)
    errors: list[ToolError] = field(default_factory=list)  # outside any check (a report writer)
    reproduce: list[str] = field(default_factory=list)  # command lines, each runs as printed
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # by category, by outcome
    schema_version: str = SCHEMA_VERSION

    def totals(self) -> dict[str, int]:
        return {o.value: sum(r.outcome == o for r in self.results) for o in Outcome}


@dataclass(kw_only=True)
class RunSummary(Summary):
    target: str = ""
    live: bool = False
    profile: dict[str, str] = field(default_factory=dict)
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    requests: int = 0
    retries: int = 0
    coverage: dict[str, Any] = field(default_factory=dict)
    behaviour: dict[str, str] = field(default_factory=dict)
    consistency_window: dict[str, Any] = field(default_factory=dict)
    contract: str = ""
    replay: str | None = None
    credentials: str | None = None


def decide(results: list[CheckResult], *, unusable: str = "", interrupted: bool = False) -> str:
    """The verdict of a run, the same in every command and every output.

    Interrupted wins; then a run that could not judge its target; then violations (real ones
    stand, whatever else went wrong); then tool errors; then checks left unrun; else conformant.
    """
    if interrupted or unusable:
        return "interrupted" if interrupted else unusable
    outcomes = {r.outcome for r in results}
    if Outcome.FAILED in outcomes:
        return "violations"
    if Outcome.TOOL_ERROR in outcomes:
        return "tool error"
    return "incomplete" if Outcome.NOT_RUN in outcomes else "conformant"


def by_category(results: list[CheckResult]) -> dict[str, dict[str, int]]:
    """Outcomes counted by category (summary.json's ``counts``)."""
    out: dict[str, dict[str, int]] = {}
    for r in results:
        out.setdefault(r.category, {o.value: 0 for o in Outcome})[r.outcome.value] += 1
    return out


def vacuous(judges_jobs: bool, examples: int, with_jobs: int) -> bool:
    """A check that judges jobs, whose every example saw none, proved nothing."""
    return judges_jobs and examples > 0 and with_jobs == 0


VACUOUS_REASON = (
    "vacuous: its {n} example(s) all ran on walks that returned no job, which proves nothing "
    "(the target's data could not exercise it)"
)


def plain(value: Any) -> Any:
    """Dataclasses, enums and tuples as JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    return value


def to_json(value: Any) -> str:
    return json.dumps(plain(value), indent=2, ensure_ascii=False)
