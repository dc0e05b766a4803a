"""M-net and HP-net (the paper's own rows of Table 2), trained stage-wise by ``hpnet.train``."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, ClassVar

from benchmarks.methods.base import Method, MethodOutput, RunContext, register_method
from pa100k.attribute_set import AttributeSet

# --set keys passed to hpnet.train.train_stagewise as they are.
TRAIN_KEYS = ("mnet_epochs", "mda_epochs", "fusion_epochs", "end_to_end_epochs", "end_to_end", "num_workers")


def _preset_keys() -> tuple[str, ...]:
    from hpnet.train import PRESET_OVERRIDES

    return PRESET_OVERRIDES


def stagewise_override_keys() -> tuple[str, ...]:
    """The ``--set`` keys of M-net/HP-net: `TRAIN_KEYS`, the training preset's `hpnet.train.PRESET_OVERRIDES`,
    ``attention_config`` and ``model.<HPNetConfig field>`` (less ``num_classes`` and ``attributes``, which come
    from the dataset)."""
    from dataclasses import fields

    from hpnet.config import HPNetConfig

    model = [f"model.{f.name}" for f in fields(HPNetConfig) if f.name not in ("num_classes", "attributes")]
    return (*TRAIN_KEYS, *_preset_keys(), "attention_config", *model)


def _train_kwargs(ctx: RunContext) -> dict[str, Any]:
    """``--set`` overrides → train_stagewise arguments; ``model.X=...`` sets a model config field.

    Keys that are not M-net/HP-net settings are left to the other methods of the run (the runner refuses
    a key that no selected method accepts).
    """
    kwargs: dict[str, Any] = {}
    model: dict[str, Any] = {}
    preset: dict[str, Any] = {}
    for key, value in ctx.overrides.items():
        if key in TRAIN_KEYS:
            kwargs[key] = value
        elif key in _preset_keys():
            preset[key] = value
        elif key.startswith("model.") and key in stagewise_override_keys():
            model[key[len("model."):]] = value
        elif key == "attention_config":
            from hpnet.config import MDA_ABLATIONS

            model["paths"] = MDA_ABLATIONS.get(str(value))
    if model:
        kwargs["model_overrides"] = model
    if preset:
        kwargs["preset_overrides"] = preset
    return kwargs


class _StagewiseMethod(Method):
    mnet_only: ClassVar[bool]
    runs_on_every_rank = True  # every stage trains with DDP under torchrun

    def override_keys(self) -> tuple[str, ...]:
        return stagewise_override_keys()

    def config(self, ctx: RunContext) -> dict[str, Any]:
        from hpnet.train import with_preset_overrides

        # a bad value (an unknown attention_config, fusion_init, fusion_dropout) fails here, before any training
        kwargs = _train_kwargs(ctx)
        tp = with_preset_overrides(ctx.preset, kwargs.get("preset_overrides", {}))
        stages = {"mnet": tp.mnet} if self.mnet_only else {"mnet": tp.mnet, "mda": tp.mda, "fusion": tp.fusion}
        extra = {k: getattr(tp, k) for k in (("augment_pad",) if self.mnet_only else _preset_keys())}
        return {"train_preset": tp.name, "model_preset": tp.model_preset, "description": tp.description,
                "stages": {k: asdict(v) for k, v in stages.items()}, **extra, "overrides": dict(ctx.overrides)}

    def run(self, data: AttributeSet, ctx: RunContext) -> MethodOutput:
        from hpnet.train import train_stagewise

        result = train_stagewise(data, preset=ctx.preset, out_dir=ctx.work_dir, seed=ctx.seed, device=ctx.device,
                                 resume=ctx.resume, mnet_only=self.mnet_only, progress=ctx.progress,
                                 **_train_kwargs(ctx))
        main = "mnet" if self.mnet_only else "hpnet"
        history = [{"stage": stage, **rec} for stage, recs in result.history.items() for rec in recs]
        companions = {} if self.mnet_only else {"M-net": result.predict("mnet", "test")}
        return MethodOutput(
            test_scores=result.predict(main, "test"), val_scores=result.predict(main, "val"), history=history,
            checkpoint=result.hpnet_dir if main == "hpnet" else result.mnet_dir, companions=companions,
            timings={f"stage_{k}_seconds": v for k, v in result.stage_seconds.items()}, info=result.to_dict(),
            companion_seconds={} if self.mnet_only else {"M-net": result.stage_seconds.get("mnet", 0.0)},
        )


@register_method
class HPNetMethod(_StagewiseMethod):
    """HydraPlus-Net: M-net, then the three MDA modules, then the fusion FC (§3.2); reports its M-net too."""

    name = "hpnet"
    paper_name = "HP-net"
    description = "HydraPlus-Net, stage-wise (M-net → MDA modules → fusion)"
    mnet_only = False


@register_method
class MNetMethod(_StagewiseMethod):
    """M-net alone: BN-Inception + pooling + classifier, the paper's ablation baseline."""

    name = "mnet"
    paper_name = "M-net"
    companion_of = "hpnet"
    description = "M-net (BN-Inception main net only)"
    mnet_only = True
