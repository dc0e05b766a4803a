"""ImageNet weights for the BN-Inception trunk from a local file named like ``pretrainedmodels``' ``bninception``.

That model (a Caffe port) has biased convolutions, BGR input in [0, 255] minus the mean (104, 117, 128),
and names such as ``inception_3a_double_3x3_1`` / ``inception_3a_double_3x3_1_bn``. The mapping:

* renames every conv/BN pair to our ``BasicConv2d`` (``stage3.inception_3a.double3x3_1.conv``/``.bn``);
* folds each conv bias into the following BN: BN(Wx + b) with running mean m equals BN(Wx) with m − b;
* with ``fold_input`` (default), rewrites the first conv so the trunk takes our input convention (RGB in
  [0, 1] normalised by ``mean``/``std``): channels reversed, scaled by 255·std, the mean shift folded into
  conv1's BN. This is exact except on the zero-padded border of conv1;
* drops ``last_linear.*`` (the ImageNet classifier).

Nothing is downloaded: the file must be on disk (``.pth``/``.pt`` via ``torch.load(weights_only=True)`` or
``.safetensors``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from hpnet.backbone import BLOCKS, INCEPTION_SPECS, STAGE_NAMES, BNInception
from hpnet.config import IMAGENET_MEAN, IMAGENET_STD

logger = logging.getLogger(__name__)

CAFFE_BGR_MEAN = (104.0, 117.0, 128.0)  # pretrainedmodels' settings for bninception (BGR order, [0, 255] input)
IGNORED_PREFIXES = ("last_linear.",)
BN_SUFFIXES = ("weight", "bias", "running_mean", "running_var")

# branch attribute of our InceptionBlock → suffix of pretrainedmodels' layer name
_BRANCH_NAMES = (
    ("branch1x1", "1x1"),
    ("branch3x3_reduce", "3x3_reduce"),
    ("branch3x3", "3x3"),
    ("double3x3_reduce", "double_3x3_reduce"),
    ("double3x3_1", "double_3x3_1"),
    ("double3x3_2", "double_3x3_2"),
    ("pool_proj", "pool_proj"),
)


def layer_name_pairs() -> list[tuple[str, str]]:
    """``(our BasicConv2d path in BNInception, pretrainedmodels' conv name)`` for all 69 conv layers."""
    pairs = [("stem.conv1", "conv1_7x7_s2"), ("stem.conv2_reduce", "conv2_3x3_reduce"), ("stem.conv2", "conv2_3x3")]
    for block in BLOCKS:
        for spec in INCEPTION_SPECS[block]:
            for ours, theirs in _BRANCH_NAMES:
                if ours == "branch1x1" and not spec.c1x1:
                    continue
                if ours == "pool_proj" and not spec.pool_proj:
                    continue
                pairs.append((f"{STAGE_NAMES[block]}.inception_{spec.name}.{ours}", f"inception_{spec.name}_{theirs}"))
    return pairs


@dataclass
class MappedWeights:
    """A BNInception state dict mapped from pretrainedmodels names, and what did not map."""

    state_dict: dict[str, torch.Tensor]
    missing: list[str] = field(default_factory=list)  # pretrainedmodels keys we need that the source lacks
    unexpected: list[str] = field(default_factory=list)  # source keys that match no layer
    ignored: list[str] = field(default_factory=list)  # source keys deliberately dropped (ImageNet classifier)


def _strip_wrappers(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove a ``module.`` (DataParallel) prefix common to every key."""
    if state and all(k.startswith("module.") for k in state):
        return {k[len("module."):]: v for k, v in state.items()}
    return dict(state)


def map_pretrainedmodels_bninception(
    state: dict[str, torch.Tensor],
    *,
    fold_input: bool = True,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> MappedWeights:
    """Map a ``pretrainedmodels`` ``bninception`` state dict to `BNInception` keys (see the module docstring)."""
    state = _strip_wrappers(state)
    out: dict[str, torch.Tensor] = {}
    used: set[str] = set()
    missing: list[str] = []
    for ours, theirs in layer_name_pairs():
        conv_w, conv_b = f"{theirs}.weight", f"{theirs}.bias"
        bn = {s: f"{theirs}_bn.{s}" for s in BN_SUFFIXES}
        needed = [conv_w, *bn.values()]
        absent = [k for k in needed if k not in state]
        known = [conv_w, conv_b, f"{theirs}_bn.num_batches_tracked", *bn.values()]
        if absent:  # an incomplete layer: report what it lacks, not its other keys as unexpected
            missing.extend(absent)
            used.update(known)
            continue
        weight = state[conv_w].detach().float().clone()
        bias = state[conv_b].detach().float().clone() if conv_b in state else torch.zeros(weight.shape[0])
        running_mean = state[bn["running_mean"]].detach().float().clone()
        if fold_input and ours == "stem.conv1":
            if weight.shape[1] != 3:
                raise ValueError(f"{conv_w}: expected 3 input channels to fold the input convention, found {weight.shape[1]}")
            bgr = weight.flip(1)  # their input channel order is BGR; ours is RGB
            scale = torch.tensor([255.0 * s for s in std]).view(1, 3, 1, 1)
            shift = torch.tensor([255.0 * m for m in mean]) - torch.tensor(CAFFE_BGR_MEAN).flip(0)  # per RGB channel
            bias = bias + (bgr.sum(dim=(2, 3)) * shift.view(1, 3)).sum(dim=1)
            weight = bgr * scale
        out[f"{ours}.conv.weight"] = weight
        out[f"{ours}.bn.weight"] = state[bn["weight"]].detach().float().clone()
        out[f"{ours}.bn.bias"] = state[bn["bias"]].detach().float().clone()
        out[f"{ours}.bn.running_mean"] = running_mean - bias
        out[f"{ours}.bn.running_var"] = state[bn["running_var"]].detach().float().clone()
        tracked = state.get(f"{theirs}_bn.num_batches_tracked")
        out[f"{ours}.bn.num_batches_tracked"] = (tracked.detach().clone().long() if tracked is not None
                                                 else torch.tensor(0, dtype=torch.long))
        used.update(known)
    ignored = sorted(k for k in state if k.startswith(IGNORED_PREFIXES))
    unexpected = sorted(k for k in state if k not in used and k not in ignored)
    return MappedWeights(out, missing=sorted(missing), unexpected=unexpected, ignored=ignored)


def read_weights_file(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A state dict from a ``.pth``/``.pt`` (tensors only) or ``.safetensors`` file on disk."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: ImageNet weights file not found (no download is attempted; put pretrainedmodels' "
            f"bn_inception-52deb4733.pth or a safetensors copy there)"
        )
    if path.suffix == ".safetensors":
        from hpnet.checkpoint import load_safetensors

        return load_safetensors(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or pickled-object files
        raise ValueError(f"{path}: cannot be read as a tensor state dict ({exc})") from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: expected a dict of tensors, found {type(state).__name__}")
    return state


def load_imagenet_weights(backbone: BNInception | nn.Module, path: str | os.PathLike, *, strict: bool = True,
                          fold_input: bool = True, mean: Sequence[float] = IMAGENET_MEAN,
                          std: Sequence[float] = IMAGENET_STD) -> MappedWeights:
    """Load ImageNet weights into a BNInception (or a model with ``.backbone``); missing/unexpected keys raise by name when ``strict``."""
    trunk = getattr(backbone, "backbone", backbone)
    if not isinstance(trunk, BNInception):
        raise TypeError(f"load_imagenet_weights: expected a BNInception or a model with .backbone, found {type(trunk).__name__}")
    if trunk.width != 1.0:
        raise ValueError(f"{path}: ImageNet BN-Inception weights are full width (1.0); this trunk has width {trunk.width}")
    mapped = map_pretrainedmodels_bninception(read_weights_file(path), fold_input=fold_input, mean=mean, std=std)
    problems = []
    if mapped.missing:
        problems.append(f"missing keys {mapped.missing}")
    if mapped.unexpected:
        problems.append(f"unexpected keys {mapped.unexpected}")
    if problems:
        message = f"{path}: " + "; ".join(problems)
        if strict:
            raise ValueError(message)
        logger.warning(message)
    from hpnet.checkpoint import load_state_dict_into

    load_state_dict_into(trunk, mapped.state_dict, source=path, strict=strict)
    return mapped
