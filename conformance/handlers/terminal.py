"""The terminal: a line per check as it finishes, then what the summary holds (its kind's
``<kind>.txt.j2``: counts, what broke root cause first, how to reproduce it), and the verdict,
in the words and colours of the one verdict table."""

import os
import sys
from collections.abc import Callable
from typing import Any, TextIO

from ..engine import Handler
from ..results import CheckResult, Outcome, Summary
from ..verdicts import VERDICTS
from .files import render

COLOURS = {"good": "32", "bad": "31", "warn": "33", "error": "35"}


def coloured(text: str, tone: str, stream: TextIO) -> str:
    if not (hasattr(stream, "isatty") and stream.isatty()) or os.environ.get("NO_COLOR"):
        return text
    return f"\033[1;{COLOURS[tone]}m{text}\033[0m"


def verdict_line(summary: Summary, reports: list[str], stream: TextIO) -> str:
    word = coloured(f"Verdict: {summary.verdict.upper()}", VERDICTS[summary.verdict].tone, stream)
    caveats = "; ".join(summary.caveats)
    written = f" Reports: {', '.join(reports)}" if reports else ""
    return f"{word}{f' ({caveats})' if caveats else ''}.{written}"


def summary_lines(summary: Summary) -> list[str]:
    """What the summary holds, as its kind's text template says it."""
    kind = "run" if summary.kind == "recheck" else summary.kind
    return render(f"{kind}.txt.j2", summary=summary).rstrip("\n").split("\n")


class TerminalHandler(Handler):
    """``lines(summary)`` says what the summary holds (by default its kind's text template)."""

    def __init__(self, reports: list[str] | None = None, progress: bool = True,
                 stream: TextIO | None = None, lines: Callable[[Any], list[str]] | None = None) -> None:  # fmt: skip
        self.reports, self.progress = reports or [], progress
        self.stream, self.lines = stream or sys.stdout, lines or summary_lines
        self.done: dict[str, int] = {}
        self.totals: dict[str, int] = {}

    def say(self, line: str = "") -> None:
        print(line, file=self.stream, flush=True)

    def started(self, source: object) -> None:
        self.totals = source.totals()  # type: ignore[attr-defined]

    def check_finished(self, result: CheckResult, done: int, total: int) -> None:
        if not self.progress:
            return
        self.done[result.category] = self.done.get(result.category, 0) + 1
        count = f"{self.done[result.category]}/{self.totals.get(result.category, '?')}"
        why = f": {result.reason}" if result.reason else ""
        tones = {Outcome.PASSED: "good", Outcome.FAILED: "bad", Outcome.TOOL_ERROR: "error"}
        word = coloured(
            f"{result.outcome.upper():<7}", tones.get(result.outcome, "warn"), self.stream
        )
        self.say(f"  [{result.category:<10} {count:>5}] {word} {result.check}{why}")

    def finished(self, summary: Summary) -> None:
        for line in self.lines(summary):
            self.say(line)
        self.say("\n" + verdict_line(summary, self.reports, self.stream))
