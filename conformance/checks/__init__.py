"""The checks, registered by category; importing this package registers them all, in report order."""

from . import bad_input, filters, model, ordering, pagination, profile, schema, signature  # noqa: F401
from .base import (  # noqa: F401 (re-exported for sources and the CLI)
    EXCHANGE_OBSERVERS,
    PAGE_OBSERVERS,
    QUERY_STRATEGIES,
    REGISTRY,
    Check,
    select,
    unknown_names,
)
