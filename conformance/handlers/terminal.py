"""The terminal: a line per check as it finishes, then the counts, what broke (root cause
first), and the verdict, in the words and colours of the one verdict table."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TextIO

from ..causes import by_reason
from ..engine import Handler
from ..results import CheckResult, Outcome, Summary
from ..verdicts import VERDICTS

COLOURS = {"good": "32", "bad": "31", "warn": "33", "error": "35"}


def coloured(text: str, tone: str, stream: TextIO) -> str:
    if not (hasattr(stream, "isatty") and stream.isatty()) or os.environ.get("NO_COLOR"):
        return text
    return f"\033[1;{COLOURS[tone]}m{text}\033[0m"


def verdict_line(summary: Summary, reports: list[str], stream: TextIO) -> str:
    tone = VERDICTS[summary.verdict].tone
    word = coloured(f"Verdict: {summary.verdict.upper()}", tone, stream)
    caveats = "; ".join(summary.caveats)
    written = f" Reports: {', '.join(reports)}" if reports else ""
    return f"{word}{f' ({caveats})' if caveats else ''}.{written}"


class TerminalHandler(Handler):
    """``lines(summary)`` says what the summary holds (run and recheck's by default)."""

    def __init__(self, reports: list[str] | None = None, progress: bool = True,
                 stream: TextIO | None = None, lines: Callable[[Any], list[str]] | None = None) -> None:  # fmt: skip
        self.reports = reports or []
        self.progress = progress
        self.stream = stream or sys.stdout
        self.lines = lines or summary_lines
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
        tone = {Outcome.PASSED: "good", Outcome.FAILED: "bad", Outcome.TOOL_ERROR: "error"}.get(
            result.outcome, "warn"
        )
        word = coloured(f"{result.outcome.upper():<7}", tone, self.stream)
        self.say(f"  [{result.category:<10} {count:>5}] {word} {result.check}{why}")

    def finished(self, summary: Summary) -> None:
        for line in self.lines(summary):
            self.say(line)
        self.say("\n" + verdict_line(summary, self.reports, self.stream))


def summary_lines(summary: Summary) -> list[str]:
    """Counts by category, the requests, what broke root cause first, tool errors, replay."""
    if summary.message and not summary.results:  # it could not judge: one line says why
        return [f"\n{summary.message}"]
    lines = [""]
    for category, n in getattr(summary, "counts", {}).items():
        shown = ", ".join(f"{k} {v}" for k, v in n.items() if v)
        lines.append(f"  {category:<11} {shown}")
    if getattr(summary, "requests", None) is not None and hasattr(summary, "target"):
        lines.append(f"\n{summary.requests} requests in {summary.duration_s} s to {summary.target}")  # type: ignore[attr-defined]
    by_check = {f.check: f for f in summary.failures}
    for cause in summary.root_causes:
        f = by_check[cause["check"]]
        lines.append(f"\nFAILED {f.check}: {f.found}")
        lines.append(f"  clause: {f.clause}" + (f" ({f.contract})" if f.contract else ""))
        if f.query is not None:
            lines.append(
                f"  minimal query: {f.query!r}"
                if f.query != f.query.strip()
                else f"  minimal query: {f.query}"
            )
        for e in f.exchanges:
            if e.index is not None:  # a recording's exchange, by its position
                sent = f" (sent by {e.sent_by})" if e.sent_by else ""
                lines.append(f"  exchange #{e.index}: {e.method} {e.url} -> {e.status}{sent}")
        for why, names in by_reason(cause["consequences"]):
            lines.append(f"  likely consequences, because {why}:")
            lines += [f"    FAILED {name}" for name in names]
    for r in summary.results:
        if r.outcome == Outcome.TOOL_ERROR and r.error:
            lines.append(f"\nTOOL ERROR in {r.check}: {r.error.kind}: {r.error.message[:300]}")
            lines.append(f"  {r.error.report}")
            lines += ["  " + x for x in r.error.where.splitlines()[-6:]]
    for e in summary.errors:
        lines.append(f"\nTOOL ERROR: {e.kind}: {e.message[:300]}\n  {e.report}")
    if summary.message:
        lines.append(f"\n{summary.message}")
    replay = getattr(summary, "replay", None)
    if replay:
        credentials = getattr(summary, "credentials", None)
        lines.append(f"\nReplay the failures: {replay}" + (f"  (credentials: {credentials})" if credentials else ""))  # fmt: skip
    return lines
