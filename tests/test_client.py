"""The client's care for live targets: retries reported, Retry-After, budget, rate, timeouts."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from test_suite import run_suite

from conformance.client import BudgetExceeded, Client, TargetError, redact
from conformance.emulator.app import EXAMPLE_CREDENTIALS
from conformance.emulator.server import EmulatorServer
from conformance.query import Query


class Flaky:
    """503 SlowDown with Retry-After for the first ``fails`` requests, then 200."""

    def __init__(self, fails: int, delay: float = 0.0) -> None:
        self.fails, self.delay, self.seen = fails, delay, 0

    def __call__(self, environ, start_response):
        self.seen += 1
        time.sleep(self.delay)
        if self.seen <= self.fails:
            start_response(
                "503 Service Unavailable", [("Retry-After", "0"), ("Content-Length", "0")]
            )
            return [b""]
        body = b"<Response><RequestId>r</RequestId></Response>"
        start_response(
            "200 OK", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))]
        )
        return [body]


def test_retries_are_counted_and_reported() -> None:
    app = Flaky(fails=2)
    with EmulatorServer(app) as server:  # any WSGI app serves
        client = Client(server.url, EXAMPLE_CREDENTIALS, retries=2)
        ex = client.list(Query())
    assert ex.status == 200 and ex.retries == 2 and client.retries_made == 2
    assert ex.notes == ["retry after HTTP 503 (waited 0.0s)"] * 2
    assert app.seen == 3


def test_retries_give_up_and_show_the_last_answer() -> None:
    with EmulatorServer(Flaky(fails=10)) as server:
        ex = Client(server.url, EXAMPLE_CREDENTIALS, retries=1).list(Query())
    assert ex.status == 503 and ex.retries == 1


def test_budget_and_rate_limit() -> None:
    with EmulatorServer(Flaky(fails=0)) as server:
        client = Client(server.url, EXAMPLE_CREDENTIALS, max_requests=5, rate_limit=20)
        started = time.monotonic()
        for _ in range(5):
            client.list(Query())
        assert time.monotonic() - started >= 4 / 20 * 0.9  # four gaps of 50 ms at 20/s
        with pytest.raises(BudgetExceeded):
            client.list(Query())


def test_timeout_is_a_target_error() -> None:
    with EmulatorServer(Flaky(fails=0, delay=1.0)) as server:
        client = Client(server.url, EXAMPLE_CREDENTIALS, timeout=0.2, retries=0)
        with pytest.raises(TargetError, match=r"no complete answer within 0\.2 s"):
            client.list(Query())


def test_a_spent_budget_makes_the_run_incomplete_not_conformant(tmp_path: Path) -> None:
    """`run --max-requests 300` once said CONFORMANT, exit 0, with only the signature checks run."""
    code, summary, out = run_suite(tmp_path, "--max-requests", "300")
    assert code == 5, out[-3000:]  # incomplete: a gate does not pass on it
    assert summary["verdict"] == "incomplete" and summary["requests"] <= 300
    unrun = [r for r in summary["results"] if r["outcome"] == "not run"]
    assert unrun and all("budget of 300 is spent" in r["reason"] for r in unrun)
    assert any(f"{len(unrun)} check(s) not run" in c for c in summary["caveats"])
    assert "Verdict: INCOMPLETE" in out
    code, summary, _ = run_suite(tmp_path, "--max-requests", "300", "--allow-incomplete")
    assert code == 0 and summary["verdict"] == "incomplete"  # the gate may accept it; it says so
    # on a large target the census (a request per 100 jobs) can take the whole budget: it says so
    code, summary, _ = run_suite(tmp_path, "--max-requests", "50", "--emulator-jobs", "20000")
    said = r"budget of 50 is spent, [\d,]+ jobs into the census"
    assert code == 5 and re.search(said, summary["caveats"][0]), summary["caveats"]


def test_redact() -> None:
    url = "http://h/x?q-signature=abcdef0123&x-cos-security-token=tok&size=1"
    assert redact(url) == "http://h/x?q-signature=<redacted>&x-cos-security-token=<redacted>&size=1"
    assert redact("key LongSecretValue here", ("LongSecretValue",)) == "key <redacted> here"
    # in any case, anywhere in a large text (a server may echo them in a body)
    body = "x" * 70_000 + "Q-Signature=abc&X-CI-Security-Token=t"
    assert redact(body).endswith("Q-Signature=<redacted>&X-CI-Security-Token=<redacted>")
    # text redacted once (a HAR entry's URL) is redacted again only where it needs it
    again = redact(url) + " x-ci-security-token=late"
    assert redact(again) == redact(url) + " x-ci-security-token=<redacted>"
