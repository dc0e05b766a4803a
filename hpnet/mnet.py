"""M-net (§3): the plain BN-Inception attribute network HP-net starts from."""

from __future__ import annotations

import torch
from torch import nn

from hpnet.backbone import BNInception
from hpnet.checkpoint import HubMixin
from hpnet.config import MNetConfig


class ClassifierHead(nn.Module):
    """[FC-``hidden``-BN-ReLU-dropout] → FC: pooled features (B, D) to logits (B, num_classes)."""

    def __init__(self, in_features: int, num_classes: int, hidden: int | None = 512, dropout: float = 0.5) -> None:
        super().__init__()
        if hidden:
            self.hidden: nn.Module = nn.Sequential(
                nn.Linear(in_features, hidden, bias=False),
                nn.BatchNorm1d(hidden),
                nn.ReLU(inplace=True),
                nn.Dropout(dropout),
            )
            out_in = hidden
        else:
            self.hidden = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
            out_in = in_features
        self.classifier = nn.Linear(out_in, num_classes)
        nn.init.normal_(self.classifier.weight, std=0.01)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.hidden(x))

    @property
    def first_linear(self) -> nn.Linear:
        """The layer that takes the pooled features (the hidden FC, or the classifier when there is none)."""
        return self.hidden[0] if isinstance(self.hidden, nn.Sequential) else self.classifier

    @torch.no_grad()
    def copy_from(self, src: ClassifierHead, first_weight: torch.Tensor) -> None:
        """Become ``src`` with ``first_weight`` as the first layer's weight (``src``'s, widened to this input size)."""
        if type(src.hidden) is not type(self.hidden) or src.classifier.weight.shape != self.classifier.weight.shape:
            raise ValueError("ClassifierHead.copy_from: the heads differ in shape "
                             f"({src.classifier.weight.shape} vs {self.classifier.weight.shape}); use the same fc_dim")
        if first_weight.shape != self.first_linear.weight.shape:
            raise ValueError(f"ClassifierHead.copy_from: first_weight has shape {tuple(first_weight.shape)}, "
                             f"expected {tuple(self.first_linear.weight.shape)}")
        self.first_linear.weight.copy_(first_weight)
        if isinstance(src.hidden, nn.Sequential):
            self.hidden[1].load_state_dict(src.hidden[1].state_dict())  # BatchNorm1d of the hidden layer
            self.classifier.load_state_dict(src.classifier.state_dict())
        elif src.classifier.bias is not None:
            self.classifier.bias.copy_(src.classifier.bias)


def global_average_pool(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) → (B, C)."""
    return x.mean(dim=(2, 3))


class MNet(HubMixin, nn.Module):
    """BN-Inception → global average pooling → classifier head; ``forward_features`` gives the pooled (B, 1024·w)."""

    config_class = MNetConfig
    architecture = "mnet_bninception"

    def __init__(self, config: MNetConfig | None = None) -> None:
        super().__init__()
        self.config = config or MNetConfig()
        self.backbone = BNInception(self.config.width)
        self.num_features = self.backbone.num_features
        self.head = ClassifierHead(self.num_features, self.config.num_classes, self.config.fc_dim, self.config.dropout)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled F³: (B, 1024·w)."""
        return global_average_pool(self.backbone(x))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """Logits (B, num_classes) from pooled features."""
        return self.head(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))
