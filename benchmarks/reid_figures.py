"""PNG figures of a ReID run: CMC curves, ranked lists (query and top-k gallery, true matches green, false red, as
the paper's Fig. 9) and the component-analysis bars of Fig. 6(a) with a 3×3 path glyph per configuration."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pa100k.fileio import atomic_path

MATCH_COLOR = "#2ca02c"
MISS_COLOR = "#d62728"
QUERY_COLOR = "#1f1f1f"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    plt = _pyplot()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def cmc_curves(path: str | Path, curves: dict[str, Sequence[float]], *, title: str = "",
               chance_top1: float | None = None) -> None:
    """CMC (percent) against rank, one line per method row; ``chance_top1`` marks a random ranking's rank-1."""
    if not curves:
        raise ValueError("cmc_curves: no curve to draw")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 4.2))
    for name, cmc in curves.items():
        y = 100.0 * np.asarray(cmc, dtype=float)
        ranks = np.arange(1, len(y) + 1)
        label = f"{name} (top-1 {y[0]:.1f}%)"
        ax.plot(ranks, y, marker="o", markersize=3, label=label)
    if chance_top1 is not None:
        ax.plot([1], [100.0 * chance_top1], marker="x", color="grey", linestyle="none",
                label=f"random ranking (top-1 {100 * chance_top1:.1f}%)")
    ax.set_xlabel("rank")
    ax.set_ylabel("matching rate (%)")
    ax.set_xscale("log")
    ticks = [t for t in (1, 5, 10, 20, 50) if t <= max(len(c) for c in curves.values())]
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(t) for t in ticks])
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    _save(fig, Path(path))


@dataclass
class RankedRow:
    """One ranked list: the method ``label``, the query image and caption, the top-k gallery images (None past
    the end of the gallery) and whether each is a true match."""

    label: str
    query: Any
    caption: str
    gallery: list[Any]
    matches: list[bool]


def _show(ax: Any, image: Any, size: tuple[int, int], color: str | None, width: float = 3.0) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    if image is None:
        for spine in ax.spines.values():
            spine.set_visible(False)
        return
    ax.imshow(np.asarray(image.convert("RGB").resize((size[1], size[0]))))
    for spine in ax.spines.values():
        spine.set_edgecolor(color or "white")
        spine.set_linewidth(width)


def ranked_lists(path: str | Path, rows: Sequence[RankedRow], *, title: str = "", size: tuple[int, int] = (128, 64)) -> None:
    """A grid: per row the query (dark border) then its ranked gallery images, true matches framed green, false red."""
    if not rows:
        raise ValueError("ranked_lists: no row to draw")
    k = max(len(r.gallery) for r in rows)
    plt = _pyplot()
    fig, axes = plt.subplots(len(rows), k + 1, figsize=(0.75 * (k + 1) + 1.2, 1.55 * len(rows) + 0.5), squeeze=False)
    for r, row in enumerate(rows):
        _show(axes[r, 0], row.query, size, QUERY_COLOR)
        axes[r, 0].set_ylabel(row.label, fontsize=8, rotation=0, ha="right", va="center")
        axes[r, 0].set_xlabel(row.caption, fontsize=7)
        for j in range(k):
            image = row.gallery[j] if j < len(row.gallery) else None
            hit = j < len(row.matches) and bool(row.matches[j])
            _show(axes[r, j + 1], image, size, MATCH_COLOR if hit else MISS_COLOR)
            if r == 0:
                axes[r, j + 1].set_title(str(j + 1), fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, Path(path))


@dataclass
class AblationBar:
    """One configuration of Fig. 6(a): its label, top-1 (fraction) with an optional 95% interval, its attentive
    paths (None: M-net, no attention) and its bar colour."""

    label: str
    value: float
    color: str
    paths: tuple[tuple[int, int], ...] | None = None
    ci: tuple[float, float] | None = None


def _glyph(ax: Any, y: float, paths: tuple[tuple[int, int], ...] | None) -> None:
    """The 3×3 box of Fig. 6(a): row i = attention map αⁱ, column k = attended block; filled = path kept."""
    from matplotlib.patches import Rectangle

    kept = set(paths or ())
    cell = 0.26
    for i in (1, 2, 3):
        for k in (1, 2, 3):
            x0 = 0.1 + (k - 1) * cell
            y0 = y + 0.39 - i * cell
            on = (i, k) in kept
            ax.add_patch(Rectangle((x0, y0), cell * 0.9, cell * 0.9, facecolor="#444444" if on else "white",
                                   edgecolor="#444444", linewidth=0.8))


def ablation_bars(path: str | Path, bars: Sequence[AblationBar], *, title: str = "",
                  xlabel: str = "top-1 accuracy (%)") -> None:
    """Horizontal bars of top-1 per configuration (first bar on top), each with its 3×3 path glyph."""
    if not bars:
        raise ValueError("ablation_bars: no bar to draw")
    plt = _pyplot()
    fig, (gax, ax) = plt.subplots(1, 2, figsize=(7.5, 0.55 * len(bars) + 1.3), sharey=True,
                                  gridspec_kw={"width_ratios": [1, 8]})
    ys = np.arange(len(bars))[::-1].astype(float)
    values = np.array([100.0 * b.value for b in bars])
    errors = None
    if any(b.ci is not None for b in bars):
        errors = np.array([[100.0 * (b.value - b.ci[0]), 100.0 * (b.ci[1] - b.value)] if b.ci else [0.0, 0.0]
                           for b in bars]).T
    ax.barh(ys, values, color=[b.color for b in bars], edgecolor="#333333", linewidth=0.6, height=0.7,
            xerr=errors, capsize=3, error_kw={"elinewidth": 0.8, "ecolor": "#555555"})
    right = values if errors is None else values + errors[1]
    span = min(100.0, max(right.max() * 1.15, 5.0))
    for y, v, r in zip(ys, values, right):
        ax.text(r + 0.01 * span, y, f"{v:.1f}", va="center", fontsize=8)
    ax.set_yticks(ys)
    ax.set_yticklabels([b.label for b in bars], fontsize=8)
    ax.tick_params(axis="y", labelleft=False)
    ax.set_xlabel(xlabel)
    ax.set_xlim(0, span)
    ax.grid(axis="x", alpha=0.3)
    for y, b in zip(ys, bars):
        _glyph(gax, y, b.paths)
        ax.text(0.3, y + 0.36, b.label, fontsize=7, va="bottom", color="#333333")
    gax.set_xlim(0, 1)
    gax.set_ylim(-0.6, len(bars) - 0.4)
    gax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(left=0.02, right=0.97, bottom=0.8 / fig.get_figheight(), top=1 - 0.45 / fig.get_figheight(),
                        wspace=0.02)
    _save(fig, Path(path))


def training_curves(path: str | Path, history: Sequence[dict[str, Any]]) -> None:
    """Training loss and held-out identity accuracy (percent) per epoch, one line per stage (``stage`` key)."""
    stages: dict[str, list[dict[str, Any]]] = {}
    for rec in history:
        stages.setdefault(str(rec.get("stage", "train")), []).append(rec)
    if not stages:
        raise ValueError("training_curves: empty history")
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for stage, recs in stages.items():
        epochs = [r.get("epoch", i + 1) for i, r in enumerate(recs)]
        ax1.plot(epochs, [r.get("train_loss", np.nan) for r in recs], marker="o", label=stage)
        acc = [np.nan if r.get("val_accuracy") is None else 100.0 * r["val_accuracy"] for r in recs]
        ax2.plot(epochs, acc, marker="o", label=stage)
    ax1.set_ylabel("training loss")
    ax2.set_ylabel("held-out identity accuracy (%)")
    for ax in (ax1, ax2):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    _save(fig, Path(path))
