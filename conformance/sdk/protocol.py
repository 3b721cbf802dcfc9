"""The driver protocol: what a driver receives (environment) and prints (JSON lines).

The README's section "Writing a driver" documents the same thing for SDK authors; keep the two
in step. Drivers in other languages implement it; ``parse_output`` reads what they print. Kept
free of heavy imports: the reference driver imports it once per task.
"""

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from ..signing import Signature, signed

# The environment of every driver run.
ENDPOINT = "CI_CONFORMANCE_ENDPOINT"  # base URL, e.g. http://127.0.0.1:41234 (no trailing /)
BUCKET = "CI_CONFORMANCE_BUCKET"  # BucketName-APPID, for SDKs that need one
REGION = "CI_CONFORMANCE_REGION"  # region, for SDKs that need one
TASK = "CI_CONFORMANCE_TASK"  # the task, as one JSON object
TIMEOUT = "CI_CONFORMANCE_TIMEOUT"  # seconds the driver has for the task
SECRET_ID, SECRET_KEY, SECURITY_TOKEN = "COS_SECRET_ID", "COS_SECRET_KEY", "COS_SECURITY_TOKEN"

EXIT_DONE = 0  # the task ran: its jobs or the SDK's error were printed
EXIT_UNSUPPORTED = 3  # the SDK cannot do this task (the task is skipped, and reported so)

OUTPUT_LIMIT = 16 * 1024 * 1024  # bytes of stdout kept; a driver printing more fails


@dataclass
class DriverOutput:
    """What a driver run produced, as read from its JSON lines and its exit."""

    jobs: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None
    next_token: str | None = None
    reported_token: bool = False
    not_found: list[str] = field(default_factory=list)  # IDs the SDK says do not exist
    sdk: dict[str, str] = field(default_factory=dict)  # the SDK's name and version
    problems: list[str] = field(default_factory=list)
    exit_code: int | None = None
    timed_out: bool = False
    stderr: str = ""
    seconds: float = 0.0
    lines: list[str] = field(default_factory=list)  # the raw lines (first ones), for reports

    @property
    def unsupported(self) -> bool:
        return self.exit_code == EXIT_UNSUPPORTED and not self.timed_out


def parse_output(stdout: str) -> DriverOutput:
    """Read JSON lines: ``{"job": {...}}``, ``{"error": {...}}``, ``{"nextToken": ...}``,
    ``{"notFound": ["JobId", ...]}``, ``{"sdk": {"name": ..., "version": ...}}``, ``{"log":
    "..."}``. Anything else is recorded as a problem, with its line number. An error holds
    ``status``, ``code``, ``message`` and ``requestId``: for a service error, the Error body's
    Code, Message and RequestId (not its TraceId, not the x-ci-request-id header); the judge
    checks them. ``sdk`` names the SDK under test (``version`` as its package says it)."""
    out = DriverOutput()
    for number, line in enumerate(stdout.splitlines(), 1):
        if not line.strip():
            continue
        if len(out.lines) < 200:
            out.lines.append(line[:2000])
        try:
            item = json.loads(line)
        except ValueError:
            out.problems.append(f"line {number} is not JSON: {line[:120]!r}")
            continue
        if not isinstance(item, dict) or len(item) != 1:
            out.problems.append(f"line {number} is not an object with one key: {line[:120]!r}")
            continue
        ((key, value),) = item.items()
        if key == "job" and isinstance(value, dict):
            out.jobs.append(value)
        elif key == "error" and isinstance(value, dict):
            if out.error is not None:
                out.problems.append(f"line {number}: a second error line")
            out.error = value
        elif key == "nextToken" and (value is None or isinstance(value, str)):
            out.next_token, out.reported_token = value, True
        elif key == "notFound" and isinstance(value, list) and all(isinstance(v, str) for v in value):  # fmt: skip
            out.not_found += value
        elif key == "sdk" and isinstance(value, dict) and isinstance(value.get("name"), str):
            out.sdk = {"name": value["name"], "version": str(value.get("version") or "")}
        elif key != "log":
            out.problems.append(f"line {number}: unexpected {key!r} line: {line[:120]!r}")
    return out


JSON = str | dict[str, "JSON"] | list["JSON"]


def element_json(el: ET.Element) -> JSON:
    """A leaf is its text; a container maps child names to values (a repeated name to a list)."""
    out: dict[str, JSON] = {}
    for child in el:
        value, previous = element_json(child), out.get(child.tag)
        repeated = [*previous, value] if isinstance(previous, list) else [previous, value]
        out[child.tag] = value if previous is None else repeated  # type: ignore[assignment]
    return out if len(el) else el.text or ""


def plus_signed(sig: Signature) -> Signature:
    """``sig`` over its parameters form-encoded (a space as '+', not %20): a common mistake."""
    lines = sig.http_string.split("\n")
    lines[2] = lines[2].replace("%20", "+")
    sign_time = sig.string_to_sign.split("\n")[1]
    lists = sig.url_param_list, sig.header_list
    return signed(sig.key_time, sig.sign_key, *lists, "\n".join(lines), sign_time)
