"""Named sizes of the synthetic PA-100K-like dataset (``tiny``, ``small``, ``full``)."""

from __future__ import annotations

from dataclasses import dataclass

from pa100k.registry import Registry


@dataclass(frozen=True)
class SyntheticPreset:
    """How many images, scenes and tracklets to render, and how they are drawn.

    ``full`` follows the paper's PA-100K (Sec. 3): 100,000 images from 598 scenes in 18,206 tracklets.
    ``min_positive_tracklets`` is how many tracklets every attribute gets at least (rare attributes of a
    small preset are topped up so that an 8:1:1 tracklet split can hold positives of all 26 in each split;
    the large presets exceed it naturally, so their priors are untouched).
    """

    name: str
    num_images: int
    num_scenes: int
    num_tracklets: int
    cameras_per_scene: tuple[int, int] = (1, 3)
    multi_camera_fraction: float = 0.3
    min_positive_tracklets: int = 6
    base_height: int = 192
    height_median: float = 180.0
    height_sigma: float = 0.45
    height_range: tuple[int, int] = (100, 758)
    aspect_range: tuple[float, float] = (0.38, 0.55)
    min_width: int = 50
    description: str = ""

    def __post_init__(self) -> None:
        if self.num_images < 1 or self.num_tracklets < 1 or self.num_scenes < 1:
            raise ValueError(f"preset {self.name!r}: num_images, num_tracklets and num_scenes must be >= 1")
        if self.num_tracklets > self.num_images:
            raise ValueError(
                f"preset {self.name!r}: num_tracklets ({self.num_tracklets}) exceeds num_images ({self.num_images})"
            )
        lo, hi = self.cameras_per_scene
        if not 1 <= lo <= hi:
            raise ValueError(f"preset {self.name!r}: cameras_per_scene must be 1 <= lo <= hi, found {self.cameras_per_scene}")
        if not 0.0 <= self.multi_camera_fraction <= 1.0:
            raise ValueError(f"preset {self.name!r}: multi_camera_fraction must be in [0, 1]")

    @property
    def frames_per_tracklet(self) -> float:
        """Mean number of frames in a tracklet."""
        return self.num_images / self.num_tracklets


PRESETS: Registry[SyntheticPreset] = Registry("synthetic preset")


def register_preset(preset: SyntheticPreset) -> SyntheticPreset:
    """Add ``preset`` to :data:`PRESETS` under its name."""
    PRESETS.add(preset.name, preset)
    return preset


def get_preset(name: str | SyntheticPreset) -> SyntheticPreset:
    """The preset called ``name`` (a preset passes through); unknown names list the valid ones."""
    if isinstance(name, SyntheticPreset):
        return name
    return PRESETS.get(name)


TINY = register_preset(SyntheticPreset(
    "tiny", num_images=400, num_scenes=6, num_tracklets=80, height_median=150.0, height_range=(100, 320),
    description="a few hundred images for tests (seconds)",
))
SMALL = register_preset(SyntheticPreset(
    "small", num_images=10_000, num_scenes=60, num_tracklets=1_820,
    description="about 10,000 images, the default",
))
FULL = register_preset(SyntheticPreset(
    "full", num_images=100_000, num_scenes=598, num_tracklets=18_206,
    description="PA-100K's size: 100,000 images, 598 scenes, 18,206 tracklets",
))
