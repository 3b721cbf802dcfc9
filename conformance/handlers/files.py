"""Report files, each written by a handler from a template in ``conformance/templates/`` (HTML
and XML escaped by default) or as JSON: summary JSON, JUnit XML, the HTML page and the profile a
run saw. Every file is written through ``redact`` with the run's own secrets as a last guard."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import jinja2

from .. import contract
from ..causes import by_reason, explain
from ..client import redact
from ..coverage import ANCHORS, MIXED, OPEN_POINTS, pinnable
from ..engine import Handler
from ..results import Summary, to_json
from ..verdicts import VERDICTS


def secs(seconds: float) -> str:
    """Every duration in the reports, in one format."""
    return f"{seconds:.2f} s" if seconds >= 0.1 else f"{seconds:.3f} s"


def shown(query: str | None) -> str:
    """A query as text; quoted when white space at an end (or nothing) would not show."""
    return json.dumps(query) if query is not None and (not query or query != query.strip()) else str(query)  # fmt: skip


@functools.cache
def templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("conformance", "templates"),
        autoescape=jinja2.select_autoescape(["html.j2", "xml.j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(clause=contract.clause, by_reason=by_reason, reason=explain, verdicts=VERDICTS,
                       open_points=OPEN_POINTS, point_anchor=ANCHORS, contract_doc=contract.DOC,
                       pinnable=pinnable, mixed=MIXED, relpath=os.path.relpath,
                       contract_html=lambda anchor, present: contract.html(contract.clause(anchor).text, set(present)))  # fmt: skip
    env.filters.update(secs=secs, shown=shown)
    return env


def render(template: str, **context: Any) -> str:
    return templates().get_template(template).render(**context)


def describe(failure: Any) -> str:
    """A failure as text, its finding first (pytest's long report)."""
    return str(templates().get_template("text.j2").module.failure(failure)).strip()  # type: ignore[attr-defined]


def write(path: Path, text: str, secrets: tuple[str, ...] = ()) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(redact(text, secrets), "utf-8")


class FileHandler(Handler):
    """Writes one file when the run ends, from ``text(summary)``."""

    def __init__(self, path: Path, secrets: tuple[str, ...] = ()) -> None:
        self.path, self.secrets = path, secrets

    def started(self, source: object) -> None:
        self.secrets = (*self.secrets, *getattr(source, "secrets", ()))

    def text(self, summary: Summary) -> str:
        raise NotImplementedError

    def finished(self, summary: Summary) -> None:
        write(self.path, self.text(summary), self.secrets)


class JsonHandler(FileHandler):
    """summary.json (or recheck.json, sdk-summary.json...): the summary, serialised."""

    def text(self, summary: Summary) -> str:
        return to_json(summary)


class ProfileHandler(FileHandler):
    """--write-profile: the choice seen at each open point, as a profile that pins them."""

    def text(self, summary: Summary) -> str:
        return render("profile.toml.j2", summary=summary)


class JUnitHandler(FileHandler):
    """JUnit XML: a testsuite per category, a testcase per check (or task). A failure's message
    starts with the finding; a likely consequence's names its root cause."""

    def __init__(self, path: Path, name: str = "ci-conformance", prefix: str = "conformance",
                 secrets: tuple[str, ...] = ()) -> None:  # fmt: skip
        super().__init__(path, secrets)
        self.name, self.prefix = name, prefix

    def text(self, summary: Summary) -> str:
        return render("junit.xml.j2", summary=summary, name=self.name, prefix=self.prefix)
