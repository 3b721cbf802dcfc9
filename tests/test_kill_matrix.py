"""Every fault switch of the emulator is caught by the suite, in the fault's own category."""

from __future__ import annotations

import json
import time
from pathlib import Path

from conformance import killmatrix
from conformance.emulator.faults import FAULTS


def test_every_fault_is_killed_in_its_category(tmp_path: Path) -> None:
    started = time.monotonic()
    outcomes = killmatrix.run(workers=2, examples="dev")  # the CLI's default is ci
    md, js = killmatrix.write(outcomes, tmp_path, time.monotonic() - started)
    survivors = {o.fault: o.note for o in outcomes if not o.killed}
    assert survivors == {}, survivors
    data = json.loads(js.read_text())
    assert data["killed"] == data["total"] == len(FAULTS)
    for o in outcomes:
        assert o.failed_checks and all(
            c.startswith(o.category.replace("-", "_") + ".") for c in o.failed_checks
        )
        assert o.requests > 0 and o.seconds_to_first_failure is not None
    assert "SURVIVED" not in md.read_text()
