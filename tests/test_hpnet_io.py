"""Checkpoints (save → load, bad folders and files), ImageNet key mapping, predict CSV, attention maps, CLI."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from torch.nn import functional as F

import hpnet
from hpnet.__main__ import main
from hpnet.backbone import BNInception
from hpnet.checkpoint import save_safetensors
from hpnet.weights import CAFFE_BGR_MEAN, load_imagenet_weights, map_pretrainedmodels_bninception

ATTRS = ("Female", "Hat", "Backpack")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _tiny(arch: str = "hpnet_bninception", **overrides):
    torch.manual_seed(0)
    model = hpnet.create_model(arch, num_classes=len(ATTRS), preset="tiny", attributes=ATTRS, **overrides)
    model.train()
    with torch.no_grad():  # realistic batch-norm statistics
        model(torch.randn(8, 3, *model.config.input_size))
    return model.eval()


# ------------------------------------------------------------------------------------------ checkpoints
@pytest.mark.parametrize("arch", ["mnet_bninception", "hpnet_bninception"])
def test_save_then_load_gives_identical_outputs(tmp_path, arch):
    model = _tiny(arch)
    folder = model.save_pretrained(tmp_path / "ckpt")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    loaded = hpnet.load_pretrained(folder)
    assert type(loaded) is type(model) and loaded.config == model.config
    x = torch.randn(2, 3, *model.config.input_size)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))
    same_class = type(model).from_pretrained(folder)
    assert same_class.config.attributes == ATTRS


def test_checkpoint_folder_without_config_is_a_clear_error(tmp_path):
    folder = _tiny("mnet_bninception").save_pretrained(tmp_path / "ckpt")
    (folder / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"config\.json: missing"):
        hpnet.load_pretrained(folder)
    with pytest.raises(FileNotFoundError, match="checkpoint folder not found"):
        hpnet.load_pretrained(tmp_path / "nowhere")


def test_safetensors_with_wrong_shapes_names_the_tensor_and_both_shapes(tmp_path):
    folder = _tiny("hpnet_bninception").save_pretrained(tmp_path / "ckpt")
    config = json.loads((folder / "config.json").read_text())
    config["config"]["attention_channels"] = 3  # the weights hold L = 2
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"afnet\.mdas\.mda1\.attention\.conv\.weight: expected \(3, 40, 1, 1\), found \(2, 40, 1, 1\)"):
        hpnet.load_pretrained(folder)


def test_corrupt_or_mismatched_checkpoints_are_clear_errors(tmp_path):
    folder = _tiny("mnet_bninception").save_pretrained(tmp_path / "ckpt")
    (folder / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="model.safetensors: not a readable safetensors file"):
        hpnet.load_pretrained(folder)
    other = _tiny("mnet_bninception").save_pretrained(tmp_path / "ckpt2")
    with pytest.raises(ValueError, match="architecture is 'mnet_bninception', expected 'hpnet_bninception'"):
        hpnet.HydraPlusNet.from_pretrained(other)
    config = json.loads((other / "config.json").read_text())
    config["config"]["colour"] = "red"
    (other / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"unknown fields \['colour'\]"):
        hpnet.load_pretrained(other)
    extra = _tiny("mnet_bninception").save_pretrained(tmp_path / "ckpt3")
    state = dict(hpnet.checkpoint.load_safetensors(extra / "model.safetensors"))
    state["head.extra"] = torch.zeros(2)
    del state["head.classifier.bias"]
    save_safetensors(state, extra / "model.safetensors")
    with pytest.raises(ValueError, match=r"missing keys \['head.classifier.bias'\]; unexpected keys \['head.extra'\]"):
        hpnet.load_pretrained(extra)


# ------------------------------------------------------------------------------- pretrainedmodels weights
# Every conv of pretrainedmodels' bninception as (name, in, out, kernel), copied from its model definition.
PTM_CONVS = [
    ("conv1_7x7_s2", 3, 64, 7), ("conv2_3x3_reduce", 64, 64, 1), ("conv2_3x3", 64, 192, 3),
    ("inception_3a_1x1", 192, 64, 1), ("inception_3a_3x3_reduce", 192, 64, 1), ("inception_3a_3x3", 64, 64, 3),
    ("inception_3a_double_3x3_reduce", 192, 64, 1), ("inception_3a_double_3x3_1", 64, 96, 3),
    ("inception_3a_double_3x3_2", 96, 96, 3), ("inception_3a_pool_proj", 192, 32, 1),
    ("inception_3b_1x1", 256, 64, 1), ("inception_3b_3x3_reduce", 256, 64, 1), ("inception_3b_3x3", 64, 96, 3),
    ("inception_3b_double_3x3_reduce", 256, 64, 1), ("inception_3b_double_3x3_1", 64, 96, 3),
    ("inception_3b_double_3x3_2", 96, 96, 3), ("inception_3b_pool_proj", 256, 64, 1),
    ("inception_3c_3x3_reduce", 320, 128, 1), ("inception_3c_3x3", 128, 160, 3),
    ("inception_3c_double_3x3_reduce", 320, 64, 1), ("inception_3c_double_3x3_1", 64, 96, 3),
    ("inception_3c_double_3x3_2", 96, 96, 3),
    ("inception_4a_1x1", 576, 224, 1), ("inception_4a_3x3_reduce", 576, 64, 1), ("inception_4a_3x3", 64, 96, 3),
    ("inception_4a_double_3x3_reduce", 576, 96, 1), ("inception_4a_double_3x3_1", 96, 128, 3),
    ("inception_4a_double_3x3_2", 128, 128, 3), ("inception_4a_pool_proj", 576, 128, 1),
    ("inception_4b_1x1", 576, 192, 1), ("inception_4b_3x3_reduce", 576, 96, 1), ("inception_4b_3x3", 96, 128, 3),
    ("inception_4b_double_3x3_reduce", 576, 96, 1), ("inception_4b_double_3x3_1", 96, 128, 3),
    ("inception_4b_double_3x3_2", 128, 128, 3), ("inception_4b_pool_proj", 576, 128, 1),
    ("inception_4c_1x1", 576, 160, 1), ("inception_4c_3x3_reduce", 576, 128, 1), ("inception_4c_3x3", 128, 160, 3),
    ("inception_4c_double_3x3_reduce", 576, 128, 1), ("inception_4c_double_3x3_1", 128, 160, 3),
    ("inception_4c_double_3x3_2", 160, 160, 3), ("inception_4c_pool_proj", 576, 128, 1),
    ("inception_4d_1x1", 608, 96, 1), ("inception_4d_3x3_reduce", 608, 128, 1), ("inception_4d_3x3", 128, 192, 3),
    ("inception_4d_double_3x3_reduce", 608, 160, 1), ("inception_4d_double_3x3_1", 160, 192, 3),
    ("inception_4d_double_3x3_2", 192, 192, 3), ("inception_4d_pool_proj", 608, 128, 1),
    ("inception_4e_3x3_reduce", 608, 128, 1), ("inception_4e_3x3", 128, 192, 3),
    ("inception_4e_double_3x3_reduce", 608, 192, 1), ("inception_4e_double_3x3_1", 192, 256, 3),
    ("inception_4e_double_3x3_2", 256, 256, 3),
    ("inception_5a_1x1", 1056, 352, 1), ("inception_5a_3x3_reduce", 1056, 192, 1), ("inception_5a_3x3", 192, 320, 3),
    ("inception_5a_double_3x3_reduce", 1056, 160, 1), ("inception_5a_double_3x3_1", 160, 224, 3),
    ("inception_5a_double_3x3_2", 224, 224, 3), ("inception_5a_pool_proj", 1056, 128, 1),
    ("inception_5b_1x1", 1024, 352, 1), ("inception_5b_3x3_reduce", 1024, 192, 1), ("inception_5b_3x3", 192, 320, 3),
    ("inception_5b_double_3x3_reduce", 1024, 192, 1), ("inception_5b_double_3x3_1", 192, 224, 3),
    ("inception_5b_double_3x3_2", 224, 224, 3), ("inception_5b_pool_proj", 1024, 128, 1),
]


def pretrainedmodels_state_dict(seed: int = 0, with_tracking: bool = True) -> dict[str, torch.Tensor]:
    """A random state dict with exactly pretrainedmodels' bninception key names and shapes."""
    g = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    for name, cin, cout, k in PTM_CONVS:
        state[f"{name}.weight"] = torch.randn(cout, cin, k, k, generator=g) * 0.05
        state[f"{name}.bias"] = torch.randn(cout, generator=g) * 0.1
        state[f"{name}_bn.weight"] = torch.rand(cout, generator=g) + 0.5
        state[f"{name}_bn.bias"] = torch.randn(cout, generator=g) * 0.1
        state[f"{name}_bn.running_mean"] = torch.randn(cout, generator=g) * 0.1
        state[f"{name}_bn.running_var"] = torch.rand(cout, generator=g) + 0.5
        if with_tracking:
            state[f"{name}_bn.num_batches_tracked"] = torch.tensor(0)
    state["last_linear.weight"] = torch.randn(1000, 1024, generator=g) * 0.01
    state["last_linear.bias"] = torch.zeros(1000)
    return state


@pytest.mark.parametrize("with_tracking", [True, False])
def test_pretrainedmodels_names_map_onto_the_trunk_without_missing_keys(with_tracking):
    state = pretrainedmodels_state_dict(with_tracking=with_tracking)
    mapped = map_pretrainedmodels_bninception(state)
    assert mapped.missing == [] and mapped.unexpected == []
    assert mapped.ignored == ["last_linear.bias", "last_linear.weight"]
    trunk = BNInception(1.0)
    own = trunk.state_dict()
    assert set(mapped.state_dict) == set(own)
    assert all(mapped.state_dict[k].shape == own[k].shape for k in own)
    trunk.load_state_dict(mapped.state_dict, strict=True)
    # Biases are folded into the BN means: BN(Wx + b; m) == BN(Wx; m - b).
    torch.testing.assert_close(trunk.stage5.inception_5b.pool_proj.bn.running_mean,
                               state["inception_5b_pool_proj_bn.running_mean"] - state["inception_5b_pool_proj.bias"])
    assert torch.equal(trunk.stage3.inception_3a.double3x3_1.conv.weight, state["inception_3a_double_3x3_1.weight"])


def test_first_layer_folds_the_caffe_input_convention_exactly_away_from_the_border():
    state = pretrainedmodels_state_dict(seed=3)
    trunk = BNInception(1.0).eval()
    trunk.load_state_dict(map_pretrainedmodels_bninception(state).state_dict)
    rgb = torch.rand(1, 3, 40, 40)
    mean, std = torch.tensor(hpnet.config.IMAGENET_MEAN), torch.tensor(hpnet.config.IMAGENET_STD)
    ours = (rgb - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
    caffe = rgb.flip(1) * 255 - torch.tensor(CAFFE_BGR_MEAN).view(1, 3, 1, 1)  # BGR, [0, 255], mean-subtracted
    with torch.no_grad():
        ref = F.conv2d(caffe, state["conv1_7x7_s2.weight"], state["conv1_7x7_s2.bias"], stride=2, padding=3)
        ref = F.relu(F.batch_norm(ref, state["conv1_7x7_s2_bn.running_mean"], state["conv1_7x7_s2_bn.running_var"],
                                  state["conv1_7x7_s2_bn.weight"], state["conv1_7x7_s2_bn.bias"], eps=1e-5))
        got = trunk.stem.conv1(ours)
    torch.testing.assert_close(got[..., 2:-2, 2:-2], ref[..., 2:-2, 2:-2], atol=1e-3, rtol=1e-4)


def test_missing_and_unexpected_weight_keys_are_reported_by_name(tmp_path):
    state = pretrainedmodels_state_dict()
    del state["inception_4a_1x1_bn.running_var"]
    state["inception_9z_1x1.weight"] = torch.zeros(1)
    mapped = map_pretrainedmodels_bninception(state)
    assert mapped.missing == ["inception_4a_1x1_bn.running_var"]
    assert mapped.unexpected == ["inception_9z_1x1.weight"]
    path = tmp_path / "bn_inception.pth"
    torch.save(state, path)
    with pytest.raises(ValueError, match=r"missing keys \['inception_4a_1x1_bn.running_var'\]; unexpected keys \['inception_9z_1x1.weight'\]"):
        load_imagenet_weights(BNInception(1.0), path)


def test_imagenet_weights_load_from_pth_or_safetensors_into_a_full_width_model_only(tmp_path):
    state = {f"module.{k}": v for k, v in pretrainedmodels_state_dict().items()}  # DataParallel prefix
    pth, st = tmp_path / "w.pth", tmp_path / "w.safetensors"
    torch.save(state, pth)
    save_safetensors(state, st)
    for path in (pth, st):
        model = hpnet.create_model("mnet_bninception", preset="paper")
        report = load_imagenet_weights(model, path)
        assert report.missing == [] and torch.equal(
            model.backbone.stage4.inception_4d.branch3x3.conv.weight, state["module.inception_4d_3x3.weight"])
    with pytest.raises(ValueError, match="full width"):
        load_imagenet_weights(BNInception(0.5), pth)
    with pytest.raises(FileNotFoundError, match="no download is attempted"):
        load_imagenet_weights(BNInception(1.0), tmp_path / "absent.pth")


# ---------------------------------------------------------------------------------------- predict, CLI
def _write_images(folder, n: int = 3) -> list:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        pixels = np.random.default_rng(i).integers(0, 256, size=(80 + 10 * i, 40, 3), dtype=np.uint8)
        path = folder / f"{i + 1:06d}.jpg"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def test_predict_command_writes_a_submission_csv_and_attention_figures(tmp_path, capsys):
    from PIL import Image

    from hpnet.predict import predict_images

    model = _tiny("hpnet_bninception")
    ckpt = model.save_pretrained(tmp_path / "ckpt")
    images = _write_images(tmp_path / "imgs")
    out = tmp_path / "predictions.csv"
    rc = main(["predict", "--checkpoint", str(ckpt), *map(str, images), "--out", str(out),
               "--attention-maps", str(tmp_path / "maps")])
    assert rc == 0
    with open(out, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["image", *ATTRS]
    assert [r[0] for r in rows[1:]] == ["000001.jpg", "000002.jpg", "000003.jpg"]
    values = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    assert ((values >= 0) & (values <= 1)).all()
    expected = predict_images(model, images).probabilities
    np.testing.assert_allclose(values, expected, atol=1e-6)
    figures = sorted((tmp_path / "maps").iterdir())
    assert [f.name for f in figures] == [f"{p.stem}_attention.png" for p in images]
    with Image.open(figures[0]) as fig:
        assert fig.format == "PNG" and fig.size[0] > 200 and fig.size[1] > 200
    # a folder argument expands to its images in name order
    rc = main(["predict", "--checkpoint", str(ckpt), str(tmp_path / "imgs"), "--out", str(tmp_path / "p2.csv")])
    assert rc == 0 and (tmp_path / "p2.csv").read_text() == out.read_text()


def test_an_image_that_cannot_be_decoded_is_a_clear_error(tmp_path, capsys):
    from hpnet.predict import predict_images
    from pa100k.attribute_set import ImageDecodeError

    model = _tiny("mnet_bninception")
    ckpt = model.save_pretrained(tmp_path / "ckpt")
    good = _write_images(tmp_path / "imgs", 1)[0]
    broken = tmp_path / "imgs" / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 this is not a jpeg")
    with pytest.raises(ImageDecodeError, match="broken.jpg"):
        predict_images(model, [good, broken])
    rc = main(["predict", "--checkpoint", str(ckpt), str(good), str(broken), "--out", str(tmp_path / "p.csv")])
    err = capsys.readouterr().err
    assert rc == 2 and "broken.jpg" in err and "cannot be decoded" in err
    assert not (tmp_path / "p.csv").exists()
    rc = main(["predict", "--checkpoint", str(tmp_path / "missing"), str(good), "--out", str(tmp_path / "p.csv")])
    assert rc == 2 and "checkpoint folder not found" in capsys.readouterr().err


def test_export_and_summary_commands(tmp_path, capsys):
    ckpt = _tiny("mnet_bninception").save_pretrained(tmp_path / "ckpt")
    onnx_path = tmp_path / "model.onnx"
    assert main(["export", "--checkpoint", str(ckpt), "--onnx", str(onnx_path)]) == 0
    assert onnx_path.is_file() and "onnxruntime matches PyTorch" in capsys.readouterr().out
    assert main(["summary", "--preset", "tiny", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["model"] for r in rows] == ["mnet_bninception", "hpnet_bninception"]
    assert rows[1]["macs"] > rows[0]["macs"] and rows[1]["params_trunk"] == rows[0]["params_trunk"]
