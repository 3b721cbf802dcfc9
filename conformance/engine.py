"""The one engine: a source yields items (checks, SDK tasks, diff phases), judges each into a
``CheckResult``, and the engine streams them to handlers (terminal, JSON, JUnit, HTML, HAR,
profile). Interruptions, tool errors and the verdict are decided here, the same for every source.
"""

import contextlib
import signal
import sys
import threading
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, settings

from . import __version__, contract
from .results import CheckResult, Outcome, Summary, ToolError, by_category
from .verdicts import EXIT_SIGTERM, VERDICTS, exit_code

HERE = str(Path(__file__).parent)


def hypothesis_settings(examples: int, *, shrink: bool = True, explicit: bool = True,
                        target: bool = True, **more: Any) -> settings:  # fmt: skip
    """The settings of every hypothesis search the tool runs: no database, no deadline, no
    health checks (a live target is slow and its data is what it is)."""
    phases = [Phase.explicit] * explicit + [Phase.generate] + [Phase.target] * target
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        report_multiple_bugs=False,
        phases=phases + [Phase.shrink] * shrink,
        suppress_health_check=list(HealthCheck),
        **more,
    )


def tool_error(exc: BaseException) -> ToolError:
    """An exception of ours, with the innermost frames of the tool's own code."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(HERE)]
    where = "".join(traceback.format_list(frames[-4:])).rstrip() or "(outside the tool's code)"
    return ToolError(type(exc).__qualname__, str(exc)[:2000], where)


class Interrupted(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every ``finally`` runs and the reports are written."""


class Handler:
    """Receives the stream of a run. Every method is optional."""

    def started(self, source: "Source") -> None: ...

    def exchange(self, exchange: Any, sent_by: str | None) -> None: ...

    def check_finished(self, result: CheckResult, done: int, total: int) -> None: ...

    def finished(self, summary: Summary) -> None: ...


class Source:
    """Where results come from: ``start`` (may end the run with a verdict and a message),
    the items to judge (each with a ``name`` and a ``category``), ``judge`` each (never
    raising, but for interruptions and a lost target), and the summary. A source need not
    inherit this class: the engine calls these methods alone."""

    kind: str
    secrets: tuple[str, ...] = ()

    def start(self, on_exchange: Any) -> tuple[str, str] | None: ...

    def items(self) -> list[Any]:
        raise NotImplementedError

    def totals(self) -> dict[str, int]:
        """How many results each category will have (for progress lines)."""
        return dict(Counter(item.category for item in self.items()))

    def judge(self, item: Any) -> CheckResult | list[CheckResult]:
        raise NotImplementedError

    def not_run(self, item: Any, reason: str, outcome: Outcome) -> CheckResult | list[CheckResult]:
        anchor = getattr(item, "anchor", "")
        return CheckResult(item.name, item.category, outcome, clause=getattr(item, "clause", ""),
                           contract=contract.ref(anchor) if anchor else "", reason=reason)  # fmt: skip

    def summary(self, results: list[CheckResult], *, unusable: str, message: str,
                interrupted: bool) -> Summary:  # fmt: skip
        raise NotImplementedError

    def stop(self) -> None: ...


class TargetLost(Exception):
    """The target was reachable at the start and is not any more: the run ends, unjudged."""


class Engine:
    def __init__(self, handlers: list[Handler], *, allow_incomplete: bool = False,
                 allow_behaviour: bool = False, fail_fast: bool = False, signals: bool = True) -> None:  # fmt: skip
        self.handlers = handlers
        self.signals = signals  # off in a pool's worker: its parent ends it with SIGTERM
        self.fail_fast = fail_fast  # the rest is not run once a result fails (kill matrices)
        self.allow_incomplete = allow_incomplete
        self.allow_behaviour = allow_behaviour
        self.current: str | None = None

    def _exchange(self, ex: Any) -> None:
        for h in self.handlers:
            h.exchange(ex, self.current)

    def run(self, source: Source) -> Summary:
        started = time.monotonic()
        results: list[CheckResult] = []
        errors: list[ToolError] = []
        unusable = message = ""
        signal_exit = None
        items: list[Any] = []
        done = judging = 0  # items finished, and the one being judged (1-based), if any
        with _Signals(self.signals) as signals:
            try:
                stopped = source.start(self._exchange)
                if stopped:
                    unusable, message = stopped
                else:
                    for h in self.handlers:
                        h.started(source)
                    items = source.items()
                    for n, item in enumerate(items, 1):
                        self.current, judging = getattr(item, "name", None), n
                        try:
                            batch = _many(source.judge(item))
                        except TargetLost as lost:
                            unusable, message = "unreachable", str(lost)
                            break
                        self.current, judging = None, 0
                        results += batch
                        done = n
                        for result in batch:
                            for h in self.handlers:
                                h.check_finished(result, n, len(items))
                        if self.fail_fast and any(r.outcome == Outcome.FAILED for r in batch):
                            break
            except KeyboardInterrupt as stop:  # Ctrl-C or SIGTERM: what finished stands
                signal_exit = EXIT_SIGTERM if isinstance(stop, Interrupted) else 130
                for n, item in enumerate(items[done:], done + 1):
                    outcome, why = (Outcome.INTERRUPTED, "the run was interrupted while it ran") \
                        if n == judging else (Outcome.NOT_RUN, "the run was interrupted")  # fmt: skip
                    results += _many(source.not_run(item, why, outcome))
            except Exception as exc:  # a bug of ours while starting: no verdict on the target
                errors.append(tool_error(exc))
            finally:
                signals.defer = True  # the results stand: a signal now waits for the reports
                with contextlib.suppress(Exception):
                    source.stop()
            summary = source.summary(results, unusable=unusable, message=message,
                                     interrupted=signal_exit is not None)  # fmt: skip
            summary.tool_version = __version__
            summary.duration_s = round(time.monotonic() - started, 2)
            summary.errors += errors
            self.finish(summary, signal_exit)
        if signals.pending:
            print("ci-conformance: a signal came once every check had finished; the reports are "
                  "complete and the run ends with its verdict", file=sys.stderr)  # fmt: skip
        return summary

    def finish(self, summary: Summary, signal_exit: int | None = None) -> None:
        """The verdict's exit code, then every handler. A handler that breaks is a tool error:
        the others still run (the terminal last), and a verdict that would pass a gate no
        longer does."""

        def settle() -> None:
            if summary.errors and VERDICTS[summary.verdict].tone in ("good", "warn"):
                summary.verdict = "tool error"
            summary.exit_code = exit_code(summary.verdict, allow_incomplete=self.allow_incomplete,
                                          allow_behaviour=self.allow_behaviour, signal_exit=signal_exit)  # fmt: skip

        summary.counts = by_category(summary.results)
        settle()
        for h in self.handlers:
            try:
                h.finished(summary)
            except Exception as exc:
                summary.errors.append(tool_error(exc))
                print(f"ci-conformance: a report could not be written ({type(exc).__name__}: "
                      f"{exc}); this is a bug in ci-conformance", file=sys.stderr)  # fmt: skip
                settle()


def _many(result: CheckResult | list[CheckResult]) -> list[CheckResult]:
    """A source judges an item into one result, or several (an SDK scenario's tasks)."""
    return result if isinstance(result, list) else [result]


class _Signals:
    """SIGTERM ends the run as Ctrl-C does (reports written, exit 143). Once ``defer`` is set
    (every check has finished), the first signal waits until the reports are written, so that
    they never disagree with each other or with the exit code; a second one stops at once."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled, self.defer, self.pending, self.previous = enabled, False, 0, {}

    def _raise(self, signum: int, frame: object) -> None:
        if self.defer and not self.pending:
            self.pending = signum
            return
        raise Interrupted() if signum == signal.SIGTERM else KeyboardInterrupt()

    def __enter__(self) -> "_Signals":
        if self.enabled and threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                if signal.getsignal(s) != signal.SIG_IGN:  # e.g. a job started with & in sh
                    self.previous[s] = signal.signal(s, self._raise)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for s, handler in self.previous.items():
            signal.signal(s, handler)
