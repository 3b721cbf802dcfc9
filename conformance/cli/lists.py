"""``explain``, ``list-checks``, ``list-faults`` and ``list-behaviours``."""

import difflib

import click

from ..checks import REGISTRY, select
from ..contract import explain as explained
from ..contract import ref
from ..emulator.app import Behaviour
from ..emulator.faults import describe
from ..verdicts import UsageError


@click.command("explain")
@click.argument("check")
def explain(check: str) -> int:
    """Print a check's clause, what it does and the open points it accepts."""
    found = REGISTRY.get(check) or next((c for c in REGISTRY.values() if c.short == check), None)
    if found is None:
        near = difflib.get_close_matches(check, sorted(REGISTRY), n=1, cutoff=0.5)
        hint = f": did you mean {near[0]}?" if near else " (see ci-conformance list-checks)"
        raise UsageError(f"no check named {check!r}{hint}")
    print(explained(found))
    return 0


@click.command("list-checks")
def list_checks() -> int:
    """List every check: name, category, contract clause."""
    width = max(len(n) for n in REGISTRY)
    anchors = max(len(ref(c.anchor)) for c in REGISTRY.values())
    for c in select():
        print(f"{c.name:<{width}}  {c.category:<11} {ref(c.anchor):<{anchors}}  {c.clause}")
    print("\nci-conformance explain CHECK prints a check's clause and the open points it accepts.")
    return 0


@click.command("list-faults")
def list_faults() -> int:
    """Describe every fault switch of the emulator."""
    print(describe())
    return 0


@click.command("list-behaviours")
def list_behaviours() -> int:
    """List the emulator's open-point choices."""
    print(Behaviour.describe().replace("; ", "\n"))
    return 0
