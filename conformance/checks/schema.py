"""Schema checks: findings from every exchange of the run, plus traffic of their own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ..query import Query
from ..session import Session
from .base import (
    REGISTRY,
    Check,
    fail,
    queries,
)

SCHEMA = "schemas/list-response.xsd, schemas/error.xsd; API-NOTES §2, §3"


def _observed(name: str) -> Callable[[Session, Query], None]:
    def run(s: Session, query: Query) -> None:
        s.walk(replace(query, size="7"))
        s.list(replace(query, size="bad"))
        seen = s.observations.get(name)
        if seen is not None:
            fail(seen.message, None, [seen.exchange])

    return run


for _name, _clause in {
    "list_body": SCHEMA + ": every 2xx list body validates against the XSD",
    "error_body": SCHEMA + ": every error is an XML Error (Code, Message, RequestId)",
    "content_type": "API-NOTES §3: Content-Type is application/xml",
    "request_id_header": "API-NOTES §3: every response carries x-ci-request-id",
}.items():
    REGISTRY[f"schema.{_name}"] = Check(
        f"schema.{_name}", "schema", _clause, _observed(f"schema.{_name}"), queries
    )
