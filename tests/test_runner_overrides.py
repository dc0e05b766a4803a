"""Strict ``--set``: the runner refuses, before anything runs, a key that no selected method accepts."""

from __future__ import annotations

import pytest

from benchmarks.methods import METHODS, RunContext
from benchmarks.methods.base import Method, check_overrides
from benchmarks.run import main as run_main

TINY = ["--dataset", "synthetic", "--data-preset", "tiny", "--preset", "tiny", "--bootstrap", "10", "--no-progress"]


@pytest.fixture
def no_training(monkeypatch):
    """Every registered method's ``run`` fails the test if it is reached."""

    def refuse(self, data, ctx):
        raise AssertionError(f"{self.name} ran although the command should have been refused")

    for name in METHODS.names():
        monkeypatch.setattr(METHODS.get(name), "run", refuse)


def _methods(*names: str) -> list[Method]:
    return [METHODS.get(n)() for n in names]


def test_unknown_key_is_refused_before_anything_runs_listing_the_valid_keys(tmp_path, pa100k_home, no_training,
                                                                             capsys):
    out = tmp_path / "r"
    assert run_main(["--method", "deepmar", "--out", str(out), "--set", "lrr=0.1", *TINY]) == 2
    err = capsys.readouterr().err
    assert "lrr" in err and "deepmar:" in err and "backbone" in err and "lr" in err
    assert not out.exists()  # no run folder, no data rendered
    assert not any(pa100k_home.iterdir())


def test_baseline_that_used_to_ignore_unknown_keys_now_refuses_them(pa100k_home, no_training, capsys, tmp_path):
    assert run_main(["--method", "elf_mm", "--out", str(tmp_path / "r"), "--set", "epochs=3", *TINY]) == 2
    err = capsys.readouterr().err
    assert "epochs" in err and "elf_mm: " in err and "C_grid" in err


def test_key_of_one_selected_method_is_accepted_when_several_run():
    check_overrides(_methods("mnet", "deepmar"), {"backbone": "resnet34", "mnet_epochs": 2})
    with pytest.raises(ValueError, match="backbone"):
        check_overrides(_methods("mnet"), {"backbone": "resnet34"})
    with pytest.raises(ValueError, match="mnet_epochs"):
        check_overrides(_methods("deepmar"), {"mnet_epochs": 2})


def test_error_lists_every_unknown_key_and_every_method():
    with pytest.raises(ValueError) as info:
        check_overrides(_methods("acn", "elf_mm"), {"width": 0.5, "foo": 1, "bar": 2})
    msg = str(info.value)
    assert "foo, bar" in msg and "width" not in msg.split(";")[0]
    assert "acn: " in msg and "elf_mm: " in msg and "pool_grid" in msg and "stripes" in msg


def test_stagewise_methods_accept_model_fields_but_not_unknown_ones():
    check_overrides(_methods("hpnet"), {"model.attention_channels": 4, "attention_config": "naive", "mda_epochs": 1})
    for key in ("model.nonexistent", "model.num_classes", "epochs"):
        with pytest.raises(ValueError, match=key.replace(".", r"\.")):
            check_overrides(_methods("hpnet"), {key: 1})


def test_fc_mm_does_not_accept_its_own_layer():
    keys = METHODS.get("fc7_mm")().override_keys()
    assert "layer" not in keys and "C_grid" in keys


def test_attention_config_with_only_baselines_is_refused(tmp_path, pa100k_home, no_training, capsys):
    assert run_main(["--method", "deepmar", "--out", str(tmp_path / "r"), "--attention-config", "naive", *TINY]) == 2
    assert "attention_config" in capsys.readouterr().err


def test_bad_value_for_a_later_method_fails_before_the_first_one_trains(tmp_path, pa100k_home, no_training, capsys):
    out = tmp_path / "r"
    assert run_main(["--method", "deepmar,mnet", "--out", str(out), "--set", "attention_config=nope", *TINY]) == 2
    assert "nope" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("setting, bad", [("fusion_init=bogus", "bogus"), ("fusion_dropout=1.5", "1.5"),
                                          ("mda_head_init=imagenet", "imagenet"),
                                          ("augment_pad=-1", "-1"), ("fusion_dropout=half", "half")])
def test_bad_training_preset_setting_fails_before_anything_runs(tmp_path, pa100k_home, no_training, capsys,
                                                                setting, bad):
    out = tmp_path / "r"
    assert run_main(["--method", "hpnet", "--out", str(out), "--set", setting, *TINY]) == 2
    err = capsys.readouterr().err
    assert setting.split("=")[0] in err and bad in err
    assert not out.exists()


def test_training_preset_settings_reach_the_stagewise_run_and_its_config(tmp_path):
    from benchmarks.methods.hpnet import HPNetMethod, MNetMethod, _train_kwargs

    ctx = RunContext(work_dir=tmp_path, preset="tiny", seed=0, device="cpu", progress=False,
                     overrides={"fusion_dropout": 0.25, "mda_head_init": "random", "augment_pad": 2})
    assert _train_kwargs(ctx)["preset_overrides"] == {"fusion_dropout": 0.25, "mda_head_init": "random",
                                                       "augment_pad": 2}
    config = HPNetMethod().config(ctx)
    assert (config["fusion_dropout"], config["mda_head_init"], config["augment_pad"]) == (0.25, "random", 2)
    assert MNetMethod().config(ctx)["augment_pad"] == 2 and "fusion_dropout" not in MNetMethod().config(ctx)


def test_stagewise_training_arguments_leave_other_methods_keys_alone(tmp_path):
    from benchmarks.methods.hpnet import _train_kwargs

    ctx = RunContext(work_dir=tmp_path, preset="tiny",
                     overrides={"backbone": "resnet34", "mnet_epochs": 2, "model.attention_channels": 3})
    assert _train_kwargs(ctx) == {"mnet_epochs": 2, "model_overrides": {"attention_channels": 3}}


def test_method_without_declared_keys_accepts_none(tmp_path):
    class Bare(Method):
        name = "bare"
        paper_name = "Bare"

        def run(self, data, ctx):
            raise NotImplementedError

    assert Bare().override_keys() == ()
    check_overrides([Bare()], {})
    with pytest.raises(ValueError, match=r"bare: \(none\)"):
        check_overrides([Bare()], {"x": 1})
