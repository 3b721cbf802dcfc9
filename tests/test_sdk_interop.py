"""The official SDK (cos-python-sdk-v5) as a real client of the emulator."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from qcloud_cos import CosConfig, CosS3Client
from qcloud_cos.cos_exception import CosServiceError

from conformance.emulator.app import EXAMPLE_CREDENTIALS
from conformance.query import Query, expected, parse_filters
from conformance.strategies import xml_text

BUCKET = "examplebucket-1250000000"


@pytest.fixture(scope="module")
def sdk(served) -> CosS3Client:
    url = urlsplit(served.url)
    conf = CosConfig(
        Region="ap-beijing", SecretId=EXAMPLE_CREDENTIALS.secret_id,
        SecretKey=EXAMPLE_CREDENTIALS.secret_key, IP=url.hostname, Port=url.port, Scheme="http",
    )  # fmt: skip
    return CosS3Client(conf, retry=0)


def _jobs(result: dict) -> list[dict]:
    jobs = result.get("JobsDetail") or []
    return jobs if isinstance(jobs, list) else [jobs]


def test_sdk_walks_every_page(sdk: CosS3Client, dataset) -> None:
    want = [j.job_id for j in expected(dataset, parse_filters(Query(type="Workflow")))]
    got, token = [], ""
    for _ in range(100):
        result = sdk.ci_list_inventory_trigger_jobs(Bucket=BUCKET, Size=7, NextToken=token)
        got += [j["JobId"] for j in _jobs(result)]
        token = result.get("NextToken") or ""
        if not token:
            break
    assert got == want


def test_sdk_list_with_every_parameter(sdk: CosS3Client, dataset) -> None:
    target = next(j for j in dataset if j.type == "Job" and " " in j.name)
    result = sdk.ci_list_inventory_trigger_jobs(
        Bucket=BUCKET, Type="Job", OrderByTime="Asc", States=f"{target.state},Pause", Size=100,
        StartCreationTime=target.creation_time, EndCreationTime=target.creation_time,
        WorkflowId="", JobId=target.job_id, Name=target.name, NextToken="",
    )  # fmt: skip
    assert [j["JobId"] for j in _jobs(result)] == [target.job_id]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=xml_text.filter(lambda s: s.strip() == s), state=st.sampled_from(["All", "Running,Failed"])
)
def test_sdk_signatures_accepted_for_any_name(
    sdk: CosS3Client, dataset, name: str, state: str
) -> None:
    result = sdk.ci_list_inventory_trigger_jobs(Bucket=BUCKET, Name=name, States=state, Size=100)
    want = expected(
        dataset, parse_filters(Query(type="Workflow", name=name, states=state, size="100"))
    )
    assert [j["JobId"] for j in _jobs(result)] == [j.job_id for j in want[:100]]


def test_sdk_create_get_cancel(fresh) -> None:
    url = urlsplit(fresh.url)
    conf = CosConfig(Region="ap-beijing", SecretId=EXAMPLE_CREDENTIALS.secret_id,
                     SecretKey=EXAMPLE_CREDENTIALS.secret_key, IP=url.hostname, Port=url.port,
                     Scheme="http")  # fmt: skip
    sdk = CosS3Client(conf, retry=0)
    body = {
        "Name": "sdk job 名字", "Type": "Workflow", "Input": {"Prefix": "input/"},
        "Operation": {"WorkflowIds": "w0123", "TimeInterval": {
            "Start": "2022-02-01T12:00:00+0800", "End": "2022-05-01T12:00:00+0800"}},
    }  # fmt: skip
    created = _jobs(sdk.ci_create_inventory_trigger_jobs(Bucket=BUCKET, JobBody=body))[0]
    assert (created["State"], created["Name"]) == ("Submitted", "sdk job 名字")
    got = _jobs(sdk.ci_get_inventory_trigger_jobs(Bucket=BUCKET, JobID=created["JobId"]))[0]
    assert got["JobId"] == created["JobId"]
    sdk.ci_delete_inventory_trigger_jobs(Bucket=BUCKET, JobId=created["JobId"])
    after = _jobs(sdk.ci_get_inventory_trigger_jobs(Bucket=BUCKET, JobID=created["JobId"]))[0]
    assert after["State"] == "Cancel"
    listed = sdk.ci_list_inventory_trigger_jobs(Bucket=BUCKET, WorkflowId="w0123")
    assert [j["JobId"] for j in _jobs(listed)] == [created["JobId"]]
    with pytest.raises(CosServiceError) as info:
        sdk.ci_get_inventory_trigger_jobs(Bucket=BUCKET, JobID="bmissing")
    assert info.value.get_error_code() == "NoSuchJob"
