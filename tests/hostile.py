"""Hostile targets for the tests: a loopback TCP server that misbehaves on purpose, and a suite
run (``ci-conformance run`` in a subprocess) measured in exit code, wall time and peak memory."""

from __future__ import annotations

import resource
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

VALID_BODY = (
    b"<?xml version='1.0' encoding='utf-8'?>\n"
    b"<Response><RequestId>hostile</RequestId><NextToken></NextToken></Response>"
)


def response(body: bytes = VALID_BODY, status: str = "200 OK", **headers: str) -> bytes:
    head = {
        "Content-Type": "application/xml",
        "Content-Length": str(len(body)),
        "x-ci-request-id": "hostile",
        "Connection": "close",
        **{k.replace("_", "-"): v for k, v in headers.items()},
    }
    lines = "".join(f"{k}: {v}\r\n" for k, v in head.items() if v)
    return f"HTTP/1.1 {status}\r\n{lines}\r\n".encode() + body


Behaviour = Callable[[socket.socket, int, threading.Event], None]
"""Answers one request on a connection: (socket, request number from 1, stop event)."""


class Hostile:
    """A loopback server answering every request with ``behave``; ``paths`` records requests."""

    def __init__(self, behave: Behaviour) -> None:
        self.behave = behave
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.stop = threading.Event()
        self.paths: list[str] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def __enter__(self) -> Hostile:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.listener.close()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(30)
            head = b""
            try:
                while b"\r\n\r\n" not in head and len(head) < 65536:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    head += chunk
                with self._lock:
                    self.paths.append(head.split(b" ", 2)[1].decode("latin-1"))
                    n = len(self.paths)
                self.behave(conn, n, self.stop)
            except OSError:
                pass  # the client gave up: that is the point


@dataclass
class Run:
    code: int
    out: str
    wall: float
    peak_mb: float
    reports: Path
    cpu: float  # seconds, user and system, of the run


# ``python -m conformance.cli`` that writes its peak memory as it exits. VmHWM is the peak of the
# process's own memory; ru_maxrss would also count the parent's, inherited across fork and exec.
CLI = """import atexit, re, runpy, sys
path = sys.argv.pop(1)
def peak():
    with open("/proc/self/status") as f, open(path, "w") as out:
        out.write(re.search(r"VmHWM:\\s*(\\d+)", f.read()).group(1))
atexit.register(peak)
runpy.run_module("conformance.cli", run_name="__main__")
"""


def run_suite(tmp: Path, *args: str, limit: float = 120) -> Run:
    """``ci-conformance run`` as a user types it, killed after ``limit`` seconds."""
    peak = tmp / "peak-kb"
    cmd = [sys.executable, "-c", CLI, str(peak), "run", "--report-dir", str(tmp / "reports"),
           "--examples-profile", "dev", *args]  # fmt: skip
    log = tmp / "out.txt"
    started, before = time.monotonic(), _children_cpu()
    with log.open("wb") as out:
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=tmp, timeout=limit)
    wall, cpu = time.monotonic() - started, _children_cpu() - before
    peak_mb = int(peak.read_text()) / 1024
    out = log.read_text("utf-8", "replace")
    return Run(proc.returncode, out, wall, peak_mb, tmp / "reports", cpu)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def against(server: Hostile, tmp: Path, *args: str, limit: float = 120) -> Run:
    return run_suite(tmp, "--target", server.url, "--secret-id", "AKIDhostile", "--secret-key",
                     "hostile-secret-key", *args, limit=limit)  # fmt: skip
