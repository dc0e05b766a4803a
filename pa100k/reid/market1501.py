"""Market-1501 (Zheng et al., ICCV 2015): ``bounding_box_train/``, ``query/``, ``bounding_box_test/``.

File names look like ``0002_c1s1_000451_03.jpg`` (person id, camera ``c1``..``c6``, sequence, frame,
detection index) and are parsed with ``([-\\d]+)_c(\\d)`` at the start of the name. Person id ``-1``
(junk) is dropped everywhere; person id ``0`` (distractor) is dropped from training and kept in the
gallery (and in the query, where the release has none). Cameras are stored 0-based; training ids are
relabelled ``0..N-1`` in increasing raw-id order; query and gallery keep the raw ids.

Files in these folders with an image suffix (.jpg, .jpeg, .png, .bmp) whose name does not follow the
pattern raise a ValueError naming the file (a stray image usually means a wrong folder); other files
(``Thumbs.db``, notes) are skipped with a debug log.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from pa100k.reid.base import ReIDItem, ReIDSet, list_images, register_reid, relabel

log = logging.getLogger(__name__)

MARKET_PATTERN = re.compile(r"([-\d]+)_c(\d)")
MARKET_FOLDERS = ("bounding_box_train", "query", "bounding_box_test")
MARKET_NESTED = "Market-1501-v15.09.15"
MARKET_CAMERAS = range(1, 7)


def find_market_root(root: Path) -> Path:
    """``root`` itself or its ``Market-1501-v15.09.15/`` child, whichever holds the three folders."""
    root = Path(root)
    for candidate in (root, root / MARKET_NESTED):
        if all((candidate / sub).is_dir() for sub in MARKET_FOLDERS):
            return candidate
    missing = [sub for sub in MARKET_FOLDERS if not (root / sub).is_dir()]
    raise FileNotFoundError(
        f"Market-1501 layout not found under {root}: missing {', '.join(f'{m}/' for m in missing)} "
        f"(also looked in {root / MARKET_NESTED}). Unpack Market-1501-v15.09.15.zip there so that "
        f"{root}/bounding_box_train/0002_c1s1_000451_03.jpg exists."
    )


def parse_market_name(path: Path) -> tuple[int, int]:
    """``(pid, camera)`` of a Market-1501 file name, camera 1-based as written; errors name the file."""
    m = MARKET_PATTERN.match(path.name)
    try:
        if m is None:
            raise ValueError
        pid, cam = int(m.group(1)), int(m.group(2))
    except ValueError:
        raise ValueError(
            f"{path}: file name does not follow the Market-1501 pattern '<pid>_c<camera>...' "
            f"(e.g. 0002_c1s1_000451_03.jpg; regex {MARKET_PATTERN.pattern}); remove or rename it"
        ) from None
    if pid < -1:
        raise ValueError(f"{path}: person id must be -1 (junk), 0 (distractor) or positive, found {pid}")
    if cam not in MARKET_CAMERAS:
        raise ValueError(f"{path}: camera must be c1..c6, found c{cam}")
    return pid, cam


def read_market_folder(folder: Path) -> tuple[list[ReIDItem], int]:
    """``(path, raw pid, 0-based camid)`` for every non-junk image of ``folder``, plus the junk count."""
    items, junk = [], 0
    for path in list_images(folder):
        pid, cam = parse_market_name(path)
        if pid == -1:
            junk += 1
            continue
        items.append((path, pid, cam - 1))
    return items, junk


@register_reid("market1501")
def load_market1501(root: Path) -> ReIDSet:
    """Market-1501 from ``root`` (or ``root/Market-1501-v15.09.15/``): the fixed 751/750-id split."""
    base = find_market_root(root)
    subsets, junk = {}, {}
    for key, folder in zip(("train", "query", "gallery"), MARKET_FOLDERS):
        items, junk[key] = read_market_folder(base / folder)
        if not items:
            raise ValueError(f"{base / folder}: no Market-1501 images found (expected files like 0002_c1s1_000451_03.jpg)")
        subsets[key] = items
    train = [item for item in subsets["train"] if item[1] != 0]
    dropped = len(subsets["train"]) - len(train)
    labels = relabel(pid for _, pid, _ in train)
    train = [(path, labels[pid], camid) for path, pid, camid in train]
    log.debug("market1501 %s: dropped %s junk images, %d distractors from train", base, junk, dropped)
    return ReIDSet(
        name="market1501", train=train, query=subsets["query"], gallery=subsets["gallery"],
        protocol="market1501", root=base,
        info={"junk_dropped": sum(junk.values()), "train_distractors_dropped": dropped},
    )
