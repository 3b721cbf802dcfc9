"""Recorded traffic (cassettes): ``run --record``, ``recheck`` and ``serve --load``.

A cassette is an HTTP Archive (HAR 1.2) of every exchange of a run, secrets redacted. It is
written as the run goes, one entry a line (still one JSON document), so memory stays flat.
``recheck`` re-judges it offline with the suite's own checks: the observers on every exchange
and page, and every check whose requests the recording answers (walks are followed through
their NextToken chain). ``serve --load`` serves the jobs a cassette saw.
"""

from __future__ import annotations

import argparse
import base64
import http
import json
import multiprocessing
import os
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from . import __version__
from .client import PATH, Client, Exchange, redact
from .coverage import Coverage, Deviation, check_profile, request_query
from .query import InvalidArgument, Query, parse_filters
from .session import PROBE, CheckFailure, Session, SkipCheck
from .signing import Credentials
from .xmlmodel import Job, ListResponse, XMLProblem, parse_jobs, parse_list

HEADER = '{"log": {"version": "1.2", "creator": {"name": "ci-conformance", "version": '
# never used to send: checks that sign otherwise find their requests not recorded
OFFLINE = Credentials("AKIDrecordedOffline", "recorded-offline-key", "recorded-offline-token")


# --- recording ------------------------------------------------------------------------------


class Recorder:
    """Writes a run's exchanges to a HAR file as they happen (a pytest plugin: it knows the
    check that is running). ``record(exchange)`` is an exchange observer of the session."""

    def __init__(self, path: Path, secrets: tuple[str, ...] = ()) -> None:
        self.path = path
        self.secrets = secrets
        self.check: str | None = None
        self.count = 0
        self._out: IO[str] | None = None
        self._lock = threading.Lock()

    def open(self, target: str, secrets: tuple[str, ...]) -> None:
        self.secrets = secrets
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._out = self.path.open("w", encoding="utf-8")
        comment = json.dumps(f"ci-conformance run against {target}")
        self._out.write(
            f'{HEADER}"{__version__}"}}, "comment": {comment}, "pages": [], "entries": [\n'
        )

    def record(self, ex: Exchange) -> list:
        """Observer protocol: write the exchange, find nothing."""
        entry = har_entry(ex, self.count, self.check)
        line = redact(json.dumps(entry, ensure_ascii=False), self.secrets)
        with self._lock:
            if self._out is not None:
                self._out.write((",\n" if self.count else "") + line)
                self.count += 1
        return []

    def close(self) -> None:
        with self._lock:
            if self._out is not None:
                self._out.write("\n]}}\n")
                self._out.close()
                self._out = None

    # pytest hooks: the check each exchange was sent by (none while the session starts)
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: Any) -> Iterator[None]:
        check = getattr(item, "callspec", None) and item.callspec.params.get("check")
        self.check = check.name if check is not None else None
        yield
        self.check = None

    def pytest_sessionfinish(self) -> None:
        self.close()


def _post_data(ex: Exchange) -> dict:
    mime = next((v for k, v in ex.request_headers.items() if k.lower() == "content-type"), "")
    return {"mimeType": mime, "text": ex.request_body.decode("utf-8", "replace")}


def har_entry(ex: Exchange, index: int, check: str | None) -> dict:
    started = datetime.now(UTC) - timedelta(seconds=ex.elapsed)
    query = urlsplit(ex.url).query
    try:
        content = {"text": ex.body.decode("utf-8")}
    except UnicodeDecodeError:
        content = {"text": base64.b64encode(ex.body).decode(), "encoding": "base64"}
    mime = next((v for k, v in ex.headers.items() if k.lower() == "content-type"), "")
    try:
        reason = http.HTTPStatus(ex.status).phrase
    except ValueError:
        reason = ""
    return {
        "startedDateTime": started.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "time": round(ex.elapsed * 1000, 3),
        "request": {
            "method": ex.method,
            "url": ex.url,
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": _pairs(ex.request_headers.items()),
            "queryString": _pairs(parse_qsl(query, keep_blank_values=True)),
            "headersSize": -1,
            "bodySize": len(ex.request_body),
            **({"postData": _post_data(ex)} if ex.request_body else {}),
        },
        "response": {
            "status": ex.status,
            "statusText": reason,
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": _pairs(ex.headers.items()),
            "content": {"size": len(ex.body), "mimeType": mime, **content},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": len(ex.body),
        },
        "cache": {},
        "timings": {"send": 0, "wait": round(ex.elapsed * 1000, 3), "receive": 0},
        "_index": index,
        "_check": check,
        "_retries": ex.retries,
        **({"_probe": True} if PROBE in ex.notes else {}),
    }


def _pairs(items: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in items]


def attach(config: Any, session: Session, target: str) -> None:
    """With ``--record``: the session's exchanges go to the cassette from now on."""
    recorder = config.pluginmanager.get_plugin("ci-conformance-cassette")
    if recorder is not None:
        recorder.open(target, session.client.secrets)
        session.exchange_observers = [*session.exchange_observers, recorder.record]


# --- reading --------------------------------------------------------------------------------


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
        first = f.readline()
        if first.startswith(HEADER):
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


# --- loading the jobs a cassette saw ----------------------------------------------------------


def load_jobs(paths: Iterable[str]) -> list[Job]:
    """The jobs seen in cassettes or XML files (a document, or the pages of a walk one after
    another), the last answer about each job winning (a cancel, a later state)."""
    jobs: dict[str, Job] = {}
    for name in paths:
        path = Path(name)
        head = path.read_bytes()[:64].lstrip()
        if head.startswith(b"{"):
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


# --- recheck --------------------------------------------------------------------------------


class NotRecorded(SkipCheck):
    """The check asked for a request the recording does not hold."""


class Recording:
    """A cassette in memory, indexed for lookups: exchanges by request, in each epoch (the
    stretch between two writes, where the data stays the same)."""

    def __init__(self, entries: Iterable[Recorded]) -> None:
        self.entries: list[Recorded] = []
        self.epochs: dict[int, int] = {}  # entry position -> epoch
        self.by_key: dict[tuple[int, tuple], list[Exchange]] = defaultdict(list)
        self.pages: dict[int, ListResponse] = {}  # id(exchange) -> parsed page
        epoch = 0
        for rec in entries:
            self.entries.append(rec)
            self.epochs[len(self.entries) - 1] = epoch
            if rec.exchange.status not in (401, 403):  # refusals answer deliberately bad signatures
                self.by_key[(epoch, key_of(rec.exchange))].append(rec.exchange)
            if rec.exchange.method not in ("GET", "HEAD") and 200 <= rec.exchange.status < 300:
                epoch += 1
        self.epoch_count = epoch + 1
        self.client = Client("http://recorded.invalid", OFFLINE)  # never sends: for signers
        self._by_id = {id(r.exchange): r for r in self.entries}

    def of(self, ex: Exchange) -> Recorded:
        """The recorded entry of an exchange (a copy of one is shown without its position)."""
        return self._by_id.get(id(ex)) or Recorded(-1, ex, None)

    def parsed(self, ex: Exchange) -> ListResponse | XMLProblem:
        page = self.pages.get(id(ex))
        if page is None:
            try:
                page = parse_list(ex.body, check=False)
            except XMLProblem as exc:
                return exc
            self.pages[id(ex)] = page
        return page


class RecordedSession(Session):
    """A session whose requests are answered from a recording, in one epoch: every check's
    own logic runs unchanged; a request the recording does not hold makes the example
    unjudged (``NotRecorded``), never a failure."""

    def __init__(self, recording: Recording, epoch: int) -> None:
        super().__init__(
            recording.client, unknown_data="it needs the target's whole dataset, not a recording"
        )
        self.recording, self.epoch = recording, epoch
        self.used: Counter[tuple] = Counter()
        self.served: set[int] = set()

    def require_writes(self) -> None:
        raise SkipCheck("it writes: a recording cannot answer new writes")

    def send(
        self, method: str = "GET", path: str = PATH, params=None, probe: bool = False, **kw
    ) -> Exchange:
        if kw:
            raise SkipCheck("needs a live request (another signature, header or body)")
        key = _key(method, path, params or [])
        found = self.recording.by_key.get((self.epoch, key), [])
        n = self.used[key]
        if n >= len(found):
            raise NotRecorded(f"{method} {path}?{Query.from_params(dict(params or [])).describe()}")
        self.used[key] += 1
        ex = found[n]
        self.served.add(id(ex))
        return ex

    def _fetch(
        self, query: Query, probe: bool = False, **kw
    ) -> tuple[Exchange, ListResponse | XMLProblem | None]:
        ex = self.send("GET", params=query.params(), probe=probe, **kw)
        return ex, (self.recording.parsed(ex) if ex.status == 200 else None)


@dataclass
class Verdict:
    check: str
    category: str
    judged: int = 0  # examples, or exchanges for observers
    with_jobs: int = 0
    exchanges: set[int] = field(default_factory=set)
    failure: dict | None = None
    how: str = ""
    reason: str = ""

    def outcome(self, judges_jobs: bool) -> str:
        if self.failure:
            return "failed"
        if not self.judged:
            return "not judged"
        if judges_jobs and not self.with_jobs:
            return "vacuous"
        return "passed"


def valid_query(query: Query) -> bool:
    """In the domain of the suite's ``queries`` strategy: valid, size 1 to 100, start ≤ end."""
    try:
        f = parse_filters(query)
    except InvalidArgument:
        return False
    return f.size_requested <= 100 and not (f.start and f.end and f.start > f.end)


def observe(path: Path, profile: dict[str, str] | None) -> dict:
    """The observers and the open points on every exchange and list page: findings by check
    name, each with the position of its first exchange, and the choices seen at each point."""
    from .checks import EXCHANGE_OBSERVERS, PAGE_OBSERVERS

    coverage = Coverage(profile)
    findings: dict[str, tuple[int, str]] = {}
    pages = 0
    where: dict[str, int] = {}  # open point -> position of its first deviation
    judged: dict[tuple, list] = {}  # answers alike but for opaque values are judged once
    parsed: dict[bytes, ListResponse | None] = {}
    for pos, rec in enumerate(read(path)):
        ex = rec.exchange
        key = opaque_key(ex)
        if key not in judged:
            judged[key] = [f for look in EXCHANGE_OBSERVERS for f in look(ex)]
        for name, message in judged[key]:
            findings.setdefault(name, (pos, message))
        coverage.exchange(ex)
        where.update((p, pos) for p in coverage.deviations if p not in where)
        query = request_query(ex) if ex.method == "GET" else None
        if ex.status != 200 or query is None or PROBE in ex.notes:
            continue
        if key[2] not in parsed:
            try:
                parsed[key[2]] = parse_list(ex.body, check=False)
            except XMLProblem:
                parsed[key[2]] = None
        page = parsed[key[2]]
        if page is None:
            continue
        pages += 1
        if (query, key) not in judged:
            judged[(query, key)] = [f for look in PAGE_OBSERVERS for f in look(query, page)]
        for name, message in judged[(query, key)]:
            findings.setdefault(name, (pos, message))
        coverage.page(query, page, ex)
        where.update((p, pos) for p in coverage.deviations if p not in where)
    return {"findings": findings, "choices": coverage.choices, "pages": pages,
            "deviations": {p: (d.pinned, d.seen, where[p]) for p, d in coverage.deviations.items()}}  # fmt: skip


OPAQUE = re.compile(rb"<(RequestId|TraceId)>[^<]+</(RequestId|TraceId)>")
VOLATILE = frozenset({"date", "x-ci-request-id", "x-ci-trace-id"})


def opaque_key(ex: Exchange) -> tuple:
    """An answer with its opaque values (request and trace IDs, the date) blanked out."""
    headers = tuple(
        sorted((k.lower(), "-" if k.lower() in VOLATILE else v) for k, v in ex.headers.items())
    )
    return ex.status, headers, OPAQUE.sub(rb"<\1>-</\2>", ex.body)


def recheck(
    path: Path,
    profile: dict[str, str] | None = None,
    checks: list[str] | None = None,
    examples: int = 200,
) -> dict:
    from .checks import EXCHANGE_OBSERVERS, PAGE_OBSERVERS, QUERY_STRATEGIES, select
    from .checks.base import data_queries, queries

    # the observers run in another process (where there are two cores), while this one re-runs
    # the checks; one process for all observers: each distinct job is validated once
    pool = None
    if (os.cpu_count() or 1) > 1:
        pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
    try:
        observing = pool.submit(observe, path, profile) if pool else None
        recording = Recording(read(path))
        chosen = select(checks or None)
        verdicts = {c.name: Verdict(c.name, c.category) for c in chosen}
        _rerun_all(chosen, verdicts, recording, QUERY_STRATEGIES, (queries, data_queries), examples)
        seen = observing.result() if observing else observe(path, profile)
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
    pages_seen = seen["pages"]
    coverage = Coverage()
    coverage.choices.update(seen["choices"])
    findings = {n: (m, recording.entries[pos]) for n, (pos, m) in seen["findings"].items()}
    kinds = {
        o.__module__.rsplit(".", 1)[-1].replace("_", "-"): "exchanges" for o in EXCHANGE_OBSERVERS
    }
    kinds |= {o.__module__.rsplit(".", 1)[-1].replace("_", "-"): "pages" for o in PAGE_OBSERVERS}
    for c in chosen:
        if not c.observed or c.func.__module__.endswith(".profile"):
            continue
        v, kind = verdicts[c.name], kinds.get(c.category)
        if kind is None:
            v.reason = "no observer of its category"
            continue
        v.judged = len(recording.entries) if kind == "exchanges" else pages_seen
        v.with_jobs, v.how = (
            v.judged,
            f"every recorded {'exchange' if kind == 'exchanges' else 'list page'}",
        )
        if c.name in findings:
            message, rec = findings[c.name]
            v.failure = {"found": message, "query": None, "exchanges": [_shown(rec)]}

    deviations = []
    for point, (pinned, choice, pos) in seen["deviations"].items():
        d = Deviation(point, pinned, choice, recording.entries[pos].exchange)
        deviations.append({"point": point, "pinned": pinned, "seen": choice, "found": d.message(),
                           "exchange": recording.entries[pos].index})  # fmt: skip
    results = []
    for c in chosen:
        v = verdicts[c.name]
        outcome = v.outcome(c.judges_jobs)
        if c.func.__module__.endswith(".profile"):
            continue  # the pins are judged below, from every exchange
        results.append({
            "check": c.name, "category": c.category, "outcome": outcome, "judged": v.judged,
            "judged_with_jobs": v.with_jobs, "exchanges": len(v.exchanges) or v.judged, "how": v.how,
            "reason": v.reason if outcome != "passed" else "", **({"failure": v.failure} if v.failure else {}),
        })  # fmt: skip
    failed = [r for r in results if r["outcome"] == "failed"]
    return {
        "cassette": str(path),
        "exchanges": len(recording.entries),
        "list_pages": pages_seen,
        "epochs": recording.epoch_count,
        "verdict": "violations" if failed or deviations else "conformant",
        "behaviour": coverage.fingerprint(),
        "profile": profile or {},
        "profile_deviations": deviations,
        "results": results,
    }


def _rerun_all(
    chosen, verdicts, recording: Recording, query_strategies, plain, examples: int
) -> None:
    """Every check that is not an observer, on the queries the recording holds, answered
    from it."""
    firsts: dict[Any, list[tuple[int, Query]]] = defaultdict(list)
    seen: set[tuple] = set()
    for pos, rec in enumerate(recording.entries):
        ex = rec.exchange
        query = request_query(ex) if ex.method == "GET" else None
        if query is None or query.next_token is not None:
            continue
        epoch = recording.epochs[pos]
        sent_by = rec.check
        if valid_query(query) and (epoch, query) not in seen:
            seen.add((epoch, query))
            firsts["valid"].append((epoch, query))
        firsts[sent_by].append((epoch, query))
    strategy_of = {c.name: c.given for c in chosen}
    for c in chosen:
        v = verdicts[c.name]
        if c.observed:
            continue
        if c.given in plain:
            values = firsts["valid"]
        elif c.given in query_strategies:
            senders = [n for n, g in strategy_of.items() if g is c.given]
            values = list(dict.fromkeys(q for n in senders for q in firsts[n]))
        elif c.given is None:
            values = [(e, None) for e in range(recording.epoch_count)]
        else:
            v.reason = "its inputs are drawn values that a recording does not hold"
            continue
        step = max(1, -(-len(values) // examples)) if examples else 1  # spread over the recording
        _rerun(c, v, values[::step], recording)
        v.how = "its own logic, on recorded walks and pages"


def _rerun(check, v: Verdict, values, recording: Recording) -> None:
    sessions: dict[int, RecordedSession] = {}
    last_reason = ""
    for epoch, value in values:
        s = sessions.get(epoch) or sessions.setdefault(epoch, RecordedSession(recording, epoch))
        s.used.clear()
        s.served = set()
        jobs = s.jobs_seen
        try:
            check.run(s, value)
        except SkipCheck as skip:
            last_reason = str(skip)
            continue
        except Exception as exc:  # a violation, or a check that broke: failed, as in a run
            failure = (
                exc
                if isinstance(exc, CheckFailure)
                else CheckFailure(f"{type(exc).__name__}: {exc}")
            )
            v.judged += 1
            v.exchanges |= s.served
            v.failure = {
                "found": failure.message,
                "query": failure.query.describe() if failure.query is not None else None,
                "exchanges": [_shown(recording.of(e)) for e in failure.exchanges[:4]],
            }
            return
        v.judged += 1
        v.with_jobs += s.jobs_seen > jobs
        v.exchanges |= s.served
    if not v.judged:
        v.reason = last_reason or "no recorded input"


def _shown(rec: Recorded) -> dict:
    ex = rec.exchange
    return {"index": rec.index, "method": ex.method, "url": ex.url, "status": ex.status,
            "sent_by": rec.check, "body": ex.body[:2000].decode("utf-8", "replace")}  # fmt: skip


def recheck_text(result: dict) -> str:
    lines = [
        f"recheck {result['cassette']}: {result['exchanges']} exchanges, "
        f"{result['list_pages']} list pages, {result['epochs']} epoch(s) between writes",
        "",
    ]
    width = max((len(r["check"]) for r in result["results"]), default=10)
    for r in result["results"]:
        if r["outcome"] == "not judged":
            detail = r["reason"]
        else:
            unit = "exchanges" if r["how"].startswith("every") else "examples"
            detail = f"judged on {r['judged']} {unit}"
            if unit == "examples":
                detail += f", answered by {r['exchanges']} recorded exchanges"
            if r["outcome"] == "vacuous":
                detail += ", none of which saw a job"
        lines.append(f"  {r['outcome'].upper():<10} {r['check']:<{width}}  {detail}")
    for r in result["results"]:
        if "failure" in r:
            f = r["failure"]
            lines.append(f"\nFAILED {r['check']}: {f['found']}")
            if f.get("query"):
                lines.append(f"  query: {f['query']}")
            for e in f["exchanges"]:
                lines.append(
                    f"  exchange #{e['index']}: {e['method']} {e['url']} -> {e['status']}"
                    + (f" (sent by {e['sent_by']})" if e.get("sent_by") else "")
                )
    for d in result["profile_deviations"]:
        lines.append(f"\nPROFILE {d['point']}: {d['found']} (exchange #{d['exchange']})")
    counts = Counter(r["outcome"] for r in result["results"])
    lines.append(
        "\n"
        + ", ".join(f"{n} {k}" for k, n in counts.items())
        + f". Verdict: {result['verdict'].upper()}"
    )
    if result["behaviour"]:
        lines.append(
            "behaviour: " + "; ".join(f"{k} = {v}" for k, v in result["behaviour"].items())
        )
    return "\n".join(lines)


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "recheck",
        help="re-judge a recorded run (run --record FILE) offline",
        description="Re-judge a cassette offline: the schema, page and filter observers on every "
        "exchange, and every check whose requests the recording holds (walks followed through "
        "their NextToken chain). Says which checks it judged, and on how many exchanges.",
    )
    p.add_argument("cassette", help="a HAR file written by ci-conformance run --record")
    p.add_argument("--profile", help="TOML file pinning open points (as for run)")
    p.add_argument("--checks", help="comma-separated check names or categories")
    p.add_argument(
        "--max-examples",
        type=int,
        default=200,
        help="recorded inputs each check is re-run on, spread over the recording (default 200)",
    )
    p.add_argument("--report-dir", default="reports", help="where recheck.json goes")
    p.set_defaults(handler=recheck_main)


def recheck_main(args: argparse.Namespace) -> int:
    import tomllib

    from .checks import unknown_names
    from .cli import EXIT_OK, EXIT_VIOLATIONS, _usage

    profile = {}
    try:
        if args.profile:
            profile = check_profile(tomllib.loads(Path(args.profile).read_text("utf-8")))
        names = [n.strip() for n in (args.checks or "").split(",") if n.strip()]
        if unknown_names(names):
            raise ValueError(f"unknown check or category: {', '.join(unknown_names(names))}")
    except (OSError, ValueError) as exc:
        return _usage(f"recheck: {exc}")
    try:
        if next(read(Path(args.cassette)), None) is None:
            raise ValueError("it holds no exchange")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return _usage(f"recheck: {args.cassette} is not a usable HAR cassette ({exc})")
    result = recheck(Path(args.cassette), profile, names, args.max_examples)
    out = Path(args.report_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "recheck.json").write_text(json.dumps(result, indent=2, ensure_ascii=False), "utf-8")
    print(recheck_text(result))
    return EXIT_VIOLATIONS if result["verdict"] != "conformant" else EXIT_OK
