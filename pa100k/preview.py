"""Looking at a dataset: a contact sheet of crops with their positive attributes, and positive ratios per split.

``contact_sheet`` draws a grid of crops, each resized to the size models see (64x128 by default) and
enlarged without smoothing, with its positive attributes written underneath; with ``attribute=NAME`` it
shows that attribute's positives on the left and negatives on the right. ``ratio_chart`` plots the share
of positive labels of every attribute in each split (grouped bars).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pa100k.attribute_set import AttributeSet
from pa100k.fileio import atomic_path

#: Short names for the labels under each crop (other schemas use the first characters of the name).
SHORT_NAMES = {
    "Female": "Female", "AgeOver60": "Age60+", "Age18-60": "Age18-60", "AgeLess18": "Age<18", "Front": "Front",
    "Side": "Side", "Back": "Back", "Hat": "Hat", "Glasses": "Glasses", "HandBag": "HandBag", "ShoulderBag": "ShldBag",
    "Backpack": "Backpack", "HoldObjectsInFront": "HoldObj", "ShortSleeve": "ShortSlv", "LongSleeve": "LongSlv",
    "UpperStride": "UpStripe", "UpperLogo": "UpLogo", "UpperPlaid": "UpPlaid", "UpperSplice": "UpSplice",
    "LowerStripe": "LoStripe", "LowerPattern": "LoPattrn", "LongCoat": "LongCoat", "Trousers": "Trousers",
    "Shorts": "Shorts", "Skirt&Dress": "Skirt", "boots": "Boots",
}


def _font(size: int = 11):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has only the bitmap font
        return ImageFont.load_default()


def _short(name: str) -> str:
    return SHORT_NAMES.get(name, name[:9])


def _cell(attribute_set: AttributeSet, i: int, size: tuple[int, int], scale: int, lines: int, font, highlight: str | None) -> Image.Image:
    w, h = size
    line_h = font.size + 2 if hasattr(font, "size") else 12
    cell = Image.new("RGB", (w * scale + 4, h * scale + 4 + lines * line_h + 14), "white")
    img = attribute_set.open_image(i).resize((w, h), Image.BILINEAR).resize((w * scale, h * scale), Image.NEAREST)
    cell.paste(img, (2, 2))
    d = ImageDraw.Draw(cell)
    y = h * scale + 4
    d.text((2, y), str(attribute_set.names[i]), fill=(110, 110, 110), font=font)
    y += line_h
    known = attribute_set.known()[i]
    pos = [a for j, a in enumerate(attribute_set.attribute_names) if attribute_set.labels[i, j] and known[j]]
    for k, a in enumerate(pos[:lines]):
        more = k == lines - 1 and len(pos) > lines
        text = f"+{len(pos) - lines + 1} more" if more else _short(a)
        d.text((2, y), text, fill=(200, 0, 0) if a == highlight else (0, 0, 0), font=font)
        y += line_h
    return cell


def _grid(cells: list[Image.Image], columns: int, title: str, font) -> Image.Image:
    if not cells:
        return Image.new("RGB", (200, 40), "white")
    cw, ch = cells[0].size
    rows = (len(cells) + columns - 1) // columns
    sheet = Image.new("RGB", (cw * min(columns, len(cells)), ch * rows + 20), "white")
    ImageDraw.Draw(sheet).text((4, 3), title, fill=(0, 0, 0), font=font)
    for k, c in enumerate(cells):
        sheet.paste(c, ((k % columns) * cw, 20 + (k // columns) * ch))
    return sheet


def contact_sheet(
    attribute_set: AttributeSet, *, count: int = 48, columns: int = 12, split: str | None = None,
    attribute: str | None = None, size: tuple[int, int] = (64, 128), scale: int = 2, seed: int = 0, lines: int = 10,
) -> Image.Image:
    """A grid of ``count`` crops of ``split`` (default all) with their positive attributes.

    With ``attribute``, half the crops are positives of it (left panel) and half negatives (right panel).
    Crops are chosen at random with ``seed``; ``size`` is (width, height) of the crop before ``scale``.
    """
    if count < 1 or columns < 1 or scale < 1:
        raise ValueError(f"count, columns and scale must be >= 1, found {count}, {columns}, {scale}")
    idx = attribute_set.split_indices(split)
    if idx.size == 0:
        raise ValueError(f"{attribute_set.dataset}: split {split!r} has no images")
    rng = np.random.default_rng(seed)
    font = _font()
    where = f"{attribute_set.dataset or 'dataset'}" + (f" [{split}]" if split else "")
    if attribute is None:
        pick = np.sort(rng.choice(idx, size=min(count, idx.size), replace=False))
        cells = [_cell(attribute_set, int(i), size, scale, lines, font, None) for i in pick]
        return _grid(cells, columns, f"{where}: {len(pick)} of {idx.size} images, positive attributes listed", font)
    j = attribute_set.schema.index(attribute)
    known = attribute_set.known()[idx, j]
    lab = attribute_set.labels[idx, j].astype(bool)
    half = max(1, count // 2)
    panels = []
    for value, members in (("= 1", idx[known & lab]), ("= 0", idx[known & ~lab])):
        pick = np.sort(rng.choice(members, size=min(half, members.size), replace=False)) if members.size else members
        cells = [_cell(attribute_set, int(i), size, scale, lines, font, attribute) for i in pick]
        panels.append(_grid(cells, max(1, columns // 2), f"{where}: {attribute} {value} ({members.size} images)", font))
    gap = 16
    sheet = Image.new("RGB", (panels[0].width + gap + panels[1].width, max(p.height for p in panels)), "white")
    sheet.paste(panels[0], (0, 0))
    sheet.paste(panels[1], (panels[0].width + gap, 0))
    ImageDraw.Draw(sheet).rectangle([panels[0].width + gap // 2 - 1, 0, panels[0].width + gap // 2, sheet.height], fill=(90, 90, 90))
    return sheet


def save_contact_sheet(attribute_set: AttributeSet, out: str | Path, **options) -> Path:
    """Write :func:`contact_sheet` to ``out`` (PNG), atomically."""
    out = Path(out)
    sheet = contact_sheet(attribute_set, **options)
    with atomic_path(out) as tmp:
        sheet.save(tmp, format="PNG")
    return out


def ratio_chart(attribute_set: AttributeSet, out: str | Path, splits: Sequence[str] = ("train", "val", "test"),
                reference: dict[str, float] | None = None, reference_label: str = "reference") -> Path:
    """Bar chart of each attribute's positive ratio in each of ``splits`` (optionally with reference ticks), as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    present = [s for s in splits if s in attribute_set.splits]
    if not present:
        raise ValueError(f"{attribute_set.dataset}: none of the splits {list(splits)} exist; found {sorted(attribute_set.splits)}")
    names = attribute_set.attribute_names
    x = np.arange(len(names))
    width = 0.8 / len(present)
    fig, ax = plt.subplots(figsize=(max(8.0, 0.45 * len(names)), 4.2))
    for k, s in enumerate(present):
        ax.bar(x - 0.4 + width * (k + 0.5), attribute_set.positive_ratio(s), width,
               label=f"{s} ({len(attribute_set.splits[s])})")
    if reference:
        ref = [reference.get(n, np.nan) for n in names]
        ax.scatter(x, ref, marker="_", s=120, color="black", zorder=3, label=reference_label)
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("positive ratio")
    ax.set_ylim(0, 1)
    ax.set_title(f"{attribute_set.dataset or 'dataset'}: positive ratio per split")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return out
