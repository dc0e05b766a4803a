"""Attribute priors of the synthetic pedestrians: PA-100K's positive ratios with realistic correlations.

An identity carries every attribute except orientation; a frame adds its orientation (Front/Side/Back,
one-hot) and hides what that view cannot show (glasses seen from the back, a logo on the back under a
backpack are labelled 0). The marginal
ratios of the frame labels follow the PA-100K train split as listed in ``shared/FORMATS.md``; the
conditional rules below give the correlations a real dataset has (skirts mostly on women, a long coat
always with long sleeves, children with backpacks, grey-haired elderly with hats and glasses...).
"""

from __future__ import annotations

import numpy as np

from pa100k.schemas import get_schema

SCHEMA = get_schema("pa100k")
ATTRIBUTES = SCHEMA.attributes
IDX = {name: i for i, name in enumerate(ATTRIBUTES)}

FEMALE = IDX["Female"]
AGE = (IDX["AgeOver60"], IDX["Age18-60"], IDX["AgeLess18"])
ORIENTATION = (IDX["Front"], IDX["Side"], IDX["Back"])
SLEEVE = (IDX["ShortSleeve"], IDX["LongSleeve"])
UPPER_PATTERN = (IDX["UpperStride"], IDX["UpperPlaid"], IDX["UpperSplice"])
LOWER_GARMENT = (IDX["Trousers"], IDX["Shorts"], IDX["Skirt&Dress"])
LOWER_DECOR = (IDX["LowerStripe"], IDX["LowerPattern"])

#: Approximate positive ratios of the PA-100K train split (shared/FORMATS.md), the target of the priors.
PA100K_RATIOS = dict(zip(ATTRIBUTES, (
    0.45, 0.02, 0.92, 0.06, 0.34, 0.32, 0.34, 0.04, 0.19, 0.18, 0.19, 0.15, 0.01, 0.55, 0.45, 0.04,
    0.13, 0.11, 0.05, 0.01, 0.02, 0.03, 0.72, 0.14, 0.12, 0.006,
)))

#: Orientation probabilities of a tracklet (Front, Side, Back) and the chance that a frame turns.
ORIENTATION_P = (0.3625, 0.275, 0.3625)  # after turns: about .34 / .32 / .34
TURN_P = 0.1


def sample_identities(n: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, 26)`` uint8 identity labels (orientation columns 0) drawn from the correlated priors."""
    u = rng.random((n, 16))
    y = np.zeros((n, len(ATTRIBUTES)), dtype=np.uint8)
    female = u[:, 0] < 0.45
    over60 = u[:, 1] < 0.02
    child = (u[:, 1] >= 0.02) & (u[:, 1] < 0.08)
    adult = ~(over60 | child)
    y[:, FEMALE] = female
    y[:, AGE[0]], y[:, AGE[1]], y[:, AGE[2]] = over60, adult, child

    coat = u[:, 2] < np.select([over60, child], [0.08, 0.01], 0.03)
    p_short = np.select([over60, child], [0.35, 0.62], 0.565)
    short = ~coat & (u[:, 3] < p_short)
    y[:, IDX["LongCoat"]] = coat
    y[:, IDX["ShortSleeve"]] = short
    y[:, IDX["LongSleeve"]] = ~short

    # Lower garment: skirts mostly on women, shorts more often on children.
    p_skirt = np.where(female, 0.25, 0.01)
    p_shorts = np.where(female, 0.12, 0.16) + np.where(child, 0.10, 0.0)
    skirt = u[:, 4] < p_skirt
    shorts = ~skirt & (u[:, 4] < p_skirt + p_shorts)
    y[:, IDX["Skirt&Dress"]] = skirt
    y[:, IDX["Shorts"]] = shorts
    y[:, IDX["Trousers"]] = ~(skirt | shorts)

    y[:, IDX["Hat"]] = u[:, 5] < np.select([over60, child], [0.12, 0.08], 0.035)
    # Identity-level glasses; frames seen from the back hide them, which brings the image ratio to ~.19.
    y[:, IDX["Glasses"]] = u[:, 6] < np.select([over60, child], [0.50, 0.08], 0.30)
    y[:, IDX["HandBag"]] = u[:, 7] < np.where(child, 0.05, np.where(female, 0.31, 0.08))
    y[:, IDX["ShoulderBag"]] = u[:, 8] < np.where(child, 0.08, np.where(female, 0.22, 0.17))
    y[:, IDX["Backpack"]] = u[:, 9] < np.select([over60, child], [0.08, 0.35], 0.135)
    y[:, IDX["HoldObjectsInFront"]] = u[:, 10] < 0.01

    pattern = u[:, 11]
    y[:, IDX["UpperStride"]] = pattern < 0.04
    plaid = (pattern >= 0.04) & (pattern < 0.15)
    y[:, IDX["UpperPlaid"]] = plaid
    y[:, IDX["UpperSplice"]] = (pattern >= 0.15) & (pattern < 0.20)
    y[:, IDX["UpperLogo"]] = u[:, 12] < np.where(plaid, 0.075, 0.143)

    y[:, IDX["LowerStripe"]] = u[:, 13] < 0.01
    y[:, IDX["LowerPattern"]] = (u[:, 13] >= 0.01) & (u[:, 13] < 0.031)
    y[:, IDX["boots"]] = u[:, 14] < np.where(skirt, 0.022, np.where(female, 0.007, 0.002))
    return y


def force_attribute(labels: np.ndarray, attribute: str | int) -> None:
    """Make ``attribute`` positive in one identity label vector (in place), keeping the exclusivity rules."""
    j = IDX[attribute] if isinstance(attribute, str) else int(attribute)
    for group in (AGE, SLEEVE, UPPER_PATTERN, LOWER_GARMENT, LOWER_DECOR, ORIENTATION):
        if j in group:
            labels[list(group)] = 0
    labels[j] = 1
    if j == IDX["LongCoat"]:
        labels[list(SLEEVE)] = (0, 1)
    if j == IDX["ShortSleeve"]:
        labels[IDX["LongCoat"]] = 0
    if j == IDX["Skirt&Dress"]:
        labels[FEMALE] = 1


def sample_orientations(n_frames: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per tracklet a base orientation (0 front, 1 side, 2 back) and per frame the orientation it shows.

    Returns ``(base, frames)`` where ``frames`` concatenates the tracklets' frames in order. A frame turns
    to a neighbouring view (front or back <-> side) with probability :data:`TURN_P`.
    """
    base = rng.choice(3, size=len(n_frames), p=ORIENTATION_P)
    frames = np.repeat(base, n_frames)
    turn = rng.random(len(frames)) < TURN_P
    to_front_or_back = np.where(rng.random(len(frames)) < 0.5, 0, 2)
    frames = np.where(turn, np.where(frames == 1, to_front_or_back, 1), frames)
    return base, frames


def frame_labels(identity_labels: np.ndarray, orientation: np.ndarray) -> np.ndarray:
    """Frame labels from identity labels ``(N, 26)`` and orientations ``(N,)`` (0 front, 1 side, 2 back)."""
    y = np.array(identity_labels, dtype=np.uint8, copy=True)
    orientation = np.asarray(orientation)
    y[:, list(ORIENTATION)] = 0
    y[np.arange(len(y)), np.asarray(ORIENTATION)[orientation]] = 1
    back = orientation == 2
    y[back, IDX["Glasses"]] = 0  # glasses cannot be seen from the back
    y[back & (y[:, IDX["Backpack"]] == 1), IDX["UpperLogo"]] = 0  # a backpack covers a logo on the back
    return y
