"""``ci-conformance sdk``, ``sdk-kill-matrix`` and ``serve --scenario``: the SDK commands."""

from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path

from ..cli import EXIT_OK, EXIT_UNREACHABLE, EXIT_VIOLATIONS, _usage

EXIT_UNUSABLE = EXIT_UNREACHABLE  # as `run`: 3 when the other side answers nothing usable


def add_commands(sub: argparse._SubParsersAction) -> None:
    sdk = sub.add_parser(
        "sdk",
        help="judge an SDK (any language, through a driver) against the emulator",
        description="Run the driver once per task of every scenario; judge every request it "
        "makes and every result it prints. See the README, 'Writing a driver'.",
    )
    sdk.add_argument("--driver", help='the command that runs your driver, e.g. "node driver.js"')
    sdk.add_argument("--scenarios", help="comma-separated scenario names (default: all)")
    sdk.add_argument("--tasks", help="comma-separated task ids or scenario/task (default: all)")
    sdk.add_argument(
        "--report-dir",
        default="reports",
        help="where sdk.html, sdk-junit.xml and sdk-summary.json go (default: reports/)",
    )
    sdk.add_argument("--workers", type=int, default=2, help="scenarios at once (default 2)")
    sdk.add_argument("--timeout", type=float, default=60.0, help="seconds per task (default 60)")
    sdk.add_argument("--list", action="store_true", help="list scenarios and their tasks (JSON)")
    kill = sub.add_parser(
        "sdk-kill-matrix", help="run the reference client driver with each of its fault switches"
    )
    kill.add_argument(
        "--report-dir", default="reports", help="where client-kill-matrix.md/.json go"
    )
    kill.add_argument("--workers", type=int, default=2, help="runs at once (default 2)")


def _names(text: str | None) -> list[str] | None:
    return [n.strip() for n in text.split(",") if n.strip()] if text else None


def main(args: argparse.Namespace) -> int:
    if args.command == "sdk-kill-matrix":
        from .killmatrix import main as kill_matrix

        return kill_matrix(args.report_dir, args.workers)
    from . import report, runner, scenarios

    try:
        chosen = scenarios.select(_names(args.scenarios))
    except ValueError as exc:
        return _usage(str(exc))
    if args.list:
        for s in chosen:
            print(f"{s.name}: {s.covers}")
            for t in s.build()[1]:
                print(f"  {t.id:<18} {json.dumps(t.to_json(), ensure_ascii=False)}")
        return EXIT_OK
    if not args.driver:
        return _usage("give --driver, the command that runs your driver (see --help)")
    if args.workers < 1 or args.timeout <= 0:
        return _usage("--workers must be at least 1 and --timeout positive")
    report_dir = Path(args.report_dir)
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
        plan = runner.select_tasks(chosen, _names(args.tasks))
        runner.parse_driver(args.driver)
    except (ValueError, OSError) as exc:
        return _usage(str(exc))
    tasks = sum(len(t) for _, t in plan)
    print(f"ci-conformance sdk: {tasks} tasks in {len(plan)} scenarios, driver: {args.driver}",
          flush=True)  # fmt: skip
    run = runner.run(
        args.driver,
        chosen,
        _names(args.tasks),
        workers=args.workers,
        timeout=args.timeout,
        progress=_progress,
    )
    summary = report.write(run, report_dir)
    _verdict(summary, report_dir)
    return {"conformant": EXIT_OK, "unusable": EXIT_UNUSABLE}.get(run.verdict, EXIT_VIOLATIONS)


def _progress(result) -> None:  # type: ignore[no-untyped-def]
    counts = ", ".join(
        f"{result.count(k)} {k}" for k in ("passed", "failed", "skipped") if result.count(k)
    )
    print(
        f"  {result.scenario.name:<22} {len(result.results):>2} tasks: {counts:<28} "
        f"({result.seconds:.1f} s)",
        flush=True,
    )
    for r in result.results:
        for f in r.findings:
            print(f"      FAILED {r.task.id}: {f.rule}: {f.message[:300]}", flush=True)


def _verdict(summary: dict, report_dir: Path) -> None:
    c = summary["counts"]
    print(
        f"\n{c['passed']} passed, {c['failed']} failed, {c['skipped']} skipped in "
        f"{summary['duration_s']} s"
    )
    for rule, r in summary["rules"].items():
        print(f"  {rule:<26} {r['count']:>3} task(s)  {r['clause']}")
    if summary["verdict"] == "unusable":
        print(
            "\nThe driver produced nothing usable (it failed, hung, printed no JSON lines or supports no task); "
            "see its stderr in the report."
        )
    print(
        f"\nVerdict: {summary['verdict'].upper()}. Reports: "
        + ", ".join(
            str(Path(report_dir) / n) for n in ("sdk.html", "sdk-junit.xml", "sdk-summary.json")
        )
    )


def serve(args: argparse.Namespace) -> int:
    """``serve --scenario NAME``: one scenario's emulator, by hand."""
    from ..emulator.server import EmulatorServer
    from . import protocol, scenarios

    mixed = [f for f in ("jobs", "load", "fault", "behaviour", "secret_id") if getattr(args, f)]
    if mixed:
        return _usage(f"--scenario brings its own data, keys and behaviour; drop "
                      f"{', '.join('--' + f.replace('_', '-') for f in mixed)}")  # fmt: skip
    try:
        (scenario,) = scenarios.select([args.scenario])
        store, app = scenario.serve()
        server = EmulatorServer(app, args.host, args.port)  # type: ignore[arg-type]
    except (ValueError, OSError) as exc:
        return _usage(str(exc))
    creds = scenario.credentials()
    print(
        f"ci-conformance emulator at {server.url} ({len(store)} jobs), "
        f"scenario {scenario.name}: {scenario.covers}"
    )
    print("a driver's environment for it (the scenario's test keys, not secrets):")
    env = {
        protocol.ENDPOINT: server.url,
        protocol.BUCKET: scenarios.BUCKET,
        protocol.REGION: scenarios.REGION,
        protocol.SECRET_ID: creds.secret_id,
        protocol.SECRET_KEY: creds.secret_key,
    }
    if creds.token:
        env[protocol.SECURITY_TOKEN] = creds.token
    for k, v in env.items():
        print(f"  export {k}={v}")
    print(f"tasks (each is one {protocol.TASK}; a per-task effect applies to the first request):")
    for t in scenario.build()[1]:
        print(f"  {json.dumps(t.to_json(), ensure_ascii=False)}")
    print("serving; Ctrl-C stops", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return EXIT_OK
