"""One test per registered check, over the target chosen by the plugin's options."""

import pytest

from conformance.plugin import SETTINGS, run_check
from conformance.sources.run import RunSource


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "check" in metafunc.fixturenames:
        chosen = metafunc.config.stash[SETTINGS].chosen()
        metafunc.parametrize("check", chosen, ids=[c.name for c in chosen])


def test_check(conformance_source: RunSource, check, request: pytest.FixtureRequest) -> None:
    run_check(conformance_source, check, request.config)
