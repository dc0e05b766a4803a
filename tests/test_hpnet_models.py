"""BN-Inception, M-net, MDA, AF-net and HP-net: shapes for every preset, wiring, both MDA paths, configs, ONNX, costs."""

from __future__ import annotations

import pytest
import torch

import hpnet
from hpnet.backbone import BNInception, block_channels, block_sizes
from hpnet.config import ALL_PATHS, MDA_ABLATIONS, PRESETS, HPNetConfig
from hpnet.mnet import global_average_pool

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _randomize_bn(model: torch.nn.Module, seed: int = 0) -> None:
    """Give every batch norm non-trivial statistics and affine parameters (eval mode then differs from identity)."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.1)


def _calibrate_bn(model: torch.nn.Module, size: tuple[int, int], seed: int = 0) -> None:
    """Set every batch norm's running statistics from a random batch, as training would (activations stay O(1))."""
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average
    model.train()
    with torch.no_grad():
        model(torch.randn(8, 3, *size, generator=torch.Generator().manual_seed(seed)))
    model.eval()


def _tiny_hpnet(**overrides) -> hpnet.HydraPlusNet:
    torch.manual_seed(0)
    model = hpnet.create_model("hpnet_bninception", num_classes=5, preset="tiny", **overrides)
    _randomize_bn(model)
    return model.eval()


# ------------------------------------------------------------------------------------------------ shapes
@pytest.mark.parametrize("name", hpnet.list_models(presets=True))
def test_every_preset_gives_logits_and_features_of_the_documented_shape(name):
    model = hpnet.create_model(name, num_classes=26).eval()
    device = "cpu" if name.endswith((".tiny", ".cpu")) else "meta"  # full widths: shapes only, no arithmetic
    model = model.to(device)
    x = torch.randn(2, 3, *model.config.input_size) if device == "cpu" else torch.empty(2, 3, *model.config.input_size, device="meta")
    with torch.no_grad():
        feats = model.forward_features(x)
        logits = model.forward_head(feats)
    c3 = block_channels(model.config.width)[3]
    expected_dim = c3 * (1 + model.config.attention_channels * 9) if name.startswith("hpnet") else c3
    assert tuple(logits.shape) == (2, 26)
    assert tuple(feats.shape) == (2, expected_dim)
    assert model.num_features == expected_dim


@pytest.mark.parametrize("arch", ["mnet_bninception", "hpnet_bninception"])
def test_tiny_preset_runs_forward_and_backward_on_real_tensors(arch):
    torch.manual_seed(0)
    model = hpnet.create_model(arch, num_classes=7, preset="tiny").train()
    x = torch.randn(3, 3, *model.config.input_size)
    logits = model(x)
    assert logits.shape == (3, 7) and torch.isfinite(logits).all()
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    model.eval()
    with torch.no_grad():
        assert torch.allclose(model.forward_head(model.forward_features(x)), model(x), atol=1e-6)


@pytest.mark.parametrize("size", [(224, 224), (299, 299), (128, 64), (64, 32), (33, 17)])
def test_block_sizes_match_the_trunk_outputs(size):
    trunk = BNInception(0.125).eval()
    with torch.no_grad():
        blocks = trunk.forward_blocks(torch.zeros(1, 3, *size))
    assert {k: tuple(v.shape[-2:]) for k, v in blocks.items()} == block_sizes(size)


def test_full_width_trunk_has_bn_inception_channels_and_scales():
    assert block_channels(1.0) == {1: 320, 2: 608, 3: 1024}
    assert block_sizes((224, 224)) == {1: (28, 28), 2: (14, 14), 3: (7, 7)}
    assert block_channels(0.5) == {1: 160, 2: 304, 3: 512}


# ---------------------------------------------------------------------------------------------- MDA paths
@pytest.mark.parametrize("ablation", ["full", "naive", "no_middle"])
def test_loop_and_folded_mda_paths_give_the_same_output(ablation):
    model = _tiny_hpnet(attention_channels=4, paths=MDA_ABLATIONS.get(ablation))
    x = torch.randn(3, 3, *model.config.input_size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        blocks = model.forward_blocks(x)
        loop = model.afnet(blocks, execution="loop")
        folded = model.afnet(blocks, execution="folded")
    assert loop.shape == folded.shape == (3, len(model.config.paths) * 4 * model.backbone.num_features)
    assert loop.abs().max() > 0
    torch.testing.assert_close(loop, folded, atol=1e-5, rtol=1e-5)


def test_attention_from_one_block_multiplies_every_channel_of_the_target_block():
    model = _tiny_hpnet(attention_channels=3, paths=((3, 1),))
    mda = model.afnet.mdas["mda3"]
    x = torch.randn(2, 3, *model.config.input_size)
    with torch.no_grad():
        blocks = model.forward_blocks(x)
        alpha = mda.attention_map(blocks)  # (2, 3, h3, w3)
        out = mda(blocks)
        # By hand: nearest-resize channel l of α³ to F¹'s grid, multiply F¹, run blocks 2 and 3, pool.
        tail = mda.tails["to_block1"]
        f1 = blocks[1]
        manual = []
        for l in range(3):
            a = torch.nn.functional.interpolate(alpha[:, l:l + 1], size=f1.shape[-2:], mode="nearest")
            manual.append(global_average_pool(tail(a * f1)))
    torch.testing.assert_close(out, torch.cat(manual, 1), atol=1e-5, rtol=1e-5)
    assert alpha.shape[1] == 3 and (alpha >= 0).all()


def test_hpnet_from_mnet_with_unit_attention_reproduces_mnet_features_on_every_path():
    """With α ≡ 1 every attentive path must equal M-net's pooled F³: proves each path runs the blocks after k."""
    torch.manual_seed(0)
    mnet = hpnet.create_model("mnet_bninception", num_classes=4, preset="tiny")
    _randomize_bn(mnet)
    model = hpnet.HydraPlusNet.from_mnet(mnet, attention_channels=2, attention_init_gain=0.0, attention_init_bias=1.0).eval()
    mnet.eval()
    x = torch.randn(2, 3, *mnet.config.input_size)
    with torch.no_grad():
        base = mnet.forward_features(x)
        feats = model.forward_features(x)
    c = base.shape[1]
    chunks = feats.split(c, dim=1)
    assert len(chunks) == 1 + 9 * 2
    for chunk in chunks:
        torch.testing.assert_close(chunk, base, atol=1e-5, rtol=1e-5)


def test_fusion_head_started_from_mnet_predicts_exactly_what_mnet_predicts():
    torch.manual_seed(0)
    mnet = hpnet.create_model("mnet_bninception", num_classes=4, preset="tiny")
    _randomize_bn(mnet)
    with torch.no_grad():
        mnet.head.classifier.weight.normal_()
    model = hpnet.HydraPlusNet.from_mnet(mnet, attention_channels=2)
    _randomize_bn(model.afnet, seed=1)  # attentive features differ from M-net's: zero weights must hide them
    x = torch.randn(3, 3, *mnet.config.input_size)
    model.eval(), mnet.eval()
    with torch.no_grad():
        before = model(x)
        model.head_from_mnet(mnet)
        after, expected = model(x), mnet(x)
    torch.testing.assert_close(after, expected, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(before, expected, atol=1e-3)


def test_fusion_head_from_an_mnet_with_another_head_shape_is_a_clear_error():
    mnet = hpnet.create_model("mnet_bninception", num_classes=4, preset="tiny")
    model = hpnet.HydraPlusNet.from_mnet(mnet, attention_channels=2)
    other = hpnet.create_model("mnet_bninception", num_classes=4, preset="tiny", fc_dim=None)
    with pytest.raises(ValueError, match="fc_dim"):
        model.head_from_mnet(other)


def test_attention_maps_have_one_entry_per_attention_level():
    model = _tiny_hpnet(paths=((1, 1), (1, 3), (3, 2)))
    maps = model.attention_maps(torch.randn(2, 3, *model.config.input_size))
    sizes = block_sizes(model.config.input_size)
    assert sorted(maps) == ["block1", "block3"]
    assert maps["block1"].shape == (2, 2, *sizes[1]) and maps["block3"].shape == (2, 2, *sizes[3])


# ---------------------------------------------------------------------------------------------- configs
@pytest.mark.parametrize("paths, bad", [(((1, 4),), "4"), (((0, 2),), "0"), (((1, 1), (5, 3)), "5")])
def test_attention_config_naming_a_missing_block_is_a_clear_error(paths, bad):
    with pytest.raises(ValueError, match=rf"= {bad}, but the inception blocks are \[1, 2, 3\]"):
        HPNetConfig(paths=paths)
    with pytest.raises(ValueError, match="inception blocks"):
        hpnet.create_model("hpnet_bninception", preset="tiny", paths=paths)


def test_attention_config_rejects_empty_and_duplicate_paths():
    with pytest.raises(ValueError, match="empty"):
        HPNetConfig(paths=())
    with pytest.raises(ValueError, match="twice"):
        HPNetConfig(paths=((1, 1), (1, 1)))


def test_ablations_of_fig6_select_the_documented_paths():
    assert MDA_ABLATIONS.get("full") == ALL_PATHS and len(ALL_PATHS) == 9
    assert HPNetConfig(paths=MDA_ABLATIONS.get("no_middle")).attention_levels == (1, 3)
    assert all(k != 2 for _, k in MDA_ABLATIONS.get("no_middle"))
    assert HPNetConfig(paths=MDA_ABLATIONS.get("prune_two")).attention_levels == (3,)
    assert HPNetConfig(paths=MDA_ABLATIONS.get("naive")).directions(2) == (2,)


def test_registry_errors_list_the_valid_names():
    with pytest.raises(KeyError, match="hpnet_bninception"):
        hpnet.create_model("hpnet_resnet50")
    with pytest.raises(KeyError, match="cpu"):
        hpnet.create_model("hpnet_bninception.huge")
    with pytest.raises(ValueError, match="attention_channels"):
        hpnet.create_model("hpnet_bninception", preset="tiny", attention_chanels=4)
    assert hpnet.list_models("hpnet*") == ["hpnet_bninception"]
    assert "mnet_bninception.cpu" in hpnet.list_models(presets=True)


def test_preset_tag_and_overrides_reach_the_config():
    model = hpnet.create_model("hpnet_bninception.cpu", num_classes=3, attention_channels=2)
    assert (model.config.width, model.config.input_size, model.config.attention_channels) == (0.25, (128, 64), 2)
    assert PRESETS.get("paper").width == 1.0 and PRESETS.get("half").width == 0.5


# ------------------------------------------------------------------------------------------ export, cost
def test_onnx_export_matches_pytorch(tmp_path):
    from hpnet.export import check_onnx, export_onnx

    model = _tiny_hpnet(paths=((3, 1), (2, 2), (1, 3)))  # up- and down-sampled attention, every tail length
    _calibrate_bn(model, model.config.input_size)
    path = export_onnx(model, tmp_path / "hp.onnx")
    check = check_onnx(model, path, atol=1e-4)
    assert check.ok and check.max_abs_diff < 1e-4


def test_summary_counts_what_hpnet_adds_over_mnet():
    from hpnet.summary import model_cost

    mnet = model_cost("mnet_bninception", "paper")
    hp = model_cost("hpnet_bninception", "tiny")
    hp_mnet = model_cost("mnet_bninception", "tiny")
    assert 1.9e9 < mnet.macs < 2.2e9  # BN-Inception at 224×224: about 2.0 G multiply-adds
    assert 10.0e6 < mnet.params_trunk < 10.5e6
    assert hp.macs > hp_mnet.macs and hp.params_trunk == hp_mnet.params_trunk
    assert hp.params == hp.params_trunk + hp.params_attention + hp.params_branches + hp.params_head
