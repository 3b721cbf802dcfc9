"""A pytest plugin for suite runs in tests (``-p request_log``): writes every request the run made,
one line each, to the file named by ``$REQUEST_LOG``. The port, NextToken values (the server's
opaque choice, keyed per process) and signature times are replaced, so runs can be compared."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from conformance.plugin import RUN


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    run = session.config.stash.get(RUN, None)
    if run is None or not os.environ.get("REQUEST_LOG"):
        return
    lines = []
    for ex in run["session"].exchanges:
        url = re.sub(r"//127\.0\.0\.1:\d+", "//HOST", ex.url)
        url = re.sub(r"nextToken=[^&]*", "nextToken=TOKEN", url)
        url = re.sub(r"(q-(?:sign|key)-time=)[^&]*", r"\1TIME", url)
        lines.append(f"{ex.method} {url} {ex.status}")
    Path(os.environ["REQUEST_LOG"]).write_text("\n".join(lines) + "\n", "utf-8")
