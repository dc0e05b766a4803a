"""Benchmarks: the runner (``python -m benchmarks.run``), the methods registry and the reports."""
