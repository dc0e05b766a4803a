"""pa100k.torch: AttributeDataset items, transforms and the metadata-keeping collate."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import pa100k
from pa100k.attribute_set import AttributeSet, ImageDecodeError
from pa100k.torch import IMAGENET_MEAN, IMAGENET_STD, AttributeDataset, Sample, build_transform, collate


@pytest.fixture
def small_set(tmp_path, make_image):
    schema = pa100k.get_schema("rap")
    n = 6
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=(n, schema.num_attributes)).astype(np.uint8)
    mask = rng.random(labels.shape) > 0.2
    labels[~mask] = 0
    images = [make_image(tmp_path / "img" / f"{i:03d}.png", size=(10 + i, 20), seed=i) for i in range(n)]
    return AttributeSet(schema=schema, names=[p.name for p in images], images=images, labels=labels,
                        splits={"trainval": np.array([4, 0, 2, 1]), "test": np.array([3, 5])}, mask=mask,
                        meta={"identity": np.arange(n) + 100}, dataset="unit")


def test_item_is_image_labels_mask_of_the_split_row(small_set):
    ds = AttributeDataset(small_set, "trainval", build_transform((32, 16)))
    image, labels, mask = ds[0]  # row 4 of the set
    assert image.shape == (3, 32, 16) and image.dtype == torch.float32
    assert labels.dtype == torch.float32 and labels.tolist() == small_set.labels[4].astype(float).tolist()
    assert mask.dtype == torch.bool and mask.tolist() == small_set.mask[4].tolist()
    assert ds[0].index == 4 and ds[0].name == "004.png" and ds[0].meta == {"identity": 104}
    assert len(ds) == 4 and ds.attr_names == small_set.attribute_names


def test_eval_transform_normalises_with_imagenet_statistics(small_set):
    image = small_set.open_image(0)
    t = build_transform((20, 10), train=False)
    out = t(image)
    raw = torch.from_numpy(np.array(image)).permute(2, 0, 1).float() / 255  # already 20x10
    expected = (raw - torch.tensor(IMAGENET_MEAN)[:, None, None]) / torch.tensor(IMAGENET_STD)[:, None, None]
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


def test_train_transform_flips_with_probability_one(small_set):
    image = small_set.open_image(0)
    flipped = build_transform((20, 10), train=True, hflip=1.0)(image)
    plain = build_transform((20, 10), train=False)(image)
    torch.testing.assert_close(flipped, plain.flip(-1))


def test_train_transform_with_pad_keeps_size():
    from PIL import Image

    t = build_transform((24, 12), train=True, pad=4)
    assert t(Image.new("RGB", (30, 50))).shape == (3, 24, 12)


def test_default_size_is_256_by_192():
    from PIL import Image

    assert build_transform()(Image.new("RGB", (64, 100))).shape == (3, 256, 192)


def test_bad_size_is_rejected():
    with pytest.raises(ValueError, match="size must be"):
        build_transform((0, 10))


def test_unknown_split_lists_valid(small_set):
    with pytest.raises(ValueError, match="no split 'train'; valid: test, trainval"):
        AttributeDataset(small_set, "train")


def test_without_transform_image_is_float_in_unit_range(small_set):
    image, _, _ = AttributeDataset(small_set, "test")[1]  # row 5: 15x20 pixels
    assert image.shape == (3, 20, 15) and 0.0 <= image.min() and image.max() <= 1.0


def test_collate_keeps_index_name_and_meta_through_a_dataloader(small_set):
    ds = AttributeDataset(small_set, "trainval", build_transform((16, 8)))
    images, labels, masks, meta = next(iter(DataLoader(ds, batch_size=3, collate_fn=collate)))
    assert images.shape == (3, 3, 16, 8) and labels.shape == (3, 51) and masks.dtype == torch.bool
    assert meta["index"].tolist() == [4, 0, 2]
    assert meta["name"] == ["004.png", "000.png", "002.png"]
    assert meta["identity"].tolist() == [104, 100, 102]
    assert masks.tolist() == small_set.mask[[4, 0, 2]].tolist()


def test_collate_of_unequal_sizes_says_to_resize(small_set):
    ds = AttributeDataset(small_set, "test")
    with pytest.raises(ValueError, match="different shapes .*build_transform"):
        collate([ds[0], ds[1]])


def test_sample_survives_pickling_for_worker_processes(small_set):
    item = AttributeDataset(small_set, "test", build_transform((8, 4)))[0]
    back = pickle.loads(pickle.dumps(item))
    assert isinstance(back, Sample) and back.index == 3 and back.name == "003.png"
    torch.testing.assert_close(back[0], item[0])


def test_corrupt_image_raises_naming_it(small_set):
    path = small_set.images[2]
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    ds = AttributeDataset(small_set, "trainval", build_transform((8, 4)))
    with pytest.raises(ImageDecodeError, match="002.png"):
        ds[2]


def test_target_transform_is_applied(small_set):
    ds = AttributeDataset(small_set, "test", build_transform((8, 4)), target_transform=lambda y: y * 2)
    assert ds[0][1].max() <= 2 and ds[0][1].tolist() == (small_set.labels[3] * 2).astype(float).tolist()
