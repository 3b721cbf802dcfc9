"""The checks, registered by category; importing this package registers them all, in report order."""

from . import bad_input, filters, ordering, pagination, schema, signature  # noqa: F401  (registration)
from .base import CATEGORIES, QUERY_STRATEGIES, REGISTRY, Check, check, select, unknown_names

__all__ = [
    "CATEGORIES",
    "QUERY_STRATEGIES",
    "REGISTRY",
    "Check",
    "check",
    "select",
    "unknown_names",
]
