"""The suite against a server that answers as the vendor's pages show (``vendor_server.py``),
with writes allowed: it must be conformant, and see the vendor's choices."""

from __future__ import annotations

import json
import re
from pathlib import Path

from test_suite import run_suite
from vendor_server import CHOICES, TEMP, Serving, VendorServer, dataset

from conformance.client import Client
from conformance.query import Query
from conformance.xmlmodel import parse_error, parse_list


def test_suite_with_writes_is_conformant_against_the_vendor_server(tmp_path: Path) -> None:
    app = VendorServer(dataset())
    with Serving(app) as server:
        code, summary, out = run_suite(
            tmp_path,
            "--target", server.url,
            "--secret-id", TEMP.secret_id,
            "--secret-key", TEMP.secret_key,
            "--security-token", TEMP.token,  # type: ignore[arg-type]
            "--allow-writes",
        )  # fmt: skip
    assert code == 0, out[-4000:]
    assert summary["verdict"] == "conformant"
    seen = summary["behaviour"]
    assert seen["get_missing"] == "nonexist", seen
    assert seen["last_page_token"] == "absent", seen
    assert seen["auth_status"] == "401", seen
    assert seen == CHOICES  # and every other open point as the server chose it
    outcomes = {r["check"]: r for r in summary["results"]}
    judged = [c for c in outcomes if c.startswith(("model.", "signature."))]
    assert "model.write_then_read" in judged and "model.get_missing" in judged, sorted(outcomes)
    not_passed = {c: (outcomes[c]["outcome"], outcomes[c].get("reason")) for c in judged
                  if outcomes[c]["outcome"] != "passed"}  # fmt: skip
    assert not not_passed, not_passed
    assert outcomes["pagination.writes_during_walk"]["outcome"] == "passed"
    # the suite did write: its jobs are on the server, some of them cancelled
    created = [j for j in app.jobs.values() if "conformance" in j.name.lower()]
    assert len(created) >= 30 and any(j.state == "Cancel" for j in created), len(created)
    for secret in (TEMP.secret_key, TEMP.token):
        assert secret not in out and secret not in json.dumps(summary)  # type: ignore[operator]


CREATE = (
    b"<Request><Name>vendor_truth</Name><Type>Workflow</Type><Input><Prefix>in/</Prefix></Input>"
    b"<Operation><WorkflowIds>w7476ff3564ee45b7b490d64bccaba6cc</WorkflowIds></Operation></Request>"
)


def test_cancel_and_get_missing_answer_as_the_vendor_pages_show() -> None:
    with Serving(VendorServer(dataset(12))) as server:
        client = Client(server.url, TEMP)
        made = client.request("POST", data=CREATE, headers={"Content-Type": "application/xml"})
        assert made.status == 200 and made.header("Content-Type") == "application/xml"
        job = parse_list(made.body).jobs[0]
        assert (job.state, job.name, job.type) == ("Submitted", "vendor_truth", "Workflow")
        assert job.creation_time.endswith("+0800")
        path = f"/inventorytriggerjob/{job.job_id}"

        # cancel: HTTP 200, no body, Content-Length 0, no Content-Type, x-ci-request-id
        cancel = client.request("PUT", path, [("cancel", "")])
        assert (cancel.status, cancel.body) == (200, b"")
        assert cancel.header("Content-Length") == "0"
        assert cancel.header("Content-Type") is None
        assert cancel.header("x-ci-request-id") and cancel.header("Server") == "tencent-ci"
        got = client.request("GET", path)
        assert got.status == 200 and parse_list(got.body).jobs[0].state == "Cancel"
        listed = client.list(Query(job_id=job.job_id, states="Cancel"))
        assert [j.job_id for j in parse_list(listed.body).jobs] == [job.job_id]

        # cancelling it again: the job has ended, refused as a CI error
        again = client.request("PUT", path, [("cancel", "")])
        assert again.status == 400 and again.header("Content-Type") == "application/xml"
        assert parse_error(again.body).code == "InvalidRequest"
        assert again.header("x-ci-request-id") and again.header("x-ci-trace-id")

        # get of an ID that names no job: 200, NonExistJobIds naming it, no JobsDetail
        unknown = "b" + "0" * 32
        missing = client.request("GET", f"/inventorytriggerjob/{unknown}")
        assert missing.status == 200 and missing.header("Content-Type") == "application/xml"
        assert b"<JobsDetail>" not in missing.body
        named = re.search(rb"<NonExistJobIds>(.*)</NonExistJobIds>", missing.body)
        assert named is not None and named[1] == unknown.encode()
        assert parse_list(missing.body).jobs == ()

        # the last page carries no NextToken element at all; an unsigned request is a CI 401
        last = client.list(Query(size="100"))
        assert b"NextToken" not in last.body and len(parse_list(last.body).jobs) == 13
        unsigned = client.request("GET", auth=None)
        assert unsigned.status == 401 and parse_error(unsigned.body).code == "MissingAuthorization"
        assert unsigned.body.startswith(b"<?xml version='1.0' encoding='utf-8' ?><Error><Code>")
