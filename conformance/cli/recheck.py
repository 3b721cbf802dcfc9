"""``ci-conformance recheck CASSETTE``: a recorded run re-judged offline."""

import tomllib
from pathlib import Path

import click

from ..coverage import check_profile
from ..engine import Engine
from ..handlers import reports
from ..handlers.har import read
from ..options import checks
from ..sources.recheck import RecheckSource
from ..verdicts import UsageError
from . import VERDICT_HELP, report_dir


@click.command("recheck", epilog=VERDICT_HELP)
@click.argument("cassette")
@click.option("--profile", help="TOML file pinning open points (as for run)")
@click.option("--checks", "names", help="comma-separated check names or categories")
@click.option(
    "--max-examples",
    type=int,
    default=200,
    help="recorded inputs each check is re-run on, spread over the recording",
)
@report_dir("recheck.json, recheck.html and recheck-junit.xml")
def recheck(
    cassette: str, profile: str | None, names: str | None, max_examples: int, report_dir: str
) -> int:
    """Re-judge a cassette (run --record FILE) offline: the schema, page and filter observers on
    every exchange, and every check whose requests the recording holds (walks followed through
    their NextToken chain). Says which checks it judged, and on how many exchanges."""
    try:
        pins = check_profile(tomllib.loads(Path(profile).read_text("utf-8"))) if profile else {}
        chosen = checks("--checks", names) if names else None
    except (OSError, ValueError) as exc:
        raise UsageError(f"recheck: {exc}") from None
    try:
        if next(read(Path(cassette)), None) is None:
            raise ValueError("it holds no exchange")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"recheck: {cassette} is not a usable HAR cassette ({exc})") from None
    names = "recheck.html recheck-junit.xml recheck.json"
    handlers = reports(report_dir, names, junit=("ci-conformance recheck",))
    summary = Engine(handlers).run(RecheckSource(Path(cassette), pins, chosen, max_examples))
    return summary.exit_code
