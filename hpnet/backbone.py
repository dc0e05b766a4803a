"""BN-Inception (Inception-v2 with batch norm, Ioffe & Szegedy 2015) with a width multiplier.

Layer sizes follow the ``bninception`` model of the ``pretrainedmodels`` package (its ImageNet weights load
through `hpnet.weights`). The HP-net paper's three "inception blocks" F¹, F², F³ (§3) are the outputs of
stages 3, 4 and 5. We cut the stages where the spatial grid changes, so the three blocks see three scales
(stride 8, 16, 32; 28×28, 14×14, 7×7 for a 224×224 input):

* stem:   conv1 7×7/2, max-pool, conv2 1×1 + 3×3, max-pool
* stage3 (block 1): inception 3a, 3b                        → F¹ (320·w channels, stride 8)
* stage4 (block 2): inception 3c (reduction), 4a, 4b, 4c, 4d → F² (608·w channels, stride 16)
* stage5 (block 3): inception 4e (reduction), 5a, 5b        → F³ (1024·w channels, stride 32)

Convolutions carry no bias (each is followed by batch norm); the key mapping folds the Caffe biases into
the batch-norm running means.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

BLOCKS = (1, 2, 3)  # the paper's inception blocks F¹, F², F³
STAGE_NAMES = {1: "stage3", 2: "stage4", 3: "stage5"}


@dataclass(frozen=True)
class InceptionSpec:
    """Channel counts of one inception module at width 1.0 (0 = branch absent); ``pool`` is 'avg' or 'max'."""

    name: str
    c1x1: int
    c3x3_reduce: int
    c3x3: int
    cd3x3_reduce: int
    cd3x3: int
    pool: str
    pool_proj: int
    stride: int = 1


# BN-Inception as in pretrainedmodels' ``bninception`` (names are theirs, without the "inception_" prefix).
INCEPTION_SPECS: dict[int, tuple[InceptionSpec, ...]] = {
    1: (
        InceptionSpec("3a", 64, 64, 64, 64, 96, "avg", 32),
        InceptionSpec("3b", 64, 64, 96, 64, 96, "avg", 64),
    ),
    2: (
        InceptionSpec("3c", 0, 128, 160, 64, 96, "max", 0, stride=2),
        InceptionSpec("4a", 224, 64, 96, 96, 128, "avg", 128),
        InceptionSpec("4b", 192, 96, 128, 96, 128, "avg", 128),
        InceptionSpec("4c", 160, 128, 160, 128, 160, "avg", 128),
        InceptionSpec("4d", 96, 128, 192, 160, 192, "avg", 128),
    ),
    3: (
        InceptionSpec("4e", 0, 128, 192, 192, 256, "max", 0, stride=2),
        InceptionSpec("5a", 352, 192, 320, 160, 224, "avg", 128),
        InceptionSpec("5b", 352, 192, 320, 192, 224, "max", 128),
    ),
}
STEM_CHANNELS = (64, 64, 192)  # conv1 7×7, conv2 1×1 reduce, conv2 3×3


def scaled(channels: int, width: float) -> int:
    """``channels`` times the width multiplier, rounded, at least 1 (0 stays 0: an absent branch)."""
    if channels == 0:
        return 0
    return max(1, int(channels * width + 0.5))


class BasicConv2d(nn.Module):
    """Conv (no bias) → BatchNorm → ReLU, the unit every BN-Inception layer is made of."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=1e-5)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class ReductionMaxPool(nn.Module):
    """Max-pool 3×3/2 (ceil mode, as in the Caffe model) whose output matches a 3×3/2 convolution with padding 1.

    On even sizes ≥ 4 (every grid of a 224×224 input) this is exactly the Caffe layer; odd or tiny sizes
    (299×299 inputs, CPU presets) are padded with -inf at the bottom/right so both branches give ⌈n/2⌉.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = int(x.shape[-2]), int(x.shape[-1])
        pad_h, pad_w = max(h % 2, 3 - h, 0), max(w % 2, 3 - w, 0)
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), value=float("-inf"))
        return F.max_pool2d(x, 3, stride=2, ceil_mode=True)


class InceptionBlock(nn.Module):
    """One inception module: 1×1, 1×1→3×3, 1×1→3×3→3×3 and pool(→1×1) branches, concatenated."""

    def __init__(self, in_channels: int, spec: InceptionSpec, width: float) -> None:
        super().__init__()
        s = spec.stride
        c1, c3r, c3 = scaled(spec.c1x1, width), scaled(spec.c3x3_reduce, width), scaled(spec.c3x3, width)
        cdr, cd, cp = scaled(spec.cd3x3_reduce, width), scaled(spec.cd3x3, width), scaled(spec.pool_proj, width)
        self.branch1x1 = BasicConv2d(in_channels, c1, 1) if c1 else None
        self.branch3x3_reduce = BasicConv2d(in_channels, c3r, 1)
        self.branch3x3 = BasicConv2d(c3r, c3, 3, stride=s, padding=1)
        self.double3x3_reduce = BasicConv2d(in_channels, cdr, 1)
        self.double3x3_1 = BasicConv2d(cdr, cd, 3, padding=1)
        self.double3x3_2 = BasicConv2d(cd, cd, 3, stride=s, padding=1)
        if spec.pool == "avg":
            self.pool: nn.Module = nn.AvgPool2d(3, stride=s, padding=1, ceil_mode=True, count_include_pad=True)
        elif s == 1:
            self.pool = nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True)
        else:
            self.pool = ReductionMaxPool()
        self.pool_proj = BasicConv2d(in_channels, cp, 1) if cp else None
        self.out_channels = c1 + c3 + cd + (cp if cp else in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = []
        if self.branch1x1 is not None:
            outs.append(self.branch1x1(x))
        outs.append(self.branch3x3(self.branch3x3_reduce(x)))
        outs.append(self.double3x3_2(self.double3x3_1(self.double3x3_reduce(x))))
        pooled = self.pool(x)
        outs.append(self.pool_proj(pooled) if self.pool_proj is not None else pooled)
        return torch.cat(outs, 1)


class Stem(nn.Module):
    """conv1 7×7/2 → max-pool 3×3/2 → conv2 1×1 → conv2 3×3 → max-pool 3×3/2 (stride 8 in all)."""

    def __init__(self, width: float, in_channels: int = 3) -> None:
        super().__init__()
        c1, c2r, c2 = (scaled(c, width) for c in STEM_CHANNELS)
        self.conv1 = BasicConv2d(in_channels, c1, 7, stride=2, padding=3)
        self.pool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2_reduce = BasicConv2d(c1, c2r, 1)
        self.conv2 = BasicConv2d(c2r, c2, 3, padding=1)
        self.pool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.out_channels = c2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.conv1(x))
        return self.pool2(self.conv2(self.conv2_reduce(x)))


def make_stage(block: int, in_channels: int, width: float) -> nn.Sequential:
    """The inception modules of block ``block`` (1, 2 or 3) as a Sequential with ``out_channels`` set."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    channels = in_channels
    for spec in INCEPTION_SPECS[block]:
        module = InceptionBlock(channels, spec, width)
        layers[f"inception_{spec.name}"] = module
        channels = module.out_channels
    stage = nn.Sequential(layers)
    stage.out_channels = channels  # type: ignore[attr-defined]
    return stage


def block_channels(width: float) -> dict[int, int]:
    """Channels of F¹, F², F³ at ``width`` (320, 608, 1024 at width 1.0)."""
    channels = scaled(STEM_CHANNELS[-1], width)
    out = {}
    for block in BLOCKS:
        for spec in INCEPTION_SPECS[block]:
            channels = (scaled(spec.c1x1, width) + scaled(spec.c3x3, width) + scaled(spec.cd3x3, width)
                        + (scaled(spec.pool_proj, width) if spec.pool_proj else channels))
        out[block] = channels
    return out


class BNInception(nn.Module):
    """BN-Inception trunk: stem and the three inception blocks; ``forward`` returns F³, ``forward_blocks`` all three."""

    def __init__(self, width: float = 1.0, in_channels: int = 3) -> None:
        super().__init__()
        if not width > 0:
            raise ValueError(f"width must be > 0, found {width}")
        self.width = width
        self.stem = Stem(width, in_channels)
        self.stage3 = make_stage(1, self.stem.out_channels, width)
        self.stage4 = make_stage(2, self.stage3.out_channels, width)
        self.stage5 = make_stage(3, self.stage4.out_channels, width)
        self.block_channels = {1: self.stage3.out_channels, 2: self.stage4.out_channels, 3: self.stage5.out_channels}
        self.num_features = self.stage5.out_channels
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def block(self, k: int) -> nn.Sequential:
        """The modules of inception block ``k`` (1, 2 or 3)."""
        if k not in BLOCKS:
            raise ValueError(f"inception block must be one of {BLOCKS}, found {k!r}")
        return getattr(self, STAGE_NAMES[k])

    def blocks_after(self, k: int) -> list[nn.Sequential]:
        """Blocks ``k+1 .. 3`` (what an attentive feature of block ``k`` flows through)."""
        return [self.block(j) for j in BLOCKS if j > k]

    def forward_blocks(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        """``{1: F¹, 2: F², 3: F³}``; for a 224×224 input (B, 320w, 28, 28), (B, 608w, 14, 14), (B, 1024w, 7, 7)."""
        f1 = self.stage3(self.stem(x))
        f2 = self.stage4(f1)
        f3 = self.stage5(f2)
        return {1: f1, 2: f2, 3: f3}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stage5(self.stage4(self.stage3(self.stem(x))))


def block_sizes(input_size: Sequence[int]) -> dict[int, tuple[int, int]]:
    """Spatial sizes of F¹, F², F³ for an input of ``(H, W)`` (ceil-mode pooling as in the Caffe model)."""

    if len(input_size) != 2 or min(input_size) < 1:
        raise ValueError(f"input_size must be (H, W) with positive sizes, found {tuple(input_size)}")

    def conv(n: int, k: int, s: int, p: int) -> int:
        return (n + 2 * p - k) // s + 1

    def pool_ceil(n: int, k: int = 3, s: int = 2) -> int:
        out = -(-(n - k) // s) + 1
        if (out - 1) * s >= n:  # the last window must start inside the input
            out -= 1
        return out

    sizes = {}
    h, w = input_size
    h, w = pool_ceil(conv(h, 7, 2, 3)), pool_ceil(conv(w, 7, 2, 3))
    h, w = pool_ceil(h), pool_ceil(w)
    sizes[1] = (h, w)
    h, w = -(-h // 2), -(-w // 2)
    sizes[2] = (h, w)
    h, w = -(-h // 2), -(-w // 2)
    sizes[3] = (h, w)
    return sizes
