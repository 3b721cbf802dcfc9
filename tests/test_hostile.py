"""The suite against hostile targets, each a real socket server: every run ends in bounded wall
time and memory, with the exit code that blames the right party (3: the target is unusable,
1: it answers, wrongly), in one line, never a traceback per check."""

from __future__ import annotations

import socket
import struct
import threading
from pathlib import Path

import pytest
from hostile import VALID_BODY, Hostile, against, response

TIMEOUT = ("--timeout", "1")
ONE_CHECK = ("--checks", "pagination.default_size_is_10")
MEMORY_MB = 300


def drip(conn: socket.socket, n: int, stop: threading.Event) -> None:
    """A valid answer, two bytes a second: no single read waits as long as --timeout."""
    for byte in response():
        if stop.wait(0.5):
            return
        conn.sendall(bytes([byte]))


def hang(conn: socket.socket, n: int, stop: threading.Event) -> None:
    stop.wait(60)


def huge(conn: socket.socket, n: int, stop: threading.Event) -> None:
    """A 300 MB body, as fast as the client reads it."""
    conn.sendall(response(b"", Content_Length=str(300 * 2**20)))
    block = b"<x>" + b"a" * (2**20 - 7) + b"</x>"
    for _ in range(300):
        conn.sendall(block)


def endless_chunks(conn: socket.socket, n: int, stop: threading.Event) -> None:
    conn.sendall(response(b"", Content_Length="", Transfer_Encoding="chunked"))
    chunk = b"10000\r\n" + b"b" * 0x10000 + b"\r\n"
    while not stop.is_set():
        conn.sendall(chunk)


def short_body(conn: socket.socket, n: int, stop: threading.Event) -> None:
    conn.sendall(response(Content_Length=str(len(VALID_BODY) + 500)))


def garbage(conn: socket.socket, n: int, stop: threading.Event) -> None:
    conn.sendall(bytes(range(256)) * 16)


def reset(conn: socket.socket, n: int, stop: threading.Event) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def error_500(conn: socket.socket, n: int, stop: threading.Event) -> None:
    body = (
        b"<Error><Code>InternalError</Code><Message>boom</Message><RequestId>r</RequestId></Error>"
    )
    conn.sendall(response(body, "500 Internal Server Error"))


def valid_then_hang(conn: socket.socket, n: int, stop: threading.Event) -> None:
    if n <= 3:
        conn.sendall(response())
    else:
        stop.wait(60)


@pytest.mark.parametrize(
    ("behave", "why"),
    [
        (drip, "no complete answer within 1 s"),
        (hang, "no complete answer within 1 s"),
        (short_body, "ChunkedEncodingError"),
        (garbage, "BadStatusLine"),
        (reset, "ConnectionError"),
        (error_500, "HTTP 500"),
        (valid_then_hang, "during the run"),
    ],
    ids=lambda v: getattr(v, "__name__", None),
)
def test_unusable_target_exits_3_in_one_line(tmp_path: Path, behave, why: str) -> None:
    with Hostile(behave) as server:
        run = against(server, tmp_path, *TIMEOUT, "--checks", "pagination")
    assert run.code == 3, run.out[-3000:]
    assert run.wall < 20, run.wall  # three tries of at most --timeout each, and the start-up
    assert run.peak_mb < MEMORY_MB
    said = [line for line in run.out.splitlines() if why in line]
    assert len(said) == 1, run.out[-3000:]
    assert "Traceback" not in run.out and "FAILED" not in run.out


@pytest.mark.parametrize(
    ("behave", "checks", "least"),
    [(huge, "all", 50), (endless_chunks, "signature", 15)],
    ids=["huge", "endless_chunks"],
)
def test_oversized_bodies_are_cut_and_memory_stays_flat(tmp_path, behave, checks, least) -> None:
    """Each answer is cut at 8 MiB: violations, and no body is kept (50 of them would be 400
    MiB). The endless stream needs fewer runs to show it is cut like the huge body."""
    chosen = () if checks == "all" else ("--checks", checks)
    with Hostile(behave) as server:
        run = against(server, tmp_path, "--timeout", "10", *chosen)
        served = len(server.paths)
    assert run.code == 1, run.out[-3000:]
    assert served >= least
    assert run.peak_mb < MEMORY_MB, run.peak_mb
    assert run.wall < 60
    assert "exceeds 8388608" in (run.reports / "summary.json").read_text()


def test_xxe_is_never_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-FILE-CONTENT")

    def xxe(conn: socket.socket, n: int, stop: threading.Event) -> None:
        body = (f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY f SYSTEM "file://{secret}">'
                f'<!ENTITY h SYSTEM "{server.url}/fetched-entity">]>'
                "<Response><RequestId>&f;&h;</RequestId></Response>").encode()  # fmt: skip
        conn.sendall(response(body))

    with Hostile(xxe) as server:
        run = against(server, tmp_path, *TIMEOUT, *ONE_CHECK)
    assert run.code == 1, run.out[-3000:]
    assert "/fetched-entity" not in server.paths
    written = "".join(p.read_text() for p in run.reports.iterdir())
    assert "TOP-SECRET" not in run.out + written
    assert "DTD or entity declaration" in written
    assert run.wall < 20 and run.peak_mb < MEMORY_MB


def test_entity_bomb_is_refused_unexpanded(tmp_path: Path) -> None:
    levels = "".join(
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10 if i else "lol" * 10}">' for i in range(10)
    )
    body = f"<?xml version='1.0'?><!DOCTYPE r [{levels}]><Response><RequestId>&l9;</RequestId></Response>"

    def bomb(conn: socket.socket, n: int, stop: threading.Event) -> None:
        conn.sendall(response(body.encode()))

    with Hostile(bomb) as server:
        run = against(server, tmp_path, *TIMEOUT, *ONE_CHECK)
    assert run.code == 1, run.out[-3000:]
    assert "DTD or entity declaration" in (run.reports / "summary.json").read_text()
    assert run.wall < 20 and run.peak_mb < MEMORY_MB


def test_a_run_reaching_its_time_limit_is_cut_short(tmp_path: Path) -> None:
    """The embedded emulator, slowed by nothing: the whole suite cannot finish in 2 s."""
    from hostile import run_suite

    run = run_suite(tmp_path, "--max-duration", "2")
    assert run.code == 5, run.out[-3000:]  # incomplete: never a pass on what did not run
    assert run.wall < 15
    summary = (run.reports / "summary.json").read_text()
    assert "time limit of 2 s (--max-duration) is reached" in summary
    verdict = next(line for line in run.out.splitlines() if line.startswith("Verdict"))
    assert "INCOMPLETE" in verdict and "not run" in verdict and "time limit" in verdict
