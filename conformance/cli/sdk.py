"""``ci-conformance sdk``: an SDK (any language, through a driver) judged against the emulator."""

import json

import click

from ..engine import Engine
from ..handlers import reports
from ..options import names
from ..sdk import known as baseline
from ..sdk import runner, scenarios
from ..sdk.source import SdkSource, sdk_text
from ..verdicts import UsageError
from . import VERDICT_HELP, report_dir


@click.command("sdk", epilog=VERDICT_HELP)
@click.option("--driver", help='the command that runs your driver, e.g. "node driver.js"')
@click.option("--scenarios", "chosen", help="comma-separated scenario names (default: all)")
@click.option("--tasks", help="comma-separated task ids or scenario/task (default: all)")
@report_dir("sdk.html, sdk-junit.xml and sdk-summary.json")
@click.option("--workers", type=click.IntRange(1), default=2, help="scenarios at once")
@click.option(
    "--timeout", type=click.FloatRange(0, min_open=True), default=60.0, help="seconds per task"
)
@click.option(
    "--known",
    help="a file of known findings: marked known, they fail the gate only when they change",
)
@click.option("--write-known", help="write this run's findings to this file, in --known's format")
@click.option("--list", "listing", is_flag=True, help="list scenarios and their tasks (JSON)")
def sdk(driver: str | None, chosen: str | None, tasks: str | None, report_dir: str, workers: int,
        timeout: float, known: str | None, write_known: str | None, listing: bool) -> int:  # fmt: skip
    """Run the driver once per task of every scenario; judge every request it makes and every
    result it prints. See the README, 'Writing a driver'."""
    try:
        picked = scenarios.select(names("", chosen) if chosen else None)
        if listing:
            for s in picked:
                print(f"{s.name}: {s.covers}")
                for t in s.build()[1]:
                    print(f"  {t.id:<18} {json.dumps(t.to_json(), ensure_ascii=False)}")
            return 0
        if not driver:
            raise ValueError("give --driver, the command that runs your driver (see --help)")
        plan = runner.select_tasks(picked, names("", tasks) if tasks else None)
        source = SdkSource(driver, plan, workers=workers, timeout=timeout, known=known)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(f"ci-conformance sdk: {sum(len(t) for _, t in plan)} tasks in {len(plan)} scenarios, "
          f"driver: {driver}", flush=True)  # fmt: skip
    files = "sdk.html sdk-junit.xml sdk-summary.json"
    handlers = reports(report_dir, files, junit=("ci-conformance sdk", "sdk"), lines=sdk_text)
    summary = Engine(handlers).run(source)
    if write_known:
        baseline.write(write_known, summary, source.entries, source.secrets)
        print(f"known findings written to {write_known}")
    return summary.exit_code
