"""A synthetic PA-100K: procedural pedestrians with all 26 attributes, scenes, cameras, tracklets and identities.

- :mod:`~pa100k.synthetic.priors`  attribute priors with PA-100K's ratios and realistic correlations
- :mod:`~pa100k.synthetic.person`  the drawing (``render_person(attributes, seed)`` for one person)
- :mod:`~pa100k.synthetic.scene`   backgrounds per scene and camera, occluders, degradations
- :mod:`~pa100k.synthetic.render`  planning, parallel rendering and the official layout on disk
- :mod:`~pa100k.synthetic.presets` ``tiny``, ``small`` (default), ``full`` (PA-100K's size)

Load it with ``pa100k.load("synthetic", preset="small", seed=0)`` or render it with
``python -m pa100k synth --preset small --out DIR``.
"""

from pa100k.synthetic.person import Pose, Style, draw_person, render_person, sample_style
from pa100k.synthetic.presets import PRESETS, SyntheticPreset, get_preset, register_preset
from pa100k.synthetic.priors import PA100K_RATIOS, frame_labels, sample_identities
from pa100k.synthetic.render import (
    DatasetPlan,
    ensure_rendered,
    plan_dataset,
    read_tracklets,
    render_dataset,
    render_images,
    render_tracklet,
)

__all__ = [
    "PA100K_RATIOS",
    "PRESETS",
    "DatasetPlan",
    "Pose",
    "Style",
    "SyntheticPreset",
    "draw_person",
    "ensure_rendered",
    "frame_labels",
    "get_preset",
    "plan_dataset",
    "read_tracklets",
    "register_preset",
    "render_dataset",
    "render_images",
    "render_person",
    "render_tracklet",
    "sample_identities",
    "sample_style",
]
