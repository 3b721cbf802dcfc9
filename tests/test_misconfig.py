"""A misconfigured run ends before any check, with exit 3 and one line that says what to check
and blames nobody; a URL as `serve` prints it is accepted; skips for lack of data are said."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import pytest
from hostile import run_suite
from results_schema import valid

from conformance.client import Client
from conformance.emulator.app import EXAMPLE_CREDENTIALS, Behaviour, Emulator
from conformance.emulator.server import EmulatorServer
from conformance.emulator.store import Store, generate
from conformance.options import Settings, read
from conformance.query import Query
from conformance.signing import Credentials
from conformance.sources.run import misconfiguration
from conformance.xmlmodel import parse_list, render_error

ID, KEY = EXAMPLE_CREDENTIALS.secret_id, EXAMPLE_CREDENTIALS.secret_key
PROBE = Query(size="1")  # the run's first request


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    store = Store()
    store.add(generate(30, seed=1))
    with EmulatorServer(Emulator(store)) as server:
        yield server


def verdict_line(out: str) -> str:
    return next(line for line in out.splitlines() if line.startswith("Verdict"))


def test_wrong_secret_key_stops_before_any_check(emulator, tmp_path: Path) -> None:
    run = run_suite(
        tmp_path, "--target", emulator.url, "--secret-id", ID, "--secret-key", "wrong-key-123"
    )
    assert run.code == 3, run.out[-3000:]
    said = [line for line in run.out.splitlines() if "refused the signature" in line]
    assert len(said) == 1, run.out
    assert "InvalidAuthorization: Signature does not match" in said[0]
    assert "--secret-key" in said[0] and "run `--checks signature` to see where" in said[0]
    summary = valid(json.loads((run.reports / "summary.json").read_text()))
    assert summary["verdict"] == "misconfigured" and summary["requests"] == 1
    assert summary["results"] == [] and "FAILED" not in run.out
    assert "wrong-key-123" not in run.out


def test_signature_checks_still_run_with_refused_keys(emulator, tmp_path: Path) -> None:
    """The advice of the line above leads somewhere: the signature checks run and say where."""
    run = run_suite(tmp_path, "--target", emulator.url, "--secret-id", ID, "--secret-key",
                    "wrong-key-123", "--checks", "valid_header_accepted")  # fmt: skip
    assert run.code == 1, run.out[-3000:]
    assert "FAILED  signature.valid_header_accepted" in run.out


@pytest.mark.parametrize("style", ["401", "403"])
def test_unknown_secret_id_is_told_apart_from_a_refused_signature(style: str) -> None:
    with EmulatorServer(Emulator(Store(), behaviour=Behaviour(auth_status=style))) as server:
        unknown = Client(server.url, Credentials("AKIDnobody", KEY)).list(PROBE)
        wrong = Client(server.url, Credentials(ID, "wrong")).list(PROBE)
        skewed = Client(server.url, EXAMPLE_CREDENTIALS)
        ahead = skewed.request(
            "GET", params=PROBE.params(), auth=skewed.auth(clock=lambda: time.time() + 7200)
        )
    code = {"401": "SecretidNotExist", "403": "InvalidAccessKeyId"}[style]
    line = misconfiguration(unknown, Settings(), signature_only=False)
    assert line.startswith("the target does not know these credentials") and code in line
    assert "--secret-id" in line
    assert "refused the signature" in misconfiguration(wrong, Settings(), signature_only=False)
    assert "clock" in misconfiguration(ahead, Settings(), signature_only=False)
    assert misconfiguration(wrong, Settings(), signature_only=True) == ""


class _OtherWebServer(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!DOCTYPE html><html><body><h1>404 Not Found</h1></body></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_server_that_is_not_this_api_stops_the_run(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OtherWebServer)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        run = run_suite(tmp_path, "--target", url, "--secret-id", ID, "--secret-key", KEY)
    finally:
        server.shutdown()
    assert run.code == 3, run.out[-3000:]
    line = "`GET /inventorytriggerjob` answered 404 text/html: is this the CI endpoint?"
    assert run.out.count(line) == 1, run.out
    assert "FAILED" not in run.out


def test_the_endpoint_url_is_accepted_as_the_target(emulator) -> None:
    """The URL `serve` used to print, with or without a slash, is the same target."""
    for url in (f"{emulator.url}/inventorytriggerjob", f"{emulator.url}/inventorytriggerjob/"):
        settings = read({"target": url, "secret_id": ID, "secret_key": KEY}.get)
        assert settings.target == emulator.url
        assert Client(url, EXAMPLE_CREDENTIALS).list(PROBE).status == 200


def test_skips_for_lack_of_data_are_in_the_verdict_line(tmp_path: Path) -> None:
    run = run_suite(tmp_path, "--emulator-jobs", "0", "--checks", "filters,ordering")
    assert run.code == 0, run.out[-3000:]
    summary = valid(json.loads((run.reports / "summary.json").read_text()))
    no_data = [r for r in summary["results"] if r["extra"].get("no_data")]
    assert len(no_data) >= 5, summary["results"]
    line = verdict_line(run.out)
    assert f"{len(no_data)} check(s) skipped for lack of data" in line, line


WRITES = ("--allow-writes", "--checks", "model.write_then_read,pagination.writes_during_walk")


class _RefusesCreates:
    """A live service's answer to the suite's placeholder workflow: every create refused."""

    def __init__(self, app: Emulator) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response):
        if environ["REQUEST_METHOD"] != "POST":
            return self.app(environ, start_response)
        body = render_error("InvalidArgument", "workflow does not exist", "r-refused")
        start_response("400 Bad Request", [("Content-Type", "application/xml"),
                                           ("x-ci-request-id", "r-refused")])  # fmt: skip
        return [body]


def test_a_live_target_that_refuses_the_suites_creates_skips_the_write_checks(
    tmp_path: Path,
) -> None:
    store = Store()
    store.add(generate(30, seed=1))
    with EmulatorServer(_RefusesCreates(Emulator(store))) as server:
        run = run_suite(tmp_path, "--target", server.url, "--secret-id", ID, "--secret-key", KEY,
                        *WRITES)  # fmt: skip
    assert run.code == 0, run.out[-3000:]
    results = valid(json.loads((run.reports / "summary.json").read_text()))["results"]
    assert {r["check"]: r["outcome"] for r in results} == {
        "model.write_then_read": "skipped", "pagination.writes_during_walk": "skipped"}  # fmt: skip
    for r in results:
        assert "refused to create a" in r["reason"] and "--workflow-id" in r["reason"], r


def test_writes_on_a_live_target_use_its_workflow(tmp_path: Path) -> None:
    store = Store()
    store.add(generate(30, seed=1))
    with EmulatorServer(Emulator(store)) as server:
        run = run_suite(tmp_path, "--target", server.url, "--secret-id", ID, "--secret-key", KEY,
                        *WRITES, "--workflow-id", "wtheirs")  # fmt: skip
        assert run.code == 0, run.out[-3000:]
        client = Client(server.url, EXAMPLE_CREDENTIALS)
        every = parse_list(client.list(Query(size="100", states="All")).body).jobs
    results = valid(json.loads((run.reports / "summary.json").read_text()))["results"]
    assert {r["outcome"] for r in results} == {"passed"}, results
    made = [j for j in every if j.workflow_ids == ("wtheirs",)]
    assert len(made) >= 2 and {j.type for j in made} == {"Workflow"}  # a Job needs a real queue
    assert len(every) == 30 + len(made)  # every job the suite created names the given workflow
