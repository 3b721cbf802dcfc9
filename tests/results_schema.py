"""Every JSON the tool writes is checked against the shipped schema (schemas/results.schema.json)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import jsonschema

SCHEMA = Path(__file__).parent.parent / "schemas" / "results.schema.json"


@functools.cache
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA.read_text("utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def valid(data: dict) -> dict:
    """``data`` (a summary, recheck, diff, compare or sdk JSON), once it validates."""
    errors = sorted(validator().iter_errors(data), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message[:300]}" for e in errors[:5]]
    return data


def read(path: Path) -> dict:
    return valid(json.loads(path.read_text("utf-8")))
