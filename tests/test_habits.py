"""The checks of issue 20's habits never false-alarm on a correct server that differs from ours:
one whose clock is off this machine's (judged by its own, as its Date shows it), and one that
reads every other spelling of a value exactly as the canonical one (the emulator refuses them)."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime

import pytest

from conformance.emulator.app import EXAMPLE_CREDENTIALS, Emulator
from conformance.emulator.server import EmulatorServer
from conformance.emulator.store import Store
from conformance.killmatrix import suite_in_process
from conformance.query import ORDERS, STATES, TYPES, Query
from conformance.timefmt import format_time

KEYS = [
    "--secret-id",
    EXAMPLE_CREDENTIALS.secret_id,
    "--secret-key",
    EXAMPLE_CREDENTIALS.secret_key,
]


def judged(app: Emulator, checks: str) -> dict[str, str]:
    with EmulatorServer(app) as server:
        code, summary, out, _ = suite_in_process(
            ["--target", server.url, *KEYS, "--examples-profile", "dev", "--checks", checks]
        )
    assert code == 0, [f["found"] for f in summary.get("failures", [])] or out
    return {r["check"]: r["outcome"] for r in summary["results"]}


@pytest.mark.parametrize("off", [-600, -5, 5, 600])
def test_a_target_whose_clock_is_off_ours_is_judged_by_its_own(dataset, off: int) -> None:
    store = Store()
    store.add(dataset[:20])
    app = Emulator(store, clock=lambda: time.time() + off)  # its Date follows its clock
    outcomes = judged(app, "refuses_expired,refuses_future_window,window_edges_accepted")
    assert set(outcomes.values()) == {"passed"}, outcomes


CANONICAL = {v.lower(): v for v in (*TYPES, *STATES, *ORDERS, "All")}


class Lenient(Emulator):
    """Reads every other spelling as the canonical one: any case, a state listed twice, a time
    with a colon offset, fractional seconds, Z or a space (what Python's ISO parser takes)."""

    def query_of(self, params: dict) -> Query:
        q = super().query_of(params)

        def word(v: str | None) -> str | None:
            return v and ",".join(CANONICAL.get(p.lower(), p) for p in v.split(","))

        def moment(v: str | None) -> str | None:
            try:
                return v and format_time(datetime.fromisoformat(v))
            except ValueError:  # not a time in any reading: the emulator refuses it
                return v

        return replace(q, type=word(q.type), states=word(q.states), order_by_time=word(q.order_by_time),
                       start_creation_time=moment(q.start_creation_time),
                       end_creation_time=moment(q.end_creation_time))  # fmt: skip


def test_a_server_that_reads_other_spellings_as_meant_passes(dataset) -> None:
    store = Store()
    store.add(dataset)
    app = Lenient(store)
    assert judged(app, "spellings_agree,bounds_inclusive,offset_invariance,invalid_values") == {
        "filters.spellings_agree": "passed",
        "filters.bounds_inclusive": "passed",
        "filters.offset_invariance": "passed",
        "bad_input.invalid_values": "passed",
    }
    with EmulatorServer(app) as server:  # and it does answer the other spellings, with jobs
        from conformance.client import Client

        ex = Client(server.url, EXAMPLE_CREDENTIALS).list(
            Query(type="job", states="success,Success", start_creation_time="2000-01-01T00:00:00Z")
        )
    assert ex.status == 200 and b"<JobsDetail>" in ex.body
