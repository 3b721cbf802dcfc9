"""``ci-conformance``: run the suite, serve the emulator, list checks and faults."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path

from . import __version__
from .emulator.store import SHAPES

EXIT_OK, EXIT_VIOLATIONS, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="ci-conformance",
        description="Conformance suite for Tencent Cloud CI's GET /inventorytriggerjob.",
    )
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
        "against the target given here (by default the embedded emulator).",
    )
    replay.add_argument("summary", help="a summary.json written by ci-conformance run")
    _run_options(replay)

    serve = sub.add_parser("serve", help="serve the reference emulator over HTTP")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: loopback only)"
    )
    serve.add_argument("--port", type=int, default=9000)
    serve.add_argument(
        "--jobs", type=int, default=0, help="generate this many jobs into an empty store"
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
        "--fault", action="append", default=[], help="turn on a fault switch (repeatable)"
    )
    serve.add_argument(
        "--behaviour",
        action="append",
        default=[],
        help="open-point choice name=value (repeatable); see --list-behaviours",
    )
    serve.add_argument(
        "--visibility-lag",
        type=float,
        default=0.0,
        help="seconds before a created job shows in reads (an eventually consistent service)",
    )
    serve.add_argument("--list-faults", action="store_true", help="describe every fault switch")
    serve.add_argument("--list-behaviours", action="store_true", help="list the open-point choices")

    sub.add_parser("list-checks", help="list every check: name, category, clause")

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

    for room in (regression, cassette, diff):
        room.add_commands(sub)
    args = parser.parse_args(argv)
    if getattr(args, "handler", None):
        return args.handler(args)
    if args.command == "serve":
        return _serve(args)
    if args.command == "list-checks":
        return _list_checks()
    if args.command == "replay":
        return _replay(args)
    if args.command == "kill-matrix":
        from .killmatrix import main as kill_matrix

        return kill_matrix(args.report_dir, args.workers, args.examples_profile)
    if args.command == "false-alarm-matrix":
        from .killmatrix import false_alarms_main

        return false_alarms_main(args.report_dir, args.workers, args.examples_profile)
    return _run(args)


def _run_options(parser: argparse.ArgumentParser) -> None:
    from .options import OPTIONS

    parser.add_argument(
        "--report-dir", default="reports", help="where reports go (default: reports/)"
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
    from .options import read_replay

    try:
        before = read_replay(Path(args.summary))
        seed = json.loads(Path(args.summary).read_text("utf-8")).get("seed")
    except ValueError as exc:
        return _usage(str(exc))
    wanted = [c for c in before if not args.checks or c in args.checks.split(",")]
    if not wanted:
        print("ci-conformance: the summary records no failure to replay")
        return EXIT_OK
    args.checks, args.replay = ",".join(wanted), args.summary
    if args.seed is None and seed is not None:
        args.seed = str(seed)
    code = _run(args)
    if code in (EXIT_USAGE, EXIT_UNREACHABLE):
        return code
    after = {
        f["check"]
        for f in json.loads((Path(args.report_dir) / "summary.json").read_text("utf-8"))["failures"]
    }
    for check in wanted:
        print(f"  {'STILL FAILS' if check in after else 'now passes '}  {check}")
    return EXIT_VIOLATIONS if after else EXIT_OK


def _list_checks() -> int:
    from .checks import REGISTRY, select

    width = max(len(n) for n in REGISTRY)
    for c in select():
        print(f"{c.name:<{width}}  {c.category:<11} {c.clause}")
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    from .cassette import load_jobs
    from .emulator.app import EXAMPLE_CREDENTIALS, Behaviour, Emulator
    from .emulator.faults import describe
    from .emulator.server import EmulatorServer
    from .emulator.store import Store, generate
    from .signing import Credentials
    from .xmlmodel import XMLProblem

    if args.list_faults:
        print(describe())
        return EXIT_OK
    if args.list_behaviours:
        print(Behaviour.describe().replace("; ", "\n"))
        return EXIT_OK
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
            store.add(load_jobs(args.load))
        if args.jobs and len(store) == 0:
            store.add(generate(args.jobs, args.seed, args.shape))
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
    print(f"ci-conformance emulator at {server.url}/inventorytriggerjob ({len(store)} jobs)")
    for creds in credentials:
        print(
            f"accepts SecretId {creds.secret_id}"
            + (" (temporary: its security token is required)" if creds.token else "")
        )
    if not args.secret_id:  # the vendor's published example key, not a secret
        print(f"        SecretKey {EXAMPLE_CREDENTIALS.secret_key}")
    if args.fault:
        print(f"fault switches on: {', '.join(args.fault)}")
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

    argv = ["-c", INI, "--pyargs", "conformance.suite", "-qq", "--tb=no", "-W", "ignore::pytest.PytestAssertRewriteWarning",
            "--conformance-progress", f"--junitxml={report_dir / 'junit.xml'}",
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
    import pytest

    from .options import read

    try:
        read(lambda name: getattr(args, name, None))
    except ValueError as exc:
        return _usage(str(exc))
    report_dir = Path(args.report_dir)
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return _usage(f"--report-dir {report_dir}: {exc}")
    summary_path = report_dir / "summary.json"
    summary_path.unlink(missing_ok=True)
    print("ci-conformance: running the suite" + (f" against {args.target}" if args.target else
          " against the embedded emulator"), flush=True)  # fmt: skip
    code = int(pytest.main(_pytest_args(args, report_dir)))
    if not summary_path.exists():
        print("ci-conformance: the suite did not run (see the messages above)", file=sys.stderr)
        return EXIT_USAGE
    summary = json.loads(summary_path.read_text("utf-8"))
    _print_verdict(summary, report_dir)
    if summary["verdict"] == "unreachable" or code == 13:
        return EXIT_UNREACHABLE
    if code in (0, 5) and summary["verdict"] == "conformant":
        return EXIT_OK
    if code == 4:
        return EXIT_USAGE
    return EXIT_VIOLATIONS


def _print_verdict(summary: dict, report_dir: Path) -> None:
    print()
    for category, n in summary["counts"].items():
        print(
            f"  {category:<11} {n['passed']:>3} passed  {n['failed']:>3} failed  {n['skipped']:>3} skipped"
        )
    print(f"\n{summary['requests']} requests in {summary['duration_s']} s to {summary['target']}")
    for f in summary["failures"]:
        print(f"\nFAILED {f['check']}: {f['found']}\n  clause: {f['clause']}")
        if f.get("query"):
            print(f"  minimal query: {f['query']}")
    if summary.get("message"):
        print(f"\n{summary['message']}")
    print(
        f"\nVerdict: {summary['verdict'].upper()}. Reports: {report_dir}/conformance.html, junit.xml, summary.json"
    )


if __name__ == "__main__":
    raise SystemExit(main())
