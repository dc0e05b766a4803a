"""PNG figures of a run: per-attribute mA bars (the paper's Fig. 7) and training curves."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pa100k.fileio import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def per_attribute_bars(path: Path, attributes: Sequence[str], rows: dict[str, Sequence[float | None]],
                       title: str = "") -> None:
    """Grouped bars of per-attribute mA (percent), one colour per method row, like the paper's Fig. 7."""
    plt = _pyplot()
    names = list(rows)
    n_attr = len(attributes)
    width = 0.8 / max(len(names), 1)
    fig, ax = plt.subplots(figsize=(max(8.0, 0.45 * n_attr * max(1, len(names)) ** 0.5 + 2), 4.2))
    x = np.arange(n_attr)
    for k, name in enumerate(names):
        vals = np.array([np.nan if v is None else 100.0 * v for v in rows[name]], dtype=float)
        ax.bar(x + (k - (len(names) - 1) / 2) * width, np.nan_to_num(vals, nan=0.0), width, label=name)
    ax.set_xticks(x)
    ax.set_xticklabels(attributes, rotation=75, ha="right", fontsize=8)
    ax.set_ylabel("mA per attribute (%)")
    ax.set_ylim(40, 100)
    ax.axhline(50, color="grey", lw=0.8, ls=":")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncol=min(len(names), 4), loc="lower right")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def training_curves(path: Path, histories: dict[str, list[dict]]) -> bool:
    """Train loss and val mA per epoch for every method and stage; False when there is nothing to draw."""
    series = []
    for method, history in histories.items():
        stages: dict[str, list[dict]] = {}
        for rec in history:
            stages.setdefault(str(rec.get("stage", "train")), []).append(rec)
        for stage, recs in stages.items():
            label = method if len(stages) == 1 else f"{method}: {stage}"
            series.append((label, recs))
    if not series:
        return False
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for label, recs in series:
        ep = [r.get("epoch", i + 1) for i, r in enumerate(recs)]
        if any("train_loss" in r for r in recs):
            ax1.plot(ep, [r.get("train_loss", np.nan) for r in recs], marker="o", label=label)
        if any("val_mA" in r for r in recs):
            ax2.plot(ep, [100.0 * r["val_mA"] if r.get("val_mA") is not None else np.nan for r in recs],
                     marker="o", label=label)
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("training loss")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("validation mA (%)")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return True
