"""One test per registered check, over the target chosen by the plugin's options."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, given, reject, settings, target
from hypothesis import example as hypothesis_example
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Unsatisfiable

from conformance import checks
from conformance.client import BudgetExceeded, TargetError
from conformance.plugin import EXIT_UNREACHABLE, RUN, SETTINGS
from conformance.query import Query
from conformance.session import CheckFailure, NoData, Session, SkipCheck

# Strategies sampled from a target's data have long reprs; hypothesis warns when it prints them.
# JUnit testcases are named by check (record_xml_attribute): pytest calls that experimental.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Generating overly large repr"),
    pytest.mark.filterwarnings("ignore:record_xml_attribute"),
]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "check" in metafunc.fixturenames:
        settings = metafunc.config.stash[SETTINGS]
        chosen = checks.select(settings.checks, settings.exclude_checks)
        chosen = [c for c in chosen if c.wanted(settings.profile, settings.checks)]
        metafunc.parametrize("check", chosen, ids=[c.name for c in chosen])


def test_check(
    conformance_session: Session,
    check: checks.Check,
    request: pytest.FixtureRequest,
    record_xml_attribute,
) -> None:
    record_xml_attribute("classname", f"conformance.{check.category}")
    record_xml_attribute("name", check.name)
    stats = {"examples": 0, "examples_with_jobs": 0}
    try:
        _run(conformance_session, check, request.config, stats)
        if check.judges_jobs and stats["examples"] and not stats["examples_with_jobs"]:
            raise NoData(
                f"vacuous: its {stats['examples']} example(s) all ran on walks that returned no "
                "job, which proves nothing (the target's data could not exercise it)"
            )
    except CheckFailure as failure:  # also those raised while drawing values (e.g. the census)
        failure.check, failure.clause = failure.check or check.name, failure.clause or check.clause
        raise
    except SkipCheck as skip:
        pytest.skip(str(skip))
    except BudgetExceeded as spent:
        pytest.skip(str(spent))
    except TargetError as gone:  # reachable at the start, not any more: stop, say so (exit 3)
        unusable = f"target unreachable during the run: {gone}"
        request.config.stash[RUN]["unusable"] = unusable
        pytest.exit(unusable, returncode=EXIT_UNREACHABLE)
    finally:
        request.node.user_properties += list(stats.items())


def _run(session: Session, check: checks.Check, config: pytest.Config, stats: dict) -> None:
    if check.given is None:
        before = session.jobs_seen
        check.run(session)
        stats["examples"] = 1
        stats["examples_with_jobs"] = int(session.jobs_seen > before)
        return
    strategy = check.given(session)
    last_skip: list[SkipCheck] = []
    stopped: list[TargetError] = []

    @settings(
        max_examples=check.examples(config.stash[SETTINGS].examples),
        deadline=None,
        database=None,
        derandomize=False,
        report_multiple_bugs=False,
        phases=[Phase.explicit, Phase.generate, Phase.target, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis_seed(config.stash[SETTINGS].seed)
    @given(strategy)
    def example(value: object) -> None:
        if stopped:
            return
        pages, jobs = session.pages_seen, session.jobs_seen
        try:
            check.run(session, value)
        except SkipCheck as skip:
            last_skip[:] = [skip]
            reject()
        except TargetError as stop:  # a spent budget or a lost target: no failure, stop asking
            stopped[:] = [stop]
        stats["examples"] += 1
        stats["examples_with_jobs"] += session.jobs_seen > jobs
        # steer generation towards inputs that walk several pages and see jobs; capped, so
        # that it never pushes towards ever longer (costlier) walks
        target(float(min(session.pages_seen - pages, 6)), label="pages walked (up to 6)")
        target(float(min(session.jobs_seen - jobs, 100)), label="jobs seen (up to 100)")

    explicit = list(check.edges(session)) if check.edges else []
    # replay: the recorded minimal query of a failure runs first, as an explicit example
    for params in config.stash[SETTINGS].replay.get(check.name, []):
        if check.given in checks.QUERY_STRATEGIES:
            explicit.insert(0, Query.from_params(dict(params)))
    for value in reversed(explicit):
        example = hypothesis_example(value)(example)
    try:
        example()
        if stopped:
            raise stopped[0]
    except Unsatisfiable:
        raise (
            last_skip[0] if last_skip else SkipCheck("no example could exercise this check")
        ) from None
