"""VIPeR (Gray et al., PETS 2007): ``cam_a/`` and ``cam_b/``, one image per identity per camera.

Layout: ``root/cam_a`` and ``root/cam_b`` (or ``root/VIPeR/cam_*``). Files of each folder are sorted by
name and paired by position (torchreid's rule); where both names start with a number (``000_45.bmp``,
``000_90.bmp``) the numbers must agree. Identity ``i`` (0-based position) has raw pid ``i + 1``; camera
id 0 is ``cam_a``, 1 is ``cam_b``.

Splits: 10 random halves (316 training / 316 test identities on the release), made with
``numpy.random.default_rng(seed)`` (``seed=0`` by default, fixed so every run and every machine get the
same splits): split ``k`` is the ``k``-th of 10 successive permutations of the identities, its first
``n // 2`` train. ``direction="a2b"`` queries ``cam_a`` against a ``cam_b`` gallery, ``"b2a"`` the reverse
(torchreid's 20 = 10 splits x 2 directions; both directions share the training set).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from pa100k.reid.base import ReIDSet, check_choice, list_images, register_reid

VIPER_CAMERAS = ("cam_a", "cam_b")
VIPER_DIRECTIONS = ("a2b", "b2a")
NUM_VIPER_SPLITS = 10
VIPER_SPLIT_SEED = 0
_LEADING_NUMBER = re.compile(r"(\d+)")


def find_viper_root(root: Path) -> Path:
    """``root`` or ``root/VIPeR``, whichever holds ``cam_a/`` and ``cam_b/``."""
    root = Path(root)
    for candidate in (root, root / "VIPeR"):
        if all((candidate / cam).is_dir() for cam in VIPER_CAMERAS):
            return candidate
    raise FileNotFoundError(
        f"VIPeR layout not found under {root}: expected folders cam_a/ and cam_b/ (or VIPeR/cam_a, VIPeR/cam_b); "
        f"unpack VIPeR.v1.0.zip there."
    )


def viper_pairs(base: Path) -> list[tuple[Path, Path]]:
    """The ``(cam_a image, cam_b image)`` pair of every identity, in file-name order."""
    cam_a, cam_b = (list_images(base / cam) for cam in VIPER_CAMERAS)
    if len(cam_a) != len(cam_b):
        raise ValueError(
            f"VIPeR {base}: cam_a/ has {len(cam_a)} images but cam_b/ has {len(cam_b)}; "
            f"each identity needs exactly one image in each camera"
        )
    if not cam_a:
        raise ValueError(f"VIPeR {base}: cam_a/ and cam_b/ hold no images (expected .bmp files like 000_45.bmp)")
    for a, b in zip(cam_a, cam_b):
        ma, mb = _LEADING_NUMBER.match(a.name), _LEADING_NUMBER.match(b.name)
        if ma and mb and int(ma.group(1)) != int(mb.group(1)):
            raise ValueError(
                f"VIPeR {base}: images are paired by position but {a.name} (cam_a) and {b.name} (cam_b) "
                f"start with different identity numbers; a file is missing or extra in one camera"
            )
    return list(zip(cam_a, cam_b))


def viper_splits(num_ids: int, seed: int = VIPER_SPLIT_SEED) -> list[tuple[np.ndarray, np.ndarray]]:
    """The 10 ``(train, test)`` identity index arrays (``num_ids // 2`` training identities each)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(NUM_VIPER_SPLITS):
        order = rng.permutation(num_ids)
        out.append((np.sort(order[: num_ids // 2]), np.sort(order[num_ids // 2:])))
    return out


@register_reid("viper")
def load_viper(root: Path, split: int = 0, direction: str = "a2b", seed: int = VIPER_SPLIT_SEED) -> ReIDSet:
    """VIPeR random split ``split`` (0..9, 316/316 identities) with queries from one camera, gallery the other."""
    check_choice("viper", "split", split, list(range(NUM_VIPER_SPLITS)))
    check_choice("viper", "direction", direction, VIPER_DIRECTIONS)
    base = find_viper_root(root)
    pairs = viper_pairs(base)
    train_ids, test_ids = viper_splits(len(pairs), seed)[split]
    train = [(pairs[i][cam], label, cam) for label, i in enumerate(train_ids.tolist()) for cam in (0, 1)]
    q_cam = 0 if direction == "a2b" else 1
    query = [(pairs[i][q_cam], i + 1, q_cam) for i in test_ids.tolist()]
    gallery = [(pairs[i][1 - q_cam], i + 1, 1 - q_cam) for i in test_ids.tolist()]
    return ReIDSet(
        name="viper", train=train, query=query, gallery=gallery, protocol="viper", root=base,
        info={"split": split, "direction": direction, "seed": seed},
    )
