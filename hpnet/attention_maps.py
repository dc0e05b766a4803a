"""Figures of HP-net attention maps over the input image (the paper's Fig. 4 and 7): one PNG per image.

Each row is one attention level αⁱ (block i); the first column shows the image with the mean over the L
channels, the others each channel α^i_l. Maps are upsampled (bilinear, for reading) to the input size
and stretched per row from the row's minimum (blue) to its maximum (red), both printed, so the channels of
one level compare directly.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from pa100k.attribute_set import open_image
from pa100k.fileio import atomic_path

logger = logging.getLogger(__name__)

SUPERSCRIPTS = {"1": "¹", "2": "²", "3": "³"}


@torch.no_grad()
def attention_for_image(model, image, device: str = "cpu") -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The image as the model sees it (H, W, 3 uint8) and ``{"block{i}": αⁱ (L, h, w)}``."""
    from torchvision.transforms import v2

    from hpnet.predict import eval_transform

    if not hasattr(model, "attention_maps"):
        raise ValueError(f"{type(model).__name__} has no attention maps (only HP-net checkpoints do)")
    size = tuple(model.config.input_size)
    shown = v2.Compose([v2.ToImage(), v2.Resize(size, antialias=True)])(image).permute(1, 2, 0).numpy()
    x = eval_transform(model)(image).unsqueeze(0).to(device)
    maps = model.to(device).eval().attention_maps(x)
    return shown, {k: v[0].float().cpu().numpy() for k, v in maps.items()}


def save_attention_figure(image: np.ndarray, maps: dict[str, np.ndarray], path: str | os.PathLike, *,
                          title: str = "") -> Path:
    """Draw ``image`` (H, W, 3) with every attention channel of ``maps`` overlaid and save it as a PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    if not maps:
        raise ValueError("save_attention_figure: no attention map to draw")
    levels = sorted(maps)
    channels = max(m.shape[0] for m in maps.values())
    h, w = image.shape[:2]
    cell = 1.6
    fig, axes = plt.subplots(len(levels), channels + 1, squeeze=False,
                             figsize=((channels + 1) * cell * w / h + 0.6, len(levels) * cell + 0.8))
    gray = image.mean(axis=2, keepdims=True).repeat(3, axis=2).astype(np.uint8)
    for row, level in zip(axes, levels):
        amap = maps[level]
        low, top = float(amap.min()), float(amap.max())
        scale = top - low if top > low else 1.0
        idx = level.replace("block", "")
        name = f"α{SUPERSCRIPTS.get(idx, idx)}"
        panels = [(amap.mean(axis=0), f"{name} mean", image)] + [
            (amap[l], f"{name}_{l + 1}", gray) for l in range(amap.shape[0])
        ]
        for col, ax in enumerate(row):
            ax.set_xticks([])
            ax.set_yticks([])
            if col >= len(panels):
                ax.axis("off")
                continue
            heat, label, base = panels[col]
            ax.imshow(base, extent=(0, w, h, 0))
            ax.imshow((heat - low) / scale, cmap="jet", alpha=0.5, vmin=0.0, vmax=1.0, interpolation="bilinear",
                      extent=(0, w, h, 0))
            ax.set_title(label, fontsize=8)
        row[0].set_ylabel(f"block {idx}\n{low:.2g} to {top:.2g}", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return path


def write_attention_maps(model, images: Sequence[str | os.PathLike], out_dir: str | os.PathLike, *,
                         device: str = "cpu") -> list[Path]:
    """One ``<image stem>_attention.png`` per image in ``out_dir``; undecodable images raise naming the file."""
    from hpnet.predict import expand_images

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in expand_images(images):
        shown, maps = attention_for_image(model, open_image(path), device=device)
        written.append(save_attention_figure(shown, maps, out / f"{path.stem}_attention.png", title=path.name))
    logger.info("wrote %d attention figures to %s", len(written), out)
    return written
