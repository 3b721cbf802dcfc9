"""``kill-matrix``, ``false-alarm-matrix`` and ``sdk-kill-matrix``: the suite's self-verification."""

import click

from .. import killmatrix
from ..sdk import killmatrix as client_matrix
from . import report_dir

examples = click.option(
    "--examples-profile", type=click.Choice(["dev", "ci", "thorough"]), default="ci"
)


def workers(what: str) -> click.Option:
    return click.option("--workers", type=click.IntRange(1), default=2, help=what)


@click.command("kill-matrix")
@report_dir("kill-matrix.md and .json")
@workers("suite runs at once")
@examples
def kill_matrix(report_dir: str, workers: int, examples_profile: str) -> int:
    """Run the suite against every fault switch of the emulator."""
    return killmatrix.main(report_dir, workers, examples_profile)


@click.command("false-alarm-matrix")
@report_dir("the matrix .md and .json")
@workers("suite runs at once")
@examples
def false_alarm_matrix(report_dir: str, workers: int, examples_profile: str) -> int:
    """Run the suite against the correct emulator in every allowed behaviour and dataset."""
    return killmatrix.false_alarms_main(report_dir, workers, examples_profile)


@click.command("sdk-kill-matrix")
@report_dir("client-kill-matrix.md and .json")
@workers("runs at once")
def sdk_kill_matrix(report_dir: str, workers: int) -> int:
    """Run the reference client driver with each of its fault switches."""
    return client_matrix.main(report_dir, workers)
