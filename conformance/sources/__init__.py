"""The engine's sources: run (and replay), recheck, diff; the SDK's is ``conformance.sdk.runner``."""
