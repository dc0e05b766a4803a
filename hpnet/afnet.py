"""The Attentive Feature Net (AF-net) and HydraPlus-Net (§3, Fig. 2).

HP-net = M-net + AF-net. The AF-net holds one MDA module per attention level i (three in the paper),
each with up to three directions k: nine attentive paths. Every AF-net branch starts as a copy of the
trained M-net and only the blocks after the attention-operated block are fine-tuned (§3.2); the blocks
that are never fine-tuned would stay identical copies of M-net's, so the branches share M-net's trunk
for them (same function, a third of the memory). The M-net's pooled F³ and the nine pooled attentive
feature sets are concatenated and mapped to logits by the final FC.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from hpnet.backbone import BNInception
from hpnet.checkpoint import HubMixin
from hpnet.config import HPNetConfig, with_overrides
from hpnet.mda import MDA
from hpnet.mnet import ClassifierHead, MNet, global_average_pool

logger = logging.getLogger(__name__)


class AFNet(nn.Module):
    """The MDA modules 𝓕(αⁱ), i in ``config.attention_levels``; ``forward(blocks)`` → (B, Σ paths · L · C³)."""

    def __init__(self, backbone: BNInception, config: HPNetConfig) -> None:
        super().__init__()
        self.mdas = nn.ModuleDict({
            f"mda{i}": MDA(i, config.directions(i), backbone, config.attention_channels, config.mda_execution,
                           config.attention_init_gain, config.attention_init_bias)
            for i in config.attention_levels
        })
        self.out_features = sum(m.out_features for m in self.mdas.values())

    def forward(self, blocks: dict[int, torch.Tensor], execution: str | None = None) -> torch.Tensor:
        return torch.cat([mda(blocks, execution) for mda in self.mdas.values()], dim=1)

    def attention_maps(self, blocks: dict[int, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``{"block{i}": αⁱ (B, L, hⁱ, wⁱ)}`` for each attention level."""
        return {f"block{m.level}": m.attention_map(blocks) for m in self.mdas.values()}

    def copy_tails_from(self, backbone: BNInception) -> None:
        """Re-initialise every path's trainable blocks as copies of ``backbone``'s (the trained M-net, §3.2)."""
        for mda in self.mdas.values():
            for k in mda.directions:
                tail = mda.tails[f"to_block{k}"]
                for mine, source in zip(tail, backbone.blocks_after(k)):
                    mine.load_state_dict(source.state_dict())


class HydraPlusNet(HubMixin, nn.Module):
    """HP-net: M-net trunk + AF-net → [GAP(F³), nine pooled attentive feature sets] → FC (``head``).

    ``forward_features`` returns the concatenated pooled features (B, C³·(1 + L·|paths|)); ``forward_head``
    maps them to logits; ``attention_maps`` returns αⁱ per attention level.
    """

    config_class = HPNetConfig
    architecture = "hpnet_bninception"

    def __init__(self, config: HPNetConfig | None = None) -> None:
        super().__init__()
        self.config = config or HPNetConfig()
        self.backbone = BNInception(self.config.width)  # M-net's trunk, shared mainstream of every branch
        self.afnet = AFNet(self.backbone, self.config)
        self.num_features = self.backbone.num_features + self.afnet.out_features
        self.head = ClassifierHead(self.num_features, self.config.num_classes, self.config.fc_dim, self.config.dropout)

    @classmethod
    def from_mnet(cls, mnet: MNet, **overrides) -> HydraPlusNet:
        """An HP-net whose trunk and AF-net branches start as copies of the trained ``mnet`` (§3.2)."""
        base = HPNetConfig(**{k: v for k, v in vars(mnet.config).items()})
        config = with_overrides(base, **overrides)
        if config.width != mnet.config.width:
            raise ValueError(f"from_mnet: width {config.width} differs from the M-net's {mnet.config.width}")
        model = cls(config)
        model.backbone.load_state_dict(mnet.backbone.state_dict())
        model.afnet.copy_tails_from(model.backbone)
        return model

    @torch.no_grad()
    def head_from_mnet(self, mnet: MNet) -> None:
        """Start the fusion FC as M-net's classifier: M-net's weights on the pooled F³, zeros on the attentive features.

        The HP-net then predicts exactly what M-net predicts until the fusion stage learns to use the AF-net's
        features; it needs M-net's head shape (same ``fc_dim``) and the trunk copied from that M-net.
        """
        src, c3 = mnet.head, self.backbone.num_features
        weight = src.first_linear.weight
        if weight.shape[1] != c3:
            raise ValueError(f"head_from_mnet: M-net's head takes {weight.shape[1]} features, the trunk gives {c3}")
        widened = weight.new_zeros(weight.shape[0], self.num_features)
        widened[:, :c3] = weight
        self.head.copy_from(src, widened)

    def forward_blocks(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        """The trunk's F¹, F², F³."""
        return self.backbone.forward_blocks(x)

    def features_from_blocks(self, blocks: dict[int, torch.Tensor], execution: str | None = None) -> torch.Tensor:
        """Concatenated pooled features from precomputed trunk outputs (used when the trunk is frozen)."""
        return torch.cat([global_average_pool(blocks[3]), self.afnet(blocks, execution)], dim=1)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C³·(1 + L·|paths|)): pooled M-net F³ followed by every attentive path's pooled features."""
        return self.features_from_blocks(self.forward_blocks(x))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """Logits (B, num_classes) from the concatenated features."""
        return self.head(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    @torch.no_grad()
    def attention_maps(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"block1": α¹ (B, L, h¹, w¹), "block2": ..., "block3": ...}`` for the attention levels in use."""
        return self.afnet.attention_maps(self.forward_blocks(x))
