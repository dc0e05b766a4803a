"""ELF-mm (Table 2): ELF colour/texture stripe histograms + one class-balanced linear SVM per attribute."""

from __future__ import annotations

import logging
from dataclasses import asdict, replace
from typing import Any

from baselines.common import apply_overrides, override_keys
from baselines.mm import ELF_MM_PRESETS, ELFMMConfig, run_elf_mm
from benchmarks.methods.base import Method, MethodOutput, RunContext, register_method
from pa100k.attribute_set import AttributeSet

logger = logging.getLogger(__name__)


@register_method
class ELFMM(Method):
    """ELF descriptor (8 colour + 21 texture channels, 6 stripes, 16 bins) + linear SVMs, C chosen on val."""

    name = "elf_mm"
    paper_name = "ELF-mm"
    description = "ELF features (RGB/HS/YCbCr + 8 Gabor + 13 Schmid, 6 stripes x 16 bins) + per-attribute linear SVM"

    def override_keys(self) -> tuple[str, ...]:
        return override_keys(ELFMMConfig)

    def resolve(self, ctx: RunContext) -> ELFMMConfig:
        """The preset's config with the run's device and overrides applied."""
        config, unused = apply_overrides(replace(ELF_MM_PRESETS.get(ctx.preset), device=ctx.device), ctx.overrides,
                                         where=self.name)
        if unused:
            logger.info("%s: overrides %s are not ELF-mm settings; ignored", self.name, unused)
        return config

    def config(self, ctx: RunContext) -> dict[str, Any]:
        return {"preset": ctx.preset, **asdict(self.resolve(ctx)),
                "scores": "sigmoid(SVM decision): 0.5 is the SVM's boundary"}

    def run(self, data: AttributeSet, ctx: RunContext) -> MethodOutput:
        result = run_elf_mm(data, self.resolve(ctx), cache_dir=ctx.cache_dir, dataset_name=ctx.dataset_name,
                            seed=ctx.seed, progress=ctx.progress)
        return MethodOutput(**vars(result))
