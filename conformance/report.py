"""What a run reports: one record per failure, the summary (JSON), and the HTML parts.

Secrets never get here unredacted: exchanges are recorded redacted, and every file is written
through ``redact`` with the run's own secrets as a last guard.
"""

from __future__ import annotations

import html
import json
import shlex
import xml.etree.ElementTree as ET
from pathlib import Path

from . import __version__
from .checks import CATEGORIES
from .client import redact
from .regression import behaviour_html
from .session import CheckFailure
from .xmlmodel import XMLProblem, safe_parse

BODY_LIMIT = 4000


def pretty(body: str) -> str:
    """An XML body indented for people (parsed safely); anything else as it came."""
    try:
        root = safe_parse(body.encode("utf-8"))
    except XMLProblem:
        return body
    ET.indent(root)
    return ET.tostring(root, encoding="unicode")


def failure_record(failure: CheckFailure, summary_path: str = "reports/summary.json") -> dict:
    """Everything a person or ``replay`` needs about one failure."""
    exchanges = []
    for ex in failure.exchanges[:4]:
        d = ex.to_dict(body_limit=len(ex.body))
        body = pretty(d["body"])
        d["body"] = body[:BODY_LIMIT] + (
            f"\n… (cut; {len(ex.body)} bytes in all)" if len(body) > BODY_LIMIT else ""
        )
        exchanges.append(d)
    record = {
        "check": failure.check,
        "clause": failure.clause,
        "found": failure.message,
        "query": failure.query.describe() if failure.query is not None else None,
        "query_params": failure.query.params() if failure.query is not None else None,
        "exchanges": exchanges,
        "reproduce": {"replay": f"ci-conformance replay {summary_path} --checks {failure.check}"},
    }
    if exchanges:
        last = exchanges[-1]
        headers = [
            f"-H {shlex.quote(f'{k}: {v}')}"
            for k, v in last["request_headers"].items()
            if k.lower() in ("host", "content-type") or k.lower().startswith(("x-cos-", "x-ci-"))
        ]
        record["reproduce"]["curl"] = " ".join(
            [
                "curl",
                "-sS",
                "-X",
                last["method"],
                "-H",
                shlex.quote("Authorization: <signature>"),
                *headers,
                shlex.quote(last["url"]),
            ]
        )
    return record


def describe(record: dict) -> str:
    """The failure as text: pytest's long report and the terminal."""
    lines = [
        f"check:  {record['check']}",
        f"clause: {record['clause']}",
        f"found:  {record['found']}",
    ]
    if record["query"]:
        lines.append(f"query:  {record['query']}")
    for d in record["exchanges"]:
        lines += ["", f"{d['method']} {d['url']} -> HTTP {d['status']} ({d['elapsed_ms']} ms)"]
        lines += [f"  < {k}: {v}" for k, v in d["headers"].items()]
        lines += ["  " + line for line in d["body"].splitlines()[:60]]
    lines += ["", "reproduce:"] + [f"  {v}" for v in record["reproduce"].values()]
    return "\n".join(lines)


def build_summary(
    run: dict, results: list[dict], seed: int, exitstatus: int, duration: float
) -> dict:
    session = run["session"]
    failures = [r for r in results if r["outcome"] == "failed"]
    counts = {c: {"passed": 0, "failed": 0, "skipped": 0} for c in CATEGORIES}
    for r in results:
        counts[r["category"]][r["outcome"]] += 1
    if run.get("unusable"):
        verdict = "unreachable"
    elif failures or exitstatus not in (0, 5):
        verdict = "violations"
    else:
        verdict = "conformant"
    return {
        "verdict": verdict,
        "message": run.get("unusable", ""),
        "tool_version": __version__,
        "target": run["target"],
        "profile": session.profile,
        "seed": seed,
        "duration_s": round(duration, 2),
        "requests": session.client.requests_made,
        "retries": session.client.retries_made,
        "counts": counts,
        "coverage": session.coverage.report(
            session.census_taken, bool(session.client.credentials.token)
        ),
        "behaviour": session.coverage.fingerprint(),
        "consistency_window": {
            "allowed_s": session.consistency_window,
            "waits_s": session.consistency_waits,
        },
        "results": results,
        "failures": [
            r["failure"] | {"category": r["category"], "elapsed_s": r["elapsed_s"]}
            for r in failures
            if "failure" in r
        ],
    }


def write_json(path: Path, summary: dict, secrets: tuple[str, ...]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(redact(json.dumps(summary, indent=2, ensure_ascii=False), secrets), "utf-8")


# --- HTML ---------------------------------------------------------------------------------

STYLE = """
<style>
.cc-verdict{font-size:1.4em;font-weight:bold;padding:.5em 1em;border-radius:6px;display:inline-block}
.cc-conformant{background:#d8f5d0;color:#1b5e20}.cc-violations,.cc-unreachable{background:#fde0dc;color:#b71c1c}
table.cc-matrix{border-collapse:collapse;margin:.8em 0}table.cc-matrix td,table.cc-matrix th{border:1px solid #bbb;padding:.25em .8em;text-align:center}
table.cc-matrix td.cc-bad{background:#fde0dc;font-weight:bold}table.cc-facts td{padding:.1em .8em .1em 0}
.cc-failure{border-left:4px solid #b71c1c;padding:.3em .8em;margin:.6em 0;background:#fff7f6}
.cc-failure pre{white-space:pre-wrap;max-height:30em;overflow:auto;background:#f6f6f6;padding:.4em}
</style>
"""


def summary_html(summary: dict) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><th>{e(c)}</th><td>{n['passed']}</td><td class='{'cc-bad' if n['failed'] else ''}'>{n['failed']}</td>"
        f"<td>{n['skipped']}</td></tr>"
        for c, n in summary["counts"].items()
    )
    facts = [
        ("target", summary["target"]),
        (
            "profile",
            json.dumps(summary["profile"])
            if summary["profile"]
            else "none (every allowed behaviour passes)",
        ),
        ("seed", summary["seed"]),
        ("duration", f"{summary['duration_s']} s"),
        ("requests made", f"{summary['requests']} ({summary['retries']} retried)"),
        ("ci-jobs-conformance", summary["tool_version"]),
    ]
    failures = "".join(
        f"<li><b>{e(f['check'])}</b>: {e(f['found'])}<br><small>{e(f['clause'])}</small>"
        + (f"<br>minimal query: <code>{e(f['query'])}</code>" if f["query"] else "")
        + "</li>"
        for f in summary["failures"]
    )
    verdict = summary["verdict"]
    return (
        STYLE
        + f"<div id='cc-summary'><p class='cc-verdict cc-{verdict}'>Verdict: {e(verdict.upper())}</p>"
        + (f"<p>{e(summary['message'])}</p>" if summary.get("message") else "")
        + "<table class='cc-matrix' id='cc-matrix'><tr><th>category</th><th>passed</th><th>failed</th>"
        + f"<th>skipped</th></tr>{rows}</table>"
        + "<table class='cc-facts'>"
        + "".join(f"<tr><td>{e(k)}</td><td>{e(str(v))}</td></tr>" for k, v in facts)
        + "</table>"
        + (f"<h3>Failures</h3><ol id='cc-failures'>{failures}</ol>" if failures else "")
        + coverage_html(summary.get("coverage"))
        + behaviour_html(summary)
        + "</div>"
    )


def coverage_html(coverage: dict | None) -> str:
    """What the inputs exercised: a row per dimension, with what was missed."""
    if not coverage:
        return ""
    e = html.escape
    rows = []
    for dim, cells in coverage.items():
        reached, missed = cells["reached"], cells["missed"]
        possible = len(reached) + len(missed)
        rows.append(
            f"<tr><th>{e(dim)}</th><td class='{'cc-bad' if missed else ''}'>{len(reached)} / {possible}</td>"
            f"<td>{e(', '.join(missed)) or '-'}</td><td>{e(', '.join(cells['out_of_reach'])) or '-'}</td></tr>"
        )
    return (
        "<h3>Coverage: what the inputs exercised</h3><table class='cc-matrix' id='cc-coverage'>"
        "<tr><th>dimension</th><th>cells reached</th><th>missed</th><th>out of the data's reach</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def failure_html(record: dict) -> str:
    e = html.escape
    parts = [
        f"<div class='cc-failure'><p><b>check</b> {e(record['check'])}<br><b>clause</b> {e(record['clause'])}"
        f"<br><b>found</b> {e(record['found'])}"
        + (
            f"<br><b>minimal failing query</b> <code>{e(record['query'])}</code>"
            if record["query"]
            else ""
        )
        + "</p>"
    ]
    for d in record["exchanges"]:
        req = "\n".join(f"> {k}: {v}" for k, v in d["request_headers"].items())
        resp = "\n".join(f"< {k}: {v}" for k, v in d["headers"].items())
        parts.append(
            f"<p><b>{e(d['method'])} {e(d['url'])}</b> → HTTP {d['status']} ({d['elapsed_ms']} ms)</p>"
            f"<pre>{e(req)}\n\n{e(resp)}\n\n{e(d['body'])}</pre>"
        )
    parts.append(
        "<p><b>reproduce</b></p><pre>" + e("\n".join(record["reproduce"].values())) + "</pre></div>"
    )
    return "".join(parts)


class HtmlHooks:
    """pytest-html hooks, registered only when pytest-html is active."""

    def __init__(self, get_summary) -> None:
        self.get_summary = get_summary

    def pytest_html_report_title(self, report) -> None:
        report.title = "ci-conformance: GET /inventorytriggerjob"

    def pytest_html_results_summary(self, prefix, summary, postfix, session) -> None:
        data = self.get_summary(session.config)
        if data is not None:
            prefix.append(summary_html(data))
