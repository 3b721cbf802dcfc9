"""The query model and the oracle's reference semantics."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from drawn import job_lists
from hypothesis import example, given, settings
from hypothesis import strategies as st

from conformance.query import (
    STATES,
    Filters,
    InvalidArgument,
    Query,
    expected,
    parse_filters,
)
from conformance.strategies import OFFSETS, filter_queries
from conformance.timefmt import format_time
from conformance.xmlmodel import Job


def job(job_id: str, created: str, **kw) -> Job:
    base = {"type": "Job", "state": "Running", "name": "demo"}
    return Job(job_id=job_id, creation_time=created, **{**base, **kw})


def test_params_render_only_what_is_set() -> None:
    q = Query(size="5", states="Running,Failed", name="a b", next_token="")
    assert q.params() == [
        ("nextToken", ""),
        ("size", "5"),
        ("states", "Running,Failed"),
        ("name", "a b"),
    ]
    assert Query.from_params(dict(q.params())) == q
    assert Query().params() == []


def test_empty_parameters_count_as_absent() -> None:
    sdk_defaults = Query(
        type="",
        order_by_time="",
        states="",
        size="",
        next_token="",
        workflow_id="",
        job_id="",
        name="",
    )
    assert parse_filters(sdk_defaults) == Filters()


@pytest.mark.parametrize(
    ("query", "param"),
    [
        (Query(size="0"), "size"),
        (Query(size="-1"), "size"),
        (Query(size="1.5"), "size"),
        (Query(size="ten"), "size"),
        (Query(size="١٢"), "size"),
        (Query(type="job"), "type"),
        (Query(order_by_time="desc"), "orderByTime"),
        (Query(states="Running,Done"), "states"),
        (Query(states="Running,"), "states"),
        (Query(start_creation_time="2022-06-27 15:23:10+0800"), "startCreationTime"),
        (Query(end_creation_time="2022-06-27T15:23:10"), "endCreationTime"),
        (Query(end_creation_time="2022-06-27T15:23:10Z"), "endCreationTime"),
    ],
)
def test_invalid_values_name_their_parameter(query: Query, param: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_filters(query)
    assert info.value.param == param


def test_size_over_100_clamped_or_refused() -> None:
    assert parse_filters(Query(size="500")).size == 100
    with pytest.raises(InvalidArgument):
        parse_filters(Query(size="101"), clamp_size=False)


def test_time_bounds_are_inclusive_instants_across_offsets() -> None:
    a = job("a", "2022-06-27T15:23:10+0800")
    b = job("b", "2022-06-27T07:23:11+0000")
    at = parse_filters(
        Query(
            start_creation_time="2022-06-27T07:23:10+0000",
            end_creation_time="2022-06-27T02:23:10-0500",
        )
    )
    assert expected([a, b], at) == [a]


def test_ties_broken_by_job_id_and_order() -> None:
    jobs = [job(i, "2022-06-27T15:23:10+0800") for i in "cab"] + [
        job("z", "2022-06-27T00:00:00+0000")
    ]
    assert [j.job_id for j in expected(jobs, Filters())] == ["c", "b", "a", "z"]
    assert [j.job_id for j in expected(jobs, Filters(descending=False))] == ["z", "a", "b", "c"]


def test_workflow_id_matches_operation_workflow_ids() -> None:
    w = job("w", "2022-06-27T15:23:10+0800", type="Workflow", operation=(("WorkflowIds", "w1,w2"),))
    assert expected([w], Filters(workflow_id="w2")) == [w]
    assert expected([w], Filters(workflow_id="w")) == []


@settings(max_examples=200, deadline=None)
@given(jobs=job_lists(), data=st.data())
def test_oracle_properties(jobs: list[Job], data: st.DataObject) -> None:
    query = data.draw(filter_queries(jobs))
    f = parse_filters(query)
    result = expected(jobs, f)
    everything = expected(jobs, Filters(descending=f.descending))
    assert all(f.matches(j) for j in result)
    assert set(result) == {j for j in jobs if f.matches(j)}
    # a filtered walk is an ordered subsequence of the unfiltered walk
    it = iter(everything)
    assert all(any(j is k for k in it) for j in result)
    # Asc is Desc reversed (ties are broken by JobId, so exactly)
    assert expected(jobs, replace(f, descending=not f.descending)) == result[::-1]
    # filters commute: the result of two filters is the intersection of each alone
    by_type = expected(jobs, Filters(type=f.type, descending=f.descending))
    rest = expected(jobs, replace(f, type=None))
    assert result == [j for j in rest if j in set(by_type)]
    # states as a set: a multi-state query is the union of single-state ones; All is no filter
    if f.states:
        union = set().union(*(expected(jobs, replace(f, states=frozenset({s}))) for s in f.states))
        assert set(result) == union
    assert expected(jobs, replace(f, states=frozenset(STATES))) == expected(
        jobs, replace(f, states=None)
    )


@settings(max_examples=100, deadline=None)
@given(jobs=job_lists(), data=st.data())
def test_same_instant_any_offset_same_result(jobs: list[Job], data: st.DataObject) -> None:
    if not jobs:
        return
    pivot = data.draw(st.sampled_from(jobs)).created + timedelta(
        seconds=data.draw(st.integers(-1, 1))
    )
    results = {
        tuple(expected(jobs, parse_filters(Query(start_creation_time=format_time(pivot, off)))))
        for off in OFFSETS
    }
    assert len(results) == 1


@given(st.from_regex(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{4}", fullmatch=True))
@example("2023-12-31T14:01:52+0860")  # minutes over 59: refused
@example("2023-12-31T14:01:52-1000")
def test_parse_time_reads_as_strptime_does(text: str) -> None:
    from datetime import datetime

    from conformance.timefmt import FORMAT, parse_time

    try:
        expected = datetime.strptime(text, FORMAT)
    except ValueError:
        with pytest.raises(ValueError):
            parse_time(text)
    else:
        assert parse_time(text) == expected and parse_time(text).utcoffset() == expected.utcoffset()
