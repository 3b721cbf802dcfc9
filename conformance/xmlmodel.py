"""The XML documents of the API: typed objects, safe parsing, XSD validation, serialization."""

from __future__ import annotations

import functools
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from .timefmt import parse_time

if TYPE_CHECKING:
    import xmlschema

MAX_BODY = 8 * 1024 * 1024
"""Bodies larger than this are refused before parsing (a page of 100 jobs is far smaller)."""

# An XML subtree as plain data: (tag, text) for a leaf, (tag, (children...)) for a container.
Node = tuple[str, str | tuple["Node", ...]]


class XMLProblem(ValueError):
    """A body that is not a usable document. ``kind``: too-large, hostile, malformed, invalid."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind, self.message = kind, message


@dataclass(frozen=True)
class Job:
    """One ``JobsDetail``. Times stay as written; ``created`` is the instant they name."""

    job_id: str
    type: str
    state: str
    name: str
    creation_time: str
    code: str = "Success"
    message: str = ""
    start_time: str = "-"
    end_time: str = "-"
    input: Node = ("Prefix", "input")
    operation: tuple[Node, ...] = ()

    @functools.cached_property
    def created(self) -> datetime:
        return parse_time(self.creation_time)

    @functools.cached_property
    def workflow_ids(self) -> tuple[str, ...]:
        """``Operation/WorkflowIds``, split on commas (the element's name is plural)."""
        for tag, value in self.operation:
            if tag == "WorkflowIds" and isinstance(value, str):
                return tuple(v.strip() for v in value.split(",") if v.strip())
        return ()


@dataclass(frozen=True)
class ListResponse:
    request_id: str
    jobs: tuple[Job, ...]
    next_token: str | None
    """``None`` when the element is absent, ``""`` when it is empty."""


@dataclass(frozen=True)
class ErrorDoc:
    code: str
    message: str
    request_id: str
    extra: dict[str, str] = field(default_factory=dict)
    """TraceId, Resource and anything else the server added."""


@functools.cache
def schema(name: str) -> xmlschema.XMLSchema11:
    """``list-response`` or ``error``, from the installed ``schemas/`` folder."""
    import xmlschema  # here, not at the top: a client that only parses starts 0.1 s sooner

    source = resources.files("conformance.schemas").joinpath(f"{name}.xsd")
    with resources.as_file(source) as path:
        return xmlschema.XMLSchema11(str(path))


def safe_parse(body: bytes, limit: int = MAX_BODY) -> ET.Element:
    """Parse a body from an untrusted server: bounded, no DTD, so no entities of any kind."""
    if len(body) > limit:
        raise XMLProblem("too-large", f"body of {len(body)} bytes exceeds {limit}")
    if body[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in body[:4]:
        raise XMLProblem("hostile", "UTF-16/32 documents are not accepted")
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise XMLProblem("hostile", "a DTD or entity declaration (external entities, bombs)")
    try:
        return ET.fromstring(body)
    except ET.ParseError as exc:
        raise XMLProblem("malformed", str(exc)) from None


def validate(root: ET.Element, name: str) -> list[str]:
    """Schema errors, each as ``path: reason``; empty when valid."""
    return [f"{e.path}: {e.reason}" for e in schema(name).iter_errors(root)]


_JOB_ERRORS: dict[tuple, tuple[str, ...]] = {}
_STUB_ERRORS: dict[tuple, list[str]] = {}
_ANY_STRING = frozenset({"RequestId", "NextToken"})
"""Children of Response typed xs:string: their text never changes validity."""


def _shape(el: ET.Element) -> tuple:
    """Everything validation looks at: each element's tag, attributes, text, tail and number of
    children, in document order (which, with the counts, fixes the tree)."""
    return tuple(
        (e.tag, tuple(sorted(e.attrib.items())) if e.attrib else (), e.text, e.tail, len(e))
        for e in el.iter()
    )


def _cached(cache: dict, key: tuple, compute):
    found = cache.get(key)
    if found is None:
        found = compute()
        if len(cache) > 100_000:
            cache.clear()
        cache[key] = found
    return found


VALIDATE_ALL = 500
"""Distinct jobs a process validates against the XSD one by one (all of a small target); past
them, the first of each new ``_variety`` and one in ``THEN`` of the others (a job costs a
millisecond or more: a census of 10^6 jobs would take an hour). Jobs alike but for their values
validate alike; every job's Type, State and CreationTime are read on every page anyway."""
THEN = 200
_SEEN = [0]
_VARIETIES: set[tuple] = set()


def _variety(job: Job) -> tuple:
    """What sets a job's shape apart: its type and state, which times it has, which elements
    its Input and Operation hold."""
    times = (job.start_time == "-", job.end_time == "-")
    return job.type, job.state, times, job.input[0], tuple(tag for tag, _ in job.operation)


def _validated(el: ET.Element, job: Job | None = None) -> tuple[str, ...]:
    """A JobsDetail's schema errors; of a page's ``job``, past ``VALIDATE_ALL`` only a new
    variety's or a sample's (a whole document, ``validate_list``'s, is always validated)."""
    if job is not None:
        _SEEN[0] += 1
        new = (variety := _variety(job)) not in _VARIETIES and len(_VARIETIES) < 1000
        if _SEEN[0] > VALIDATE_ALL and _SEEN[0] % THEN and not new:
            return ()
        if new:
            _VARIETIES.add(variety)
    wrapper = ET.Element("Response")
    ET.SubElement(wrapper, "RequestId")
    wrapper.append(el)
    return tuple(validate(wrapper, "list-response"))


def _job_errors(job: ET.Element) -> tuple[str, ...]:
    return _cached(_JOB_ERRORS, _shape(job), lambda: _validated(job))


def _stub_key(stub: ET.Element) -> tuple:
    """The envelope's shape, with the text of its xs:string leaves (RequestId, NextToken) left out."""
    parts = []
    for c in stub:
        plain = c.tag in _ANY_STRING and not c.attrib and not len(c)
        parts.append((c.tag, c.tail) if plain else _shape(c))
    return tuple(sorted(stub.attrib.items())), stub.text, tuple(parts)


def validate_list(root: ET.Element) -> list[str]:
    """``validate(root, "list-response")``, fast when jobs repeat across pages and walks.

    The envelope is validated with each run of JobsDetail collapsed to one known-valid job, and
    each distinct JobsDetail once on its own: together exactly the whole document's validity.
    Envelopes that differ only in their RequestId or NextToken text are validated once.
    """
    if root.tag != "Response":
        return [f"root is <{root.tag}>, not <Response>"]
    jobs = root.findall("JobsDetail")
    errors = [f"JobsDetail {n}: {e}" for n, job in enumerate(jobs, 1) for e in _job_errors(job)]
    stub = _envelope(root)
    return _cached(_STUB_ERRORS, _stub_key(stub), lambda: validate(stub, "list-response")) + errors


def _envelope(root: ET.Element) -> ET.Element:
    """The envelope: its JobsDetail runs collapsed to one known-valid job."""
    stub = ET.Element("Response", root.attrib)
    stub.text = root.text
    for child in root:
        if child.tag != "JobsDetail":
            stub.append(child)
        elif len(stub) == 0 or stub[-1].tag != "JobsDetail":
            stub.append(_placeholder())
    return stub


@functools.cache
def _placeholder() -> ET.Element:
    return ET.fromstring(job_xml(Job("b0", "Job", "Running", "x", "2022-06-27T15:23:10+0800")))


def _check(root: ET.Element, name: str, expected_root: str) -> None:
    if root.tag != expected_root:
        raise XMLProblem("invalid", f"root is <{root.tag}>, expected <{expected_root}>")
    errors = validate_list(root) if name == "list-response" else validate(root, name)
    if errors:
        raise XMLProblem("invalid", "; ".join(errors[:5]))


def node_from_element(el: ET.Element) -> Node:
    """An element as plain data (see ``Node``)."""
    if len(el):
        return el.tag, tuple([node_from_element(c) for c in el])
    return el.tag, el.text or ""


def _text(el: ET.Element, tag: str) -> str:
    child = el.find(tag)
    return "" if child is None else (child.text or "")


# JobsDetail's text elements in the vendor's order, each with its field of ``Job`` (snake_case).
TAGS = ("Code", "Type", "Message", "Name", "JobId", "State", "CreationTime", "StartTime", "EndTime")
LEAVES = tuple((tag, re.sub(r"\B([A-Z])", r"_\1", tag).lower()) for tag in TAGS)


def job_from_element(el: ET.Element) -> Job:
    first: dict[str, ET.Element] = {}
    for child in el:  # one pass (a find per field took longer); the first of each tag
        first.setdefault(child.tag, child)
    leaves = {name: first[tag].text or "" if tag in first else "" for tag, name in LEAVES}
    inp, op = first.get("Input"), first.get("Operation")
    return Job(
        **leaves,
        input=node_from_element(inp[0]) if inp is not None and len(inp) else ("Prefix", ""),
        operation=tuple([node_from_element(c) for c in op]) if op is not None else (),
    )


def parse_list(body: bytes, *, check: bool = True) -> ListResponse:
    """A list response; with ``check`` it must validate against the XSD."""
    page, errors = read_list(body)
    if check and errors:
        raise XMLProblem("invalid", "; ".join(errors[:5]))
    return page


_PLACEHOLDER = b"<JobsDetail/>"
_OPAQUE = re.compile(rb"<(RequestId|NextToken)>[^<]*</")
_RUNS = re.compile(rb"(?:<JobsDetail/>\s*)+")
_JOBS: dict[bytes, tuple[Job, tuple[str, ...]]] = {}
_ENVELOPES: dict[bytes, list[str]] = {}
_LAST: list = [None, None]  # the last body read, and what it read as


def read_list(body: bytes) -> tuple[ListResponse, list[str]]:
    """A list body as a page and its schema errors (``validate_list``'s), fast when jobs repeat
    across pages and walks: each ``JobsDetail``, as bytes, is parsed and validated once, and the
    envelope around them once per shape. The same bytes read twice in a row (the schema
    observer, then the page parser) are read once. ``XMLProblem`` when the body is not XML."""
    if _LAST[0] is body:
        return _LAST[1]
    chunks, stub = _split(body)
    root = safe_parse(stub)
    slots = root.findall("JobsDetail")
    read = None
    if (
        root.tag == "Response"
        and len(slots) == len(chunks)
        and not any(len(e) or e.text for e in slots)
    ):
        new = [c for c in chunks if c not in _JOBS]
        if len(new) > len(chunks) // 2:  # mostly new (a census): one parse of the whole body
            whole = safe_parse(body).findall("JobsDetail")
            if len(whole) == len(chunks):
                for chunk, el in zip(chunks, whole, strict=True):
                    _remember(chunk, el)
        try:
            parts = [_job(c) for c in chunks]
        except XMLProblem:
            parts = None  # a JobsDetail that only parses in its document (namespaces)
        if parts is not None:
            key = _RUNS.sub(_PLACEHOLDER, _OPAQUE.sub(rb"<\1></", stub))
            errors = list(
                _cached(_ENVELOPES, key, lambda: validate(_envelope(root), "list-response"))
            )
            errors += [f"JobsDetail {n}: {e}" for n, (_, errs) in enumerate(parts, 1) for e in errs]
            read = (_page(root, tuple(job for job, _ in parts)), errors)
    if read is None:
        root = safe_parse(body)
        jobs = tuple(job_from_element(el) for el in root.findall("JobsDetail"))
        read = (_page(root, jobs), validate_list(root))
    _LAST[:] = [body, read]
    return read


def _split(body: bytes) -> tuple[list[bytes], bytes]:
    """Each ``<JobsDetail>…</JobsDetail>`` as written, and the body with a placeholder for each
    (bytes.find: a non-greedy regex took 11 ms over a page of 100 jobs, this 0.2 ms)."""
    chunks: list[bytes] = []
    parts: list[bytes] = []
    at = 0
    while (start := body.find(b"<JobsDetail>", at)) >= 0:
        end = body.find(b"</JobsDetail>", start)
        if end < 0:
            break
        parts += (body[at:start], _PLACEHOLDER)
        at = end + len(b"</JobsDetail>")
        chunks.append(body[start:at])
    return chunks, b"".join(parts) + body[at:] if chunks else body


def _page(root: ET.Element, jobs: tuple[Job, ...]) -> ListResponse:
    token = root.find("NextToken")
    return ListResponse(
        _text(root, "RequestId"), jobs, None if token is None else (token.text or "")
    )


def _job(chunk: bytes) -> tuple[Job, tuple[str, ...]]:
    """One JobsDetail, as written: its job and its schema errors (once per distinct chunk)."""
    found = _JOBS.get(chunk)
    return found if found is not None else _remember(chunk, safe_parse(chunk))


def _remember(chunk: bytes, el: ET.Element) -> tuple[Job, tuple[str, ...]]:
    if len(_JOBS) > 20_000:
        _JOBS.clear()
    job = job_from_element(el)
    found = _JOBS[chunk] = (job, _validated(el, job))
    return found


def parse_jobs(body: bytes) -> list[Job]:
    """Every ``JobsDetail`` anywhere in a document (for loading datasets), each validated."""
    root = safe_parse(body)
    found = [root] if root.tag == "JobsDetail" else list(root.iter("JobsDetail"))
    wrapper = ET.Element("Response")
    ET.SubElement(wrapper, "RequestId")
    wrapper.extend(found)
    _check(wrapper, "list-response", "Response")
    return [job_from_element(el) for el in found]


def parse_error(body: bytes, *, check: bool = True) -> ErrorDoc:
    root = safe_parse(body)
    if check:
        _check(root, "error", "Error")
    core = ("Code", "Message", "RequestId")
    extra = {c.tag: c.text or "" for c in root if c.tag not in core}
    return ErrorDoc(*(_text(root, tag) for tag in core), extra)


def _xml(node: Node) -> str:
    tag, value = node
    inner = escape(value) if isinstance(value, str) else "".join(_xml(n) for n in value)
    return f"<{tag}>{inner}</{tag}>"


def job_xml(job: Job) -> str:
    """One ``JobsDetail`` element as text (string building: ElementTree is 10x slower here)."""
    leaves = tuple((tag, getattr(job, name)) for tag, name in LEAVES)
    return _xml(("JobsDetail", (*leaves, ("Input", (job.input,)), ("Operation", job.operation))))


DECLARATION = "<?xml version='1.0' encoding='utf-8'?>\n"


def render_list(request_id: str, jobs: list[Job], next_token: str | None) -> bytes:
    """A list response; ``next_token=None`` leaves the element out."""
    parts = [DECLARATION, "<Response>", _xml(("RequestId", request_id))]
    parts += [job_xml(j) for j in jobs]
    if next_token is not None:
        parts.append(_xml(("NextToken", next_token)))
    parts.append("</Response>")
    return "".join(parts).encode("utf-8")


def render_job(request_id: str, job: Job) -> bytes:
    """The single-job answer of get and create: ``<Response>`` with one JobsDetail."""
    return render_list(request_id, [job], None)


def render_missing(request_id: str, job_ids: list[str]) -> bytes:
    """Get's answer for IDs that do not exist: ``NonExistJobIds`` and no JobsDetail."""
    missing = "".join(_xml(("NonExistJobIds", i)) for i in job_ids)
    return f"{DECLARATION}<Response>{_xml(('RequestId', request_id))}{missing}</Response>".encode()


ERROR_ORDER = ("Code", "Message", "Resource", "RequestId", "TraceId")
"""The vendor's order of an Error's elements (COS pages); anything else comes last."""


def in_order(nodes: tuple[Node, ...], order: tuple[str, ...]) -> tuple[Node, ...]:
    """``nodes`` sorted by their tags' place in ``order``; other tags after, as they came."""
    return tuple(sorted(nodes, key=lambda n: order.index(n[0]) if n[0] in order else len(order)))


def render_error(code: str, message: str, request_id: str, **extra: str) -> bytes:
    fields = (("Code", code), ("Message", message), ("RequestId", request_id), *extra.items())
    return (DECLARATION + _xml(("Error", in_order(fields, ERROR_ORDER)))).encode("utf-8")
