"""``ci-conformance diff``: the same drawn queries to two targets over the same data."""

import os

import click

from ..client import Client
from ..engine import Engine
from ..handlers import reports
from ..signing import Credentials
from ..sources.diff import DiffSource
from ..verdicts import UsageError
from . import VERDICT_HELP, report_dir


def _credentials(values: dict, prefix: str, env: str) -> Credentials | None:
    names = ("secret_id", "secret_key", "security_token")
    sid, key, token = (values.get(prefix + n) or os.environ.get(env + n.upper()) for n in names)
    return Credentials(str(sid), str(key), token) if sid and key else None


@click.command("diff", epilog=VERDICT_HELP)
@click.option("--target", help="base URL of target A [env CI_CONFORMANCE_TARGET]")
@click.option("--target-b", help="base URL of target B [env CI_CONFORMANCE_TARGET_B]")
@click.option("--secret-id", help="SecretId for A [env COS_SECRET_ID]")
@click.option("--secret-key", help="SecretKey for A [env COS_SECRET_KEY]")
@click.option("--security-token", help="security token for A [env COS_SECURITY_TOKEN]")
@click.option("--b-secret-id", help="SecretId for B [env COS_B_SECRET_ID]; default: A's")
@click.option("--b-secret-key", help="SecretKey for B [env COS_B_SECRET_KEY]")
@click.option("--b-security-token", help="security token for B [env COS_B_SECURITY_TOKEN]")
@click.option("--max-examples", type=int, default=200, help="drawn queries")
@click.option("--seed", type=int, default=0, help="seed of the drawn queries")
@click.option("--max-seconds", type=float, default=600, help="stop drawing after this long")
@click.option("--rate-limit", type=float, help="most requests per second, to each target")
@click.option("--timeout", type=float, default=10.0, help="seconds per request")
@click.option("--max-requests", type=int, help="request budget for each target")
@click.option(
    "--allow-behaviour-change",
    is_flag=True,
    help="exit 0 when the only differences are allowed by open points",
)
@report_dir("diff.json and diff.html")
def diff(**o: object) -> int:
    """Differential run: the same hypothesis-drawn queries to target A and target B, which must
    serve the same data (checked first, by their unfiltered walks). Every difference in status,
    error code, JobIds (set and order, up to ties) and job fields is shrunk to a minimal query.
    Differences an open point allows are behaviour differences."""
    url_a = o["target"] or os.environ.get("CI_CONFORMANCE_TARGET")
    url_b = o["target_b"] or os.environ.get("CI_CONFORMANCE_TARGET_B")
    if not (url_a and url_b):
        raise UsageError("diff needs --target (A) and --target-b (B)")
    if not all(str(u).startswith(("http://", "https://")) for u in (url_a, url_b)):
        raise UsageError("--target and --target-b must start with http:// or https://")
    if (creds_a := _credentials(o, "", "COS_")) is None:
        raise UsageError(
            "target A needs --secret-id and --secret-key (or COS_SECRET_ID, COS_SECRET_KEY)"
        )
    creds_b = _credentials(o, "b_", "COS_B_") or creds_a
    clients = [Client(str(url), creds, timeout=o["timeout"], rate_limit=o["rate_limit"],
                      max_requests=o["max_requests"])
               for url, creds in ((url_a, creds_a), (url_b, creds_b))]  # type: ignore[arg-type]  # fmt: skip
    print(f"ci-conformance diff: A = {url_a}, B = {url_b}; both must serve the same data: "
          "checking that first, by their unfiltered walks", flush=True)  # fmt: skip
    handlers = reports(str(o["report_dir"]), "diff.html diff.json", progress=False)
    rerun = {"report_dir": str(o["report_dir"])} if o["report_dir"] != "reports" else {}
    source = DiffSource(*clients, o["max_examples"], o["seed"], o["max_seconds"], rerun)  # type: ignore[arg-type]
    return Engine(handlers, allow_behaviour=bool(o["allow_behaviour_change"])).run(source).exit_code
