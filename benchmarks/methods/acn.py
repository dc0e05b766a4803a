"""ACN (Table 2): an AlexNet trunk shared by all attributes, one 2-way softmax head and loss per attribute."""

from __future__ import annotations

from typing import Any

from baselines.acn import ACN_PRESETS, ACNConfig, run_acn
from benchmarks.methods.base import RunContext, TrainedBaseline, register_method
from pa100k.attribute_set import AttributeSet


@register_method
class ACNMethod(TrainedBaseline):
    """Sudowe et al. 2015: jointly trained holistic CNN, separate softmax loss per attribute (summed)."""

    name = "acn"
    paper_name = "ACN"
    description = "AlexNet trunk + per-attribute 2-way softmax heads, sum of per-attribute losses (Sudowe et al. 2015)"
    presets = ACN_PRESETS
    config_class = ACNConfig

    def notes(self, ctx: RunContext) -> dict[str, Any]:
        return {"trunk": (f"{ctx.weights} if it is an AlexNet/CaffeNet state dict, else " if ctx.weights else "")
                + "AlexNet layout at `width`, trained from scratch"}

    def train(self, data: AttributeSet, config: ACNConfig, ctx: RunContext) -> Any:
        # the run's --weights serve every method: a file of another architecture is skipped with a warning
        return run_acn(data, config, weights=ctx.weights, skip_foreign_weights=True, seed=ctx.seed,
                       device=ctx.device, work_dir=ctx.work_dir, resume=ctx.resume, progress=ctx.progress)
