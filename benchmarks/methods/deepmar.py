"""DeepMar (Table 2): a torchvision backbone with one sigmoid per attribute and the weighted sigmoid cross-entropy."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from baselines.common import apply_overrides, override_keys
from baselines.deepmar import DEEPMAR_PRESETS, DeepMarConfig, run_deepmar
from benchmarks.methods.base import Method, MethodOutput, RunContext, register_method
from pa100k.attribute_set import AttributeSet

logger = logging.getLogger(__name__)


@register_method
class DeepMarMethod(Method):
    """Li et al. 2015: ResNet-50 (paper preset) / ResNet-18 (cpu) + weighted sigmoid cross-entropy."""

    name = "deepmar"
    paper_name = "DeepMar"
    description = "torchvision backbone + weighted sigmoid cross-entropy (Li et al. 2015)"
    runs_on_every_rank = True  # DDP training under torchrun

    def override_keys(self) -> tuple[str, ...]:
        return override_keys(DeepMarConfig)

    def resolve(self, ctx: RunContext) -> DeepMarConfig:
        """The preset's config with the run's overrides applied."""
        config, unused = apply_overrides(DEEPMAR_PRESETS.get(ctx.preset), ctx.overrides, where=self.name)
        if unused:
            logger.info("%s: overrides %s are not DeepMar settings; ignored", self.name, unused)
        return config

    def config(self, ctx: RunContext) -> dict[str, Any]:
        notes = {
            "tiny": "ResNet-18 at 32x16, a few batches: tests only",
            "cpu": "ResNet-18 at 128x64 for 4 epochs: ResNet-50 at 256x192 is too slow on 2 cores",
            "paper": "ResNet-50 at 256x192 as the maintained re-implementations (Rethinking_of_PAR); needs a GPU",
        }
        return {"preset": ctx.preset, **asdict(self.resolve(ctx)), "preset_note": notes[ctx.preset],
                "backbone_weights": (f"{ctx.weights} if it is a torchvision {self.resolve(ctx).backbone} state dict, "
                                     "else random init") if ctx.weights else "none: random init (no --weights)",
                "loss": "weighted BCE, positives exp(1 - p_j), negatives exp(p_j), p_j from train",
                "selection": "epoch with the best val mA"}

    def run(self, data: AttributeSet, ctx: RunContext) -> MethodOutput:
        # the run's --weights serve every method: a file of another architecture (FC7-mm's AlexNet for a
        # ResNet DeepMar) is skipped with a warning, not an error
        result = run_deepmar(data, self.resolve(ctx), weights=ctx.weights, skip_foreign_weights=True, seed=ctx.seed,
                             device=ctx.device, work_dir=ctx.work_dir, resume=ctx.resume, progress=ctx.progress)
        return MethodOutput(**vars(result))
