"""The official Python SDK (cos-python-sdk-v5), through the driver shipped in the package."""

from __future__ import annotations

import sys

from sdk_official import check


def test_official_python_sdk_over_every_scenario() -> None:
    sdk = {"name": "cos-python-sdk-v5", "version": "1.9.44"}
    check(f"{sys.executable} -m conformance.drivers.python_cos_sdk", "cos-python-sdk-v5.known", sdk)
