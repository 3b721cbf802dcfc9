"""The official Python SDK (cos-python-sdk-v5), through the driver shipped in the package."""

from __future__ import annotations

import sys

from sdk_official import PYTHON_FINDINGS, check


def test_official_python_sdk_over_every_scenario() -> None:
    check(f"{sys.executable} -m conformance.drivers.python_cos_sdk", PYTHON_FINDINGS)
