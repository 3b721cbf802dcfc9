"""The emulator, faithful in the details: the Error document's order, a created job's Operation
re-serialised in one order, every method and every unparseable request answered with an XML
Error, reason phrases that match their status, empty parameter names, plain create messages."""

from __future__ import annotations

import itertools
import socket
import xml.etree.ElementTree as ET
from http import HTTPStatus

import pytest
from test_emulator_http import _raw, error_of

from conformance.client import Client
from conformance.emulator.app import EXAMPLE_CREDENTIALS, Behaviour, Emulator
from conformance.emulator.server import EmulatorServer
from conformance.emulator.store import Store
from conformance.query import Query
from conformance.xmlmodel import parse_list, safe_parse, validate


def tags(body: bytes) -> list[str]:
    return [child.tag for child in safe_parse(body)]


@pytest.mark.parametrize(
    ("extras", "order"),
    [
        ("resource+trace-id", ["Code", "Message", "Resource", "RequestId", "TraceId"]),
        ("resource", ["Code", "Message", "Resource", "RequestId"]),
        ("trace-id", ["Code", "Message", "RequestId", "TraceId"]),
        ("none", ["Code", "Message", "RequestId"]),
    ],
)
def test_error_elements_come_in_the_vendors_order(extras: str, order: list[str]) -> None:
    with EmulatorServer(Emulator(Store(), behaviour=Behaviour(error_extras=extras))) as server:
        ex = Client(server.url, EXAMPLE_CREDENTIALS).list(Query(size="0"))
    error_of(ex, 400)
    assert tags(ex.body) == order


def test_the_error_schema_accepts_every_order_a_vendor_may_use() -> None:
    """The suite stays as open as the vendor's pages, which disagree on the order."""
    names = ["Code", "Message", "Resource", "RequestId", "TraceId"]
    for n in (3, 4, 5):
        for chosen in itertools.permutations(names, n):
            if not {"Code", "Message", "RequestId"} <= set(chosen):
                continue
            root = ET.Element("Error")
            for name in chosen:
                ET.SubElement(root, name).text = "x"
            assert validate(root, "error") == [], chosen


CREATE = (
    b"<Request><Name>shuffled</Name><Type>Job</Type><Input><Object>a.mp4</Object></Input>"
    b"<Operation>%s</Operation></Request>"
)
PARTS = [
    b"<JobLevel>1</JobLevel>",
    b"<Output><Object>o.mp4</Object><Region>ap-chongqing</Region><Bucket>b-1250000000</Bucket></Output>",
    b"<UserData>hello</UserData>",
    b"<QueueId>p1</QueueId>",
    b"<JobParam><TemplateId>t1</TemplateId></JobParam>",
    b"<TimeInterval><Start>2022-02-01T12:00:00+0800</Start></TimeInterval>",
    b"<CallBack>https://example.com/cb</CallBack>",
]
CANONICAL = ["TimeInterval", "QueueId", "UserData", "CallBack", "JobParam", "Output", "JobLevel"]


def test_a_created_jobs_operation_comes_back_in_one_order(fresh: EmulatorServer) -> None:
    c = Client(fresh.url, EXAMPLE_CREDENTIALS)
    seen = set()
    for shuffle in (PARTS, PARTS[::-1], PARTS[3:] + PARTS[:3]):
        created = c.request("POST", data=CREATE % b"".join(shuffle))
        assert created.status == 200, created.body
        job = parse_list(created.body).jobs[0]
        assert [tag for tag, _ in job.operation] == CANONICAL
        assert dict(job.operation)["Output"] == (
            ("Region", "ap-chongqing"), ("Bucket", "b-1250000000"), ("Object", "o.mp4"))  # fmt: skip
        got = c.request("GET", f"/inventorytriggerjob/{job.job_id}")
        assert parse_list(got.body).jobs[0].operation == job.operation
        seen.add(job.operation)
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (CREATE.replace(b"<Type>Job</Type>", b"") % b"<QueueId>p1</QueueId>", "Type is required: Job or Workflow"),
        (CREATE.replace(b"Job</Type>", b"Batch</Type>") % b"", "Type must be Job or Workflow, not 'Batch'"),
    ],
)  # fmt: skip
def test_a_create_body_without_a_usable_type_says_so(fresh, body: bytes, message: str) -> None:
    ex = Client(fresh.url, EXAMPLE_CREDENTIALS).request("POST", data=body)
    assert error_of(ex, 400, "InvalidArgument").message == message


@pytest.mark.parametrize("method", ["TRACE", "QUERY", "PATCH", "OPTIONS", "FROB", "DELETE"])
@pytest.mark.parametrize("path", ["/inventorytriggerjob", "/inventorytriggerjob/bnope"])
def test_every_other_method_gets_the_same_405(served: EmulatorServer, method, path) -> None:
    ex = Client(served.url, EXAMPLE_CREDENTIALS).request(method, path)
    assert error_of(ex, 405, "MethodNotAllowed").message.startswith(method)


@pytest.mark.parametrize(
    ("request_head", "status"),
    [
        (b"POST /inventorytriggerjob HTTP/1.1\r\nContent-Length: 99999999", 413),
        (b"POST /inventorytriggerjob HTTP/1.1\r\nTransfer-Encoding: gzip", 400),
        (b"get /inventorytriggerjob HTTP/1.1", 400),
        (b"GET /inventorytriggerjob?x=" + b"y" * 20_000 + b" HTTP/1.1", 400),
        (b"DELETE /inventorytriggerjob HTTP/1.1", 401),
        (b"GET /elsewhere HTTP/1.1", 401),
    ],
)
def test_refusals_are_xml_with_their_own_reason_phrase(served, request_head, status) -> None:
    assert_xml_refusal(
        _raw(served, request_head + b"\r\nHost: x\r\nConnection: close\r\n\r\n"), status
    )


def test_oversized_headers_get_431_as_xml(served: EmulatorServer) -> None:
    # exactly the server's limit, so it has read all that was sent when it answers (no reset)
    head = b"GET /inventorytriggerjob HTTP/1.1\r\nHost: x\r\nX-Big: "
    assert_xml_refusal(_raw(served, head + b"a" * (64 * 1024 - len(head))), 431)


def assert_xml_refusal(answer: bytes, status: int) -> None:
    head, _, body = answer.partition(b"\r\n\r\n")
    line = head.split(b"\r\n")[0].decode()
    assert line.split(" ", 2)[1:] == [str(status), HTTPStatus(status).phrase], line
    rid = next(v for k, _, v in (h.partition(b": ") for h in head.split(b"\r\n")[1:])
               if k.lower() == b"x-ci-request-id")  # fmt: skip
    assert safe_parse(body).findtext("RequestId") == rid.decode()


def test_a_parameter_with_an_empty_name_signs_and_is_accepted(served: EmulatorServer) -> None:
    c = Client(served.url, EXAMPLE_CREDENTIALS)
    for params in ([("size", "1"), ("", "x")], [("", "x")], [("", "")]):
        ex = c.request("GET", params=params)
        assert ex.status == 200, (params, ex.body)
    tampered = c.request("GET", params=[("size", "1"), ("", "x")],
                         prepare_hook=lambda p: setattr(p, "url", p.url.replace("=x", "=y")))  # fmt: skip
    error_of(tampered, 401)


def test_connections_are_kept_alive_with_nagle_off(fresh: EmulatorServer) -> None:
    c = Client(fresh.url, EXAMPLE_CREDENTIALS)
    for _ in range(3):
        assert c.list(Query(size="1")).status == 200
    channels = [ch for ch in fresh._server._map.values() if hasattr(ch, "requests")]
    assert len(channels) == 1  # one connection for three requests
    nodelay = channels[0].socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    assert nodelay
