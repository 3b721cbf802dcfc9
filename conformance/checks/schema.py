"""Schema checks: findings observed on every response of the run, plus traffic of their own."""

from __future__ import annotations

from dataclasses import replace

from ..client import Exchange
from ..query import Query
from ..session import Finding, Session
from ..xmlmodel import XMLProblem, safe_parse, validate, validate_list
from .base import EXCHANGE_OBSERVERS, observed

SCHEMA = "schemas/list-response.xsd, schemas/error.xsd; API-NOTES §2, §3"


def schema_findings(ex: Exchange) -> list[Finding]:
    """Response-level findings for one exchange."""
    found: list[Finding] = []
    ctype = (ex.header("Content-Type") or "").split(";")[0].strip()
    if ctype != "application/xml":
        found.append(
            ("schema.content_type", f"Content-Type is {ctype or 'missing'!r}, not application/xml")
        )
    if not ex.header("x-ci-request-id"):
        found.append(("schema.request_id_header", "no x-ci-request-id header"))
    try:
        root = safe_parse(ex.body)
    except XMLProblem as exc:
        name = "schema.list_body" if ex.status == 200 else "schema.error_body"
        return [*found, (name, f"HTTP {ex.status} body is not XML: {exc.message}")]
    if ex.status == 200 and root.tag == "Response":
        errors = validate_list(root)
        if errors:
            found.append(("schema.list_body", "; ".join(errors[:3])))
    elif ex.status >= 400:
        errors = (
            validate(root, "error")
            if root.tag == "Error"
            else [f"root is <{root.tag}>, not <Error>"]
        )
        if errors:
            found.append(("schema.error_body", "; ".join(errors[:3])))
    return found


EXCHANGE_OBSERVERS.append(schema_findings)


def _traffic(s: Session, query: Query) -> None:
    s.walk(replace(query, size="7"))
    s.list(replace(query, size="bad"))


for _name, _clause in {
    "list_body": SCHEMA + ": every 2xx list body validates against the XSD",
    "error_body": SCHEMA + ": every error is an XML Error (Code, Message, RequestId)",
    "content_type": "API-NOTES §3: Content-Type is application/xml",
    "request_id_header": "API-NOTES §3: every response carries x-ci-request-id",
}.items():
    observed("schema", _name, _clause, _traffic)
