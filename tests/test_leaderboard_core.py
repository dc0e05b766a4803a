"""Leaderboard benchmarks, scoring, store, quota under concurrency, crash consistency, rescoring and the CLI."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leaderboard.__main__ import main as cli
from leaderboard.benchmark import (
    attribute_benchmark,
    list_benchmarks,
    load_benchmark,
    public_partition,
    reid_benchmark,
    utcnow,
)
from leaderboard.scorer import PRIMARY_CONVENTION, score
from leaderboard.service import InvalidSubmission, Leaderboard
from leaderboard.store import AuthenticationError, QuotaExceeded, Store
from leaderboard.submission import validate_bytes
from pa100k.attribute_set import AttributeSet
from pa100k.schemas import get_schema

SCHEMA = get_schema("pa100k")
N = 60
NAMES = [f"{i:06d}.jpg" for i in range(90001, 90001 + N)]


def toy_set(seed: int = 0) -> AttributeSet:
    rng = np.random.default_rng(seed)
    labels = (rng.random((N, 26)) < 0.35).astype(np.uint8)
    mask = np.ones((N, 26), dtype=bool)
    mask[::7, 3] = False  # some unknown labels, as RAP has
    return AttributeSet(schema=SCHEMA, names=NAMES, images=[b""] * N, labels=labels, mask=mask,
                        splits={"test": np.arange(N)}, dataset="toy")


def toy_benchmark(name: str = "toy-test", **kw):
    kw.setdefault("partition_seed", "fixed")
    kw.setdefault("bootstrap", 50)
    kw.setdefault("reference_dataset", "PA-100K")
    return attribute_benchmark(name, toy_set(), "test", **kw)


def predictions_frame(seed: int = 1, names=NAMES) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(rng.random((len(names), 26)), columns=list(SCHEMA.attributes))
    df.insert(0, "image", names)
    return df


def write_predictions(path: Path, seed: int = 1) -> Path:
    predictions_frame(seed).to_csv(path, index=False, float_format="%.6f")
    return path


@pytest.fixture
def board(tmp_path: Path) -> Leaderboard:
    lb = Leaderboard(tmp_path / "lb")
    lb.add_benchmark(toy_benchmark())
    return lb


# ------------------------------------------------------------------------------------------ benchmarks


def test_public_partition_is_deterministic_and_near_the_fraction():
    names = np.array([f"{i:06d}.jpg" for i in range(4000)])
    a = public_partition(names, 0.5, "seed-a")
    assert np.array_equal(a, public_partition(names, 0.5, "seed-a"))
    assert not np.array_equal(a, public_partition(names, 0.5, "seed-b"))
    assert abs(a.mean() - 0.5) < 0.03
    assert abs(public_partition(names, 0.2, "seed-a").mean() - 0.2) < 0.03


def test_benchmark_round_trips_through_its_files(tmp_path):
    bench = toy_benchmark(reveal_at=utcnow() + timedelta(days=3))
    Leaderboard(tmp_path).add_benchmark(bench)
    again = load_benchmark(tmp_path, "toy-test")
    assert list(again.info.names) == NAMES and again.info.schema == SCHEMA
    np.testing.assert_array_equal(again.hidden.labels, bench.hidden.labels)
    np.testing.assert_array_equal(again.hidden.mask, bench.hidden.mask)
    np.testing.assert_array_equal(again.hidden.public, bench.hidden.public)
    assert again.info.reveal_at == bench.info.reveal_at and not again.info.revealed()
    assert list_benchmarks(tmp_path) == ["toy-test"]
    assert "labels" not in json.loads((tmp_path / "benchmarks" / "toy-test" / "benchmark.json").read_text())


def test_benchmark_names_are_checked():
    with pytest.raises(ValueError, match="benchmark name"):
        attribute_benchmark("../evil", toy_set(), "test")


def test_partition_that_empties_a_part_is_refused():
    data = toy_set().select(np.arange(2), splits={"test": np.arange(2)})
    with pytest.raises(ValueError, match="leaves one part empty"):
        attribute_benchmark("tiny", data, "test", public_fraction=0.01, partition_seed="s")


def test_missing_benchmark_lists_present_ones(tmp_path):
    Leaderboard(tmp_path).add_benchmark(toy_benchmark())
    with pytest.raises(FileNotFoundError, match="present: toy-test"):
        load_benchmark(tmp_path, "other")


def test_pa100k_test_benchmark_reads_annotation_mat(tmp_path):
    import scipy.io

    def cells(names):
        out = np.empty((len(names), 1), dtype=object)
        for i, n in enumerate(names):
            out[i, 0] = np.array([n])
        return out

    rng = np.random.default_rng(0)
    mat = {"attributes": cells(list(SCHEMA.attributes))}
    start = 1
    for split, n in (("train", 8), ("val", 2), ("test", 10)):
        mat[f"{split}_images_name"] = cells([f"{i:06d}.jpg" for i in range(start, start + n)])
        mat[f"{split}_label"] = (rng.random((n, 26)) < 0.4).astype(np.uint8)
        start += n
    scipy.io.savemat(tmp_path / "annotation.mat", mat)
    root = tmp_path / "lb"
    assert cli(["--root", str(root), "add-benchmark", "pa100k-test", "--data-root", str(tmp_path),
                "--partition-seed", "s"]) == 0
    bench = load_benchmark(root, "pa100k-test")
    assert list(bench.info.names) == [f"{i:06d}.jpg" for i in range(11, 21)]
    np.testing.assert_array_equal(bench.hidden.labels, mat["test_label"])
    assert bench.info.reference_dataset == "PA-100K"


# ------------------------------------------------------------------------------------------ scoring


@pytest.mark.filterwarnings("ignore::pa100k.metrics.UndefinedMetricWarning")
def test_correct_submission_scores_exactly_what_pa100k_metrics_gives(tmp_path):
    from pa100k.metrics import attribute_metrics, list_conventions

    bench = toy_benchmark()
    parsed = validate_bytes(predictions_frame().to_csv(index=False).encode(), bench.info)
    result = score(bench, parsed.predictions)
    y = predictions_frame()[list(SCHEMA.attributes)].to_numpy()
    for part in ("public", "private"):
        rows = bench.part_rows(part)
        expected = attribute_metrics(bench.hidden.labels[rows], y[rows], mask=bench.hidden.mask[rows],
                                     convention="li2016", score_type="prob")
        got = result[part]
        assert got["convention"] == PRIMARY_CONVENTION and got["n"] == len(rows)
        for key in ("mA", "accuracy", "precision", "recall", "f1"):
            assert got["metrics"][key] == getattr(expected, key)
            ci = got["ci"][key]
            assert ci["low"] <= got["metrics"][key] <= ci["high"]
        assert got["per_attribute"]["mA"] == [float(v) for v in expected.mA_j]
        for conv in list_conventions():
            if conv != "li2016":
                other = attribute_metrics(bench.hidden.labels[rows], y[rows], mask=bench.hidden.mask[rows],
                                          convention=conv)
                assert got["conventions"][conv]["mA"] == pytest.approx(other.mA, nan_ok=True, abs=0)
    assert result["public"]["n"] + result["private"]["n"] == N


def test_perfect_labels_score_one(tmp_path):
    bench = toy_benchmark()
    df = pd.DataFrame(bench.hidden.labels, columns=list(SCHEMA.attributes))
    df.insert(0, "image", NAMES)
    parsed = validate_bytes(df.to_csv(index=False).encode(), bench.info)
    assert parsed.predictions.score_type == "label"
    res = score(bench, parsed.predictions, bootstrap=0)
    assert res["public"]["metrics"]["mA"] == 1.0 and res["private"]["metrics"]["f1"] == 1.0


def test_reid_features_and_equivalent_ranking_score_the_same():
    rng = np.random.default_rng(0)
    qn = [f"q{i}.jpg" for i in range(20)]
    gn = [f"g{i}.jpg" for i in range(30)]
    q_pids, g_pids = np.arange(20) % 10 + 1, np.arange(30) % 10 + 1
    bench = reid_benchmark("toy-reid", qn, q_pids, np.zeros(20, int), gn, g_pids, np.ones(30, int),
                           partition_seed="s", ranking_depth=30, bootstrap=20)
    centers = rng.standard_normal((11, 16))
    qf = (centers[q_pids] + 0.8 * rng.standard_normal((20, 16))).astype(np.float32)
    gf = (centers[g_pids] + 0.8 * rng.standard_normal((30, 16))).astype(np.float32)
    import io

    buf = io.BytesIO()
    np.savez(buf, query_features=qf, gallery_features=gf, query_names=np.array(qn), gallery_names=np.array(gn))
    by_features = score(bench, validate_bytes(buf.getvalue(), bench.info).predictions)
    qn_ = qf / np.linalg.norm(qf, axis=1, keepdims=True)
    gn_ = gf / np.linalg.norm(gf, axis=1, keepdims=True)
    order = np.argsort(1 - qn_ @ gn_.T, axis=1, kind="stable")
    lines = ["query," + ",".join(f"rank{k}" for k in range(1, 31))]
    lines += [",".join([qn[i], *(gn[j] for j in order[i])]) for i in range(20)]
    by_ranking = score(bench, validate_bytes(("\n".join(lines) + "\n").encode(), bench.info).predictions)
    for part in ("public", "private"):
        for key in ("rank1", "rank5", "mAP"):
            assert by_features[part]["metrics"][key] == pytest.approx(by_ranking[part]["metrics"][key], abs=1e-12)
        assert 0 < by_features[part]["metrics"]["rank1"] <= 1


# ------------------------------------------------------------------------------------------ store


def test_tokens_are_stored_hashed(board, tmp_path):
    token = board.store.add_user("alice", daily_quota=3)
    owner = board.store.authenticate(token)
    assert owner.user == "alice" and owner.daily_quota == 3
    raw = (tmp_path / "lb" / "leaderboard.sqlite3").read_bytes()
    raw += b"".join(p.read_bytes() for p in (tmp_path / "lb").glob("leaderboard.sqlite3-wal"))
    assert token.encode() not in raw
    with pytest.raises(AuthenticationError):
        board.store.authenticate(token[:-1] + ("A" if token[-1] != "A" else "B"))
    board.store.revoke_token(token)
    with pytest.raises(AuthenticationError):
        board.store.authenticate(token)


def test_store_uses_wal_foreign_keys_and_busy_timeout(board):
    with board.store.connection() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 30000


def test_unknown_database_scheme_lists_valid_ones(tmp_path):
    with pytest.raises(KeyError, match="valid names: sqlite"):
        Store("postgresql://localhost/leaderboard")


def test_submission_is_stored_with_file_and_score(board, tmp_path):
    token = board.store.add_user("alice")
    path = write_predictions(tmp_path / "pred.csv")
    res = board.submit_file(path, benchmark="toy-test", token=token, method="HP-net", paper_url="https://example.org/p")
    sub = board.submission(res.id)
    assert sub.method == "HP-net" and sub.user == "alice" and sub.file_name == "pred.csv"
    assert board.blobs.read(sub.file_sha256) == path.read_bytes()
    assert sub.score.public == res.public and sub.score.version == 1
    assert sub.report["ok"] and board.verify() == []


def test_invalid_submission_is_refused_and_leaves_nothing(board, tmp_path):
    token = board.store.add_user("alice")
    df = predictions_frame()
    df.loc[0, "Female"] = 3.0
    df.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(InvalidSubmission) as err:
        board.submit_file(tmp_path / "bad.csv", benchmark="toy-test", token=token, method="x")
    assert err.value.report.counts == {"range": 1}
    assert board.store.counts()["submissions"] == 0 and not any((tmp_path / "lb" / "tmp").iterdir())


def test_file_over_the_cap_is_refused_before_staging_it_whole(tmp_path):
    lb = Leaderboard(tmp_path / "lb")
    lb.add_benchmark(toy_benchmark(max_bytes=2000))
    token = lb.store.add_user("alice")
    with pytest.raises(InvalidSubmission) as err:
        lb.submit_file(write_predictions(tmp_path / "p.csv"), benchmark="toy-test", token=token, method="m")
    assert err.value.report.counts == {"size": 1} and "accepts at most 2000" in str(err.value)
    assert lb.store.counts()["submissions"] == 0 and not list((lb.root / "tmp").glob("upload-*"))


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://x/y", "http://"])
def test_paper_link_must_be_http(board, tmp_path, url):
    token = board.store.add_user("alice")
    with pytest.raises(ValueError, match="paper link"):
        board.submit_file(write_predictions(tmp_path / "p.csv"), benchmark="toy-test", token=token, method="m",
                          paper_url=url)


def _submit_many(board: Leaderboard, path: Path, token: str, threads: int) -> tuple[list, list]:
    barrier = threading.Barrier(threads)
    ok, refused, errors = [], [], []

    def worker(k: int) -> None:
        barrier.wait()
        try:
            ok.append(board.submit_file(path, benchmark="toy-test", token=token, method=f"m{k}").id)
        except QuotaExceeded as exc:
            refused.append(exc)
        except Exception as exc:  # noqa: BLE001 - any other failure fails the test below
            errors.append(exc)

    workers = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert errors == []
    return ok, refused


def test_quota_holds_under_20_concurrent_submissions(board, tmp_path):
    token = board.store.add_user("alice", daily_quota=7)
    ok, refused = _submit_many(board, write_predictions(tmp_path / "p.csv"), token, 20)
    assert len(ok) == 7 and len(refused) == 13
    assert board.store.counts()["submissions"] == 7 and board.store.counts()["scores"] == 7
    assert all(e.limit == 7 for e in refused)
    assert board.verify() == []


def test_no_row_is_lost_under_20_concurrent_submissions(board, tmp_path):
    token = board.store.add_user("bob", daily_quota=100)
    ok, refused = _submit_many(board, write_predictions(tmp_path / "p.csv"), token, 20)
    assert len(set(ok)) == 20 and refused == []
    assert sorted(s.id for s in board.store.submissions("toy-test")) == sorted(ok)
    assert board.store.counts()["files"] == 1  # same content, stored once


def test_rescore_keeps_the_history(board, tmp_path):
    token = board.store.add_user("alice")
    sid = board.submit_file(write_predictions(tmp_path / "p.csv"), benchmark="toy-test", token=token, method="m").id
    assert board.rescore(reason="metric fix") == [(sid, 2, "rescored")]
    history = board.store.score_history(sid)
    assert [h.version for h in history] == [1, 2] and [h.is_current for h in history] == [False, True]
    assert history[1].reason == "metric fix" and board.submission(sid).score.version == 2
    assert history[0].public["metrics"] == history[1].public["metrics"]
    with pytest.raises(KeyError, match="unknown submission"):
        board.rescore(ids=[999])


# ------------------------------------------------------------------------------------------ board


def test_board_ranks_submissions_and_labels_paper_rows(board, tmp_path):
    token = board.store.add_user("alice")
    a = board.submit_file(write_predictions(tmp_path / "a.csv", seed=1), benchmark="toy-test", token=token, method="A")
    b = board.submit_file(write_predictions(tmp_path / "b.csv", seed=2), benchmark="toy-test", token=token, method="B")
    brd = board.board("toy-test")
    assert brd.part == "public"
    subs = [r for r in brd.rows if not r.reference]
    refs = [r for r in brd.rows if r.reference]
    assert {r.method for r in refs} == {"DeepMar", "M-net", "HP-net"}
    assert next(r for r in refs if r.method == "HP-net").metrics["mA"] == pytest.approx(0.7421)
    assert sorted(r.rank for r in subs) == [1, 2]
    best = max((a, b), key=lambda r: r.public["metrics"]["mA"])
    assert next(r for r in subs if r.rank == 1).submission_id == best.id
    with pytest.raises(PermissionError, match="revealed at"):
        board.board("toy-test", "private")


def test_private_part_is_shown_after_the_reveal_date(board, tmp_path):
    token = board.store.add_user("alice")
    res = board.submit_file(write_predictions(tmp_path / "a.csv"), benchmark="toy-test", token=token, method="A")
    board.set_reveal("toy-test", utcnow() - timedelta(seconds=1))
    brd = board.board("toy-test")
    assert brd.part == "private"
    row = next(r for r in brd.rows if not r.reference)
    assert row.metrics["mA"] == board.submission(res.id).score.private["metrics"]["mA"]


def test_export_csv_and_markdown(board, tmp_path):
    token = board.store.add_user("alice")
    res = board.submit_file(write_predictions(tmp_path / "a.csv"), benchmark="toy-test", token=token, method="A|B")
    text = board.export("toy-test", "csv")
    df = pd.read_csv(__import__("io").StringIO(text))
    assert list(df.columns[:5]) == ["rank", "method", "kind", "user", "mA"]
    row = df[df["kind"] == "submission"].iloc[0]
    assert row["mA"] == pytest.approx(round(100 * res.public["metrics"]["mA"], 2))
    assert (df["kind"] == "paper").sum() == 3
    md = board.export("toy-test", "markdown")
    assert "| 1 | A\\|B | submission |" in md and md.startswith("### ")


# ------------------------------------------------------------------------------------------ crash consistency
# The child is a forked process (modules already imported, so it starts in milliseconds) that is killed
# with SIGKILL, by itself at a chosen point or by the parent at an arbitrary moment.


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _child(root: str, path: str, token: str, point: str, counter) -> None:
    from leaderboard.blobs import BlobStore
    from leaderboard.store import Store

    def after(owner, attr, static=False):
        original = getattr(owner, attr)

        def wrapped(*args, **kwargs):
            original(*args, **kwargs)
            _die()

        setattr(owner, attr, staticmethod(wrapped) if static else wrapped)

    if point == "staged":  # file staged and fsynced, not moved to its address
        BlobStore.commit = lambda self, staged: _die()
    elif point == "blob":  # file at its address, no database row
        after(BlobStore, "commit")
    elif point == "transaction":  # rows inserted inside the transaction, COMMIT not reached
        after(Store, "_insert_score", static=True)
    elif point == "committed":  # the transaction committed
        after(Leaderboard, "submit_staged")
    lb = Leaderboard(root)
    while True:
        lb.submit_file(path, benchmark="toy-test", token=token, method=f"m{counter.value}")
        with counter.get_lock():
            counter.value += 1


def _run_child(root: Path, path: Path, token: str, point: str, kill_after: int | None = None) -> int:
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    counter = ctx.Value("i", 0)
    proc = ctx.Process(target=_child, args=(str(root), str(path), token, point, counter))
    proc.start()
    if kill_after is not None:
        deadline = time.time() + 60
        while counter.value < kill_after and proc.is_alive() and time.time() < deadline:
            time.sleep(0.005)
        time.sleep(0.03)  # somewhere inside the next submission
        os.kill(proc.pid, signal.SIGKILL)
    proc.join(timeout=60)
    assert proc.exitcode == -signal.SIGKILL
    return counter.value


@pytest.mark.parametrize("point,expected", [("staged", 0), ("blob", 0), ("transaction", 0), ("committed", 1)])
def test_process_killed_mid_submission_leaves_the_store_consistent(tmp_path, point, expected):
    root = tmp_path / "lb"
    lb = Leaderboard(root)
    lb.add_benchmark(toy_benchmark(bootstrap=0))
    token = lb.store.add_user("alice", daily_quota=100)
    path = write_predictions(tmp_path / "p.csv")
    _run_child(root, path, token, point)
    again = Leaderboard(root)  # a restart
    assert again.store.counts()["submissions"] == expected
    assert again.store.counts()["scores"] == expected
    assert again.verify() == []
    staged = list((root / "tmp").glob("upload-*"))
    assert len(staged) == (1 if point == "staged" else 0)
    again.recover(stale_after_s=0)
    assert not any((root / "tmp").glob("upload-*"))
    res = again.submit_file(path, benchmark="toy-test", token=token, method="after restart")
    assert again.store.counts()["submissions"] == expected + 1 and again.submission(res.id).score.version == 1
    assert again.verify() == []


def test_process_killed_at_an_arbitrary_moment_leaves_complete_submissions(tmp_path):
    root = tmp_path / "lb"
    lb = Leaderboard(root)
    lb.add_benchmark(toy_benchmark(bootstrap=0))
    token = lb.store.add_user("alice", daily_quota=10_000)
    path = write_predictions(tmp_path / "p.csv")
    done = _run_child(root, path, token, "loop", kill_after=3)
    again = Leaderboard(root)
    n = again.store.counts()["submissions"]
    assert n in (done, done + 1) and again.store.counts()["scores"] == n
    assert again.verify() == []


# ------------------------------------------------------------------------------------------ CLI


def test_cli_add_user_submit_list_show_export_rescore(tmp_path, capsys, monkeypatch):
    root = tmp_path / "lb"
    monkeypatch.setenv("LEADERBOARD_HOME", str(root))
    Leaderboard().add_benchmark(toy_benchmark())
    assert cli(["add-user", "carol", "--quota", "2"]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("lbt_")
    pred = write_predictions(tmp_path / "predictions.csv")
    assert cli(["score", str(pred), "-b", "toy-test", "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)
    assert scored["report"]["ok"] and set(scored["scores"]) == {"public", "private"}
    assert cli(["submit", str(pred), "-b", "toy-test", "--token", token, "--method", "M-net (ours)"]) == 0
    out = capsys.readouterr().out
    assert "submission 1 stored" in out and f"{100 * scored['scores']['public']['metrics']['mA']:.2f}" in out
    assert cli(["list"]) == 0 and "M-net (ours)" in capsys.readouterr().out
    assert cli(["show", "1"]) == 0 and "private" in capsys.readouterr().out
    assert cli(["rescore", "1", "--reason", "test"]) == 0 and "version 2" in capsys.readouterr().out
    out_file = tmp_path / "board.md"
    assert cli(["export", "-b", "toy-test", "--format", "markdown", "-o", str(out_file)]) == 0
    assert "M-net (ours)" in out_file.read_text()
    assert cli(["check"]) == 0
    capsys.readouterr()
    bad = predictions_frame().drop(columns=["Hat"])
    bad.to_csv(tmp_path / "bad.csv", index=False)
    assert cli(["score", str(tmp_path / "bad.csv"), "-b", "toy-test"]) == 1
    assert "required column 'Hat' is missing" in capsys.readouterr().out
    assert cli(["submit", str(tmp_path / "missing.csv"), "-b", "toy-test", "--token", token, "--method", "x"]) == 2
    assert "missing.csv not found" in capsys.readouterr().err
    assert cli(["submit", str(pred), "-b", "toy-test", "--token", token, "--method", "again"]) == 0
    assert cli(["submit", str(pred), "-b", "toy-test", "--token", token, "--method", "third"]) == 1
    assert "daily quota reached: 2 of 2" in capsys.readouterr().err
    assert cli(["score", str(pred), "-b", "nope"]) == 2
    assert "unknown benchmark 'nope'" in capsys.readouterr().err


def test_cli_init_builds_the_synthetic_benchmark_and_takes_a_benchmarks_run_prediction(tmp_path, monkeypatch, capsys):
    """The built-in benchmark from the tiny synthetic preset, and predictions.csv as benchmarks.run writes it."""
    pytest.importorskip("pa100k.loaders.synthetic")
    import pa100k
    from benchmarks.rundir import write_predictions as run_write_predictions

    monkeypatch.setenv("PA100K_HOME", str(tmp_path / "home"))
    root = tmp_path / "lb"
    assert cli(["--root", str(root), "init", "--preset", "tiny"]) == 0
    assert "created benchmark synthetic-test" in capsys.readouterr().out
    data = pa100k.load("synthetic", preset="tiny", seed=0)
    idx = data.split_indices("test")
    pred = tmp_path / "runs" / "x" / "predictions.csv"
    pred.parent.mkdir(parents=True)
    scores = np.clip(data.labels[idx] * 0.6 + np.random.default_rng(0).random(data.labels[idx].shape) * 0.4, 0, 1)
    run_write_predictions(pred, data, "test", scores)
    lb = Leaderboard(root)
    token = lb.store.add_user("dave")
    res = lb.submit_file(pred, benchmark="synthetic-test", token=token, method="hpnet")
    assert res.report.ok and res.public["metrics"]["mA"] > 0.5
    assert any(r.submission_id == res.id for r in lb.board("synthetic-test").rows)
