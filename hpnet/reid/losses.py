"""ReID losses: softmax cross-entropy over the training identities (the paper's ReID loss, §3.2 and §6.1) and an
optional batch-hard triplet term (Hermans et al., "In Defense of the Triplet Loss", 2017), off by default."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def batch_hard_triplet_loss(features: torch.Tensor, labels: torch.Tensor, margin: float = 0.3) -> torch.Tensor:
    """Mean over anchors of ``relu(d(a, hardest positive) - d(a, hardest negative) + margin)``, Euclidean distance.

    Anchors without a positive or without a negative in the batch are left out; a batch with no valid
    anchor gives 0 (with a gradient graph).
    """
    if features.ndim != 2 or labels.shape != (features.shape[0],):
        raise ValueError(f"features must be (B, D) and labels (B,), found {tuple(features.shape)} and {tuple(labels.shape)}")
    f = features.float()
    sq = (f * f).sum(1)
    dist = (sq.unsqueeze(1) + sq.unsqueeze(0) - 2.0 * f @ f.T).clamp(min=1e-12).sqrt()
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    positive = same & ~eye
    negative = ~same
    valid = positive.any(1) & negative.any(1)
    if not valid.any():
        return f.sum() * 0.0
    hardest_pos = torch.where(positive, dist, torch.full_like(dist, float("-inf"))).max(1).values
    hardest_neg = torch.where(negative, dist, torch.full_like(dist, float("inf"))).min(1).values
    return F.relu(hardest_pos - hardest_neg + margin)[valid].mean()


class IdentityLoss(nn.Module):
    """Softmax cross-entropy of ``logits`` (B, C) against identity ``labels`` (B,), plus ``triplet_weight`` ×
    the batch-hard triplet loss on ``features`` (B, D) when the weight is positive."""

    def __init__(self, triplet_weight: float = 0.0, margin: float = 0.3, label_smoothing: float = 0.0) -> None:
        super().__init__()
        if triplet_weight < 0:
            raise ValueError(f"triplet_weight must be >= 0, found {triplet_weight}")
        if margin <= 0:
            raise ValueError(f"margin must be > 0, found {margin}")
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), found {label_smoothing}")
        self.triplet_weight, self.margin, self.label_smoothing = float(triplet_weight), float(margin), float(label_smoothing)

    def forward(self, features: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The loss of one batch."""
        if logits.ndim != 2 or labels.shape != (logits.shape[0],):
            raise ValueError(f"logits must be (B, C) and labels (B,), found {tuple(logits.shape)} and {tuple(labels.shape)}")
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= logits.shape[1]):
            raise ValueError(f"identity labels must lie in 0..{logits.shape[1] - 1}, found {int(labels.min())}..{int(labels.max())}")
        loss = F.cross_entropy(logits.float(), labels, label_smoothing=self.label_smoothing)
        if self.triplet_weight > 0:
            loss = loss + self.triplet_weight * batch_hard_triplet_loss(features, labels, self.margin)
        return loss

    def extra_repr(self) -> str:
        return f"triplet_weight={self.triplet_weight}, margin={self.margin}, label_smoothing={self.label_smoothing}"
