"""Model registry (timm style): ``create_model("hpnet_bninception", num_classes=26, preset="cpu", **overrides)``.

A name may carry a preset as a tag: ``create_model("hpnet_bninception.cpu")``. ``list_models("hpnet*")``
lists architectures; ``list_models(presets=True)`` lists ``arch.preset`` names.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable
from typing import Any

from torch import nn

from hpnet.afnet import HydraPlusNet
from hpnet.checkpoint import read_config_file, resolve_checkpoint
from hpnet.config import PRESETS, HPNetConfig, MNetConfig, with_overrides
from hpnet.mnet import MNet
from pa100k.registry import Registry

ModelBuilder = Callable[..., nn.Module]
MODELS: Registry[ModelBuilder] = Registry("model")
MODEL_CLASSES: Registry[type] = Registry("model class")
MODEL_CLASSES.add(MNet.architecture, MNet)
MODEL_CLASSES.add(HydraPlusNet.architecture, HydraPlusNet)


def register_model(name: str) -> Callable[[ModelBuilder], ModelBuilder]:
    """Decorator registering ``fn(num_classes, preset=None, **overrides) -> nn.Module`` as ``name``."""
    return MODELS.register(name)


def _config(cls: type, architecture: str, num_classes: int, preset: str | None, overrides: dict[str, Any]) -> Any:
    base = cls(num_classes=num_classes)
    if preset is not None:
        base = with_overrides(base, **PRESETS.get(preset).model_kwargs(architecture))
    return with_overrides(base, **overrides)


@register_model("mnet_bninception")
def mnet_bninception(num_classes: int = 26, preset: str | None = None, **overrides: Any) -> MNet:
    """M-net: BN-Inception → GAP → FC-512-BN-ReLU-dropout → FC (§3)."""
    return MNet(_config(MNetConfig, "mnet_bninception", num_classes, preset, overrides))


@register_model("hpnet_bninception")
def hpnet_bninception(num_classes: int = 26, preset: str | None = None, **overrides: Any) -> HydraPlusNet:
    """HydraPlus-Net: M-net + three MDA modules (nine attentive paths) → GAP → concat → FC (§3)."""
    return HydraPlusNet(_config(HPNetConfig, "hpnet_bninception", num_classes, preset, overrides))


def create_model(name: str, num_classes: int = 26, **overrides: Any) -> nn.Module:
    """Build a registered model; ``name`` may end in ``.preset`` (e.g. ``hpnet_bninception.cpu``)."""
    arch, _, tag = name.partition(".")
    builder = MODELS.get(arch)
    if tag:
        if "preset" in overrides and overrides["preset"] != tag:
            raise ValueError(f"create_model: name {name!r} names preset {tag!r} but preset={overrides['preset']!r} was given")
        overrides["preset"] = tag
    return builder(num_classes=num_classes, **overrides)


def list_models(pattern: str = "*", presets: bool = False) -> list[str]:
    """Registered model names matching ``pattern`` (fnmatch); with ``presets`` also every ``arch.preset``."""
    names = MODELS.names()
    if presets:
        names = [f"{n}.{p}" for n in names for p in PRESETS.names()]
    return [n for n in names if fnmatch.fnmatch(n, pattern)]


def load_pretrained(dir_or_hub_id: str | os.PathLike, **overrides: Any) -> nn.Module:
    """Load any checkpoint folder written by ``save_pretrained``, picking the class from its ``config.json``."""
    folder = resolve_checkpoint(dir_or_hub_id)
    data = read_config_file(folder)
    try:
        cls = MODEL_CLASSES.get(data["architecture"])
    except KeyError as exc:
        raise ValueError(f"{folder / 'config.json'}: field 'architecture': {exc.args[0]}") from None
    return cls.from_pretrained(folder, **overrides)
