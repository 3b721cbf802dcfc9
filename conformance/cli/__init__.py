"""``ci-conformance``: a package of commands (one module each); nothing outside it imports it.

Usage errors are one line on stderr and exit 2, with a suggestion for a mistyped command or
option (click's). Every other exit code is the verdict's (``conformance.verdicts``).
"""

import difflib
import os
import signal
import sys
import threading
from importlib import import_module
from typing import Any

import click

from .. import __version__
from ..engine import Interrupted
from ..options import hypothesis_storage
from ..verdicts import EXIT_SIGTERM, EXIT_USAGE, UsageError, verdict_table

COMMANDS = {
    "run": "run", "replay": "run", "serve": "serve", "sign": "sign", "explain": "lists",
    "list-checks": "lists", "list-faults": "lists", "list-behaviours": "lists",
    "compare": "compare", "recheck": "recheck", "diff": "diff", "sdk": "sdk",
    "kill-matrix": "matrices", "false-alarm-matrix": "matrices", "sdk-kill-matrix": "matrices",
}  # fmt: skip
VERDICT_HELP = (
    "\b\nVerdicts and exit codes (every command; 2 is a usage error):\n" + verdict_table()
)


def report_dir(goes: str) -> Any:
    """The ``--report-dir`` option of a command whose reports are ``goes``."""
    return click.option("--report-dir", default="reports", help=f"where {goes} go")


class Commands(click.Group):
    """Commands load their module when used, so `list-checks` never imports the emulator."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if (module := COMMANDS.get(name)) is None:
            return None
        return getattr(import_module(f"{__name__}.{module}"), name.replace("-", "_"))

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple:
        if args and args[0] not in COMMANDS and not args[0].startswith("-"):
            raise click.NoSuchCommand(args[0], possibilities=list(COMMANDS), ctx=ctx)
        return super().resolve_command(ctx, args)


@click.group(
    cls=Commands,
    epilog=VERDICT_HELP,
    context_settings={
        "help_option_names": ["-h", "--help"],
        "max_content_width": 100,
        "show_default": True,
    },
)
@click.version_option(__version__, prog_name="ci-conformance", message="%(version)s")
def cli() -> None:
    """Conformance suite for Tencent Cloud CI's GET /inventorytriggerjob."""


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit code. A usage error is one line, exit 2."""
    hypothesis_storage()
    args = sys.argv[1:] if argv is None else argv
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminated)  # the engine's runs keep their own
    try:
        with cli.make_context("ci-conformance", list(args)) as ctx:
            code = cli.invoke(ctx)
        sys.stdout.flush()
    except click.exceptions.Exit as done:  # --help, --version
        return done.exit_code
    except (click.UsageError, UsageError) as exc:
        line = _one_line(exc)  # a line that points somewhere already needs no second pointer
        hint = "" if "(see ci-conformance" in line else " (see ci-conformance --help)"
        print(f"ci-conformance: {line}{hint}", file=sys.stderr)
        return EXIT_USAGE
    except click.Abort:
        return 130
    except KeyboardInterrupt as stop:  # a command outside the engine (a matrix, serve)
        print("ci-conformance: interrupted", file=sys.stderr)
        return EXIT_SIGTERM if isinstance(stop, Interrupted) else 130
    except BrokenPipeError:  # the reader went away, e.g. `ci-conformance list-checks | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return int(code or 0)


def _terminated(signum: int, frame: object) -> None:
    raise Interrupted()


def _one_line(exc: Exception) -> str:
    """The error in one line; a mistyped option gets the nearest one, or the top level's."""
    if isinstance(exc, click.NoSuchOption):
        name = exc.option_name
        near = difflib.get_close_matches(name, exc.possibilities or [], n=1) or [""]
        top = difflib.get_close_matches(name, ["--version", "--help"], n=1) or [""]
        if _likeness(name, top[0]) > _likeness(name, near[0]):
            return f"No such option {name!r}. Did you mean ci-conformance {top[0]}?"
        return f"No such option {name!r}." + (f" Did you mean {near[0]!r}?" if near[0] else "")
    message = exc.format_message() if isinstance(exc, click.UsageError) else str(exc)
    return " ".join(message.split())


def _likeness(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio() if b else 0.0
