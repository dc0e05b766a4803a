"""ACN (Table 2): an AlexNet trunk shared by all attributes, one 2-way softmax head and loss per attribute."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from baselines.acn import ACN_PRESETS, ACNConfig, run_acn
from baselines.common import apply_overrides, override_keys
from benchmarks.methods.base import Method, MethodOutput, RunContext, register_method
from pa100k.attribute_set import AttributeSet

logger = logging.getLogger(__name__)


@register_method
class ACNMethod(Method):
    """Sudowe et al. 2015: jointly trained holistic CNN, separate softmax loss per attribute (summed)."""

    name = "acn"
    paper_name = "ACN"
    description = "AlexNet trunk + per-attribute 2-way softmax heads, sum of per-attribute losses (Sudowe et al. 2015)"
    runs_on_every_rank = True  # DDP training under torchrun

    def override_keys(self) -> tuple[str, ...]:
        return override_keys(ACNConfig)

    def resolve(self, ctx: RunContext) -> ACNConfig:
        """The preset's config with the run's overrides applied."""
        config, unused = apply_overrides(ACN_PRESETS.get(ctx.preset), ctx.overrides, where=self.name)
        if unused:
            logger.info("%s: overrides %s are not ACN settings; ignored", self.name, unused)
        return config

    def config(self, ctx: RunContext) -> dict[str, Any]:
        return {"preset": ctx.preset, **asdict(self.resolve(ctx)),
                "trunk": (f"{ctx.weights} if it is an AlexNet/CaffeNet state dict, else " if ctx.weights else "")
                         + "AlexNet layout at `width`, trained from scratch",
                "selection": "epoch with the best val mA"}

    def run(self, data: AttributeSet, ctx: RunContext) -> MethodOutput:
        # the run's --weights serve every method: a file of another architecture (FC7-mm's AlexNet for a
        # ResNet DeepMar) is skipped with a warning, not an error
        result = run_acn(data, self.resolve(ctx), weights=ctx.weights, skip_foreign_weights=True, seed=ctx.seed,
                         device=ctx.device, work_dir=ctx.work_dir, resume=ctx.resume, progress=ctx.progress)
        return MethodOutput(**vars(result))
