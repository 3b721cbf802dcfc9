"""Schema checks: findings observed on every response of the run, plus traffic of their own."""

import re
from dataclasses import replace
from urllib.parse import urlsplit

from ..client import Exchange
from ..query import Query
from ..session import Finding, Session
from ..xmlmodel import XMLProblem, read_list, safe_parse, validate
from .base import EXCHANGE_OBSERVERS, observed


def schema_findings(ex: Exchange) -> list[Finding]:
    """Response-level findings for one exchange."""
    found: list[Finding] = []
    ctype = (ex.header("Content-Type") or "").split(";")[0].strip()
    if ex.body_size and ctype != "application/xml":  # an empty body (cancel's) needs none
        found.append(
            ("schema.content_type", f"Content-Type is {ctype or 'missing'!r}, not application/xml")
        )
    # an auth refusal in the COS style (403, COS codes) may carry COS's own request ID header
    cos_style = ex.status in (401, 403) and ex.header("x-cos-request-id")
    if not ex.header("x-ci-request-id") and not cos_style:
        found.append(("schema.request_id_header", "no x-ci-request-id header"))
    if ex.status == 200 and is_cancel(ex):
        return found  # judged by its status and request ID alone (docs/contract.md#writes)
    name = "schema.list_body" if ex.status == 200 else "schema.error_body"
    try:
        if ex.status == 200:  # a list, or a get or create answer
            errors = read_list(ex.body)[1]
        elif (root := safe_parse(ex.body)).tag != "Error":
            errors = [f"root is <{root.tag}>, not <Error>"] if ex.status >= 400 else []
        else:
            errors = validate(root, "error") if ex.status >= 400 else []
    except XMLProblem as exc:
        return [*found, (name, f"HTTP {ex.status} body is not XML: {exc.message}")]
    return [*found, (name, "; ".join(errors[:3]))] if errors else found


def is_cancel(ex: Exchange) -> bool:
    """``PUT /inventorytriggerjob/<JobId>?cancel``: an answer with no body to read."""
    parts = urlsplit(ex.url)
    names = {p.partition("=")[0] for p in parts.query.split("&")}
    return ex.method == "PUT" and "/inventorytriggerjob/" in parts.path and "cancel" in names


EXCHANGE_OBSERVERS.append(schema_findings)


class UniqueIds(set):
    """Every answer's request IDs (its headers', its body's) and every created JobId, each seen
    once in a run: it keeps their hashes, so each session (and recheck) takes its own (``fresh``)."""

    def fresh(self) -> "UniqueIds":
        return UniqueIds()

    def __call__(self, ex: Exchange) -> list[Finding]:
        head = ex.body[:65536].decode("utf-8", "replace")
        ids = [("schema.request_ids_unique", f"{k} {v!r}") for k, v in (
            ("x-ci-request-id", ex.header("x-ci-request-id")), ("x-cos-request-id", ex.header("x-cos-request-id")),
            ("RequestId", next(iter(re.findall(r"<RequestId>([^<]+)</RequestId>", head)), None))) if v]  # fmt: skip
        if ex.method == "POST" and ex.status == 200:
            ids += [("model.job_ids_unique", f"the created JobId {v!r}")
                    for v in re.findall(r"<JobId>([^<]+)</JobId>", head)]  # fmt: skip
        found = [(c, f"{what} came again: an earlier answer carried it") for c, what in ids
                 if hash(what) in self]  # fmt: skip
        self |= {hash(what) for _, what in ids}
        return found


EXCHANGE_OBSERVERS.append(UniqueIds())


def _traffic(s: Session, query: Query) -> None:
    s.walk(replace(query, size="7"))
    s.list(replace(query, size="bad"))


for _name, _clause, _anchor in [
    (
        "list_body",
        "every 2xx list body validates against schemas/list-response.xsd",
        "response-body",
    ),
    ("error_body", "every error is an XML Error (Code, Message, RequestId)", "error-body"),
    ("request_ids_unique", "no two answers of the run share a request ID", "identity"),
    ("content_type", "Content-Type is application/xml", "response-headers"),
    (
        "request_id_header",
        "every response carries x-ci-request-id (an auth refusal in the COS style may carry x-cos-request-id)",
        "response-headers",
    ),
]:
    observed("schema", _name, _clause, _traffic, anchor=_anchor)
