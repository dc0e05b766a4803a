"""The leaderboard web app: pages, JSON API, streaming size cap, hostile names, quota over HTTP, restart, browser."""

from __future__ import annotations

import contextlib
import html.parser
import io
import os
import shutil
import socket
import subprocess
import threading
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")
from fastapi.testclient import TestClient

from leaderboard.benchmark import attribute_benchmark, utcnow
from leaderboard.service import Leaderboard
from leaderboard.web import create_app
from pa100k.attribute_set import AttributeSet
from pa100k.schemas import get_schema

SCHEMA = get_schema("pa100k")
N = 40
NAMES = [f"{i:06d}.jpg" for i in range(90001, 90001 + N)]


def toy_benchmark(max_bytes: int | None = None):
    rng = np.random.default_rng(0)
    data = AttributeSet(schema=SCHEMA, names=NAMES, images=[b""] * N, labels=(rng.random((N, 26)) < 0.4),
                        splits={"test": np.arange(N)}, dataset="toy")
    return attribute_benchmark("toy-test", data, "test", partition_seed="fixed", bootstrap=20,
                               reference_dataset="PA-100K", max_bytes=max_bytes, title="Toy test")


def predictions(seed: int = 1) -> bytes:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(rng.random((N, 26)).round(5), columns=list(SCHEMA.attributes))
    df.insert(0, "image", NAMES)
    return df.to_csv(index=False).encode()


@pytest.fixture
def lb(tmp_path: Path) -> Leaderboard:
    board = Leaderboard(tmp_path / "lb")
    board.add_benchmark(toy_benchmark())
    return board


@pytest.fixture
def client(lb: Leaderboard) -> TestClient:
    return TestClient(create_app(lb))


def api_submit(client, token: str, data: bytes, *, filename: str = "predictions.csv", method: str = "HP-net",
               **fields):
    return client.post("/api/benchmarks/toy-test/submissions", headers={"Authorization": f"Bearer {token}"},
                       data={"method": method, **fields}, files={"file": (filename, data, "text/csv")})


class Server:
    """uvicorn serving an app on 127.0.0.1 in a thread."""

    def __init__(self, app) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> Server:  # noqa: PYI034 - Self needs Python 3.11
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            if time.time() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


# ------------------------------------------------------------------------------------------ pages and API


def test_board_page_shows_submissions_and_labelled_paper_rows(client, lb):
    token = lb.store.add_user("alice")
    r = api_submit(client, token, predictions())
    assert r.status_code == 201, r.text
    page = client.get("/b/toy-test")
    assert page.status_code == 200
    body = page.text
    assert "HP-net" in body and body.count('class="reference"') == 3 and body.count('class="submission"') == 1
    assert f'href="/s/{r.json()["id"]}"' in body and "±" in body
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"


def test_api_submission_returns_public_scores_only_until_reveal(client, lb):
    token = lb.store.add_user("alice")
    r = api_submit(client, token, predictions())
    sid = r.json()["id"]
    assert set(r.json()["public"]["metrics"]) == {"mA", "accuracy", "precision", "recall", "f1"}
    detail = client.get(f"/api/submissions/{sid}").json()
    assert set(detail["scores"]) == {"public"}
    assert client.get("/api/benchmarks/toy-test/board?part=private").status_code == 403
    assert client.get("/b/toy-test?part=private").status_code == 403
    lb.set_reveal("toy-test", utcnow() - timedelta(seconds=1))
    detail = client.get(f"/api/submissions/{sid}").json()
    assert set(detail["scores"]) == {"public", "private"}
    board = client.get("/api/benchmarks/toy-test/board").json()
    assert board["part"] == "private"
    assert next(r for r in board["rows"] if not r["reference"])["metrics"]["mA"] == detail["scores"]["private"]["metrics"]["mA"]


def test_api_describes_benchmarks_and_lists_images(client):
    infos = client.get("/api/benchmarks").json()
    assert [i["name"] for i in infos] == ["toy-test"] and infos[0]["num_images"] == N
    assert "labels" not in str(infos) and "seed" not in str(infos)
    images = client.get("/api/benchmarks/toy-test/images").json()
    assert images["images"] == NAMES and images["attributes"] == list(SCHEMA.attributes)
    assert client.get("/api/benchmarks/nope").status_code == 404


def test_html_form_upload_redirects_to_the_submission_page(client, lb):
    token = lb.store.add_user("alice")
    form = client.get("/b/toy-test/submit")
    assert form.status_code == 200 and 'name="token"' in form.text
    r = client.post("/b/toy-test/submit", data={"token": token, "method": "M-net <b>x</b>", "paper_url": "https://arxiv.org/abs/1709.09930"},
                    files={"file": ("pred.csv", predictions(), "text/csv")}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/s/")
    page = client.get(r.headers["location"]).text
    assert "M-net &lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
    assert page.count("<rect") == 26 and "Per-attribute mA, public part" in page
    assert "valid</strong>" in page and "Private part" in page and "Score history" in page


def test_invalid_upload_gets_the_report_and_stores_nothing(client, lb):
    token = lb.store.add_user("alice")
    df = pd.read_csv(io.BytesIO(predictions()))
    df.loc[3, "Hat"] = 2.5
    r = api_submit(client, token, df.drop(columns=["boots"]).to_csv(index=False).encode())
    assert r.status_code == 422
    report = r.json()["report"]
    assert report["counts"] == {"missing-column": 1, "range": 1}
    assert any(p["text"] == "line 5, column 'Hat' (9): value 2.5 is outside [0, 1] (apply a sigmoid to logits)"
               for p in report["problems"])
    assert lb.store.counts()["submissions"] == 0 and not list((lb.root / "tmp").glob("upload-*"))
    page = client.post("/b/toy-test/submit", data={"token": token, "method": "m"},
                       files={"file": ("p.csv", b"", "text/csv")})
    assert page.status_code == 422 and "the file is empty (0 bytes)" in page.text


def test_bad_token_and_quota(client, lb):
    assert api_submit(client, "lbt_wrong", predictions()).status_code == 401
    form = client.post("/b/toy-test/submit", data={"token": "lbt_wrong", "method": "m"},
                       files={"file": ("p.csv", predictions(), "text/csv")})
    assert form.status_code == 401 and "unknown or revoked token" in form.text
    token = lb.store.add_user("alice", daily_quota=1)
    assert api_submit(client, token, predictions()).status_code == 201
    r = api_submit(client, token, predictions(2))
    assert r.status_code == 429 and r.json()["limit"] == 1
    form = client.post("/b/toy-test/submit", data={"token": token, "method": "m"},
                       files={"file": ("p.csv", predictions(2), "text/csv")})
    assert form.status_code == 429 and "daily quota reached: 1 of 1" in form.text
    assert lb.store.counts()["submissions"] == 1 and not list((lb.root / "tmp").glob("upload-*"))


@pytest.mark.parametrize("hostile", ["../../x", "..\\..\\x", "/tmp/x", "x/../../../x"])
def test_hostile_file_name_is_stored_safely(client, lb, tmp_path, hostile):
    token = lb.store.add_user("alice")
    r = api_submit(client, token, predictions(), filename=hostile)
    assert r.status_code == 201, r.text
    sub = lb.submission(r.json()["id"])
    assert sub.file_name == "x"
    stored = lb.blobs.path(sub.file_sha256)
    assert stored.is_file() and stored.resolve().is_relative_to((lb.root / "submissions").resolve())
    assert not [p for p in tmp_path.rglob("x") if p.is_file()]
    assert not Path("/tmp/x").exists() or Path("/tmp/x").read_bytes() != predictions()


def test_malformed_forms_are_refused(client, lb):
    token = lb.store.add_user("alice")
    headers = {"Authorization": f"Bearer {token}"}
    r = client.post("/api/benchmarks/toy-test/submissions", headers=headers, data={"method": "m", "evil": "1"},
                    files={"file": ("p.csv", predictions(), "text/csv")})
    assert r.status_code == 400 and "unknown form field 'evil'" in r.json()["error"]
    r = client.post("/api/benchmarks/toy-test/submissions", headers=headers, data={"method": "m"})
    assert r.status_code == 415
    r = client.post("/api/benchmarks/toy-test/submissions", headers=headers, data={"method": "m"},
                    files={"other": ("p.csv", b"1", "text/csv")})
    assert r.status_code == 400
    r = client.post("/api/benchmarks/toy-test/submissions", headers=headers, data={"method": "m" * 500},
                    files={"file": ("p.csv", predictions(), "text/csv")})
    assert r.status_code == 400 and "longer than" in r.json()["error"]
    assert client.post("/api/benchmarks/nope/submissions", headers=headers).status_code == 404


def test_data_folder_is_never_served(client, lb):
    secret = (lb.root / "benchmarks" / "toy-test" / "labels.npz").read_bytes()
    for path in ["/static/../benchmarks/toy-test/labels.npz", "/static/%2e%2e/benchmarks/toy-test/labels.npz",
                 "/leaderboard/data/benchmarks/toy-test/labels.npz", "/benchmarks/toy-test/labels.npz",
                 "/static/labels.npz", "/b/..%2Fbenchmarks"]:
        r = client.get(path)
        assert r.status_code == 404 and secret not in r.content, path
    assert client.get("/static/board.js").headers["content-type"].startswith("text/javascript")


# ------------------------------------------------------------------------------------------ a real server


def _raw_request(port: int, head: bytes, body_chunks, limit_s: float = 20.0) -> tuple[bytes, int]:
    """Send ``head`` and then body chunks until the server answers; returns (response, body bytes sent)."""
    import select

    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=limit_s) as s:
        s.sendall(head)
        deadline = time.time() + limit_s
        for chunk in body_chunks:
            if select.select([s], [], [], 0)[0] or time.time() > deadline:
                break
            try:
                s.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        response = b""
        with contextlib.suppress(ConnectionResetError, socket.timeout):
            while b"\r\n\r\n" not in response:
                part = s.recv(65536)
                if not part:
                    break
                response += part
    return response, sent


def test_oversized_upload_is_refused_with_413_while_streaming(tmp_path):
    lb = Leaderboard(tmp_path / "lb")
    lb.add_benchmark(toy_benchmark(max_bytes=100_000))
    token = lb.store.add_user("alice")
    boundary = "XyZ123"
    preamble = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"method\"\r\n\r\nbig\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\n"
                "Content-Type: text/csv\r\n\r\n").encode()
    total = 200 * 1024 * 1024  # 200 MiB offered, never produced in full

    def chunked():
        yield b"%x\r\n%s\r\n" % (len(preamble), preamble)
        block = b"0" * 65536
        for _ in range(total // len(block)):
            yield b"%x\r\n%s\r\n" % (len(block), block)

    with Server(create_app(lb)) as srv:
        head = (f"POST /api/benchmarks/toy-test/submissions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {token}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
                "Transfer-Encoding: chunked\r\n\r\n").encode()
        response, sent = _raw_request(srv.port, head, chunked())
        assert response.startswith(b"HTTP/1.1 413"), response[:200]
        assert sent < 10 * 1024 * 1024  # cut off after ~100 kB, not after 200 MiB

        declared = (f"POST /api/benchmarks/toy-test/submissions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    f"Authorization: Bearer {token}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
                    f"Content-Length: {total}\r\n\r\n").encode()
        response, sent = _raw_request(srv.port, declared, iter([]))
        assert response.startswith(b"HTTP/1.1 413") and sent == 0
    assert lb.store.counts()["submissions"] == 0
    assert not list((lb.root / "tmp").glob("upload-*"))


def test_quota_holds_under_20_concurrent_http_submissions(lb):
    import httpx

    token = lb.store.add_user("alice", daily_quota=5)
    data = predictions()
    statuses: list[int] = []
    with Server(create_app(lb)) as srv:
        barrier = threading.Barrier(20)

        def post(k: int) -> None:
            barrier.wait()
            r = httpx.post(f"{srv.url}/api/benchmarks/toy-test/submissions", headers={"Authorization": f"Bearer {token}"},
                           data={"method": f"m{k}"}, files={"file": ("p.csv", data, "text/csv")}, timeout=60)
            statuses.append(r.status_code)

        threads = [threading.Thread(target=post, args=(k,)) for k in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(statuses) == [201] * 5 + [429] * 15
    assert lb.store.counts()["submissions"] == 5 and lb.verify() == []


def test_server_restarts_cleanly_and_clears_stale_uploads(lb):
    token = lb.store.add_user("alice")
    with Server(create_app(lb)) as srv:
        import httpx

        r = httpx.post(f"{srv.url}/api/benchmarks/toy-test/submissions", headers={"Authorization": f"Bearer {token}"},
                       data={"method": "before"}, files={"file": ("p.csv", predictions(), "text/csv")})
        assert r.status_code == 201
    stale = lb.root / "tmp" / "upload-crashed.part"
    stale.write_bytes(b"half a file")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    restarted = Leaderboard(lb.root)
    with Server(create_app(restarted)) as srv:
        import httpx

        board = httpx.get(f"{srv.url}/api/benchmarks/toy-test/board").json()
        assert [r["method"] for r in board["rows"] if not r["reference"]] == ["before"]
    assert not stale.exists()


# ------------------------------------------------------------------------------------------ browser


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class _BoardRows(html.parser.HTMLParser):
    """Rows of table#board as lists of cell texts, and the table's attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.in_board = False
        self.table_attrs: dict[str, str] = {}
        self.rows: list[tuple[str, list[str]]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("id") == "board":
            self.in_board, self.table_attrs = True, a
        elif self.in_board and tag == "tr" and a.get("class") in ("submission", "reference"):
            self.rows.append((a["class"], []))
        elif self.in_board and tag == "td" and self.rows:
            self.cell = []

    def handle_endtag(self, tag):
        if tag == "table":
            self.in_board = False
        elif tag == "td" and self.cell is not None:
            self.rows[-1][1].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


@pytest.mark.browser
def test_board_in_headless_chromium(lb, tmp_path):
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no chromium binary on PATH (Debian: apt-get install -y chromium)")
    token = lb.store.add_user("alice")
    app = create_app(lb)
    client = TestClient(app)
    methods = {}
    for seed in (1, 2, 3):
        r = api_submit(client, token, predictions(seed), method=f"method-{seed}")
        methods[f"method-{seed}"] = r.json()["public"]["metrics"]
    with Server(app) as srv:
        url = f"{srv.url}/b/toy-test?sort=f1&dir=asc"
        common = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000"]
        dom = subprocess.run([*common, "--dump-dom", url], check=False, capture_output=True, text=True, timeout=120)
        assert dom.returncode == 0, dom.stderr[-2000:]
        shot = tmp_path / "board.png"
        subprocess.run(common + [f"--screenshot={shot}", "--window-size=1280,900", url], capture_output=True,
                       timeout=120, check=True)
    parser = _BoardRows()
    parser.feed(dom.stdout)
    assert parser.table_attrs.get("data-ready") == "true"  # the page's script ran
    assert parser.table_attrs.get("data-sorted-by") == "f1" and parser.table_attrs.get("data-sort-dir") == "asc"
    kinds = [k for k, _ in parser.rows]
    assert kinds.count("submission") == 3 and kinds.count("reference") == 3
    f1_col = 2 + 4  # rank, method, mA, accuracy, precision, recall, f1
    f1 = [float(cells[f1_col].split()[0]) for _, cells in parser.rows]
    assert f1 == sorted(f1)  # sorted ascending by the browser
    shown = {cells[1].split()[0]: cells for kind, cells in parser.rows if kind == "submission"}
    for name, metrics in methods.items():
        assert shown[name][2].split()[0] == f"{100 * metrics['mA']:.2f}"
    refs = [cells[1] for kind, cells in parser.rows if kind == "reference"]
    assert {r.replace("paper", "").strip() for r in refs} == {"DeepMar", "M-net", "HP-net"}
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5000
