"""``ci-conformance serve``: the reference emulator over HTTP, or one SDK scenario's."""

import contextlib
import json
from itertools import zip_longest

import click

from ..emulator.app import EXAMPLE_CREDENTIALS, Behaviour, Emulator
from ..emulator.faults import describe
from ..emulator.server import EmulatorServer
from ..emulator.store import SHAPES, Store
from ..handlers.har import load_jobs
from ..options import EMULATOR_JOBS
from ..sdk import protocol, scenarios
from ..signing import Credentials
from ..verdicts import UsageError
from ..xmlmodel import XMLProblem


@click.command("serve")
@click.option("--host", default="127.0.0.1", help="address to bind (loopback only by default)")
@click.option("--port", type=int, default=9000)
@click.option(
    "--jobs",
    type=int,
    help=f"generate this many jobs into an empty store (default: as many as `run`'s, {EMULATOR_JOBS})",
)
@click.option("--seed", type=int, default=0, help="seed of the generated dataset")
@click.option(
    "--shape",
    type=click.Choice(list(SHAPES)),
    default="mixed",
    help="shape of the generated dataset",
)
@click.option(
    "--db", default=":memory:", show_default=False, help="SQLite file (default: in memory)"
)
@click.option(
    "--load",
    multiple=True,
    help="load the jobs seen in a cassette (run --record) or an XML file of JobsDetail elements, such as the pages of a walk (repeatable)",
)
@click.option(
    "--secret-id",
    "secret_ids",
    multiple=True,
    help="accept this SecretId (repeatable, each with a --secret-key)",
)
@click.option("--secret-key", "secret_keys", multiple=True, help="its SecretKey")
@click.option(
    "--security-token",
    "tokens",
    multiple=True,
    help="make the key pairs temporary credentials needing these tokens, in order",
)
@click.option("--fault", multiple=True, help="turn on a fault switch (repeatable; see list-faults)")
@click.option(
    "--behaviour",
    multiple=True,
    help="open-point choice name=value (repeatable; see list-behaviours)",
)
@click.option(
    "--visibility-lag",
    type=float,
    default=0.0,
    show_default=False,
    help="seconds before a created job shows in reads (an eventually consistent service)",
)
@click.option("--scenario", help="serve one SDK scenario (see ci-conformance sdk --list)")
@click.option("--list-faults", is_flag=True, help="the same as ci-conformance list-faults")
@click.option("--list-behaviours", is_flag=True, help="the same as ci-conformance list-behaviours")
def serve(host: str, port: int, jobs: int | None, seed: int, shape: str, db: str,
          load: tuple[str, ...], secret_ids: tuple[str, ...], secret_keys: tuple[str, ...],
          tokens: tuple[str, ...], fault: tuple[str, ...], behaviour: tuple[str, ...],
          visibility_lag: float, scenario: str | None, list_faults: bool, list_behaviours: bool) -> int:  # fmt: skip
    """Serve the reference emulator over HTTP."""
    if list_faults or list_behaviours:
        print(describe() if list_faults else Behaviour.describe().replace("; ", "\n"))
        return 0
    if scenario:
        given = {"--jobs": jobs is not None, "--load": load, "--fault": fault,
                 "--behaviour": behaviour, "--secret-id": secret_ids}  # fmt: skip
        if mixed := [flag for flag, value in given.items() if value]:
            raise UsageError(
                f"--scenario brings its own data, keys and behaviour; drop {', '.join(mixed)}"
            )
        return serve_scenario(scenario, host, port)
    if len(secret_ids) != len(secret_keys) or len(tokens) > max(1, len(secret_ids)):
        raise UsageError(
            "give each --secret-id its --secret-key, and at most one --security-token per pair"
        )
    example = (EXAMPLE_CREDENTIALS.secret_id, EXAMPLE_CREDENTIALS.secret_key)
    pairs = list(zip(secret_ids, secret_keys, strict=True)) or [example]
    credentials = [Credentials(*pair, token) for pair, token in zip_longest(pairs, tokens)]
    try:
        store = Store(db)
        if load:
            store.add(load_jobs(load), replace=True)  # the file is the newer answer
        count = EMULATOR_JOBS if jobs is None else jobs
        if count and len(store) == 0:
            store.load(count, seed, shape)
        app = Emulator(
            store, credentials, Behaviour.parse(behaviour), fault, visibility_lag=visibility_lag
        )
        server = EmulatorServer(app, host, port)
    except (ValueError, OSError, XMLProblem) as exc:
        raise UsageError(str(exc)) from None
    print(f"ci-conformance emulator at {server.url} ({len(store)} jobs)")
    keys = "--secret-id ID --secret-key KEY"  # a user's own keys are never printed
    if not secret_ids:  # the vendor's published example key, not a secret
        keys = f"--secret-id {EXAMPLE_CREDENTIALS.secret_id} --secret-key {EXAMPLE_CREDENTIALS.secret_key}"
    print(f"the suite against it: ci-conformance run --target {server.url} {keys}")
    for creds in credentials:
        temporary = " (temporary: its security token is required)" if creds.token else ""
        print(f"accepts SecretId {creds.secret_id}{temporary}")
    if fault:
        print(f"fault switches on: {', '.join(fault)}")
    if behaviour:
        print(f"open-point behaviours: {', '.join(behaviour)}")
    return _serve_forever(server)


def serve_scenario(name: str, host: str, port: int) -> int:
    """One SDK scenario's emulator, by hand, with a driver's environment and the tasks."""
    try:
        (scenario,) = scenarios.select([name])
        store, app = scenario.serve()
        server = EmulatorServer(app, host, port)  # type: ignore[arg-type]
    except (ValueError, OSError) as exc:
        raise UsageError(str(exc)) from None
    creds = scenario.credentials()
    print(
        f"ci-conformance emulator at {server.url} ({len(store)} jobs), scenario {scenario.name}: {scenario.covers}"
    )
    print("a driver's environment for it (the scenario's test keys, not secrets):")
    env = {protocol.ENDPOINT: server.url, protocol.BUCKET: scenarios.BUCKET, protocol.REGION: scenarios.REGION,
           protocol.SECRET_ID: creds.secret_id, protocol.SECRET_KEY: creds.secret_key}  # fmt: skip
    if creds.token:
        env[protocol.SECURITY_TOKEN] = creds.token
    for k, v in env.items():
        print(f"  export {k}={v}")
    print(f"tasks (each is one {protocol.TASK}; a per-task effect applies to the first request):")
    for t in scenario.build()[1]:
        print(f"  {json.dumps(t.to_json(), ensure_ascii=False)}")
    return _serve_forever(server)


def _serve_forever(server: EmulatorServer) -> int:
    print("serving; Ctrl-C stops", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0
