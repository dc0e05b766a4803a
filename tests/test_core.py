"""Registry, schemas and AttributeSet: the core every other module stands on."""

import numpy as np
import pytest

import pa100k
from pa100k.attribute_set import AttributeSet, ImageDecodeError, open_image
from pa100k.registry import Registry
from pa100k.schemas import AttributeSchema


def _set(n=10, with_mask=False):
    schema = pa100k.get_schema("pa100k")
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=(n, schema.num_attributes), dtype=np.uint8)
    mask = rng.random((n, schema.num_attributes)) > 0.2 if with_mask else None
    if mask is not None:
        labels[~mask] = 0
    return AttributeSet(schema=schema, names=[f"{i:06d}.jpg" for i in range(n)], images=[b""] * n,
                        labels=labels, splits={"train": np.arange(6), "val": [6, 7], "test": [8, 9]},
                        mask=mask, meta={"tracklet": np.arange(n) // 2}, dataset="unit")


def test_registry_duplicate_name_raises():
    reg = Registry("thing")
    reg.add("a", 1)
    with pytest.raises(ValueError, match="already registered"):
        reg.add("a", 2)


def test_registry_unknown_name_lists_valid_names():
    reg = Registry("thing")
    reg.add("alpha", 1)
    reg.add("beta", 2)
    with pytest.raises(KeyError, match="alpha, beta"):
        reg.get("gamma")


def test_pa100k_schema_has_26_attributes_in_official_order():
    s = pa100k.get_schema("pa100k")
    assert s.num_attributes == 26
    assert s.attributes[0] == "Female" and s.attributes[-1] == "boots"
    assert s.index("Skirt&Dress") == 24
    assert s.group_of("Side") == ("Front", "Side", "Back")
    assert "Female" in s.binary_attributes and "AgeLess18" not in s.binary_attributes


def test_schema_round_trips_through_dict():
    s = pa100k.get_schema("peta")
    assert AttributeSchema.from_dict(s.to_dict()) == s


def test_schema_rejects_group_member_that_is_not_an_attribute():
    with pytest.raises(ValueError, match="not an attribute"):
        AttributeSchema("x", ("a", "b"), groups=(("a", "c"),))


def test_get_schema_unknown_lists_valid():
    with pytest.raises(KeyError, match="pa100k"):
        pa100k.get_schema("nope")


def test_attribute_set_trainval_is_train_plus_val():
    s = _set()
    assert s.split_indices("trainval").tolist() == [0, 1, 2, 3, 4, 5, 6, 7]


def test_attribute_set_unknown_split_lists_valid():
    with pytest.raises(KeyError, match="test, train, trainval, val"):
        _set().split_indices("testing")


def test_attribute_set_rejects_labels_outside_01():
    s = _set()
    labels = s.labels.copy()
    labels[0, 0] = 2
    with pytest.raises(ValueError, match="0/1"):
        AttributeSet(schema=s.schema, names=s.names, images=s.images, labels=labels)


def test_attribute_set_rejects_wrong_label_shape():
    s = _set()
    with pytest.raises(ValueError, match="shape"):
        AttributeSet(schema=s.schema, names=s.names, images=s.images, labels=s.labels[:, :5])


def test_attribute_set_subset_keeps_rows_and_meta():
    s = _set()
    sub = s.subset("test")
    assert sub.names.tolist() == ["000008.jpg", "000009.jpg"]
    assert (sub.labels == s.labels[[8, 9]]).all()
    assert sub.meta["tracklet"].tolist() == [4, 4]


def test_positive_ratio_ignores_unknown_labels():
    s = _set(with_mask=True)
    idx = s.split_indices("train")
    expected = (s.labels[idx] * s.mask[idx]).sum(0) / s.mask[idx].sum(0)
    np.testing.assert_allclose(s.positive_ratio("train"), expected)


def test_to_pandas_marks_unknown_labels_missing():
    s = _set(with_mask=True)
    df = s.to_pandas()
    i, j = np.argwhere(~s.mask)[0]
    assert df[s.schema.attributes[j]].isna().iloc[i]
    assert df["split"].tolist()[:7] == ["train"] * 6 + ["val"]


def test_open_image_names_a_truncated_jpeg(tmp_path):
    from PIL import Image

    path = tmp_path / "x.jpg"
    Image.new("RGB", (20, 40), (200, 10, 10)).save(path, quality=95)
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(ImageDecodeError, match="x.jpg"):
        open_image(path)


def test_open_image_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.jpg"):
        open_image(tmp_path / "missing.jpg")


def test_atomic_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "a.txt"
    with pytest.raises(RuntimeError), pa100k.atomic_write(target) as fh:
        fh.write("half")
        raise RuntimeError("crash")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_cli_help_lists_subcommands(capsys):
    from pa100k.cli import main

    assert main([]) == 0
    out = capsys.readouterr().out
    assert "COMMAND" in out
