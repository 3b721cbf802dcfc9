"""Pre-release regression: the behaviour fingerprint as a profile, and baselines (``compare``).

A pass/fail verdict answers "is it conformant?". ``compare`` answers what an API team asks
before a release: what did it change that a client will notice? The checks that newly fail,
those that newly pass, and every open point whose choice changed (flagged even when both choices
are allowed: a client may rely on the old one), with the change in requests and duration.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .cli import EXIT_OK, EXIT_VIOLATIONS, _usage
from .coverage import MIXED, OPEN_POINTS, pinnable

# --- the fingerprint as a profile ---------------------------------------------------------


def profile_text(summary: dict) -> str:
    """A ``--profile`` TOML pinning every open point the run met with one choice."""
    seen = summary.get("behaviour", {})
    lines = [
        "# ci-conformance profile: the choice the target made at each open point of the contract (docs/contract.md),",
        f"# seen by a run against {summary.get('target', '?')} (seed {summary.get('seed', '?')},"
        f" verdict {summary.get('verdict', '?')}).",
        "# With --profile this file, a later run fails where the target chooses otherwise.",
    ]
    for point in OPEN_POINTS:
        choices = choices_of(seen.get(point))
        if len(choices) == 1 and choices[0] in pinnable(point):
            lines.append(f"{point} = {json.dumps(choices[0])}")
        elif not choices:
            lines.append(f"# {point}: not met in this run, so not pinned")
        else:
            lines.append(f"# {point}: {MIXED.join(choices)} seen, so not pinned")
    return "\n".join(lines) + "\n"


def write_profile(path: Path, summary: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(profile_text(summary), "utf-8")


def choices_of(value: str | None) -> list[str]:
    return value.split(MIXED) if value else []


# --- compare ------------------------------------------------------------------------------


def compare(old: dict, new: dict, allow_behaviour_change: bool = False) -> dict:
    """What changed from the ``old`` summary.json to the ``new`` one."""
    before = {r["check"]: r for r in old.get("results", [])}
    after = {r["check"]: r for r in new.get("results", [])}
    regressions, fixed, other = [], [], []
    for name in sorted(before.keys() | after.keys()):
        a, b = before.get(name, {}), after.get(name, {})
        was, now = a.get("outcome", "absent"), b.get("outcome", "absent")
        if was == now:
            continue
        row = {"check": name, "old": was, "new": now}
        if now == "failed":
            regressions.append(row | {"found": b.get("found", ""), "clause": b.get("clause", "")})
        elif was == "failed" and now == "passed":
            fixed.append(row)
        else:
            other.append(row | {"reason": b.get("reason", "")})
    changed, unmet = [], []
    old_b, new_b = old.get("behaviour", {}), new.get("behaviour", {})
    for point in dict.fromkeys([*OPEN_POINTS, *old_b, *new_b]):
        was, now = choices_of(old_b.get(point)), choices_of(new_b.get(point))
        if was and now and set(was) != set(now):
            allowed = all(c in OPEN_POINTS.get(point, ()) for c in was + now)
            changed.append({"point": point, "old": MIXED.join(was), "new": MIXED.join(now),
                            "allowed": allowed})  # fmt: skip
        elif bool(was) != bool(now):
            unmet.append({"point": point, "old": MIXED.join(was) or "not met",
                          "new": MIXED.join(now) or "not met"})  # fmt: skip
    differs = [
        f"{key}: {old.get(key)!r} vs {new.get(key)!r}"
        for key in ("target", "seed", "profile", "tool_version")
        if old.get(key) != new.get(key)
    ]
    ran = [{r["check"] for r in run.get("results", [])} for run in (old, new)]
    if ran[0] != ran[1]:
        chosen = [run.get("options", {}).get("checks") or "all" for run in (old, new)]
        differs.append(f"the checks run: {len(ran[0])} vs {len(ran[1])} (--checks {chosen[0]} vs "
                       f"{chosen[1]}); a check run in one only shows as 'absent'")  # fmt: skip
    code = EXIT_VIOLATIONS if regressions or (changed and not allow_behaviour_change) else EXIT_OK
    verdict = (
        "regressions"
        if regressions
        else "behaviour changed"
        if changed
        else "no regression, no behaviour change"
    )
    return {
        "verdict": verdict,
        "exit_code": code,
        "old": _facts(old),
        "new": _facts(new),
        "differs_in": differs,
        "regressions": regressions,
        "newly_passing": fixed,
        "other_changes": other,
        "behaviour_changes": changed,
        "behaviour_met_in_one_run_only": unmet,
        "requests": _change(old.get("requests"), new.get("requests")),
        "duration_s": _change(old.get("duration_s"), new.get("duration_s")),
    }


def _facts(summary: dict) -> dict:
    keys = ("verdict", "target", "seed", "tool_version", "requests", "duration_s")
    return {k: summary.get(k) for k in keys}


def _change(old: float | None, new: float | None) -> dict:
    if old is None or new is None:
        return {"old": old, "new": new}
    delta = round(new - old, 2)
    return {"old": old, "new": new, "change": delta,
            "percent": round(100 * delta / old, 1) if old else None}  # fmt: skip


def compare_text(result: dict) -> str:
    lines = [f"compare: {result['verdict'].upper()}"]
    for d in result["differs_in"]:
        lines.append(f"  note: the runs differ in {d}")
    for title, key in (("REGRESSIONS (newly failing)", "regressions"),
                       ("newly passing", "newly_passing"), ("other changes", "other_changes")):  # fmt: skip
        if result[key]:
            lines.append(f"\n{title}:")
            lines += [
                f"  {r['check']}: {r['old']} -> {r['new']}"
                + (f": {r['found'][:200]}" if r.get("found") else "")
                for r in result[key]
            ]
    if result["behaviour_changes"]:
        lines.append("\nBEHAVIOUR CHANGES (a client may rely on the old choice):")
        lines += [
            f"  {c['point']}: {c['old']} -> {c['new']}"
            + (" (both allowed)" if c["allowed"] else "")
            for c in result["behaviour_changes"]
        ]
    if result["behaviour_met_in_one_run_only"]:
        lines.append("\nopen points met in one run only (not compared):")
        lines += [
            f"  {c['point']}: {c['old']} -> {c['new']}"
            for c in result["behaviour_met_in_one_run_only"]
        ]
    for key in ("requests", "duration_s"):
        c = result[key]
        if "change" in c:
            pct = f" ({c['percent']:+}%)" if c.get("percent") is not None else ""
            lines.append(f"\n{key}: {c['old']} -> {c['new']}{pct}")
    return "\n".join(lines)


def compare_html(result: dict) -> str:
    from .report import render

    return render("compare.html.j2", result=result)


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help="compare two summary.json files: regressions and behaviour changes (a CI gate)",
        description="Compare the summary.json of a baseline run (OLD) with a new run's (NEW): "
        "checks that newly fail, newly pass, open points whose choice changed, and the change "
        "in requests and duration. Exit 1 on a regression or a behaviour change.",
    )
    p.add_argument("old", help="the baseline's summary.json")
    p.add_argument("new", help="the new run's summary.json")
    p.add_argument(
        "--allow-behaviour-change",
        action="store_true",
        help="exit 0 when only open-point choices changed (both allowed by the contract)",
    )
    p.add_argument("--report-dir", default="reports", help="where compare.html and compare.json go")
    p.set_defaults(handler=compare_main)


def compare_main(args: argparse.Namespace) -> int:
    summaries = []
    for path in (args.old, args.new):
        try:
            data = json.loads(Path(path).read_text("utf-8"))
            if not isinstance(data, dict) or "results" not in data:
                raise ValueError("no results in it")
        except (OSError, ValueError) as exc:
            return _usage(f"{path}: not a ci-conformance summary.json ({exc})")
        summaries.append(data)
    result = compare(*summaries, allow_behaviour_change=args.allow_behaviour_change)
    out = Path(args.report_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "compare.json").write_text(json.dumps(result, indent=2), "utf-8")
        (out / "compare.html").write_text(compare_html(result), "utf-8")
    except OSError as exc:
        return _usage(f"--report-dir {out}: {exc}")
    print(compare_text(result))
    print(f"\nReports: {out / 'compare.html'}, {out / 'compare.json'}")
    return result["exit_code"]
