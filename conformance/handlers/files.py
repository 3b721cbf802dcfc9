"""Report files: summary JSON, JUnit XML and the profile a run saw. Every file is written
through ``redact`` with the run's own secrets as a last guard."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from ..client import redact
from ..engine import Handler
from ..regression import profile_text
from ..results import Outcome, Summary, to_json


def write(path: Path, text: str, secrets: tuple[str, ...] = ()) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(redact(text, secrets), "utf-8")


class JsonHandler(Handler):
    """summary.json (or recheck.json, sdk-summary.json...): the summary, serialised."""

    def __init__(self, path: Path, secrets: tuple[str, ...] = ()) -> None:
        self.path, self.secrets = path, secrets

    def started(self, source: object) -> None:
        self.secrets = (*self.secrets, *getattr(source, "secrets", ()))

    def finished(self, summary: Summary) -> None:
        write(self.path, to_json(summary), self.secrets)


class ProfileHandler(Handler):
    """--write-profile: the choice seen at each open point, as a profile that pins them."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def finished(self, summary: Summary) -> None:
        write(self.path, profile_text(summary))


class JUnitHandler(Handler):
    """JUnit XML: a testsuite per category, a testcase per check (or task). A failure's message
    starts with the finding; a likely consequence names its root cause first."""

    def __init__(self, path: Path, name: str = "ci-conformance", prefix: str = "conformance",
                 secrets: tuple[str, ...] = ()) -> None:  # fmt: skip
        self.path, self.name, self.prefix, self.secrets = path, name, prefix, secrets

    def started(self, source: object) -> None:
        self.secrets = (*self.secrets, *getattr(source, "secrets", ()))

    def finished(self, summary: Summary) -> None:
        write(self.path, junit(summary, self.name, self.prefix), self.secrets)


def junit(summary: Summary, name: str, prefix: str) -> str:
    counts = summary.totals()
    root = ET.Element("testsuites", name=name, tests=str(len(summary.results)),
                      failures=str(counts["failed"]), errors=str(counts["tool error"]),
                      time=f"{summary.duration_s:.2f}")  # fmt: skip
    suites: dict[str, ET.Element] = {}
    for r in summary.results:
        suite = suites.get(r.category)
        if suite is None:
            suite = suites[r.category] = ET.SubElement(
                root, "testsuite", name=f"{prefix}.{r.category}"
            )
        case = ET.SubElement(suite, "testcase", classname=f"{prefix}.{r.category}", name=r.check,
                             time=f"{r.seconds:.2f}")  # fmt: skip
        props = ET.SubElement(case, "properties")
        for key, value in (("clause", r.clause), ("contract", r.contract)):
            if value:
                ET.SubElement(props, "property", name=key, value=value)
        if r.outcome == Outcome.FAILED:
            f = r.failures[0]
            root_note = (
                f" (likely a consequence of {f.likely_root['check']})" if f.likely_root else ""
            )
            failure = ET.SubElement(case, "failure", type=f.rule or f.anchor or "violation",
                                    message=f"{f.found}{root_note}"[:2000])  # fmt: skip
            failure.text = "\n\n".join(_detail(x) for x in r.failures)
        elif r.outcome == Outcome.TOOL_ERROR and r.error:
            error = ET.SubElement(
                case, "error", type=r.error.kind, message=f"tool error: {r.error.message}"[:2000]
            )
            error.text = f"{r.error.report}\n{r.error.where}"
        elif r.outcome != Outcome.PASSED:
            ET.SubElement(case, "skipped", message=f"{r.outcome}: {r.reason}"[:2000])
    for suite in suites.values():
        cases = suite.findall("testcase")
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(sum(c.find("failure") is not None for c in cases)))
        suite.set("errors", str(sum(c.find("error") is not None for c in cases)))
        suite.set("skipped", str(sum(c.find("skipped") is not None for c in cases)))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def _detail(f) -> str:  # type: ignore[no-untyped-def]
    lines = [f.found]
    if f.likely_root:
        rule = f.likely_root.get("rule", "")  # an SDK task's root: a finding of the same task
        lines.append(f"likely root cause: {f.likely_root['check']} {rule}".rstrip())
    lines.append(f"clause: {f.clause}" + (f" ({f.contract})" if f.contract else ""))
    if f.query is not None:
        lines.append(f"minimal query: {f.query!r}")
    lines += [f"{e.method} {e.url} -> HTTP {e.status}" for e in f.exchanges]
    lines += [f"reproduce: {v}" for v in f.reproduce.values()]
    return "\n".join(lines)
