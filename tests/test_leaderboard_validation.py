"""Validation of leaderboard submissions: one crafted bad file per rule, each message checked."""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leaderboard.benchmark import attribute_benchmark, reid_benchmark
from leaderboard.submission import MAX_EXAMPLES, safe_display_name, sniff_format, validate_bytes, validate_file
from pa100k.attribute_set import AttributeSet
from pa100k.schemas import get_schema

SCHEMA = get_schema("pa100k")
N = 12
NAMES = [f"{i:06d}.jpg" for i in range(90001, 90001 + N)]


def make_benchmark(labels_seed: int = 0, max_bytes: int | None = None):
    rng = np.random.default_rng(labels_seed)
    data = AttributeSet(schema=SCHEMA, names=NAMES, images=[b""] * N, labels=rng.integers(0, 2, (N, 26)),
                        splits={"test": np.arange(N)}, dataset="toy")
    return attribute_benchmark("toy-test", data, "test", partition_seed="fixed", max_bytes=max_bytes, bootstrap=0)


INFO = make_benchmark().info


def good_frame(seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(rng.random((N, 26)).round(4), columns=list(SCHEMA.attributes))
    df.insert(0, "image", NAMES)
    return df


def csv_bytes(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False).encode("utf-8")


def parquet_bytes(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


def problems(data: bytes, info=INFO):
    parsed = validate_bytes(data, info, display_name="sub.csv")
    assert not parsed.report.ok and parsed.predictions is None
    return parsed.report


def only(report, code):
    found = [p for p in report.problems if p.code == code]
    assert found, f"no {code!r} problem in:\n{report.to_text()}"
    return found


# ------------------------------------------------------------------------------------------ valid files


def test_valid_csv_is_aligned_with_the_benchmark_order():
    df = good_frame().sample(frac=1.0, random_state=3)  # rows in another order
    parsed = validate_bytes(csv_bytes(df), INFO)
    assert parsed.report.ok, parsed.report.to_text()
    expected = good_frame()[list(SCHEMA.attributes)].to_numpy()
    np.testing.assert_array_equal(parsed.predictions.scores, expected)
    assert parsed.predictions.score_type == "prob"
    assert parsed.report.format == "csv" and parsed.report.rows == N


def test_valid_csv_with_columns_in_any_order_and_utf8_bom():
    df = good_frame()
    cols = list(df.columns)
    df = df[cols[::-1]]
    parsed = validate_bytes(b"\xef\xbb\xbf" + csv_bytes(df), INFO)
    assert parsed.report.ok, parsed.report.to_text()
    np.testing.assert_array_equal(parsed.predictions.scores, good_frame()[list(SCHEMA.attributes)].to_numpy())


def test_valid_parquet_matches_csv():
    df = good_frame()
    a = validate_bytes(parquet_bytes(df), INFO)
    b = validate_bytes(csv_bytes(df), INFO)
    assert a.report.ok and a.report.format == "parquet"
    np.testing.assert_array_equal(a.predictions.scores, b.predictions.scores)


def test_zero_one_labels_are_detected_as_labels():
    df = good_frame()
    df[list(SCHEMA.attributes)] = (df[list(SCHEMA.attributes)] > 0.5).astype(int)
    parsed = validate_bytes(csv_bytes(df), INFO)
    assert parsed.report.ok and parsed.predictions.score_type == "label"
    assert "hard labels" in parsed.report.warnings[0]


def test_example_file_in_the_package_is_valid_for_its_names():
    from importlib import resources

    text = resources.files("leaderboard").joinpath("examples", "attributes.csv").read_bytes()
    names = pd.read_csv(io.BytesIO(text))["image"].tolist()
    data = AttributeSet(schema=SCHEMA, names=names, images=[b""] * len(names),
                        labels=np.tile([0, 1], (len(names), 13)), splits={"test": np.arange(len(names))})
    info = attribute_benchmark("example", data, "test", partition_seed="x", public_fraction=0.5).info
    parsed = validate_bytes(text, info)
    assert parsed.report.ok, parsed.report.to_text()


# ------------------------------------------------------------------------------------------ file-level rules


def test_empty_file_is_refused():
    report = problems(b"")
    assert only(report, "empty")[0].message == "the file is empty (0 bytes)"


def test_header_without_rows_is_refused():
    report = problems(csv_bytes(good_frame().iloc[:0]))
    assert "no data rows" in only(report, "empty")[0].message


def test_file_over_the_size_cap_is_refused_before_reading(tmp_path):
    info = make_benchmark(max_bytes=1000).info
    path = tmp_path / "big.csv"
    path.write_bytes(csv_bytes(good_frame()))
    report = validate_file(path, info).report
    p = only(report, "size")[0]
    assert "accepts at most 1000" in p.message and report.sha256 == ""  # never hashed, never read


@pytest.mark.parametrize("kind", ["zip", "gzip", "tar", "bzip2", "xz"])
def test_archives_are_refused(kind):
    raw = csv_bytes(good_frame())
    if kind == "zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("sub.csv", raw)
        data = buf.getvalue()
    elif kind == "gzip":
        data = gzip.compress(raw)
    elif kind == "tar":
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            info = tarfile.TarInfo("sub.csv")
            info.size = len(raw)
            tf.addfile(info, io.BytesIO(raw))
        data = buf.getvalue()
    elif kind == "bzip2":
        import bz2

        data = bz2.compress(raw)
    else:
        import lzma

        data = lzma.compress(raw)
    report = problems(data)
    p = only(report, "archive")[0]
    assert "refused" in p.message and ("archive" in p.message)


def test_utf16_file_is_refused_with_encoding_hint():
    report = problems(csv_bytes(good_frame()).decode().encode("utf-16"))
    assert "UTF-16" in only(report, "encoding")[0].message


def test_invalid_utf8_reports_the_line():
    raw = csv_bytes(good_frame()).split(b"\n")
    raw[3] = raw[3].replace(b".jpg", b"\xe9.jpg", 1)  # latin-1 é inside line 4
    report = problems(b"\n".join(raw))
    p = only(report, "encoding")[0]
    assert p.line == 4 and "not valid UTF-8: byte 0xe9" in p.message


def test_semicolon_separated_file_is_refused():
    report = problems(good_frame().to_csv(index=False, sep=";").encode())
    assert "semicolon-separated" in only(report, "delimiter")[0].message


def test_single_npy_file_is_refused():
    buf = io.BytesIO()
    np.save(buf, np.zeros((N, 26), dtype=np.float32))
    report = problems(buf.getvalue())
    assert "single .npy" in only(report, "format")[0].message


def test_corrupt_parquet_is_reported():
    data = parquet_bytes(good_frame())
    report = problems(data[:40] + data[-40:])
    assert "parquet" in only(report, "format")[0].message


# ------------------------------------------------------------------------------------------ columns


def test_missing_attribute_column_is_named():
    report = problems(csv_bytes(good_frame().drop(columns=["Hat"])))
    assert only(report, "missing-column")[0].message == "required column 'Hat' is missing"


def test_missing_image_column_is_named():
    report = problems(csv_bytes(good_frame().rename(columns={"image": "name"})))
    assert any(p.column == "image" for p in only(report, "missing-column"))
    assert only(report, "unknown-column")[0].column_number == 1


def test_unknown_column_has_number_and_case_hint():
    report = problems(csv_bytes(good_frame().rename(columns={"Female": "female"})))
    p = only(report, "unknown-column")[0]
    assert p.column == "female" and p.column_number == 2 and "did you mean 'Female'" in p.message
    assert "case-sensitive" in only(report, "missing-column")[0].message


def test_duplicated_column_is_reported():
    text = csv_bytes(good_frame()).decode().splitlines()
    text = [line + "," + line.split(",")[1] for line in text]  # repeat the Female column at the end
    report = problems(("\n".join(text) + "\n").encode())
    p = only(report, "duplicate-column")[0]
    assert p.column == "Female" and p.column_number == 28 and "first as column 2" in p.message


def test_row_with_wrong_field_count_is_reported_by_line():
    lines = csv_bytes(good_frame()).decode().splitlines()
    lines[5] = lines[5].rsplit(",", 1)[0]  # drop the last field of line 6
    report = problems(("\n".join(lines) + "\n").encode())
    p = only(report, "fields")[0]
    assert p.line == 6 and p.message == "26 fields; the header has 27"


def test_parquet_string_attribute_column_is_a_dtype_error():
    df = good_frame()
    df["Hat"] = df["Hat"].astype(str)
    report = problems(parquet_bytes(df))
    p = only(report, "dtype")[0]
    assert p.column == "Hat" and "string" in p.message and "expected float, integer or boolean" in p.message


def test_parquet_integer_image_column_is_a_dtype_error():
    df = good_frame()
    df["image"] = np.arange(N)
    report = problems(parquet_bytes(df))
    p = only(report, "dtype")[0]
    assert p.column == "image" and "int64" in p.message


# ------------------------------------------------------------------------------------------ images


def test_duplicated_image_cites_the_first_line():
    df = good_frame()
    df.loc[4, "image"] = NAMES[1]
    report = problems(csv_bytes(df))
    p = only(report, "duplicate-image")[0]
    assert p.line == 6 and "first at line 3" in p.message
    assert NAMES[4] in only(report, "missing-images")[0].message


def test_unknown_image_with_folder_gets_a_hint():
    df = good_frame()
    df.loc[0, "image"] = "data/" + NAMES[0]
    report = problems(csv_bytes(df))
    p = only(report, "unknown-image")[0]
    assert p.line == 2 and p.column == "image" and "names carry no folder" in p.message


def test_missing_images_are_counted_and_listed():
    report = problems(csv_bytes(good_frame().iloc[:9]))
    p = only(report, "missing-images")[0]
    assert p.message.startswith("3 of the 12 images") and repr(NAMES[-1]) in p.message


def test_empty_image_name_is_a_missing_value():
    df = good_frame()
    df.loc[2, "image"] = ""
    report = problems(csv_bytes(df))
    p = only(report, "missing-value")[0]
    assert p.line == 4 and p.column == "image"


# ------------------------------------------------------------------------------------------ values


def test_nan_value_is_located():
    df = good_frame()
    df.loc[3, "Glasses"] = np.nan
    df_text = csv_bytes(df).decode().replace(",,", ",nan,")
    report = problems(df_text.encode())
    p = only(report, "nan")[0]
    assert (p.line, p.column, p.column_number) == (5, "Glasses", 10)


def test_infinite_value_is_located():
    df = good_frame().astype({"Backpack": object})
    df.loc[7, "Backpack"] = "inf"
    report = problems(csv_bytes(df))
    p = only(report, "inf")[0]
    assert p.line == 9 and p.column == "Backpack" and "value is inf" in p.message


def test_out_of_range_values_suggest_a_sigmoid():
    df = good_frame()
    df.loc[0, "Female"] = 1.5
    df.loc[1, "Hat"] = -0.25
    report = problems(csv_bytes(df))
    found = only(report, "range")
    assert [(p.line, p.column) for p in found] == [(2, "Female"), (3, "Hat")]
    assert "value 1.5 is outside [0, 1] (apply a sigmoid to logits)" == found[0].message


def test_non_numeric_value_is_a_dtype_error():
    df = good_frame().astype({"Shorts": object})
    df.loc[10, "Shorts"] = "0,5"
    report = problems(csv_bytes(df).replace(b'"0,5"', b'"0,5"'))
    p = only(report, "dtype")[0]
    assert p.line == 12 and p.column == "Shorts" and "'0,5' is not a number" in p.message


def test_empty_value_is_a_missing_value():
    df = good_frame().astype({"boots": object})
    df.loc[5, "boots"] = ""
    report = problems(csv_bytes(df))
    p = only(report, "missing-value")[0]
    assert p.line == 7 and p.column == "boots" and p.column_number == 27


def test_parquet_null_is_located_by_row():
    df = good_frame()
    df.loc[8, "Trousers"] = None
    report = problems(parquet_bytes(df))
    p = only(report, "missing-value")[0]
    assert p.row == 9 and p.line is None and p.column == "Trousers"


# ------------------------------------------------------------------------------------------ reporting


def test_every_problem_is_reported_at_once():
    df = good_frame().drop(columns=["Side"]).rename(columns={"Hat": "hat"})
    df.loc[0, "Female"] = 2.0
    df.loc[1, "image"] = "nope.jpg"
    df.loc[2, "image"] = NAMES[0]
    report = problems(csv_bytes(df))
    assert set(report.counts) == {"missing-column", "unknown-column", "range", "unknown-image", "duplicate-image",
                                  "missing-images"}
    text = report.to_text()
    assert "line 2, column 'Female' (2)" in text and "'nope.jpg'" in text


def test_many_problems_of_one_kind_are_counted_and_capped():
    df = good_frame()
    df[list(SCHEMA.attributes)] = 3.0
    report = problems(csv_bytes(df))
    assert report.counts["range"] == N * 26
    assert len([p for p in report.problems if p.code == "range"]) == MAX_EXAMPLES
    assert f"and {N * 26 - MAX_EXAMPLES} more [range] problems" in report.to_text()


def test_validation_does_not_depend_on_hidden_labels():
    bad = good_frame()
    bad.loc[0, "Female"] = 7.0
    bad.loc[3, "image"] = "x.jpg"
    data = csv_bytes(bad)
    a = validate_bytes(data, make_benchmark(labels_seed=0).info).report.to_dict()
    b = validate_bytes(data, make_benchmark(labels_seed=99).info).report.to_dict()
    assert a == b and not a["ok"]


def test_report_round_trips_through_json():
    import json

    report = problems(csv_bytes(good_frame().drop(columns=["Hat"])))
    from leaderboard.submission import ValidationReport

    again = ValidationReport.from_dict(json.loads(json.dumps(report.to_dict())))
    assert again.to_text() == report.to_text()


@pytest.mark.parametrize("name,expected", [
    ("../../x", "x"), ("..\\..\\evil.csv", "evil.csv"), ("/etc/passwd", "passwd"), ("", "upload"),
    ("..", "upload"), ("a\x00b\nc.csv", "abc.csv"), (".hidden", "hidden"),
])
def test_client_file_names_are_reduced_for_display(name, expected):
    assert safe_display_name(name) == expected


def test_sniff_format_ignores_the_name_and_reads_bytes():
    assert sniff_format(parquet_bytes(good_frame())) == "parquet"
    assert sniff_format(csv_bytes(good_frame())) == "csv"
    assert sniff_format(gzip.compress(b"x")) == "gzip"


# ------------------------------------------------------------------------------------------ ReID

QN = [f"q{i:03d}.jpg" for i in range(6)]
GN = [f"g{i:03d}.jpg" for i in range(10)]


def reid_info(depth: int = 5):
    return reid_benchmark("toy-reid", QN, np.arange(6) % 3 + 1, np.zeros(6, dtype=int), GN, np.arange(10) % 3 + 1,
                          np.ones(10, dtype=int), partition_seed="p", ranking_depth=depth, bootstrap=0).info


def npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def good_npz(**override):
    rng = np.random.default_rng(0)
    arrays = {"query_features": rng.standard_normal((6, 8)).astype(np.float32),
              "gallery_features": rng.standard_normal((10, 8)).astype(np.float32),
              "query_names": np.array(QN), "gallery_names": np.array(GN)}
    arrays.update(override)
    return {k: v for k, v in arrays.items() if v is not None}


def test_valid_npz_is_aligned():
    arrays = good_npz()
    perm = np.array([5, 4, 3, 2, 1, 0])
    arrays["query_features"], arrays["query_names"] = arrays["query_features"][perm], arrays["query_names"][perm]
    parsed = validate_bytes(npz_bytes(**arrays), reid_info())
    assert parsed.report.ok, parsed.report.to_text()
    np.testing.assert_array_equal(parsed.predictions.query_features, good_npz()["query_features"])


def test_npz_missing_key_is_named():
    report = problems(npz_bytes(**good_npz(gallery_names=None)), reid_info())
    assert only(report, "missing-column")[0].message == "key 'gallery_names' is missing from the npz"


def test_npz_float64_features_are_a_dtype_error():
    report = problems(npz_bytes(**good_npz(query_features=np.zeros((6, 8)))), reid_info())
    p = only(report, "dtype")[0]
    assert p.column == "query_features" and "float64; expected float32" in p.message


def test_npz_dimension_mismatch_is_reported():
    report = problems(npz_bytes(**good_npz(gallery_features=np.zeros((10, 4), np.float32))), reid_info())
    assert "dimension 8, gallery features 4" in only(report, "shape")[0].message


def test_npz_nan_feature_row_is_located():
    q = good_npz()["query_features"]
    q[2, 3] = np.nan
    report = problems(npz_bytes(**good_npz(query_features=q)), reid_info())
    p = only(report, "nan")[0]
    assert p.row == 3 and p.column == "query_features"


def test_npz_object_arrays_are_refused_without_unpickling():
    report = problems(npz_bytes(**good_npz(query_names=np.array(QN, dtype=object))), reid_info())
    assert "pickled" in only(report, "dtype")[0].message


def test_npz_name_count_must_match_features():
    report = problems(npz_bytes(**good_npz(query_names=np.array(QN[:5]))), reid_info())
    assert "5 names for 6 feature rows" in only(report, "shape")[0].message


def test_zip_that_is_not_an_npz_is_refused_for_reid():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("features.csv", "a,b\n")
    report = problems(buf.getvalue(), reid_info())
    assert "archives are refused" in only(report, "archive")[0].message


def ranking_csv(rows) -> bytes:
    header = ",".join(["query", *(f"rank{k}" for k in range(1, 6))])
    return ("\n".join([header, *(",".join(r) for r in rows)]) + "\n").encode()


def test_valid_ranking_csv():
    rows = [[q, *GN[i:i + 5]] for i, q in enumerate(QN)]
    parsed = validate_bytes(ranking_csv(rows), reid_info())
    assert parsed.report.ok and parsed.report.format == "ranking-csv"
    assert parsed.predictions.ranking[1].tolist() == [1, 2, 3, 4, 5]


def test_ranking_with_unknown_and_repeated_gallery_names():
    rows = [[q, *GN[:5]] for q in QN]
    rows[2][3] = "zzz.jpg"
    rows[4][5] = GN[0]
    report = problems(ranking_csv(rows), reid_info())
    unknown = only(report, "unknown-image")[0]
    assert (unknown.line, unknown.column) == (4, "rank3")
    assert only(report, "duplicate-gallery")[0].line == 6


def test_ranking_with_too_few_columns():
    rows = [[q, *GN[:4]] for q in QN]
    text = "\n".join(["query,rank1,rank2,rank3,rank4", *(",".join(r) for r in rows)]) + "\n"
    report = problems(text.encode(), reid_info())
    assert only(report, "missing-column")[0].message == "required column 'rank5' is missing"


def test_reid_example_files_in_the_package_are_valid():
    from importlib import resources

    folder = resources.files("leaderboard").joinpath("examples")
    npz = folder.joinpath("reid_features.npz").read_bytes()
    with np.load(io.BytesIO(npz)) as z:
        qn, gn = z["query_names"], z["gallery_names"]
    pid = lambda names: np.array([int(n[:4]) for n in names])
    cam = lambda names: np.array([int(n[6]) for n in names])
    info = reid_benchmark("example-reid", qn, pid(qn), cam(qn), gn, pid(gn), cam(gn), partition_seed="p",
                          public_fraction=0.5, bootstrap=0).info
    for data in (npz, folder.joinpath("reid_ranking.csv").read_bytes()):
        parsed = validate_bytes(data, info)
        assert parsed.report.ok, parsed.report.to_text()


def test_validate_file_names_a_missing_file(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        validate_file(tmp_path / "nope.csv", INFO)
