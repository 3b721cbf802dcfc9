"""Root cause first: failures that share a cause are grouped, and the likely root is named.

Two signals, neither a list of check names:
- the contract: a clause *relies on* others (filters and ordering are checked by comparing
  walks, so they rely on walks being complete; every list check relies on valid signatures
  being accepted and on readable list bodies). A failure whose clause relies on the clause of
  another failure is likely its consequence; so is a later failure of the same clause.
- the evidence: two failures that cite the same response (the same ``x-ci-request-id``, or
  the same request and body) saw the same thing, and the later one is grouped with the earlier.

Failures are ranked by how far down the contract their clause sits, then by when they were
seen; a failure is attached to the root of the first higher-ranked failure that explains it.
"""

import hashlib
from typing import Any

from . import contract
from .results import Failure


def _responses(failure: Failure) -> set[str]:
    seen = set()
    for ex in failure.exchanges:
        headers = {k.lower(): v for k, v in ex.headers.items()}
        rid = headers.get("x-ci-request-id") or headers.get("x-cos-request-id")
        raw = f"{ex.method} {ex.url} {ex.status} {ex.body}"
        seen.add(f"id:{rid}" if rid else "body:" + hashlib.sha1(raw.encode("utf-8")).hexdigest())
    return seen


def _reason(earlier: Failure, later: Failure) -> dict[str, Any] | None:
    """Why ``later`` is likely a consequence of ``earlier`` (``explain`` says it in words)."""
    a, b = earlier.anchor, later.anchor
    if a and b and a == b:
        return {"kind": "same-clause", "anchor": a}
    if a and b and a in contract.relied_on(b):
        return {"kind": "relies-on", "anchor": a}
    if _responses(earlier) & _responses(later):
        return {"kind": "same-response", "anchor": None}
    return None


def explain(reason: dict[str, Any], many: bool = False) -> str:
    """A reason in words, for one consequence or (``many``) for several."""
    anchor = reason.get("anchor")
    title = f"{contract.clause(anchor).title} (#{anchor})" if anchor else ""
    if reason["kind"] == "relies-on":
        return f"their clauses rely on {title}" if many else f"its clause relies on {title}"
    if reason["kind"] == "same-clause":
        return f"{'they fail' if many else 'it fails'} the same clause, {title}"
    return f"{'they cite' if many else 'it cites'} the same response"


def attach_roots(failures: list[Failure]) -> list[tuple[list[Failure], dict[str, Any]]]:
    """The failures grouped, each group its likely root then its likely consequences (each
    consequence's ``likely_root`` set), with the group as summary.json's ``root_causes`` says it.
    The root that explains the most failures comes first; among equals, in rank order."""
    ranked = sorted(range(len(failures)), key=lambda i: (contract.depth(failures[i].anchor), i))
    root_of: dict[int, int] = {}
    groups: dict[int, list[tuple[Failure, dict]]] = {}
    for pos, i in enumerate(ranked):
        for j in ranked[:pos]:
            if reason := _reason(failures[j], failures[i]):
                root_of[i] = root_of[j]
                failures[i].likely_root = {"check": failures[root_of[j]].check, **reason}
                groups[root_of[j]].append((failures[i], reason))
                break
        else:
            root_of[i] = i
            groups[i] = []
    order = sorted((i for i in ranked if i in groups), key=lambda i: -len(groups[i]))
    return [
        (
            [failures[i], *(f for f, _ in groups[i])],
            {"check": failures[i].check,
             "consequences": [{"check": f.check, **why} for f, why in groups[i]]},
        )
        for i in order
    ]  # fmt: skip


def by_reason(consequences: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """``[{"check", "kind", "anchor"}, …]`` as (reason in words, checks), in first-seen order."""
    out: dict[str, list[str]] = {}
    for c in consequences:
        out.setdefault(explain(c, many=True), []).append(c["check"])
    return list(out.items())
