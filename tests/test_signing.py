"""The signer against the published vectors and the official SDK; the verifier's refusals."""

from __future__ import annotations

import json
import types
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from qcloud_cos import CosConfig, cos_auth
from requests.structures import CaseInsensitiveDict

from conformance.signing import (
    CosAuth,
    Credentials,
    Reason,
    canonical,
    sign,
    split_query,
    verify,
)

VECTORS = json.loads((Path(__file__).parent / "data" / "signing_vectors.json").read_text("utf-8"))
NOW = 1_700_000_000
CREDS = Credentials("AKIDexample", "secret-key-example")
TEMP = Credentials("AKIDtemp", "temp-key", token="session-token-1")
URL = "http://examplebucket-1250000000.ci.ap-beijing.myqcloud.com/inventorytriggerjob"


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["name"])
def test_published_vectors(vector: dict) -> None:
    sig = sign(
        vector["secret_key"],
        vector["method"],
        vector["path"],
        [tuple(p) for p in vector["params"]],
        [tuple(h) for h in vector["headers"]],
        vector["key_time"],
    )
    for name, value in vector["expected"].items():
        assert getattr(sig, name) == value, name
    # The published vectors sign with the header form: the Authorization carries both lists.
    auth = sig.authorization(vector["secret_id"])
    assert f"q-header-list={vector['expected']['header_list']}" in auth
    assert auth.endswith(f"q-signature={vector['expected']['signature']}")


def test_canonical_encoding_rules() -> None:
    names, text = canonical([("B", "a b+c/d%~"), ("a", ""), ("名", "值")])
    assert names == "%e5%90%8d;a;b"
    assert text == "%e5%90%8d=%E5%80%BC&a=&b=a%20b%2Bc%2Fd%25~"


def test_split_query_refuses_bad_encoding() -> None:
    assert split_query("a=1+2&b=%2B&c") == [("a", "1 2"), ("b", "+"), ("c", "")]
    for raw in ("a=%", "a=%zz", "a=%ff"):
        with pytest.raises(ValueError):
            split_query(raw)


# --- the official SDK, byte for byte -------------------------------------------------------

param_names = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="&=#"), min_size=1, max_size=8
)
param_values = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12) | st.sampled_from(
    ["", " ", "a b", "+", "/", "%", "~", "%20", "a+b=c&d"]
)
header_values = st.from_regex(r"[!-~]([ -~]{0,15}[!-~])?", fullmatch=True) | st.just("")


def _unique_by_encoded_name(pairs: dict[str, str]) -> dict[str, str]:
    seen: dict[str, str] = {}
    for k, v in pairs.items():
        seen.setdefault(canonical([(k, "")])[0], (k, v))  # type: ignore[arg-type]
    return dict(seen.values())  # type: ignore[arg-type]


def _sdk_authorization(prepared: requests.PreparedRequest, params: dict[str, str]) -> str:
    conf = CosConfig(Region="ap-beijing", SecretId=CREDS.secret_id, SecretKey=CREDS.secret_key)
    frozen = types.SimpleNamespace(time=lambda: NOW)
    original, cos_auth.time = cos_auth.time, frozen
    try:
        sdk = cos_auth.CosS3Auth(conf, "inventorytriggerjob", params=params, expire=10000)
        return sdk(prepared.copy()).headers["Authorization"]
    finally:
        cos_auth.time = original


@settings(max_examples=150, deadline=None)
@given(
    params=st.dictionaries(param_names, param_values, max_size=6).map(_unique_by_encoded_name),
    headers=st.dictionaries(
        st.from_regex(r"[Xx]-(cos|CI|ci|Cos)-[a-zA-Z0-9-]{1,8}", fullmatch=True),
        header_values,
        max_size=3,
    ).map(_unique_by_encoded_name),
    other=header_values,
)
def test_authorization_equals_official_sdk(
    params: dict[str, str], headers: dict[str, str], other: str
) -> None:
    prepared = requests.Request(
        "GET",
        URL,
        params=params,
        headers={**headers, "X-Unsigned": other, "Content-Type": "text/xml"},
    ).prepare()
    ours = CosAuth(CREDS, clock=lambda: NOW)(prepared.copy()).headers["Authorization"]
    assert ours == _sdk_authorization(prepared, params)


# --- sign, then verify ---------------------------------------------------------------------


def _received(prepared: requests.PreparedRequest, host: str | None = None):
    url = urlsplit(prepared.url)
    headers = CaseInsensitiveDict(prepared.headers)
    headers.setdefault("Host", host or url.netloc)
    return prepared.method, unquote(url.path), split_query(url.query), headers


def _check(prepared: requests.PreparedRequest, creds=CREDS, now=NOW, host=None):
    method, path, params, headers = _received(prepared, host)
    lookup = {c.secret_id: c for c in (CREDS, TEMP)}.get
    return verify(method, path, params, headers, lookup, now)


def _signed(params=None, creds=CREDS, *, presign=False, clock=NOW, url=URL, headers=None):
    req = requests.Request("GET", url, params=params or {}, headers=headers or {}).prepare()
    return CosAuth(creds, clock=lambda: clock, presign=presign)(req)


@settings(max_examples=100, deadline=None)
@given(params=st.dictionaries(param_names, param_values, max_size=5), presign=st.booleans())
def test_sign_verify_round_trip(params: dict[str, str], presign: bool) -> None:
    params = {k: v for k, v in params.items() if not k.startswith("q-")}
    verdict = _check(_signed(params, presign=presign))
    assert verdict.accepted, verdict
    assert verdict.secret_id == CREDS.secret_id


def test_host_signed_with_or_without_port() -> None:
    url = "http://127.0.0.1:8080/inventorytriggerjob"
    bare = _signed({"size": "5"}, url=url, headers={"Host": "b-1.ci.ap-beijing.myqcloud.com"})
    assert _check(bare, host="b-1.ci.ap-beijing.myqcloud.com:8080").accepted
    with_port = requests.Request("GET", url, params={"size": "5"}).prepare()
    CosAuth(CREDS, clock=lambda: NOW, sign_host="127.0.0.1:8080")(with_port)
    assert _check(with_port, host="127.0.0.1:8080").accepted
    assert _check(with_port, host="127.0.0.1:9090").refusal is Reason.MISMATCH
    assert _check(with_port, host="127.0.0.2:8080").refusal is Reason.MISMATCH


def _tamper_url(prepared, old: str, new: str):
    prepared.url = prepared.url.replace(old, new, 1)
    return prepared


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda p: _tamper_url(p, "size=5", "size=6"), Reason.MISMATCH),
        (lambda p: _tamper_url(p, "size=5&", ""), Reason.ABSENT_SIGNED_PART),
        (lambda p: _tamper_url(p, "inventorytriggerjob", "inventorytriggerjob/x"), Reason.MISMATCH),
        (lambda p: setattr(p, "method", "PUT") or p, Reason.MISMATCH),
        (lambda p: p.headers.__setitem__("x-cos-meta", "other") or p, Reason.MISMATCH),
        (lambda p: p.headers.pop("x-cos-meta") and p, Reason.ABSENT_SIGNED_PART),
        (lambda p: p.headers.pop("Authorization") and p, Reason.MISSING),
        (
            lambda p: p.headers.__setitem__("Authorization", "q-sign-algorithm=sha1&x") or p,
            Reason.MALFORMED,
        ),
        (
            lambda p: (
                p.headers.__setitem__(
                    "Authorization", p.headers["Authorization"].replace("=sha1", "=md5")
                )
                or p
            ),
            Reason.UNSUPPORTED_ALGORITHM,
        ),
        (
            lambda p: (
                p.headers.__setitem__(
                    "Authorization", p.headers["Authorization"].replace("AKIDexample", "AKIDother")
                )
                or p
            ),
            Reason.UNKNOWN_SECRET_ID,
        ),
    ],
    ids=[
        "param-value",
        "param-removed",
        "path",
        "method",
        "header-value",
        "header-removed",
        "no-auth",
        "malformed",
        "algorithm",
        "unknown-id",
    ],
)
def test_any_single_change_is_refused(mutate, reason: Reason) -> None:
    prepared = _signed({"size": "5", "type": "Job"}, headers={"x-cos-meta": "v"})
    assert _check(prepared).accepted
    verdict = _check(mutate(prepared))
    assert verdict.refusal is reason, verdict


def test_wrong_key_is_a_mismatch() -> None:
    forged = _signed({"size": "5"}, creds=Credentials(CREDS.secret_id, "not-the-key"))
    assert _check(forged).refusal is Reason.MISMATCH


@pytest.mark.parametrize(
    ("signed_at", "reason"),
    [
        (NOW - 10000 - 61, Reason.EXPIRED),  # the window [t-60, t+10000] ended a second ago
        (NOW + 15 * 60 + 61, Reason.NOT_YET_VALID),  # starts 15 minutes and a second ahead
        (NOW + 14 * 60, None),  # a skew under 15 minutes is fine
    ],
)
def test_signature_window(signed_at: int, reason: Reason | None) -> None:
    assert _check(_signed({"size": "5"}, clock=signed_at)).refusal is reason


@pytest.mark.parametrize("presign", [False, True])
def test_temporary_credentials_need_their_token(presign: bool) -> None:
    prepared = _signed({"size": "5"}, creds=TEMP, presign=presign)
    assert _check(prepared).accepted
    if presign:
        missing = _tamper_url(
            _signed({"size": "5"}, creds=TEMP, presign=True),
            "&x-cos-security-token=session-token-1",
            "",
        )
        wrong = _tamper_url(prepared, "session-token-1", "session-token-2")
    else:
        missing = _signed({"size": "5"}, creds=Credentials(TEMP.secret_id, TEMP.secret_key))
        wrong = prepared
        wrong.headers["x-cos-security-token"] = "session-token-2"  # both sent, one wrong
    assert _check(missing).refusal is Reason.TOKEN_MISSING
    assert _check(wrong).refusal is Reason.TOKEN_WRONG


def test_credentials_repr_hides_secrets() -> None:
    assert "secret-key-example" not in repr(CREDS)
    assert "session-token-1" not in repr(TEMP)
