"""CUHK03 (Li et al., CVPR 2014): ``cuhk-03.mat`` (MATLAB v7.3, read with h5py), classic and new protocols.

Layout: ``root/cuhk-03.mat`` or ``root/cuhk03_release/cuhk-03.mat``; for the new protocol also
``cuhk03_new_protocol_config_{labeled,detected}.mat`` in ``root`` or beside the mat.

Images live inside the mat. On first use the chosen box type is extracted to PNG files in
``<cache_dir>/pa100k-cache/<boxes>/`` (``cache_dir`` defaults to the mat's folder), written into a
temporary folder and renamed into place, so an interrupted extraction leaves nothing behind. The file
names are torchreid's and the new-protocol configs': ``{pair}_{pid:03d}_{view}_{image:02d}.png``
(camera pair 1..5, person index within the pair, view 1..2, image 1..10). Delete the folder to extract
again. Cells 0-4 of a person are view 1, cells 5-9 view 2; ``camid = view - 1``; empty cells are skipped.

Person ids: ``raw pid = offset(pair) + person index`` (1-based, pairs in order, so 1..1467 on the
release, which is also the numbering of the new-protocol ``labels``). Training ids are relabelled 0..N-1.

- ``protocol="classic"`` (``split`` 0..19): the 100 test identities of ``testsets{split+1}``; everyone
  else trains. As torchreid does, ``query`` and ``gallery`` both hold every image of the test
  identities; the evaluation's same-pid-same-camera rule then matches view-1 queries against view-2
  images and the reverse. Evaluate with ``reid_metrics(..., protocol="cuhk03_single_shot")``.
- ``protocol="new"`` (Zhong et al. 2017, ``split`` 0 only): the 767/700 split of the config file
  (``train_idx``, ``query_idx``, ``gallery_idx`` 1-based into ``filelist`` and ``labels``);
  evaluated like Market-1501.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from pa100k.reid.base import ReIDSet, atomic_directory, check_choice, register_reid, relabel

log = logging.getLogger(__name__)

CUHK03_MAT = "cuhk-03.mat"
CUHK03_BOXES = ("labeled", "detected")
CUHK03_PROTOCOLS = ("classic", "new")
NUM_CLASSIC_SPLITS = 20
NEW_PROTOCOL_CONFIG = "cuhk03_new_protocol_config_{boxes}.mat"
NEW_PROTOCOL_KEYS = ("train_idx", "query_idx", "gallery_idx", "labels", "filelist")
IMAGES_PER_PERSON = 10  # cells 0-4 view 1, 5-9 view 2
INDEX_FILE = "index.json"


def find_cuhk03_mat(root: Path) -> Path:
    """``root/cuhk-03.mat`` or ``root/cuhk03_release/cuhk-03.mat``."""
    root = Path(root)
    for candidate in (root / CUHK03_MAT, root / "cuhk03_release" / CUHK03_MAT):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"CUHK03: {CUHK03_MAT} not found in {root} or {root / 'cuhk03_release'}; unpack cuhk03_release.zip "
        f"there (the v7.3 MAT-file with keys 'labeled', 'detected', 'testsets')."
    )


def check_mat_v73(path: Path) -> None:
    """Raise a ValueError unless ``path`` is a MATLAB v7.3 (HDF5) MAT-file."""
    import h5py

    with open(path, "rb") as fh:
        header = fh.read(116)
    if h5py.is_hdf5(path):
        return
    if header.startswith(b"MATLAB 5.0"):
        text = header.split(b"\x00")[0].decode("latin-1", "replace").strip()
        raise ValueError(
            f"{path}: this is a MATLAB v5 MAT-file (header {text[:60]!r}); CUHK03's cuhk-03.mat must be the "
            f"original MATLAB v7.3 (HDF5) release, which is read with h5py. Use the file from cuhk03_release.zip "
            f"or re-save it in MATLAB with save(..., '-v7.3')."
        )
    raise ValueError(f"{path}: not a MATLAB v7.3 (HDF5) MAT-file; expected an HDF5 file, found header {header[:20]!r}")


def _deref(mat, ref) -> np.ndarray:
    """The array a MATLAB cell reference points to, transposed back to MATLAB's axis order."""
    return np.asarray(mat[ref]).T


def _h5_key(mat, key: str, path: Path):
    if key not in mat:
        raise ValueError(f"{path}: key {key!r} missing; found keys {sorted(k for k in mat if not k.startswith('#'))}")
    return mat[key]


def image_file_name(pair: int, pid: int, view: int, image: int) -> str:
    """The torchreid / new-protocol file name of one extracted image (all arguments 1-based)."""
    return f"{pair:d}_{pid:03d}_{view:d}_{image:02d}.png"


def extract_cuhk03_images(mat_path: Path, boxes: str, cache_dir: Path | None = None) -> Path:
    """Extract ``boxes`` images of ``cuhk-03.mat`` to PNG files once; return the folder (holds ``index.json``)."""
    import h5py
    from PIL import Image
    from tqdm import tqdm

    check_choice("cuhk03", "boxes", boxes, CUHK03_BOXES)
    folder = Path(cache_dir if cache_dir is not None else mat_path.parent) / "pa100k-cache" / boxes
    if (folder / INDEX_FILE).is_file():
        return folder
    check_mat_v73(mat_path)
    log.info("extracting CUHK03 %s images from %s to %s", boxes, mat_path, folder)
    with h5py.File(mat_path, "r") as mat, atomic_directory(folder) as tmp:
        pairs = np.asarray(_h5_key(mat, boxes, mat_path)).ravel()
        num_ids, images = [], []
        for pair, pair_ref in enumerate(pairs, start=1):
            cells = _deref(mat, pair_ref)  # (identities, 10) references
            if cells.ndim != 2 or cells.shape[1] != IMAGES_PER_PERSON:
                raise ValueError(f"{mat_path}: {boxes}{{{pair}}} must be an identities x 10 cell, found shape {cells.shape}")
            num_ids.append(int(cells.shape[0]))
            for pid in tqdm(range(1, cells.shape[0] + 1), desc=f"{boxes} pair {pair}", leave=False, disable=None):
                for k, ref in enumerate(cells[pid - 1]):
                    img = _deref(mat, ref)
                    if img.size == 0 or img.ndim < 3:
                        continue  # an empty cell: no image for this slot
                    if img.ndim != 3 or img.shape[2] != 3:
                        raise ValueError(f"{mat_path}: {boxes} pair {pair} person {pid} image {k + 1}: expected HxWx3, found {img.shape}")
                    view = 1 if k < IMAGES_PER_PERSON // 2 else 2
                    name = image_file_name(pair, pid, view, k + 1)
                    Image.fromarray(np.ascontiguousarray(img.astype(np.uint8))).save(tmp / name)
                    images.append([pair, pid, view, k + 1, name])
        index = {"source": str(mat_path), "boxes": boxes, "num_ids": num_ids, "images": images}
        (tmp / INDEX_FILE).write_text(json.dumps(index))
    return folder


def read_classic_testsets(mat_path: Path) -> list[np.ndarray]:
    """The 20 classic test sets: per split an ``(100, 2)`` int array of 1-based (camera pair, person) rows."""
    import h5py

    check_mat_v73(mat_path)
    with h5py.File(mat_path, "r") as mat:
        refs = np.asarray(_h5_key(mat, "testsets", mat_path)).ravel()
        out = []
        for k, ref in enumerate(refs):
            rows = _deref(mat, ref)
            if rows.ndim != 2 or rows.shape[1] != 2:
                raise ValueError(f"{mat_path}: testsets{{{k + 1}}} must be an N x 2 array of (pair, person), found {rows.shape}")
            out.append(rows.astype(np.int64))
    return out


def _find_config(root: Path, mat_path: Path, boxes: str) -> Path:
    name = NEW_PROTOCOL_CONFIG.format(boxes=boxes)
    for candidate in (Path(root) / name, mat_path.parent / name):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"CUHK03 new protocol: {name} not found in {root} or {mat_path.parent}; get it from Zhong et al.'s "
        f"re-ranking release (evaluation/data/CUHK03/) and put it beside {CUHK03_MAT}."
    )


def _mat_string(value) -> str:
    """A MATLAB char array as loaded by scipy (possibly nested in object arrays) as a str."""
    while isinstance(value, np.ndarray):
        if value.size != 1:
            if value.dtype.kind == "U":
                return "".join(value.ravel().tolist())
            raise ValueError(f"expected one string, found an array of shape {value.shape}")
        value = value.ravel()[0]
    return str(value)


def _classic_split(index: dict, testsets: list[np.ndarray], split: int, mat_path: Path, folder: Path):
    check_choice("cuhk03", "split", split, list(range(len(testsets))))
    num_ids = index["num_ids"]
    offsets = np.concatenate([[0], np.cumsum(num_ids)])
    test = set()
    for pair, pid in testsets[split].tolist():
        if not (1 <= pair <= len(num_ids) and 1 <= pid <= num_ids[pair - 1]):
            raise ValueError(
                f"{mat_path}: testsets{{{split + 1}}} row ({pair}, {pid}) is outside the "
                f"{len(num_ids)} camera pairs / their person counts {num_ids}"
            )
        test.add(int(offsets[pair - 1] + pid))
    train, query = [], []
    for pair, pid, view, _, name in index["images"]:
        raw = int(offsets[pair - 1] + pid)
        (query if raw in test else train).append((folder / name, raw, view - 1))
    labels = relabel(pid for _, pid, _ in train)
    train = [(path, labels[pid], camid) for path, pid, camid in train]
    return train, query, list(query)


def _new_split(index: dict, config_path: Path, folder: Path):
    from scipy.io import loadmat

    config = loadmat(config_path)
    missing = [k for k in NEW_PROTOCOL_KEYS if k not in config]
    if missing:
        raise ValueError(f"{config_path}: keys {missing} missing; expected {list(NEW_PROTOCOL_KEYS)}")
    labels = np.asarray(config["labels"]).ravel().astype(np.int64)
    filelist = [_mat_string(v) for v in np.asarray(config["filelist"], dtype=object).ravel()]
    if len(filelist) != len(labels):
        raise ValueError(f"{config_path}: filelist has {len(filelist)} entries but labels {len(labels)}")
    if labels.size and labels.min() < 1:
        raise ValueError(f"{config_path}: labels must be 1-based person ids, found minimum {labels.min()}")
    known = {row[4] for row in index["images"]}

    def items(key: str) -> list:
        idx = np.asarray(config[key]).ravel().astype(np.int64) - 1  # 1-based in the file
        if idx.size and (idx.min() < 0 or idx.max() >= len(filelist)):
            raise ValueError(f"{config_path}: {key} must hold 1-based indices in 1..{len(filelist)}, found {idx.min() + 1}..{idx.max() + 1}")
        out = []
        for i in idx:
            name = filelist[i]
            if name not in known:
                raise ValueError(f"{config_path}: filelist entry {name!r} ({key}) is not an image of {index['source']} ({index['boxes']})")
            out.append((folder / name, int(labels[i]), int(name.split("_")[2]) - 1))
        return out

    train = items("train_idx")
    mapping = relabel(pid for _, pid, _ in train)
    train = [(path, mapping[pid], camid) for path, pid, camid in train]
    return train, items("query_idx"), items("gallery_idx")


@register_reid("cuhk03")
def load_cuhk03(
    root: Path, split: int = 0, boxes: str = "labeled", protocol: str = "classic", cache_dir: str | Path | None = None
) -> ReIDSet:
    """CUHK03 with ``labeled`` or ``detected`` boxes, classic split 0..19 or the new 767/700 protocol."""
    check_choice("cuhk03", "boxes", boxes, CUHK03_BOXES)
    check_choice("cuhk03", "protocol", protocol, CUHK03_PROTOCOLS)
    mat_path = find_cuhk03_mat(root)
    check_mat_v73(mat_path)
    if protocol == "new":
        check_choice("cuhk03", "split", split, [0])
        config_path = _find_config(root, mat_path, boxes)
    folder = extract_cuhk03_images(mat_path, boxes, cache_dir)
    index = json.loads((folder / INDEX_FILE).read_text())
    if protocol == "classic":
        train, query, gallery = _classic_split(index, read_classic_testsets(mat_path), split, mat_path, folder)
    else:
        train, query, gallery = _new_split(index, config_path, folder)
    return ReIDSet(
        name="cuhk03", train=train, query=query, gallery=gallery,
        protocol="cuhk03_single_shot" if protocol == "classic" else "market1501", root=Path(root),
        info={"boxes": boxes, "protocol": protocol, "split": split},
    )
