"""FC6-mm and FC7-mm (Table 2): ImageNet AlexNet/CaffeNet fc6 / fc7 activations + per-attribute linear SVMs.

Both need ImageNet weights from a local file (``--weights``); without one they stop with an error.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, replace
from typing import Any, ClassVar

from baselines.common import apply_overrides, override_keys
from baselines.fc_features import require_weights
from baselines.mm import FC_MM_PRESETS, FCMMConfig, run_fc_mm
from benchmarks.methods.base import Method, MethodOutput, RunContext, register_method
from pa100k.attribute_set import AttributeSet

logger = logging.getLogger(__name__)


class _FCMM(Method):
    """fc activations of a local ImageNet AlexNet/CaffeNet + linear SVMs, C chosen on val."""

    layer: ClassVar[str]
    needs_weights = True

    def override_keys(self) -> tuple[str, ...]:
        return override_keys(FCMMConfig, exclude=("layer",))  # the layer is the method's identity

    def resolve(self, ctx: RunContext) -> FCMMConfig:
        """The preset's config for this layer with the run's device and overrides applied."""
        base = replace(FC_MM_PRESETS.get(ctx.preset), layer=self.layer, device=ctx.device)
        config, unused = apply_overrides(base, {k: v for k, v in ctx.overrides.items() if k != "layer"}, where=self.name)
        if unused:
            logger.info("%s: overrides %s are not %s settings; ignored", self.name, unused, self.paper_name)
        return config

    def config(self, ctx: RunContext) -> dict[str, Any]:
        return {"preset": ctx.preset, **asdict(self.resolve(ctx)),
                "weights": str(ctx.weights) if ctx.weights else None,
                "scores": "sigmoid(SVM decision): 0.5 is the SVM's boundary"}

    def run(self, data: AttributeSet, ctx: RunContext) -> MethodOutput:
        weights = require_weights(ctx.weights, f"{self.name} ({self.paper_name})")
        result = run_fc_mm(data, weights, self.resolve(ctx), cache_dir=ctx.cache_dir, dataset_name=ctx.dataset_name,
                           seed=ctx.seed, progress=ctx.progress)
        return MethodOutput(**vars(result))


@register_method
class FC7MM(_FCMM):
    """fc7 activations (after ReLU) + linear SVMs."""

    name = "fc7_mm"
    paper_name = "FC7-mm"
    description = "ImageNet AlexNet/CaffeNet fc7 activations (local --weights) + per-attribute linear SVM"
    layer = "fc7"


@register_method
class FC6MM(_FCMM):
    """fc6 activations (after ReLU) + linear SVMs."""

    name = "fc6_mm"
    paper_name = "FC6-mm"
    description = "ImageNet AlexNet/CaffeNet fc6 activations (local --weights) + per-attribute linear SVM"
    layer = "fc6"
