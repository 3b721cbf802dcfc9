"""Every fault switch of the emulator is caught by the suite, in the fault's own category."""

from __future__ import annotations

import json
import time
from pathlib import Path

from conformance import killmatrix
from conformance.checks import REGISTRY
from conformance.emulator.faults import FAULTS

NO_FAULT = {  # the checks no fault can kill, and why
    "ordering.pinned_ties": "it enforces a --profile's pin, not a clause every target keeps: "
    "tests/test_regression.py breaks the pins with other allowed choices",
    "schema.pinned_error_extras": "the same: it enforces a --profile's pin",
}


def test_every_fault_is_killed_in_its_category(tmp_path: Path) -> None:
    started = time.monotonic()
    outcomes = killmatrix.run(workers=2, examples="dev")  # the CLI's default is ci
    md, js = killmatrix.write(outcomes, tmp_path, time.monotonic() - started)
    survivors = {o.fault: o.note for o in outcomes if not o.killed}
    assert survivors == {}, survivors
    data = json.loads(js.read_text())
    assert data["killed"] == data["total"] == len(FAULTS)
    for o in outcomes:  # killed by a check the fault names, never only by another
        assert o.failed_checks and set(o.failed_checks) <= set(FAULTS[o.fault].killed_by), o
        assert o.requests > 0 and o.seconds_to_first_failure is not None
    assert "SURVIVED" not in md.read_text()


def test_every_check_is_named_by_a_fault_or_says_why_none_can_exist() -> None:
    named = {c for f in FAULTS.values() for c in f.killed_by}
    assert named <= set(REGISTRY), named - set(REGISTRY)  # every name is a real check
    assert set(REGISTRY) - named == set(NO_FAULT), set(REGISTRY) - named - set(NO_FAULT)
    assert all(NO_FAULT.values())


def test_fault_code_sits_at_seams_not_in_string_tests() -> None:
    """No fault name is tested inside the emulator's request handling, nor in its SQL."""
    for module in ("app.py", "store.py"):
        code = (Path(__file__).parent.parent / "conformance" / "emulator" / module).read_text()
        assert not [name for name in FAULTS if f'"{name}"' in code], module
