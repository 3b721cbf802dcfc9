"""Bad-input checks: invalid values get 400 InvalidArgument; nothing gets a 5xx."""

from datetime import timedelta

from hypothesis import strategies as st

from .. import strategies as gen
from ..query import WIRE_NAMES, Query
from ..session import Session
from ..timefmt import format_time
from .base import check, data_queries, error_doc, fail, query_strategy
from .profile import pin


@check(
    "an invalid size or time gets 400 InvalidArgument as XML",
    given=query_strategy(lambda _: gen.invalid_values()),
    anchor="invalid-input",
    edges=lambda _: [Query(size=v) for v in gen.BAD_SIZES],  # zero, negative, not a number
)
def invalid_values(s: Session, query: Query) -> None:
    error_doc(s.list(query), query, (400,), query.describe(), code="InvalidArgument")


# Pairs appended to the query as they are, after signing: bad percent-encoding (a lone `%`, a
# cut escape, non-hex digits) and escapes that are not UTF-8 (Latin-1, GBK, a cut sequence).
RAW = ("name=%", "name=%4", "jobId=%zz", "name=%FF", "name=%C4%E3", "workflowId=%C3%28")
METHODS = ("GET", "GET", "DELETE", "PATCH")  # methods the API has no route for, too
# the list's path, a job's (naming no job), and one with no route at all
PATHS = (
    "/inventorytriggerjob",
    "/inventorytriggerjob/jconformancenosuchjob",
    "/inventorytriggerjob/x/y",
)
Junk = tuple[str, str, list[tuple[str, str]], str]  # method, path, parameters, a raw tail


def _junk(_: Session) -> st.SearchStrategy[Junk]:
    names = st.sampled_from(list(WIRE_NAMES.values())) | st.text(min_size=1, max_size=8)
    values = st.text(max_size=40) | st.sampled_from(
        ["%", "%%", "\x00", "9" * 40, "-0", "Running,,", ","]
    )
    pairs = st.lists(st.tuples(names, values), max_size=4)
    raw = st.sampled_from(("", *RAW))
    return st.tuples(st.sampled_from(METHODS), st.sampled_from(PATHS), pairs, raw)


@check(
    "no input, junk, bad percent-encoding or another method included, ever gets a 5xx; every error is an XML Error",
    given=_junk,
    anchor="no-5xx",
    edges=lambda _: (
        [("GET", PATHS[0], [], raw) for raw in RAW]
        + [(m, p, [], "") for m in METHODS[1:] for p in PATHS]
    ),
)
def no_5xx(s: Session, drawn: Junk) -> None:
    method, path, params, raw = drawn

    def append_raw(prepared):  # after signing
        prepared.url += ("&" if "?" in prepared.url else "?") + raw

    ex = s.send(method, path, params=params, prepare_hook=append_raw if raw else None)
    if ex.status == 501 and method != "GET":
        return  # HTTP's own answer to a method a server does not implement (RFC 9110, 15.6.2)
    if ex.status >= 500:
        appended = f", {raw} appended as sent" if raw else ""
        sent = f"{method} {path} with junk parameters{appended}"
        fail(f"HTTP {ex.status} for {sent}", Query.from_params(dict(params)), [ex])
    if ex.status >= 400:
        error_doc(ex, None, (ex.status,), "an error")


def _create(source: str, job_param: str = "") -> bytes:
    """A create body with ``source`` for its Input (and ``job_param`` in its Operation)."""
    return (
        f"<Request><Name>conformance</Name><Type>Job</Type>{source}<Operation>"
        f"<QueueId>pconformance</QueueId>{job_param}</Operation></Request>"
    ).encode()


# Create bodies a server must refuse (the first four: not XML, or no Input, which the vendor's
# create page requires), and three it may read as it likes but must never answer with a 5xx.
BAD_CREATES = (
    ("an empty body", b"", True),
    ("a body that is not XML", b"not xml", True),
    ("a root other than Request", b"<Other/>", True),
    ("no Input", _create(""), True),
    ("an empty Input", _create("<Input/>"), False),
    (
        "an Input with two sources",
        _create("<Input><Prefix>a/</Prefix><Object>b</Object></Input>"),
        False,
    ),
    (
        "a JobParam holding elements",
        _create(
            "<Input><Prefix>a/</Prefix></Input>",
            "<JobParam><TemplateId>tconformance</TemplateId></JobParam>",
        ),
        False,
    ),
)


@check(
    "an invalid create body is refused with a 4xx XML Error (not XML, or no Input), never a 5xx",
    given=lambda _: st.sampled_from(BAD_CREATES),
    anchor="no-5xx",
    edges=lambda _: list(BAD_CREATES),
)
def bad_create_refused(s: Session, drawn: tuple[str, bytes, bool]) -> None:
    what, body, must_refuse = drawn
    s.require_writes()
    ex = s.send("POST", data=body, headers={"Content-Type": "application/xml"})
    s.forget_walks()
    if ex.status >= 500 or (must_refuse and ex.status < 400):
        fail(f"HTTP {ex.status} for a create with {what}", None, [ex])
    if ex.status >= 400:
        error_doc(ex, None, (ex.status,), f"a create with {what}")


@check(
    "startCreationTime after endCreationTime gets 400 or an empty result",
    given=data_queries,
    anchor="start-after-end",
)
def start_after_end(s: Session, query: Query) -> None:
    job = s.census()[0]
    q = Query(
        start_creation_time=format_time(job.created + timedelta(seconds=1)),
        end_creation_time=format_time(job.created - timedelta(seconds=1)),
    )
    if (ex := s.list(q)).status in (200, 400):
        pin(s, "start_after_end", "empty" if ex.status == 200 else "refuse", q, ex)
    if ex.status != 200:
        error_doc(ex, q, (400,), "start after end")
    elif jobs := s.page(q).body.jobs:
        fail(f"start after end returned {len(jobs)} job(s)", q, [ex])
