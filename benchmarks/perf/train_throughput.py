"""Training throughput (images/s) of each HP-net stage on random inputs, to size presets (cf. shared MEASURED.md).

    python benchmarks/perf/train_throughput.py                    # cpu preset, batch 32
    python benchmarks/perf/train_throughput.py --preset tiny --batch 8 --steps 2 --channels-last

Measures: M-net training step (stage 1); each MDA module's training step with the trunk frozen (stage 2);
the HP-net forward used to cache features (stage 3); the end-to-end HP-net training step. Loss: weighted
BCE over the model's attributes; SGD with momentum.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch import nn

from hpnet import WeightedBCELoss, create_model
from hpnet.afnet import HydraPlusNet
from hpnet.train import MDAStage


def _rate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, params, steps: int, train: bool = True) -> float:
    loss_fn = WeightedBCELoss(torch.full((y.shape[1],), 0.3))
    opt = torch.optim.SGD(params, lr=1e-3, momentum=0.9) if train else None

    def once() -> None:
        if opt is None:
            with torch.no_grad():
                model(x)
            return
        loss = loss_fn(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    once()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        once()
    return steps * len(x) / (time.perf_counter() - t0)


def measure(preset: str = "cpu", batch: int = 32, steps: int = 3, channels_last: bool = False,
            end_to_end: bool = True, seed: int = 0) -> dict:
    """Images/s of every stage at ``preset``."""
    torch.manual_seed(seed)
    mnet = create_model("mnet_bninception", preset=preset)
    size = mnet.config.input_size
    x = torch.randn(batch, 3, *size)
    y = (torch.rand(batch, mnet.config.num_classes) > 0.7).float()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = x.contiguous(memory_format=fmt)
    out: dict = {"preset": preset, "batch": batch, "input_size": list(size), "channels_last": channels_last,
                 "threads": torch.get_num_threads()}
    mnet.train().to(memory_format=fmt)
    out["mnet_train"] = _rate(mnet, x, y, mnet.parameters(), steps)
    hp = HydraPlusNet.from_mnet(mnet, attention_channels=create_model("hpnet_bninception", preset=preset).config.attention_channels)
    hp.to(memory_format=fmt)
    hp.backbone.requires_grad_(False)
    total = 0.0
    for level in hp.config.attention_levels:
        stage = MDAStage(hp, level).to(memory_format=fmt).train()
        stage.backbone.eval()
        rate = _rate(stage, x, y, [p for p in stage.parameters() if p.requires_grad], steps)
        out[f"mda{level}_train"] = rate
        total += 1.0 / rate
    out["stage2_all_modules"] = 1.0 / total
    hp.eval()
    out["hpnet_forward"] = _rate(hp, x, y, None, steps, train=False)
    if end_to_end:
        hp.requires_grad_(True)
        hp.train()
        out["hpnet_train_end_to_end"] = _rate(hp, x, y, hp.parameters(), steps)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--no-end-to-end", action="store_true")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    res = measure(args.preset, args.batch, args.steps, args.channels_last, not args.no_end_to_end)
    for key, value in res.items():
        print(f"{key:<24} {value:.1f} img/s" if isinstance(value, float) else f"{key:<24} {value}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
