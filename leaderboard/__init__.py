"""A leaderboard for pedestrian-attribute and ReID benchmarks: hidden labels, validated submissions, scored boards.

``python -m leaderboard --help`` lists the commands; ``leaderboard/README.md`` documents the formats.
The web app (``leaderboard.web``) needs the ``server`` extra.
"""

from leaderboard.benchmark import (
    BENCHMARK_PRESETS,
    Benchmark,
    BenchmarkInfo,
    attribute_benchmark,
    build_preset,
    load_benchmark,
    reid_benchmark,
    save_benchmark,
)
from leaderboard.service import InvalidSubmission, Leaderboard, default_root
from leaderboard.store import AuthenticationError, QuotaExceeded, Store
from leaderboard.submission import ValidationReport, validate_bytes, validate_file

__all__ = [
    "BENCHMARK_PRESETS",
    "AuthenticationError",
    "Benchmark",
    "BenchmarkInfo",
    "InvalidSubmission",
    "Leaderboard",
    "QuotaExceeded",
    "Store",
    "ValidationReport",
    "attribute_benchmark",
    "build_preset",
    "default_root",
    "load_benchmark",
    "reid_benchmark",
    "save_benchmark",
    "validate_bytes",
    "validate_file",
]
