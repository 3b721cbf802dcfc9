"""The emulator over real HTTP on loopback: each endpoint, each refusal, each bad input."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.client import Client
from conformance.emulator.app import EXAMPLE_CREDENTIALS, Behaviour, Emulator
from conformance.emulator.server import EmulatorServer
from conformance.emulator.store import Store
from conformance.query import Query, expected, parse_filters
from conformance.signing import Credentials
from conformance.strategies import filter_queries
from conformance.xmlmodel import parse_error, parse_list, safe_parse, validate_list

CREATE_BODY = (
    b"<Request><Name>made by a test</Name><Type>Job</Type><Input><Prefix>in/</Prefix></Input>"
    b"<Operation><QueueId>p1</QueueId><JobParam><TemplateId>t1</TemplateId></JobParam>"
    b"<JobLevel>1</JobLevel></Operation></Request>"
)


def walk(client: Client, query: Query) -> tuple[list, int]:
    """Every job of a walk through NextToken, and the number of requests it took."""
    jobs, token, n = [], None, 0
    while True:
        ex = client.list(Query(**{**query.__dict__, "next_token": token}))
        assert ex.status == 200, ex.body
        page = parse_list(ex.body)
        jobs += page.jobs
        n += 1
        token = page.next_token
        if not token:
            return jobs, n
        assert n < 1000, "the walk does not end"


def error_of(ex, status: int, code: str | None = None):
    assert ex.status == status, (ex.status, ex.body)
    assert ex.header("Content-Type") == "application/xml"
    doc = parse_error(ex.body)
    assert doc.request_id == ex.header("x-ci-request-id")
    if code:
        assert doc.code == code, doc
    return doc


def test_list_headers_and_defaults(client: Client, dataset) -> None:
    ex = client.list(Query())
    assert ex.status == 200
    assert ex.header("Content-Type") == "application/xml"
    assert ex.header("Server") == "tencent-ci"
    assert ex.header("Date")
    page = parse_list(ex.body)
    assert page.request_id == ex.header("x-ci-request-id")
    assert page.jobs == tuple(expected(dataset, parse_filters(Query()))[:10])
    assert page.next_token


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_walks_equal_the_oracle(client: Client, dataset, data) -> None:
    """The SQL semantics (emulator) and the Python semantics (oracle) check each other."""
    query = data.draw(filter_queries(dataset[:60]))
    jobs, n = walk(client, query)
    f = parse_filters(query)
    want = expected(dataset, f)
    assert jobs == want
    assert n <= len(want) // f.size + 1


def test_sdk_style_empty_parameters_are_absent(client: Client, dataset) -> None:
    sdk = Query(type="", order_by_time="Desc", states="All", size="10", next_token="",
                workflow_id="", job_id="")  # fmt: skip
    assert parse_list(client.list(sdk).body).jobs == parse_list(client.list(Query()).body).jobs


def test_presigned_requests(client: Client) -> None:
    ex = client.request("GET", params=[("size", "3")], auth=client.auth(presign=True))
    assert ex.status == 200 and len(parse_list(ex.body).jobs) == 3
    assert "q-signature=<redacted>" in ex.url


def test_tokens_bound_to_filters(client: Client) -> None:
    token = parse_list(client.list(Query(size="5", type="Job")).body).next_token
    same_instant = client.list(Query(size="5", type="Job", next_token=token))
    assert same_instant.status == 200
    for other in (
        Query(size="5", type="Workflow", next_token=token),
        Query(size="5", type="Job", order_by_time="Asc", next_token=token),
        Query(size="5", type="Job", next_token=token[:-1] + ("0" if token[-1] != "0" else "1")),
        Query(size="5", next_token="25"),
        Query(size="5", next_token="../../etc/passwd"),
    ):
        error_of(client.list(other), 400, "InvalidArgument")


@pytest.mark.parametrize(
    ("query", "param"),
    [
        (Query(size="0"), "size"),
        (Query(size="abc"), "size"),
        (Query(type="job"), "type"),
        (Query(states="Running,Done"), "states"),
        (Query(order_by_time="asc"), "orderByTime"),
        (Query(start_creation_time="2024-01-01T00:00:00"), "startCreationTime"),
        (Query(end_creation_time="yesterday"), "endCreationTime"),
    ],
)
def test_invalid_values_get_400(client: Client, query: Query, param: str) -> None:
    assert param in error_of(client.list(query), 400, "InvalidArgument").message


@pytest.mark.parametrize(
    ("method", "path", "params", "status"),
    [
        ("GET", "/inventorytriggerjob", [("size", "1"), ("size", "2")], 400),
        ("GET", "/inventorytriggerjob", [("colour", "red")], 400),
        ("GET", "/inventorytriggerjob", [("nextToken", ".é")], 400),  # was a 500 (schemathesis)
        ("GET", "/inventorytriggerjob", [("name", "x" * 20000)], 400),
        ("DELETE", "/inventorytriggerjob", [], 405),
        ("GET", "/nothing-here", [], 404),
        ("GET", "/inventorytriggerjob/no-such-job", [], 404),
        ("PUT", "/inventorytriggerjob/bnope", [], 400),
        ("PATCH", "/inventorytriggerjob/bnope", [], 405),
    ],
)
def test_malformed_requests_get_4xx_xml(client, method, path, params, status) -> None:
    error_of(client.request(method, path, params), status)


def _raw(server: EmulatorServer, request: bytes) -> bytes:
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(request)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    "request_line",
    [
        b"GET /inventorytriggerjob?name=%zz HTTP/1.1",
        b"GET /inventorytriggerjob?name=%ff%fe HTTP/1.1",
        b"GET /inventorytriggerjob?name=\xff HTTP/1.1",
        b"GET /inventory%zztriggerjob HTTP/1.1",
        b"GET /inventorytriggerjob HTTP/9.9",
        b"NONSENSE",
    ],
)
def test_undecodable_requests_get_4xx_xml(served: EmulatorServer, request_line: bytes) -> None:
    answer = _raw(served, request_line + b"\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    assert 400 <= status < 500, answer[:300]
    assert b"Content-Type: application/xml" in head
    assert parse_error(body).code


def _fresh_client(server: EmulatorServer, **kw) -> Client:
    return Client(server.url, kw.pop("credentials", EXAMPLE_CREDENTIALS), **kw)


def test_create_get_cancel(fresh: EmulatorServer) -> None:
    c = _fresh_client(fresh)
    created = c.request("POST", data=CREATE_BODY, headers={"Content-Type": "application/xml"})
    assert created.status == 200, created.body
    job = parse_list(created.body).jobs[0]
    assert (job.state, job.name, job.type) == ("Submitted", "made by a test", "Job")
    got = parse_list(c.request("GET", f"/inventorytriggerjob/{job.job_id}").body).jobs[0]
    assert got == job
    cancelled = c.request("PUT", f"/inventorytriggerjob/{job.job_id}", [("cancel", "")])
    # as the vendor's page shows it: 200, no body, no Content-Type, the request ID header
    assert (cancelled.status, cancelled.body) == (200, b"")
    assert cancelled.header("Content-Length") == "0" and cancelled.header("Content-Type") is None
    assert cancelled.header("x-ci-request-id")
    assert parse_list(c.list(Query(job_id=job.job_id)).body).jobs[0].state == "Cancel"
    again = c.request("PUT", f"/inventorytriggerjob/{job.job_id}", [("cancel", "")])
    assert again.status == 400 and parse_error(again.body).code == "InvalidRequest"  # it has ended
    assert len(fresh.app.store) == 41


def test_get_of_an_unknown_id_in_both_allowed_forms(dataset) -> None:
    missing = "b" + "0" * 32
    for behaviour, status in (("404", 404), ("nonexist", 200)):
        store = Store()
        store.add(dataset[:5])
        app = Emulator(store, behaviour=Behaviour(get_missing=behaviour, cancel_ended="accept"))
        with EmulatorServer(app) as server:
            c = Client(server.url, EXAMPLE_CREDENTIALS)
            ex = c.request("GET", f"/inventorytriggerjob/{missing}")
            assert ex.status == status
            if status == 404:
                assert parse_error(ex.body).code == "NoSuchJob"
            else:
                root = safe_parse(ex.body)
                assert [e.text for e in root.findall("NonExistJobIds")] == [missing]
                assert root.find("JobsDetail") is None and validate_list(root) == []
            ended = next(j for j in dataset[:5] if j.state in ("Success", "Failed", "Cancel"))
            ex = c.request("PUT", f"/inventorytriggerjob/{ended.job_id}", [("cancel", "")])
            assert (ex.status, ex.body) == (200, b"")  # accepted, and the job keeps its state
            assert store.get(ended.job_id) == ended


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<Request>",
        b"<Other/>",
        b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><Request><Name>&x;</Name></Request>',
        CREATE_BODY.replace(b"<Type>Job</Type>", b"<Type>Batch</Type>"),
        CREATE_BODY.replace(b"<Type>Job</Type>", b"<Type>Workflow</Type>"),  # no WorkflowIds
        CREATE_BODY.replace(b"made by a test", b"n" * 129),
        CREATE_BODY.replace(b"<Name>made by a test</Name>", b""),
        CREATE_BODY.replace(b"<JobLevel>1", b"<JobLevel>7"),
        CREATE_BODY.replace(b"<QueueId>", "<UserData>é</UserData><QueueId>".encode()),
        CREATE_BODY.replace(b"<Prefix>in/</Prefix>", b""),
        b"<Request>" + b"<Name>x</Name>" * 10000 + b"</Request>",
    ],
)
def test_bad_create_bodies_change_nothing(fresh: EmulatorServer, body: bytes) -> None:
    c = _fresh_client(fresh)
    before = len(fresh.app.store)
    ex = c.request("POST", data=body)
    assert 400 <= ex.status < 500, ex.body
    parse_error(ex.body)
    assert len(fresh.app.store) == before


def test_keyset_walk_survives_creation(fresh: EmulatorServer) -> None:
    """Jobs created during a walk cause no duplicate and no skipped existing job."""
    c = _fresh_client(fresh)
    existing, _ = walk(c, Query(size="100"))
    seen, token = [], None
    while True:
        page = parse_list(c.list(Query(size="7", next_token=token)).body)
        seen += page.jobs
        c.request("POST", data=CREATE_BODY)
        token = page.next_token
        if not token:
            break
    ids = [j.job_id for j in seen]
    assert len(ids) == len(set(ids))
    assert {j.job_id for j in existing} <= set(ids)


def test_concurrent_create_and_list(fresh: EmulatorServer) -> None:
    errors: list = []
    created: list[str] = []
    lock = threading.Lock()

    def creator() -> None:
        c = _fresh_client(fresh)
        for _ in range(15):
            ex = c.request("POST", data=CREATE_BODY)
            if ex.status != 200:
                errors.append(ex.body)
                continue
            with lock:
                created.append(parse_list(ex.body).jobs[0].job_id)

    def lister() -> None:
        c = _fresh_client(fresh)
        for _ in range(5):
            jobs, _ = walk(c, Query(size="9"))
            ids = [j.job_id for j in jobs]
            if len(ids) != len(set(ids)):
                errors.append("duplicate in a walk")

    threads = [threading.Thread(target=f) for f in (creator, creator, creator, lister, lister)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    final, _ = walk(_fresh_client(fresh), Query(size="100"))
    ids = [j.job_id for j in final]
    assert len(ids) == len(set(ids)) == 40 + 45
    assert set(created) <= set(ids)


# --- authentication ------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["401", "403"])
def test_auth_refusals(dataset, style: str) -> None:
    now = [time.time()]
    temp = Credentials("AKIDtemporary", "temporary-key", token="token-xyz")
    app = Emulator(Store(), credentials=[EXAMPLE_CREDENTIALS, temp],
                   behaviour=Behaviour(auth_status=style), clock=lambda: now[0])  # fmt: skip
    status = int(style)
    with EmulatorServer(app) as server:
        c = _fresh_client(server)
        assert c.list(Query()).status == 200
        assert _fresh_client(server, credentials=temp).list(Query()).status == 200
        cases = {
            "unsigned": c.request("GET", auth=None),
            "wrong key": c.request("GET", auth=c.auth(Credentials(EXAMPLE_CREDENTIALS.secret_id, "x"))),
            "unknown id": c.request("GET", auth=c.auth(Credentials("AKIDnobody", "x"))),
            "expired": c.request("GET", auth=c.auth(clock=lambda: now[0] - 20000)),
            "future": c.request("GET", auth=c.auth(clock=lambda: now[0] + 3600)),
            "tampered": c.request("GET", params=[("size", "5")],
                                  prepare_hook=lambda p: setattr(p, "url", p.url.replace("size=5", "size=6"))),
            "no token": c.request("GET", auth=c.auth(Credentials(temp.secret_id, temp.secret_key))),
            "wrong token": c.request("GET", auth=c.auth(Credentials(temp.secret_id, temp.secret_key, "nope"))),
        }  # fmt: skip
        for name, ex in cases.items():
            doc = error_of(ex, status)
            assert doc.code, name


def test_sdk_host_with_port_and_ip_endpoint(served: EmulatorServer) -> None:
    """The SDK signs a bare host name and sends Host with the port: both must be accepted."""
    c = Client(
        served.url, EXAMPLE_CREDENTIALS, host_header="b-1250000000.ci.ap-beijing.myqcloud.com"
    )
    assert c.list(Query(size="1")).status == 200


def test_keep_alive(served: EmulatorServer) -> None:
    c = Client(served.url, EXAMPLE_CREDENTIALS)
    for _ in range(3):
        assert c.list(Query(size="1")).status == 200
    pool = c.session.get_adapter(served.url).poolmanager
    conns = [p for p in pool.pools._container.values()]
    assert sum(p.num_connections for p in conns) == 1
