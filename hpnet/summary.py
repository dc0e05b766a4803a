"""Parameters and multiply-adds of M-net and HP-net per preset: what the AF-net really adds.

Multiply-adds are counted by `torch.utils.flop_counter.FlopCounterMode` (convolutions and matrix
products; FLOPs / 2) with the model moved to the meta device, so even the paper preset costs no arithmetic. Element-wise
work (batch norm, ReLU, pooling, the attention products) is not counted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from hpnet.config import PRESETS
from hpnet.registry import create_model


@dataclass
class ModelCost:
    """Size and per-image cost of one model at one preset, with the HP-net parts broken down."""

    preset: str
    model: str
    width: float
    input_size: tuple[int, int]
    attention_channels: int | None
    params: int
    params_trunk: int
    params_attention: int
    params_branches: int
    params_head: int
    macs: int
    feature_dim: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-able fields."""
        return asdict(self)


def _count(module: nn.Module | None) -> int:
    return 0 if module is None else sum(p.numel() for p in module.parameters())


def count_macs(model: nn.Module, input_size: tuple[int, int]) -> int:
    """Multiply-adds of one forward pass on a single (3, H, W) image (model and input on the meta device)."""
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.empty(1, 3, *input_size, device="meta")
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model.eval()(x)
    return int(counter.get_total_flops() // 2)


def model_cost(name: str, preset: str, num_classes: int = 26, **overrides: Any) -> ModelCost:
    """Parameters (split into trunk / attention / branch copies / head) and MACs of ``name`` at ``preset``."""
    model = create_model(name, num_classes=num_classes, preset=preset, **overrides).to("meta")
    cfg = model.config
    afnet = getattr(model, "afnet", None)
    attention = sum(_count(m.attention) for m in afnet.mdas.values()) if afnet is not None else 0
    branches = sum(_count(m.tails) for m in afnet.mdas.values()) if afnet is not None else 0
    return ModelCost(
        preset=preset, model=name, width=cfg.width, input_size=tuple(cfg.input_size),
        attention_channels=getattr(cfg, "attention_channels", None), params=_count(model),
        params_trunk=_count(model.backbone), params_attention=attention, params_branches=branches,
        params_head=_count(model.head), macs=count_macs(model, tuple(cfg.input_size)),
        feature_dim=int(model.num_features),
    )


def summarize(presets: list[str] | None = None, num_classes: int = 26) -> list[ModelCost]:
    """`ModelCost` of M-net and HP-net for each preset (all registered presets by default)."""
    rows = []
    for preset in presets or PRESETS.names():
        for name in ("mnet_bninception", "hpnet_bninception"):
            rows.append(model_cost(name, preset, num_classes))
    return rows


def format_table(rows: list[ModelCost]) -> str:
    """A plain-text table, with HP-net's ratio to M-net of the same preset."""
    mnet = {r.preset: r for r in rows if r.model == "mnet_bninception"}
    header = (f"{'preset':<7} {'model':<18} {'width':>5} {'input':>9} {'L':>2} {'params':>9} {'trunk':>8} "
              f"{'attn':>7} {'branches':>9} {'head':>8} {'MACs':>9} {'feat dim':>8} {'x M-net (params, MACs)':>22}")
    lines = [header, "-" * len(header)]
    for r in rows:
        base = mnet.get(r.preset)
        ratio = f"{r.params / base.params:.1f}x, {r.macs / base.macs:.1f}x" if base and r is not base else ""
        lines.append(
            f"{r.preset:<7} {r.model:<18} {r.width:>5g} {r.input_size[0]:>4}x{r.input_size[1]:<4} "
            f"{r.attention_channels or '':>2} {r.params / 1e6:>8.2f}M {r.params_trunk / 1e6:>7.2f}M "
            f"{r.params_attention / 1e3:>6.1f}k {r.params_branches / 1e6:>8.2f}M {r.params_head / 1e6:>7.2f}M "
            f"{r.macs / 1e9:>8.3f}G {r.feature_dim:>8} {ratio:>22}"
        )
    return "\n".join(lines)
