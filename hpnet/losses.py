"""Attribute losses: the weighted sigmoid cross-entropy of DeepMAR (Li et al. 2015) used by the HP-net paper (§5.1)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

if TYPE_CHECKING:  # pragma: no cover
    from pa100k.attribute_set import AttributeSet

logger = logging.getLogger(__name__)


def positive_ratio_from(attribute_set: AttributeSet, split: str = "train") -> np.ndarray:
    """Per-attribute share of positives among the known labels of ``split`` (the training split by default).

    Attributes whose labels are all unknown in ``split`` get a ratio of 0.5 (equal weights) and a warning.
    """
    ratio = np.asarray(attribute_set.positive_ratio(split), dtype=np.float64)
    missing = np.isnan(ratio)
    if missing.any():
        names = [attribute_set.schema.attributes[j] for j in np.flatnonzero(missing)]
        logger.warning("split %r has no known label for %s; using a positive ratio of 0.5", split, names)
        ratio = np.where(missing, 0.5, ratio)
    return ratio.astype(np.float32)


class WeightedBCELoss(nn.Module):
    """Weighted sigmoid cross-entropy: positives of attribute j weigh ``exp(1 - p_j)``, negatives ``exp(p_j)``.

    ``p_j`` is the positive ratio of attribute j in the training split. Entries whose ``mask`` is False
    (unknown labels) contribute nothing. Normalisation: the weighted per-entry losses are summed and divided
    by the number of known entries in the batch (the plain mean over known entries; the weights are not
    renormalised), so with every label known it equals ``mean_{i,j} w_ij * BCE(x_ij, y_ij)``. A batch with
    no known entry gives a loss of 0 that still carries a gradient graph.
    """

    def __init__(self, positive_ratio: np.ndarray | torch.Tensor | list[float]) -> None:
        super().__init__()
        ratio = torch.as_tensor(np.asarray(positive_ratio, dtype=np.float32))
        if ratio.ndim != 1 or ratio.numel() == 0:
            raise ValueError(f"positive_ratio must be a non-empty 1-D array, found shape {tuple(ratio.shape)}")
        if not torch.isfinite(ratio).all() or (ratio < 0).any() or (ratio > 1).any():
            raise ValueError(f"positive_ratio must hold values in [0, 1], found {ratio.tolist()}")
        self.register_buffer("positive_ratio", ratio)
        self.register_buffer("pos_weight", torch.exp(1.0 - ratio))
        self.register_buffer("neg_weight", torch.exp(ratio))

    def forward(self, logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Loss of ``logits`` (B, A) against 0/1 ``targets`` (B, A) with the known-label ``mask`` (B, A)."""
        if logits.shape != targets.shape:
            raise ValueError(f"logits and targets must have the same shape, found {tuple(logits.shape)} and {tuple(targets.shape)}")
        if logits.shape[-1] != self.positive_ratio.numel():
            raise ValueError(
                f"logits have {logits.shape[-1]} attributes but positive_ratio has {self.positive_ratio.numel()}"
            )
        logits = logits.float()
        targets = targets.to(logits.dtype)
        weight = torch.where(targets > 0.5, self.pos_weight, self.neg_weight)
        per_entry = F.binary_cross_entropy_with_logits(logits, targets, reduction="none") * weight
        if mask is None:
            return per_entry.mean()
        mask = mask.to(device=logits.device, dtype=torch.bool)
        if mask.shape != logits.shape:
            raise ValueError(f"mask must have shape {tuple(logits.shape)}, found {tuple(mask.shape)}")
        known = mask.sum()
        total = torch.where(mask, per_entry, torch.zeros_like(per_entry)).sum()
        return total / known.clamp(min=1)

    def extra_repr(self) -> str:
        return f"num_attributes={self.positive_ratio.numel()}"
