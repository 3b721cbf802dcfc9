"""The API's timestamp format, ``%Y-%m-%dT%H:%M:%S%z`` with a ``±HHMM`` offset (API-NOTES §1)."""

from __future__ import annotations

import functools
import re
from datetime import datetime, timedelta, timezone

_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}[0-5]\d")  # offset minutes < 60
FORMAT = "%Y-%m-%dT%H:%M:%S%z"


@functools.lru_cache(maxsize=65536)  # a walk's times repeat page after page, run after run
def parse_time(text: str) -> datetime:
    """An aware datetime; ``ValueError`` for anything but ``YYYY-MM-DDTHH:MM:SS±HHMM``."""
    if not _PATTERN.fullmatch(text):
        raise ValueError(f"{text!r} is not YYYY-MM-DDTHH:MM:SS±HHMM")
    return datetime.fromisoformat(text)  # as strptime(text, FORMAT) reads it, 100 times faster


def format_time(moment: datetime, offset_minutes: int | None = None) -> str:
    """Write ``moment`` in its own offset, or in ``offset_minutes`` east of UTC."""
    if offset_minutes is not None:
        moment = moment.astimezone(timezone(timedelta(minutes=offset_minutes)))
    return moment.strftime(FORMAT)
