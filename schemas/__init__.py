"""Installed XSDs (the top-level schemas/ folder)."""
