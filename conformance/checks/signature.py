"""Signature checks: valid signatures are accepted; forged, expired or tampered ones refused."""

import time
from collections.abc import Callable
from dataclasses import replace
from email.utils import parsedate_to_datetime
from urllib.parse import unquote, urlsplit

from hypothesis import strategies as st

from .. import strategies as gen
from ..client import Exchange
from ..query import Query
from ..session import Session, SkipCheck
from ..signing import AUTH_FIELDS, authorization_fields, encode
from ..xmlmodel import XMLProblem, parse_list
from .base import check, error_doc, fail, job_and, queries, query_strategy
from .profile import pin

REFUSED = (401, 403)


@check(
    "a correctly signed request is accepted (signature in Authorization)",
    given=queries,
    anchor="sig-accept",
)
def valid_header_accepted(s: Session, query: Query) -> None:
    s.page(query)


@check(
    "a signature may ride in the query string (a presigned URL)",
    given=queries,
    anchor="sig-accept",
)
def valid_presigned_accepted(s: Session, query: Query) -> None:
    if (ex := s.list(query, auth=s.client.auth(presign=True))).status != 200:
        fail(f"a valid presigned request got HTTP {ex.status}", query, [ex])


@query_strategy
def _odd_values(_: Session) -> st.SearchStrategy[Query]:
    odd = (
        st.sampled_from(["", " ", "a b", "a+b", "a/b", "100%", "~x~", "=&?#", "名字 テスト"])
        | gen.xml_text
    )
    return st.builds(
        Query,
        name=odd,  # free text: any value is a valid name (IDs may rightly be checked for form)
        workflow_id=st.sampled_from([None, ""]) | gen.vendor_ids("w"),
        job_id=st.sampled_from([None, ""]) | gen.vendor_ids("b"),
        next_token=st.just(""),
        size=st.sampled_from([None, "", "5"]),
    )


@check(
    "any parameter value, empty or not, signs and is accepted",
    given=_odd_values,
    anchor="sig-accept",
)
def generated_values_accepted(s: Session, query: Query) -> None:
    ex = s.list(query)
    # an empty number or ID may be read as absent or refused (docs/contract.md#open-empty-values)
    if empty := "" in (query.size, query.job_id, query.workflow_id):
        pin(s, "empty_values", "refuse" if ex.status == 400 else "absent", query, ex)
    if empty and ex.status == 400:
        error_doc(ex, query, (400,), "an empty size, jobId or workflowId", code="InvalidArgument")
    else:
        s.page(query)


@check("signed headers are accepted whatever the case of their names", anchor="sig-accept")
def header_case_accepted(s: Session) -> None:
    for name, value in (("X-Ci-Conformance", "Mixed Case"), ("x-CI-conformance", "v")):
        if (ex := s.send(params=[("size", "1")], headers={name: value})).status != 200:
            fail(f"a valid signature over header {name} got HTTP {ex.status}", None, [ex])


FORMS = ("header", "presigned")
TOKEN_KINDS = ("missing-token", "wrong-token")
BAD_REQUEST_KINDS = frozenset({"malformed", "algorithm", *TOKEN_KINDS})


def _refused(
    s: Session,
    kind: str,
    what: str,
    *,
    forms: tuple[str, ...] = FORMS,
    signer: dict | None = None,
    params=(("size", "1"),),
    hook: Callable | None = None,
    any_4xx: bool = False,
    **kw,
) -> None:
    """Send a request that must be refused, once per signature form.

    ``signer`` holds ``CosAuth`` arguments (``credentials``, ``clock``, ``sign_host``...);
    ``hook`` tampers with the request after signing; ``kw`` goes to ``Session.send``. Auth
    refusals are 401 or 403 with an XML Error; a malformed signature or a bad security token may
    also be a 400 (the vendor's InvalidArgument, InvalidRequest, ExpiredToken); ``any_4xx`` also
    accepts the 4xx of a server that answers a wrong method, path or host before it looks at the
    signature."""
    if kind in TOKEN_KINDS and not s.client.credentials.token:
        raise SkipCheck("needs temporary credentials (--security-token)")
    statuses = (400, *REFUSED) if kind in BAD_REQUEST_KINDS else REFUSED
    for form in forms:
        args = dict(signer or {})
        auth = None if kind == "unsigned" else s.client.auth(presign=form == "presigned", **args)
        ex = s.send(params=list(params), auth=auth, prepare_hook=hook, **kw)
        s.coverage.refused(kind, form)  # an unsigned request has the header form only
        if ex.status in REFUSED:
            pin(s, "auth_status", str(ex.status), Query(size="1"), ex)
        label = f"{what} ({form} signature)" if kind != "unsigned" else what
        if any_4xx and 400 <= ex.status < 500 and ex.status not in REFUSED:
            continue
        error_doc(ex, Query(size="1"), statuses, f"{label} must be refused")


def _credentials(s: Session, **changes: str | None) -> dict:
    """Signer arguments with the run's credentials changed (a wrong key, an unknown id...)."""
    return {"credentials": replace(s.client.credentials, **changes)}


def _tamper(old: str, new: str) -> Callable:
    """A hook that replaces ``old`` in the signed URL. (Hooks change the request in place.)"""

    def hook(prepared):
        if old not in prepared.url:
            raise AssertionError(f"{old} not in the URL")
        prepared.url = prepared.url.replace(old, new, 1)

    return hook


def _edit_signature(edit: Callable[[dict[str, str]], dict[str, str] | str]) -> Callable:
    """A hook that edits the signature's q-* fields, in the Authorization header or in the
    query string. ``edit`` returns new fields, or (header form) a whole Authorization value."""

    def hook(prepared):
        if (header := prepared.headers.get("Authorization")) is not None:
            out = edit(authorization_fields([], {"Authorization": header}))
            prepared.headers["Authorization"] = (
                out if isinstance(out, str) else "&".join(f"{k}={v}" for k, v in out.items())
            )
            return
        url = urlsplit(prepared.url)
        pairs = [p.partition("=")[::2] for p in url.query.split("&") if p]
        out = edit({k: unquote(v) for k, v in pairs if k in AUTH_FIELDS})
        if isinstance(out, str):  # a whole-header edit means nothing here: drop the signature
            out = {}
        rest = [f"{k}={v}" for k, v in pairs if k not in AUTH_FIELDS]
        query = "&".join(rest + [f"{k}={encode(v)}" for k, v in out.items()])
        prepared.url = url._replace(query=query).geturl()

    return hook


@check("a request without a signature is refused", anchor="sig-refuse")
def refuses_unsigned(s: Session) -> None:
    _refused(s, "unsigned", "an unsigned request", forms=("header",))


@check("a signature made with the wrong SecretKey is refused", anchor="sig-refuse")
def refuses_wrong_key(s: Session) -> None:
    key = s.client.credentials.secret_key + "x"
    _refused(s, "wrong-key", "a wrong key", signer=_credentials(s, secret_key=key))


@check("an unknown SecretId is refused", anchor="sig-refuse")
def refuses_unknown_secret_id(s: Session) -> None:
    unknown = _credentials(s, secret_id="AKIDconformanceUnknown0000000000000")
    _refused(s, "unknown-key", "an unknown SecretId", signer=unknown)


def _date(ex: Exchange) -> float | None:
    try:
        return parsedate_to_datetime(ex.header("Date") or "").timestamp()
    except (TypeError, ValueError):
        return None


def _clock(s: Session) -> tuple[int, int] | None:
    """The earliest and the latest the target's clock may read now (Unix seconds), from this
    machine's clock and the target's ``Date``, a second either way: a target whose clock agrees
    with either is judged fairly. ``None`` without a Date: its clock is unknown to the second."""
    date, now = _date(s.send(params=[("size", "1")])), time.time()
    return None if date is None else (int(min(now, date)) - 1, int(max(now, date + 1)) + 2)


@check(
    "a signature whose window has ended is refused: two hours ago, and a second before the target's clock",
    anchor="sig-window",
)
def refuses_expired(s: Session) -> None:
    past = {"clock": lambda: time.time() - 7200, "expire": 600}
    _refused(s, "expired", "an expired signature", signer=past)
    if clock := _clock(s):
        _refused(s, "expired", "a window that ended a second before the target's clock", signer={"window": (clock[0] - 61, clock[0] - 1)})  # fmt: skip


@check(
    "a window starting over 15 minutes ahead is refused: an hour ahead, and 15 minutes and 5 seconds ahead of the target's clock",
    anchor="sig-window",
)
def refuses_future_window(s: Session) -> None:
    ahead = {"clock": lambda: time.time() + 3600}
    _refused(s, "future", "a window starting an hour ahead", signer=ahead)
    if clock := _clock(s):
        _refused(s, "future", "a window starting 15 min 5 s ahead of the target's clock", signer={"window": (clock[1] + 905, clock[1] + 2000)})  # fmt: skip


@check(
    "windows around the target's clock are accepted: starting a second ago, now or a second ahead, started an hour ago and still open, or ending seconds from now",
    anchor="sig-window",
)
def window_edges_accepted(s: Session) -> None:
    clock, now = _clock(s), int(time.time())
    early, late = clock or (now - 1, now + 2)
    windows = {"starting a second ago": (early - 1, late + 600), "starting now": (now, late + 600),
               "starting a second ahead": (late + 1, late + 600),
               "started an hour ago, ending in an hour": (early - 3600, late + 3600),
               **({"ending a second after the target's clock": (early - 60, late + 1)} if clock else {})}  # fmt: skip
    for what, window in windows.items():
        for form in FORMS:
            ex = s.send(params=[("size", "1")], auth=s.client.auth(presign=form == "presigned", window=window))  # fmt: skip
            arrived = max(time.time(), (_date(ex) or 0) + 1) + 1  # the latest it may have come in
            if ex.status != 200 and arrived <= window[1]:  # fmt: skip
                fail(f"a window {what} ({form} signature, q-sign-time {window[0]};{window[1]}) got HTTP {ex.status}",
                     Query(size="1"), [ex])  # fmt: skip


@check("a signed parameter changed after signing is refused", anchor="sig-refuse")
def refuses_changed_parameter(s: Session) -> None:
    hook = _tamper("size=1", "size=2")
    _refused(s, "changed-parameter", "a changed signed parameter", hook=hook)


@check("a signed parameter removed after signing is refused", anchor="sig-refuse")
def refuses_removed_parameter(s: Session) -> None:
    params, hook = [("size", "1"), ("orderByTime", "Desc")], _tamper("&orderByTime=Desc", "")
    _refused(s, "removed-parameter", "a removed signed parameter", params=params, hook=hook)


@check("a signed header changed or removed after signing is refused", anchor="sig-refuse")
def refuses_changed_header(s: Session) -> None:
    def changed(prepared):
        prepared.headers["x-ci-conformance"] = "changed"

    def removed(prepared):  # as a proxy that drops headers it does not know would
        del prepared.headers["x-ci-conformance"]

    for kind, hook in (("changed-header", changed), ("removed-header", removed)):
        what = f"a {kind.split('-')[0]} signed header"
        _refused(s, kind, what, headers={"x-ci-conformance": "signed"}, hook=hook)


@check("only q-sign-algorithm=sha1 is accepted", anchor="sig-refuse")
def refuses_other_algorithm(s: Session) -> None:
    md5 = _edit_signature(lambda f: {**f, "q-sign-algorithm": "md5"})
    _refused(s, "algorithm", "q-sign-algorithm=md5", hook=md5)


@check("a malformed signature is refused", anchor="sig-refuse")
def refuses_malformed(s: Session) -> None:
    for bad in ("garbage", "q-sign-algorithm=sha1&q-ak=", "Bearer abc"):
        whole = _edit_signature(lambda _f, bad=bad: bad)
        _refused(s, "malformed", f"Authorization {bad!r}", forms=("header",), hook=whole)
    edits = {
        "a signature with its q-signature cut": lambda f: {
            k: v for k, v in f.items() if k != "q-signature"
        },
        "an empty q-ak": lambda f: {**f, "q-ak": ""},
        "q-sign-time 'soon'": lambda f: {**f, "q-sign-time": "soon", "q-key-time": "soon"},
    }
    for what, edit in edits.items():
        _refused(s, "malformed", what, hook=_edit_signature(edit))


@check("temporary credentials without their token are refused", anchor="sig-temporary")
def refuses_missing_token(s: Session) -> None:
    without = _credentials(s, token=None)
    _refused(s, "missing-token", "temporary credentials without the token", signer=without)


@check("temporary credentials with a wrong token are refused", anchor="sig-temporary")
def refuses_wrong_token(s: Session) -> None:
    wrong = _credentials(s, token=f"{s.client.credentials.token}x")
    _refused(s, "wrong-token", "a wrong security token", signer=wrong)


@check("a signature made for another method is refused", anchor="sig-refuse")
def refuses_other_method(s: Session) -> None:
    def as_get(prepared):
        prepared.method = "GET"

    what = "a signature made for PUT, sent as GET"
    _refused(s, "other-method", what, method="PUT", hook=as_get, any_4xx=True)


@check("a signature made for another path is refused", anchor="sig-refuse")
def refuses_other_path(s: Session) -> None:
    jobs = s.census()
    job_id = jobs[0].job_id if jobs else "b" + "0" * 32
    list_path, job_path = "/inventorytriggerjob", s.job_path(job_id)

    for signed, sent in ((list_path, job_path), (job_path, list_path)):

        def to(prepared, sent=sent):
            prepared.url = urlsplit(prepared.url)._replace(path=sent).geturl()

        what = f"a signature for {signed[:40]}, sent to {sent[:40]}"
        _refused(s, "other-path", what, path=signed, params=(), hook=to, any_4xx=True)


@check("a signature made for another host is refused", anchor="sig-refuse")
def refuses_other_host(s: Session) -> None:
    def host(prepared):
        prepared.headers["Host"] = "other-host.invalid"

    signer = {"sign_host": "other-host.invalid"}
    _refused(s, "other-host", "a signature for another host", signer=signer, any_4xx=True)
    _refused(s, "other-host", "a Host header changed after signing", hook=host, any_4xx=True)


@check(
    "a repeated parameter whose extra value was not signed never takes effect (HTTP parameter pollution): the request is refused or answered as signed",
    given=lambda s: job_and(s, FORMS, ["append", "prepend"], at_least=2),
    anchor="sig-repeated-parameters",
)
def unsigned_duplicate_ignored(s: Session, drawn) -> None:
    job, form, where = drawn
    other = "Workflow" if job.type == "Job" else "Job"
    for signed, extra, broken in (
        ([("size", "1")], "size=7", lambda jobs: len(jobs) > 1),
        ([("type", job.type), ("size", "20")], f"type={other}", lambda jobs: any(j.type != job.type for j in jobs)),
    ):  # fmt: skip

        def pollute(prepared, extra=extra):
            url = urlsplit(prepared.url)
            query = f"{url.query}&{extra}" if where == "append" else f"{extra}&{url.query}"
            prepared.url = url._replace(query=query).geturl()

        ex = s.send(
            params=signed, auth=s.client.auth(presign=form == "presigned"), prepare_hook=pollute
        )
        s.coverage.refused("polluted-parameter", form)
        shown = Query.from_params(dict(signed))
        if 400 <= ex.status < 500:
            continue
        if ex.status != 200:
            fail(f"HTTP {ex.status} for a polluted request ({extra} {where}ed)", shown, [ex])
        try:
            jobs = parse_list(ex.body, check=False).jobs
        except XMLProblem as exc:
            fail(f"the answer to a polluted request is not usable XML: {exc}", shown, [ex])
        if broken(jobs):
            said = f"the unsigned {extra} ({where}ed to a request signed with {shown.describe()})"
            fail(
                f"{said} took effect: {len(jobs)} job(s) came back ({form} signature)", shown, [ex]
            )
