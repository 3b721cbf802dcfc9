"""The engine's handlers: terminal, JSON, JUnit, HTML, HAR and profile."""

from pathlib import Path
from typing import Any

from ..engine import Handler
from .files import JsonHandler, JUnitHandler
from .html import HtmlHandler
from .terminal import TerminalHandler


def reports(folder: str | Path, names: str, junit: tuple = (), **terminal: Any) -> list[Handler]:
    """A command's reports: a handler for each file of ``names`` in ``folder`` (by its suffix:
    .html, .json, JUnit's .xml with ``junit`` arguments), then the terminal's, which names them."""
    files = [Path(folder) / name for name in names.split()]
    kinds = {".html": HtmlHandler, ".json": JsonHandler, ".xml": lambda f: JUnitHandler(f, *junit)}
    handlers = [kinds[f.suffix](f) for f in files]
    return [*handlers, TerminalHandler([str(f) for f in files], **terminal)]
