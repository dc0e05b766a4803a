"""``python -m benchmarks.ablate --task reid``: the six configurations of Fig. 6(a) on synthetic_reid tiny."""

from __future__ import annotations

import csv
import json

import pytest

from benchmarks.ablate import CONFIGS, FIG6_CONFIGS, AblationRunConfig, main, run_reid_ablation
from hpnet.config import MDA_ABLATIONS


def test_fig6_configs_are_the_papers_six_with_mnet_first_and_full_last():
    assert [c.name for c in FIG6_CONFIGS] == ["mnet", "naive", "no_middle", "prune_one", "prune_two", "full"]
    assert FIG6_CONFIGS[0].ablation is None and FIG6_CONFIGS[-1].color == "#f08a24"  # orange: the complete AF-net
    for c in FIG6_CONFIGS[1:]:
        MDA_ABLATIONS.get(c.ablation)
    with pytest.raises(KeyError, match="valid names: full, mnet, naive, no_middle, prune_one, prune_two"):
        CONFIGS.get("prune_three")


def test_ablation_command_on_tiny_writes_bars_and_one_row_per_configuration(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PA100K_HOME", str(tmp_path / "home"))
    out = tmp_path / "ablation"
    rc = main(["--task", "reid", "--data-preset", "tiny", "--preset", "tiny", "--out", str(out), "--no-progress",
               "--bootstrap", "50", "--set", "repeats=3"])
    assert rc == 0 and f"run folder: {out}" in capsys.readouterr().out
    for name in ("ablation.png", "ablation.csv", "metrics.json", "config.json", "cmc.png", "ranked_list.png", "log.txt"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    labels = [c.label for c in FIG6_CONFIGS]
    assert list(metrics["methods"]) == labels and metrics["task"] == "reid"
    with open(out / "ablation.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["config"] for r in rows] == [c.name for c in FIG6_CONFIGS]
    for r in rows:
        assert float(r["top1"]) == pytest.approx(metrics["methods"][r["label"]]["top1"])
        assert float(r["top1_low"]) <= float(r["top1"]) <= float(r["top1_high"])
    # Modules are shared: pruning reuses the complete AF-net's, the naive and no-middle sets train their own.
    stages = json.loads((out / "config.json").read_text())["train"]["stages"]
    assert sorted(stages) == sorted(["mnet", "mda1_to123", "mda2_to123", "mda3_to123", "mda1_to1", "mda2_to2",
                                     "mda3_to3", "mda1_to13", "mda3_to13"])
    # M-net has no attentive features; the complete HP-net adds nine paths.
    assert metrics["methods"]["M-net"]["feature_dim"] < metrics["methods"][labels[-1]]["feature_dim"]


def test_ablation_rejects_an_attention_config_override_and_unknown_configs(tmp_path):
    with pytest.raises(ValueError, match="chooses the attention configurations itself"):
        run_reid_ablation(AblationRunConfig(out=str(tmp_path / "a"), overrides={"attention_config": "naive"}))
    with pytest.raises(KeyError, match="unknown Fig. 6 configuration 'half'"):
        run_reid_ablation(AblationRunConfig(out=str(tmp_path / "b"), configs=["mnet", "half"]))
    assert main(["--configs", "nope", "--out", str(tmp_path / "c")]) == 2
