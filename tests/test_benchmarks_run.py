"""`python -m benchmarks.run` end to end on the tiny synthetic preset, and its error handling."""

import json

import numpy as np
import pandas as pd
import pytest

from benchmarks.methods import METHODS
from benchmarks.report import build_report
from benchmarks.run import main as run_main

TINY = ["--dataset", "synthetic", "--data-preset", "tiny", "--preset", "tiny", "--bootstrap", "50", "--no-progress"]


@pytest.fixture(scope="module")
def synthetic_home(tmp_path_factory):
    """A data home of this module's own, with the tiny synthetic set rendered once."""
    import os

    import pa100k

    home = tmp_path_factory.mktemp("pa100k-home")
    old = os.environ.get("PA100K_HOME")
    os.environ["PA100K_HOME"] = str(home)
    pa100k.load("synthetic", preset="tiny")
    yield home
    if old is None:
        os.environ.pop("PA100K_HOME", None)
    else:
        os.environ["PA100K_HOME"] = old


@pytest.fixture(scope="module")
def all_run(tmp_path_factory, synthetic_home):
    out = tmp_path_factory.mktemp("runs") / "all"
    assert run_main(["--method", "all", "--out", str(out), *TINY]) == 0
    return out


def test_method_all_runs_every_method_that_needs_no_weights(all_run):
    metrics = json.loads((all_run / "metrics.json").read_text())
    rows = {v["method"] for v in metrics["methods"].values()}
    companions = {n for n in METHODS.names() if METHODS.get(n).companion_of}
    expected = {n for n in METHODS.names() if not METHODS.get(n).needs_weights} - companions
    assert rows == expected
    assert set(metrics["skipped"]) == {n for n in METHODS.names() if METHODS.get(n).needs_weights} | companions
    assert "M-net" in metrics["methods"] and "HP-net" in metrics["methods"]


def test_mnet_is_not_trained_twice_when_hpnet_runs_its_row_is_hpnets_stage_one(all_run):
    metrics = json.loads((all_run / "metrics.json").read_text())
    assert "mnet" in metrics["skipped"] and "HP-net" in metrics["skipped"]["mnet"]
    assert not (all_run / "methods" / "mnet").exists()
    mnet_row, hp_row = metrics["methods"]["M-net"], metrics["methods"]["HP-net"]
    assert mnet_row["method"] == "hpnet"
    assert mnet_row["seconds"] == pytest.approx(hp_row["timings"]["stage_mnet_seconds"])


def test_run_folder_holds_every_file(all_run):
    for name in ("config.json", "metrics.json", "per_attribute.csv", "predictions.csv", "log.txt",
                 "per_attribute_mA.png", "training_curves.png"):
        assert (all_run / name).is_file(), name
    config = json.loads((all_run / "config.json").read_text())
    assert config["environment"]["torch"] and "git_commit" in config["environment"]
    assert config["run"]["preset"] == "tiny"
    assert (all_run / "methods" / "hpnet" / "hpnet" / "model.safetensors").is_file()


def test_predictions_csv_scores_to_the_reported_mA(all_run, synthetic_home):
    import pa100k
    from pa100k.metrics import attribute_metrics

    data = pa100k.load("synthetic", preset="tiny")
    test = data.split_indices("test")
    metrics = json.loads((all_run / "metrics.json").read_text())
    primary = json.loads((all_run / "config.json").read_text())["run"]["methods"][0]
    row = METHODS.get(primary).paper_name
    pred = pd.read_csv(all_run / "predictions.csv")
    assert list(pred.columns) == ["image", *data.schema.attributes]
    assert pred["image"].tolist() == data.names[test].tolist()
    got = attribute_metrics(data.labels[test], pred[list(data.schema.attributes)].to_numpy(), score_type="prob")
    assert got.mA == pytest.approx(metrics["methods"][row]["mA"], abs=1e-5)


def test_metrics_json_has_intervals_and_other_conventions(all_run):
    res = json.loads((all_run / "metrics.json").read_text())["methods"]["HP-net"]
    for key in ("mA", "accuracy", "precision", "recall", "f1"):
        lo, hi = res["ci95"][key]
        assert lo <= res[key] <= hi
    assert set(res["conventions"]) == {"rethinking", "deepmar", "openpar"}
    per_attr = pd.read_csv(all_run / "per_attribute.csv")
    assert len(per_attr) == 26 and "HP-net mA" in per_attr.columns and "M-net mA" in per_attr.columns


def test_report_puts_paper_rows_beside_ours_with_the_synthetic_label(all_run, tmp_path):
    text = build_report([all_run], tmp_path / "report.md")
    assert "| paper (PA-100K) | HP-net | 74.21" in text
    assert "| ours (synthetic) | HP-net |" in text
    assert "NOT comparable" in text
    assert "needs ImageNet weights" in text
    assert (tmp_path / "report.md").is_file()
    assert (tmp_path / "report-synthetic-per_attribute.png").is_file()


def test_resume_reuses_finished_methods(all_run):
    before = (all_run / "methods" / "elf_mm" / "scores.npz").stat().st_mtime_ns
    assert run_main(["--method", "all", "--out", str(all_run), "--resume", *TINY]) == 0
    assert (all_run / "methods" / "elf_mm" / "scores.npz").stat().st_mtime_ns == before


def test_resume_with_another_config_is_refused(all_run, capsys):
    assert run_main(["--method", "all", "--out", str(all_run), "--resume", *TINY, "--seed", "3"]) == 2
    assert "seed" in capsys.readouterr().err


def test_unknown_method_lists_the_valid_ones(capsys):
    assert run_main(["--method", "hpnett", *TINY]) == 2
    err = capsys.readouterr().err
    assert "hpnett" in err and "hpnet" in err and "deepmar" in err


def test_unknown_dataset_lists_the_valid_ones(capsys):
    assert run_main(["--method", "mnet", "--dataset", "pa200k"]) == 2
    err = capsys.readouterr().err
    assert "pa200k" in err and "pa100k" in err and "synthetic" in err


def test_fc_mm_without_weights_says_so(capsys, tmp_path):
    assert run_main(["--method", "fc7_mm", "--out", str(tmp_path / "r"), *TINY]) == 2
    assert "--weights" in capsys.readouterr().err


def test_empty_data_root_is_a_clear_error(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_main(["--method", "mnet", "--dataset", "pa100k", "--data-root", str(empty), "--out",
                     str(tmp_path / "r"), "--preset", "tiny"]) == 2
    err = capsys.readouterr().err
    assert "annotation.mat" in err


def test_out_folder_that_is_not_empty_needs_resume(tmp_path, capsys):
    out = tmp_path / "r"
    out.mkdir()
    (out / "x").write_text("keep me")
    assert run_main(["--method", "mnet", "--out", str(out), *TINY]) == 2
    assert "--resume" in capsys.readouterr().err
    assert (out / "x").read_text() == "keep me"


def test_scores_outside_unit_interval_are_rejected(tmp_path, synthetic_home, monkeypatch):
    import benchmarks.methods.elf_mm as elf
    from benchmarks.methods.base import MethodOutput
    from benchmarks.runner import RunConfig, run_benchmark

    def bad_run(self, data, ctx):
        n = len(data.split_indices("test"))
        return MethodOutput(test_scores=np.full((n, 26), 1.5))

    monkeypatch.setattr(elf.ELFmm if hasattr(elf, "ELFmm") else METHODS.get("elf_mm"), "run", bad_run)
    with pytest.raises(RuntimeError, match="outside"):
        run_benchmark(RunConfig(methods="elf_mm", data_preset="tiny", preset="tiny", out=str(tmp_path / "r"),
                                n_bootstrap=10, progress=False))


def test_predictions_csv_keeps_scores_exactly_so_near_threshold_decisions_survive(tmp_path):
    from benchmarks.rundir import write_predictions
    from pa100k.attribute_set import AttributeSet
    from pa100k.schemas import AttributeSchema

    schema = AttributeSchema("toy", ("a", "b"))
    data = AttributeSet(schema, ["1.jpg", "2.jpg", "3.jpg"], [b""] * 3, np.zeros((3, 2), np.uint8),
                        {"test": np.array([0, 2])}, dataset="toy")
    scores = np.array([[0.49999997, 0.5], [1e-9, 0.7310586]], dtype=np.float32)  # 0.49999997 rounds to 0.500000
    write_predictions(tmp_path / "p.csv", data, "test", scores)
    back = pd.read_csv(tmp_path / "p.csv")
    assert back["image"].tolist() == ["1.jpg", "3.jpg"]
    assert np.array_equal(back[["a", "b"]].to_numpy(), scores.astype(np.float64))
    assert (back[["a", "b"]].to_numpy() >= 0.5).tolist() == [[False, True], [False, True]]
