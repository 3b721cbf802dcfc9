"""The emulator's SQLite store, and the list semantics written in SQL.

This is the second implementation of the semantics; ``conformance.query.expected`` is the first.
Tests compare the two. Pages are keyset-based: a page at any depth is an index seek plus the page.
"""

import functools
import itertools
import json
import os
import random
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from ..query import STATES, TYPES, Filters
from ..xmlmodel import Job

COLUMNS = (
    "job_id, type, state, name, created, created_local, creation_time, code, message, "
    "start_time, end_time, input, operation"
)
SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT NOT NULL,             -- unique: see INDEXES
    type TEXT NOT NULL,
    state TEXT NOT NULL,
    name TEXT NOT NULL,
    created INTEGER NOT NULL,         -- CreationTime as Unix seconds (the instant)
    created_local TEXT NOT NULL,      -- CreationTime's wall-clock text (for fault switches)
    creation_time TEXT NOT NULL,      -- CreationTime as written
    code TEXT NOT NULL, message TEXT NOT NULL, start_time TEXT NOT NULL, end_time TEXT NOT NULL,
    input TEXT NOT NULL, operation TEXT NOT NULL  -- JSON of the XML subtrees
);
CREATE TABLE IF NOT EXISTS job_workflows (workflow_id TEXT NOT NULL, job_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# Built after a bulk load into an empty store (one sort each, not a million B-tree inserts).
# The order's index also holds State and Type: a page filtered by them reads the index alone.
INDEXES = {
    "jobs_id": "CREATE UNIQUE INDEX IF NOT EXISTS jobs_id ON jobs (job_id)",
    "jobs_order": "CREATE INDEX IF NOT EXISTS jobs_order ON jobs (created, job_id, state, type)",
    "jobs_name": "CREATE INDEX IF NOT EXISTS jobs_name ON jobs (name, created)",
    "job_workflows_key": "CREATE UNIQUE INDEX IF NOT EXISTS job_workflows_key "
    "ON job_workflows (workflow_id, job_id)",
}
PAGE_SIZE = 16384  # bytes: a bulk load and its index builds take a fifth less time than at 4096
INSERT_JOB = f"INSERT INTO jobs ({COLUMNS}) VALUES ({', '.join('?' * 13)})"


def _to_json(node: object) -> str:
    return json.dumps(node, ensure_ascii=False, separators=(",", ":"))


def _tuples(value: object) -> object:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _row(job: Job) -> tuple:
    ids = job.job_id, job.type, job.state, job.name
    created = int(job.created.timestamp()), job.creation_time[:19]  # created, created_local
    texts = job.creation_time, job.code, job.message, job.start_time, job.end_time
    return (*ids, *created, *texts, _to_json(job.input), _to_json(job.operation))


def _job(row: Sequence) -> Job:
    """The ``Job`` of a row (``_row``): every column but ``created`` and ``created_local``."""
    return Job(*row[:4], *row[6:11], _tuples(json.loads(row[11])), _tuples(json.loads(row[12])))


@dataclass(frozen=True)
class Ordering:
    """Sort columns with their direction; the last is the unique tie-breaker."""

    columns: tuple[tuple[str, bool], ...]  # (column, descending)

    def sql(self) -> str:
        return ", ".join(f"{c} {'DESC' if d else 'ASC'}" for c, d in self.columns)

    def after(self, cursor: Sequence) -> tuple[str, list]:
        """Rows strictly after ``cursor`` (index-friendly: a range on the first column)."""
        (first, desc), *_ = self.columns
        ors, args = [], [cursor[0]]
        for i, (col, d) in enumerate(self.columns):
            eqs = "".join(f"{c} = ? AND " for c, _ in self.columns[:i])
            ors.append(f"({eqs}{col} {'<' if d else '>'} ?)")
            args += cursor[: i + 1]
        return f"{first} {'<=' if desc else '>='} ? AND ({' OR '.join(ors)})", args


class Matching:
    """The list semantics in SQL: the order and one method per kind of filter. Fault switches
    (``faults.py``) are subclasses that bend one of them."""

    def ordering(self, descending: bool, ties_descending: bool) -> Ordering:
        """By CreationTime (``descending`` or not), equal CreationTimes by JobId."""
        return Ordering((("created", descending), ("job_id", ties_descending)))

    def time(self, bound: datetime, op: str) -> tuple[str, list]:
        return f"created {op} ?", [int(bound.timestamp())]

    def same(self, column: str, value: str) -> tuple[str, list]:
        return f"{column} = ?", [value]

    def name(self, value: str) -> tuple[str, list]:
        return "name = ?", [value]

    def states(self, states: frozenset[str]) -> tuple[str, list]:
        return f"state IN ({', '.join('?' * len(states))})", sorted(states)

    def where(self, f: Filters, *more: tuple[str, list]) -> tuple[str, list]:
        """The WHERE clause of the filters and ``more`` conditions (or ""), and its arguments."""
        parts: list[tuple[str, list]] = []
        if f.type:
            parts.append(("type = ?", [f.type]))
        if f.states:
            parts.append(self.states(f.states))
        parts += [self.time(b, op) for b, op in ((f.start, ">="), (f.end, "<=")) if b is not None]
        if f.workflow_id:
            sql, args = self.same("workflow_id", f.workflow_id)
            parts.append((f"job_id IN (SELECT job_id FROM job_workflows WHERE {sql})", args))
        if f.job_id:
            parts.append(self.same("job_id", f.job_id))
        if f.name:
            parts.append(self.name(f.name))
        parts += more
        where = f" WHERE {' AND '.join(p for p, _ in parts)}" if parts else ""
        return where, [a for _, args in parts for a in args]


PLAIN = Matching()


class Store:
    """Jobs in SQLite: in memory by default, or in a file that survives restarts."""

    def __init__(self, path: str = ":memory:") -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # a new database only
            self._db.executescript(SCHEMA + "".join(f"{sql};\n" for sql in INDEXES.values()))
            if path != ":memory:":
                self._db.execute("PRAGMA journal_mode = WAL")
            # temp_store stays a file: index builds sort in half the time than in memory
            row = self._db.execute("SELECT value FROM meta WHERE key = 'token_key'").fetchone()
            if row is None:
                row = (secrets.token_hex(32),)
                self._db.execute("INSERT INTO meta VALUES ('token_key', ?)", row)
        self.token_key: bytes = bytes.fromhex(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM jobs").fetchone()[0]

    def add(self, jobs: Iterable[Job], replace: bool = False) -> int:
        """Insert jobs in one transaction. A JobId that exists already is an error, or, with
        ``replace``, the new job takes the old one's place."""
        return self.add_rows(((_row(j), set(j.workflow_ids)) for j in jobs), replace=replace)

    def load(self, n: int, seed: int, shape: str = "mixed") -> int:
        """``generate(n, seed, shape)``, inserted without making a ``Job`` of each row. Into an
        empty store, on two cores or more, a second process draws and writes the second half
        of the blocks while this one does the first (``_write_part``)."""
        split = n // 2 // BLOCK * BLOCK
        if not split or (os.cpu_count() or 1) < 2 or len(self):
            return self.add_rows(generated_rows(n, seed, shape))
        with tempfile.TemporaryDirectory(prefix="ci-conformance-") as tmp:
            path = os.path.join(tmp, "part.db")
            args = [path, str(n), str(seed), shape, str(split)]
            # the child imports this very package, wherever it was imported from
            home = os.pathsep.join(filter(None, (ROOT, os.environ.get("PYTHONPATH"))))
            child = subprocess.Popen([sys.executable, "-c", PART, *args], stdin=subprocess.DEVNULL,
                                     env={**os.environ, "PYTHONPATH": home})  # fmt: skip

            def part() -> str:
                if child.wait():
                    raise RuntimeError(f"loading jobs {split:,}+ failed ({child.returncode})")
                return path

            try:
                return self.add_rows(itertools.islice(generated_rows(n, seed, shape), split), part)
            finally:
                child.kill()
                child.wait()

    def add_rows(
        self,
        rows: Iterable[tuple[tuple, Iterable[str]]],
        part: Callable[[], str] | None = None,
        replace: bool = False,
    ) -> int:
        """Rows (``_row``) with their workflow IDs, in one transaction and one ``executemany``
        (rows stream in, never held in a list), then the rows of the database file that
        ``part()`` names, if any. Into an empty store the indexes are built after the rows
        (SQLite sorts with a helper thread), which makes a bulk load several times faster."""
        attached = False
        with self._lock:
            self._db.execute("BEGIN")
            try:
                empty = self._db.execute("SELECT NOT EXISTS (SELECT 1 FROM jobs)").fetchone()[0]
                if empty and not replace:  # (replacing needs the JobId index as rows go in)
                    for name in INDEXES:
                        self._db.execute(f"DROP INDEX IF EXISTS {name}")
                    self._db.execute("PRAGMA threads = 2")  # sorts a cache's worth at a time
                count = _insert(self._db, rows, replace)
                if part is not None:
                    self._db.execute("ATTACH ? AS part", (part(),))
                    attached = True
                    count += self._db.execute(
                        f"INSERT INTO jobs ({COLUMNS}) SELECT {COLUMNS} FROM part.jobs ORDER BY rowid"
                    ).rowcount
                    self._db.execute(
                        "INSERT OR IGNORE INTO job_workflows SELECT * FROM part.job_workflows"
                    )
                for sql in INDEXES.values():
                    self._db.execute(sql)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            finally:
                if attached:
                    self._db.execute("DETACH part")
                self._db.execute("PRAGMA threads = 0")
        return count

    def freeze_state_index(self) -> None:
        """For the model-missing-under-states fault: the jobs a states filter can ever see."""
        with self._lock:
            self._db.execute("CREATE TEMP TABLE state_index AS SELECT job_id FROM jobs")

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {COLUMNS} FROM jobs WHERE job_id = ?", (job_id,)
            ).fetchone()
        return None if row is None else _job(row)

    def remove_oldest(self) -> None:
        """The create-evicts-oldest fault: the oldest job goes."""
        with self._lock:
            self._db.execute(
                "DELETE FROM jobs WHERE rowid = (SELECT rowid FROM jobs ORDER BY created, job_id LIMIT 1)"
            )

    def set_state(self, job_id: str, state: str, end_time: str) -> None:
        with self._lock:
            sql = "UPDATE jobs SET state = ?, end_time = ? WHERE job_id = ?"
            self._db.execute(sql, (state, end_time, job_id))

    def page(
        self,
        filters: Filters,
        order: Ordering,
        limit: int,
        cursor: Sequence | None = None,
        offset: int = 0,
        matching: Matching = PLAIN,
    ) -> tuple[list[Job], list[tuple]]:
        """Up to ``limit`` jobs after ``cursor`` (or ``offset``), with each one's sort key."""
        where, args = matching.where(filters, *([] if cursor is None else [order.after(cursor)]))
        keys = ", ".join(c for c, _ in order.columns)
        sql = f"SELECT {COLUMNS}, {keys} FROM jobs{where} ORDER BY {order.sql()} LIMIT ? OFFSET ?"
        with self._lock:
            rows = self._db.execute(sql, [*args, limit, offset]).fetchall()
        return [_job(r) for r in rows], [tuple(r[13:]) for r in rows]

    def count(self, filters: Filters) -> int:
        where, args = PLAIN.where(filters)
        with self._lock:
            return self._db.execute(f"SELECT count(*) FROM jobs{where}", args).fetchone()[0]


def _insert(
    db: sqlite3.Connection, rows: Iterable[tuple[tuple, Iterable[str]]], replace: bool = False
) -> int:
    """Rows with their workflow IDs, in one ``executemany`` each; returns the number of rows.
    With ``replace``, a row takes the place of the one with its JobId, workflow IDs included."""
    workflows: list[tuple[str, str]] = []
    replaced: list[tuple[str]] = []

    def jobs() -> Iterator[tuple]:
        for row, workflow_ids in rows:
            workflows.extend((w, row[0]) for w in workflow_ids)
            if replace:
                replaced.append((row[0],))
            yield row

    insert = INSERT_JOB.replace("INSERT", "INSERT OR REPLACE") if replace else INSERT_JOB
    count = db.executemany(insert, jobs()).rowcount  # a replaced row counts once
    if replace:
        db.executemany("DELETE FROM job_workflows WHERE job_id = ?", replaced)
    db.executemany("INSERT OR IGNORE INTO job_workflows VALUES (?, ?)", workflows)
    return count


def _write_part(path: str, n: str, seed: str, shape: str, start: str) -> None:
    """``Store.load``'s second process (``PART``): rows ``start`` to ``n`` of ``generated_rows``
    into a new database file with no indexes and no journal."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in (f"page_size = {PAGE_SIZE}", "journal_mode = OFF", "synchronous = OFF"):
            db.execute(f"PRAGMA {pragma}")
        db.executescript(SCHEMA)
        db.execute("BEGIN")
        _insert(db, generated_rows(int(n), int(seed), shape, int(start)))
        db.execute("COMMIT")
    finally:
        db.close()


PART = "import sys; from conformance.emulator.store import _write_part; _write_part(*sys.argv[1:])"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# --- generated datasets -------------------------------------------------------------------

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
EPOCH_DATE = date(1970, 1, 1)
OFFSETS = (480, 0, -300, 330, 545, -600, 840)  # minutes east of UTC
# Names that need escaping, and names that are substrings or case variants of each other.
NAMES = (
    "demo",
    "Demo",
    "demo run",
    " padded ",
    "nightly transcode",
    "名字 测试",
    "a&b <c>",
    "quote \"q\" 'x'",
    "tab\tname",
    "ünïcödé",
)


SHAPES = {
    "mixed": "both types, all six states, about three jobs per CreationTime second",
    "heavy-ties": "every job in one of five CreationTime seconds",
    "one-state": "every job Running",
    "escaping": "every name needs XML escaping (&, <, >, quotes)",
}
ESCAPING = ("a&b <c>", "<>&", "quote \"q\" 'x'", "&amp; literal", "x<y>z", "]]>")


def generate(n: int, seed: int, shape: str = "mixed") -> Iterator[Job]:
    """``n`` jobs, the same for the same seed and shape (``SHAPES``). The mixed shape has both
    types, all six states, many CreationTime ties, several UTC offsets, names that need escaping
    or are substrings and case variants of each other, and shared workflow IDs."""
    return (_job(row) for row, _ in generated_rows(n, seed, shape))


def generated_rows(
    n: int, seed: int, shape: str = "mixed", start: int = 0
) -> Iterator[tuple[tuple, tuple[str, ...]]]:
    """The jobs of ``generate`` as store rows (``_row``) with their workflow IDs: written
    straight from the random draws, 1,000,000 in seconds (no datetime, no JSON encoder).
    Rows come in blocks of ``BLOCK``, each drawn from its own generator, so ``start`` (a multiple
    of ``BLOCK``) gives the rows from there on without drawing the ones before."""
    if shape not in SHAPES:
        raise ValueError(f"unknown dataset shape {shape!r}; choose one of {', '.join(SHAPES)}")
    if start % BLOCK:
        raise ValueError(f"start must be a multiple of {BLOCK}")
    rng = random.Random(seed)
    workflows = [f"w{rng.getrandbits(128):032x}" for _ in range(max(3, n // 200))]
    for first in range(start, n, BLOCK):
        if first:  # the first block goes on with the generator that drew the workflow IDs
            rng = random.Random(f"{seed}:{first}")
        yield from _block(rng, first, min(n, first + BLOCK), n, shape, workflows)


BLOCK = 50_000  # rows drawn from one generator


def _block(
    rng: random.Random, first: int, last: int, n: int, shape: str, workflows: list[str]
) -> Iterator[tuple[tuple, tuple[str, ...]]]:
    slots = 5 if shape == "heavy-ties" else max(1, n // 3)
    epoch = int(EPOCH.timestamp())
    bits, draw = rng.getrandbits, rng.random

    def below(n: int) -> int:
        """``rng.randrange(n)``, and ``rng.choice(seq)`` is ``seq[below(len(seq))]``: the same
        draws as CPython's ``Random._randbelow`` (tests compare with the plain calls)."""
        k = n.bit_length()
        r = bits(k)
        while r >= n:
            r = bits(k)
        return r

    # The draws made for every row, inlined below as ``r = bits(k)`` until ``r < n``.
    k_slots, k_offsets = slots.bit_length(), len(OFFSETS).bit_length()
    n_names, n_workflows, numbered = len(NAMES), len(workflows), max(1, n // 10)
    clock, suffixes = _clock(), [_offset(o) for o in OFFSETS]
    for i in range(first, last):
        if i < 12:
            jtype, state = TYPES[i % 2], STATES[i % 6]
        else:
            while (r := bits(2)) >= 2:  # TYPES[below(2)]
                pass
            jtype = TYPES[r]
            if shape != "one-state":
                while (r := bits(3)) >= 6:  # STATES[below(6)]
                    pass
                state = STATES[r]
        if shape == "one-state":
            state = "Running"
        while (r := bits(k_slots)) >= slots:  # below(slots)
            pass
        created = epoch + r * 7
        while (r := bits(k_offsets)) >= len(OFFSETS):  # OFFSETS[below(len(OFFSETS))]
            pass
        day, second = divmod(created + OFFSETS[r] * 60, 86400)  # written as _stamp does
        written = f"{_date(day)}T{clock[second]}{suffixes[r]}"
        interval = f'["TimeInterval",[["Start","{written}"],["End","{written}"]]]'
        if jtype == "Workflow":
            workflow = workflows[below(n_workflows)]
            operation = f'[{interval},["WorkflowIds","{workflow}"]]'
        else:
            workflow = None
            queue, template = HEX32 % bits(128), HEX16 % bits(64)
            operation = (
                f'[{interval},["QueueId","p{queue}"],["UserData","generated job {i}"],'
                f'["JobParam",[["TemplateId","t{template}"]]],["Output",[["Region",'
                '"ap-chongqing"],["Bucket","out-1250000000"],["Object",'
                f'"output/${{InventoryTriggerJobId}}/out.mp4"]]],["JobLevel","{below(3)}"]]'
            )
        name = NAMES[below(n_names)] if draw() < 0.7 else f"job {below(numbered)}"
        if shape == "escaping":
            name = ESCAPING[below(len(ESCAPING))]
        day, second = divmod(created + 28800, 86400)  # StartTime +1 s, EndTime +60 s, at +0800
        ymd = f"{_date(day)}T" if second + 60 < 86400 else ""  # "" if EndTime is the next day
        started = ended = "-"
        if state != "Submitted":
            started = f"{ymd}{clock[second + 1]}+0800" if ymd else _stamp(created + 1, 480)
        if state in ("Success", "Failed", "Cancel"):
            ended = f"{ymd}{clock[second + 60]}+0800" if ymd else _stamp(created + 60, 480)
        row = ("b" + HEX32 % bits(128), jtype, state, name, created, written[:19], written,
               "Success", "", started, ended, f'["Prefix","input/{i % 17}/"]', operation)  # fmt: skip
        yield row, (workflow,) if workflow else ()


HEX32, HEX16 = "%032x", "%016x"  # as f"{n:032x}", in half its time (the IDs of 1,000,000 jobs)


def _stamp(instant: int, offset: int) -> str:
    """``format_time`` of a Unix instant at ``offset`` minutes east of UTC, in a fraction of
    its time."""
    day, second = divmod(instant + offset * 60, 86400)
    return f"{_date(day)}T{_clock()[second]}{_offset(offset)}"


@functools.cache
def _clock() -> list[str]:
    """Every ``HH:MM:SS`` of a day, by second."""
    return [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400)]


@functools.cache
def _date(day: int) -> str:
    return (EPOCH_DATE + timedelta(days=day)).isoformat()


@functools.cache
def _offset(minutes: int) -> str:
    return f"{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
