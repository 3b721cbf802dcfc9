"""A pytest plugin for suite runs in tests (``-p request_log``): writes every request the run made,
one line each, to the file named by ``$REQUEST_LOG``. The port, NextToken values (the server's
opaque choice, keyed per process) and signature times are replaced, so runs can be compared.

The session keeps no exchanges (memory stays flat): the lines are taken as each exchange is
recorded, by an exchange observer, the suite's own extension point."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from conformance.checks import EXCHANGE_OBSERVERS
from conformance.client import Exchange

LINES: list[str] = []


def _log(ex: Exchange) -> list:
    url = re.sub(r"//127\.0\.0\.1:\d+", "//HOST", ex.url)
    url = re.sub(r"nextToken=[^&]*", "nextToken=TOKEN", url)
    url = re.sub(r"(q-(?:sign|key)-time=)[^&]*", r"\1TIME", url)
    LINES.append(f"{ex.method} {url} {ex.status}")
    return []  # no finding: it only listens


EXCHANGE_OBSERVERS.append(_log)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    if LINES and os.environ.get("REQUEST_LOG"):
        Path(os.environ["REQUEST_LOG"]).write_text("\n".join(LINES) + "\n", "utf-8")
