"""DeepMar (Table 2): a torchvision backbone with one sigmoid per attribute and the weighted sigmoid cross-entropy."""

from __future__ import annotations

from typing import Any

from baselines.deepmar import DEEPMAR_PRESETS, DeepMarConfig, run_deepmar
from benchmarks.methods.base import RunContext, TrainedBaseline, register_method
from pa100k.attribute_set import AttributeSet

PRESET_NOTES = {
    "tiny": "ResNet-18 at 32x16, a few batches: tests only",
    "cpu": "ResNet-18 at 128x64 for 4 epochs: ResNet-50 at 256x192 is too slow on 2 cores",
    "paper": "ResNet-50 at 256x192 as the maintained re-implementations (Rethinking_of_PAR); needs a GPU",
}


@register_method
class DeepMarMethod(TrainedBaseline):
    """Li et al. 2015: ResNet-50 (paper preset) / ResNet-18 (cpu) + weighted sigmoid cross-entropy."""

    name = "deepmar"
    paper_name = "DeepMar"
    description = "torchvision backbone + weighted sigmoid cross-entropy (Li et al. 2015)"
    presets = DEEPMAR_PRESETS
    config_class = DeepMarConfig

    def notes(self, ctx: RunContext) -> dict[str, Any]:
        backbone = self.resolve(ctx).backbone
        return {"preset_note": PRESET_NOTES[ctx.preset],
                "backbone_weights": (f"{ctx.weights} if it is a torchvision {backbone} state dict, else random init")
                if ctx.weights else "none: random init (no --weights)",
                "loss": "weighted BCE, positives exp(1 - p_j), negatives exp(p_j), p_j from train"}

    def train(self, data: AttributeSet, config: DeepMarConfig, ctx: RunContext) -> Any:
        # the run's --weights serve every method: a file of another architecture (FC7-mm's AlexNet for a
        # ResNet DeepMar) is skipped with a warning, not an error
        return run_deepmar(data, config, weights=ctx.weights, skip_foreign_weights=True, seed=ctx.seed,
                           device=ctx.device, work_dir=ctx.work_dir, resume=ctx.resume, progress=ctx.progress)
