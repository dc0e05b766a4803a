"""Speed of the MDA module's two execution paths: the loop over the L attention channels vs L folded into the batch.

    python benchmarks/perf/mda.py                         # cpu preset, batch 32, forward and training step
    python benchmarks/perf/mda.py --preset tiny --batch 8 --repeats 3 --json out.json
    python benchmarks/perf/mda.py --attention-channels 8   # the paper's L

Times one AF-net forward (all MDA modules, trunk outputs precomputed) and one training step (forward,
backward, SGD step on the MDA parameters) per path, after a warm-up, and checks both paths agree
(eval mode). Prints seconds per batch and the speed-up of the folded path.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from hpnet import create_model


def _time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(preset: str = "cpu", batch: int = 32, repeats: int = 5, threads: int | None = None, seed: int = 0,
            attention_channels: int | None = None) -> dict:
    """Median seconds per batch of each path (forward, training step), their speed-ups and the max difference."""
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    overrides = {"attention_channels": attention_channels} if attention_channels else {}
    model = create_model("hpnet_bninception", preset=preset, **overrides)
    x = torch.randn(batch, 3, *model.config.input_size)
    model.eval()
    with torch.no_grad():
        blocks = model.forward_blocks(x)
        diff = float((model.afnet(blocks, "loop") - model.afnet(blocks, "folded")).abs().max())
    out: dict = {"preset": preset, "batch": batch, "attention_channels": model.config.attention_channels,
                 "threads": torch.get_num_threads(), "max_abs_diff": diff}
    params = [p for p in model.afnet.parameters()]
    opt = torch.optim.SGD(params, lr=1e-3)

    for execution in ("loop", "folded"):
        def forward(execution: str = execution) -> None:
            with torch.no_grad():
                model.afnet(blocks, execution)

        def step(execution: str = execution) -> None:
            opt.zero_grad(set_to_none=True)
            model.afnet(blocks, execution).float().pow(2).mean().backward()
            opt.step()

        model.eval()
        out[f"{execution}_forward_s"] = _time(forward, repeats)
        model.afnet.train()
        out[f"{execution}_step_s"] = _time(step, repeats)
    out["speedup_forward"] = out["loop_forward_s"] / out["folded_forward_s"]
    out["speedup_step"] = out["loop_step_s"] / out["folded_step_s"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--attention-channels", type=int, default=None, help="L (default: the preset's)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    res = measure(args.preset, args.batch, args.repeats, args.threads, attention_channels=args.attention_channels)
    print(f"preset {res['preset']}, batch {res['batch']}, L = {res['attention_channels']}, {res['threads']} threads; "
          f"paths agree to {res['max_abs_diff']:.1e}")
    for kind in ("forward", "step"):
        print(f"{kind:<8} loop {res[f'loop_{kind}_s']:.3f} s  folded {res[f'folded_{kind}_s']:.3f} s  "
              f"speed-up {res[f'speedup_{kind}']:.2f}x")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
