"""Strategies fit any census: every query drawn from a target's data is a valid query (size 1 to
100, start not after end), whatever the number of jobs, from none to many thousands."""

from __future__ import annotations

import functools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance import strategies as gen
from conformance.emulator.store import generate
from conformance.query import MAX_SIZE, Query, parse_filters


@functools.cache
def census(n: int) -> list:
    return list(generate(10_000, 5))[:n]


def valid(query: Query) -> None:
    f = parse_filters(query)
    assert 1 <= f.size_requested <= MAX_SIZE, query
    assert not (f.start and f.end and f.start > f.end), query


SIZES = st.sampled_from([0, 1, 2, 10, 11, 99, 101, 250, 4_001, 10_000]) | st.integers(0, 10_000)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(n=SIZES, data=st.data())
def test_queries_drawn_from_any_census_are_valid(n: int, data: st.DataObject) -> None:
    jobs = census(n)
    loose = gen.few_pages(jobs, data.draw(gen.filter_queries(jobs[:300]), label="loose"))
    valid(loose)
    if jobs:
        valid(data.draw(gen.matching_queries(jobs), label="matching"))
        valid(data.draw(gen.single_filters(jobs), label="single"))
    for edge in gen.edge_queries(jobs):
        valid(edge)


@given(matching=st.integers(0, 10**6), data=st.data())
def test_sizes_for_several_pages_stay_in_range(matching: int, data: st.DataObject) -> None:
    size = data.draw(gen.several_pages(matching))
    assert size is None or 1 <= int(size) <= MAX_SIZE
