"""``ci-conformance``: run and replay the suite, serve the emulator, sign a request, explain a
check, list checks, faults and behaviours."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
import sys
from pathlib import Path
from typing import NoReturn

from . import __version__
from .emulator.store import SHAPES
from .options import hypothesis_storage

EXIT_OK, EXIT_VIOLATIONS, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    """Errors in one line, with a suggestion for a mistyped option or command."""

    argv: list[str] | None = None  # set on the top-level parser only

    def error(self, message: str) -> NoReturn:
        hint = _suggestion(self, self.argv) if self.argv is not None else None
        self.exit(EXIT_USAGE, f"{self.prog}: {hint or message} (see {self.prog} --help)\n")


def _likeness(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


def _suggestion(parser: argparse.ArgumentParser, argv: list[str]) -> str | None:
    """The first mistyped option or command in ``argv``, with the nearest known one."""
    commands = next(a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    at = next((i for i, a in enumerate(argv) if a in commands), len(argv))
    command = argv[at] if at < len(argv) else None
    for i, arg in enumerate(argv):
        # before the command, the top level's options; after it, the command's own
        options = set((parser if i < at else commands[command])._option_string_actions)
        name = arg.split("=", 1)[0]
        if not name.startswith("--") or any(o.startswith(name) for o in options):
            continue  # a value, or a known option (or an abbreviation argparse accepts)
        near = difflib.get_close_matches(name, sorted(options), n=1, cutoff=0.6)
        top = difflib.get_close_matches(name, sorted(parser._option_string_actions), n=1)
        if i > at and top and _likeness(name, top[0]) > _likeness(name, (near or [""])[0]):
            return f"unknown option {name} of {command}: did you mean {parser.prog} {top[0]}?"
        return f"unknown option {name}" + (f": did you mean {near[0]}?" if near else "")
    if command is None:
        word = next((a for a in argv if not a.startswith("-")), None)
        if word is not None:
            near = difflib.get_close_matches(word, sorted(commands), n=1, cutoff=0.6)
            return f"unknown command {word!r}" + (f": did you mean {near[0]}?" if near else "")
    return None


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(
        prog="ci-conformance",
        description="Conformance suite for Tencent Cloud CI's GET /inventorytriggerjob.",
    )
    parser.argv = list(sys.argv[1:] if argv is None else argv)
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="run the suite (default target: the embedded emulator)",
        description="Run the suite through pytest. Every option below is also "
        "a pytest option of `pytest --pyargs conformance.suite`.",
    )
    _run_options(run)
    replay = sub.add_parser(
        "replay",
        help="re-run the failures recorded in a summary.json and say which still fail",
        description="Re-run the failing checks of a report, their recorded minimal queries first, "
        "against the same target with the same options (both recorded in the summary; flags given "
        "here win). Credentials come from the environment or the flags. The replay's reports go "
        "to a replay/ folder beside the summary; the summary itself is never touched.",
    )
    replay.add_argument("summary", help="a summary.json written by ci-conformance run")
    _run_options(replay, report_dir=None)

    sign = sub.add_parser(
        "sign",
        help="print a signed curl command (or a presigned URL) for a request",
        description="Sign one request with COS_SECRET_ID, COS_SECRET_KEY and COS_SECURITY_TOKEN "
        "from the environment and print a curl command that sends it (the token is read from "
        "the environment when the command runs, never printed), or with --presign a presigned URL.",
    )
    sign.add_argument(
        "request",
        nargs="+",
        metavar="[METHOD] URL",
        help="e.g. GET 'http://…/inventorytriggerjob?size=1'",
    )
    sign.add_argument(
        "-H",
        "--header",
        action="append",
        default=[],
        help="a header to send and sign, 'Name: value' (repeatable)",
    )
    sign.add_argument(
        "--presign", action="store_true", help="sign in the query string and print the URL"
    )
    sign.add_argument(
        "--sign-time",
        help="sign for this window, <start>;<end> in Unix seconds (e.g. a recorded q-sign-time)",
    )
    sign.add_argument(
        "--expire", type=int, default=600, help="seconds the signature stays valid (default 600)"
    )

    explain = sub.add_parser(
        "explain", help="print a check's clause, what it does and the open points it accepts"
    )
    explain.add_argument("check", help="a check name, e.g. pagination.walk_independent_of_size")

    serve = sub.add_parser("serve", help="serve the reference emulator over HTTP")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: loopback only)"
    )
    serve.add_argument("--port", type=int, default=9000)
    serve.add_argument(
        "--jobs",
        type=int,
        help="generate this many jobs into an empty store (default: as many as `run`'s, 300)",
    )
    serve.add_argument("--seed", type=int, default=0, help="seed of the generated dataset")
    serve.add_argument(
        "--shape", default="mixed", help="shape of the generated dataset: " + ", ".join(SHAPES)
    )
    serve.add_argument("--db", default=":memory:", help="SQLite file (default: in memory)")
    serve.add_argument(
        "--load",
        action="append",
        default=[],
        help="load the jobs seen in a cassette (run --record) or an XML file of JobsDetail "
        "elements, such as the pages of a walk (repeatable)",
    )
    serve.add_argument(
        "--secret-id",
        action="append",
        default=[],
        help="accept this SecretId (repeatable, each with a --secret-key)",
    )
    serve.add_argument("--secret-key", action="append", default=[], help="its SecretKey")
    serve.add_argument(
        "--security-token",
        action="append",
        default=[],
        help="make the key pairs temporary credentials needing these tokens, in order",
    )
    serve.add_argument(
        "--fault",
        action="append",
        default=[],
        help="turn on a fault switch (repeatable; see list-faults)",
    )
    serve.add_argument(
        "--behaviour",
        action="append",
        default=[],
        help="open-point choice name=value (repeatable; see list-behaviours)",
    )
    serve.add_argument(
        "--list-faults", action="store_true", help="the same as ci-conformance list-faults"
    )
    serve.add_argument(
        "--list-behaviours", action="store_true", help="the same as ci-conformance list-behaviours"
    )
    serve.add_argument(
        "--visibility-lag",
        type=float,
        default=0.0,
        help="seconds before a created job shows in reads (an eventually consistent service)",
    )
    serve.add_argument("--scenario", help="serve one SDK scenario (see ci-conformance sdk --list)")

    sub.add_parser("list-checks", help="list every check: name, category, contract clause")
    sub.add_parser("list-faults", help="describe every fault switch of the emulator")
    sub.add_parser("list-behaviours", help="list the emulator's open-point choices")

    kill = sub.add_parser(
        "kill-matrix", help="run the suite against every fault switch of the emulator"
    )
    kill.add_argument("--report-dir", default="reports", help="where kill-matrix.md and .json go")
    kill.add_argument("--workers", type=int, default=2, help="suite runs at once (default 2)")
    kill.add_argument("--examples-profile", default="ci", choices=["dev", "ci", "thorough"])
    alarms = sub.add_parser(
        "false-alarm-matrix",
        help="run the suite against the correct emulator in every allowed behaviour and dataset",
    )
    alarms.add_argument("--report-dir", default="reports", help="where the matrix .md and .json go")
    alarms.add_argument("--workers", type=int, default=2, help="suite runs at once (default 2)")
    alarms.add_argument("--examples-profile", default="ci", choices=["dev", "ci", "thorough"])

    from . import cassette, diff, regression
    from .sdk.cli import add_commands as add_sdk_commands

    add_sdk_commands(sub)
    for room in (regression, cassette, diff):
        room.add_commands(sub)

    args = parser.parse_args(parser.argv)
    hypothesis_storage()
    try:
        return _command(args)
    except BrokenPipeError:  # the reader went away, e.g. `ci-conformance list-checks | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _command(args: argparse.Namespace) -> int:
    if getattr(args, "handler", None):
        return args.handler(args)
    if args.command in ("sdk", "sdk-kill-matrix"):
        from .sdk.cli import main as sdk_main

        return sdk_main(args)
    if args.command == "serve":
        return _serve(args)
    if args.command == "list-checks":
        return _list_checks()
    if args.command == "list-faults":
        return _print(_faults())
    if args.command == "list-behaviours":
        return _print(_behaviours())
    if args.command == "explain":
        return _explain(args.check)
    if args.command == "sign":
        return _sign(args)
    if args.command == "replay":
        return _replay(args)
    if args.command == "kill-matrix":
        from .killmatrix import main as kill_matrix

        return kill_matrix(args.report_dir, args.workers, args.examples_profile)
    if args.command == "false-alarm-matrix":
        from .killmatrix import false_alarms_main

        return false_alarms_main(args.report_dir, args.workers, args.examples_profile)
    return _run(args)


def _print(text: str) -> int:
    print(text)
    return EXIT_OK


def _faults() -> str:
    from .emulator.faults import describe

    return describe()


def _behaviours() -> str:
    from .emulator.app import Behaviour

    return Behaviour.describe().replace("; ", "\n")


def _run_options(parser: argparse.ArgumentParser, report_dir: str | None = "reports") -> None:
    from .options import OPTIONS

    parser.add_argument(
        "--report-dir",
        default=report_dir,
        help=f"where reports go (default: {report_dir or 'replay/ beside the summary'})",
    )
    parser.add_argument(
        "--log-level", help="capture logs at this level into the reports (e.g. DEBUG)"
    )
    for o in OPTIONS:
        env = f" [env {o.env}]" if o.env else ""
        if o.flag_only:
            parser.add_argument(o.flag, action="store_true", help=o.help + env)
        else:
            parser.add_argument(o.flag, help=o.help + env)


def _replay(args: argparse.Namespace) -> int:
    from .checks import select
    from .options import read_replay, split

    given = Path(args.summary)
    try:
        before = read_replay(given)
    except ValueError as exc:
        return _usage(str(exc))
    narrowed = {c.name for c in select(split(args.checks))} if args.checks else set(before)
    wanted = [c for c in before if c in narrowed]  # --checks takes names or categories
    if not wanted:
        print("ci-conformance: the summary records no failure to replay")
        return EXIT_OK
    args.report_dir = args.report_dir or str(given.parent / "replay")
    if (Path(args.report_dir) / "summary.json").resolve() == given.resolve():
        return _usage(f"--report-dir {args.report_dir} would overwrite the summary being replayed")
    args.checks, args.replay = ",".join(wanted), str(given)
    code, after = _suite(args)
    if code in (EXIT_USAGE, EXIT_UNREACHABLE) or after is None:
        return code
    still = {f["check"] for f in after["failures"]}
    for check in wanted:
        print(f"  {'STILL FAILS' if check in still else 'now passes '}  {check}")
    return EXIT_VIOLATIONS if still else EXIT_OK


def _list_checks() -> int:
    from .checks import REGISTRY, select
    from .contract import ref

    width = max(len(n) for n in REGISTRY)
    anchors = max(len(ref(c.anchor)) for c in REGISTRY.values() if c.anchor)
    for c in select():
        link = ref(c.anchor) if c.anchor else ""
        print(f"{c.name:<{width}}  {c.category:<11} {link:<{anchors}}  {c.clause}")
    print("\nci-conformance explain CHECK prints a check's clause and the open points it accepts.")
    return EXIT_OK


def _explain(name: str) -> int:
    from .checks import REGISTRY
    from .contract import explain

    found = REGISTRY.get(name) or next(
        (c for c in REGISTRY.values() if c.name.split(".", 1)[1] == name), None
    )
    if found is None:
        near = difflib.get_close_matches(name, sorted(REGISTRY), n=1, cutoff=0.5)
        hint = f": did you mean {near[0]}?" if near else " (see ci-conformance list-checks)"
        return _usage(f"no check named {name!r}{hint}")
    print(explain(found))
    return EXIT_OK


def _sign(args: argparse.Namespace) -> int:
    from .reproduce import credentials_from_env, curl, sign_request, window

    if len(args.request) > 2:
        return _usage(
            "sign takes a method and a URL, e.g. sign GET 'http://host/inventorytriggerjob'"
        )
    method, url = args.request if len(args.request) == 2 else ("GET", args.request[0])
    if not url.startswith(("http://", "https://")):
        return _usage(f"{url!r} is not a URL (it must start with http:// or https://)")
    try:
        creds = credentials_from_env()
        headers = [_header(h) for h in args.header]
        sign_time = window(args.sign_time) if args.sign_time else None
    except ValueError as exc:
        return _usage(str(exc))
    signed = sign_request(method, url, headers, creds, presign=args.presign, sign_time=sign_time,
                          expire=args.expire)  # fmt: skip
    if args.presign and not creds.token and not headers:
        print(signed.url)
    else:
        print(curl(signed))
    return EXIT_OK


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise ValueError(f"-H {text!r}: expected 'Name: value'")
    return name.strip(), value.strip()


def _serve(args: argparse.Namespace) -> int:
    from .cassette import load_jobs
    from .emulator.app import EXAMPLE_CREDENTIALS, Behaviour, Emulator
    from .emulator.server import EmulatorServer
    from .emulator.store import Store
    from .options import EMULATOR_JOBS
    from .signing import Credentials
    from .xmlmodel import XMLProblem

    if args.list_faults:
        return _print(_faults())
    if args.list_behaviours:
        return _print(_behaviours())
    if args.scenario:
        from .sdk.cli import serve as serve_scenario

        return serve_scenario(args)
    if len(args.secret_id) != len(args.secret_key) or len(args.security_token) > len(
        args.secret_id or [0]
    ):
        return _usage(
            "give each --secret-id its --secret-key, and at most one --security-token per pair"
        )
    pairs = list(zip(args.secret_id, args.secret_key, strict=True)) or [
        (EXAMPLE_CREDENTIALS.secret_id, EXAMPLE_CREDENTIALS.secret_key)
    ]
    tokens = [*args.security_token, *[None] * len(pairs)]
    credentials = [Credentials(sid, key, tokens[i]) for i, (sid, key) in enumerate(pairs)]
    try:
        store = Store(args.db)
        if args.load:
            store.add(load_jobs(args.load), replace=True)  # the file is the newer answer
        jobs = EMULATOR_JOBS if args.jobs is None else args.jobs
        if jobs and len(store) == 0:
            store.load(jobs, args.seed, args.shape)
        app = Emulator(
            store,
            credentials,
            Behaviour.parse(args.behaviour),
            args.fault,
            visibility_lag=args.visibility_lag,
        )
        server = EmulatorServer(app, args.host, args.port)
    except (ValueError, OSError, XMLProblem) as exc:
        return _usage(str(exc))
    print(f"ci-conformance emulator at {server.url} ({len(store)} jobs)")
    keys = "--secret-id ID --secret-key KEY"  # a user's own keys are never printed
    if not args.secret_id:  # the vendor's published example key, not a secret
        ex = EXAMPLE_CREDENTIALS
        keys = f"--secret-id {ex.secret_id} --secret-key {ex.secret_key}"
    print(f"the suite against it: ci-conformance run --target {server.url} {keys}")
    for creds in credentials:
        print(
            f"accepts SecretId {creds.secret_id}"
            + (" (temporary: its security token is required)" if creds.token else "")
        )
    if args.fault:
        print(f"fault switches on: {', '.join(args.fault)}")
    if args.behaviour:
        print(f"open-point behaviours: {', '.join(args.behaviour)}")
    print("serving; Ctrl-C stops", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return EXIT_OK


def _usage(message: str) -> int:
    print(f"ci-conformance: {message}", file=sys.stderr)
    return EXIT_USAGE


SECRET_FLAGS = {
    "secret_id": "COS_SECRET_ID",
    "secret_key": "COS_SECRET_KEY",
    "security_token": "COS_SECURITY_TOKEN",
}


def _pytest_args(args: argparse.Namespace, report_dir: Path) -> list[str]:
    """The suite's pytest command line. Credentials go through the environment, not argv."""
    from .options import OPTIONS, dest
    from .suite import INI

    argv = ["-c", INI, "--pyargs", "conformance.suite", "-qq", "--tb=no", "-rN", "-o", "console_output_style=classic",
            "-W", "ignore::pytest.PytestAssertRewriteWarning",
            "--conformance-progress", f"--junitxml={report_dir / 'junit.xml'}", "-o", "junit_suite_name=ci-conformance",
            f"--html={report_dir / 'conformance.html'}", "--self-contained-html",
            f"--conformance-json={report_dir / 'summary.json'}"]  # fmt: skip
    if args.log_level:
        argv += ["--log-level", args.log_level]
    for o in OPTIONS:
        value = getattr(args, dest(o))
        if dest(o) in SECRET_FLAGS:
            if value:
                os.environ[SECRET_FLAGS[dest(o)]] = value
        elif o.flag_only and value:
            argv.append(o.flag)
        elif not o.flag_only and value is not None:
            argv += [o.flag, str(value)]
    return argv


def _run(args: argparse.Namespace) -> int:
    return _suite(args)[0]


def _suite(args: argparse.Namespace) -> tuple[int, dict | None]:
    """Run the suite in this process; the exit code and the run's summary (None if it did not
    run). Nothing is deleted first: the reports of an earlier run are replaced, not removed."""
    import pytest

    from .options import read
    from .plugin import SUMMARY

    try:
        settings = read(lambda name: getattr(args, name, None))
    except ValueError as exc:
        return _usage(str(exc)), None
    report_dir = Path(args.report_dir)
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return _usage(f"--report-dir {report_dir}: {exc}"), None
    doing = "replaying the failures" if getattr(args, "replay", None) else "running the suite"
    where = settings.target_url or "the embedded emulator"
    print(f"ci-conformance: {doing} against {where}", flush=True)

    class Capture:
        summary: dict | None = None

        @pytest.hookimpl(trylast=True)
        def pytest_sessionfinish(self, session: pytest.Session) -> None:
            Capture.summary = session.config.stash.get(SUMMARY, None)

    code = int(pytest.main(_pytest_args(args, report_dir), plugins=[Capture()]))
    summary = Capture.summary
    if summary is None:
        print("ci-conformance: the suite did not run (see the messages above)", file=sys.stderr)
        return EXIT_USAGE, None
    if summary["verdict"] in ("unreachable", "misconfigured") or code == 13:
        return EXIT_UNREACHABLE, summary
    if code in (0, 5) and summary["verdict"] == "conformant":
        return EXIT_OK, summary
    if code == 4:
        return EXIT_USAGE, summary
    return EXIT_VIOLATIONS, summary


if __name__ == "__main__":
    raise SystemExit(main())
