"""Shared fixtures: the emulator served over real HTTP on loopback, and a signed client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.client import Client
from conformance.emulator.app import EXAMPLE_CREDENTIALS, Emulator
from conformance.emulator.server import EmulatorServer
from conformance.emulator.store import Store, generate

SEED_JOBS = 240


@pytest.fixture(scope="session")
def dataset() -> list:
    return list(generate(SEED_JOBS, seed=7))


@pytest.fixture(scope="session")
def served(dataset) -> Iterator[EmulatorServer]:
    """A read-only emulator shared by tests that never write."""
    store = Store()
    store.add(dataset)
    with EmulatorServer(Emulator(store)) as server:
        yield server


@pytest.fixture(scope="session")
def client(served) -> Client:
    return Client(served.url, EXAMPLE_CREDENTIALS)


@pytest.fixture
def fresh(dataset) -> Iterator[EmulatorServer]:
    """An emulator of its own, for tests that write or change behaviour."""
    store = Store()
    store.add(dataset[:40])
    with EmulatorServer(Emulator(store)) as server:
        yield server
