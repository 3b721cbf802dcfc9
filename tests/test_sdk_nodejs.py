"""The official Node.js SDK (cos-nodejs-sdk-v5), through drivers/nodejs-cos-sdk/driver.js."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sdk_official import check

DRIVER = Path(__file__).resolve().parents[1] / "drivers" / "nodejs-cos-sdk"


def test_official_nodejs_sdk_over_every_scenario() -> None:
    node = shutil.which("node")
    if node is None or not (DRIVER / "node_modules" / "cos-nodejs-sdk-v5").is_dir():
        why = "Node.js or the SDK is missing: cd drivers/nodejs-cos-sdk && npm ci"
        if os.environ.get("CI_CONFORMANCE_REQUIRE_NODE"):
            pytest.fail(why)
        pytest.skip(why + " (.ci/run does it)")
    sdk = {"name": "cos-nodejs-sdk-v5", "version": "3.0.0"}
    check(f"{node} {DRIVER / 'driver.js'}", "cos-nodejs-sdk-v5.known", sdk)
