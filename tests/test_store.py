"""The SQLite store: SQL semantics against the oracle, indexes, generated datasets."""

from __future__ import annotations

import sqlite3
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.emulator.store import SHAPES, Store, generate, ordering
from conformance.query import STATES, TYPES, Filters, expected, parse_filters
from conformance.strategies import filter_queries

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
    order = ordering(f.descending, ties, frozenset())
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
    order = ordering(f.descending, True, frozenset())
    _, keys = store.page(f, order, 1, None, store.count(f) - 5)
    plan = store.explain(f, order, keys[0])
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
