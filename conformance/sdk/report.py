"""The SDK report: ``sdk-summary.json``, ``sdk-junit.xml`` and ``sdk.html`` (a Jinja2 template).

Secrets never get in: headers and query fields that carry them are redacted as they are
recorded (``conformance.client.redact``), and every file is written through ``redact`` with the
run's own keys as a last guard. XML bodies are shown pretty-printed (``conformance.report``).
"""

from __future__ import annotations

import functools
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from .. import __version__
from ..client import header_shown, redact
from ..report import pretty
from .judge import RULES
from .recorder import Hit
from .runner import SdkRun, TaskResult
from .scenarios import SCENARIOS, WRONG_KEY

BODY_LIMIT = 4000


@functools.cache
def secrets() -> tuple[str, ...]:
    """Every key and token the scenarios give drivers (test keys, but never shown)."""
    found = {WRONG_KEY}
    for s in SCENARIOS.values():
        creds = s.credentials()
        found |= {creds.secret_key, creds.token or ""}
    return tuple(sorted(x for x in found if x))


def _cut(text: str, limit: int = BODY_LIMIT) -> str:
    return (
        text if len(text) <= limit else text[:limit] + f"\n… (cut; {len(text)} characters in all)"
    )


def _headers(pairs: list[tuple[str, str]]) -> dict[str, str]:
    return {k: header_shown(k, v, secrets()) for k, v in pairs}


def request_record(n: int, hit: Hit, start: float, full: bool) -> dict[str, Any]:
    record: dict[str, Any] = {
        "n": n,
        "method": hit.method,
        "target": hit.path + (f"?{hit.raw_query}" if hit.raw_query else ""),
        "status": hit.status,
        "at_s": round(hit.arrived - start, 3),
        "took_ms": round((hit.answered - hit.arrived) * 1000, 1),
        "injected": hit.injected,
    }
    if full:
        body = hit.response_body.decode("utf-8", "replace")
        record |= {
            "headers": _headers(hit.headers),
            "body": _cut(hit.body.decode("utf-8", "replace")),
            "response_headers": _headers(hit.response_headers),
            "response_body": _cut(pretty(body)),
        }
    return record


def task_record(r: TaskResult) -> dict[str, Any]:
    out = r.output
    start = r.hits[0].arrived if r.hits else 0.0
    failed = r.outcome == "failed"
    return {
        "scenario": r.scenario,
        "id": r.task.id,
        "op": r.task.op,
        "about": r.task.about,
        "task": r.task.to_json(),
        "credentials": r.task.credentials,
        "outcome": r.outcome,
        "seconds": round(r.seconds, 2),
        "findings": [f.to_dict() for f in r.findings],
        "driver": {
            "exit": out.exit_code,
            "timed_out": out.timed_out,
            "jobs": len(out.jobs),
            "error": out.error,
            "next_token": out.next_token if out.reported_token else None,
            "stderr": _cut(out.stderr.strip()[-2000:], 2000),
            "output": out.lines[:40] if failed else [],
        },
        "requests": [request_record(n, h, start, failed) for n, h in enumerate(r.hits, 1)],
    }


def build_summary(run: SdkRun) -> dict[str, Any]:
    counts = {k: sum(r.outcome == k for r in run.results) for k in ("passed", "failed", "skipped")}
    tasks = [task_record(r) for r in run.results]
    findings = [
        {"scenario": t["scenario"], "task": t["id"]} | f for t in tasks for f in t["findings"]
    ]
    rules: dict[str, int] = {}
    for f in findings:
        rules[f["rule"]] = rules.get(f["rule"], 0) + 1
    return {
        "verdict": run.verdict,
        "driver": run.driver,
        "tool_version": __version__,
        "duration_s": round(run.seconds, 2),
        "counts": counts,
        "scenarios": [
            s.scenario.describe()
            | {
                "seconds": round(s.seconds, 2),
                "counts": {k: s.count(k) for k in ("passed", "failed", "skipped")},
                "tasks": [t for t in tasks if t["scenario"] == s.scenario.name],
            }
            for s in run.scenarios
        ],
        "rules": {rule: {"clause": RULES[rule], "count": n} for rule, n in sorted(rules.items())},
        "findings": findings,
    }


def junit(summary: dict[str, Any]) -> str:
    root = ET.Element(
        "testsuites",
        name="ci-conformance sdk",
        tests=str(sum(summary["counts"].values())),
        failures=str(summary["counts"]["failed"]),
        skipped=str(summary["counts"]["skipped"]),
        time=str(summary["duration_s"]),
    )
    for s in summary["scenarios"]:
        suite = ET.SubElement(
            root,
            "testsuite",
            name=f"sdk.{s['name']}",
            tests=str(len(s["tasks"])),
            failures=str(s["counts"]["failed"]),
            skipped=str(s["counts"]["skipped"]),
            time=str(s["seconds"]),
        )
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="covers", value=s["covers"])
        for t in s["tasks"]:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"sdk.{s['name']}",
                name=t["id"],
                time=str(t["seconds"]),
            )
            if t["outcome"] == "failed":
                failure = ET.SubElement(
                    case,
                    "failure",
                    type=t["findings"][0]["rule"],
                    message="; ".join(f"{f['rule']}: {f['message']}" for f in t["findings"])[:2000],
                )
                failure.text = (
                    "\n\n".join(
                        f"{f['rule']}\n  clause: {f['clause']}\n  found:  {f['message']}"
                        + (f"\n  request #{f['request']}" if f["request"] else "")
                        for f in t["findings"]
                    )
                    + "\n\ntask: "
                    + json.dumps(t["task"], ensure_ascii=False)
                )
            elif t["outcome"] == "skipped":
                ET.SubElement(case, "skipped", message="the driver does not support this task")
            if t["driver"]["stderr"]:
                ET.SubElement(case, "system-err").text = t["driver"]["stderr"]
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def html(summary: dict[str, Any]) -> str:
    env = Environment(
        loader=PackageLoader("conformance.sdk", "templates"),
        autoescape=select_autoescape(default=True),
    )
    env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=2, ensure_ascii=False)
    return env.get_template("sdk.html.j2").render(s=summary)


def write(run: SdkRun, report_dir: Path) -> dict[str, Any]:
    """Write the three files; returns the summary."""
    report_dir.mkdir(parents=True, exist_ok=True)
    summary = build_summary(run)
    keys = secrets()
    files = {
        "sdk-summary.json": json.dumps(summary, indent=2, ensure_ascii=False),
        "sdk-junit.xml": junit(summary),
        "sdk.html": html(summary),
    }
    for name, text in files.items():
        (report_dir / name).write_text(redact(text, keys), "utf-8")
    return summary
