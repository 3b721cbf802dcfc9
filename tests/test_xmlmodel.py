"""Parsing, serialization and the hostile-server defences of the XML model."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from drawn import job_lists
from hypothesis import given, settings

from conformance import xmlmodel
from conformance.xmlmodel import (
    XMLProblem,
    parse_error,
    parse_jobs,
    parse_list,
    render_error,
    render_list,
)

SAMPLE = (Path(__file__).parent / "data" / "vendor-sample-response.xml").read_bytes()


def test_parse_vendor_sample() -> None:
    page = parse_list(SAMPLE)
    assert page.request_id == "NjJiZDU1ZmZfOTBmYTUwNjRfNzdjY18xYQ=="
    assert page.next_token == "25"
    first, second = page.jobs
    assert (first.type, first.job_id, first.state) == (
        "Workflow",
        "b3deffea2f84911ec9cb15254008618d9",
        "Running",
    )
    assert first.workflow_ids == ("w7476ff3564ee45b7b490d64bccaba6cc",)
    assert first.start_time == "-"
    assert second.workflow_ids == ()
    assert first.created == second.created
    assert first.created.utcoffset().total_seconds() == 8 * 3600
    assert dict(second.operation)["JobLevel"] == "0"


def test_token_absent_or_empty() -> None:
    assert parse_list(render_list("r", [], None)).next_token is None
    assert parse_list(render_list("r", [], "")).next_token == ""


@settings(max_examples=50, deadline=None)
@given(jobs=job_lists(max_size=8))
def test_render_parse_round_trip(jobs) -> None:
    body = render_list("req-1", jobs, "tok&<>")
    page = parse_list(body)
    assert list(page.jobs) == jobs
    assert page.next_token == "tok&<>"
    assert parse_jobs(body) == jobs


def test_sample_round_trips() -> None:
    page = parse_list(SAMPLE)
    again = parse_list(render_list(page.request_id, list(page.jobs), page.next_token))
    assert again == page


def test_invalid_document_names_the_problem() -> None:
    bad = SAMPLE.replace(b"<State>Running</State>", b"<State>Done</State>", 1)
    with pytest.raises(XMLProblem) as info:
        parse_list(bad)
    assert info.value.kind == "invalid"
    assert "State" in info.value.message
    assert parse_list(bad, check=False).jobs[0].state == "Done"


def test_error_documents() -> None:
    doc = parse_error(render_error("InvalidArgument", "size: bad", "req-9", TraceId="t"))
    assert (doc.code, doc.message, doc.request_id, doc.extra) == (
        "InvalidArgument",
        "size: bad",
        "req-9",
        {"TraceId": "t"},
    )
    with pytest.raises(XMLProblem):
        parse_error(b"<Error><Message>no code</Message><RequestId>r</RequestId></Error>")
    with pytest.raises(XMLProblem):
        parse_error(SAMPLE)  # a Response is not an Error


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<Response><RequestId>&x;</RequestId></Response>"""
BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>
<Response><RequestId>&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;</RequestId></Response>"""
PARAM_ENTITY = b"""<!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]><Response/>"""


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (XXE, "hostile"),
        (BOMB, "hostile"),
        (PARAM_ENTITY, "hostile"),
        ("<Response/>".encode("utf-16"), "hostile"),
        (
            b"<Response><RequestId>" + b"x" * (9 * 1024 * 1024) + b"</RequestId></Response>",
            "too-large",
        ),
        (b"<Response><RequestId>r</Response>", "malformed"),
        (b"", "malformed"),
        (b"not xml at all", "malformed"),
    ],
    ids=[
        "xxe",
        "billion-laughs",
        "parameter-entity",
        "utf16",
        "too-large",
        "unclosed",
        "empty",
        "text",
    ],
)
def test_hostile_and_broken_bodies(body: bytes, kind: str) -> None:
    with pytest.raises(XMLProblem) as info:
        parse_list(body)
    assert info.value.kind == kind


def test_job_fields_in_any_order() -> None:
    """The vendor shows one order of a JobsDetail's fields; readers go by name, so any order
    is valid and reads the same (docs/contract.md#response-body)."""
    import re

    def swap(body: bytes) -> bytes:  # State and Name change places, Type goes last
        body = re.sub(rb"(<Name>.*?</Name>)(.*?)(<State>.*?</State>)", rb"\3\2\1", body, flags=re.S)
        return re.sub(rb"(<Type>.*?</Type>)(.*?)(</JobsDetail>)", rb"\2\1\3", body, flags=re.S)

    reordered = swap(SAMPLE)
    assert reordered != SAMPLE
    assert parse_list(reordered) == parse_list(SAMPLE)


@pytest.mark.parametrize(
    "body",
    [
        b"<Response><JobsDetail><JobId>a</JobId></JobsDetail><NextToken>t</NextToken></Response>",
        b"<Response><JobsDetail>a</JobsDetail>\n<JobsDetail>b</JobsDetail></Response>",
        b"<Response><JobsDetail>unterminated</Response>",
        b"<Response><JobsDetail><JobsDetail>nested</JobsDetail></JobsDetail></Response>",
        b"<Response/>",
    ],
)
def test_split_finds_each_jobsdetail_as_the_regex_did(body: bytes) -> None:
    chunk = re.compile(rb"<JobsDetail>.*?</JobsDetail>", re.S)
    chunks, stub = xmlmodel._split(body)
    assert chunks == chunk.findall(body)
    assert stub == chunk.sub(b"<JobsDetail/>", body)


def test_a_job_unlike_those_seen_is_validated_whatever_came_before(monkeypatch) -> None:
    """Past the first jobs only a sample is validated, but a job of a new variety (its type,
    state, times or elements) always is: a defect of one kind of job shows on a target of any
    size."""
    from dataclasses import replace

    from conformance.xmlmodel import Job

    monkeypatch.setattr(xmlmodel, "_SEEN", [10**6 + 1])  # far past VALIDATE_ALL, off the sample
    monkeypatch.setattr(xmlmodel, "_VARIETIES", set())
    plain = Job("bv1", "Job", "Running", "n", "2024-01-01T00:00:00+0800")
    odd = replace(plain, job_id="bv2", operation=(("QueueId", "p"), ("JobLevel", "7")))
    errors = xmlmodel.read_list(render_list("r", [plain, odd], None))[1]
    assert [e.split(":")[0] for e in errors] == ["JobsDetail 2"], errors
    # a document validated whole (a dataset, a schema test) is never sampled
    wrong = render_list("r", [replace(plain, job_id="bv3", end_time="soon")], None)
    assert xmlmodel.validate_list(xmlmodel.safe_parse(wrong)), "a process's history hid an error"
