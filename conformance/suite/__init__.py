"""The conformance suite, run with ``pytest --pyargs conformance.suite`` or ``ci-conformance run``."""
