"""Reading the releases' MATLAB files: one reader for v5 (scipy) and v7.3 (HDF5) files, and checked accessors.

``scipy.io.loadmat`` returns MATLAB cells as object arrays and structs as structured arrays, nested the way
the public toolkits index them (``x[i][0][0]``). A v7.3 file is converted into the same nesting (cells →
object arrays, char arrays → 1-element string arrays, matrices transposed to MATLAB's row-major view), except
that a scalar struct becomes a ``dict``; the accessors below accept both. Every error names the file, the key
and what was expected.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

LABEL_VALUES = (0, 1, 2)  # 2 = uncertain (RAP); read as an unknown label


def require_root(root: Path, dataset: str, expected: str) -> Path:
    """Check that the dataset folder exists; the error says what the folder must hold."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(
            f"{dataset}: data root {root} does not exist; download the official release and place "
            f"{expected} there (or pass root=...)"
        )
    return root


def find_file(root: Path, candidates: Sequence[str], dataset: str) -> Path:
    """The first of ``candidates`` (paths relative to ``root``) that exists, or a FileNotFoundError naming them."""
    for rel in candidates:
        path = root / rel
        if path.is_file():
            return path
    listed = " or ".join(str(root / c) for c in candidates)
    raise FileNotFoundError(f"{dataset}: annotation file not found: expected {listed}")


def load_mat(path: Path) -> dict[str, Any]:
    """Read a ``.mat`` file (v5 through scipy, v7.3 through h5py) into a dict of top-level variables."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    import h5py

    if h5py.is_hdf5(path):
        return _load_v73(path)
    import scipy.io

    try:
        data = scipy.io.loadmat(str(path))
    except Exception as exc:  # scipy raises ValueError, TypeError, OSError... for damaged files
        raise ValueError(f"{path}: not a readable MATLAB file ({type(exc).__name__}: {exc})") from exc
    return {k: v for k, v in data.items() if not k.startswith("__")}


def _load_v73(path: Path) -> dict[str, Any]:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return {k: _h5_value(f, f[k]) for k in f if not k.startswith("#")}
    except OSError as exc:
        raise ValueError(f"{path}: not a readable MATLAB v7.3 file ({exc})") from exc


def _h5_value(f, node) -> Any:
    import h5py

    if isinstance(node, h5py.Group):
        return {k: _h5_value(f, node[k]) for k in node}
    mclass = node.attrs.get("MATLAB_class", b"")
    mclass = mclass.decode() if isinstance(mclass, bytes) else str(mclass)
    if node.attrs.get("MATLAB_empty", 0):
        return np.zeros((0, 0)) if mclass != "char" else np.array([""])
    data = node[()]
    if node.dtype == h5py.ref_dtype:
        data = np.asarray(data)
        out = np.empty(data.shape, dtype=object)
        for idx, ref in np.ndenumerate(data):
            out[idx] = _h5_value(f, f[ref])
        return out.T
    if mclass == "char":
        codes = np.asarray(data, dtype=np.uint32).T  # MATLAB stores chars column-major
        rows = ["".join(chr(c) for c in row) for row in np.atleast_2d(codes)]
        return np.array(rows if len(rows) > 1 else rows[:1])
    return np.asarray(data).T


def key(mat: dict[str, Any], name: str, path: Path) -> Any:
    """Top-level variable ``name`` of ``mat``; a missing key lists the keys present."""
    if name not in mat:
        raise ValueError(f"{path}: key {name!r} is missing; keys present: {', '.join(sorted(mat)) or '(none)'}")
    return mat[name]


def _scalar(x: Any) -> Any:
    """Unwrap 1-element object arrays (cells) until a non-cell value is reached."""
    while isinstance(x, np.ndarray) and x.dtype == object and x.size == 1:
        x = x.flat[0]
    return x


def field(struct: Any, name: str, where: str) -> Any:
    """Field ``name`` of a scalar MATLAB struct (scipy structured array / np.void, or a dict from v7.3)."""
    s = _scalar(struct)
    if isinstance(s, np.ndarray) and s.dtype.names is not None:
        if s.size != 1:
            raise ValueError(f"{where}: expected a 1x1 struct, found a struct array of shape {s.shape}")
        s = s.flat[0]
    if isinstance(s, np.void) and s.dtype.names is not None:
        if name not in s.dtype.names:
            raise ValueError(f"{where}: struct field {name!r} is missing; fields present: {', '.join(s.dtype.names)}")
        return s[name]
    if isinstance(s, dict):
        if name not in s:
            raise ValueError(f"{where}: struct field {name!r} is missing; fields present: {', '.join(sorted(s))}")
        return s[name]
    raise ValueError(f"{where}: expected a MATLAB struct with field {name!r}, found {type(s).__name__}")


def cells(x: Any, where: str) -> list[Any]:
    """The elements of a MATLAB cell array (any 1-D or row/column shape) as a list."""
    if isinstance(x, np.ndarray) and x.dtype == object:
        if x.ndim > 2 or (x.ndim == 2 and min(x.shape) > 1):
            raise ValueError(f"{where}: expected a cell vector, found a cell array of shape {x.shape}")
        return list(x.ravel())
    raise ValueError(f"{where}: expected a cell array, found {_describe(x)}")


def _string(x: Any, where: str) -> str:
    x = _scalar(x)
    if isinstance(x, str):
        return x
    if isinstance(x, np.ndarray) and x.dtype.kind == "U":
        if x.size == 0:
            return ""
        if x.size == 1:
            return str(x.flat[0])
    raise ValueError(f"{where}: expected a string, found {_describe(x)}")


def strings(x: Any, where: str, length: int | None = None) -> list[str]:
    """A cell array of strings (element ``i`` read as ``x[i][0][0]`` for scipy's (N, 1) cells) as a list."""
    out = [_string(c, f"{where}[{i}]") for i, c in enumerate(cells(x, where))]
    if length is not None and len(out) != length:
        raise ValueError(f"{where}: expected {length} strings, found {len(out)}")
    return out


def matrix(x: Any, where: str, shape: tuple[int | None, int | None]) -> np.ndarray:
    """A numeric 2-D array checked against ``shape`` (None = any size on that axis)."""
    x = _scalar(x)
    if not isinstance(x, np.ndarray) or x.dtype.kind not in "biuf":
        raise ValueError(f"{where}: expected a numeric matrix of shape {_shape_text(shape)}, found {_describe(x)}")
    if x.ndim != 2 or any(want is not None and got != want for got, want in zip(x.shape, shape)):
        raise ValueError(f"{where}: expected shape {_shape_text(shape)}, found {x.shape}")
    return x


def labels_and_mask(
    x: Any, where: str, shape: tuple[int | None, int | None], attributes: Sequence[str] | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate a label matrix with values in {0, 1, 2}; return 0/1 labels and a mask (False where 2), or None."""
    m = matrix(x, where, shape)
    bad = ~np.isin(m, LABEL_VALUES)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        col = f" ({attributes[c]})" if attributes is not None and c < len(attributes) else ""
        values = sorted({float(v) for v in np.unique(m[bad])})[:5]
        raise ValueError(
            f"{where}: labels must be 0, 1 or 2 (2 = uncertain); found {_num(m[r, c])} at row {r}, "
            f"column {c}{col}; values outside the set: {', '.join(_num(v) for v in values)}"
        )
    uncertain = m == 2
    labels = np.where(uncertain, 0, m).astype(np.uint8)
    return labels, (~uncertain if uncertain.any() else None)


def indices(x: Any, where: str, n: int) -> np.ndarray:
    """A vector of 1-based MATLAB indices into ``n`` items, returned 0-based (int64)."""
    x = _scalar(x)
    if not isinstance(x, np.ndarray) or x.dtype.kind not in "biuf":
        raise ValueError(f"{where}: expected a numeric index vector, found {_describe(x)}")
    if x.ndim > 2 or (x.ndim == 2 and min(x.shape) > 1):
        raise ValueError(f"{where}: expected an index vector, found shape {x.shape}")
    v = x.ravel()
    if v.size and (not np.all(np.isfinite(v)) or not np.all(v == np.round(v))):
        raise ValueError(f"{where}: indices must be integers")
    v = v.astype(np.int64)
    if v.size and (v.min() < 1 or v.max() > n):
        raise ValueError(f"{where}: 1-based indices must lie in [1, {n}], found values in [{v.min()}, {v.max()}]")
    return v - 1


def check_partition(partition: object, count: int, dataset: str, path: Path) -> int:
    """Validate a partition number against the ``count`` partitions that ``path`` holds."""
    if isinstance(partition, bool) or not isinstance(partition, (int, np.integer)) or not 0 <= partition < count:
        raise ValueError(f"{dataset}: partition must be in 0..{count - 1} ({path} holds {count}), found {partition!r}")
    return int(partition)


def check_names(found: Sequence[str], expected: Sequence[str], where: str) -> None:
    """Log a warning when the attribute names in the file differ from the schema's (the schema names are used)."""
    diff = [(i, f, e) for i, (f, e) in enumerate(zip(found, expected)) if f.strip() != e]
    if diff:
        shown = "; ".join(f"column {i}: file {f!r}, schema {e!r}" for i, f, e in diff[:5])
        log.warning("%s: %d attribute names differ from the schema (schema names are used): %s", where, len(diff), shown)


def check_images(folder: Path, names: Sequence[str], listed_in: Path, dataset: str) -> None:
    """Raise if any listed image is absent from ``folder`` (one directory listing, not a stat per image)."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{dataset}: image folder {folder} does not exist (images listed in {listed_in})")
    present: dict[Path, set[str]] = {}
    missing = []
    for name in names:
        parent, base = os.path.split(name)
        d = folder / parent
        if d not in present:
            present[d] = set(os.listdir(d)) if d.is_dir() else set()
        if base not in present[d]:
            missing.append(name)
    if missing:
        first = ", ".join(missing[:5])
        raise FileNotFoundError(
            f"{dataset}: {len(missing)} of {len(names)} images listed in {listed_in} are missing from {folder}: {first}"
            + (" ..." if len(missing) > 5 else "")
        )


def _describe(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"an array of dtype {x.dtype} and shape {x.shape}"
    return type(x).__name__


def _shape_text(shape: tuple[int | None, int | None]) -> str:
    return "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"


def _num(v: Any) -> str:
    f = float(v)
    return str(int(f)) if f.is_integer() else repr(f)
