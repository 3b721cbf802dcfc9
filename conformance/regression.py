"""Pre-release regression: the behaviour fingerprint as a profile, and baselines (``compare``).

A pass/fail verdict answers "is it conformant?". ``compare`` answers what an API team asks
before a release: what did it change that a client will notice? The checks that newly fail
(root cause first), those that newly pass, and every open point whose choice changed (flagged
even when both choices are allowed: a client may rely on the old one), with the change in
requests and duration.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .coverage import MIXED, OPEN_POINTS, pinnable
from .results import Summary

# --- the fingerprint as a profile ---------------------------------------------------------


def profile_text(summary: Any) -> str:
    """A ``--profile`` TOML pinning every open point the run met with one choice."""
    seen = summary.behaviour
    lines = [
        "# ci-conformance profile: the choice the target made at each open point of the contract (docs/contract.md),",
        f"# seen by a run against {summary.target} (seed {summary.seed}, verdict {summary.verdict}).",
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


def choices_of(value: str | None) -> list[str]:
    return value.split(MIXED) if value else []


# --- compare ------------------------------------------------------------------------------


@dataclass(kw_only=True)
class CompareSummary(Summary):
    old_file: str = ""
    new_file: str = ""
    old: dict[str, Any] = field(default_factory=dict)
    new: dict[str, Any] = field(default_factory=dict)
    differs_in: list[str] = field(default_factory=list)
    regressions: list[dict[str, Any]] = field(default_factory=list)
    newly_passing: list[dict[str, Any]] = field(default_factory=list)
    other_changes: list[dict[str, Any]] = field(default_factory=list)
    behaviour_changes: list[dict[str, Any]] = field(default_factory=list)
    behaviour_met_in_one_run_only: list[dict[str, Any]] = field(default_factory=list)
    requests: dict[str, Any] = field(default_factory=dict)
    duration: dict[str, Any] = field(default_factory=dict)


def read_summary(path: str) -> dict[str, Any]:
    """A summary.json; ``ValueError`` when it is not one."""
    try:
        data = json.loads(Path(path).read_text("utf-8"))
        if not isinstance(data, dict) or "results" not in data:
            raise ValueError("no results in it")
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a ci-conformance summary.json ({exc})") from None
    return data


def compare(old: dict, new: dict, old_file: str = "", new_file: str = "") -> CompareSummary:
    """What changed from the ``old`` summary.json to the ``new`` one."""
    before = {r["check"]: r for r in old.get("results", [])}
    after = {r["check"]: r for r in new.get("results", [])}
    rank = {c["check"]: i for i, c in enumerate(new.get("root_causes", []))}  # root cause first
    consequence = {
        c["check"]: r["check"]
        for r in new.get("root_causes", [])
        for c in r.get("consequences", [])
    }
    regressions, fixed, other = [], [], []
    for name in sorted(before.keys() | after.keys()):
        a, b = before.get(name, {}), after.get(name, {})
        was, now = a.get("outcome", "absent"), b.get("outcome", "absent")
        if was == now:
            continue
        row = {"check": name, "old": was, "new": now}
        if now == "failed":
            found = (b.get("failures") or [{}])[0].get("found", "") or b.get("found", "")
            regressions.append(row | {"found": found, "clause": b.get("clause", ""),
                                      "likely_root": consequence.get(name)})  # fmt: skip
        elif was == "failed" and now == "passed":
            fixed.append(row)
        else:
            other.append(row | {"reason": b.get("reason", "")})
    regressions.sort(
        key=lambda r: (
            rank.get(r["likely_root"] or r["check"], len(rank)),
            r["likely_root"] is not None,
        )
    )
    changed, unmet = [], []
    old_b, new_b = old.get("behaviour", {}), new.get("behaviour", {})
    for point in dict.fromkeys([*OPEN_POINTS, *old_b, *new_b]):
        was, now = choices_of(old_b.get(point)), choices_of(new_b.get(point))
        if was and now and set(was) != set(now):
            allowed = all(c in OPEN_POINTS.get(point, ()) for c in was + now)
            changed.append({"point": point, "old": MIXED.join(was), "new": MIXED.join(now), "allowed": allowed})  # fmt: skip
        elif bool(was) != bool(now):
            unmet.append({"point": point, "old": MIXED.join(was) or "not met", "new": MIXED.join(now) or "not met"})  # fmt: skip
    differs = [f"{key}: {old.get(key)!r} vs {new.get(key)!r}"
               for key in ("target", "seed", "profile", "tool_version") if old.get(key) != new.get(key)]  # fmt: skip
    ran = [{r["check"] for r in run.get("results", [])} for run in (old, new)]
    if ran[0] != ran[1]:
        chosen = [run.get("options", {}).get("checks") or "every check" for run in (old, new)]
        differs.append(f"the checks run: {len(ran[0])} ({chosen[0]}) vs {len(ran[1])} ({chosen[1]}); "
                       "a check run in one only shows as 'absent'")  # fmt: skip
    verdict = "regressions" if regressions else "behaviour changed" if changed else "no change"
    return CompareSummary(
        kind="compare", verdict=verdict, old_file=old_file, new_file=new_file,
        old=_facts(old), new=_facts(new), differs_in=differs, regressions=regressions,
        newly_passing=fixed, other_changes=other, behaviour_changes=changed,
        behaviour_met_in_one_run_only=unmet,
        requests=_change(old.get("requests"), new.get("requests")),
        duration=_change(old.get("duration_s"), new.get("duration_s")),
    )  # fmt: skip


def _facts(summary: dict) -> dict:
    keys = ("verdict", "target", "seed", "tool_version", "requests", "duration_s")
    return {k: summary.get(k) for k in keys}


def _change(old: float | None, new: float | None) -> dict:
    if old is None or new is None:
        return {"old": old, "new": new}
    delta = round(new - old, 2)
    return {"old": old, "new": new, "change": delta, "percent": round(100 * delta / old, 1) if old else None}  # fmt: skip


def compare_text(result: CompareSummary) -> list[str]:
    lines = [f"compare: {result.old_file} (old) -> {result.new_file} (new)"]
    lines += [f"  note: the runs differ in {d}" for d in result.differs_in]
    if result.regressions:
        lines.append("\nREGRESSIONS (newly failing, root cause first):")
        for r in result.regressions:
            root = f" (likely a consequence of {r['likely_root']})" if r["likely_root"] else ""
            lines.append(f"  {r['check']}: {r['old']} -> {r['new']}{root}: {r['found'][:200]}")
    for title, rows in (
        ("newly passing", result.newly_passing),
        ("other changes", result.other_changes),
    ):
        if rows:
            lines.append(f"\n{title}:")
            lines += [f"  {r['check']}: {r['old']} -> {r['new']}" for r in rows]
    if result.behaviour_changes:
        lines.append("\nBEHAVIOUR CHANGED (a client may rely on the old choice):")
        lines += [f"  {c['point']}: {c['old']} -> {c['new']}" + (" (both allowed)" if c["allowed"] else "")
                  for c in result.behaviour_changes]  # fmt: skip
    if result.behaviour_met_in_one_run_only:
        lines.append("\nopen points met in one run only (not compared):")
        lines += [
            f"  {c['point']}: {c['old']} -> {c['new']}"
            for c in result.behaviour_met_in_one_run_only
        ]
    for key, c in (("requests", result.requests), ("duration (s)", result.duration)):
        if "change" in c:
            pct = f" ({c['percent']:+}%)" if c.get("percent") is not None else ""
            lines.append(f"\n{key}: {c['old']} -> {c['new']}{pct}")
    return lines
