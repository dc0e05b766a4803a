"""Plumbing shared by the baselines: their result type, config overrides, the images a run touches."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from pa100k.attribute_set import AttributeSet

logger = logging.getLogger(__name__)

C = TypeVar("C")


class ForeignWeightsError(ValueError):
    """A weights file that holds another architecture than the one asked for (no matching layer names)."""


@dataclass
class BaselineResult:
    """Val and test probabilities (N, A) in split order, per-epoch history, timings and notes of one baseline run."""

    val_scores: np.ndarray
    test_scores: np.ndarray
    history: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    checkpoint: Path | None = None


@contextmanager
def timed(timings: dict[str, float], key: str) -> Iterator[None]:
    """Add the seconds spent in the block to ``timings[key]``."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        timings[key] = timings.get(key, 0.0) + time.perf_counter() - t0


def check_splits(data: AttributeSet, splits: tuple[str, ...] = ("train", "val", "test")) -> None:
    """Raise a ValueError naming the splits a baseline needs that ``data`` lacks or leaves empty."""
    missing = [s for s in splits if s not in data.splits or len(data.splits[s]) == 0]
    if missing:
        raise ValueError(
            f"{data.dataset or 'AttributeSet'}: the baselines need non-empty {', '.join(splits)} splits; "
            f"missing or empty: {', '.join(missing)} (has: {', '.join(sorted(data.splits)) or 'none'})"
        )


def split_union(data: AttributeSet, splits: tuple[str, ...] = ("train", "val", "test")) -> np.ndarray:
    """Sorted distinct indices of the images in ``splits`` (the images whose features a run needs)."""
    return np.unique(np.concatenate([data.split_indices(s) for s in splits]))


def _parse_sequence(value: Any, element: type) -> tuple:
    if isinstance(value, (tuple, list)):
        items = list(value)
    elif isinstance(value, str):
        items = [p for p in value.replace("x", ",").split(",") if p.strip()]
    else:
        items = [value]
    return tuple(element(float(v)) if element is int else element(v) for v in items)


def _coerce(name: str, current: Any, value: Any, where: str) -> Any:
    """``value`` in the type of the field's current value (tuples from "a,b" or "HxW" strings)."""
    try:
        if isinstance(current, tuple):
            element = type(current[0]) if current else float
            return _parse_sequence(value, element)
        if current is None:
            if isinstance(value, str) and any(ch.isdigit() for ch in value) and ("x" in value or "," in value):
                return _parse_sequence(value, int)
            return value
        if isinstance(current, bool):
            if not isinstance(value, bool):
                raise TypeError
            return value
        if isinstance(current, int):
            if isinstance(value, float) and not value.is_integer():
                raise TypeError
            return int(value)
        if isinstance(current, float):
            return float(value)
        if isinstance(current, str):
            return str(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{where}: override {name}={value!r} must be a {type(current).__name__} like the default {current!r}"
        ) from None
    return value


def override_keys(config: Any, exclude: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The keys `apply_overrides` accepts for a config dataclass (instance or class): its fields less ``exclude``."""
    return tuple(f.name for f in dataclasses.fields(config) if f.name not in exclude)


def apply_overrides(config: C, overrides: Mapping[str, Any], where: str = "") -> tuple[C, list[str]]:
    """``config`` (a dataclass) with the fields named in ``overrides`` replaced, and the keys it has no field for.

    Values are converted to the type of the default (``"0.01,0.1"`` or ``0.1`` for a tuple of floats,
    ``"128x64"`` for a size); a value that does not convert raises a ValueError naming the key. Unknown
    keys are returned rather than raised, because one run passes the same overrides to several methods
    (the benchmark runner refuses a key that no selected method accepts, see `override_keys`).
    """
    where = where or type(config).__name__
    names = {f.name for f in dataclasses.fields(config)}
    changes = {k: _coerce(k, getattr(config, k), v, where) for k, v in overrides.items() if k in names}
    unused = sorted(k for k in overrides if k not in names)
    return dataclasses.replace(config, **changes), unused
