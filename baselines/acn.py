"""ACN (Sudowe, Spitzer & Leibe 2015): one CNN trained jointly on all attributes, a separate loss per attribute.

Architecture (as in the ACN paper): a CaffeNet/AlexNet trunk (conv1-conv5, fc6, fc7 with dropout)
shared by all attributes, then one fc8 classifier per attribute with a 2-way softmax, and as loss the
sum over attributes of each attribute's softmax cross-entropy. Here:

- the trunk is `baselines.alexnet.AlexNetTrunk`: with ImageNet weights from a local file it is that
  network (layout, widths, input normalisation from the file, as ACN fine-tunes CaffeNet); without, the
  AlexNet layout at ``width`` times its channels, trained from scratch (the cpu preset: half width at
  128 x 64, where conv5 leaves a 3 x 1 grid). A from-scratch trunk gets batch norm after each conv
  (``batch_norm``, a deviation from CaffeNet: in a 2-epoch trial on 1500 synthetic images it was the only
  variant, against PyTorch's and Kaiming's initialisation, whose training loss fell clearly below the
  entropy of the label priors);
- the A heads are stored as one ``Linear(fc7, 2A)``: output rows (2j, 2j + 1) are attribute j's own
  2-way classifier, no weight shared between attributes;
- ``forward`` returns, per attribute, the difference of its two logits ``z1 - z0`` (B, A). A 2-way
  softmax is ``p(y = 1) = sigmoid(z1 - z0)``, so these are sigmoid logits for the engine and
  ``predict_scores(score="prob")`` returns the softmax's positive probability;
- `PerAttributeSoftmaxLoss`: the 2-way softmax cross-entropy of attribute j equals
  ``BCE-with-logits(z1 - z0, y)`` exactly; it is averaged over the batch's known labels of attribute j and
  summed over attributes (unweighted: ACN does not rebalance classes).
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from baselines.alexnet import AlexNetSpec, AlexNetTrunk, check_input_size, load_trunk
from baselines.common import BaselineResult, ForeignWeightsError
from baselines.training import TrainingRecipe, train_and_score
from pa100k.attribute_set import AttributeSet
from pa100k.registry import Registry

logger = logging.getLogger(__name__)


class ACN(nn.Module):
    """Shared AlexNet trunk + one 2-way softmax classifier per attribute; ``forward`` gives (B, A) logits ``z1 - z0``."""

    def __init__(self, num_attributes: int, trunk: AlexNetTrunk) -> None:
        super().__init__()
        if num_attributes < 1:
            raise ValueError(f"ACN: num_attributes must be >= 1, found {num_attributes}")
        self.num_attributes = num_attributes
        self.trunk = trunk
        self.heads = nn.Linear(trunk.num_features, 2 * num_attributes)  # attribute j: rows 2j (negative), 2j+1

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) -> fc7 features (B, D)."""
        return self.trunk(x)

    def head_logits(self, features: torch.Tensor) -> torch.Tensor:
        """Per-attribute 2-way softmax logits (B, A, 2): [..., 0] absent, [..., 1] present."""
        return self.heads(features).view(-1, self.num_attributes, 2)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """(B, D) -> (B, A) logits ``z1 - z0``: ``sigmoid`` of them is the softmax's positive probability."""
        z = self.head_logits(features)
        return z[..., 1] - z[..., 0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


class PerAttributeSoftmaxLoss(nn.Module):
    """Sum over attributes of the 2-way softmax cross-entropy, each averaged over its known labels in the batch.

    Takes the (B, A) logit differences ``z1 - z0`` of `ACN`; ``CE(softmax(z0, z1), y) = softplus(-(2y - 1)(z1 - z0))``
    is computed as ``binary_cross_entropy_with_logits``. Unknown labels (``mask`` False) count nowhere; an
    attribute without a known label in the batch adds 0.
    """

    def forward(self, logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if logits.shape != targets.shape:
            raise ValueError(f"logits and targets must have the same shape, found {tuple(logits.shape)} and {tuple(targets.shape)}")
        per_entry = F.binary_cross_entropy_with_logits(logits.float(), targets.float(), reduction="none")
        if mask is None:
            return per_entry.mean(0).sum()
        mask = mask.to(device=logits.device, dtype=torch.bool)
        if mask.shape != logits.shape:
            raise ValueError(f"mask must have shape {tuple(logits.shape)}, found {tuple(mask.shape)}")
        known = mask.sum(0).clamp(min=1)
        return (torch.where(mask, per_entry, torch.zeros_like(per_entry)).sum(0) / known).sum()


@dataclass(frozen=True)
class ACNConfig(TrainingRecipe):
    """ACN: trunk width (without weights), fc6/fc7 size, pooled grid before fc6, dropout, and the training recipe."""

    width: float = 1.0
    fc_dim: int | None = None  # None: 4096 x width
    pool_grid: tuple[int, int] = (6, 6)
    dropout: float = 0.5
    batch_norm: bool = True  # from-scratch trunks only; ImageNet weights bring their own (BN-free) network
    input_size: tuple[int, int] | None = None  # None: the weights' own 224 / 227 square (224 x 224 without)

    def __post_init__(self) -> None:
        check_input_size(self.input_size, "ACNConfig")
        if not self.width > 0:
            raise ValueError(f"ACNConfig.width must be > 0, found {self.width}")

    def spec(self) -> AlexNetSpec:
        """The trunk of a from-scratch ACN."""
        return AlexNetSpec.scaled(self.width, fc=self.fc_dim, pool_grid=self.pool_grid, dropout=self.dropout,
                                  batch_norm=self.batch_norm)


ACN_PRESETS: Registry[ACNConfig] = Registry("ACN preset")
ACN_PRESETS.add("tiny", ACNConfig(
    width=0.125, fc_dim=32, input_size=(64, 64), pool_grid=(1, 1), epochs=1, batch_size=8, lr=1e-3,
    optimizer="adamw", weight_decay=1e-4, scheduler="none", max_steps_per_epoch=3, cache_images=True,
    eval_batch_size=32,
))
ACN_PRESETS.add("cpu", ACNConfig(
    width=0.5, fc_dim=512, input_size=(128, 64), pool_grid=(3, 1), epochs=6, batch_size=32, lr=1e-3,
    optimizer="adamw", weight_decay=1e-4, scheduler="cosine", warmup_epochs=0.5, cache_images=True,
))
ACN_PRESETS.add("paper", ACNConfig(
    width=1.0, input_size=None, pool_grid=(6, 6), epochs=30, batch_size=64, lr=1e-3, optimizer="sgd",
    momentum=0.9, weight_decay=5e-4, scheduler="cosine", warmup_epochs=1.0, num_workers=8,
))


def build_acn(num_attributes: int, config: ACNConfig = ACNConfig(), weights: str | os.PathLike | None = None) -> ACN:
    """An ACN: trunk from the ImageNet ``weights`` file when given (its widths and 6 x 6 grid), else from ``config``."""
    if weights is None:
        return ACN(num_attributes, AlexNetTrunk(config.spec()))
    trunk = load_trunk(weights, dropout=config.dropout)
    return ACN(num_attributes, trunk)


def run_acn(data: AttributeSet, config: ACNConfig = ACNConfig(), *, weights: str | os.PathLike | None = None,
            skip_foreign_weights: bool = False, seed: int = 0, device: str = "auto",
            work_dir: str | os.PathLike | None = None, resume: bool = False, progress: bool = False) -> BaselineResult:
    """Train ACN on ``data``'s train split (best val-mA epoch kept) and score val and test.

    ``skip_foreign_weights``: a ``weights`` file that is not an AlexNet/CaffeNet is ignored with a warning
    (the trunk is then built from ``config`` and trained from scratch) instead of raising.
    """
    torch.manual_seed(seed)  # the heads' and a from-scratch trunk's initialisation
    try:
        model = build_acn(data.schema.num_attributes, config, weights)
    except ForeignWeightsError as exc:
        if not skip_foreign_weights:
            raise
        logger.warning("%s; ACN trains its trunk from scratch", exc)
        weights = None
        model = build_acn(data.schema.num_attributes, config)
    layout = model.trunk.layout  # input convention of the weights (AlexNet layout from scratch)
    result = train_and_score(model, data, PerAttributeSoftmaxLoss(), config, mean=layout.mean, std=layout.std,
                             input_size=config.input_size or layout.input_size, seed=seed, device=device,
                             work_dir=work_dir, resume=resume, progress=progress, desc="ACN")
    result.info.update(config=asdict(config), trunk=asdict(model.trunk.spec),
                       weights=str(weights) if weights is not None else None)
    return result


__all__ = ["ACN", "ACN_PRESETS", "ACNConfig", "PerAttributeSoftmaxLoss", "build_acn", "run_acn"]
