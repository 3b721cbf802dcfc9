"""One test per registered check, over the target chosen by the plugin's options."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, given, reject, settings
from hypothesis import example as hypothesis_example
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Unsatisfiable

from conformance import checks
from conformance.client import BudgetExceeded, TargetError
from conformance.plugin import EXIT_UNREACHABLE, RUN, SETTINGS
from conformance.query import Query
from conformance.session import CheckFailure, Session, SkipCheck

# Strategies sampled from a target's data have long reprs; hypothesis warns when it prints them.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "check" in metafunc.fixturenames:
        settings = metafunc.config.stash[SETTINGS]
        chosen = checks.select(settings.checks, settings.exclude_checks)
        metafunc.parametrize("check", chosen, ids=[c.name for c in chosen])


def test_check(
    conformance_session: Session, check: checks.Check, request: pytest.FixtureRequest
) -> None:
    try:
        _run(conformance_session, check, request.config)
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


def _run(session: Session, check: checks.Check, config: pytest.Config) -> None:
    if check.given is None:
        check.run(session)
        return
    strategy = check.given(session)
    last_skip: list[SkipCheck] = []
    stopped: list[TargetError] = []

    @settings(
        max_examples=config.stash[SETTINGS].examples,
        deadline=None,
        database=None,
        derandomize=False,
        report_multiple_bugs=False,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis_seed(config.stash[SETTINGS].seed)
    @given(strategy)
    def example(value: object) -> None:
        if stopped:
            return
        try:
            check.run(session, value)
        except SkipCheck as skip:
            last_skip[:] = [skip]
            reject()
        except TargetError as stop:  # a spent budget or a lost target: no failure, stop asking
            stopped[:] = [stop]

    # replay: the recorded minimal query of a failure runs first, as an explicit example
    for params in config.stash[SETTINGS].replay.get(check.name, []):
        if check.given in checks.QUERY_STRATEGIES:
            example = hypothesis_example(Query.from_params(dict(params)))(example)
    try:
        example()
        if stopped:
            raise stopped[0]
    except Unsatisfiable:
        raise (
            last_skip[0] if last_skip else SkipCheck("no example could exercise this check")
        ) from None
