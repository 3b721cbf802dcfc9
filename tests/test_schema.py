"""The XSDs: the vendor's sample validates, each documented constraint rejects what breaks it."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.xmlmodel import safe_parse, validate, validate_list

SAMPLE = (Path(__file__).parent / "data" / "vendor-sample-response.xml").read_text("utf-8")
WORKFLOW_IDS = "<WorkflowIds>w7476ff3564ee45b7b490d64bccaba6cc</WorkflowIds>"


def errors(doc: str, name: str = "list-response") -> list[str]:
    root = safe_parse(doc.encode("utf-8"))
    found = validate(root, name)
    if name == "list-response":  # the fast path agrees with whole-document validation
        assert bool(validate_list(root)) == bool(found), (validate_list(root), found)
    return found


def test_vendor_sample_validates() -> None:
    assert errors(SAMPLE) == []


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("<State>Running</State>", "<State>Done</State>"),
        ("<Type>Workflow</Type>", "<Type>Batch</Type>"),
        ("<CreationTime>2022-06-27T15:23:10+0800", "<CreationTime>2022-06-27T15:23:10"),
        ("<CreationTime>2022-06-27T15:23:10+0800", "<CreationTime>2022-06-27T15:23:10+08:00"),
        ("<CreationTime>2022-06-27T15:23:10+0800", "<CreationTime>2022-13-27T15:23:10+0800"),
        ("<StartTime>-</StartTime>", "<StartTime>--</StartTime>"),
        ("<EndTime>2022-06-27T15:25:10+0800</EndTime>", "<EndTime>soon</EndTime>"),
        ("<JobId>b3deffea2f84911ec9cb15254008618d9</JobId>", ""),
        ("<JobId>b3deffea2f84911ec9cb15254008618d9</JobId>", "<JobId/>"),
        (WORKFLOW_IDS, ""),
        (WORKFLOW_IDS, "<WorkflowIds> </WorkflowIds>"),
        ("<JobLevel>0</JobLevel>", "<JobLevel>3</JobLevel>"),
        ("<Code>Success</Code>", "<Code>Success</Code><Code>Success</Code>"),
        ("<Prefix>input</Prefix>", "<Folder>input</Folder>"),
        ("<RequestId>NjJiZDU1ZmZfOTBmYTUwNjRfNzdjY18xYQ==</RequestId>", ""),
        ("<NextToken>25</NextToken>", "<NextToken>25</NextToken><Extra/>"),
        ("<Name>demo</Name>", "<Name>" + "n" * 129 + "</Name>"),
        ("<NextToken>25</NextToken>", "<NextToken>25</NextToken><NextToken>26</NextToken>"),
        (
            "</JobsDetail>\n  <NextToken>",
            "</JobsDetail><NextToken>1</NextToken><JobsDetail/><NextToken>",
        ),
        ("<QueueId>", "<CallBackFormat>YAML</CallBackFormat><QueueId>"),
    ],
    ids=[
        "bad-state",
        "bad-type",
        "time-without-offset",
        "time-offset-with-colon",
        "bad-month",
        "bad-dash",
        "bad-end-time",
        "missing-jobid",
        "empty-jobid",
        "workflow-without-ids",
        "workflow-blank-ids",
        "joblevel-3",
        "field-twice",
        "unknown-input",
        "missing-requestid",
        "extra-root-element",
        "name-too-long",
        "callback-format",
        "two-tokens",
        "job-after-token",
    ],
)
def test_each_constraint_rejects(old: str, new: str) -> None:
    assert old in SAMPLE
    assert errors(SAMPLE.replace(old, new, 1)) != []


@pytest.mark.parametrize(
    "doc",
    [
        SAMPLE.replace("<NextToken>25</NextToken>", ""),  # no token on the last page
        SAMPLE.replace("<NextToken>25</NextToken>", "<NextToken/>"),
        SAMPLE.replace(
            "<QueueId>", "<Tag>Transcode</Tag><FreeTranscode>true</FreeTranscode><QueueId>"
        ),
        SAMPLE.replace("<QueueId>", "<FutureField><X>1</X></FutureField><QueueId>"),
        SAMPLE.replace("<TemplateId>", "<Audio><Codec>aac</Codec></Audio><TemplateId>"),
        SAMPLE.replace("<Type>Workflow</Type>", "<Type>Job</Type>", 1).replace(WORKFLOW_IDS, ""),
        "<Response><RequestId>r</RequestId></Response>",
    ],
    ids=[
        "no-token",
        "empty-token",
        "sdk-fields",
        "unknown-op-field",
        "jobparam-open",
        "job-without-workflowids",
        "no-jobs",
    ],
)
def test_open_where_the_sdks_show_more(doc: str) -> None:
    assert errors(doc) == []


@pytest.mark.parametrize(
    ("doc", "ok"),
    [
        (
            "<Error><Code>InvalidArgument</Code><Message>m</Message><RequestId>r</RequestId></Error>",
            True,
        ),
        (
            "<Error><Code>AccessDenied</Code><Message/><Resource>/x</Resource><RequestId>r</RequestId>"
            "<TraceId>t</TraceId></Error>",
            True,
        ),
        ("<Error><Message>m</Message><RequestId>r</RequestId></Error>", False),
        ("<Error><Code/><Message>m</Message><RequestId>r</RequestId></Error>", False),
        ("<Error><Code>X</Code><Message>m</Message></Error>", False),
        ("<Error><Code>X</Code><Message>m</Message><RequestId>r</RequestId><Junk/></Error>", False),
    ],
)
def test_error_schema(doc: str, ok: bool) -> None:
    assert (errors(doc, "error") == []) is ok
