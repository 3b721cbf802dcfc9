"""What the official SDKs are run on in the tests, and what each is known to get wrong.

Every scenario, with few tasks each (the full run is ``ci-conformance sdk``). A known finding is
a real deviation of that SDK from the contract, listed in the README and in the baseline shipped
for it (``drivers/*.known``, for ``sdk --known``); the tests assert the sample's findings are
exactly the baseline's, so a change of the SDK (or of the judge, or of the baseline) shows.
"""

from __future__ import annotations

from pathlib import Path

from conformance.results import Failure
from conformance.sdk import known, runner, scenarios

DRIVERS = Path(__file__).resolve().parents[1] / "drivers"
SAMPLE = [
    "baseline/walk-filtered",
    "baseline/walk-empty-params",
    "baseline/create",
    "baseline/cancel",
    "baseline/walk-name-case",
    "baseline/walk-name-padded",
    "last-token-absent/walk-all",
    "empty-final-page/walk-all",
    "size-clamped/walk-size-150",
    "size-refused/page-size-150",
    "auth-401-ci/wrong-key",
    "auth-403-cos/wrong-key",
    "get-missing-200/get-missing",
    "pretty-xml/walk-all",
    "extra-elements/walk-all",
    "single-jobsdetail/walk-size-1",
    "escaped-names/walk-name-0",
    "non-ascii-names/walk-name-4",
    "creation-time-ties/walk-ties-desc",
    "creation-time-ties/page-ties",
    "slowdown-503/get",
    "slowdown-mid-walk/walk-all",
    "slow-first-byte/get",
    "slow-mid-walk/walk-all",
    "error-ids/get-missing",
    "temporary-credentials/get",
    "opaque-tokens/walk-all",
]


def check(driver: str, baseline: str, sdk: dict[str, str]) -> None:
    """Run the sample: every task passes but for the baseline's findings, which are exactly
    those its entries for the sample name (the rule and the words); the driver names the SDK."""
    entries = known.read(str(DRIVERS / baseline))
    results = runner.run(driver, scenarios.select(), SAMPLE, workers=2)
    assert {r.scenario for r in results} == set(scenarios.SCENARIOS)
    assert len(results) == len(SAMPLE) and all(r.outcome != "skipped" for r in results)
    assert {r.check: r.output.sdk for r in results} == dict.fromkeys(SAMPLE, sdk)
    found = {(r.check, f.rule, f.message) for r in results for f in r.findings}
    matched = {(c, k) for c, rule, message in found for k in entries
               if k.matches(c, Failure(c, "", message, rule=rule))}  # fmt: skip
    assert {c for c, _, _ in found} - {c for c, _ in matched} == set(), found
    assert len(matched) == len(found), found
    assert {k for _, k in matched} == {k for k in entries if k.task in SAMPLE}, (matched, entries)
