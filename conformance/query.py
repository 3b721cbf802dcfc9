"""The query model (the ten parameters of API-NOTES §1) and the reference semantics (the oracle).

``Query`` holds parameters as a client sends them: text, unset meaning absent. ``Filters`` is
the validated meaning of a query. ``expected`` is the oracle: plain Python over ``Job`` objects,
kept apart from the emulator's SQL so that each checks the other.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime

from .timefmt import parse_time
from .xmlmodel import Job

TYPES = ("Workflow", "Job")
STATES = ("Submitted", "Running", "Success", "Failed", "Pause", "Cancel")
ORDERS = ("Desc", "Asc")
DEFAULT_SIZE = 10
MAX_SIZE = 100


@dataclass(frozen=True)
class Query:
    """A list request's parameters, as text. ``None`` means the parameter is not sent."""

    next_token: str | None = None
    size: str | None = None
    type: str | None = None
    order_by_time: str | None = None
    states: str | None = None
    start_creation_time: str | None = None
    end_creation_time: str | None = None
    workflow_id: str | None = None
    job_id: str | None = None
    name: str | None = None

    def params(self) -> list[tuple[str, str]]:
        """Wire parameters in a fixed order; unset ones are absent."""
        values = ((WIRE_NAMES[f.name], getattr(self, f.name)) for f in fields(self))
        return [(name, value) for name, value in values if value is not None]

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> "Query":
        return cls(**{PYTHON_NAMES[k]: v for k, v in params.items() if k in PYTHON_NAMES})

    def describe(self) -> str:
        """``type=Job&size=5``: a readable form for reports."""
        return "&".join(f"{k}={v}" for k, v in self.params()) or "(no parameters)"


# Each field's wire name: its camelCase (``start_creation_time``: ``startCreationTime``).
WIRE_NAMES = {f.name: re.sub(r"_(\w)", lambda m: m[1].upper(), f.name) for f in fields(Query)}
PYTHON_NAMES = {wire: py for py, wire in WIRE_NAMES.items()}


class InvalidArgument(ValueError):
    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param, self.message = param, message


@dataclass(frozen=True)
class Filters:
    """What a query means. Empty parameters count as absent (API-NOTES §5)."""

    size: int = DEFAULT_SIZE
    type: str | None = None
    descending: bool = True
    states: frozenset[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    workflow_id: str | None = None
    job_id: str | None = None
    name: str | None = None
    size_requested: int = DEFAULT_SIZE

    def matches(self, job: Job) -> bool:
        """``not self.broken(job)``, without the words (the oracle's and strategies' hot loop)."""
        return (
            (self.type is None or job.type == self.type)
            and (self.states is None or job.state in self.states)
            and (self.start is None or job.created >= self.start)
            and (self.end is None or job.created <= self.end)
            and (self.workflow_id is None or self.workflow_id in job.workflow_ids)
            and (self.job_id is None or job.job_id == self.job_id)
            and (self.name is None or job.name == self.name)
        )

    def broken(self, job: Job) -> list[str]:
        """The filters ``job`` breaks, each said with its parameter (empty when it matches)."""
        out = []
        if self.type is not None and job.type != self.type:
            out.append(f"type={self.type} but Type is {job.type}")
        if self.states is not None and job.state not in self.states:
            out.append(f"states={','.join(sorted(self.states))} but State is {job.state}")
        if self.start is not None and job.created < self.start:
            out.append(f"CreationTime {job.creation_time} is before startCreationTime")
        if self.end is not None and job.created > self.end:
            out.append(f"CreationTime {job.creation_time} is after endCreationTime")
        if self.workflow_id is not None and self.workflow_id not in job.workflow_ids:
            ids = ",".join(job.workflow_ids) or "absent"
            out.append(f"workflowId={self.workflow_id} but WorkflowIds is {ids}")
        if self.job_id is not None and job.job_id != self.job_id:
            out.append(f"jobId={self.job_id} but JobId is {job.job_id}")
        if self.name is not None and job.name != self.name:
            out.append(f"name={self.name!r} but Name is {job.name!r}")
        return out


def _choice(param: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InvalidArgument(param, f"{value!r} is not one of {', '.join(allowed)}")
    return value


def parse_filters(query: Query, *, clamp_size: bool = True) -> Filters:
    """Validate a query. ``clamp_size=False`` refuses ``size`` > 100 instead of clamping it.

    Raises ``InvalidArgument`` naming the parameter. ``next_token`` is not looked at here.
    """
    q = {f.name: getattr(query, f.name) or None for f in fields(query)}
    size = DEFAULT_SIZE
    if q["size"] is not None:
        text = q["size"]
        if not (text.isascii() and text.isdigit()) or len(text) > 9:
            raise InvalidArgument("size", f"{text!r} is not a positive integer")
        size = int(text)
        if size <= 0:
            raise InvalidArgument("size", "must be at least 1")
        if size > MAX_SIZE and not clamp_size:
            raise InvalidArgument("size", f"must be at most {MAX_SIZE}")
    states = None
    if q["states"] is not None:
        parts = [_choice("states", s, ("All", *STATES)) for s in q["states"].split(",")]
        states = None if "All" in parts else frozenset(parts)
    order = q["order_by_time"] and _choice("orderByTime", q["order_by_time"], ORDERS)
    times = {}
    for key in ("start_creation_time", "end_creation_time"):
        if q[key] is not None:
            try:
                times[key] = parse_time(q[key])
            except ValueError as exc:
                raise InvalidArgument(WIRE_NAMES[key], str(exc)) from None
    return Filters(
        size=min(size, MAX_SIZE),
        size_requested=size,
        descending=order != "Asc",
        type=q["type"] and _choice("type", q["type"], TYPES),
        states=states,
        start=times.get("start_creation_time"),
        end=times.get("end_creation_time"),
        workflow_id=q["workflow_id"],
        job_id=q["job_id"],
        name=q["name"],
    )


def sort_key(job: Job) -> tuple[float, str]:
    """Order by CreationTime as an instant; ties broken by JobId (a stable secondary key)."""
    return job.created.timestamp(), job.job_id


def expected(jobs: Iterable[Job], filters: Filters) -> list[Job]:
    """The oracle: every matching job, in the order of the whole walk (all pages joined)."""
    return sorted((j for j in jobs if filters.matches(j)), key=sort_key, reverse=filters.descending)
