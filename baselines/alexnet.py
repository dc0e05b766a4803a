"""AlexNet and CaffeNet trunks (conv1-conv5, fc6, fc7) with widths read from a weights file.

Two layouts of the same network are known (`LAYOUTS`):

- ``alexnet``: torchvision's ``alexnet`` (Krizhevsky 2014's one-GPU variant, 64-192-384-256-256
  channels, no LRN), keys ``features.{0,3,6,8,10}`` and ``classifier.{1,4}``; input RGB in [0, 1]
  normalised by the ImageNet mean/std, 224 x 224.
- ``caffenet``: BVLC's reference CaffeNet (96-256-384-384-256 channels, grouped conv2/4/5, pooling then
  LRN after conv1 and conv2), keys ``conv1`` ... ``conv5``, ``fc6``, ``fc7`` as converters of the
  ``.caffemodel`` write them; Caffe feeds BGR in [0, 255] minus the mean (104.0, 116.7, 122.7), 227 x 227.
  On loading, conv1's input channels are reversed so the trunk takes RGB like every other model here;
  its transform subtracts the mean in [0, 255] units.

``fc6``/``fc7`` features are the activations after ReLU (Caffe's in-place ``relu6``/``relu7``). A final
adaptive average pooling to ``pool_grid`` (6 x 6 for ImageNet weights; identity at 224/227 inputs) lets
the trunk take other input sizes.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from baselines.common import ForeignWeightsError
from pa100k.registry import Registry

logger = logging.getLogger(__name__)

LAYER_NAMES = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7")
MIN_INPUT_SIDE = 63  # conv1 (stride 4) and three 3x3/2 max-poolings leave at least one cell from 63 px


def check_input_size(size: tuple[int, int] | None, where: str) -> None:
    """Raise a ValueError when an AlexNet-style trunk cannot take ``size`` (H, W): each side needs 63 px."""
    if size is not None and (len(size) != 2 or min(size) < MIN_INPUT_SIDE):
        raise ValueError(f"{where}: an AlexNet/CaffeNet trunk needs input_size (H, W) with both sides >= "
                         f"{MIN_INPUT_SIDE}, found {size!r}")


@dataclass(frozen=True)
class Layout:
    """How one published form of the network names its tensors and wants its input."""

    name: str
    keys: dict[str, str]  # our layer name -> the file's prefix
    ignored: tuple[str, ...]  # prefixes of the file's classifier, not part of the trunk
    conv1_padding: int
    lrn: bool
    input_size: tuple[int, int]
    mean: tuple[float, float, float]  # RGB, in [0, 1] units
    std: tuple[float, float, float]
    bgr: bool  # the file's conv1 expects BGR input
    channels: tuple[int, int, int, int, int]
    groups: tuple[int, int, int, int, int]


LAYOUTS: Registry[Layout] = Registry("AlexNet layout")
LAYOUTS.add("alexnet", Layout(
    "alexnet",
    keys={"conv1": "features.0", "conv2": "features.3", "conv3": "features.6", "conv4": "features.8",
          "conv5": "features.10", "fc6": "classifier.1", "fc7": "classifier.4"},
    ignored=("classifier.6.",), conv1_padding=2, lrn=False, input_size=(224, 224),
    mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), bgr=False,
    channels=(64, 192, 384, 256, 256), groups=(1, 1, 1, 1, 1),
))
LAYOUTS.add("caffenet", Layout(
    "caffenet",
    keys={name: name for name in LAYER_NAMES},
    ignored=("fc8.",), conv1_padding=0, lrn=True, input_size=(227, 227),
    mean=(122.7 / 255, 116.7 / 255, 104.0 / 255), std=(1 / 255, 1 / 255, 1 / 255), bgr=True,
    channels=(96, 256, 384, 384, 256), groups=(1, 2, 1, 2, 2),
))


@dataclass(frozen=True)
class AlexNetSpec:
    """Widths of one trunk: conv channels and groups, fc6/fc7 sizes, the grid pooled before fc6.

    ``batch_norm`` adds a BatchNorm2d after each convolution: not part of AlexNet/CaffeNet (published
    weights never have it), but what lets a trunk trained from scratch learn within a few epochs.
    """

    layout: str = "alexnet"
    channels: tuple[int, int, int, int, int] = (64, 192, 384, 256, 256)
    groups: tuple[int, int, int, int, int] = (1, 1, 1, 1, 1)
    fc: tuple[int, int] = (4096, 4096)
    pool_grid: tuple[int, int] = (6, 6)
    dropout: float = 0.5
    batch_norm: bool = False

    def __post_init__(self) -> None:
        LAYOUTS.get(self.layout)
        if len(self.channels) != 5 or len(self.groups) != 5 or len(self.fc) != 2 or len(self.pool_grid) != 2:
            raise ValueError(f"AlexNetSpec: channels/groups need 5 values, fc and pool_grid 2, found {self}")
        if min(self.channels) < 1 or min(self.fc) < 1 or min(self.pool_grid) < 1:
            raise ValueError(f"AlexNetSpec: widths and pool_grid must be positive, found {self}")
        ins = (3, *self.channels[:4])
        for i, (cin, cout, g) in enumerate(zip(ins, self.channels, self.groups)):
            if g < 1 or cin % g or cout % g:
                raise ValueError(f"AlexNetSpec: conv{i + 1} groups={g} must divide its {cin} inputs and {cout} outputs")

    @classmethod
    def scaled(cls, width: float, *, layout: str = "alexnet", fc: int | None = None,
               pool_grid: tuple[int, int] = (6, 6), dropout: float = 0.5, batch_norm: bool = False) -> AlexNetSpec:
        """The layout's widths times ``width`` (at least one group's worth each); fc6/fc7 ``fc`` (default 4096·width)."""
        base = LAYOUTS.get(layout)
        channels = tuple(max(g, round(c * width / g) * g) for c, g in zip(base.channels, base.groups))
        fc_dim = fc if fc is not None else max(8, round(4096 * width))
        return cls(layout, channels, base.groups, (fc_dim, fc_dim), tuple(pool_grid), dropout, batch_norm)


class AlexNetTrunk(nn.Module):
    """conv1-conv5 (with max pooling, and LRN for CaffeNet), adaptive pooling, fc6 and fc7 with ReLU and dropout."""

    def __init__(self, spec: AlexNetSpec = AlexNetSpec()) -> None:
        super().__init__()
        self.spec = spec
        self.layout = LAYOUTS.get(spec.layout)
        c, g = spec.channels, spec.groups
        self.conv1 = nn.Conv2d(3, c[0], 11, stride=4, padding=self.layout.conv1_padding)
        self.conv2 = nn.Conv2d(c[0], c[1], 5, padding=2, groups=g[1])
        self.conv3 = nn.Conv2d(c[1], c[2], 3, padding=1, groups=g[2])
        self.conv4 = nn.Conv2d(c[2], c[3], 3, padding=1, groups=g[3])
        self.conv5 = nn.Conv2d(c[3], c[4], 3, padding=1, groups=g[4])
        norm = nn.BatchNorm2d if spec.batch_norm else (lambda _: nn.Identity())
        self.bn1, self.bn2, self.bn3, self.bn4, self.bn5 = (norm(ch) for ch in c)
        self.pool = nn.MaxPool2d(3, stride=2)
        self.lrn = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0) if self.layout.lrn else nn.Identity()
        self.avgpool = nn.AdaptiveAvgPool2d(spec.pool_grid)
        self.fc6 = nn.Linear(c[4] * spec.pool_grid[0] * spec.pool_grid[1], spec.fc[0])
        self.fc7 = nn.Linear(spec.fc[0], spec.fc[1])
        self.dropout = nn.Dropout(spec.dropout)

    @property
    def num_features(self) -> int:
        """Width of fc7."""
        return self.spec.fc[1]

    def forward_conv(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) -> conv5 pooled to the grid (B, C5, gh, gw)."""
        x = self.lrn(self.pool(F.relu(self.bn1(self.conv1(x)))))  # CaffeNet: pool1 then norm1
        x = self.lrn(self.pool(F.relu(self.bn2(self.conv2(x)))))
        x = F.relu(self.bn3(self.conv3(x)))
        x = F.relu(self.bn4(self.conv4(x)))
        x = self.pool(F.relu(self.bn5(self.conv5(x))))
        return self.avgpool(x)

    def forward_fc(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Images -> ``{"fc6": (B, fc6), "fc7": (B, fc7)}``, both after ReLU (dropout on fc6 feeds fc7 in training)."""
        fc6 = F.relu(self.fc6(torch.flatten(self.forward_conv(x), 1)))
        fc7 = F.relu(self.fc7(self.dropout(fc6)))
        return {"fc6": fc6, "fc7": fc7}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images -> fc7 features (B, fc7), dropout applied in training like Caffe's ``drop7``."""
        return self.dropout(self.forward_fc(x)["fc7"])


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Tensors of a local ``.pth``/``.pt`` (``torch.load(weights_only=True)``, never unpickling objects) or ``.safetensors`` file."""
    from hpnet.weights import read_weights_file

    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: weights file not found (nothing is downloaded; give a local torchvision alexnet state dict "
            f"or a CaffeNet state dict with conv1..fc7 keys, as .pth or .safetensors)"
        )
    state = read_weights_file(path)
    return {k.removeprefix("module."): v for k, v in state.items()}


def _detect_layout(state: dict[str, torch.Tensor], source: str) -> Layout:
    """The layout all of whose conv1..fc7 weight names are in ``state``; `ForeignWeightsError` when none is."""
    for name in LAYOUTS.names():
        layout = LAYOUTS.get(name)
        if all(f"{prefix}.weight" in state for prefix in layout.keys.values()):
            return layout
    expected = "; ".join(f"{n}: {', '.join(LAYOUTS.get(n).keys.values())}" for n in LAYOUTS.names())
    shown = ", ".join(sorted(state)[:8])
    raise ForeignWeightsError(f"{source}: not an AlexNet/CaffeNet state dict: expected the layers ({expected}); "
                              f"found keys {shown} ...")


def spec_from_state_dict(state: dict[str, torch.Tensor], *, source: str = "<state>",
                         pool_grid: tuple[int, int] | None = None) -> tuple[AlexNetSpec, dict[str, torch.Tensor]]:
    """The trunk's `AlexNetSpec` read off the tensor shapes, and the state renamed to our layer names.

    ``pool_grid`` defaults to the square grid that fc6's input size implies (6 x 6 for ImageNet weights).
    """
    layout = _detect_layout(state, source)
    renamed: dict[str, torch.Tensor] = {}
    missing = []
    for ours, theirs in layout.keys.items():
        for part in ("weight", "bias"):
            key = f"{theirs}.{part}"
            if key in state:
                renamed[f"{ours}.{part}"] = state[key]
            else:
                missing.append(key)
    if missing:
        raise ValueError(f"{source}: {layout.name} state dict lacks {missing}")
    unexpected = sorted(k for k in state if not k.startswith(layout.ignored)
                        and k not in {f"{t}.{p}" for t in layout.keys.values() for p in ("weight", "bias")})
    if unexpected:
        raise ValueError(f"{source}: unexpected keys for a {layout.name} trunk: {unexpected[:10]}")
    convs = [renamed[f"conv{i}.weight"] for i in range(1, 6)]
    for i, w in enumerate(convs):
        if w.ndim != 4:
            raise ValueError(f"{source}: conv{i + 1} weight must be 4-D, found shape {tuple(w.shape)}")
    channels = tuple(int(w.shape[0]) for w in convs)
    ins = (3, *channels[:4])
    groups = []
    for i, (cin, w) in enumerate(zip(ins, convs)):
        if cin % int(w.shape[1]):
            raise ValueError(f"{source}: conv{i + 1} takes {w.shape[1]} channels per group, which does not divide {cin}")
        groups.append(cin // int(w.shape[1]))
    fc6, fc7 = renamed["fc6.weight"], renamed["fc7.weight"]
    cells, rest = divmod(int(fc6.shape[1]), channels[4])
    if rest:
        raise ValueError(f"{source}: fc6 takes {fc6.shape[1]} inputs, not a multiple of conv5's {channels[4]} channels")
    if pool_grid is None:
        side = math.isqrt(cells)
        if side * side != cells:
            raise ValueError(f"{source}: fc6 implies a {cells}-cell grid that is not square; pass pool_grid")
        pool_grid = (side, side)
    if pool_grid[0] * pool_grid[1] != cells:
        raise ValueError(f"{source}: pool_grid {pool_grid} has {pool_grid[0] * pool_grid[1]} cells, fc6 expects {cells}")
    if int(fc7.shape[1]) != int(fc6.shape[0]):
        raise ValueError(f"{source}: fc7 takes {fc7.shape[1]} inputs but fc6 gives {fc6.shape[0]}")
    if layout.bgr:
        renamed["conv1.weight"] = renamed["conv1.weight"].flip(1)  # BGR-trained conv1 on RGB input
    spec = AlexNetSpec(layout.name, channels, tuple(groups), (int(fc6.shape[0]), int(fc7.shape[0])), tuple(pool_grid))
    return spec, renamed


def load_trunk(path: str | os.PathLike, *, pool_grid: tuple[int, int] | None = None,
               dropout: float = 0.5) -> AlexNetTrunk:
    """An `AlexNetTrunk` holding the weights of a local AlexNet/CaffeNet file (layout and widths from the file)."""
    from hpnet.checkpoint import load_state_dict_into

    state = read_state_dict(path)
    spec, renamed = spec_from_state_dict(state, source=str(path), pool_grid=pool_grid)
    trunk = AlexNetTrunk(replace(spec, dropout=dropout))
    load_state_dict_into(trunk, renamed, source=path, strict=True)
    logger.info("loaded %s trunk from %s: channels %s, fc %s", spec.layout, path, spec.channels, spec.fc)
    return trunk


def trunk_state_dict(trunk: AlexNetTrunk) -> dict[str, torch.Tensor]:
    """The trunk's tensors under its layout's published key names (inverse of `load_trunk`; for tests and export)."""
    layout = trunk.layout
    out = {}
    for ours, theirs in layout.keys.items():
        layer = getattr(trunk, ours)
        weight = layer.weight.detach().clone()
        if ours == "conv1" and layout.bgr:
            weight = weight.flip(1)
        out[f"{theirs}.weight"] = weight
        out[f"{theirs}.bias"] = layer.bias.detach().clone()
    return out


def save_trunk(trunk: AlexNetTrunk, path: str | os.PathLike) -> Path:
    """Write the trunk under its layout's published key names (``.safetensors``, else ``torch.save``), atomically.

    `load_trunk` reads it back; tests use it to make small weights files.
    """
    from pa100k.fileio import atomic_path

    path = Path(path)
    state = {k: v.contiguous() for k, v in trunk_state_dict(trunk).items()}
    with atomic_path(path) as tmp:
        if path.suffix == ".safetensors":
            from safetensors.torch import save_file

            save_file(state, str(tmp))
        else:
            torch.save(state, tmp)
    return path


__all__ = [
    "LAYOUTS",
    "AlexNetSpec",
    "AlexNetTrunk",
    "Layout",
    "load_trunk",
    "read_state_dict",
    "save_trunk",
    "spec_from_state_dict",
    "trunk_state_dict",
]
