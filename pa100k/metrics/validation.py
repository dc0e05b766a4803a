"""Input checks shared by the metrics (scikit-learn style: every problem is a ValueError naming the argument)."""

from __future__ import annotations

from typing import Any

import numpy as np

try:  # torch is a dependency of the package, but the attribute metrics work on plain numpy too
    import torch
except ImportError:  # pragma: no cover - torch is installed with the package
    torch = None  # type: ignore[assignment]


def to_numpy(x: Any, name: str) -> np.ndarray:
    """``x`` as a numpy array (torch tensors are detached and copied to the CPU)."""
    if x is None:
        raise ValueError(f"{name}: expected an array, found None")
    if torch is not None and isinstance(x, torch.Tensor):
        x = x.detach()
        if x.dtype == torch.bfloat16:
            x = x.float()
        return x.cpu().numpy()
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:  # ragged lists and the like
        raise ValueError(f"{name}: could not be read as an array ({exc})") from None
    if arr.dtype == object:
        raise ValueError(f"{name}: expected a numeric array, found an array of Python objects (ragged or mixed input?)")
    return arr


def describe_values(values: np.ndarray, limit: int = 5) -> str:
    """A short listing of distinct offending values, for error messages."""
    uniq = np.unique(values)
    shown = ", ".join(repr(v.item()) for v in uniq[:limit])
    return shown + (f", ... ({uniq.size} distinct)" if uniq.size > limit else "")


def check_numeric(arr: np.ndarray, name: str) -> None:
    """Reject non-numeric dtypes (strings, objects, complex)."""
    if arr.dtype == bool or np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating):
        return
    raise ValueError(f"{name}: expected a numeric or boolean array, found dtype {arr.dtype}")


def check_matrix(arr: np.ndarray, name: str) -> None:
    """Require a non-empty 2-D (n_samples, n_columns) array."""
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array (n_samples, n_attributes), found shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name}: expected a non-empty array, found shape {arr.shape}")


def check_vector(arr: np.ndarray, name: str, length: int | None = None) -> None:
    """Require a non-empty 1-D array, of ``length`` items when given."""
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, found shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name}: expected a non-empty array, found an empty one")
    if length is not None and arr.shape[0] != length:
        raise ValueError(f"{name}: expected {length} values, found {arr.shape[0]}")


def check_same_shape(arr: np.ndarray, name: str, ref_shape: tuple[int, ...], ref_name: str) -> None:
    """Require ``arr.shape == ref_shape``."""
    if arr.shape != tuple(ref_shape):
        raise ValueError(f"{name}: expected the shape of {ref_name} {tuple(ref_shape)}, found {arr.shape}")


def check_finite(arr: np.ndarray, name: str) -> None:
    """Reject NaN and infinite values (counted in the message)."""
    if arr.dtype == bool or np.issubdtype(arr.dtype, np.integer):
        return
    if not np.isfinite(arr).all():
        n_nan = int(np.isnan(arr).sum())
        n_inf = int(np.isinf(arr).sum())
        raise ValueError(f"{name}: expected finite values, found {n_nan} NaN and {n_inf} infinite values")


def binary_matrix(arr: np.ndarray, name: str, mask: np.ndarray | None = None) -> np.ndarray:
    """``arr`` as a bool matrix after checking that every (known) entry is 0 or 1.

    Entries where ``mask`` is False are not checked and come back as False (they are never counted).
    """
    check_numeric(arr, name)
    if arr.dtype == bool:
        return arr if mask is None else arr & mask
    if arr.dtype == np.uint8:
        bad = arr > 1
    else:
        bad = (arr != 0) & (arr != 1)  # also catches NaN
    if mask is not None:
        bad &= mask
    if bad.any():
        found = describe_values(arr[bad])
        hint = " (unknown labels such as RAP's 2 must be excluded with mask=...)" if mask is None else ""
        where = "" if mask is None else " where mask is True"
        raise ValueError(f"{name}: expected values in {{0, 1}}{where}, found {found}{hint}")
    out = arr == 1
    return out if mask is None else out & mask


def bool_mask(mask: Any, ref_shape: tuple[int, ...], ref_name: str) -> np.ndarray:
    """A validated boolean mask of ``ref_shape`` (True = label known and counted)."""
    m = to_numpy(mask, "mask")
    check_numeric(m, "mask")
    check_same_shape(m, "mask", ref_shape, ref_name)
    if m.dtype == bool:
        return m
    bad = (m != 0) & (m != 1)
    if bad.any():
        raise ValueError(f"mask: expected booleans or values in {{0, 1}}, found {describe_values(m[bad])}")
    return m == 1


def check_choice(value: Any, name: str, choices: tuple[str, ...]) -> None:
    """Require ``value`` to be one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name}: expected one of {', '.join(repr(c) for c in choices)}, found {value!r}")


def check_positive_int(value: Any, name: str, minimum: int = 1) -> int:
    """Require an integer ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, found {value!r}")
    return int(value)


def check_probability(value: Any, name: str, *, open_interval: bool = False) -> float:
    """Require a finite float in [0, 1] (or (0, 1) with ``open_interval``)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number in [0, 1], found {value!r}") from None
    ok = (0.0 < v < 1.0) if open_interval else (0.0 <= v <= 1.0)
    if not ok:
        interval = "(0, 1)" if open_interval else "[0, 1]"
        raise ValueError(f"{name}: expected a number in {interval}, found {value!r}")
    return v
