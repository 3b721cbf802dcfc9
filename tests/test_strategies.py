"""Strategies fit any census: every query drawn from a target's data is a valid query (size 1 to
100, start not after end, its bounds in the data's time range and, on a large target, inside
one slice of it), whatever the number of jobs, from none to a million."""

from __future__ import annotations

import functools
import random
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance import strategies as gen
from conformance.emulator.store import generate
from conformance.query import MAX_SIZE, Query, parse_filters
from conformance.session import RUNS, SAMPLE, SLICE, Census
from conformance.timefmt import format_time


@functools.cache
def census(n: int) -> Census:
    """A census of ``n`` jobs: its sample generated, every CreationTime spread as the sample's."""
    c = Census()
    jobs = list(generate(min(n, SAMPLE), 5))
    for job in jobs:
        c.append(job)
    c.count = n
    first = min((int(j.created.timestamp()) for j in jobs), default=0)
    last = max((int(j.created.timestamp()) for j in jobs), default=0)
    c.times.extend(first + (last - first) * i // max(1, n - 1) for i in range(n))
    c.finish(complete=True)
    return c


def valid(query: Query, c: Census, bounded: bool = True) -> None:
    f = parse_filters(query)
    assert 1 <= f.size_requested <= MAX_SIZE, query
    assert not (f.start and f.end and f.start > f.end), query
    if not (bounded and c.count):
        return
    low, high = min(j.created for j in c), max(j.created for j in c)
    for bound in (f.start, f.end):  # drawn from the data: within a day of it
        assert bound is None or low - timedelta(days=1) <= bound <= high + timedelta(days=1), query
    if c.sliced:  # a large target: a slice of it, never the whole
        assert f.start and f.end and c.between(f.start, f.end) != list(c._by_time), query


SIZES = st.sampled_from([0, 1, 2, 10, 11, 99, 101, 2_001, 4_001, 10**5, 10**6]) | st.integers(
    0, 10**6
)


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(n=SIZES, data=st.data())
def test_queries_drawn_from_any_census_are_valid(n: int, data: st.DataObject) -> None:
    c = census(n)
    loose = data.draw(gen.filter_queries(c[:300]), label="loose")
    valid(c.bounded(gen.few_pages(c, loose)), c, bounded=False)  # misses included, by design
    if c.count:
        valid(data.draw(gen.matching_queries(c), label="matching"), c)
        valid(data.draw(gen.single_filters(c), label="single"), c)
    for edge in gen.edge_queries(c):
        valid(edge, c)


@given(matching=st.integers(0, 10**6), data=st.data())
def test_sizes_for_several_pages_stay_in_range(matching: int, data: st.DataObject) -> None:
    size = data.draw(gen.several_pages(matching))
    assert size is None or 1 <= int(size) <= MAX_SIZE


def test_slices_cut_a_large_target_into_windows_of_about_a_slice() -> None:
    c = census(10**6)
    low, high = c.slice_of(c[0].created)
    inside = sum(low.timestamp() <= t <= high.timestamp() for t in c.times)
    assert SLICE <= inside <= 2 * SLICE and not census(2 * SLICE).sliced


def test_a_large_census_keeps_whole_slices_the_newest_among_them() -> None:
    """Sampled by runs in the walk's order (newest first), a large target's drawn jobs fall in
    ``RUNS`` slices, each kept whole, so that checks share their walks; a small target's are
    all kept."""
    start = datetime(2024, 1, 1, tzinfo=UTC)  # one job a second: no tie across a slice's edge
    jobs = [
        replace(job, creation_time=format_time(start - timedelta(seconds=n)))
        for n, job in enumerate(generate(12_345, 7))
    ]
    big, small, rng = Census(), Census(), random.Random(1)
    for job in jobs:
        big.add(job, rng)
    for job in jobs[:SAMPLE]:
        small.add(job, rng)
    big.finish(complete=True)
    small.finish(complete=True)
    assert len(small) == small.count == SAMPLE and len(big) == SAMPLE and big.count == len(jobs)
    slices = {big.slice_of(j.created) for j in big}
    assert len(slices) == RUNS and big.slice_of(jobs[0].created) in slices
    for low, high in slices:  # each slice kept whole: every job of it is in the sample
        assert sum(low <= j.created <= high for j in big) == big.count_between(low, high)


@pytest.mark.parametrize("tokens", ["plain", "escaped"])
def test_the_census_asks_for_each_next_page_ahead_and_walks_exactly(tokens: str) -> None:
    """Over real HTTP: the census reads the next token off a page's bytes and asks for the next
    page while this one is judged. Every job is counted once, in as many requests as pages; a
    token written with references (``&amp;``) is read by parsing, as before."""
    from conformance.client import Client
    from conformance.emulator.app import EXAMPLE_CREDENTIALS, Emulator
    from conformance.emulator.server import EmulatorServer
    from conformance.emulator.store import Store
    from conformance.sdk.scenarios import OpaqueTokens
    from conformance.session import Session

    store = Store()
    store.add(generate(1050, 3))
    app = (Emulator if tokens == "plain" else OpaqueTokens)(store)
    before = sys.getswitchinterval()
    with EmulatorServer(app) as server:
        client = Client(server.url, EXAMPLE_CREDENTIALS)
        census = Session(client).census()
    assert sys.getswitchinterval() == before  # the census's own setting is undone
    assert (census.count, census.complete, len(census.times)) == (1050, True, 1050)
    assert client.requests_made == 11  # 11 pages of 100: nothing asked twice, nothing wasted
