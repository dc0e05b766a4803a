"""Hugging Face export and import of an `AttributeSet`: parquet shards, a dataset card, and the way back.

Layout written by :func:`export_hf` (opens with ``datasets.load_dataset(DIR)``, like a hub dataset)::

    DIR/README.md                          dataset card: YAML ``configs`` (data_files per split), license,
                                           citation, attribute table with positive ratios
    DIR/data/{split}-00000-of-0000N.parquet

Rows carry ``image`` (``Image()``: the original encoded file, not re-encoded), ``name`` (the release's file
name), ``index`` (the row in the source set, which restores order and overlapping splits), the meta columns
(``tracklet``, ``identity``, ...) and the labels: one nullable ``bool`` column per attribute
(``label_format="columns"``, the default) or one fixed-length list ``labels`` (``"sequence"``). An unknown
label (mask False) is a null. Our splits map to hub splits ``train``/``validation``/``test``; other splits keep
their name; ``trainval`` is written only when it is not train + val. Images that are in no split go to an extra
split ``unassigned``, so that :func:`from_hf` gives back every image. An empty split is not written (datasets
cannot read an empty parquet split); it is restored from the description.

The schema, the split mapping and the meta dtypes are stored as JSON in the card's
``dataset_info.description``, which ``load_dataset`` hands to ``Dataset.info.description``; :func:`from_hf`
reads them back from a loaded ``DatasetDict``, a folder or a hub id.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pa100k.attribute_set import AttributeSet
from pa100k.fileio import atomic_path, atomic_write
from pa100k.registry import Registry
from pa100k.schemas import SCHEMAS, AttributeSchema

log = logging.getLogger(__name__)

FORMAT = "pa100k-hf"
FORMAT_VERSION = 1
HF_SPLIT = {"train": "train", "val": "validation", "test": "test"}  # ours → hub; other names are kept
UNASSIGNED = "unassigned"
RESERVED_COLUMNS = ("image", "name", "index", "labels")
LABEL_FORMATS = ("columns", "sequence")
DEFAULT_SHARD_BYTES = 500 * 2**20


@dataclass(frozen=True)
class CardInfo:
    """What a dataset card says about a source dataset: title, homepage, licence and citation."""

    pretty_name: str
    homepage: str
    license: str  # a hub licence id; "other" = the original release's own terms
    citation: str
    summary: str


_HPNET_BIB = """@inproceedings{liu2017hydraplus,
  title     = {HydraPlus-Net: Attentive Deep Features for Pedestrian Analysis},
  author    = {Liu, Xihui and Zhao, Haiyu and Tian, Maoqing and Sheng, Lu and Shao, Jing and Yi, Shuai and Yan, Junjie and Wang, Xiaogang},
  booktitle = {Proceedings of the IEEE International Conference on Computer Vision (ICCV)},
  year      = {2017}
}"""
_PETA_BIB = """@inproceedings{deng2014pedestrian,
  title     = {Pedestrian Attribute Recognition At Far Distance},
  author    = {Deng, Yubin and Luo, Ping and Loy, Chen Change and Tang, Xiaoou},
  booktitle = {Proceedings of the 22nd ACM International Conference on Multimedia},
  year      = {2014}
}"""
_RAP_BIB = """@article{li2016richly,
  title   = {A Richly Annotated Dataset for Pedestrian Attribute Recognition},
  author  = {Li, Dangwei and Zhang, Zhang and Chen, Xiaotang and Ling, Haibin and Huang, Kaiqi},
  journal = {arXiv preprint arXiv:1603.07054},
  year    = {2016}
}"""
_RAP2_BIB = """@article{li2019richly,
  title   = {A Richly Annotated Pedestrian Dataset for Person Retrieval in Real Surveillance Scenarios},
  author  = {Li, Dangwei and Zhang, Zhang and Chen, Xiaotang and Huang, Kaiqi},
  journal = {IEEE Transactions on Image Processing},
  volume  = {28},
  number  = {4},
  year    = {2019}
}"""
_RAPZS_BIB = """@article{jia2021rethinking,
  title   = {Rethinking of Pedestrian Attribute Recognition: A Reliable Evaluation under Zero-Shot Pedestrian Identity Setting},
  author  = {Jia, Jian and Huang, Houjing and Chen, Xiaotang and Huang, Kaiqi},
  journal = {arXiv preprint arXiv:2107.03576},
  year    = {2021}
}"""

CARDS: Registry[CardInfo] = Registry("dataset card")
CARDS.add("pa100k", CardInfo("PA-100K", "https://github.com/xh-liu/HydraPlus-Net", "other", _HPNET_BIB,
                             "100,000 pedestrian images from 598 outdoor surveillance scenes with 26 binary attributes."))
CARDS.add("peta", CardInfo("PETA", "http://mmlab.ie.cuhk.edu.hk/projects/PETA.html", "other", _PETA_BIB + "\n\n" + _HPNET_BIB,
                           "19,000 pedestrian images from 10 public datasets with 61 binary and 4 multi-class attributes."))
CARDS.add("rap", CardInfo("RAP v1", "http://www.rapdataset.com/", "other", _RAP_BIB + "\n\n" + _HPNET_BIB,
                          "41,585 pedestrian images from 26 indoor surveillance scenes with 69 binary and 3 multi-class attributes."))
CARDS.add("rap2", CardInfo("RAP v2", "http://www.rapdataset.com/", "other", _RAP2_BIB + "\n\n" + _HPNET_BIB,
                           "84,928 pedestrian images from indoor surveillance cameras; 54 attributes are evaluated."))
CARDS.add("rap2zs", CardInfo("RAPzs", "https://github.com/valencebond/Rethinking_of_PAR", "other",
                             _RAPZS_BIB + "\n\n" + _RAP2_BIB + "\n\n" + _HPNET_BIB,
                             "RAP v2 images with a split whose test identities never appear in training; 53 attributes."))
CARDS.add("synthetic", CardInfo("Synthetic PA-100K-like pedestrians", "", "mit", _HPNET_BIB,
                                "Rendered pedestrians in the PA-100K layout, made by pa100k-bench for tests and demos."))


def _card_info(dataset: str, schema: AttributeSchema) -> CardInfo:
    for key in (dataset, schema.name):
        if key in CARDS:
            return CARDS.get(key)
    return CardInfo(dataset or schema.name, "", "other", _HPNET_BIB, schema.description or "Pedestrian attributes.")


# ----------------------------------------------------------------------------------------------- export


def hf_splits(attribute_set: AttributeSet) -> dict[str, str]:
    """Our split names → hub split names, leaving out ``trainval`` when it is exactly train + val."""
    out = {}
    for name, idx in attribute_set.splits.items():
        if name == "trainval" and "train" in attribute_set.splits and "val" in attribute_set.splits:
            derived = np.concatenate([attribute_set.splits["train"], attribute_set.splits["val"]])
            if np.array_equal(idx, derived):
                continue
        hub = HF_SPLIT.get(name, name)
        if not re.fullmatch(r"\w+", hub) or hub == UNASSIGNED or hub in out.values():
            raise ValueError(f"split {name!r} cannot be exported: hub split {hub!r} is not a free word-character name")
        out[name] = hub
    return out


def _features(attribute_set: AttributeSet, label_format: str):
    import datasets

    feats: dict[str, Any] = {"image": datasets.Image(), "name": datasets.Value("string"), "index": datasets.Value("int64")}
    for key, col in attribute_set.meta.items():
        feats[key] = datasets.Value(_value_type(col.dtype, key))
    attrs = attribute_set.attribute_names
    if label_format == "columns":
        clash = sorted(set(attrs) & set(feats) | set(attrs) & set(RESERVED_COLUMNS))
        if clash:
            raise ValueError(f"attribute names {clash} clash with metadata columns; use label_format='sequence'")
        for a in attrs:
            feats[a] = datasets.Value("bool")
    else:
        feats["labels"] = datasets.List(datasets.Value("bool"), length=len(attrs))
    return datasets.Features(feats)


def _value_type(dtype: np.dtype, key: str) -> str:
    kind = np.dtype(dtype).kind
    if kind in "iu":
        return "int64"
    if kind == "f":
        return "float64"
    if kind == "b":
        return "bool"
    if kind in "UO":
        return "string"
    raise ValueError(f"meta column {key!r}: dtype {dtype} cannot be exported (expected int, float, bool or str)")


def _image_bytes(ref: Any, name: str) -> bytes:
    if isinstance(ref, (bytes, bytearray)):
        return bytes(ref)
    try:
        return Path(ref).read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"image {name}: file not found at {ref}") from None


def _image_size(ref: Any, name: str) -> int:
    if isinstance(ref, (bytes, bytearray)):
        return len(ref)
    try:
        return os.path.getsize(ref)
    except FileNotFoundError:
        raise FileNotFoundError(f"image {name}: file not found at {ref}") from None


def _shards(sizes: list[int], max_bytes: int) -> list[tuple[int, int]]:
    """Consecutive [start, stop) ranges whose image bytes stay under ``max_bytes`` (at least one row each)."""
    bounds, start, total = [], 0, 0
    for i, s in enumerate(sizes):
        if i > start and total + s > max_bytes:
            bounds.append((start, i))
            start, total = i, 0
        total += s
    bounds.append((start, len(sizes)))
    return bounds


def export_hf(
    attribute_set: AttributeSet,
    out_dir: str | Path,
    *,
    label_format: str = "columns",
    max_shard_bytes: int = DEFAULT_SHARD_BYTES,
    overwrite: bool = False,
) -> Path:
    """Write ``attribute_set`` as a hub-style dataset folder (parquet shards per split + README.md card)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tqdm.auto import tqdm

    if label_format not in LABEL_FORMATS:
        raise ValueError(f"label_format must be one of {', '.join(LABEL_FORMATS)}, found {label_format!r}")
    if max_shard_bytes <= 0:
        raise ValueError(f"max_shard_bytes must be positive, found {max_shard_bytes}")
    out = Path(out_dir)
    data_dir = out / "data"
    if (out / "README.md").exists() or (data_dir.exists() and any(data_dir.iterdir())):
        if not overwrite:
            raise FileExistsError(f"{out} already holds an export (README.md or data/); pass overwrite=True to replace it")
        for old in data_dir.glob("*.parquet"):
            old.unlink()
    data_dir.mkdir(parents=True, exist_ok=True)

    features = _features(attribute_set, label_format)
    schema = features.arrow_schema
    mapping = hf_splits(attribute_set)
    # datasets cannot read an empty parquet split: empty splits are recorded in the description only
    empty = [ours for ours in mapping if len(attribute_set.splits[ours]) == 0]
    mapping = {ours: hub for ours, hub in mapping.items() if ours not in empty}
    plan = {hub: attribute_set.splits[ours] for ours, hub in mapping.items()}
    in_split = np.zeros(len(attribute_set), dtype=bool)
    for idx in attribute_set.splits.values():
        in_split[idx] = True
    if not in_split.all():
        plan[UNASSIGNED] = np.flatnonzero(~in_split)
        log.info("%d images are in no split; written to the %r split", int((~in_split).sum()), UNASSIGNED)

    known = attribute_set.known()
    attrs = attribute_set.attribute_names
    files: dict[str, list[str]] = {}
    progress = tqdm(total=sum(len(v) for v in plan.values()), desc=f"export {attribute_set.dataset or 'dataset'}",
                    unit="img", disable=None)
    for hub, idx in plan.items():
        sizes = [_image_size(attribute_set.images[i], attribute_set.names[i]) for i in idx]
        bounds = _shards(sizes, max_shard_bytes)
        files[hub] = []
        for s, (start, stop) in enumerate(bounds):
            rows = idx[start:stop]
            cols: dict[str, Any] = {
                "image": [{"bytes": _image_bytes(attribute_set.images[i], attribute_set.names[i]),
                           "path": str(attribute_set.names[i])} for i in rows],
                "name": [str(attribute_set.names[i]) for i in rows],
                "index": rows.tolist(),
            }
            for key, col in attribute_set.meta.items():
                cols[key] = [v.item() if hasattr(v, "item") else v for v in col[rows]]
            lab, kn = attribute_set.labels[rows].astype(bool), known[rows]
            if label_format == "columns":
                for j, a in enumerate(attrs):
                    cols[a] = pa.array(lab[:, j], mask=~kn[:, j], type=pa.bool_())
            else:
                flat = pa.array(lab.ravel(), mask=~kn.ravel(), type=pa.bool_())
                cols["labels"] = pa.FixedSizeListArray.from_arrays(flat, len(attrs))
            table = pa.Table.from_pydict(cols, schema=schema)
            rel = f"data/{hub}-{s:05d}-of-{len(bounds):05d}.parquet"
            with atomic_path(out / rel) as tmp:
                pq.write_table(table, tmp)
            files[hub].append(rel)
            progress.update(len(rows))
    progress.close()

    meta_json = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "dataset": attribute_set.dataset,
        "schema": attribute_set.schema.to_dict(),
        "label_format": label_format,
        "splits": mapping,
        "empty_splits": empty,
        "unassigned_split": UNASSIGNED if UNASSIGNED in plan else None,
        "num_images": len(attribute_set),
        "has_mask": attribute_set.mask is not None,
        "meta": {key: str(col.dtype) for key, col in attribute_set.meta.items()},
    }
    with atomic_write(out / "README.md") as fh:
        fh.write(dataset_card(attribute_set, plan, files, meta_json))
    log.info("wrote %s: %s", out, ", ".join(f"{k} {len(v)}" for k, v in plan.items()))
    return out


def _size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return label
    return "1M<n<10M"


def dataset_card(attribute_set: AttributeSet, plan: dict[str, np.ndarray], files: dict[str, list[str]],
                 meta_json: dict[str, Any]) -> str:
    """The README.md of an export: YAML header (configs, licence, dataset_info) and a readable body."""
    import yaml

    schema = attribute_set.schema
    info = _card_info(attribute_set.dataset, schema)
    header: dict[str, Any] = {"pretty_name": info.pretty_name, "license": info.license}
    if info.license == "other":
        header["license_name"] = f"{attribute_set.dataset or schema.name}-original-terms"
        if info.homepage:
            header["license_link"] = info.homepage
    header.update({
        "task_categories": ["image-classification"],
        "tags": ["pedestrian-attribute-recognition", "multi-label-classification", "pa100k-bench"],
        "size_categories": [_size_category(len(attribute_set))],
        "configs": [{
            "config_name": "default",
            "data_files": [{"split": hub, "path": f"data/{hub}-*.parquet"} for hub in plan],
        }],
        "dataset_info": {
            "config_name": "default",
            "description": json.dumps(meta_json, separators=(",", ":")),
        },
    })
    known_any = attribute_set.mask is not None
    ratios = {hub: _ratios(attribute_set, idx) for hub, idx in plan.items() if hub != UNASSIGNED}
    group_of = {a: g for g in schema.groups for a in g}
    lines = [
        "---", yaml.safe_dump(header, sort_keys=False, allow_unicode=True, width=100000).rstrip(), "---", "",
        f"# {info.pretty_name}", "", info.summary, "",
        (f"Exported by `pa100k-bench` from dataset `{attribute_set.dataset or schema.name}` with attribute schema "
         f"`{schema.name}` ({schema.num_attributes} attributes). {schema.description}"), "",
        "## Loading", "", "```python", "import datasets, pa100k",
        'ds = datasets.load_dataset("PATH_OR_REPO_ID")   # splits: ' + ", ".join(plan),
        "data = pa100k.from_hf(ds)                      # back to an AttributeSet (schema, splits, mask)",
        "```", "",
        "## Splits", "", "| hub split | split in pa100k-bench | images | files |", "|---|---|---:|---:|",
    ]
    ours = {hub: name for name, hub in meta_json["splits"].items()}
    for hub, idx in plan.items():
        lines.append(f"| {hub} | {ours.get(hub, '(none)')} | {len(idx)} | {len(files[hub])} |")
    if UNASSIGNED in plan:
        lines += ["", (f"`{UNASSIGNED}` holds the images that belong to no split of the source; they are kept so "
                       "that the export restores the whole dataset.")]
    if "trainval" not in meta_json["splits"] and "train" in meta_json["splits"] and "val" in meta_json["splits"]:
        lines += ["", "`trainval` is `train` followed by `validation`."]
    lines += [
        "", "## Columns", "",
        ("- `image`: the original image file (not re-encoded); `name`: its file name in the release; "
         "`index`: its row in the source dataset."),
    ]
    if attribute_set.meta:
        lines.append("- " + ", ".join(f"`{k}`" for k in attribute_set.meta) + ": per-image metadata.")
    if meta_json["label_format"] == "columns":
        lines.append("- one boolean column per attribute, named as in the table below.")
    else:
        lines.append("- `labels`: a list of booleans, one per attribute, in the order of the table below.")
    if known_any:
        lines.append("- a null label is unknown (e.g. RAP's label 2, uncertain) and must be left out of metrics.")
    lines += ["", "## Attributes", "", "Positive ratio = positives / known labels in each split.", ""]
    hubs = list(ratios)
    lines.append("| # | attribute | exclusive group | " + " | ".join(hubs) + " |")
    lines.append("|---:|---|---|" + "---:|" * len(hubs))
    for j, a in enumerate(schema.attributes):
        cells = [f"{ratios[h][j]:.4f}" if np.isfinite(ratios[h][j]) else "n/a" for h in hubs]
        group = " / ".join(group_of[a]) if a in group_of else ""
        lines.append(f"| {j} | {a} | {group} | " + " | ".join(cells) + " |")
    lines += ["", "## Licence", "",
              ("Images and labels remain under the terms of the original release"
               + (f" ({info.homepage})" if info.homepage else "")
               + "; this export grants no further rights." if info.license == "other"
               else f"Released under the {info.license.upper()} licence."),
              "", "## Citation", "", "```bibtex", info.citation, "```", ""]
    return "\n".join(lines)


def _ratios(attribute_set: AttributeSet, idx: np.ndarray) -> np.ndarray:
    known = attribute_set.known()[idx]
    pos = (attribute_set.labels[idx].astype(bool) & known).sum(0)
    cnt = known.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, pos / np.maximum(cnt, 1), np.nan)


# ----------------------------------------------------------------------------------------------- import


def from_hf(
    source: Any,
    *,
    schema: AttributeSchema | None = None,
    cache_dir: str | Path | None = None,
    revision: str | None = None,
    local_files_only: bool | None = None,
) -> AttributeSet:
    """An `AttributeSet` from an export: a loaded ``DatasetDict``/``Dataset``, a folder, or a hub dataset id.

    A hub id is fetched with ``huggingface_hub.snapshot_download`` into the hub's own cache (``cache_dir``
    overrides its location), so a dataset downloaded once opens again with ``HF_HUB_OFFLINE=1``. A folder
    written by `export_hf` is read straight from its parquet shards (no second copy in the datasets cache);
    any other folder goes through ``datasets.load_dataset``. ``schema`` overrides the stored schema.
    """
    import datasets

    if isinstance(source, datasets.Dataset):
        source = datasets.DatasetDict({"train": source})
    if isinstance(source, datasets.DatasetDict):
        tables = {hub: split.with_format("arrow")[:] for hub, split in source.items()}
        return _assemble(tables, _description(split.info.description for split in source.values()), schema)
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"from_hf: expected a DatasetDict, a folder or a hub id, found {type(source).__name__}")
    path = Path(source).expanduser()
    if not path.exists():
        if isinstance(source, os.PathLike) or not re.fullmatch(r"[\w.-]+/[\w.-]+", str(source)):
            raise FileNotFoundError(f"from_hf: {source} is neither an existing folder nor a hub dataset id (owner/name)")
        path = Path(_snapshot(str(source), cache_dir, revision, local_files_only))
    card = path / "README.md"
    if not card.is_file():
        raise FileNotFoundError(f"from_hf: {card} not found; expected a folder written by export-hf")
    header = _card_header(card)
    desc = _description([header.get("dataset_info", {}).get("description")])
    if desc is None:  # not ours: let datasets interpret the card
        return from_hf(datasets.load_dataset(str(path)), schema=schema)
    return _assemble(_read_shards(path, header), desc, schema)


def _snapshot(repo_id: str, cache_dir, revision, local_files_only) -> str:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return snapshot_download(
            repo_id, repo_type="dataset", revision=revision,
            cache_dir=None if cache_dir is None else str(cache_dir),
            local_files_only=bool(local_files_only),
        )
    except LocalEntryNotFoundError as exc:
        where = cache_dir or "the default hub cache"
        raise FileNotFoundError(
            f"from_hf: hub dataset {repo_id!r} is not in {where} and the hub cannot be reached ({exc})"
        ) from None


def _card_header(card: Path) -> dict[str, Any]:
    import yaml

    text = card.read_text(encoding="utf-8")
    parts = text.split("---\n", 2) if text.startswith("---\n") else []
    if len(parts) < 3:
        raise ValueError(f"{card}: no YAML header (a '---' block) found")
    try:
        header = yaml.safe_load(parts[1]) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{card}: YAML header cannot be parsed ({exc})") from None
    if not isinstance(header, dict):
        raise ValueError(f"{card}: YAML header must be a mapping")
    return header


def _read_shards(path: Path, header: dict[str, Any]) -> dict[str, Any]:
    """Per hub split, the concatenated parquet shards named by the card's ``configs[0].data_files``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        data_files = header["configs"][0]["data_files"]
    except (KeyError, IndexError, TypeError):
        raise ValueError(f"{path / 'README.md'}: YAML header lacks configs[0].data_files") from None
    tables = {}
    for entry in data_files:
        files = sorted(path.glob(entry["path"]))
        if not files:
            raise FileNotFoundError(f"{path}: split {entry['split']!r} has no files matching {entry['path']!r}")
        tables[entry["split"]] = pa.concat_tables([pq.read_table(f) for f in files])
    return tables


def _description(texts: Iterable[Any]) -> dict[str, Any] | None:
    """The export's JSON description (schema, split mapping, meta dtypes), if one of ``texts`` holds it."""
    for text in texts:
        try:
            d = json.loads(text or "")
        except (json.JSONDecodeError, TypeError):
            continue
        if isinstance(d, dict) and d.get("format") == FORMAT:
            if d.get("version", 0) > FORMAT_VERSION:
                raise ValueError(f"from_hf: export format version {d['version']} is newer than this reader ({FORMAT_VERSION})")
            return d
    return None


def _guess_schema(columns: list[str]) -> AttributeSchema:
    """A registered schema whose attributes are exactly the bool label columns, else one built from them."""
    names = tuple(columns)
    for name in SCHEMAS.names():
        candidate = SCHEMAS.get(name)
        if candidate.attributes == names:
            return candidate
    return AttributeSchema(name="hf", attributes=names, description="built from the label columns of a hub dataset")


def _assemble(tables: dict[str, Any], desc: dict[str, Any] | None, schema: AttributeSchema | None) -> AttributeSet:
    """Rows of every hub split (pyarrow tables) back into one `AttributeSet`, deduplicated by ``index``."""
    import pyarrow as pa

    first = next(iter(tables.values()))
    if desc is not None:
        label_format = desc["label_format"]
        schema = schema or AttributeSchema.from_dict(desc["schema"])
        to_ours = {hub: ours for ours, hub in desc["splits"].items()}
        meta_cols: dict[str, str | None] = dict(desc["meta"])
    else:
        label_format = "sequence" if "labels" in first.column_names else "columns"
        to_ours = {hub: ours for ours, hub in HF_SPLIT.items()}
        bool_cols = [f.name for f in first.schema if pa.types.is_boolean(f.type) and f.name not in RESERVED_COLUMNS]
        if schema is None:
            if label_format != "columns":
                raise ValueError("from_hf: a 'labels' list without the export's description needs schema=...")
            schema = _guess_schema(bool_cols)
        meta_cols = {k: None for k in first.column_names
                     if k not in RESERVED_COLUMNS and k not in schema.attributes}
    attrs = schema.attributes
    needed = ["image", "name"] + (list(attrs) if label_format == "columns" else ["labels"]) + list(meta_cols)
    for hub, t in tables.items():
        missing = [c for c in needed if c not in t.column_names]
        if missing:
            raise ValueError(f"from_hf: split {hub!r} lacks columns {missing}; found {t.column_names}")

    has_index = all("index" in t.column_names for t in tables.values())
    offset, rows_of = 0, {}
    for hub, t in tables.items():
        if has_index:
            rows_of[hub] = np.asarray(t.column("index").to_numpy(), dtype=np.int64)
        else:  # a foreign dataset: every row is its own image
            rows_of[hub] = np.arange(offset, offset + t.num_rows, dtype=np.int64)
            offset += t.num_rows
    n = desc["num_images"] if desc is not None else (
        int(max((r.max() for r in rows_of.values() if r.size), default=-1)) + 1)

    names = np.empty(n, dtype=object)
    images: list[Any] = [None] * n
    labels = np.zeros((n, len(attrs)), dtype=np.uint8)
    known = np.ones((n, len(attrs)), dtype=bool)
    meta = {k: np.empty(n, dtype=object) for k in meta_cols}
    seen = np.zeros(n, dtype=bool)
    for hub, t in tables.items():
        rows = rows_of[hub]
        if rows.size and (rows.min() < 0 or rows.max() >= n):
            raise ValueError(f"from_hf: split {hub!r} has index values outside [0, {n})")
        sel = np.flatnonzero(~seen[rows])
        if sel.size == 0:
            continue
        dest = rows[sel]
        tsel = t.take(pa.array(sel))
        names[dest] = tsel.column("name").to_pylist()
        for k, img in zip(dest, tsel.column("image").to_pylist()):
            images[k] = img["bytes"] if img.get("bytes") is not None else Path(img["path"])
        labels[dest], known[dest] = _labels(tsel, attrs, label_format)
        for key, column in meta.items():
            column[dest] = tsel.column(key).to_pylist()
        seen[dest] = True
    if not seen.all():
        raise ValueError(f"from_hf: {int((~seen).sum())} of {n} images are in no split of the hub dataset")

    splits = {to_ours.get(hub, hub): rows for hub, rows in rows_of.items() if hub != UNASSIGNED}
    for name in (desc or {}).get("empty_splits", []):
        splits[name] = np.zeros(0, dtype=np.int64)
    has_mask = desc["has_mask"] if desc is not None else not known.all()
    return AttributeSet(
        schema=schema,
        names=names.astype(str),
        images=images,
        labels=labels,
        splits=splits,
        mask=known if has_mask else None,
        meta={k: _meta_array(v, meta_cols[k]) for k, v in meta.items()},
        dataset=desc["dataset"] if desc is not None else schema.name,
        root=None,
    )


def _labels(table, attrs: tuple[str, ...], label_format: str) -> tuple[np.ndarray, np.ndarray]:
    import pyarrow as pa
    import pyarrow.compute as pc

    def one(col) -> tuple[np.ndarray, np.ndarray]:
        col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        kn = np.asarray(pc.is_valid(col).to_numpy(zero_copy_only=False), dtype=bool)
        val = np.asarray(pc.fill_null(col, False).to_numpy(zero_copy_only=False), dtype=bool)
        return val, kn

    if label_format == "columns":
        pairs = [one(table.column(a)) for a in attrs]
        return (np.stack([p[0] for p in pairs], 1).astype(np.uint8).reshape(table.num_rows, len(attrs)),
                np.stack([p[1] for p in pairs], 1).reshape(table.num_rows, len(attrs)))
    col = table.column("labels").combine_chunks()
    val, kn = one(col.flatten())
    return val.reshape(-1, len(attrs)).astype(np.uint8), kn.reshape(-1, len(attrs))


def _meta_array(values: np.ndarray, dtype: str | None) -> np.ndarray:
    if dtype is not None:
        return np.asarray(values.tolist(), dtype=np.dtype(dtype))
    return np.asarray(values.tolist())


# ----------------------------------------------------------------------------------------------- push


def plan_push(folder: str | Path) -> list[Any]:
    """The ``CommitOperationAdd`` list that uploads an export folder (README.md and data/*.parquet)."""
    from huggingface_hub import CommitOperationAdd

    folder = Path(folder)
    card = folder / "README.md"
    if not card.is_file():
        raise FileNotFoundError(f"push-hf: {card} not found; run export-hf first")
    shards = sorted((folder / "data").glob("*.parquet"))
    if not shards:
        raise FileNotFoundError(f"push-hf: no parquet shards in {folder / 'data'}; run export-hf first")
    files = [card] + shards
    return [CommitOperationAdd(path_in_repo=p.relative_to(folder).as_posix(), path_or_fileobj=str(p)) for p in files]


def push_hf(
    folder: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    commit_message: str | None = None,
    api: Any = None,
) -> Any:
    """Upload an export folder to the hub as a dataset repo; stale ``data/*.parquet`` files there are deleted."""
    from huggingface_hub import CommitOperationDelete, HfApi

    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo_id):
        raise ValueError(f"push-hf: repo id must look like owner/name, found {repo_id!r}")
    adds = plan_push(folder)
    api = api if api is not None else HfApi()
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    new = {op.path_in_repo for op in adds}
    existing: Iterable[str] = api.list_repo_files(repo_id, repo_type="dataset", revision=revision)
    deletes = [CommitOperationDelete(path_in_repo=p) for p in existing
               if p.startswith("data/") and p.endswith(".parquet") and p not in new]
    return api.create_commit(
        repo_id, operations=adds + deletes, repo_type="dataset", revision=revision,
        commit_message=commit_message or f"Upload {len(adds) - 1} parquet shards and the dataset card (pa100k-bench)",
    )
