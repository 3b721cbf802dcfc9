"""Time per page of the emulator over real HTTP (keep-alive), shallow and deep in a walk.

    python benchmarks/page_latency.py --jobs 1000 1000000

Not a test: it prints figures for the README. Deep = a NextToken taken from a walk position
near the end (the 95th percentile of the ordering), which keyset pagination serves with one
index seek.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

from conformance.client import Client
from conformance.emulator.app import EXAMPLE_CREDENTIALS, Emulator
from conformance.emulator.server import EmulatorServer
from conformance.emulator.store import Matching, Store
from conformance.query import Filters, Query
from conformance.xmlmodel import parse_list


def deep_token(app: Emulator, filters: Filters, fraction: float) -> str:
    """The token the emulator would issue after the job at ``fraction`` of the walk."""
    from conformance.emulator.app import _fingerprint

    order = Matching().ordering(filters.descending, filters.descending)
    _, keys = app.store.page(filters, order, 1, None, int(app.store.count(filters) * fraction))
    return app._make_token(keys[0], _fingerprint(filters))


def measure(client: Client, query: Query, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        ex = client.list(query)
        times.append(time.perf_counter() - t)
        assert ex.status == 200, ex.body[:300]
        assert parse_list(ex.body, check=False).jobs
    return statistics.median(times) * 1000, max(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, nargs="+", default=[1000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    print("| jobs | query | position | median ms/page | max ms |")
    print("|---:|---|---|---:|---:|")
    for n in args.jobs:
        store = Store()
        t = time.perf_counter()
        store.load(n, seed=1)
        load = time.perf_counter() - t
        app = Emulator(store)
        with EmulatorServer(app) as server:
            client = Client(server.url, EXAMPLE_CREDENTIALS)
            cases = [
                ("size=10", Query(size="10"), Filters(size=10)),
                ("size=100", Query(size="100"), Filters(size=100)),
                (
                    "size=100&states=Running,Failed",
                    Query(size="100", states="Failed,Running"),
                    Filters(size=100, states=frozenset({"Running", "Failed"})),
                ),
                (
                    "size=10&type=Job",
                    Query(size="10", type="Job"),
                    Filters(size=10, type="Job"),
                ),
                (
                    "size=10&orderByTime=Asc",
                    Query(size="10", order_by_time="Asc"),
                    Filters(size=10, descending=False),
                ),
            ]
            for label, query, filters in cases:
                shallow = measure(client, query, args.repeat)
                token = deep_token(app, filters, 0.95)
                deep = measure(client, replace(query, next_token=token), args.repeat)
                print(f"| {n:,} | {label} | first page | {shallow[0]:.2f} | {shallow[1]:.1f} |")
                print(f"| {n:,} | {label} | 95% deep | {deep[0]:.2f} | {deep[1]:.1f} |")
            # keep-alive throughput of the smallest page
            t = time.perf_counter()
            for _ in range(1000):
                client.list(Query(size="1"))
            rate = 1000 / (time.perf_counter() - t)
        print(
            f"\n{n:,} jobs: generated and loaded in {load:.1f} s; {rate:,.0f} requests/s "
            "(size=1, one keep-alive connection)\n"
        )
        store.close()


if __name__ == "__main__":
    main()
