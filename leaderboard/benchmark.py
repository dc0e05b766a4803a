"""Benchmarks: a dataset split whose labels live only on the server, split into a public and a private part.

A benchmark is stored in the leaderboard's data folder (never under the web root) as two files::

    <root>/benchmarks/<name>/benchmark.json   public description + the partition settings
    <root>/benchmarks/<name>/labels.npz       image names, hidden labels and the public/private flags

What a submitter may know (the task, the attribute schema, the image names of the split list, the size
cap, the reveal date) is :class:`BenchmarkInfo`; validation only ever sees that. The hidden part
(labels, identities, cameras, which rows are public) is only read by the scorer.

The public part is scored and shown at once; the private part is revealed at ``reveal_at`` (as on
Kaggle and EvalAI). An image (attributes) or a query (ReID) is public when the first 8 bytes of
``sha256("<partition_seed>:<name>")``, read as a big-endian integer and divided by 2**64, are below
``public_fraction``. The seed is random and secret unless the operator fixes it.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from pa100k.attribute_set import AttributeSet
from pa100k.fileio import atomic_write
from pa100k.registry import Registry
from pa100k.schemas import AttributeSchema

TASKS = ("attributes", "reid")
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
BENCHMARK_FILE = "benchmark.json"
LABELS_FILE = "labels.npz"
DEFAULT_MAX_BYTES = {"attributes": 32 * 1024**2, "reid": 512 * 1024**2}
DEFAULT_RANKING_DEPTH = 100


def utcnow() -> datetime:
    """The current time in UTC, to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0)


def format_time(t: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z`` (``2026-01-31T12:00:00Z``), or None."""
    if t is None:
        return None
    return t.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def parse_time(text: str | None, *, field_name: str = "date") -> datetime | None:
    """Parse an ISO 8601 date or date-time (naive values are UTC); ``None``/empty gives None."""
    if text is None or str(text).strip() == "":
        return None
    raw = str(text).strip()
    try:
        t = datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith("Z") else raw)
    except ValueError:
        raise ValueError(f"{field_name} must be an ISO date such as 2026-06-30 or 2026-06-30T12:00:00Z, found {raw!r}") from None
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid benchmark name (lower-case letters, digits, ``.-_``; 1-63 chars)."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ValueError(
            f"benchmark name must be 1-63 characters of a-z, 0-9, '.', '-', '_' starting with a letter or digit, "
            f"found {name!r}"
        )
    return name


def public_partition(names: np.ndarray, fraction: float, seed: str) -> np.ndarray:
    """Per name, True when it belongs to the public part (hash of ``"<seed>:<name>"`` below ``fraction``)."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"public_fraction must be in (0, 1), found {fraction}")
    cut = int(fraction * 2**64)
    out = np.empty(len(names), dtype=bool)
    for i, name in enumerate(names):
        digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
        out[i] = int.from_bytes(digest[:8], "big") < cut
    return out


@dataclass(frozen=True)
class BenchmarkInfo:
    """The public description of a benchmark: everything validation may use, no labels.

    ``names`` are the image file names of the split list (attributes); ``query_names`` and
    ``gallery_names`` those of the ReID query and gallery sets. ``reference_dataset`` names the rows of
    the paper's Table 2 shown beside the board (e.g. ``PA-100K``).
    """

    name: str
    task: str
    title: str = ""
    description: str = ""
    schema: AttributeSchema | None = None
    names: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=str))
    query_names: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=str))
    gallery_names: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=str))
    reveal_at: datetime | None = None
    max_bytes: int = 0
    ranking_depth: int = DEFAULT_RANKING_DEPTH
    reference_dataset: str = ""
    protocol: str = "market1501"
    bootstrap: int = 1000
    created_at: datetime | None = None
    source: dict[str, Any] = field(default_factory=dict)

    def revealed(self, now: datetime | None = None) -> bool:
        """Whether the private part's scores may be shown at ``now`` (default: the current time)."""
        return self.reveal_at is not None and (now or utcnow()) >= self.reveal_at

    @property
    def attributes(self) -> tuple[str, ...]:
        """Attribute names in column order (empty for ReID)."""
        return self.schema.attributes if self.schema is not None else ()

    @property
    def size(self) -> int:
        """Number of scored items: images (attributes) or queries (ReID)."""
        return len(self.names) if self.task == "attributes" else len(self.query_names)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able public description (no names; see ``names`` for those)."""
        return {
            "name": self.name,
            "task": self.task,
            "title": self.title,
            "description": self.description,
            "schema": self.schema.to_dict() if self.schema is not None else None,
            "num_images": len(self.names),
            "num_queries": len(self.query_names),
            "num_gallery": len(self.gallery_names),
            "reveal_at": format_time(self.reveal_at),
            "revealed": self.revealed(),
            "max_bytes": self.max_bytes,
            "ranking_depth": self.ranking_depth if self.task == "reid" else None,
            "reference_dataset": self.reference_dataset,
            "protocol": self.protocol if self.task == "reid" else None,
            "bootstrap": self.bootstrap,
            "created_at": format_time(self.created_at),
            "source": self.source,
        }


@dataclass
class AttributeLabels:
    """Hidden labels of an attribute benchmark, row-aligned with ``BenchmarkInfo.names``."""

    labels: np.ndarray  # (N, A) uint8 0/1
    mask: np.ndarray  # (N, A) bool, False = unknown label
    public: np.ndarray  # (N,) bool


@dataclass
class ReIDLabels:
    """Hidden identities and cameras of a ReID benchmark, aligned with the query and gallery names."""

    query_pids: np.ndarray
    query_camids: np.ndarray
    gallery_pids: np.ndarray
    gallery_camids: np.ndarray
    public: np.ndarray  # (Q,) bool, per query


@dataclass
class Benchmark:
    """A benchmark: its public :class:`BenchmarkInfo` and its hidden labels."""

    info: BenchmarkInfo
    hidden: AttributeLabels | ReIDLabels
    public_fraction: float = 0.5
    partition_seed: str = ""

    @property
    def name(self) -> str:
        """The benchmark's name."""
        return self.info.name

    def part_rows(self, part: str) -> np.ndarray:
        """Row indices (images or queries) of ``part``: ``public``, ``private`` or ``all``."""
        public = self.hidden.public
        if part == "public":
            return np.flatnonzero(public)
        if part == "private":
            return np.flatnonzero(~public)
        if part == "all":
            return np.arange(len(public))
        raise ValueError(f"part must be one of public, private, all; found {part!r}")


def _partition(names: np.ndarray, public_fraction: float, partition_seed: str | None, what: str) -> tuple[np.ndarray, str]:
    seed = partition_seed if partition_seed is not None else secrets.token_hex(16)
    public = public_partition(names, public_fraction, seed)
    if public.all() or not public.any():
        raise ValueError(
            f"the public/private partition of {len(names)} {what} with public_fraction={public_fraction} leaves one part "
            f"empty; use more {what} or another fraction"
        )
    return public, seed


def _unique_names(names: np.ndarray, what: str) -> np.ndarray:
    names = np.asarray(names, dtype=str)
    if names.ndim != 1 or names.size == 0:
        raise ValueError(f"{what} must be a non-empty list of names, found shape {names.shape}")
    uniq, counts = np.unique(names, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"{what} must be unique; duplicated: {', '.join(uniq[counts > 1][:5])}")
    return names


def attribute_benchmark(
    name: str,
    data: AttributeSet,
    split: str = "test",
    *,
    title: str = "",
    description: str = "",
    public_fraction: float = 0.5,
    partition_seed: str | None = None,
    reveal_at: datetime | None = None,
    max_bytes: int | None = None,
    reference_dataset: str = "",
    bootstrap: int = 1000,
    source: dict[str, Any] | None = None,
) -> Benchmark:
    """An attribute benchmark from ``split`` of any :class:`AttributeSet` (labels and mask are copied)."""
    check_name(name)
    idx = data.split_indices(split)
    names = _unique_names(data.names[idx], f"image names of {data.dataset or 'the dataset'} split {split!r}")
    public, seed = _partition(names, public_fraction, partition_seed, "images")
    info = BenchmarkInfo(
        name=name,
        task="attributes",
        title=title or f"{data.dataset or 'dataset'} {split}",
        description=description,
        schema=data.schema,
        names=names,
        reveal_at=reveal_at,
        max_bytes=max_bytes or DEFAULT_MAX_BYTES["attributes"],
        reference_dataset=reference_dataset,
        bootstrap=bootstrap,
        created_at=utcnow(),
        source=dict(source or {"dataset": data.dataset, "split": split}),
    )
    hidden = AttributeLabels(
        labels=data.labels[idx].astype(np.uint8), mask=data.known()[idx].astype(bool), public=public
    )
    return Benchmark(info, hidden, public_fraction=public_fraction, partition_seed=seed)


def reid_benchmark(
    name: str,
    query_names: np.ndarray,
    query_pids: np.ndarray,
    query_camids: np.ndarray,
    gallery_names: np.ndarray,
    gallery_pids: np.ndarray,
    gallery_camids: np.ndarray,
    *,
    protocol: str = "market1501",
    title: str = "",
    description: str = "",
    public_fraction: float = 0.5,
    partition_seed: str | None = None,
    reveal_at: datetime | None = None,
    max_bytes: int | None = None,
    ranking_depth: int = DEFAULT_RANKING_DEPTH,
    bootstrap: int = 200,
    source: dict[str, Any] | None = None,
) -> Benchmark:
    """A ReID benchmark from query and gallery names with their hidden person and camera ids."""
    check_name(name)
    qn = _unique_names(query_names, "query names")
    gn = _unique_names(gallery_names, "gallery names")
    arrays = {}
    for key, arr, n in (("query_pids", query_pids, len(qn)), ("query_camids", query_camids, len(qn)),
                        ("gallery_pids", gallery_pids, len(gn)), ("gallery_camids", gallery_camids, len(gn))):
        arr = np.asarray(arr)
        if arr.shape != (n,) or arr.dtype.kind not in "iu":
            raise ValueError(f"{key} must be {n} integers, found shape {arr.shape} dtype {arr.dtype}")
        arrays[key] = arr.astype(np.int64)
    public, seed = _partition(qn, public_fraction, partition_seed, "queries")
    info = BenchmarkInfo(
        name=name,
        task="reid",
        title=title or name,
        description=description,
        query_names=qn,
        gallery_names=gn,
        reveal_at=reveal_at,
        max_bytes=max_bytes or DEFAULT_MAX_BYTES["reid"],
        ranking_depth=min(ranking_depth, len(gn)),
        protocol=protocol,
        bootstrap=bootstrap,
        created_at=utcnow(),
        source=dict(source or {}),
    )
    return Benchmark(info, ReIDLabels(public=public, **arrays), public_fraction=public_fraction, partition_seed=seed)


# --------------------------------------------------------------------------------------------------
# files


def benchmark_dir(root: Path, name: str) -> Path:
    """The folder of benchmark ``name`` under the leaderboard data folder ``root``."""
    return Path(root) / "benchmarks" / check_name(name)


def save_benchmark(benchmark: Benchmark, root: Path) -> Path:
    """Write ``benchmark.json`` and ``labels.npz`` atomically; returns the benchmark's folder."""
    info = benchmark.info
    folder = benchmark_dir(root, info.name)
    desc = info.to_dict()
    for key in ("revealed", "num_images", "num_queries", "num_gallery"):
        desc.pop(key)
    desc["format"] = 1
    desc["partition"] = {"public_fraction": benchmark.public_fraction, "seed": benchmark.partition_seed}
    hidden = benchmark.hidden
    if info.task == "attributes":
        arrays = {"names": info.names, "labels": hidden.labels, "mask": hidden.mask, "public": hidden.public}
    else:
        arrays = {
            "query_names": info.query_names, "gallery_names": info.gallery_names,
            "query_pids": hidden.query_pids, "query_camids": hidden.query_camids,
            "gallery_pids": hidden.gallery_pids, "gallery_camids": hidden.gallery_camids, "public": hidden.public,
        }
    with atomic_write(folder / LABELS_FILE, "wb") as fh:
        np.savez(fh, **arrays)
    with atomic_write(folder / BENCHMARK_FILE) as fh:
        json.dump(desc, fh, indent=2)
        fh.write("\n")
    return folder


def load_benchmark(root: Path, name: str) -> Benchmark:
    """Read benchmark ``name`` from the data folder ``root``; a missing one lists those present."""
    folder = benchmark_dir(root, name)
    desc_path, labels_path = folder / BENCHMARK_FILE, folder / LABELS_FILE
    if not desc_path.is_file() or not labels_path.is_file():
        present = ", ".join(list_benchmarks(root)) or "(none)"
        raise FileNotFoundError(
            f"benchmark {name!r} not found in {Path(root) / 'benchmarks'} (present: {present}); "
            f"create it with `python -m leaderboard add-benchmark {name}`"
        )
    try:
        desc = json.loads(desc_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{desc_path}: not valid JSON ({exc})") from None
    if desc.get("task") not in TASKS:
        raise ValueError(f"{desc_path}: field 'task' must be one of {', '.join(TASKS)}, found {desc.get('task')!r}")
    with np.load(labels_path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    common = {
        "name": desc["name"],
        "task": desc["task"],
        "title": desc.get("title", ""),
        "description": desc.get("description", ""),
        "reveal_at": parse_time(desc.get("reveal_at"), field_name=f"{desc_path}: reveal_at"),
        "max_bytes": int(desc.get("max_bytes") or DEFAULT_MAX_BYTES[desc["task"]]),
        "reference_dataset": desc.get("reference_dataset", ""),
        "bootstrap": int(desc.get("bootstrap", 1000)),
        "created_at": parse_time(desc.get("created_at")),
        "source": desc.get("source") or {},
    }
    if desc["task"] == "attributes":
        info = BenchmarkInfo(schema=AttributeSchema.from_dict(desc["schema"]), names=arrays["names"], **common)
        hidden: AttributeLabels | ReIDLabels = AttributeLabels(
            labels=arrays["labels"], mask=arrays["mask"].astype(bool), public=arrays["public"].astype(bool)
        )
    else:
        info = BenchmarkInfo(
            query_names=arrays["query_names"], gallery_names=arrays["gallery_names"],
            ranking_depth=int(desc.get("ranking_depth") or DEFAULT_RANKING_DEPTH),
            protocol=desc.get("protocol") or "market1501", **common,
        )
        hidden = ReIDLabels(
            query_pids=arrays["query_pids"], query_camids=arrays["query_camids"],
            gallery_pids=arrays["gallery_pids"], gallery_camids=arrays["gallery_camids"],
            public=arrays["public"].astype(bool),
        )
    partition = desc.get("partition") or {}
    return Benchmark(info, hidden, public_fraction=float(partition.get("public_fraction", 0.5)),
                     partition_seed=str(partition.get("seed", "")))


def list_benchmarks(root: Path) -> list[str]:
    """Names of the benchmarks stored under ``root``."""
    folder = Path(root) / "benchmarks"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / BENCHMARK_FILE).is_file() and NAME_PATTERN.match(p.name))


def with_reveal(benchmark: Benchmark, reveal_at: datetime | None) -> Benchmark:
    """The same benchmark with another reveal date."""
    return replace(benchmark, info=replace(benchmark.info, reveal_at=reveal_at))


# --------------------------------------------------------------------------------------------------
# presets: named benchmarks built from registered datasets


@dataclass(frozen=True)
class BenchmarkPreset:
    """A named benchmark recipe: which dataset, split and options, and which paper rows to show beside it."""

    name: str
    dataset: str
    split: str = "test"
    options: dict[str, Any] = field(default_factory=dict)
    title: str = ""
    description: str = ""
    reference_dataset: str = ""
    needs_root: bool = False
    task: str = "attributes"


BENCHMARK_PRESETS: Registry[BenchmarkPreset] = Registry("benchmark preset")

SYNTHETIC_TEST = "synthetic-test"

BENCHMARK_PRESETS.add(SYNTHETIC_TEST, BenchmarkPreset(
    name=SYNTHETIC_TEST,
    dataset="synthetic",
    options={"preset": "small", "seed": 0},
    title="Synthetic PA-100K ({preset}, seed {seed}), test split",
    description=(
        "The test split of the rendered synthetic dataset in the PA-100K layout (26 attributes), the split "
        "`python -m benchmarks.run` evaluates on by default. The paper's rows are its PA-100K numbers, shown "
        "for reference: they were measured on the real images."
    ),
    reference_dataset="PA-100K",
))
BENCHMARK_PRESETS.add("pa100k-test", BenchmarkPreset(
    name="pa100k-test",
    dataset="pa100k",
    title="PA-100K test split (10,000 images)",
    description="The official PA-100K test split (Liu et al., ICCV 2017), labels read from annotation.mat.",
    reference_dataset="PA-100K",
    needs_root=True,
))


def build_preset(
    preset: str,
    *,
    data_root: Path | None = None,
    name: str | None = None,
    options: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Benchmark:
    """Build the benchmark of a registered preset by loading its dataset through ``pa100k.load``."""
    import pa100k

    spec = BENCHMARK_PRESETS.get(preset)
    if spec.needs_root and data_root is None:
        raise ValueError(f"benchmark {preset!r} reads dataset {spec.dataset!r} from disk: pass its folder (--data-root)")
    opts = {**spec.options, **(options or {})}
    data = pa100k.load(spec.dataset, root=data_root, **opts)
    source = {"dataset": spec.dataset, "split": spec.split, "options": opts}
    kwargs.setdefault("title", spec.title.format(**opts))
    kwargs.setdefault("description", spec.description)
    kwargs.setdefault("reference_dataset", spec.reference_dataset)
    return attribute_benchmark(name or spec.name, data, spec.split, source=source, **kwargs)


def build_reid(
    name: str,
    dataset: str,
    *,
    data_root: Path | None = None,
    options: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Benchmark:
    """A ReID benchmark from the query and gallery sets of a registered ReID dataset (``pa100k.reid``)."""
    from pa100k.reid import load_reid

    data = load_reid(dataset, root=data_root, **(options or {}))

    def names(subset: str) -> np.ndarray:
        out = []
        for k, (image, _, _) in enumerate(data.subset(subset)):
            if not isinstance(image, Path):
                raise ValueError(
                    f"{dataset}: {subset}[{k}] holds encoded bytes, not a file; a benchmark needs file names")
            out.append(image.name)
        return np.asarray(out, dtype=str)

    kwargs.setdefault("title", f"{data.name} query/gallery")
    kwargs.setdefault("source", {"dataset": dataset, "options": dict(options or {})})
    return reid_benchmark(
        name, names("query"), data.pids("query"), data.camids("query"),
        names("gallery"), data.pids("gallery"), data.camids("gallery"), protocol=data.protocol, **kwargs,
    )
