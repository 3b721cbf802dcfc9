"""What a run reports: one record per failure, the summary (JSON), the terminal's summary and
the HTML parts, which are Jinja2 templates in ``conformance/templates/`` (escaped by default).

Secrets never get here unredacted: exchanges are recorded redacted (a signature keeps its parts
but not ``q-signature``; tokens are hidden whole), and every file is written through ``redact``
with the run's own secrets as a last guard.
"""

from __future__ import annotations

import functools
import json
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import jinja2

from . import __version__, contract
from .causes import by_reason, explain, group
from .checks import CATEGORIES, Check
from .client import Exchange, redact
from .coverage import OPEN_POINTS
from .reproduce import sign_line, signature_parts
from .session import CheckFailure, Traffic
from .xmlmodel import XMLProblem, safe_parse

BODY_LIMIT = 4000
SECTIONS = (
    "failures.html.j2",
    "coverage.html.j2",
    "behaviour.html.j2",
    "skips.html.j2",
    "contract.html.j2",
)
"""The report's sections below the verdict, matrix and facts, in order. Each is a template in
``conformance/templates/`` rendered with ``summary`` (summary.json's content): a new section
(say a coverage table from ``summary["coverage"]``) is a new template named here."""
CREDENTIALS = "COS_SECRET_ID and COS_SECRET_KEY (and COS_SECURITY_TOKEN) from the environment"


def pretty(body: str) -> str:
    """An XML body indented for people (parsed safely); anything else as it came."""
    try:
        root = safe_parse(body.encode("utf-8"))
    except XMLProblem:
        return body
    ET.indent(root)
    return ET.tostring(root, encoding="unicode")


def _window(parts: dict[str, str]) -> str:
    """``q-sign-time`` in UTC, for people."""
    start, _, end = parts.get("q-sign-time", "").partition(";")
    if not (start.isdigit() and end.isdigit()):
        return ""
    at = [datetime.fromtimestamp(int(t), UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for t in (start, end)]
    return f"{at[0]} to {at[1]}"


def exchange_record(ex: Exchange) -> dict:
    d = ex.to_dict(body_limit=len(ex.body))
    body = pretty(d["body"])
    d["body"] = body[:BODY_LIMIT] + (
        f"\n… (cut; {ex.body_size} bytes in all)" if len(body) > BODY_LIMIT else ""
    )
    d["signature"] = signature_parts(d["request_headers"], d["url"])
    d["signature_window"] = _window(d["signature"])
    return d


def failure_record(
    failure: CheckFailure,
    check: Check,
    summary_path: str | None = "reports/summary.json",
    *,
    live_target: bool = False,
    check_traffic: Traffic | None = None,
) -> dict:
    """Everything a person or ``replay`` needs about one failure.

    ``check_traffic`` is what the check sent: a failure that cites no exchange gets the check's
    first and last ones and a count of the rest, so it still says what was sent and seen.
    """
    cited = failure.exchanges[:4]
    record = {
        "check": check.name,
        "clause": check.clause,
        "anchor": check.anchor,
        "contract": contract.ref(check.anchor),
        "found": failure.message,
        "query": failure.query.describe() if failure.query is not None else None,
        "query_params": failure.query.params() if failure.query is not None else None,
        "exchanges": [exchange_record(ex) for ex in cited],
        "reproduce": {},
    }
    if summary_path:  # a summary.json is written: the failure can be replayed from it
        record["reproduce"]["replay"] = (
            f"ci-conformance replay {summary_path} --checks {check.name}"
        )
    if not cited and check_traffic and check_traffic.count:
        record["traffic"] = check_traffic.lines()
        record["exchanges"] = [exchange_record(ex) for ex in check_traffic.ends()]
        record["exchanges_note"] = (
            f"the failure cites no response; the check made {check_traffic.count} requests, "
            "of which these are the first and the last"
        )
    if live_target and record["exchanges"]:
        line = sign_line(record["exchanges"][-1], keep_time=check.anchor == "sig-window")
        if line:
            record["reproduce"]["sign"] = line
    return record


def describe(record: dict) -> str:
    """The failure as text: pytest's long report."""
    lines = [
        f"check:  {record['check']}",
        f"clause: {record['clause']}" + (f" ({record['contract']})" if record["contract"] else ""),
        f"found:  {record['found']}",
    ]
    if record["query"]:
        lines.append(f"query:  {record['query']}")
    lines += [f"sent:   {t}" for t in record.get("traffic", [])]
    for d in record["exchanges"]:
        lines += ["", f"{d['method']} {d['url']} -> HTTP {d['status']} ({d['elapsed_ms']} ms)"]
        lines += [f"  < {k}: {v}" for k, v in d["headers"].items()]
        lines += ["  " + line for line in d["body"].splitlines()[:60]]
    if record["reproduce"]:
        lines += ["", "reproduce:"] + [f"  {v}" for v in record["reproduce"].values()]
    return "\n".join(lines)


def build_summary(
    run: dict,
    results: list[dict],
    seed: int,
    exitstatus: int,
    duration: float,
    options: dict | None = None,
    summary_path: str | None = "reports/summary.json",
) -> dict:
    session = run["session"]
    failures = [r for r in results if r["outcome"] == "failed"]
    counts = {c: {"passed": 0, "failed": 0, "skipped": 0} for c in CATEGORIES}
    for r in results:
        counts[r["category"]][r["outcome"]] += 1
    if run.get("unusable"):
        verdict = run.get("verdict", "unreachable")
    elif failures or exitstatus not in (0, 5):
        verdict = "violations"
    else:
        verdict = "conformant"
    records = [
        r["failure"] | {"category": r["category"], "elapsed_s": r["elapsed_s"]}
        for r in failures
        if "failure" in r
    ]
    groups = group(records)
    for g in groups:
        for record, reason in g.consequences:
            record["likely_root"] = {"check": g.root["check"], **reason}
    return {
        "verdict": verdict,
        "message": run.get("unusable", ""),
        "caveats": run.get("caveats", []),
        "tool_version": __version__,
        "contract": contract.DOC,
        "target": run["target"],
        "profile": session.profile,
        "seed": seed,
        "options": options or {},
        "duration_s": round(duration, 2),
        "requests": session.client.requests_made,
        "retries": session.client.retries_made,
        "counts": counts,
        "coverage": session.coverage.report(
            session.census_taken, bool(session.client.credentials.token), session.allow_writes
        ),
        "behaviour": session.coverage.fingerprint(),
        "consistency_window": {
            "allowed_s": session.consistency_window,
            "waits_s": session.consistency_waits,
        },
        "results": results,
        "failures": [f for g in groups for f in (g.root, *(r for r, _ in g.consequences))],
        "root_causes": [
            {
                "check": g.root["check"],
                "consequences": [{"check": r["check"], **why} for r, why in g.consequences],
            }
            for g in groups
        ],
        "replay": f"ci-conformance replay {summary_path}" if records and summary_path else None,
        "credentials": CREDENTIALS if run.get("live") else None,
    }


def write_json(path: Path, summary: dict, secrets: tuple[str, ...]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(redact(json.dumps(summary, indent=2, ensure_ascii=False), secrets), "utf-8")


# --- the terminal ---------------------------------------------------------------------------


def terminal_summary(summary: dict, reports: list[str]) -> list[str]:
    """The end of a run in the terminal: the matrix, the failures root cause first, the verdict.
    A run that could not judge its target said why in one line as it stopped: the verdict only."""
    verdict = f"Verdict: {summary['verdict'].upper()}"
    written = f" Reports: {', '.join(reports)}" if reports else ""
    if summary["verdict"] in ("unreachable", "misconfigured"):
        return [f"\n{verdict}.{written}"]
    lines = []
    for category, n in summary["counts"].items():
        if not any(n.values()):
            continue  # not selected in this run
        lines.append(
            f"  {category:<11} {n['passed']:>3} passed  {n['failed']:>3} failed  {n['skipped']:>3} skipped"
        )
    lines.append(
        f"\n{summary['requests']} requests in {summary['duration_s']} s to {summary['target']}"
    )
    by_check = {f["check"]: f for f in summary["failures"]}
    for cause in summary["root_causes"]:
        f = by_check[cause["check"]]
        lines.append(f"\nFAILED {f['check']}: {f['found']}")
        lines.append(f"  clause: {f['clause']}" + (f" ({f['contract']})" if f["contract"] else ""))
        if f.get("query"):
            lines.append(f"  minimal query: {f['query']}")
        for why, names in by_reason(cause["consequences"]):
            lines.append(f"  likely consequences, because {why}:")
            lines += [f"    FAILED {name}" for name in names]
    if summary.get("message"):
        lines.append(f"\n{summary['message']}")
    if summary.get("replay"):
        lines.append(
            f"\nReplay the failures: {summary['replay']}"
            + (f"  (credentials: {summary['credentials']})" if summary.get("credentials") else "")
        )
    caveats = "; ".join(summary.get("caveats", []))
    lines.append(f"\n{verdict}{f' ({caveats})' if caveats else ''}.{written}")
    return lines


# --- HTML -----------------------------------------------------------------------------------


@functools.cache
def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("conformance", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["contract_html"] = lambda anchor: contract.html(contract.clause(anchor).text)
    env.globals.update(clause=contract.clause, by_reason=by_reason, reason=explain)
    env.globals["open_points"] = OPEN_POINTS
    return env


def render(template: str, **context: object) -> str:
    """A page of its own from a template in ``conformance/templates/`` (compare, diff)."""
    return _templates().get_template(template).render(**context)


def summary_html(summary: dict) -> str:
    cited = {f["anchor"] for f in summary["failures"] if f.get("anchor")}
    totals = Counter(r["outcome"] for r in summary["results"])
    return (
        _templates()
        .get_template("summary.html.j2")
        .render(
            summary=summary,
            totals=totals,
            sections=SECTIONS,
            cited=[a for a in contract.clauses() if a in cited],
            by_check={f["check"]: f for f in summary["failures"]},
        )
    )


def failure_html(record: dict) -> str:
    return _templates().get_template("failure.html.j2").render(f=record)
