"""``ci-conformance compare OLD NEW``: regressions and behaviour changes between two runs."""

import click

from ..engine import Engine
from ..handlers import reports
from ..regression import compare as compared
from ..regression import read_summary
from ..verdicts import UsageError
from . import VERDICT_HELP, report_dir


@click.command("compare", epilog=VERDICT_HELP)
@click.argument("old")
@click.argument("new")
@click.option(
    "--allow-behaviour-change",
    is_flag=True,
    help="exit 0 when only open-point choices changed (each allowed by the contract)",
)
@report_dir("compare.html and compare.json")
def compare(old: str, new: str, allow_behaviour_change: bool, report_dir: str) -> int:
    """Compare the summary.json of a baseline run (OLD) with a new run's (NEW): checks that
    newly fail (root cause first), newly pass, open points whose choice changed, and the change
    in requests and duration."""
    try:
        result = compared(read_summary(old), read_summary(new), old, new)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    handlers = reports(report_dir, "compare.html compare.json")
    Engine(handlers, allow_behaviour=allow_behaviour_change).finish(result)
    return result.exit_code
