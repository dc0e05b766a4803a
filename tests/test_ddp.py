"""DistributedDataParallel training: two CPU processes (gloo) through torchrun and through `hpnet.engine.fit`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from hpnet import distributed
from hpnet.checkpoint import load_safetensors
from hpnet.engine import TrainConfig, fit, mean_accuracy, predict_scores
from hpnet.losses import WeightedBCELoss

REPO = Path(__file__).resolve().parent.parent


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])))
    env.update(extra)
    return env


# ------------------------------------------------------------------------------------- torchrun, end to end
def _torchrun_run_folder(tmp_path: Path, port: int, *args: str) -> tuple[Path, dict]:
    """``torchrun --nproc_per_node 2 -m benchmarks.run ARGS`` (tiny, CPU, gloo, an empty data home): checks that it
    exits 0, that rank 0 alone wrote one run folder with world size 2 and that no private folder is left;
    returns the folder and its config.json."""
    home = tmp_path / "home"  # empty: rank 0 renders the tiny synthetic set while rank 1 waits, then reads it
    runs = tmp_path / "runs"
    out = runs / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(port),
           "-m", "benchmarks.run", *args, "--preset", "tiny", "--data-preset", "tiny", "--out", str(out),
           "--no-progress", "--bootstrap", "20", "--device", "cpu"]
    proc = subprocess.run(cmd, check=False, cwd=tmp_path, env=_env(PA100K_HOME=str(home), TMPDIR=str(tmp_path)),
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert [p.name for p in runs.iterdir()] == ["ddp"]  # one run folder, written by rank 0 only
    assert proc.stdout.count("run folder:") == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("pa100k-run-rank")]  # private folders gone
    config = json.loads((out / "config.json").read_text())
    assert config["distributed"]["world_size"] == 2 and config["distributed"]["backend"] == "gloo"
    return out, config


def test_torchrun_two_cpu_processes_write_one_run_folder(tmp_path, free_port):
    out, _ = _torchrun_run_folder(tmp_path, free_port, "--method", "mnet,deepmar")
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["methods"]) == {"M-net", "DeepMar"}
    assert (out / "predictions.csv").is_file()
    for name in ("mnet", "deepmar"):
        assert (out / "methods" / name / "scores.npz").is_file()
    # checkpoints are in the single-process format (no "module." prefix from the DDP wrapper)
    best = load_safetensors(out / "methods" / "deepmar" / "checkpoints" / "best" / "model.safetensors")
    assert best and not any(k.startswith("module.") for k in best)


# --------------------------------------------------------------------------------- fit under a gloo group
def _toy(n: int, seed: int) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 12, generator=g)
    y = (x[:, :3] > 0).float()
    return TensorDataset(x, y, torch.ones_like(y, dtype=torch.bool))


class _Partly(nn.Module):
    """A frozen stem, a trainable part left out of ``params``, a trained body, and a head that forward never uses."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Linear(12, 12)
        self.side = nn.Linear(12, 12)
        self.body = nn.Sequential(nn.Linear(12, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
        self.unused = nn.Linear(3, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            x = self.stem(x)
        return self.body(x + 0 * self.side(x))


class _Interrupted(Exception):
    pass


def _toy_model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(12, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))


def _fit_worker(rank: int, port: int, folder: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2",
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    assert distributed.init_from_env("cpu") and distributed.world_size() == 2 and distributed.rank() == rank
    folder_path = Path(folder)
    train, val = _toy(90, 0), _toy(31, 1)  # 31 val items: uneven slices of 15 and 16
    loss = WeightedBCELoss(train.tensors[1].mean(0).numpy())
    config = TrainConfig(epochs=3, batch_size=8, lr=0.05, seed=3)

    model = _toy_model(rank)  # different initialisations: DDP must start every rank from rank 0's weights
    result = fit(model, train, val, loss_fn=loss, config=config, checkpoint_dir=folder_path / "plain", progress=False)
    logits = predict_scores(model, val, score="logit")
    full_mA = mean_accuracy(val.tensors[1].numpy(), logits)

    # the same run stopped on every rank during epoch 2, then resumed from rank 0's epoch-1 checkpoint
    from hpnet import engine

    calls = []

    def stop_in_epoch_two(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise _Interrupted
        return mean_accuracy(*args, **kwargs)

    engine.mean_accuracy = stop_in_epoch_two
    try:
        fit(_toy_model(rank), train, val, loss_fn=loss, config=config, checkpoint_dir=folder_path / "resumed",
            progress=False)
    except _Interrupted:
        pass
    engine.mean_accuracy = mean_accuracy
    resumed_model = _toy_model(rank + 10)
    resumed = fit(resumed_model, train, val, loss_fn=loss, config=config, checkpoint_dir=folder_path / "resumed",
                  resume=True, progress=False)

    torch.manual_seed(0)
    partly = _Partly()
    partly.stem.requires_grad_(False)
    before = {k: v.clone() for k, v in partly.state_dict().items()}
    params = list(partly.body.parameters()) + list(partly.unused.parameters())
    partly_result = fit(partly, train, val, loss_fn=loss, config=config, params=params, progress=False)
    torch.save({"state": model.state_dict(), "history": result.history, "best_epoch": result.best_epoch,
                "full_mA": full_mA, "world": result.extra["world_size"], "partly": partly.state_dict(),
                "partly_before": before, "partly_history": partly_result.history,
                "side_requires_grad": partly.side.weight.requires_grad, "resumed_state": resumed_model.state_dict(),
                "resumed_history": resumed.history, "interrupted_calls": len(calls)},
               folder_path / f"rank{rank}.pt")
    distributed.cleanup()


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, run_two_ranks):
    folder = tmp_path_factory.mktemp("ddp-fit")
    return folder, run_two_ranks(_fit_worker, folder)


def test_ddp_fit_leaves_identical_weights_on_both_ranks_equal_to_rank0_checkpoint(fitted):
    folder, (r0, r1) = fitted
    assert r0["world"] == r1["world"] == 2
    assert r0["state"].keys() == r1["state"].keys()
    for key in r0["state"]:  # weights and batch-norm statistics
        assert torch.equal(r0["state"][key], r1["state"][key]), key
    saved = load_safetensors(folder / "plain" / "best" / "model.safetensors")
    assert saved.keys() == r0["state"].keys()  # unwrapped: no "module." prefix
    for key, value in saved.items():
        assert torch.equal(value, r0["state"][key]), key
    assert (folder / "plain" / "last" / "training_state.json").is_file()


def test_ddp_validation_covers_the_whole_val_set_once_and_agrees_across_ranks(fitted):
    _, (r0, r1) = fitted
    assert [h["val_mA"] for h in r0["history"]] == [h["val_mA"] for h in r1["history"]]
    assert [h["train_loss"] for h in r0["history"]] == [h["train_loss"] for h in r1["history"]]
    assert r0["best_epoch"] == r1["best_epoch"]
    # the selected epoch's gathered val mA is the mA of the returned model on all 31 val items
    assert r0["history"][r0["best_epoch"] - 1]["val_mA"] == pytest.approx(r0["full_mA"], abs=1e-12)


def test_ddp_fit_with_frozen_left_out_and_unused_parameters(fitted):
    _, (r0, r1) = fitted
    for key in r0["partly"]:
        assert torch.equal(r0["partly"][key], r1["partly"][key]), key
    before, after = r0["partly_before"], r0["partly"]
    for key in ("stem.weight", "side.weight", "side.bias", "unused.weight", "unused.bias"):
        assert torch.equal(before[key], after[key]), key
    assert not torch.equal(before["body.0.weight"], after["body.0.weight"])
    assert r0["side_requires_grad"] and r1["side_requires_grad"]  # restored after training
    assert len(r0["partly_history"]) == 3


def test_single_process_helpers_answer_without_a_group():
    assert not distributed.is_initialized()
    assert distributed.rank() == 0 and distributed.world_size() == 1 and distributed.is_main()
    distributed.barrier()
    assert distributed.all_reduce_sum([1.5, 2.0]) == [1.5, 2.0]
    assert distributed.broadcast_object({"a": 1}) == {"a": 1}
    assert distributed.from_main(lambda: 7) == 7
    with pytest.raises(FileExistsError, match="x"):
        distributed.from_main(lambda: (_ for _ in ()).throw(FileExistsError("x")))


def test_init_from_env_without_torchrun_variables_stays_single_process(monkeypatch):
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(key, raising=False)
    assert distributed.init_from_env("cpu") is False
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert distributed.init_from_env("cpu") is False  # torchrun with one process: plain single-process run
    assert not distributed.is_initialized()


def test_ddp_fit_resumed_after_an_interruption_equals_the_uninterrupted_run(fitted):
    _, ranks = fitted
    for r in ranks:
        assert r["interrupted_calls"] == 2
        assert [h["val_mA"] for h in r["resumed_history"]] == [h["val_mA"] for h in r["history"]]
        for key, value in r["state"].items():
            assert torch.equal(r["resumed_state"][key], value), key


def test_rank_seeds_differ_across_ranks_and_epochs_and_repeat():
    from hpnet.engine import _rank_seed

    seeds = {_rank_seed(3, epoch, rank) for epoch in range(3) for rank in range(4)}
    assert len(seeds) == 12 and all(0 <= s < 2**63 for s in seeds)
    assert _rank_seed(3, 1, 1) == _rank_seed(3, 1, 1) != _rank_seed(4, 1, 1)


def test_torchrun_two_cpu_processes_train_reid_and_write_one_run_folder(tmp_path, free_port):
    out, config = _torchrun_run_folder(tmp_path, free_port, "--task", "reid", "--method", "mnet", "--set", "repeats=2")
    assert config["task"] == "reid" and "finished" in config
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["task"] == "reid" and list(metrics["methods"]) == ["M-net"]
    assert 0.0 <= metrics["methods"]["M-net"]["top1"] <= 1.0
    assert (out / "features.npz").is_file() and (out / "train" / "mnet" / "config.json").is_file()
    assert list(json.loads((out / "train" / "train_state.json").read_text())["stages"]) == ["mnet"]
    best = load_safetensors(out / "train" / "checkpoints" / "mnet" / "best" / "model.safetensors")
    assert best and not any(k.startswith("module.") for k in best)


def test_reid_resume_with_another_number_of_processes_is_refused(tmp_path):
    from benchmarks.reid_runner import ReIDRunConfig, run_reid_benchmark

    cfg = ReIDRunConfig(methods="mnet", data_preset="tiny", preset="tiny", out=str(tmp_path), resume=True)
    stored = {"run": {**asdict(cfg), "methods": ["mnet"]}, "distributed": {"world_size": 2}}
    (tmp_path / "config.json").write_text(json.dumps(stored))
    with pytest.raises(ValueError, match="world_size \\(torchrun processes\\): folder has 2, this command has 1"):
        run_reid_benchmark(cfg)
