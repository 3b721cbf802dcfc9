"""Known findings (``sdk --known FILE``, ``--write-known FILE``), in the spirit of pytest's
xfail: a listed finding is marked known, and a task with only known findings has the outcome
``known``; a finding not listed, or a listed one that is gone (``known.gone``), fails the gate.
The file's format is ``HEADER``'s; the README's "Known findings" says the same for users.
"""

from dataclasses import dataclass
from pathlib import Path

from ..handlers.files import write as write_file
from ..results import CheckResult, Failure, Outcome, Summary
from .judge import RULES
from .scenarios import SCENARIOS

HEADER = """# Known findings of an SDK, for ci-conformance sdk --known (README, "Known findings").
# One a line: SCENARIO/TASK RULE[: WORDS], WORDS being words the finding's message must hold.
# A finding listed here fails no gate; a new one, or one listed here that is gone, does."""


@dataclass(frozen=True)
class Known:
    task: str  # scenario/task
    rule: str
    words: str = ""

    def matches(self, check: str, f: Failure) -> bool:
        return check == self.task and f.rule == self.rule and self.words in f.found

    def __str__(self) -> str:
        return f"{self.task} {self.rule}" + (f": {self.words}" if self.words else "")


def read(path: str) -> list[Known]:
    """The file's findings; ``ValueError`` names a line that is not one (or names a task or a
    rule that does not exist)."""
    try:
        text = Path(path).read_text("utf-8")
    except OSError as exc:
        raise ValueError(f"--known {path}: {exc.strerror}") from None
    tasks = {f"{s.name}/{t.id}" for s in SCENARIOS.values() for t in s.build()[1]}
    entries = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        head, _, words = line.partition(":")
        task, _, rule = head.strip().partition(" ")
        if task not in tasks or rule.strip() not in RULES:
            wrong = f"no task {task!r}" if task not in tasks else f"no rule {rule.strip()!r}"
            raise ValueError(
                f"--known {path}, line {n}: {wrong} (a line is SCENARIO/TASK RULE[: WORDS])"
            )
        entries.append(Known(task, rule.strip(), words.strip()))
    return entries


def apply(result: CheckResult, entries: list[Known], path: str) -> CheckResult:
    """Mark the task's known findings (``extra["known"]``), add one ``known.gone`` finding for
    each listed one that is gone, and set the outcome: failed on any other finding, else known."""
    mine = [k for k in entries if k.task == result.check]
    if not mine or result.outcome == Outcome.SKIPPED:
        return result
    known = [f for f in result.failures if any(k.matches(result.check, f) for k in mine)]
    gone = [k for k in mine if not any(k.matches(result.check, f) for f in result.failures)]
    result.failures = [
        Failure(result.check, RULES["known.gone"][1], f"{path} lists '{k}', and it is not found "
                "any more: the SDK fixed it, or the finding changed; update the file (--write-known)",
                rule="known.gone") for k in gone
    ] + [f for f in result.failures if all(f is not k for k in known)] + known  # fmt: skip
    result.extra["known"] = [f.found for f in known]
    if len(known) < len(result.failures):
        result.outcome = Outcome.FAILED
    elif known:
        result.outcome, result.reason = Outcome.KNOWN, f"{', '.join(f.rule for f in known)}, as {path} lists them"  # fmt: skip
    return result


def caveats(results: list[CheckResult], entries: list[Known], path: str) -> list[str]:
    known = sum(len(r.extra.get("known", [])) for r in results)
    gone = sum(f.rule == "known.gone" for r in results for f in r.failures)
    ran = {r.check for r in results if r.outcome != Outcome.SKIPPED}
    unchecked = sum(k.task not in ran for k in entries)
    return [f"{known} known finding(s), as {path} lists them"] + (
        [f"{gone} known finding(s) gone: update {path} (--write-known)"] if gone else []) + (
        [f"{unchecked} known finding(s) not checked: their tasks did not run"] if unchecked else [])  # fmt: skip


def write(path: str, summary: Summary, entries: list[Known], secrets: tuple[str, ...]) -> None:
    """The run's findings as a known-findings file (an entry read with ``--known`` that still
    matches keeps its WORDS); each entry follows its finding's message, as a comment."""
    sdk = getattr(summary, "sdk", {}) or {}
    lines = [HEADER, f"# {sdk.get('name', 'an SDK')} {sdk.get('version', '')}; driver: {getattr(summary, 'driver', '')}"]  # fmt: skip
    for r in summary.results:
        for f in (f for f in r.failures if f.rule != "known.gone"):
            entry = next((k for k in entries if k.matches(r.check, f)), Known(r.check, f.rule))
            lines += ["", f"# {f.found[:300]}", str(entry)]
    write_file(Path(path), "\n".join(lines) + "\n", secrets)
