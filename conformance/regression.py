"""Pre-release regression: a baseline run's summary.json against a new one's (``compare``).

A pass/fail verdict answers "is it conformant?". ``compare`` answers what an API team asks
before a release: what did it change that a client will notice? The checks that newly fail
(root cause first, each likely consequence under its root), those that newly pass, and every
open point whose choice changed (flagged even when both choices are allowed: a client may rely
on the old one), with the change in requests and duration. A choice that changed at an open
point of a clause the new run breaks is a side effect of that failure, not a change of its own.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import contract
from .causes import explain
from .coverage import ANCHORS, MIXED, OPEN_POINTS
from .results import Summary


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
    side_effects: list[dict[str, Any]] = field(default_factory=list)
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
    failed = {f["check"]: f for f in reversed(new.get("failures", []))}  # root cause first
    rank = {f: i for i, f in enumerate(dict.fromkeys(f["check"] for f in new.get("failures", [])))}
    root_of = {c["check"]: (r["check"], c) for r in new.get("root_causes", []) for c in r.get("consequences", [])}  # fmt: skip
    regressions, fixed, other = [], [], []
    for name in sorted(before.keys() | after.keys()):
        was, now = before.get(name, {}).get("outcome", "absent"), after.get(name, {}).get("outcome", "absent")  # fmt: skip
        row = {"check": name, "old": was, "new": now}
        if was == now:
            continue
        if now == "failed":
            f = failed.get(name, {})
            root, why = root_of.get(name, (None, None))
            regressions.append(row | {"found": f.get("found", ""), "clause": f.get("clause", ""),
                                      "anchor": f.get("anchor", ""), "likely_root": root,
                                      "why": explain(why) if why else ""})  # fmt: skip
        elif was == "failed" and now == "passed":
            fixed.append(row)
        else:
            other.append(row | {"reason": after.get(name, {}).get("reason", "")})
    regressions.sort(key=lambda r: rank.get(r["check"], len(rank)))
    broken: dict[str, str] = {}  # each open point of a clause the new run breaks: its first failure
    for f in reversed(new.get("failures", [])):
        broken |= dict.fromkeys(getattr(contract.clauses().get(f.get("anchor", "")), "open_points", ()), f["check"])  # fmt: skip
    changed, side, unmet = [], [], []
    old_b, new_b = old.get("behaviour", {}), new.get("behaviour", {})
    for point in dict.fromkeys([*OPEN_POINTS, *old_b, *new_b]):
        was, now = (set((seen.get(point) or "").split(MIXED)) - {""} for seen in (old_b, new_b))
        row = {"point": point, "old": old_b.get(point) or "not met", "new": new_b.get(point) or "not met"}  # fmt: skip
        if was and now and was != now:
            allowed = all(c in OPEN_POINTS.get(point, ()) for c in was | now)
            cause = broken.get(ANCHORS.get(point, ""))
            (side if cause else changed).append(row | {"allowed": allowed} | ({"with": cause} if cause else {}))  # fmt: skip
        elif bool(was) != bool(now):
            unmet.append(row)
    differs = [f"{what}: {_text(old.get(key))} vs {_text(new.get(key))}"
               for what, key in (("target", "target"), ("seed", "seed"), ("profile", "profile"),
                                 ("ci-conformance version", "tool_version")) if old.get(key) != new.get(key)]  # fmt: skip
    ran = [{r["check"] for r in run.get("results", [])} for run in (old, new)]
    if ran[0] != ran[1]:
        chosen = [run.get("options", {}).get("checks") or "every check" for run in (old, new)]
        differs.append(f"the checks run: {len(ran[0])} ({chosen[0]}) vs {len(ran[1])} ({chosen[1]}); "
                       "a check run in one only shows as 'absent'")  # fmt: skip
    verdict = "regressions" if regressions else "behaviour changed" if changed else "no change"
    reproduce = [shlex.join(["ci-conformance", "compare", old_file, new_file])]
    if regressions and new.get("replay"):
        reproduce.insert(0, shlex.join(["ci-conformance", "replay", new_file, "--checks", regressions[0]["check"]]))  # fmt: skip
    return CompareSummary(
        kind="compare", verdict=verdict, old_file=old_file, new_file=new_file,
        old=_facts(old), new=_facts(new), differs_in=differs, regressions=regressions,
        newly_passing=fixed, other_changes=other, behaviour_changes=changed, side_effects=side,
        behaviour_met_in_one_run_only=unmet, reproduce=reproduce,
        requests=_change(old.get("requests"), new.get("requests")),
        duration=_change(old.get("duration_s"), new.get("duration_s")),
    )  # fmt: skip


def _text(value: Any) -> str:
    """A summary's value for people: a profile as its pins, nothing as "none"."""
    if isinstance(value, dict):
        return ", ".join(f"{k} = {v}" for k, v in value.items()) or "none"
    return "none" if value in (None, "") else str(value)


def _facts(summary: dict) -> dict:
    keys = ("verdict", "target", "seed", "tool_version", "requests", "duration_s")
    return {k: summary.get(k) for k in keys}


def _change(old: float | None, new: float | None) -> dict:
    if old is None or new is None:
        return {"old": old, "new": new}
    delta = round(new - old, 2)
    return {"old": old, "new": new, "change": delta, "percent": round(100 * delta / old, 1) if old else None}  # fmt: skip
