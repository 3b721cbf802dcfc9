"""``ci-conformance run`` and ``replay``: the suite, through the engine, writing reports."""

from pathlib import Path
from typing import Any

import click

from ..checks import select
from ..engine import Engine
from ..handlers import reports
from ..handlers.files import ProfileHandler
from ..handlers.har import HarHandler
from ..options import OPTIONS, Settings, checks, read, read_replay
from ..results import RunSummary
from ..sources.run import RunSource
from ..verdicts import UsageError
from . import VERDICT_HELP, report_dir


def run_options(command: Any) -> Any:
    """Every option of the table (``conformance.options``), as a flag; the environment
    variables are read by ``options.read``, the same for the CLI and pytest."""
    for o in reversed(OPTIONS):
        env = f" [env {o.env}]" if o.env else ""
        command = click.option(o.flag, o.name, is_flag=o.switch, default=None,
                               help=o.help + env)(command)  # fmt: skip
    return command


def settings_of(given: dict[str, Any]) -> Settings:
    try:
        return read(given.get)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def run_suite(settings: Settings, report_dir: Path, doing: str = "running the suite") -> RunSummary:
    """The suite, its reports in ``report_dir``; the summary (its exit code in ``exit_code``)."""
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--report-dir {report_dir}: {exc}") from None
    handlers = reports(report_dir, "conformance.html junit.xml summary.json")
    if settings.record:
        handlers.insert(0, HarHandler(Path(settings.record)))
    if settings.write_profile:  # before the terminal's, which comes last
        handlers.insert(-1, ProfileHandler(Path(settings.write_profile)))
    print(
        f"ci-conformance: {doing} against {settings.target or 'the embedded emulator'}", flush=True
    )
    engine = Engine(handlers, allow_incomplete=settings.allow_incomplete)
    return engine.run(RunSource(settings, str(report_dir / "summary.json")))  # type: ignore[return-value]


@click.command(epilog=VERDICT_HELP)
@report_dir("summary.json, junit.xml and conformance.html")
@run_options
def run(report_dir: str, **given: Any) -> int:
    """Run the suite (default target: the embedded emulator)."""
    return run_suite(settings_of(given), Path(report_dir)).exit_code


@click.command(epilog=VERDICT_HELP)
@click.argument("summary", type=click.Path(dir_okay=False))
@click.option(
    "--report-dir",
    default=None,
    help="where the replay's reports go (default: replay/ beside the summary)",
)
@run_options
def replay(summary: str, report_dir: str | None, **given: Any) -> int:
    """Re-run the failures recorded in a summary.json, their minimal queries first, against the
    same target with the same options (recorded in it; flags given here win), and say which
    still fail. The summary itself is never touched."""
    path = Path(summary)
    try:
        before = read_replay(path)
        named = checks("--checks", given["checks"]) if given.get("checks") else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    narrowed = {c.name for c in select(named)} if named else set(before)
    if not (wanted := [c for c in before if c in narrowed]):  # --checks takes names or categories
        print("ci-conformance: the summary records no failure to replay")
        return 0
    out = Path(report_dir) if report_dir else path.parent / "replay"
    if (out / "summary.json").resolve() == path.resolve():
        raise UsageError(f"--report-dir {out} would overwrite the summary being replayed")
    settings = settings_of(given | {"replay": summary, "checks": ",".join(wanted)})
    after = run_suite(settings, out, doing="replaying the failures")
    if after.verdict in ("violations", "conformant"):
        still = {f.check for f in after.failures}
        for check in wanted:
            print(f"  {'STILL FAILS' if check in still else 'now passes '}  {check}")
    return after.exit_code
