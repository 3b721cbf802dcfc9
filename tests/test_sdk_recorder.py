"""The recorder's shapes that put faults past a task's first request, and error answers whose
four IDs differ (what a client must surface is judged by the client kill matrix)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from werkzeug.test import Client

from conformance.emulator.app import Emulator
from conformance.emulator.store import Store
from conformance.sdk.recorder import Recorder, Shape
from conformance.xmlmodel import safe_parse

Make = Callable[[Shape], tuple[Client, Recorder]]


@pytest.fixture
def make() -> Iterator[Make]:
    """A recorder with ``shape`` around an emulator over an empty store (every request is
    unsigned: a 401 error answer, unless the shape answers itself)."""
    store = Store()

    def build(shape: Shape) -> tuple[Client, Recorder]:
        recorder = Recorder(Emulator(store, []), shape)
        return Client(recorder), recorder

    yield build
    store.close()


def test_the_503_comes_on_the_chosen_request_of_each_task(make: Make) -> None:
    client, recorder = make(Shape(slowdown=1, slowdown_at=3))
    for _ in range(2):  # two tasks: the count starts again with each
        recorder.begin()
        statuses = [client.get("/inventorytriggerjob").status_code for _ in range(4)]
        hits = recorder.take()
        assert statuses == [401, 401, 503, 401]  # unsigned: 401, but the third is the 503
        assert [h.injected for h in hits] == ["", "", "slowdown", ""]
        assert hits[2].response_header("Retry-After") == "1"


def test_an_error_answer_carries_four_different_ids(make: Make) -> None:
    client, recorder = make(Shape(distinct_ids=True))
    recorder.begin()
    resp = client.get("/inventorytriggerjob")
    root = safe_parse(resp.data)
    ids = [
        root.findtext("RequestId"),
        root.findtext("TraceId"),
        resp.headers["x-ci-request-id"],
        resp.headers["x-ci-trace-id"],
    ]
    assert resp.status_code == 401 and root.findtext("Code") == "MissingAuthorization"
    assert all(ids) and len(set(ids)) == 4, ids
    assert recorder.take()[0].response_body == resp.data  # the judge sees what the client saw


def test_ids_stay_equal_without_the_shape(make: Make) -> None:
    client, recorder = make(Shape())
    recorder.begin()
    resp = client.get("/inventorytriggerjob")
    root = safe_parse(resp.data)
    assert root.findtext("RequestId") == resp.headers["x-ci-request-id"]
