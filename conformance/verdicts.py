"""The one verdict table: each verdict's word, exit code, meaning and tone, the same in every
command, output and exit code; and usage errors (exit 2)."""

from dataclasses import dataclass


class UsageError(ValueError):
    """A command line that cannot run: one line says what to fix (exit 2)."""


@dataclass(frozen=True)
class Verdict:
    word: str
    exit_code: int
    meaning: str
    tone: str  # good | bad | warn | error: the colour in the terminal and the HTML


VERDICTS: dict[str, Verdict] = {
    v.word: v
    for v in (
        Verdict("conformant", 0, "every check ran and passed (or was skipped, saying why)", "good"),
        Verdict("no change", 0, "compare, diff: the two sides agree", "good"),
        Verdict("violations", 1, "a check failed: the target breaks a clause of the contract", "bad"),
        Verdict("regressions", 1, "compare: a check that passed in OLD fails in NEW", "bad"),
        Verdict("differences", 1, "diff: the targets answer differently where the contract allows one answer", "bad"),
        Verdict("unreachable", 3, "the target could not be reached, or answered nothing usable", "error"),
        Verdict("misconfigured", 3, "the run's own setup is wrong (keys, clock, URL); nobody is blamed", "error"),
        Verdict("unusable", 3, "sdk: the driver produced nothing usable for any task", "error"),
        Verdict("tool error", 4, "an exception inside ci-conformance (a bug to report); no violation found", "error"),
        Verdict("incomplete", 5, "a request budget or deadline left checks unrun (exit 0 with --allow-incomplete)", "warn"),
        Verdict("behaviour changed", 6, "compare, diff: only open-point choices differ, each allowed (exit 0 with --allow-behaviour-change)", "warn"),
        Verdict("interrupted", 130, "stopped by Ctrl-C (130) or SIGTERM (143); the reports hold what finished", "error"),
    )
}  # fmt: skip
EXIT_USAGE = 2  # a usage error: no verdict, one line says what to fix
EXIT_SIGTERM = 143


def exit_code(verdict: str, *, allow_incomplete: bool = False, allow_behaviour: bool = False,
              signal_exit: int | None = None) -> int:  # fmt: skip
    """The exit code of a verdict, with the flags that let a gate pass on it."""
    if verdict == "interrupted" and signal_exit:
        return signal_exit
    allowed = {"incomplete": allow_incomplete, "behaviour changed": allow_behaviour}
    return 0 if allowed.get(verdict) else VERDICTS[verdict].exit_code


def verdict_table() -> str:
    """The verdicts, their exit codes and meanings: for ``--help`` and the README."""
    return "\n".join(f"  {v.exit_code:>3}  {v.word:<17} {v.meaning}" for v in VERDICTS.values())
