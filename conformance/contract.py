"""The contract the checks enforce: ``docs/contract.md``, installed as ``conformance.docs``.

A clause starts at an ``<a id="anchor"></a>`` line followed by its ``###`` title. It ends with
a *Source:* line (where its rule comes from: vendor pages or SDKs, or ``inferred: <reason>``,
separated by ``;``; the line may wrap onto the lines after it), and may add an *Open points:*
line (the choices its checks accept) and a *Relies on:* line (the clauses that must hold for it
to be checked at all). Checks name their clause by anchor; the reports, ``list-checks`` and
``explain`` read the clause from here.
"""

import functools
import re
import textwrap
from dataclasses import dataclass
from importlib import resources

from markupsafe import Markup, escape

DOC = "docs/contract.md"
_ANCHOR = re.compile(r'^<a id="([a-z0-9-]+)"></a>\s*$')
_LINK = re.compile(r"\[([^\]]+)\]\(#([a-z0-9-]+)\)")
_SOURCE, _TRAILERS = "*Source:*", ("*Source:*", "*Open points:*", "*Relies on:*")


@dataclass(frozen=True)
class Clause:
    anchor: str
    title: str
    section: str
    text: str  # the clause's markdown, without its Source, Open points and Relies on lines
    open_points: tuple[str, ...] = ()
    relies_on: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    """Where the rule comes from: a vendor page or SDK each, or ``inferred: <reason>``."""


def ref(anchor: str) -> str:
    """How reports cite a clause: the document in the repository, and the anchor."""
    return f"{DOC}#{anchor}"


def source() -> str:
    return resources.files("conformance.docs").joinpath("contract.md").read_text("utf-8")


@functools.cache
def clauses() -> dict[str, Clause]:
    """Every clause of the contract, by anchor, in document order."""
    found: dict[str, Clause] = {}
    section, anchor, lines = "", None, []

    def close() -> None:
        if anchor is None:
            return
        title = next((ln[4:].strip() for ln in lines if ln.startswith("### ")), anchor)
        body, opens, relies, source, trailer = [], (), (), [], ""
        for ln in lines:
            if ln.startswith(_TRAILERS) or (trailer and ln.strip()):  # a trailer may wrap
                trailer = next((t for t in _TRAILERS if ln.startswith(t)), trailer)
            else:
                trailer = ""
            if trailer == "*Open points:*":
                opens += tuple(a for _, a in _LINK.findall(ln))
            elif trailer == "*Relies on:*":
                relies += tuple(a for _, a in _LINK.findall(ln))
            elif trailer == _SOURCE:
                source.append(ln.removeprefix(_SOURCE).strip())
            elif not ln.startswith("### "):
                body.append(ln)
        sources = tuple(p.strip().rstrip(".") for p in " ".join(source).split(";") if p.strip())
        text = "\n".join(body).strip()
        found[anchor] = Clause(anchor, title, section, text, opens, relies, sources)

    for line in source().splitlines():
        match = _ANCHOR.match(line)
        if match or line.startswith("## "):
            close()
            anchor, lines = (match.group(1) if match else None), []
            if not match:
                section = line[3:].strip()
        elif anchor is not None:
            lines.append(line)
    close()
    return found


def clause(anchor: str) -> Clause:
    try:
        return clauses()[anchor]
    except KeyError:
        raise KeyError(f"no clause #{anchor} in {DOC}") from None


def relied_on(anchor: str) -> frozenset[str]:
    """Every clause that ``anchor`` relies on, directly or through others."""
    direct = clauses()[anchor].relies_on if anchor in clauses() else ()
    return frozenset(direct).union(*map(relied_on, direct))


def depth(anchor: str | None) -> int:
    """How far down a clause sits: 0 relies on nothing, each reliance adds one."""
    if not anchor or anchor not in clauses():
        return 0
    return max((depth(a) + 1 for a in clauses()[anchor].relies_on), default=0)


def plain(markdown: str, width: int = 96, indent: str = "  ") -> str:
    """A clause for the terminal: links as ``text (#anchor)``, paragraphs wrapped."""
    out = []
    for block in re.split(r"\n\s*\n", _LINK.sub(r"\1 (#\2)", markdown)):
        if block.lstrip().startswith(("|", "- ", "1.")):
            out.append(textwrap.indent(block, indent))
        else:
            out.append(textwrap.fill(" ".join(block.split()), width, initial_indent=indent,
                                     subsequent_indent=indent))  # fmt: skip
    return "\n\n".join(out)


def html(markdown: str, present: set[str] | None = None) -> Markup:
    """The small markdown the contract uses (paragraphs, lists, tables, code, emphasis, links
    to other clauses) as HTML, for the reports. Everything is escaped first. A link to a clause
    that is not on the page (not in ``present``) is written as its reference instead."""

    def link(m: re.Match) -> str:
        if present is None or m.group(2) in present:
            return f'<a href="#contract-{m.group(2)}">{m.group(1)}</a>'
        return f"{m.group(1)} (<code>{DOC}#{m.group(2)}</code>)"

    def inline(text: str) -> str:
        text = str(escape(text))
        text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
        text = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)
        text = re.sub(r"\*([^*]+)\*", r"<em>\1</em>", text)
        return _LINK.sub(link, text)

    parts = []
    for block in re.split(r"\n\s*\n", markdown.strip()):
        rows = block.splitlines()
        if rows[0].startswith("|"):
            cells = [[c.strip() for c in r.strip("|").split("|")] for r in rows if "---" not in r]
            tds = ["".join(f"<td>{inline(c)}</td>" for c in row) for row in cells]
            parts.append("<table>" + "".join(f"<tr>{r}</tr>" for r in tds) + "</table>")
        elif re.match(r"(- |\d+\. )", rows[0]):
            tag = "ul" if rows[0].startswith("- ") else "ol"
            items = [  # an item starts at a marker; lines that do not start one continue it
                " ".join(re.sub(r"^(- |\d+\. )", "", r.strip()) for r in item.splitlines())
                for item in re.split(r"\n(?=- |\d+\. )", block)
            ]
            parts.append(f"<{tag}>" + "".join(f"<li>{inline(i)}</li>" for i in items) + f"</{tag}>")
        else:
            parts.append(f"<p>{inline(' '.join(rows))}</p>")
    return Markup("".join(parts))  # built from escaped text


def explain(check) -> str:
    """``ci-conformance explain``: a check's clause, what it does, and the open points it
    accepts (``check`` is a registered ``Check``)."""
    import inspect

    lines = [f"{check.name}  ({check.category})", ""]
    c = clause(check.anchor) if check.anchor else None
    if c:
        lines += [f"Clause: {c.title}  [{ref(c.anchor)}]", plain(c.text), ""]
        lines += ["Source:" if len(c.sources) == 1 else "Sources:", *_sources(c.sources), ""]
    lines += ["What the check does:", plain(check.clause)]
    if doc := inspect.getdoc(check.func):
        lines.append(textwrap.indent(doc, "  "))
    if check.given is not None:
        drawn = (inspect.getdoc(check.given) or "").split("\n\n")[0]
        what = f": {drawn[0].lower()}{drawn[1:]}" if drawn else "."
        shrunk = "A failure is shrunk to the smallest failing input, which the report shows."
        lines.append(plain(f"It runs once per example that hypothesis draws{what} {shrunk}"))
    elif not doc:
        lines.append("  It runs one fixed scenario (no drawn inputs).")
    points = c.open_points if c else ()
    lines += ["", "Open points it accepts:" if points else "Open points it accepts: none."]
    for point in points:
        p = clause(point)
        lines += [f"  {p.title}  [{ref(point)}]", plain(p.text, indent="    ")]
        lines += ["    Source:", *_sources(p.sources, "      ")]
    if c and c.relies_on:
        lines += ["", "Relies on (a failure there makes this one a likely consequence):"]
        lines += [f"  {clause(a).title}  [{ref(a)}]" for a in c.relies_on]
    return "\n".join(lines)


def _sources(sources: tuple[str, ...], indent: str = "  ") -> list[str]:
    """A clause's sources for the terminal, one to a line, links as ``text (#anchor)``."""
    wrap = textwrap.TextWrapper(96, initial_indent=f"{indent}- ", subsequent_indent=f"{indent}  ")
    return [wrap.fill(_LINK.sub(r"\1 (#\2)", s)) for s in sources or ("none given",)]
