"""HTML reports: one page per command (``<kind>.html.j2``, a run's and a recheck's
``run.html.j2``), complete without JavaScript: details, exchanges and reproductions are in the
HTML itself, in the words and colours of the one verdict table."""

from __future__ import annotations

from pathlib import Path

from .. import contract
from ..coverage import ANCHORS
from ..results import Summary
from .files import FileHandler, render


def cited(summary: Summary, more: set[str] | None = None) -> list[str]:
    """The clauses the failures cite and the open points they accept, in the contract's order."""
    anchors = {f.anchor for f in summary.failures if f.anchor} | (more or set())
    anchors |= {p for a in list(anchors) for p in contract.clause(a).open_points}
    return [a for a in contract.clauses() if a in anchors]


def page(summary: Summary, here: Path | None = None) -> str:
    """The report; ``here`` is the folder it is written to (links to other files start there)."""
    rows = [r for k in ("differences", "behaviour_differences", "regressions") for r in getattr(summary, k, ())]  # fmt: skip
    more = {r["anchor"] for r in rows if r.get("anchor")}
    more |= {ANCHORS[c["point"]] for c in getattr(summary, "behaviour_changes", ()) if c["point"] in ANCHORS}  # fmt: skip
    return render(
        "run.html.j2" if summary.kind in ("run", "recheck") else f"{summary.kind}.html.j2",
        summary=summary,
        by_check={f.check: f for f in reversed(summary.failures)},
        cited=cited(summary, more),
        here=str(here or "."),
    )


class HtmlHandler(FileHandler):
    def text(self, summary: Summary) -> str:
        return page(summary, self.path.parent)
