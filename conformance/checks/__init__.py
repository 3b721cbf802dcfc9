"""The checks, registered by category; importing this package registers them all, in report order."""

from . import bad_input, filters, model, ordering, pagination, profile, schema, signature  # noqa: F401
from .base import (
    CATEGORIES,
    EXCHANGE_OBSERVERS,
    PAGE_OBSERVERS,
    QUERY_STRATEGIES,
    REGISTRY,
    Check,
    check,
    select,
    unknown_names,
)

__all__ = [
    "CATEGORIES",
    "EXCHANGE_OBSERVERS",
    "PAGE_OBSERVERS",
    "QUERY_STRATEGIES",
    "REGISTRY",
    "Check",
    "check",
    "select",
    "unknown_names",
]
