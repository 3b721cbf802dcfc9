"""Conformance suite for Tencent Cloud CI's Pulling Jobs in Batches (GET /inventorytriggerjob)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ci-jobs-conformance")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"
