"""Fault switches: each turns on one deliberate defect, to prove that the suite catches it.

``category`` names the suite's check category that must report the fault. ``needs_writes``
marks a fault that only shows while jobs are created during a walk.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    name: str
    category: str
    description: str
    needs_writes: bool = False


FAULTS: dict[str, Fault] = {
    f.name: f
    for f in [
        # signature checking
        Fault("sig-accept-anything", "signature", "accepts every request, signed or not"),
        Fault("sig-accept-expired", "signature", "accepts signatures whose window has ended"),
        Fault("sig-accept-future", "signature", "accepts windows starting over 15 minutes ahead"),
        Fault(
            "sig-ignore-secret-id",
            "signature",
            "accepts an unknown SecretId signed with any known key",
        ),
        Fault("sig-skip-absent-params", "signature", "accepts a signed parameter that is absent"),
        Fault(
            "sig-reject-empty-or-space",
            "signature",
            "refuses valid signatures over empty or space-holding values",
        ),
        Fault("sig-ignore-token", "signature", "never checks the security token"),
        Fault("sig-ignore-algorithm", "signature", "accepts any q-sign-algorithm"),
        Fault("sig-presign-ignore-expiry", "signature", "presigned URLs never expire"),
        Fault("sig-presign-ignore-token", "signature", "presigned URLs need no security token"),
        Fault("sig-method-unbound", "signature", "accepts a signature made for another method"),
        Fault(
            "sig-path-unbound",
            "signature",
            "checks every signature against /inventorytriggerjob, whatever the path",
        ),
        Fault(
            "sig-host-unbound",
            "signature",
            "checks signatures against its own address, not the Host sent",
        ),
        Fault(
            "sig-param-pollution",
            "signature",
            "a repeated parameter: its first value is verified, its last one used",
        ),
        # pagination
        Fault("page-skip-boundary", "pagination", "skips the first job of every later page"),
        Fault("page-repeat-boundary", "pagination", "repeats the last job of the previous page"),
        Fault("page-endless-token", "pagination", "the last page still carries a token, forever"),
        Fault("page-size-ignored", "pagination", "always returns up to 10 jobs"),
        Fault("page-size-cap-50", "pagination", "caps size at 50 instead of 100"),
        Fault("page-size-uncapped", "pagination", "returns more than 100 jobs for size > 100"),
        Fault("page-default-size-20", "pagination", "defaults size to 20"),
        Fault(
            "page-size-off-at-some-sizes",
            "pagination",
            "sizes 41 to 60 give one job fewer while more follow",
        ),
        Fault("page-size-not-kept", "pagination", "later pages use the default size 10"),
        Fault(
            "create-evicts-oldest",
            "pagination",
            "a created job takes the place of the oldest (a store of fixed size): a walk during creations loses jobs",
            needs_writes=True,
        ),
        Fault("page-drop-filters", "pagination", "later pages drop every filter"),
        Fault("page-bad-token-500", "pagination", "answers an unknown token with 500"),
        Fault("page-bad-token-restart", "pagination", "answers an unknown token with page one"),
        # ordering
        Fault("order-asc-ignored", "ordering", "orderByTime=Asc returns Desc"),
        Fault("order-default-asc", "ordering", "the default order is Asc"),
        Fault("order-by-job-id", "ordering", "sorts by JobId instead of CreationTime"),
        Fault(
            "order-by-local-time",
            "ordering",
            "sorts by the written wall-clock time, not the instant",
        ),
        # filters
        Fault("filter-type-ignored", "filters", "ignores type"),
        Fault("filter-states-first-only", "filters", "uses only the first of several states"),
        Fault("filter-states-ignored", "filters", "ignores states"),
        Fault(
            "filter-offset-ignored",
            "filters",
            "compares time bounds as wall-clock, ignoring offsets",
        ),
        Fault("filter-exclusive-bounds", "filters", "time bounds are exclusive"),
        Fault("filter-start-ignored", "filters", "ignores startCreationTime"),
        Fault("filter-end-ignored", "filters", "ignores endCreationTime"),
        Fault("filter-name-substring", "filters", "name matches substrings"),
        Fault("filter-name-case-insensitive", "filters", "name matches without regard to case"),
        Fault("filter-workflow-ignored", "filters", "ignores workflowId"),
        Fault("filter-job-id-ignored", "filters", "ignores jobId"),
        Fault("filter-id-prefix", "filters", "jobId and workflowId match IDs they are a prefix of"),
        Fault("filter-job-id-overrides", "filters", "with jobId, every other filter is ignored"),
        Fault(
            "filter-unknown-ignored",
            "filters",
            "unknown type, states or orderByTime values are silently ignored",
        ),
        # response format
        Fault("fmt-missing-request-id", "schema", "leaves RequestId out of list responses"),
        Fault("fmt-bad-state-text", "schema", "writes State in lower case"),
        Fault("fmt-time-without-offset", "schema", "writes CreationTime without its offset"),
        Fault("fmt-wrong-content-type", "schema", "answers with Content-Type text/plain"),
        Fault("fmt-unescaped-xml", "schema", "writes names without XML escaping"),
        Fault("fmt-no-request-id-header", "schema", "sends no x-ci-request-id header"),
        # errors
        Fault("err-500-on-bad-input", "bad-input", "answers invalid parameter values with 500"),
        Fault(
            "err-200-on-bad-input",
            "bad-input",
            "answers invalid size values with 200, ignoring them",
        ),
        Fault("err-non-xml-body", "bad-input", "error bodies are JSON, not XML"),
        # writes, then reads
        Fault(
            "model-create-lost", "model", "every third created job is acknowledged, never stored"
        ),
        Fault(
            "model-missing-under-states",
            "model",
            "lists filtered by states miss jobs created after start-up (a stale index)",
        ),
        Fault("model-cancel-not-listed", "model", "lists show a cancelled job in its old state"),
        Fault(
            "get-missing-empty",
            "model",
            "get of an unknown ID answers 200 with neither a job nor NonExistJobIds",
        ),
    ]
}


def check_names(names: list[str]) -> frozenset[str]:
    unknown = [n for n in names if n not in FAULTS]
    if unknown:
        raise ValueError(f"unknown fault(s): {', '.join(unknown)}; see ci-conformance list-faults")
    return frozenset(names)


def describe() -> str:
    width = max(len(n) for n in FAULTS)
    return "\n".join(
        f"{f.name:<{width}}  [{f.category}] {f.description}"
        + (" (needs --allow-writes)" if f.needs_writes else "")
        for f in FAULTS.values()
    )
