"""Baselines of Table 2 (ELF-mm, FC6/FC7-mm, ACN, DeepMar): features, SVMs, networks, and the registered methods."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

import pa100k
from baselines.acn import ACN, ACNConfig, PerAttributeSoftmaxLoss, build_acn
from baselines.alexnet import AlexNetSpec, AlexNetTrunk, load_trunk, save_trunk, spec_from_state_dict
from baselines.cache import cached_features, feature_cache_path
from baselines.common import ForeignWeightsError, apply_overrides, split_union
from baselines.deepmar import DeepMar
from baselines.elf import ELFConfig, ELFExtractor, extract_elf, gabor_kernel, rgb_to_colour_channels, schmid_kernel
from baselines.fc_features import WeightsRequiredError, fc_features
from baselines.mm import ELF_MM_PRESETS, run_elf_mm
from baselines.svm import SVMConfig, balanced_accuracy, fit_attribute_svms
from benchmarks.methods import METHODS, RunContext
from pa100k.attribute_set import AttributeSet

BASELINE_METHODS = ("elf_mm", "fc7_mm", "fc6_mm", "acn", "deepmar")
PAPER_ROWS = {"elf_mm": "ELF-mm", "fc7_mm": "FC7-mm", "fc6_mm": "FC6-mm", "acn": "ACN", "deepmar": "DeepMar"}


# ------------------------------------------------------------------------------------------------ fixtures
def _write_tiny_set(root: Path, seed: int = 0) -> AttributeSet:
    """60 random coloured JPEGs (40 train / 10 val / 10 test) with the pa100k schema.

    Labels are random, except that every split holds a positive and a negative of every attribute, and
    attribute 0 (Female) is visible: its images have a red upper half, the others a blue one.
    """
    from PIL import Image

    schema = pa100k.get_schema("pa100k")
    rng = np.random.default_rng(seed)
    splits = {"train": np.arange(0, 40), "val": np.arange(40, 50), "test": np.arange(50, 60)}
    labels = (rng.random((60, schema.num_attributes)) < 0.4).astype(np.uint8)
    for idx in splits.values():
        labels[idx[0]] = 1
        labels[idx[1]] = 0
    paths = []
    for i in range(60):
        pixels = rng.integers(0, 256, size=(48, 24, 3)).astype(np.float32)
        pixels[:24] = 0.3 * pixels[:24] + 0.7 * (np.array([220, 30, 30]) if labels[i, 0] else np.array([30, 30, 220]))
        path = root / "data" / f"{i + 1:06d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels.astype(np.uint8)).save(path, quality=95)
        paths.append(path)
    return AttributeSet(schema=schema, names=[p.name for p in paths], images=paths, labels=labels, splits=splits,
                        dataset="tiny-baselines", root=root)


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory) -> AttributeSet:
    return _write_tiny_set(tmp_path_factory.mktemp("tiny-set"))


def _tiny_alexnet_file(path: Path, layout: str = "alexnet") -> Path:
    """A narrow AlexNet/CaffeNet-layout weights file (random weights)."""
    torch.manual_seed(0)
    return save_trunk(AlexNetTrunk(AlexNetSpec.scaled(0.125, layout=layout, fc=32)), path)


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory) -> Path:
    return _tiny_alexnet_file(tmp_path_factory.mktemp("weights") / "alexnet-tiny.pth")


# --------------------------------------------------------------------------------------------------- ELF
def test_elf_default_descriptor_has_2784_dimensions():
    config = ELFConfig()
    assert (config.num_channels, config.dim) == (29, 2784)
    rgb = np.random.default_rng(0).random((2, 128, 48, 3), dtype=np.float32)
    assert ELFExtractor(config).extract_rgb(rgb).shape == (2, 2784)


def test_elf_histograms_are_fractions_per_stripe_and_channel():
    config = ELFConfig(height=30, width=12)
    feats = ELFExtractor(config).extract_rgb(np.random.default_rng(1).random((3, 30, 12, 3), dtype=np.float32))
    hist = feats.reshape(3, config.stripes, config.num_channels, config.bins)
    np.testing.assert_allclose(hist.sum(-1), 1.0, atol=1e-5)
    assert (hist >= 0).all()


def test_elf_stripes_see_only_their_rows():
    config = ELFConfig(height=24, width=8)
    rgb = np.zeros((1, 24, 8, 3), np.float32)
    rgb[0, :4, :, 0] = 1.0  # only the first stripe (rows 0-3) is red
    hist = ELFExtractor(config).extract_rgb(rgb).reshape(config.stripes, config.num_channels, config.bins)
    assert hist[0, 0, -1] == pytest.approx(1.0)  # R channel of stripe 0: every pixel in the top bin
    assert hist[1:, 0, 0] == pytest.approx(np.ones(config.stripes - 1))  # other stripes: R = 0


def test_elf_colour_channels_match_reference_conversions():
    from matplotlib.colors import rgb_to_hsv
    from PIL import Image

    rgb8 = np.random.default_rng(2).integers(0, 256, size=(1, 16, 8, 3), dtype=np.uint8)
    rgb = rgb8.astype(np.float32) / 255
    out = rgb_to_colour_channels(rgb)[0]
    hsv = rgb_to_hsv(rgb[0])
    np.testing.assert_allclose(out[3], hsv[..., 0], atol=1e-5)
    np.testing.assert_allclose(out[4], hsv[..., 1], atol=1e-5)
    ycbcr = np.asarray(Image.fromarray(rgb8[0]).convert("YCbCr"), dtype=np.float32) / 255  # JPEG full-range
    np.testing.assert_allclose(out[5:8], ycbcr.transpose(2, 0, 1), atol=1.5 / 255)


def test_elf_texture_responses_equal_direct_mirror_padded_correlation():
    from scipy import ndimage

    config = ELFConfig(height=40, width=16)
    extractor = ELFExtractor(config)
    lum = np.random.default_rng(3).random((2, 40, 16), dtype=np.float32)
    got = extractor.texture_channels(lum)
    kernels = [gabor_kernel(*p) for p in config.gabor] + [schmid_kernel(*p) for p in config.schmid]
    assert got.shape == (2, len(kernels), 40, 16)
    for f, kernel in enumerate(kernels):
        direct = ndimage.correlate(lum[1].astype(np.float64), kernel, mode="reflect")  # numpy's "symmetric"
        np.testing.assert_allclose(got[1, f], np.sqrt(np.clip(2 * np.abs(direct), 0, 1)), atol=2e-3)


def test_elf_filter_kernels_are_zero_mean_with_unit_l1_norm():
    for kernel in [gabor_kernel(0.3, 0.0, 4.0, 2.0), schmid_kernel(10, 4)]:
        assert abs(kernel.sum()) < 1e-9 and np.abs(kernel).sum() == pytest.approx(1.0)


def test_extract_elf_in_parallel_equals_serial_in_index_order(tiny_set):
    config = ELFConfig(height=32, width=16)
    idx = np.array([5, 0, 17, 3, 9])
    serial = extract_elf(tiny_set, idx, config, n_jobs=1, chunk_size=2)
    parallel = extract_elf(tiny_set, idx, config, n_jobs=2, chunk_size=2)
    np.testing.assert_array_equal(serial, parallel)
    np.testing.assert_array_equal(serial[1], extract_elf(tiny_set, [0], config, n_jobs=1)[0])


def test_extract_elf_names_an_unreadable_image(tmp_path, tiny_set):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    data = tiny_set.select(np.arange(3))
    data.images[1] = bad
    with pytest.raises(ValueError, match="broken.jpg"):
        extract_elf(data, None, ELFConfig(height=32, width=16), n_jobs=1)


# ------------------------------------------------------------------------------------------------- cache
def test_cached_features_computes_once_and_recomputes_for_other_images(tmp_path):
    calls = []

    def compute(n):
        calls.append(n)
        return np.arange(n * 2, dtype=np.float32).reshape(n, 2)

    names = ["a.jpg", "b.jpg"]
    first = cached_features(tmp_path, "ds", "elf", names, {"k": 1}, lambda: compute(2))
    again = cached_features(tmp_path, "ds", "elf", names, {"k": 1}, lambda: compute(2))
    np.testing.assert_array_equal(first, again)
    assert calls == [2]
    cached_features(tmp_path, "ds", "elf", names + ["c.jpg"], {"k": 1}, lambda: compute(3))
    cached_features(tmp_path, "ds", "elf", names, {"k": 2}, lambda: compute(2))
    assert calls == [2, 3, 2]
    assert len(list((tmp_path / "features").glob("*.npz"))) == 3
    assert not list((tmp_path / "features").glob(".*"))  # no temp file left behind


def test_cached_features_replaces_a_corrupt_file(tmp_path, caplog):
    path = feature_cache_path(tmp_path, "ds", "elf", ["a"], {})
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage")
    with caplog.at_level(logging.WARNING):
        out = cached_features(tmp_path, "ds", "elf", ["a"], {}, lambda: np.ones((1, 3), np.float32))
    assert out.shape == (1, 3) and "unreadable" in caplog.text
    assert cached_features(tmp_path, "ds", "elf", ["a"], {}, lambda: 1 / 0).shape == (1, 3)


def test_cached_features_without_a_cache_dir_writes_nothing(tmp_path):
    out = cached_features(None, "ds", "elf", ["a"], {}, lambda: np.ones((1, 2)))
    assert out.shape == (1, 2) and not any(tmp_path.iterdir())


# --------------------------------------------------------------------------------------------------- SVM
def _separable(n=240, d=12, a=3, seed=0, noise=0.8):
    """Samples ``seed`` of one fixed linear problem with label noise."""
    w = np.random.default_rng(100).normal(size=(d, a))
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    Y = (X @ w + noise * rng.normal(size=(n, a)) > 0.6).astype(np.uint8)
    return X, Y


def test_svm_newton_solver_matches_liblinear():
    X, Y = _separable()
    Xv, Yv = _separable(seed=1)
    Y[:, 2] = (np.random.default_rng(7).random(len(Y)) < 0.05) | (X[:, 0] > 1.8)  # a rare attribute
    for C in (0.001, 0.1):  # liblinear and our Newton-CG minimise the same objective (regularised bias)
        ours = fit_attribute_svms(X, Y, Xv, Yv, config=SVMConfig(C_grid=(C,), solver="newton", tol=1e-6))
        ref = fit_attribute_svms(X, Y, Xv, Yv, config=SVMConfig(C_grid=(C,), solver="liblinear", n_jobs=1))
        np.testing.assert_allclose(ours.decision_function(Xv), ref.decision_function(Xv), atol=2e-3)


def test_svm_probability_is_sigmoid_of_decision_with_boundary_at_half():
    X, Y = _separable()
    svms = fit_attribute_svms(X, Y, X, Y, config=SVMConfig(C_grid=(0.1,)))
    d = svms.decision_function(X)
    p = svms.predict_proba(X)
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-d)), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(p > 0.5, d > 0)
    assert ((p >= 0) & (p <= 1)).all()


def test_svm_keeps_per_attribute_the_C_with_the_best_val_mA():
    X, Y = _separable(n=60, d=40, noise=3.0)  # few noisy samples: the C matters
    Xv, Yv = _separable(d=40, seed=5, noise=3.0)
    grid = (1.0, 0.0001, 0.01)  # unsorted on purpose
    svms = fit_attribute_svms(X, Y, Xv, Yv, config=SVMConfig(C_grid=grid))
    np.testing.assert_allclose(svms.val_mA, svms.val_mA_grid.max(0))
    np.testing.assert_array_equal(svms.C, np.array(sorted(grid))[svms.val_mA_grid.argmax(0)])
    np.testing.assert_allclose(balanced_accuracy(Yv, svms.decision_function(Xv)), svms.val_mA)
    # the grid is a real choice here: the val mA differs between Cs for some attribute
    assert (np.ptp(svms.val_mA_grid, axis=0) > 0).any()


def test_svm_class_balancing_finds_a_rare_attribute():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 5)).astype(np.float32)
    y = (X[:, 0] > 1.9).astype(np.uint8)[:, None]  # about 3% positives
    svms = fit_attribute_svms(X, y, X, y, config=SVMConfig(C_grid=(1.0,)))
    assert balanced_accuracy(y, svms.decision_function(X))[0] > 0.9


def test_svm_ignores_unknown_labels():
    X, Y = _separable()
    mask = np.random.default_rng(3).random(Y.shape) > 0.3
    flipped = np.where(mask, Y, 1 - Y)
    a = fit_attribute_svms(X, Y, X, Y, mask_train=mask, mask_val=mask, config=SVMConfig(C_grid=(0.1,)))
    b = fit_attribute_svms(X, flipped, X, flipped, mask_train=mask, mask_val=mask, config=SVMConfig(C_grid=(0.1,)))
    np.testing.assert_allclose(a.coef, b.coef, atol=1e-6)


def test_svm_single_class_attribute_gets_a_constant_decision(caplog):
    X, Y = _separable()
    Y[:, 1] = 0
    with caplog.at_level(logging.WARNING):
        svms = fit_attribute_svms(X, Y, X, Y, config=SVMConfig(C_grid=(0.1,)), attribute_names=["a", "b", "c"])
    assert np.all(svms.decision_function(X)[:, 1] == -1.0) and np.isnan(svms.C[1])
    assert "attribute b" in caplog.text


def test_svm_rejects_mismatched_inputs():
    X, Y = _separable()
    with pytest.raises(ValueError, match="X_val"):
        fit_attribute_svms(X, Y, X[:, :3], Y)
    with pytest.raises(ValueError, match="C_grid"):
        SVMConfig(C_grid=(0.0,))
    with pytest.raises(ValueError, match="solver"):
        SVMConfig(solver="lbfgs")


# ----------------------------------------------------------------------------------------- AlexNet trunks
def test_alexnet_trunk_reproduces_torchvision_fc6_fc7():
    import torchvision

    torch.manual_seed(0)
    tv = torchvision.models.alexnet()
    tv.classifier[1], tv.classifier[4] = torch.nn.Linear(9216, 64), torch.nn.Linear(64, 48)  # narrow fc: fast
    tv.eval()
    spec, renamed = spec_from_state_dict(tv.state_dict(), source="torchvision")
    assert spec.channels == (64, 192, 384, 256, 256) and spec.fc == (64, 48) and spec.pool_grid == (6, 6)
    trunk = AlexNetTrunk(spec).eval()
    trunk.load_state_dict(renamed)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        ours = trunk.forward_fc(x)
        fc6 = torch.relu(tv.classifier[1](torch.flatten(tv.avgpool(tv.features(x)), 1)))
        fc7 = torch.relu(tv.classifier[4](fc6))
    torch.testing.assert_close(ours["fc6"], fc6)
    torch.testing.assert_close(ours["fc7"], fc7)


def test_caffenet_file_loads_with_groups_lrn_and_bgr_conv1(tmp_path):
    path = _tiny_alexnet_file(tmp_path / "caffenet.safetensors", layout="caffenet")
    trunk = load_trunk(path).eval()
    assert trunk.spec.layout == "caffenet" and trunk.spec.groups == (1, 2, 1, 2, 2)
    assert isinstance(trunk.lrn, torch.nn.LocalResponseNorm)
    from safetensors.torch import load_file

    stored = load_file(str(path))
    torch.testing.assert_close(trunk.conv1.weight, stored["conv1.weight"].flip(1))  # BGR file, RGB trunk
    rgb = torch.rand(1, 3, 67, 67)
    reference = AlexNetTrunk(trunk.spec).eval()
    reference.load_state_dict({k: v for k, v in trunk.state_dict().items()})
    reference.conv1.weight.data = stored["conv1.weight"]
    with torch.no_grad():
        torch.testing.assert_close(trunk.forward_fc(rgb)["fc7"], reference.forward_fc(rgb.flip(1))["fc7"])


def test_load_trunk_errors_name_the_file_and_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        load_trunk(tmp_path / "missing.pth")
    other = tmp_path / "resnet.pth"
    torch.save({"conv1.bias": torch.zeros(3), "layer1.0.weight": torch.zeros(2)}, other)
    with pytest.raises(ValueError, match="resnet.pth"):
        load_trunk(other)
    extra = _tiny_alexnet_file(tmp_path / "extra.pth")
    state = torch.load(extra, weights_only=True)
    state["classifier.6.weight"], state["classifier.6.bias"] = torch.zeros(10, 32), torch.zeros(10)
    torch.save(state, extra)
    assert load_trunk(extra).spec.fc == (32, 32)  # the ImageNet classifier (fc8) is ignored
    state["features.12.weight"] = torch.zeros(1)
    torch.save(state, extra)
    with pytest.raises(ValueError, match="unexpected keys"):
        load_trunk(extra)


def test_fc_features_are_cached_per_layer_from_one_pass(tmp_path, tiny_set, tiny_weights, monkeypatch):
    from baselines import fc_features as module
    from baselines.mm import FC_MM_PRESETS

    idx = split_union(tiny_set)
    config = FC_MM_PRESETS.get("tiny").features()
    fc7 = fc_features(tiny_set, idx, tiny_weights, "fc7", config=config, cache_dir=tmp_path)
    assert fc7.shape == (60, 32) and (fc7 >= 0).all()
    monkeypatch.setattr(module, "load_trunk", lambda *a, **k: pytest.fail("the cache should have answered"))
    fc6 = fc_features(tiny_set, idx, tiny_weights, "fc6", config=config, cache_dir=tmp_path)
    np.testing.assert_array_equal(fc7, fc_features(tiny_set, idx, tiny_weights, "fc7", config=config, cache_dir=tmp_path))
    assert fc6.shape == (60, 32)


# --------------------------------------------------------------------------------------------------- ACN
def test_acn_loss_is_the_sum_of_per_attribute_two_way_softmax_losses():
    torch.manual_seed(0)
    model = ACN(4, AlexNetTrunk(AlexNetSpec.scaled(0.125, fc=16, pool_grid=(1, 1))))
    features = torch.randn(6, 16)
    z = model.head_logits(features)  # (6, 4, 2)
    targets = torch.randint(0, 2, (6, 4)).float()
    mask = torch.rand(6, 4) > 0.3
    mask[:, 2] = False  # an attribute with no known label in the batch adds nothing
    loss = PerAttributeSoftmaxLoss()(model.forward_head(features), targets, mask)
    expected = 0.0
    for j in range(4):
        rows = mask[:, j]
        if rows.any():
            expected = expected + F.cross_entropy(z[rows, j], targets[rows, j].long())
    torch.testing.assert_close(loss, expected)


def test_acn_heads_are_separate_per_attribute():
    torch.manual_seed(0)
    model = ACN(3, AlexNetTrunk(AlexNetSpec.scaled(0.125, fc=16, pool_grid=(1, 1))))
    model.forward_head(torch.randn(2, 16))[:, 1].sum().backward()
    grad_rows = model.heads.weight.grad.abs().sum(1).nonzero().flatten().tolist()
    assert grad_rows == [2, 3]  # attribute 1's own two logits


def test_acn_probability_is_the_softmax_positive_class():
    torch.manual_seed(0)
    model = ACN(2, AlexNetTrunk(AlexNetSpec.scaled(0.125, fc=16, pool_grid=(1, 1)))).eval()
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        z = model.head_logits(model.forward_features(x))
        torch.testing.assert_close(torch.sigmoid(model(x)), torch.softmax(z, -1)[..., 1])


def test_acn_takes_its_trunk_from_a_weights_file(tiny_weights):
    model = build_acn(26, ACNConfig(width=1.0), tiny_weights)
    assert model.trunk.spec.fc == (32, 32) and model.heads.weight.shape == (52, 32)


# ----------------------------------------------------------------------------------------------- DeepMar
def test_deepmar_loads_a_torchvision_state_dict_without_its_classifier(tmp_path):
    import torchvision

    torch.manual_seed(1)
    source = torchvision.models.resnet18()
    path = tmp_path / "resnet18.pth"
    torch.save(source.state_dict(), path)
    model = DeepMar(5, "resnet18")
    model.load_imagenet(path)
    torch.testing.assert_close(model.backbone.conv1.weight, source.conv1.weight)
    assert model.classifier.weight.shape == (5, 512)
    with pytest.raises(ValueError, match="resnet18.pth"):
        DeepMar(5, "resnet34").load_imagenet(path)
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        model.load_imagenet(tmp_path / "none.pth")
    with pytest.raises(ForeignWeightsError, match="not a torchvision resnet18"):
        model.load_imagenet(_tiny_alexnet_file(tmp_path / "alexnet.pth"))


def test_acn_refuses_or_skips_a_weights_file_of_another_architecture(tmp_path, tiny_set):
    import torchvision

    from baselines.acn import ACN_PRESETS, run_acn

    path = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), path)  # has conv1.weight, like CaffeNet
    with pytest.raises(ForeignWeightsError, match="not an AlexNet/CaffeNet"):
        build_acn(26, ACNConfig(), path)
    result = run_acn(tiny_set, ACN_PRESETS.get("tiny"), weights=path, skip_foreign_weights=True, device="cpu")
    assert result.info["weights"] is None and result.test_scores.shape == (10, 26)


def test_deepmar_unknown_backbone_lists_the_valid_ones():
    with pytest.raises(KeyError, match="resnet50"):
        DeepMar(3, "vgg11")


# ------------------------------------------------------------------------------------- configs, overrides
def test_apply_overrides_converts_types_and_reports_unknown_keys():
    config, unused = apply_overrides(ELF_MM_PRESETS.get("cpu"), {"C_grid": "0.1,1", "height": 64.0, "epochs": 3})
    assert config.C_grid == (0.1, 1.0) and config.height == 64 and unused == ["epochs"]
    config, _ = apply_overrides(ACNConfig(), {"input_size": "160x80", "grad_clip": 5.0})
    assert config.input_size == (160, 80) and config.grad_clip == 5.0
    with pytest.raises(ValueError, match="63"):  # too small for an AlexNet trunk
        apply_overrides(ACNConfig(), {"input_size": "96x48"})
    with pytest.raises(ValueError, match="height"):
        apply_overrides(ELF_MM_PRESETS.get("cpu"), {"height": 1.5})
    with pytest.raises(ValueError, match="cache_images"):
        apply_overrides(ACNConfig(), {"cache_images": "yes"})


@pytest.mark.parametrize("name", BASELINE_METHODS)
@pytest.mark.parametrize("preset", ["tiny", "cpu", "paper"])
def test_method_config_is_json_able_for_every_preset(name, preset, tmp_path):
    import json

    method = METHODS.get(name)()
    assert method.paper_name == PAPER_ROWS[name]
    config = method.config(RunContext(work_dir=tmp_path, preset=preset))
    json.dumps(config)
    assert config["preset"] == preset


# ------------------------------------------------------------------------------------- registered methods
@pytest.mark.parametrize("name", ["fc7_mm", "fc6_mm"])
def test_fc_methods_stop_without_weights(name, tiny_set, tmp_path):
    method = METHODS.get(name)()
    assert method.needs_weights
    with pytest.raises(WeightsRequiredError, match="--weights"):
        method.run(tiny_set, RunContext(work_dir=tmp_path, preset="tiny"))
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        method.run(tiny_set, RunContext(work_dir=tmp_path, preset="tiny", weights=tmp_path / "nope.pth"))


@pytest.mark.parametrize("name", BASELINE_METHODS)
def test_registered_method_runs_on_tiny_preset(name, tiny_set, tiny_weights, tmp_path, monkeypatch):
    monkeypatch.setenv("PA100K_HOME", str(tmp_path / "home"))
    # one --weights file serves a whole run: ACN builds its trunk from it, DeepMar (a ResNet) skips it
    ctx = RunContext(work_dir=tmp_path / "work", preset="tiny", seed=0, device="cpu", progress=False,
                     cache_dir=tmp_path / "cache", dataset_name="tiny", weights=tiny_weights)
    t0 = time.perf_counter()
    out = METHODS.get(name)().run(tiny_set, ctx)
    elapsed = time.perf_counter() - t0
    assert out.test_scores.shape == (10, 26) and out.val_scores.shape == (10, 26)
    for scores in (out.test_scores, out.val_scores):
        assert np.isfinite(scores).all() and scores.min() >= 0 and scores.max() <= 1
    assert elapsed < 30, f"{name} took {elapsed:.1f}s on the tiny preset"
    if name in ("acn", "deepmar"):
        assert out.history and out.history[0]["stage"] and (out.checkpoint / "model.safetensors").is_file()
        assert out.info["weights"] == (str(tiny_weights) if name == "acn" else None)


def test_elf_mm_learns_a_visible_colour_attribute(tiny_set, tmp_path):
    result = run_elf_mm(tiny_set, ELF_MM_PRESETS.get("tiny"), cache_dir=tmp_path)
    test = tiny_set.split_indices("test")
    mA = balanced_accuracy(tiny_set.labels[test], result.test_scores - 0.5)
    assert mA[0] == 1.0  # Female: red vs blue upper half
    assert result.info["feature_dim"] == ELF_MM_PRESETS.get("tiny").elf().dim


def test_learned_baselines_keep_the_epoch_with_the_best_val_mA(tiny_set, tmp_path):
    from dataclasses import replace

    from baselines.acn import ACN_PRESETS, run_acn

    config = replace(ACN_PRESETS.get("tiny"), epochs=3, lr=3e-3)
    result = run_acn(tiny_set, config, work_dir=tmp_path, device="cpu")
    val_mA = [h["val_mA"] for h in result.history]
    assert len(val_mA) == 3
    assert result.info["best_epoch"] == int(np.nanargmax(val_mA)) + 1
    # the returned val scores are those of the kept epoch, not of the last one
    val = tiny_set.split_indices("val")
    kept = np.nanmean(balanced_accuracy(tiny_set.labels[val], result.val_scores - 0.5))
    assert kept == pytest.approx(max(val_mA), abs=1e-6)
