"""The multi-directional attention (MDA) module 𝓕(αⁱ) of the AF-net (§3.1, Fig. 3).

αⁱ = ReLU(BN(conv1×1(Fⁱ))) has L channels (eq. 1). Each channel, resized (nearest) to block k's grid,
multiplies every channel of Fᵏ (eq. 2): F̃ⁱᵏ_l = αⁱ_l ∘ Fᵏ. The attentive map then flows through the blocks
after k (k = 1: blocks 2 and 3; k = 2: block 3; k = 3: none), is globally average pooled, and the L
pooled vectors are concatenated. Two execution paths compute the same function: a loop over the L
channels, and a fast path that folds L into the batch dimension (one (B·L, C, h, w) pass per path).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

import torch
from torch import nn
from torch.nn import functional as F

from hpnet.backbone import BLOCKS, BNInception

EXECUTIONS = ("loop", "folded")


class AttentionGenerator(nn.Module):
    """g_att (eq. 1): 1×1 conv → BN → ReLU, from Fⁱ (B, C, h, w) to αⁱ (B, L, h, w)."""

    def __init__(self, in_channels: int, channels: int, init_gain: float = 0.1, init_bias: float = 1.0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, channels, kernel_size=1, bias=False)
        self.bn = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=False)
        nn.init.kaiming_normal_(self.conv.weight, mode="fan_in", nonlinearity="relu")
        nn.init.constant_(self.bn.weight, init_gain)
        nn.init.constant_(self.bn.bias, init_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


def resize_attention(alpha: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Nearest-neighbour resize of αⁱ (B, L, h, w) to block k's grid ``size``."""
    if tuple(alpha.shape[-2:]) == tuple(size):
        return alpha
    return F.interpolate(alpha, size=size, mode="nearest")


class MDA(nn.Module):
    """𝓕(αⁱ): attention from block ``level`` applied to each block in ``directions``; output (B, |directions|·L·C³).

    ``tails[f"to_block{k}"]`` are trainable copies of the blocks after k, taken from ``backbone`` (the
    trained M-net's trunk) when the module is built; the blocks up to k are the frozen trunk's and are
    not part of this module.
    """

    def __init__(self, level: int, directions: Iterable[int], backbone: BNInception, attention_channels: int = 8,
                 execution: str = "folded", init_gain: float = 0.1, init_bias: float = 1.0) -> None:
        super().__init__()
        directions = tuple(directions)
        for block in (level, *directions):
            if block not in BLOCKS:
                raise ValueError(f"MDA: block {block!r} does not exist; the inception blocks are {list(BLOCKS)}")
        if not directions:
            raise ValueError(f"MDA(α{level}): at least one direction (block k) is needed")
        if execution not in EXECUTIONS:
            raise ValueError(f"MDA: execution must be one of {EXECUTIONS}, found {execution!r}")
        self.level = level
        self.directions = directions
        self.attention_channels = attention_channels
        self.execution = execution
        self.out_channels_per_path = attention_channels * backbone.num_features
        self.out_features = len(directions) * self.out_channels_per_path
        self.attention = AttentionGenerator(backbone.block_channels[level], attention_channels, init_gain, init_bias)
        self.tails = nn.ModuleDict({
            f"to_block{k}": nn.Sequential(*[copy.deepcopy(b) for b in backbone.blocks_after(k)]) for k in directions
        })
        for p in self.tails.parameters():
            p.requires_grad_(True)

    def attention_map(self, blocks: dict[int, torch.Tensor]) -> torch.Tensor:
        """αⁱ (B, L, hⁱ, wⁱ) from the trunk's block outputs."""
        return self.attention(blocks[self.level])

    def attend(self, alpha: torch.Tensor, feature: torch.Tensor, k: int, execution: str | None = None) -> torch.Tensor:
        """Pooled attentive features of path (i, k): (B, L·C³), channel-major per attention channel l."""
        execution = execution or self.execution
        if execution not in EXECUTIONS:
            raise ValueError(f"MDA: execution must be one of {EXECUTIONS}, found {execution!r}")
        tail = self.tails[f"to_block{k}"]
        a = resize_attention(alpha, tuple(feature.shape[-2:]))  # (B, L, h_k, w_k)
        b, c, h, w = feature.shape
        if execution == "folded":
            x = (a.unsqueeze(2) * feature.unsqueeze(1)).reshape(b * self.attention_channels, c, h, w)  # (B·L, C, h, w)
            y = tail(x).mean(dim=(2, 3))  # (B·L, C³)
            return y.reshape(b, -1)
        outs = [tail(a[:, l:l + 1] * feature).mean(dim=(2, 3)) for l in range(self.attention_channels)]
        return torch.cat(outs, dim=1)

    def forward(self, blocks: dict[int, torch.Tensor], execution: str | None = None) -> torch.Tensor:
        """(B, |directions|·L·C³): the pooled attentive features of every path, concatenated in direction order."""
        alpha = self.attention_map(blocks)
        return torch.cat([self.attend(alpha, blocks[k], k, execution) for k in self.directions], dim=1)

    def extra_repr(self) -> str:
        return f"level={self.level}, directions={self.directions}, L={self.attention_channels}, execution={self.execution!r}"
