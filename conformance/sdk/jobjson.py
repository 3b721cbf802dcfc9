"""What the judge and the reference driver share, kept free of heavy imports (the reference
driver imports it once per task): jobs in the driver protocol's JSON shape (element names as
keys, text as strings), and a signature over parameters form-encoded."""

from __future__ import annotations

import hashlib
import hmac
import xml.etree.ElementTree as ET
from dataclasses import replace

from ..signing import Signature

JSON = str | dict[str, "JSON"] | list["JSON"]


def element_json(el: ET.Element) -> JSON:
    """A leaf is its text; a container maps child names to values (a repeated name to a list)."""
    children = list(el)
    if not children:
        return el.text or ""
    out: dict[str, JSON] = {}
    for child in children:
        value = element_json(child)
        if child.tag not in out:
            out[child.tag] = value
            continue
        previous = out[child.tag]
        out[child.tag] = [*previous, value] if isinstance(previous, list) else [previous, value]
    return out


def plus_signed(sig: Signature) -> Signature:
    """``sig`` over its parameters form-encoded (a space as '+', not %20): a common mistake."""
    lines = sig.http_string.split("\n")
    lines[2] = lines[2].replace("%20", "+")
    http_string = "\n".join(lines)
    digest = hashlib.sha1(http_string.encode("utf-8")).hexdigest()
    algorithm, sign_time, *_ = sig.string_to_sign.split("\n")
    to_sign = f"{algorithm}\n{sign_time}\n{digest}\n"
    mac = hmac.new(sig.sign_key.encode(), to_sign.encode(), hashlib.sha1).hexdigest()
    return replace(sig, http_string=http_string, http_string_sha1=digest,
                   string_to_sign=to_sign, signature=mac)  # fmt: skip
