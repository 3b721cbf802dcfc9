"""Jobs in the driver protocol's JSON shape: element names as keys, text as strings.

Kept free of heavy imports: the reference driver imports it once per task.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

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
