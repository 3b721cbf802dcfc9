"""Drivers in Python: ``python_cos_sdk`` (the official SDK) and ``reference`` (our client)."""
