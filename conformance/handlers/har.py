"""Recorded traffic (cassettes): HTTP Archive (HAR 1.2) files of a run's exchanges.

``run --record`` writes one as the run goes (``HarHandler``), one entry a line (still one JSON
document), secrets redacted, so memory stays flat; ``recheck`` re-judges it offline and
``serve --load`` serves the jobs it saw.
"""

import base64
import http
import json
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO
from urllib.parse import parse_qsl, urlsplit

from .. import __version__
from ..client import Exchange, redact
from ..engine import Handler
from ..session import PROBE
from ..xmlmodel import Job, XMLProblem, parse_jobs

HEADER = '{"log": {"version": "1.2", "creator": {"name": "ci-conformance", "version": '


class HarHandler(Handler):
    """Writes a run's exchanges to a HAR file as they happen, each with the check that sent it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.secrets: tuple[str, ...] = ()
        self.count = 0
        self._out: IO[str] | None = None
        self._early: list[tuple[Exchange, str | None]] = []
        self._lock = threading.Lock()

    def started(self, source: object) -> None:
        self.secrets = getattr(source, "secrets", ())
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._out = self.path.open("w", encoding="utf-8")
        comment = json.dumps(f"ci-conformance run against {getattr(source, 'target', '')}")
        self._out.write(
            f'{HEADER}"{__version__}"}}, "comment": {comment}, "pages": [], "entries": [\n'
        )
        for ex, sent_by in self._early:  # the probe, sent while the source started
            self.exchange(ex, sent_by)
        self._early = []

    def exchange(self, ex: Exchange, sent_by: str | None) -> None:
        with self._lock:
            if self._out is None:
                self._early.append((ex.preview(), sent_by))
                return
            entry = json.dumps(har_entry(ex, self.count, sent_by), ensure_ascii=False)
            self._out.write((",\n" if self.count else "") + redact(entry, self.secrets))
            self.count += 1

    def finished(self, summary: object) -> None:
        with self._lock:
            if self._out is not None:
                self._out.write("\n]}}\n")
                self._out.close()
                self._out = None


def har_entry(ex: Exchange, index: int, check: str | None) -> dict:
    started = datetime.now(UTC) - timedelta(seconds=ex.elapsed)
    try:
        content = {"text": ex.body.decode("utf-8")}
    except UnicodeDecodeError:
        content = {"text": base64.b64encode(ex.body).decode(), "encoding": "base64"}
    mime = next((v for k, v in ex.request_headers.items() if k.lower() == "content-type"), "")
    sent = {"postData": {"mimeType": mime, "text": ex.request_body.decode("utf-8", "replace")}}
    common = {"httpVersion": "HTTP/1.1", "cookies": [], "headersSize": -1}
    phrase = http.HTTPStatus(ex.status).phrase if ex.status in http.HTTPStatus._value2member_map_ else ""  # fmt: skip
    return {
        "startedDateTime": started.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "time": round(ex.elapsed * 1000, 3),
        "request": {"method": ex.method, "url": ex.url, **common, "headers": _pairs(ex.request_headers.items()),
                    "queryString": _pairs(parse_qsl(urlsplit(ex.url).query, keep_blank_values=True)),
                    "bodySize": len(ex.request_body), **(sent if ex.request_body else {})},
        "response": {"status": ex.status, "statusText": phrase, **common, "headers": _pairs(ex.headers.items()),
                     "content": {"size": len(ex.body), "mimeType": ex.header("Content-Type") or "", **content},
                     "redirectURL": "", "bodySize": len(ex.body)},
        "cache": {},
        "timings": {"send": 0, "wait": round(ex.elapsed * 1000, 3), "receive": 0},
        "_index": index, "_check": check, "_retries": ex.retries, **({"_probe": True} if PROBE in ex.notes else {}),
    }  # fmt: skip


def _pairs(items: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in items]


@dataclass
class Recorded:
    """One exchange of a cassette."""

    index: int
    exchange: Exchange
    check: str | None


def read(path: Path) -> Iterator[Recorded]:
    """The entries of a HAR file, streamed when it was written by ``--record`` (one a line);
    any other HAR 1.2 file is read whole. A cassette cut short (a run killed) ends early."""
    with path.open(encoding="utf-8") as f:
        if f.readline().startswith(HEADER):
            for n, line in enumerate(f):
                line = line.strip().rstrip(",")
                if line.startswith("]"):
                    return
                try:
                    yield _recorded(json.loads(line), n)
                except ValueError:
                    return  # a line cut short: the run was stopped while writing
            return
        f.seek(0)
        entries = json.load(f)["log"]["entries"]
    for n, entry in enumerate(entries):
        yield _recorded(entry, n)


def _recorded(entry: dict, n: int) -> Recorded:
    req, resp = entry["request"], entry["response"]
    content = resp.get("content") or {}
    text = content.get("text") or ""
    body = base64.b64decode(text) if content.get("encoding") == "base64" else text.encode()
    ex = Exchange(
        method=req["method"],
        url=req["url"],
        request_headers={h["name"]: h["value"] for h in req.get("headers", [])},
        status=int(resp["status"]),
        headers={h["name"]: h["value"] for h in resp.get("headers", [])},
        body=body,
        elapsed=float(entry.get("time") or 0) / 1000,
        retries=int(entry.get("_retries") or 0),
        notes=[PROBE] if entry.get("_probe") else [],
        request_body=((req.get("postData") or {}).get("text") or "").encode(),
    )
    return Recorded(int(entry.get("_index", n)), ex, entry.get("_check"))


def _key(method: str, path: str, params: Iterable[tuple[str, str]]) -> tuple:
    return method.upper(), path, tuple(sorted(params))


def key_of(ex: Exchange) -> tuple:
    parts = urlsplit(ex.url)
    return _key(ex.method, parts.path, parse_qsl(parts.query, keep_blank_values=True))


OPAQUE = re.compile(rb"<(RequestId|TraceId)>[^<]+</(RequestId|TraceId)>")
VOLATILE = frozenset({"date", "x-ci-request-id", "x-ci-trace-id"})


def opaque_key(ex: Exchange) -> tuple:
    """An answer with its opaque values (request and trace IDs, the date) blanked out."""
    headers = tuple(
        sorted((k.lower(), "-" if k.lower() in VOLATILE else v) for k, v in ex.headers.items())
    )
    return ex.status, headers, OPAQUE.sub(rb"<\1>-</\2>", ex.body)


def load_jobs(paths: Iterable[str]) -> list[Job]:
    """The jobs seen in cassettes or XML files (a document, or the pages of a walk one after
    another), the last answer about each job winning (a cancel, a later state)."""
    jobs: dict[str, Job] = {}
    for name in paths:
        path = Path(name)
        if path.read_bytes()[:64].lstrip().startswith(b"{"):
            parsed: dict[bytes, list[Job]] = {}  # answers alike but for opaque values, once
            for rec in read(path):
                ex = rec.exchange
                if 200 <= ex.status < 300 and b"<JobsDetail>" in ex.body:
                    body = opaque_key(ex)[2]
                    if body not in parsed:
                        try:
                            parsed[body] = parse_jobs(ex.body)
                        except XMLProblem:
                            parsed[body] = []  # not a valid answer: its jobs are not the data
                    jobs.update((j.job_id, j) for j in parsed[body])
        else:
            jobs.update((j.job_id, j) for j in parse_jobs(_one_document(path.read_bytes())))
    return list(jobs.values())


def _one_document(data: bytes) -> bytes:
    """Several XML documents one after another (the pages of a walk) as one."""
    if data.count(b"<?xml") <= 1 and data.count(b"<Response>") <= 1:
        return data
    parts = [p for p in data.split(b"<?xml") if p.strip()]
    inner = b"".join(p.split(b"?>", 1)[1] if b"?>" in p else p for p in parts)
    return b"<Pages>" + inner + b"</Pages>"
