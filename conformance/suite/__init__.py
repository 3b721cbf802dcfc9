"""The conformance suite, run with ``pytest --pyargs conformance.suite`` or ``ci-conformance run``."""

from pathlib import Path

INI = str(Path(__file__).with_name("pytest.ini"))
"""The suite's own pytest configuration (``-c``): a run never picks up the options of a project
it happens to be started in (such as this repository's ``-n auto``)."""
