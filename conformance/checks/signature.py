"""Signature checks: valid signatures are accepted; forged, expired or tampered ones refused."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from hypothesis import strategies as st

from .. import strategies as gen
from ..query import Query
from ..session import Session, SkipCheck
from .base import (
    check,
    error_doc,
    fail,
    queries,
    query_strategy,
)

REFUSED = (401, 403)
SIG_CLAUSE = (
    "API-NOTES §4 (COS q-sign-algorithm=sha1) and §6 (401 CI codes or 403 COS codes, XML Error)"
)


@check("signature", "API-NOTES §4: a valid header signature is accepted", given=queries)
def valid_header_accepted(s: Session, query: Query) -> None:
    s.page(query)


@check(
    "signature",
    "API-NOTES §4.9: a signature may ride in the query string (presigned URL)",
    given=queries,
)
def valid_presigned_accepted(s: Session, query: Query) -> None:
    ex = s.list(query, auth=s.client.auth(presign=True))
    if ex.status != 200:
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
    "signature",
    "API-NOTES §4.3/§4.5 and §5: any value, empty or not, signs and is accepted",
    given=_odd_values,
)
def generated_values_accepted(s: Session, query: Query) -> None:
    s.page(query)


@check("signature", "HTTP header names are case-insensitive; API-NOTES §4.4 lower-cases them")
def header_case_accepted(s: Session) -> None:
    for headers in ({"X-Ci-Conformance": "Mixed Case"}, {"x-CI-conformance": "v"}):
        ex = s.send(params=[("size", "1")], headers=headers)
        if ex.status != 200:
            fail(
                f"a valid signature over header {next(iter(headers))} got HTTP {ex.status}",
                None,
                [ex],
            )


def _refused(s: Session, what: str, params=(("size", "1"),), **kw) -> None:
    ex = s.send(params=list(params), **kw)
    pinned = s.profile.get("auth_status")
    error_doc(ex, Query(size="1"), (int(pinned),) if pinned else REFUSED, f"{what} must be refused")


def _signed_with(s: Session, **changes: str | None):
    """A signer with the run's credentials changed (a wrong key, an unknown id, no token...)."""
    return s.client.auth(replace(s.client.credentials, **changes))


def _needs_token(s: Session) -> None:
    if not s.client.credentials.token:
        raise SkipCheck("needs temporary credentials (--security-token)")


def _tamper(old: str, new: str) -> Callable:
    def hook(prepared):
        if old not in prepared.url:
            raise AssertionError(f"{old} not in the URL")
        prepared.url = prepared.url.replace(old, new, 1)
        return prepared

    return hook


def _set_auth(transform: Callable[[str], str]) -> Callable:
    def hook(prepared):
        prepared.headers["Authorization"] = transform(prepared.headers["Authorization"])
        return prepared

    return hook


@check("signature", SIG_CLAUSE + ": a request without a signature is refused")
def refuses_unsigned(s: Session) -> None:
    _refused(s, "an unsigned request", auth=None)


@check("signature", SIG_CLAUSE + ": a signature made with the wrong SecretKey is refused")
def refuses_wrong_key(s: Session) -> None:
    _refused(
        s, "a wrong key", auth=_signed_with(s, secret_key=s.client.credentials.secret_key + "x")
    )


@check("signature", SIG_CLAUSE + ": an unknown SecretId is refused")
def refuses_unknown_secret_id(s: Session) -> None:
    _refused(
        s,
        "an unknown SecretId",
        auth=_signed_with(s, secret_id="AKIDconformanceUnknown0000000000000"),
    )


@check("signature", SIG_CLAUSE + "; §4.11: a signature whose window has ended is refused")
def refuses_expired(s: Session) -> None:
    _refused(
        s, "an expired signature", auth=s.client.auth(clock=lambda: time.time() - 7200, expire=600)
    )


@check("signature", SIG_CLAUSE + "; §4.11: a window starting over 15 minutes ahead is refused")
def refuses_future_window(s: Session) -> None:
    _refused(
        s, "a window starting an hour ahead", auth=s.client.auth(clock=lambda: time.time() + 3600)
    )


@check("signature", SIG_CLAUSE + ": a signed parameter changed after signing is refused")
def refuses_changed_parameter(s: Session) -> None:
    _refused(s, "a changed signed parameter", prepare_hook=_tamper("size=1", "size=2"))


@check("signature", SIG_CLAUSE + ": a signed parameter removed after signing is refused")
def refuses_removed_parameter(s: Session) -> None:
    _refused(
        s,
        "a removed signed parameter",
        params=[("size", "1"), ("orderByTime", "Desc")],
        prepare_hook=_tamper("&orderByTime=Desc", ""),
    )


@check("signature", SIG_CLAUSE + ": a signed header changed after signing is refused")
def refuses_changed_header(s: Session) -> None:
    def hook(prepared):
        prepared.headers["x-ci-conformance"] = "changed"
        return prepared

    _refused(
        s, "a changed signed header", headers={"x-ci-conformance": "signed"}, prepare_hook=hook
    )


@check("signature", SIG_CLAUSE + ": only q-sign-algorithm=sha1 is accepted")
def refuses_other_algorithm(s: Session) -> None:
    _refused(
        s,
        "q-sign-algorithm=md5",
        prepare_hook=_set_auth(
            lambda a: a.replace("q-sign-algorithm=sha1", "q-sign-algorithm=md5")
        ),
    )


@check("signature", SIG_CLAUSE + ": a malformed Authorization is refused")
def refuses_malformed(s: Session) -> None:
    for bad in ("garbage", "q-sign-algorithm=sha1&q-ak=", "Bearer abc"):
        _refused(s, f"Authorization {bad!r}", prepare_hook=_set_auth(lambda _a, bad=bad: bad))
    _refused(
        s,
        "a signature with its q-signature cut",
        prepare_hook=_set_auth(lambda a: a.rsplit("&q-signature=", 1)[0]),
    )


@check("signature", SIG_CLAUSE + "; §4.10: temporary credentials without their token are refused")
def refuses_missing_token(s: Session) -> None:
    _needs_token(s)
    _refused(s, "temporary credentials without the token", auth=_signed_with(s, token=None))


@check("signature", SIG_CLAUSE + "; §4.10: temporary credentials with a wrong token are refused")
def refuses_wrong_token(s: Session) -> None:
    _needs_token(s)
    _refused(
        s, "a wrong security token", auth=_signed_with(s, token=f"{s.client.credentials.token}x")
    )
