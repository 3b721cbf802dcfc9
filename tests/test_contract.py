"""The contract (docs/contract.md) ships with the package, every check names a clause of it, and
failures are grouped by the clauses they rely on (root cause first)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from conformance import contract
from conformance.causes import attach_roots
from conformance.checks import REGISTRY
from conformance.client import Client
from conformance.emulator.app import EXAMPLE_CREDENTIALS, Behaviour, Emulator
from conformance.emulator.server import EmulatorServer
from conformance.emulator.store import Store
from conformance.query import Filters, Query
from conformance.results import ExchangeRecord, Failure
from conformance.session import CheckFailure, Page, Session

DOC = Path(__file__).parent.parent / "docs" / "contract.md"
CLI = [sys.executable, "-m", "conformance.cli"]

# What a clause may cite: the vendor's pages and official SDKs, by title, and the page numbers
# known to us. A number not here is a typo, or a page nobody has read.
VENDOR_TITLES = (
    "Pulling Jobs in Batches", "Request Signature", "Error Codes", "COS's error codes",
    "Common Response Headers", "Trigger a batch job", "Query a batch job", "Cancel a batch job",
    "cos-python-sdk-v5 1.9.44", "the Java and Go SDKs", "the official SDKs",
)  # fmt: skip
VENDOR_PAGES = {"460/76894", "1045/47031", "436/7778", "1045/43611", "436/46214", "436/7730",
                "1045/43610", "436/46213", "460/80155"}  # fmt: skip
AUDIT = re.compile(
    r"(\d+)\s+clauses\s+in\s+all,\s+(\d+)\s+from\s+vendor\s+pages,\s+(\d+)\s+inferred"
)


def test_installed_contract_is_the_repository_document() -> None:
    assert contract.source() == DOC.read_text("utf-8")


def test_every_clause_link_and_anchor_resolves() -> None:
    text = DOC.read_text("utf-8")
    anchors = re.findall(r'<a id="([a-z0-9-]+)"></a>', text)
    assert len(anchors) == len(set(anchors)) == len(contract.clauses()) > 30
    for target in re.findall(r"\]\(#([a-z0-9-]+)\)", text):
        assert target in contract.clauses(), target
    for c in contract.clauses().values():
        assert c.title and c.text, c.anchor
        assert all(p.startswith("open-") for p in c.open_points), c.anchor
        assert c.anchor not in contract.relied_on(c.anchor), f"{c.anchor} relies on itself"


INFERRED = "inferred:"  # a source resting on the project's own inference


def test_every_clause_names_its_source() -> None:
    for c in contract.clauses().values():
        assert c.sources, f"#{c.anchor} has no *Source:* line"
        assert "*Source:*" not in c.text, c.anchor
        for source in c.sources:
            if source.startswith(INFERRED):
                reason = source.removeprefix(INFERRED).strip()
                assert len(reason.split()) >= 5, f"#{c.anchor}: an inferred source says why"
            else:
                assert source.startswith(VENDOR_TITLES), f"#{c.anchor}: unknown source {source!r}"
            pages = set(re.findall(r"\b\d{3,4}/\d{4,5}\b", source))
            assert pages <= VENDOR_PAGES, f"#{c.anchor}: unknown page(s) {pages - VENDOR_PAGES}"


def test_the_printed_audit_is_up_to_date() -> None:
    printed = AUDIT.findall(DOC.read_text("utf-8"))
    assert len(printed) == 1, "the contract prints its audit once, near the top"
    every = list(contract.clauses().values())
    inferred = [c for c in every if any(s.startswith(INFERRED) for s in c.sources)]
    counted = (len(every), len(every) - len(inferred), len(inferred))
    assert tuple(map(int, printed[0])) == counted, (
        f"docs/contract.md prints {', '.join(printed[0])}; the clauses give {counted}"
    )


def test_source_lines_parse(monkeypatch) -> None:
    doc = """## 1. A section

<a id="one"></a>
### One

Text of one.

*Source:* Pulling Jobs in Batches (API 460/76894, en 1045/47031), Request parameters; inferred:
a reason that wraps onto
the next lines.
*Open points:* [two](#two), [three](#three),
[four](#four).
*Relies on:* [two](#two).

<a id="two"></a>
### Two

Text of two.
"""
    monkeypatch.setattr(contract, "source", lambda: doc)
    contract.clauses.cache_clear()
    try:
        one, two = contract.clause("one"), contract.clause("two")
    finally:
        contract.clauses.cache_clear()
    assert one.text == "Text of one." and one.open_points == ("two", "three", "four")
    assert one.relies_on == ("two",)
    assert one.sources == (
        "Pulling Jobs in Batches (API 460/76894, en 1045/47031), Request parameters",
        "inferred: a reason that wraps onto the next lines",
    )
    assert two.sources == ()


def test_the_contract_is_in_our_own_words() -> None:
    assert "API-NOTES" not in DOC.read_text("utf-8")
    for check in REGISTRY.values():
        assert "API-NOTES" not in check.clause, check.name


def test_every_check_names_its_clause() -> None:
    for check in REGISTRY.values():
        assert check.anchor in contract.clauses(), check.name
    # the clauses that say how walks behave are what filters and ordering rely on
    assert "page-walk" in contract.relied_on("filter-semantics")
    assert "page-walk" in contract.relied_on("order")
    assert "page-walk" not in contract.relied_on("sig-refuse")


def test_html_escapes_and_links_clauses() -> None:
    html = str(contract.html("a `<b>` and [walks](#page-walk)\n\n- one\n- two <i>"))
    assert "<code>&lt;b&gt;</code>" in html
    assert '<a href="#contract-page-walk">walks</a>' in html
    assert "<ul><li>one</li><li>two &lt;i&gt;</li></ul>" in html


def _failure(check: str, anchor: str, request_id: str = "") -> Failure:
    headers = {"x-ci-request-id": request_id} if request_id else {}
    exchanges = [ExchangeRecord("GET", "u", 200, headers=headers)] if request_id else []
    return Failure(check, "", "found", anchor=anchor, exchanges=exchanges)


def test_root_cause_grouping() -> None:
    failures = [
        _failure("filters.type_union", "filter-type", "r1"),
        _failure("ordering.asc_reverses_desc", "order"),
        _failure("pagination.walk_independent_of_size", "page-walk"),
        _failure("pagination.no_duplicates", "page-walk"),
        _failure("bad_input.invalid_values", "invalid-input"),
        _failure("schema.content_type", "response-headers", "r9"),
        _failure("filters.exact_match", "filter-exact"),
    ]
    groups = attach_roots(failures)
    roots = [g[1]["check"] for g in groups]
    # the walk is named first although it was seen after two failures that rely on it
    assert roots[0] == "pagination.walk_independent_of_size"
    assert set(roots) == {
        "pagination.walk_independent_of_size",
        "bad_input.invalid_values",  # relies on errors and signatures, not on walks
        "schema.content_type",
    }
    kinds = {c["check"]: c["kind"] for c in groups[0][1]["consequences"]}
    assert kinds == {
        "filters.type_union": "relies-on",
        "ordering.asc_reverses_desc": "relies-on",
        "filters.exact_match": "relies-on",
        "pagination.no_duplicates": "same-clause",
    }
    # with no walk failure, filter failures are roots of their own; a shared response groups
    alone = attach_roots([_failure("filters.type_union", "filter-type", "r1"),
                          _failure("schema.list_body", "response-body", "r1")])  # fmt: skip
    assert [g[1]["check"] for g in alone] == ["schema.list_body"]
    assert alone[0][1]["consequences"][0]["kind"] in ("relies-on", "same-response")
    assert alone[0][0][1].likely_root["check"] == "schema.list_body"  # the consequence names it
    assert len(attach_roots([_failure("a.x", "filter-type"), _failure("b.y", "filter-exact")])) == 2


def test_explain_prints_clause_check_and_open_points() -> None:
    out = subprocess.run([*CLI, "explain", "pagination.walk_independent_of_size"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "docs/contract.md#page-walk" in out and "Walks: every matching job" in out
    assert "a walk equals the same filters walked with size=100" in out  # what the check does
    assert "docs/contract.md#open-ties" in out and "Any order among them" in out
    # the clause's sources, and each open point's
    assert "Sources:\n  - Pulling Jobs in Batches (API 460/76894, en 1045/47031)" in out
    assert "  - inferred: that a walk lists each job once" in out
    assert "    Source:\n      - inferred: no vendor page says how jobs with the same" in out
    short = subprocess.run([*CLI, "explain", "refuses_expired"], capture_output=True, text=True)
    assert short.returncode == 0 and "#sig-window" in short.stdout and "401" in short.stdout
    assert "  - Request Signature (436/7778), q-sign-time" in short.stdout
    assert "  - cos-python-sdk-v5 1.9.44, request signing" in short.stdout
    bad = subprocess.run([*CLI, "explain", "pagination.walk_indepndent"], capture_output=True,
                         text=True)  # fmt: skip
    assert bad.returncode == 2
    assert "did you mean pagination.walk_independent_of_size?" in bad.stderr


def test_list_checks_links_each_check_to_its_clause() -> None:
    out = subprocess.run([*CLI, "list-checks"], capture_output=True, text=True, check=True).stdout
    for check in REGISTRY.values():
        line = next(ln for ln in out.splitlines() if ln.startswith(check.name + " "))
        assert f"docs/contract.md#{check.anchor}" in line, line


class _Walker(Session):
    """A session that counts the jobs its size=3 pages return and can drop the first job of
    every later page (a server that skips jobs)."""

    def __init__(self, client: Client, skip: bool) -> None:
        super().__init__(client, allow_writes=True)
        self.skip, self.returned = skip, Counter()

    def page(self, query: Query, probe: bool = False, **kw) -> Page:
        page = super().page(query, probe, **kw)
        if query.size == "3" and query.next_token and self.skip:
            page = replace(page, body=replace(page.body, jobs=page.body.jobs[1:]))
        if query.size == "3":
            self.returned.update(j.job_id for j in page.body.jobs)
        return page


def _walk_while_creating(
    dataset: list, behaviour: Behaviour | None = None, skip: bool = False
) -> Counter:
    store = Store()
    store.add(dataset[:40])
    with EmulatorServer(Emulator(store, behaviour=behaviour, seed=1)) as server:
        s = _Walker(Client(server.url, EXAMPLE_CREDENTIALS), skip)
        try:
            REGISTRY["pagination.writes_during_walk"].run(s)
        finally:
            assert store.count(Filters()) > 40  # jobs were created during the walk
    return s.returned


def test_writes_during_walk_accepts_repeats_never_skips(dataset) -> None:
    """#page-writes: repeats are an open point (tokens that are positions in the list repeat
    jobs of a Desc walk when jobs are created); a job that existed and never comes fails."""
    assert "open-writes-during-walk" in contract.clause("page-writes").open_points
    cursor = _walk_while_creating(dataset)
    assert set(cursor.values()) == {1}  # cursor tokens: every job once
    offsets = _walk_while_creating(dataset, Behaviour(writes_during_walk="repeats"))
    assert max(offsets.values()) == 2  # offset tokens: repeats, and the check passes
    assert set(offsets) >= {j.job_id for j in dataset[:40]}
    with pytest.raises(CheckFailure, match=r"skipped \d+ job\(s\) that existed before"):
        _walk_while_creating(dataset, skip=True)
