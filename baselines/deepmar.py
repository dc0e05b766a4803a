"""DeepMar (Li, Chen & Huang 2015): a CNN with one sigmoid output per attribute and the weighted sigmoid cross-entropy.

The original DeepMAR fine-tunes CaffeNet; the maintained re-implementations (Rethinking_of_PAR and
others) use a ResNet-50 at 256 x 192, which is the ``paper`` preset here. The backbone is a torchvision
model from `DEEPMAR_BACKBONES` (``resnet50``, ``resnet18``, ``resnet34``, ``alexnet``) whose ImageNet
classifier is replaced by ``Linear(features, A)``. ImageNet weights come only from a local torchvision
state dict file (``weights``, read with ``torch.load(weights_only=True)`` or safetensors); without one
the backbone starts from torchvision's random initialisation. The loss is `hpnet.losses.WeightedBCELoss`
with the positive ratios of the train split (positives weigh ``exp(1 - p_j)``, negatives ``exp(p_j)``).

The ``cpu`` preset is a ResNet-18 at 128 x 64 for 4 epochs: a ResNet-50 at 256 x 192 trains at a few
images per second on 2 cores, far beyond a 10-minute budget.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from baselines.common import BaselineResult, ForeignWeightsError
from baselines.training import TrainingRecipe, train_and_score
from pa100k.attribute_set import AttributeSet
from pa100k.registry import Registry

logger = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Backbone:
    """A torchvision classification model and the module path of its ImageNet classifier."""

    name: str
    head: str
    description: str = ""


DEEPMAR_BACKBONES: Registry[Backbone] = Registry("DeepMar backbone")
for _b in (
    Backbone("resnet50", "fc", "ResNet-50, as the maintained re-implementations (the paper preset)"),
    Backbone("resnet34", "fc", "ResNet-34"),
    Backbone("resnet18", "fc", "ResNet-18 (the cpu and tiny presets)"),
    Backbone("alexnet", "classifier.6", "torchvision AlexNet, the original DeepMAR's network family (inputs >= 63 px a side)"),
):
    DEEPMAR_BACKBONES.add(_b.name, _b)


def build_backbone(name: str) -> tuple[nn.Module, int]:
    """The torchvision model ``name`` (random init) with its classifier replaced by identity, and its feature width."""
    import torchvision

    spec = DEEPMAR_BACKBONES.get(name)
    model = torchvision.models.get_model(name, weights=None)
    parent_path, _, leaf = spec.head.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    head = getattr(parent, leaf)
    setattr(parent, leaf, nn.Identity())
    return model, int(head.in_features)


class DeepMar(nn.Module):
    """A torchvision backbone (classifier removed) and ``Linear(features, A)``: (B, A) attribute logits."""

    def __init__(self, num_attributes: int, backbone: str = "resnet50") -> None:
        super().__init__()
        if num_attributes < 1:
            raise ValueError(f"DeepMar: num_attributes must be >= 1, found {num_attributes}")
        self.backbone_name = backbone
        self.backbone, dim = build_backbone(backbone)
        self.classifier = nn.Linear(dim, num_attributes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) -> pooled features (B, D)."""
        return self.backbone(x)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """(B, D) -> attribute logits (B, A)."""
        return self.classifier(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def load_imagenet(self, path: str | os.PathLike) -> None:
        """Load a local torchvision ImageNet state dict of the backbone (its classifier's keys are skipped).

        A file of another architecture raises `ForeignWeightsError`; wrong shapes or missing layers a ValueError.
        """
        from hpnet.checkpoint import load_state_dict_into
        from hpnet.weights import read_weights_file

        path = Path(path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: DeepMar weights file not found (nothing is downloaded; give a local torchvision "
                f"{self.backbone_name} state dict, .pth or .safetensors)"
            )
        state = read_weights_file(path)
        head = DEEPMAR_BACKBONES.get(self.backbone_name).head + "."
        state = {k: v for k, v in state.items() if not k.startswith(head)}
        if not set(state) & set(self.backbone.state_dict()):
            raise ForeignWeightsError(f"{path}: not a torchvision {self.backbone_name} state dict (no layer name in "
                                      f"common; found keys {', '.join(sorted(state)[:6])} ...)")
        load_state_dict_into(self.backbone, state, source=path, strict=True)
        logger.info("DeepMar: loaded %s ImageNet weights from %s", self.backbone_name, path)


@dataclass(frozen=True)
class DeepMarConfig(TrainingRecipe):
    """DeepMar: the backbone name and the training recipe (defaults: ResNet-50, 256 x 192, 30 epochs of SGD)."""

    backbone: str = "resnet50"

    def __post_init__(self) -> None:
        DEEPMAR_BACKBONES.get(self.backbone)
        if self.backbone == "alexnet":
            from baselines.alexnet import check_input_size

            check_input_size(self.input_size, "DeepMarConfig (backbone alexnet)")


DEEPMAR_PRESETS: Registry[DeepMarConfig] = Registry("DeepMar preset")
DEEPMAR_PRESETS.add("tiny", DeepMarConfig(
    backbone="resnet18", input_size=(32, 16), epochs=1, batch_size=8, lr=1e-3, optimizer="adamw",
    weight_decay=1e-4, scheduler="none", max_steps_per_epoch=3, cache_images=True, eval_batch_size=32,
))
DEEPMAR_PRESETS.add("cpu", DeepMarConfig(
    backbone="resnet18", input_size=(128, 64), epochs=4, batch_size=32, lr=1e-3, optimizer="adamw",
    weight_decay=1e-4, scheduler="cosine", warmup_epochs=0.5, cache_images=True,
))
DEEPMAR_PRESETS.add("paper", DeepMarConfig(
    backbone="resnet50", input_size=(256, 192), epochs=30, batch_size=64, lr=0.01, optimizer="sgd", momentum=0.9,
    weight_decay=5e-4, scheduler="cosine", warmup_epochs=1.0, num_workers=8,
))


def run_deepmar(data: AttributeSet, config: DeepMarConfig = DeepMarConfig(), *,
                weights: str | os.PathLike | None = None, skip_foreign_weights: bool = False, seed: int = 0,
                device: str = "auto", work_dir: str | os.PathLike | None = None, resume: bool = False,
                progress: bool = False) -> BaselineResult:
    """Train DeepMar on ``data``'s train split with the weighted BCE (best val-mA epoch kept), score val and test.

    ``skip_foreign_weights``: a ``weights`` file of another architecture (e.g. the AlexNet file a benchmark
    run gives FC7-mm) is ignored with a warning instead of raising; the backbone then starts from random.
    """
    from hpnet.losses import WeightedBCELoss, positive_ratio_from

    torch.manual_seed(seed)
    model = DeepMar(data.schema.num_attributes, config.backbone)
    if weights is not None:
        try:
            model.load_imagenet(weights)
        except ForeignWeightsError as exc:
            if not skip_foreign_weights:
                raise
            logger.warning("%s; DeepMar starts from random initialisation", exc)
            weights = None
    loss = WeightedBCELoss(positive_ratio_from(data, "train"))
    result = train_and_score(model, data, loss, config, mean=IMAGENET_MEAN, std=IMAGENET_STD, seed=seed,
                             device=device, work_dir=work_dir, resume=resume, progress=progress, desc="DeepMar")
    result.info.update(config=asdict(config), weights=str(weights) if weights is not None else None)
    return result
