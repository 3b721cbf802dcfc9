"""HTML reports: one page per command, complete without JavaScript (details, exchanges and
reproductions are in the HTML itself), from Jinja2 templates in ``conformance/templates/``
(escaped by default), in the words and colours of the one verdict table."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jinja2

from .. import contract
from ..causes import by_reason, explain
from ..coverage import OPEN_POINTS
from ..engine import Handler
from ..results import Summary
from ..verdicts import VERDICTS
from .files import write

NEXT = {
    "conformant": "Nothing to fix. Keep this run's summary.json as the baseline of `ci-conformance compare`.",
    "violations": "Fix the root cause first: its clause is linked, and its consequences often go with it. Then re-run the failures.",
    "tool error": "A check or a report broke inside ci-conformance: this is not the target's fault. Report the error below; the other checks' outcomes stand.",
    "incomplete": "A request budget or the run's deadline left checks unrun: raise --max-requests or --max-duration, or pass --allow-incomplete to let a gate accept it.",
    "interrupted": "The run was stopped before it finished; the results above are what finished. Run it again to judge the rest.",
    "unreachable": "The target could not be judged: see the message above.",
    "misconfigured": "Fix the run's own setup (keys, clock or URL) as the message above says, then run again.",
}  # fmt: skip


@functools.cache
def templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("conformance", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(clause=contract.clause, by_reason=by_reason, reason=explain,
                       verdicts=VERDICTS, open_points=OPEN_POINTS, contract_doc=contract.DOC,
                       contract_html=lambda anchor, present: contract.html(contract.clause(anchor).text, set(present)))  # fmt: skip
    return env


def render(template: str, **context: Any) -> str:
    return templates().get_template(template).render(**context)


def cited(summary: Summary) -> list[str]:
    """The clauses the failures cite and the open points they accept, in the contract's order."""
    anchors = {f.anchor for f in summary.failures if f.anchor}
    anchors |= {p for a in list(anchors) for p in contract.clause(a).open_points}
    return [a for a in contract.clauses() if a in anchors]


def page(summary: Summary) -> str:
    return render(
        f"{summary.kind}.html.j2" if summary.kind not in ("run", "recheck") else "run.html.j2",
        summary=summary,
        by_check={f.check: f for f in reversed(summary.failures)},
        cited=cited(summary),
        next_step=NEXT.get(summary.verdict, ""),
    )


class HtmlHandler(Handler):
    def __init__(self, path: Path, secrets: tuple[str, ...] = ()) -> None:
        self.path, self.secrets = path, secrets

    def started(self, source: object) -> None:
        self.secrets = (*self.secrets, *getattr(source, "secrets", ()))

    def finished(self, summary: Summary) -> None:
        write(self.path, page(summary), self.secrets)
