"""Performance benchmarks (``python -m benchmarks.perf.<name>``): timings and memory of library hot paths."""
