"""The SQLite store: SQL semantics against the oracle, indexes, generated datasets."""

from __future__ import annotations

import random
import sqlite3
from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.emulator import store as sql
from conformance.emulator.store import SHAPES, Matching, Store, generate, generated_rows
from conformance.query import STATES, TYPES, Filters, expected, parse_filters
from conformance.strategies import filter_queries
from conformance.timefmt import format_time, parse_time
from conformance.xmlmodel import Job

JOBS = list(generate(400, seed=11))


@pytest.fixture(scope="module")
def store() -> Store:
    s = Store()
    s.add(JOBS)
    return s


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_sql_pages_equal_the_oracle(data) -> None:
    store = Store()
    store.add(JOBS)
    query = data.draw(filter_queries(JOBS[:80]))
    f = parse_filters(query)
    ties = data.draw(st.booleans())
    order = Matching().ordering(f.descending, f.descending if ties else False)
    walked, cursor = [], None
    while True:
        jobs, keys = store.page(f, order, f.size, cursor)
        walked += jobs
        if len(jobs) < f.size:
            break
        cursor = keys[-1]
    want = expected(JOBS, f)
    if ties:  # ties follow the order: exactly the oracle's order
        assert walked == want
    else:  # ties by JobId ascending in both orders: equal up to ties
        assert sorted(walked, key=lambda j: (j.created, j.job_id)) == sorted(
            want, key=lambda j: (j.created, j.job_id)
        )
        assert [j.created for j in walked] == [j.created for j in want]
    assert store.count(f) == len(want)


@pytest.mark.parametrize(
    "f", [Filters(), Filters(descending=False), Filters(states=frozenset({"Running"}))]
)
def test_deep_pages_seek_an_index(store: Store, f: Filters) -> None:
    order = Matching().ordering(f.descending, f.descending)
    _, keys = store.page(f, order, 1, None, store.count(f) - 5)
    where, args = Matching().where(f, order.after(keys[0]))
    q = f"EXPLAIN QUERY PLAN SELECT job_id FROM jobs{where} ORDER BY {order.sql()} LIMIT 10"
    plan = "; ".join(r[3] for r in store._db.execute(q, args))
    assert "USING" in plan and "INDEX" in plan, plan
    assert "TEMP B-TREE" not in plan, plan  # no sort of the whole table


def test_generated_data_is_deterministic_and_varied() -> None:
    assert list(generate(50, 3)) == list(generate(50, 3))
    assert list(generate(50, 3)) != list(generate(50, 4))
    assert {j.type for j in JOBS} == set(TYPES)
    assert {j.state for j in JOBS} == set(STATES)
    ties = Counter(j.created for j in JOBS)
    assert max(ties.values()) >= 3
    assert len({j.creation_time[-5:] for j in JOBS}) >= 5  # several UTC offsets
    names = {j.name for j in JOBS}
    assert {"a&b <c>", "demo", "Demo", "demo run"} <= names
    assert len({w for j in JOBS for w in j.workflow_ids}) < sum(1 for j in JOBS if j.workflow_ids)


@pytest.mark.parametrize("shape", SHAPES)
def test_shapes(shape: str) -> None:
    jobs = list(generate(200, 1, shape))
    if shape == "heavy-ties":
        assert len({j.created for j in jobs}) <= 5
    if shape == "one-state":
        assert {j.state for j in jobs} == {"Running"}
    if shape == "escaping":
        assert all(any(c in j.name for c in "&<>\"'") for j in jobs)
    with pytest.raises(ValueError):
        list(generate(1, 1, "no-such-shape"))


def test_add_is_all_or_nothing(store: Store) -> None:
    before = len(store)
    with pytest.raises(sqlite3.IntegrityError):
        store.add([*generate(3, 99), JOBS[0]])  # the last one exists already
    assert len(store) == before


def _plain_generate(n: int, seed: int, shape: str, start: int = 0) -> list[Job]:
    """The generator written plainly (datetime, ``random`` calls by name): the reference that
    the store's fast row writer must equal, draw for draw and byte for byte."""
    rng = random.Random(seed)
    workflows = [f"w{rng.getrandbits(128):032x}" for _ in range(max(3, n // 200))]
    slots = 5 if shape == "heavy-ties" else max(1, n // 3)
    jobs = []
    for i in range(start, n):
        if i and i % sql.BLOCK == 0:  # each block of rows is drawn from its own generator
            rng = random.Random(f"{seed}:{i}")
        jtype = TYPES[i % 2] if i < 12 else rng.choice(TYPES)
        one = shape == "one-state"
        state = "Running" if one else STATES[i % 6] if i < 12 else rng.choice(STATES)
        created = sql.EPOCH + timedelta(seconds=rng.randrange(slots) * 7)
        written = format_time(created, rng.choice(sql.OFFSETS))
        op: tuple = (("TimeInterval", (("Start", written), ("End", written))),)
        if jtype == "Workflow":
            op += (("WorkflowIds", rng.choice(workflows)),)
        else:
            op += (("QueueId", f"p{rng.getrandbits(128):032x}"), ("UserData", f"generated job {i}"),
                   ("JobParam", (("TemplateId", f"t{rng.getrandbits(64):016x}"),)),
                   ("Output", (("Region", "ap-chongqing"), ("Bucket", "out-1250000000"),
                               ("Object", "output/${InventoryTriggerJobId}/out.mp4"))),
                   ("JobLevel", str(rng.randrange(3))))  # fmt: skip
        name = (
            rng.choice(sql.NAMES) if rng.random() < 0.7 else f"job {rng.randrange(max(1, n // 10))}"
        )
        if shape == "escaping":
            name = rng.choice(sql.ESCAPING)
        started, ended = state != "Submitted", state in ("Success", "Failed", "Cancel")
        jobs.append(Job(f"b{rng.getrandbits(128):032x}", jtype, state, name, written,
                        start_time=format_time(created + timedelta(seconds=1), 480) if started else "-",
                        end_time=format_time(created + timedelta(seconds=60), 480) if ended else "-",
                        input=("Prefix", f"input/{i % 17}/"), operation=op))  # fmt: skip
    return jobs


@pytest.mark.parametrize("shape", SHAPES)
def test_the_fast_generator_equals_the_plain_one(shape: str) -> None:
    for seed, n in ((0, 0), (0, 1), (1, 13), (7, 700)):
        plain = _plain_generate(n, seed, shape)
        assert list(generate(n, seed, shape)) == plain
        assert [row for row, _ in generated_rows(n, seed, shape)] == [sql._row(j) for j in plain]


def test_blocks_of_generated_rows_are_drawn_independently() -> None:
    n = sql.BLOCK + 40
    rows = list(generated_rows(n, 2))
    assert list(generated_rows(n, 2, start=sql.BLOCK)) == rows[sql.BLOCK :]
    plain = _plain_generate(n, 2, "mixed", start=sql.BLOCK)
    assert [row for row, _ in rows[sql.BLOCK :]] == [sql._row(j) for j in plain]
    with pytest.raises(ValueError, match="multiple"):
        next(generated_rows(n, 2, start=7))


def test_a_load_split_over_two_processes_is_the_same_store() -> None:
    """Two blocks or more: a second process writes the later blocks. Same rows, same order."""
    n = 2 * sql.BLOCK + 7
    split, single = Store(), Store()
    assert split.load(n, 4) == single.add_rows(generated_rows(n, 4)) == n
    for query in ("SELECT rowid, * FROM jobs ORDER BY rowid", "SELECT * FROM job_workflows"):
        assert all(
            a == b for a, b in zip(*(s._db.execute(query) for s in (split, single)), strict=True)
        )
    assert split._db.execute("PRAGMA database_list").fetchall() == [(0, "main", "")]  # detached
    indexes = "SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name"
    assert split._db.execute(indexes).fetchall() == single._db.execute(indexes).fetchall()


def test_a_bulk_load_is_the_same_store_as_adding_jobs() -> None:
    loaded, added = Store(), Store()
    assert loaded.load(500, 3) == added.add(generate(500, 3)) == 500
    dump = "SELECT * FROM jobs ORDER BY job_id"
    assert loaded._db.execute(dump).fetchall() == added._db.execute(dump).fetchall()
    links = "SELECT * FROM job_workflows ORDER BY workflow_id, job_id"
    assert loaded._db.execute(links).fetchall() == added._db.execute(links).fetchall()
    indexes = "SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name"
    assert loaded._db.execute(indexes).fetchall() == added._db.execute(indexes).fetchall()


@pytest.mark.parametrize("before", [0, 5])
def test_adding_with_replace_puts_the_new_job_in_the_old_ones_place(before: int) -> None:
    """``serve --db F --load X`` run twice: the loaded jobs replace the stored ones."""
    store = Store()
    store.add(JOBS[:before])
    op = tuple((k, "wnewer" if k == "WorkflowIds" else v) for k, v in JOBS[0].operation)
    newer = [replace(JOBS[0], state="Cancel", operation=op), JOBS[2], JOBS[30]]
    assert store.add(newer, replace=True) == 3
    assert store.add(newer, replace=True) == 3
    assert len(store) == (before or 2) + 1  # JOBS[30] is new either way
    assert store.get(JOBS[0].job_id) == newer[0]
    links = "SELECT workflow_id FROM job_workflows WHERE job_id = ?"
    assert store._db.execute(links, (JOBS[0].job_id,)).fetchall() == [("wnewer",)]
    with pytest.raises(sqlite3.IntegrityError):  # and without replace, still refused
        store.add([JOBS[2]])


def test_a_bulk_load_with_a_repeated_job_id_changes_nothing() -> None:
    store = Store()
    with pytest.raises(sqlite3.IntegrityError):
        store.add([*JOBS[:50], JOBS[7]])
    assert len(store) == 0
    store.add(JOBS[:5])  # the indexes are back: later adds still refuse a repeated JobId
    with pytest.raises(sqlite3.IntegrityError):
        store.add([JOBS[3]])


def test_generated_times_across_a_day_boundary() -> None:
    """30,000 jobs span a day at +0800: StartTime and EndTime roll over to the next date."""
    rows = [row for row, _ in generated_rows(30_000, 5)]
    near = [r for r in rows if (r[4] + 28800) % 86400 > 86400 - 120]
    assert near and {r[10] for r in near} != {"-"}
    for r in near + rows[::97]:
        created = parse_time(r[6])
        assert created.timestamp() == r[4] and r[5] == r[6][:19]
        if r[9] != "-":
            assert r[9] == format_time(created + timedelta(seconds=1), 480)
        if r[10] != "-":
            assert r[10] == format_time(created + timedelta(seconds=60), 480)
