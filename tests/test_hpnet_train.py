"""Stage-wise HP-net training (tiny preset, a toy set written by the test): stages, frozen weights, resume, results."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pytest
import torch

from hpnet.afnet import HydraPlusNet
from hpnet.engine import TrainConfig, fit
from hpnet.losses import WeightedBCELoss
from hpnet.mnet import MNet
from hpnet.train import TRAIN_PRESETS, MDAStage, train_stagewise

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def toy_attribute_set(n: int = 40, num_attributes: int = 4, seed: int = 0, splits: bool = True):
    """Small PNG images whose attribute j paints horizontal band j bright: learnable, tiny, deterministic."""
    from PIL import Image

    from pa100k.attribute_set import AttributeSet
    from pa100k.schemas import AttributeSchema

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=(n, num_attributes)).astype(np.uint8)
    images = []
    for i in range(n):
        pixels = rng.integers(0, 60, size=(64, 32, 3)).astype(np.uint8)
        for j in np.flatnonzero(labels[i]):
            pixels[j * 64 // num_attributes:(j + 1) * 64 // num_attributes, :, j % 3] = 230
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, format="PNG")
        images.append(buf.getvalue())
    order = rng.permutation(n)
    split_ids = {"train": order[: n // 2], "val": order[n // 2: 3 * n // 4], "test": order[3 * n // 4:]} if splits else {}
    schema = AttributeSchema("toy", tuple(f"attr{j}" for j in range(num_attributes)))
    return AttributeSet(schema, [f"{i + 1:06d}.png" for i in range(n)], images, labels, split_ids, dataset="toy")


@pytest.fixture(scope="module")
def toy():
    return toy_attribute_set()


@pytest.fixture(scope="module")
def trained(toy, tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("stagewise")
    return train_stagewise(toy, preset="tiny", out_dir=out, seed=0, device="cpu", progress=False)


def test_stagewise_run_records_every_stage_and_writes_both_checkpoints(trained):
    assert list(trained.stages) == ["mnet", "mda1", "mda2", "mda3", "fusion"]
    for name, rec in trained.stages.items():
        trained_epochs = rec.history[1:] if name == "fusion" else rec.history
        assert rec.seconds > 0 and trained_epochs and rec.best_epoch >= (0 if name == "fusion" else 1), name
        assert {"epoch", "train_loss", "val_loss", "val_mA", "seconds"} <= set(trained_epochs[0])
    assert (trained.mnet_dir / "config.json").is_file() and (trained.mnet_dir / "model.safetensors").is_file()
    assert (trained.hpnet_dir / "config.json").is_file() and (trained.hpnet_dir / "model.safetensors").is_file()
    assert set(trained.stage_seconds) == set(trained.stages)
    reloaded = HydraPlusNet.from_pretrained(trained.hpnet_dir)
    assert reloaded.config.attributes == ("attr0", "attr1", "attr2", "attr3")


def test_fusion_starts_from_mnets_head_and_val_selection_includes_that_start(trained):
    rec = trained.stages["fusion"]
    assert rec.history[0]["epoch"] == 0
    assert rec.best_val_mA == max(r["val_mA"] for r in rec.history)
    assert rec.best_val_mA >= rec.history[0]["val_mA"]


def test_stage2_and_fusion_leave_the_mnet_trunk_bit_identical(trained):
    mnet_state = trained.mnet.backbone.state_dict()
    hp_state = trained.hpnet.backbone.state_dict()
    assert mnet_state.keys() == hp_state.keys()
    for key in mnet_state:
        assert torch.equal(mnet_state[key], hp_state[key]), key


def test_stage2_trains_only_its_module_and_leaves_everything_else_bit_identical(toy):
    torch.manual_seed(0)
    mnet = MNet(HydraPlusNet.config_class(num_classes=4, width=0.125, input_size=(64, 32), fc_dim=16).mnet_config())
    hp = HydraPlusNet.from_mnet(mnet, attention_channels=2)
    hp.backbone.requires_grad_(False)
    before = {k: v.clone() for k, v in hp.state_dict().items()}
    stage = MDAStage(hp, level=2)
    from hpnet.train import _Data

    data = _Data(toy, hp.config, cache=True, num_workers=0, progress=False)
    params = list(stage.mda.parameters()) + list(stage.head.parameters())
    fit(stage, data.dataset("train", train=True), data.dataset("val"), loss_fn=WeightedBCELoss([0.5] * 4),
        config=TrainConfig(epochs=1, batch_size=8, lr=0.05, max_steps_per_epoch=2), params=params, progress=False)
    after = hp.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed, "stage 2 changed nothing"
    assert all(k.startswith("afnet.mdas.mda2.") for k in changed), sorted(changed)[:5]
    assert any(k.startswith("afnet.mdas.mda2.attention.") for k in changed)
    assert any(k.startswith("afnet.mdas.mda2.tails.to_block1.") for k in changed)  # block 3 after attended block 1


@pytest.mark.parametrize("level", [1, 2, 3])
def test_mda_stage_head_from_mnet_predicts_what_mnet_predicts_while_attention_is_one(level):
    torch.manual_seed(0)
    config = HydraPlusNet.config_class(num_classes=4, width=0.125, input_size=(64, 32), fc_dim=16)
    mnet = MNet(config.mnet_config())
    x = torch.randn(6, 3, 64, 32)
    with torch.no_grad():  # non-trivial batch-norm statistics and head
        mnet.train()(x * 2 + 1)
        mnet.head.first_linear.weight.normal_()
    mnet.eval()
    # attention gain 0: α = ReLU(bias) = 1 exactly, so every attentive path equals M-net's pooled F³
    hp = HydraPlusNet.from_mnet(mnet, attention_channels=2, attention_init_gain=0.0)
    stage = MDAStage(hp, level, mnet=mnet).eval()
    fresh = MDAStage(hp, level).eval()
    with torch.no_grad():
        expected = mnet(x)
        torch.testing.assert_close(stage(x), expected, atol=1e-5, rtol=1e-5)
        assert not torch.allclose(fresh(x), expected, atol=1e-3)


def test_fusion_dropout_and_head_init_settings_are_checked():
    cpu = TRAIN_PRESETS.get("cpu")
    with pytest.raises(ValueError, match=r"fusion_dropout must be in \[0, 1\), found 1.0"):
        replace(cpu, fusion_dropout=1.0)
    with pytest.raises(ValueError, match="mda_head_init must be one of"):
        replace(cpu, mda_head_init="imagenet")


def test_stagewise_run_with_mnet_started_heads_and_fusion_dropout_trains_every_stage(toy, tmp_path):
    preset = replace(TRAIN_PRESETS.get("tiny"), mda_head_init="mnet", fusion_dropout=0.5)
    result = train_stagewise(toy, preset=preset, out_dir=tmp_path, seed=0, device="cpu", progress=False)
    assert list(result.stages) == ["mnet", "mda1", "mda2", "mda3", "fusion"]
    assert not any(k.startswith("dropout") for k in result.hpnet.head.state_dict())
    probs = result.predict("hpnet", "test")
    assert probs.shape == (len(toy.splits["test"]), 4) and np.isfinite(probs).all()


def test_resume_skips_completed_stages_and_gives_the_same_model(toy, trained):
    again = train_stagewise(toy, preset="tiny", out_dir=trained.out_dir, seed=0, device="cpu", resume=True, progress=False)
    assert {k: v.seconds for k, v in again.stages.items()} == trained.stage_seconds
    np.testing.assert_array_equal(again.predict("hpnet", "test"), trained.predict("hpnet", "test"))


def test_resume_refuses_a_run_with_other_settings(toy, trained):
    with pytest.raises(ValueError, match=r"seed: stored 0, now 1"):
        train_stagewise(toy, preset="tiny", out_dir=trained.out_dir, seed=1, device="cpu", resume=True, progress=False)


def test_test_probabilities_cover_the_test_split_for_both_models(toy, trained):
    probs = trained.test_probabilities()
    assert set(probs) == {"mnet", "hpnet"}
    for p in probs.values():
        assert p.shape == (len(toy.splits["test"]), 4) and p.dtype == np.float32
        assert ((p >= 0) & (p <= 1)).all()
    summary = trained.to_dict()
    assert summary["hpnet_dir"] and set(summary["stages"]) == set(trained.stages)


def test_mnet_only_and_end_to_end_runs(toy, tmp_path):
    only = train_stagewise(toy, preset="tiny", out_dir=tmp_path / "m", device="cpu", mnet_only=True, progress=False)
    assert list(only.stages) == ["mnet"] and only.hpnet is None and only.hpnet_dir is None
    assert set(only.test_probabilities()) == {"mnet"}
    with pytest.raises(ValueError, match="hpnet"):
        only.predict("hpnet")
    e2e = train_stagewise(toy, preset="tiny", out_dir=tmp_path / "e", device="cpu", end_to_end=True, progress=False)
    assert list(e2e.stages) == ["mnet", "end_to_end"]
    changed = [k for k, v in e2e.mnet.backbone.state_dict().items() if not torch.equal(v, e2e.hpnet.backbone.state_dict()[k])]
    assert changed  # end to end, the trunk learns too


def test_training_needs_train_and_val_splits(tmp_path):
    toy = toy_attribute_set(12, splits=False)
    with pytest.raises(ValueError, match=r"'train' and 'val'"):
        train_stagewise(toy, preset="tiny", out_dir=tmp_path, progress=False)


def test_unknown_preset_and_stage_override_are_clear_errors(toy, tmp_path):
    with pytest.raises(KeyError, match="cpu, half, paper, tiny"):
        train_stagewise(toy, preset="fast", out_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="unknown stages"):
        train_stagewise(toy, preset="tiny", out_dir=tmp_path, stage_overrides={"stage9": {}}, progress=False)
    assert TRAIN_PRESETS.get("cpu").cache_images and TRAIN_PRESETS.get("cpu").model_preset == "cpu"


def test_cached_images_give_exactly_what_the_standard_transform_gives(toy):
    from hpnet.data import CachedImageDataset, ImageCache, image_dataset

    cache = ImageCache(toy, "val", (64, 32))
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    cached = CachedImageDataset(cache, train=False, mean=mean, std=std)
    plain = image_dataset(toy, "val", (64, 32), train=False, mean=mean, std=std)
    assert len(cached) == len(plain) == len(toy.splits["val"])
    for k in range(len(plain)):
        image, labels, mask = cached[k]
        ref = plain[k]
        torch.testing.assert_close(image, ref[0], atol=1e-6, rtol=0)
        assert torch.equal(labels, ref[1]) and torch.equal(mask, ref[2])
    augmented = CachedImageDataset(cache, train=True, mean=mean, std=std, pad=4)
    torch.manual_seed(0)
    views = torch.stack([augmented[0][0] for _ in range(8)])
    assert views.shape == (8, 3, 64, 32)
    assert any(not torch.equal(views[0], v) for v in views[1:])  # random crops and flips differ
