"""Evidence for people: exchanges as reports show them, and failures with what reproduces them.

Secrets never get here unredacted: exchanges are recorded redacted (a signature keeps its parts
but not ``q-signature``; tokens are hidden whole), and every file is written through ``redact``
with the run's own secrets as a last guard.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from . import contract
from .client import Exchange
from .reproduce import sign_line, signature_parts
from .results import ExchangeRecord, Failure
from .session import CheckFailure, Traffic
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


def _window(parts: dict[str, str]) -> str:
    """``q-sign-time`` in UTC, for people."""
    start, _, end = parts.get("q-sign-time", "").partition(";")
    if not (start.isdigit() and end.isdigit()):
        return ""
    at = [datetime.fromtimestamp(int(t), UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for t in (start, end)]
    return f"{at[0]} to {at[1]}"


def exchange_record(
    ex: Exchange, index: int | None = None, sent_by: str | None = None, limit: int = BODY_LIMIT
) -> ExchangeRecord:
    body = pretty(ex.body.decode("utf-8", "replace"))
    if len(body) > limit or ex.body_size > len(ex.body):
        body = body[:limit] + f"\n… (cut; {ex.body_size} bytes in all)"
    signature = signature_parts(ex.request_headers, ex.url)
    return ExchangeRecord(
        method=ex.method,
        url=ex.url,
        status=ex.status,
        request_headers=dict(ex.request_headers),
        headers=dict(ex.headers),
        body=body,
        elapsed_ms=round(ex.elapsed * 1000, 1),
        retries=ex.retries,
        retry_notes=list(ex.notes),
        signature=signature,
        signature_window=_window(signature),
        index=index,
        sent_by=sent_by,
    )


def failure_record(
    failure: CheckFailure,
    check: object,
    *,
    summary_path: str | None = None,
    live_target: bool = False,
    traffic: Traffic | None = None,
) -> Failure:
    """Everything a person or ``replay`` needs about one failure of ``check`` (a ``Check``).

    ``traffic`` is what the check sent: a failure that cites no exchange gets the check's first
    and last ones and a count of the rest, so it still says what was sent and seen.
    """
    anchor = getattr(check, "anchor", "")
    record = Failure(
        check=getattr(check, "name", ""),
        clause=getattr(check, "clause", ""),
        anchor=anchor,
        contract=contract.ref(anchor) if anchor else "",
        found=failure.message,
        query=failure.query.describe() if failure.query is not None else None,
        query_params=failure.query.params() if failure.query is not None else None,
        exchanges=[exchange_record(ex) for ex in failure.exchanges[:4]],
    )
    if summary_path:  # a summary.json is written: the failure can be replayed from it
        record.reproduce["replay"] = f"ci-conformance replay {summary_path} --checks {record.check}"
    if not record.exchanges and traffic and traffic.count:
        record.traffic = traffic.lines()
        record.exchanges = [exchange_record(ex) for ex in traffic.ends()]
        record.exchanges_note = (
            f"the failure cites no response; the check made {traffic.count} requests, "
            "of which these are the first and the last"
        )
    if live_target and record.exchanges:
        line = sign_line(record.exchanges[-1], keep_time=anchor == "sig-window")
        if line:
            record.reproduce["sign"] = line
    return record


def describe(f: Failure) -> str:
    """A failure as text (pytest's long report; the terminal)."""
    lines = [
        f"check:  {f.check}",
        f"clause: {f.clause}" + (f" ({f.contract})" if f.contract else ""),
        f"found:  {f.found}",
    ]
    if f.query:
        lines.append(f"query:  {f.query}")
    lines += [f"sent:   {t}" for t in f.traffic]
    for d in f.exchanges:
        lines += ["", f"{d.method} {d.url} -> HTTP {d.status} ({d.elapsed_ms} ms)"]
        lines += [f"  < {k}: {v}" for k, v in d.headers.items()]
        lines += ["  " + line for line in d.body.splitlines()[:60]]
    if f.reproduce:
        lines += ["", "reproduce:"] + [f"  {v}" for v in f.reproduce.values()]
    return "\n".join(lines)
